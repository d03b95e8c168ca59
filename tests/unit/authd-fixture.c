#include <stdio.h>
#include <stdlib.h>

#include "authd-fixture.h"
#include "core.h"
#include "xalloc.h"

static char *fixture_path(const char *given, const char *name)
{
	const char *src = getenv("top_srcdir");

	if (given != NULL)
		return xstrdup(given);
	return xasprintf("%s/tests/data/authd/%s", src != NULL ? src : ".", name);
}

void fixture_open(struct fixture *f, const char *users, const char *aliases,
		  const char *domains)
{
	static const char *const keys[] = { "passwd_file", "passwd_file_aliases",
					    "passwd_file_domains" };
	const char *given[] = { users, aliases, domains };
	const char *names[] = { "users", "aliases", "domains" };
	struct authd_cache_settings cs = { .max_entries = 100, .pos_ttl = 60, .neg_ttl = 60 };
	const struct cfg_def *defs;
	const char *err = "";
	size_t n;

	defs = authd_all_defs(&n);
	f->cfg = cfg_new(defs, n);
	for (size_t i = 0; i < 3; i++) {
		char *p = fixture_path(given[i], names[i]);

		if (cfg_set(f->cfg, keys[i], p, &err) < 0)
			abort();
		free(p);
	}
	f->db.ops = &authd_backend_passwd_file;
	if (f->db.ops->init(f->cfg, &f->db.backend, &err) < 0) {
		fprintf(stderr, "fixture: %s\n", err);
		abort();
	}
	pthread_mutex_init(&f->lock, NULL);
	f->cache = authd_cache_new(&cs);
	f->db.cache = f->cache;
	f->db.lock = &f->lock;
}

void fixture_close(struct fixture *f)
{
	f->db.ops->deinit(f->db.backend);
	authd_cache_free(f->cache);
	pthread_mutex_destroy(&f->lock);
	cfg_free(f->cfg);
}
