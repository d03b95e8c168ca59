/* The embedded default backend: users, aliases and domains in text files,
 * read into memory and read again when a file changes (checked on lookup,
 * at most once a second). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend-passwd-file.h"
#include "buf.h"
#include "hash.h"
#include "log.h"
#include "names.h"
#include "xalloc.h"

/* ------------------------------------------------------------ string map */

struct pwf_entry {
	struct pwf_entry *next;
	char *key;
	void *value;
};

struct pwf_map {
	struct pwf_entry **buckets;
	size_t nbuckets, count;
};

static void pwf_map_grow(struct pwf_map *m)
{
	size_t n = m->nbuckets == 0 ? 64 : m->nbuckets * 2;
	struct pwf_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct pwf_entry *e = m->buckets[i], *next;

		for (; e != NULL; e = next) {
			size_t h = hash_str(e->key) & (n - 1);

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

/* Keys are kept and looked up in ASCII lower case: an address matches
 * whatever the case of its local part, as with the shipped MySQL schema
 * (case-insensitive collation) and LDAP schema (caseIgnoreIA5Match). */
static char *pwf_key(const char *key)
{
	char *k = xstrdup(key);

	for (char *p = k; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return k;
}

static void *pwf_map_get(const struct pwf_map *m, const char *key)
{
	char *k;
	void *found = NULL;

	if (m->nbuckets == 0)
		return NULL;
	k = pwf_key(key);
	for (struct pwf_entry *e = m->buckets[hash_str(k) & (m->nbuckets - 1)]; e != NULL;
	     e = e->next) {
		if (strcmp(e->key, k) == 0) {
			found = e->value;
			break;
		}
	}
	free(k);
	return found;
}

/* false when the key is there already (value not stored). */
static bool pwf_map_add(struct pwf_map *m, const char *key, void *value)
{
	struct pwf_entry *e;
	size_t h;

	if (pwf_map_get(m, key) != NULL)
		return false;
	if (m->count >= m->nbuckets)
		pwf_map_grow(m);
	e = xmalloc(sizeof(*e));
	e->key = pwf_key(key);
	h = hash_str(e->key) & (m->nbuckets - 1);
	e->value = value;
	e->next = m->buckets[h];
	m->buckets[h] = e;
	m->count++;
	return true;
}

static void pwf_map_free(struct pwf_map *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct pwf_entry *e = m->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free_value(e->value);
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- tables */

struct pwf_domain {
	bool active, relay;
	char *alias_of;
};

struct pwf_table {
	struct pwf_map users;    /* addr -> struct authd_user */
	struct pwf_map aliases;  /* addr or @domain -> struct authd_targets */
	struct pwf_map domains;  /* from the domains file -> struct pwf_domain */
	struct pwf_map implied;  /* domains holding a user or alias -> (void *)1 */
};

static void pwf_user_free(void *v)
{
	authd_user_free(v);
	free(v);
}

static void pwf_targets_free(void *v)
{
	authd_targets_free(v);
	free(v);
}

static void pwf_domain_free(void *v)
{
	struct pwf_domain *d = v;

	free(d->alias_of);
	free(d);
}

static void pwf_nothing_free(void *v)
{
	(void)v;
}

struct pwf_table *pwf_table_new(void)
{
	return xcalloc(1, sizeof(struct pwf_table));
}

void pwf_table_free(struct pwf_table *t)
{
	if (t == NULL)
		return;
	pwf_map_free(&t->users, pwf_user_free);
	pwf_map_free(&t->aliases, pwf_targets_free);
	pwf_map_free(&t->domains, pwf_domain_free);
	pwf_map_free(&t->implied, pwf_nothing_free);
	free(t);
}

static void pwf_imply_domain(struct pwf_table *t, const char *addr)
{
	pwf_map_add(&t->implied, authd_name_domain(addr), (void *)1);
}

/* ------------------------------------------------------------ user lines */

static int pwf_number(const char *s, uint64_t *n_r)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*n_r = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

static int pwf_services(const char *list, unsigned *services_r)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "smtp", AUTHD_SVC_SMTP }, { "imap", AUTHD_SVC_IMAP },
		{ "pop3", AUTHD_SVC_POP3 }, { "deliver", AUTHD_SVC_DELIVER },
	};
	const char *p = list;

	*services_r = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(*names); i++)
			if (strlen(names[i].name) == len && strncmp(names[i].name, p, len) == 0)
				break;
		if (i == sizeof(names) / sizeof(*names))
			return -1;
		*services_r |= names[i].bit;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* One "key=value" of the extra fields; unknown keys are ignored, since
 * Dovecot files carry many of their own. */
static const char *pwf_extra(struct authd_user *u, const char *key, const char *value)
{
	if (strcmp(key, "quota_bytes") == 0)
		return pwf_number(value, &u->quota_bytes) < 0 ? "bad quota_bytes" : NULL;
	if (strcmp(key, "quota_messages") == 0)
		return pwf_number(value, &u->quota_messages) < 0 ? "bad quota_messages" : NULL;
	if (strcmp(key, "services") == 0)
		return pwf_services(value, &u->services) < 0 ? "unknown service in services=" : NULL;
	if (strcmp(key, "maildir") == 0) {
		if (*value == '\0')
			return "empty maildir";
		free(u->maildir);
		u->maildir = xstrdup(value);
		return NULL;
	}
	if (strcmp(key, "active") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return "active= wants yes or no";
		u->active = strcmp(value, "yes") == 0;
	}
	return NULL;
}

static const char *pwf_extras(struct authd_user *u, char *extra)
{
	const char *why = NULL;

	for (char *save = NULL, *tok = strtok_r(extra, " ", &save); tok != NULL && why == NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL || eq == tok)
			return "extra field without key=value";
		*eq = '\0';
		why = pwf_extra(u, tok, eq + 1);
	}
	return why;
}

/* Split at ':' into at most 8 fields; the 8th keeps any further ':'. */
static size_t pwf_split_colons(char *line, char *fields[8])
{
	size_t n = 0;

	fields[n++] = line;
	for (char *p = line; *p != '\0' && n < 8; p++) {
		if (*p == ':') {
			*p = '\0';
			fields[n++] = p + 1;
		}
	}
	return n;
}

static const char *pwf_user_fields(struct authd_user *u, char *f[8], size_t n)
{
	uint64_t id;
	const char *why;

	if (*f[1] != '\0')
		u->password = xstrdup(f[1]);
	for (size_t i = 2; i < 4 && i < n; i++)
		if (*f[i] != '\0' && pwf_number(f[i], &id) < 0)
			return "uid and gid must be numbers";
	if (n > 5 && *f[5] != '\0')
		u->maildir = xasprintf("%s%s", f[5], f[5][strlen(f[5]) - 1] == '/' ? "" : "/");
	if (n > 7 && (why = pwf_extras(u, f[7])) != NULL)
		return why;
	if (u->maildir == NULL) {
		const char *at = strrchr(u->user, '@');

		u->maildir = xasprintf("%s/%.*s/", at + 1, (int)(at - u->user), u->user);
	}
	return NULL;
}

static const char *pwf_user_line(struct pwf_table *t, char *line)
{
	char *f[8];
	size_t n = pwf_split_colons(line, f);
	struct authd_user *u;
	const char *why;
	char *addr;

	if (n < 2)
		return "expected user:password[:uid:gid:gecos:home:shell:extra]";
	if (*f[0] == '@' || authd_name_normalize(f[0], NULL, &addr, &why) < 0)
		return "user is not an address";
	u = xcalloc(1, sizeof(*u));
	u->user = addr;
	u->services = AUTHD_SVC_ALL;
	u->active = true;
	u->domain_active = true;
	if ((why = pwf_user_fields(u, f, n)) == NULL && !pwf_map_add(&t->users, addr, u))
		why = "duplicate user";
	if (why != NULL) {
		pwf_user_free(u);
		return why;
	}
	pwf_imply_domain(t, u->user);
	return NULL;
}

/* ------------------------------------------------- alias and domain lines */

static const char *pwf_alias_line(struct pwf_table *t, char *line)
{
	char *colon = strchr(line, ':'), *key, *norm;
	struct authd_targets raw = { 0 }, *targets;
	const char *why = NULL;

	if (colon == NULL)
		return "expected address: target, target";
	*colon = '\0';
	if (authd_name_normalize(line, NULL, &key, &why) < 0)
		return "alias is not an address";
	authd_targets_add_list(&raw, colon + 1);
	targets = xcalloc(1, sizeof(*targets));
	for (size_t i = 0; i < raw.count && why == NULL; i++) {
		if (authd_name_normalize(raw.items[i], NULL, &norm, &why) < 0) {
			why = "target is not an address";
			break;
		}
		authd_targets_add(targets, norm);
		free(norm);
	}
	authd_targets_free(&raw);
	if (why == NULL && targets->count == 0)
		why = "alias without targets";
	if (why == NULL && !pwf_map_add(&t->aliases, key, targets))
		why = "duplicate alias";
	if (why != NULL)
		pwf_targets_free(targets);
	else
		pwf_imply_domain(t, key);
	free(key);
	return why;
}

static const char *pwf_domain_word(struct pwf_domain *d, const char *w)
{
	const char *why;
	char *target;

	if (strcmp(w, "relay") == 0) {
		d->relay = true;
	} else if (strcmp(w, "inactive") == 0) {
		d->active = false;
	} else if (strncmp(w, "alias-of=", 9) == 0) {
		char *probe = xasprintf("@%s", w + 9);
		int ret = authd_name_normalize(probe, NULL, &target, &why);

		free(probe);
		if (ret < 0)
			return "alias-of= is not a domain";
		free(d->alias_of);
		d->alias_of = xstrdup(target + 1);
		free(target);
	} else {
		return "unknown word (relay, inactive, alias-of=DOMAIN)";
	}
	return NULL;
}

static const char *pwf_domain_line(struct pwf_table *t, char *line)
{
	char *save = NULL, *name = strtok_r(line, " \t", &save), *key;
	struct pwf_domain *d = xcalloc(1, sizeof(*d));
	const char *why = NULL;
	char *probe = xasprintf("@%s", name != NULL ? name : "");
	int ret = authd_name_normalize(probe, NULL, &key, &why);

	free(probe);
	d->active = true;
	if (ret < 0) {
		pwf_domain_free(d);
		return "not a domain";
	}
	for (char *w = strtok_r(NULL, " \t", &save); w != NULL && why == NULL;
	     w = strtok_r(NULL, " \t", &save))
		why = pwf_domain_word(d, w);
	if (why == NULL && d->relay && d->alias_of != NULL)
		why = "a domain cannot be both relay and alias-of";
	if (why == NULL && !pwf_map_add(&t->domains, key + 1, d))
		why = "duplicate domain";
	if (why != NULL)
		pwf_domain_free(d);
	free(key);
	return why;
}

/* ---------------------------------------------------------------- loading */

struct pwf_load {
	struct pwf_table *t;
	enum pwf_kind kind;
	char *name;
	struct buf line;
	unsigned lineno, malformed;
	bool too_long;
};

struct pwf_load *pwf_load_begin(struct pwf_table *t, enum pwf_kind kind, const char *name)
{
	struct pwf_load *ld = xcalloc(1, sizeof(*ld));

	ld->t = t;
	ld->kind = kind;
	ld->name = xstrdup(name);
	buf_init(&ld->line, PWF_LINE_MAX);
	return ld;
}

static void pwf_malformed(struct pwf_load *ld, const char *why)
{
	ld->malformed++;
	log_warn(NULL, "passwd-file %s:%u: %s; line skipped", ld->name, ld->lineno, why);
}

static void pwf_load_line(struct pwf_load *ld)
{
	char *s = ld->line.data != NULL ? ld->line.data : (char *)"";
	size_t len = ld->line.len;
	const char *why;

	ld->lineno++;
	if (ld->too_long) {
		pwf_malformed(ld, "line too long");
		return;
	}
	if (len > 0 && s[len - 1] == '\r')
		s[--len] = '\0';
	if (strlen(s) != len) {
		pwf_malformed(ld, "NUL byte");
		return;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	if (*s == '\0' || *s == '#')
		return;
	if (ld->kind == PWF_USERS)
		why = pwf_user_line(ld->t, s);
	else if (ld->kind == PWF_ALIASES)
		why = pwf_alias_line(ld->t, s);
	else
		why = pwf_domain_line(ld->t, s);
	if (why != NULL)
		pwf_malformed(ld, why);
}

void pwf_load_feed(struct pwf_load *ld, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (!ld->too_long && buf_append(&ld->line, p, n) < 0)
			ld->too_long = true;
		p += n;
		if (nl == NULL)
			break;
		pwf_load_line(ld);
		buf_reset(&ld->line);
		ld->too_long = false;
		p++;
	}
}

unsigned pwf_load_end(struct pwf_load *ld)
{
	unsigned n;

	if (ld->line.len > 0 || ld->too_long)
		pwf_load_line(ld);
	n = ld->malformed;
	buf_free(&ld->line);
	free(ld->name);
	free(ld);
	return n;
}

/* ---------------------------------------------------------------- lookups */

enum authd_status pwf_table_user(const struct pwf_table *t, const char *addr,
				 struct authd_user *user_r)
{
	const struct authd_user *u = pwf_map_get(&t->users, addr);
	const struct pwf_domain *d;

	memset(user_r, 0, sizeof(*user_r));
	if (u == NULL)
		return AUTHD_NOTFOUND;
	*user_r = *u;
	user_r->user = xstrdup(u->user);
	user_r->maildir = xstrdup(u->maildir);
	user_r->password = u->password != NULL ? xstrdup(u->password) : NULL;
	d = pwf_map_get(&t->domains, authd_name_domain(u->user));
	user_r->domain_active = d == NULL || d->active;
	return AUTHD_OK;
}

enum authd_status pwf_table_alias(const struct pwf_table *t, const char *addr,
				  struct authd_targets *targets_r)
{
	const struct authd_targets *a = pwf_map_get(&t->aliases, addr);

	memset(targets_r, 0, sizeof(*targets_r));
	if (a == NULL)
		return AUTHD_NOTFOUND;
	for (size_t i = 0; i < a->count; i++)
		authd_targets_add(targets_r, a->items[i]);
	return AUTHD_OK;
}

enum authd_status pwf_table_domain(const struct pwf_table *t, const char *domain,
				   struct authd_domain *domain_r)
{
	const struct pwf_domain *d = pwf_map_get(&t->domains, domain);

	memset(domain_r, 0, sizeof(*domain_r));
	if (d != NULL) {
		domain_r->hosted = !d->relay && d->alias_of == NULL;
		domain_r->active = d->active;
		domain_r->relay = d->relay;
		domain_r->alias_target = d->alias_of != NULL ? xstrdup(d->alias_of) : NULL;
		return AUTHD_OK;
	}
	if (pwf_map_get(&t->implied, domain) == NULL)
		return AUTHD_NOTFOUND;
	domain_r->hosted = true;
	domain_r->active = true;
	return AUTHD_OK;
}

/* ---------------------------------------------------------------- backend */

struct pwf_file {
	const char *key;       /* its config key */
	enum pwf_kind kind;
	char *path;            /* "" when not configured */
	struct stat st;        /* as last read */
	bool present;
};

struct authd_backend {
	pthread_mutex_t lock;  /* everything below */
	struct pwf_file files[3];
	struct pwf_table *table;
	time_t checked;
	bool broken;           /* the last re-read failed (logged once) */
};

static const struct cfg_def pwf_defs[] = {
	{ "passwd_file", CFG_STR, "/etc/mailroom/users", "passwd-file backend: the users file (user:password:uid:gid:gecos:home:shell:extra)", 0, 0, NULL, NULL },
	{ "passwd_file_aliases", CFG_STR, NULL, "passwd-file backend: aliases file, lines \"address: target, target\" (empty: none)", 0, 0, NULL, NULL },
	{ "passwd_file_domains", CFG_STR, NULL, "passwd-file backend: domains file, lines \"domain [alias-of=DOMAIN] [relay] [inactive]\" (empty: none)", 0, 0, NULL, NULL },
};

static bool pwf_same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Read one file into t; st_r is its state when read. */
static int pwf_read_file(struct pwf_table *t, struct pwf_file *f, struct stat *st_r,
			 const char **error_r)
{
	char chunk[16384];
	struct pwf_load *ld;
	ssize_t n;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, st_r) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ld = pwf_load_begin(t, f->kind, f->path);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		pwf_load_feed(ld, chunk, (size_t)n);
	pwf_load_end(ld);
	close(fd);
	if (n < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

/* A new table from every configured file; NULL when one cannot be read. */
static struct pwf_table *pwf_read_all(struct authd_backend *b, struct stat st_r[3],
				      const char **error_r)
{
	struct pwf_table *t = pwf_table_new();
	static char errbuf[512];

	for (size_t i = 0; i < 3; i++) {
		const char *err;

		if (*b->files[i].path == '\0')
			continue;
		if (pwf_read_file(t, &b->files[i], &st_r[i], &err) < 0) {
			snprintf(errbuf, sizeof(errbuf), "%s %s: %s", b->files[i].key,
				 b->files[i].path, err);
			*error_r = errbuf;
			pwf_table_free(t);
			return NULL;
		}
	}
	return t;
}

static bool pwf_changed(const struct authd_backend *b)
{
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		if (*b->files[i].path == '\0')
			continue;
		if (stat(b->files[i].path, &st) < 0 || !pwf_same_stat(&st, &b->files[i].st))
			return true;
	}
	return false;
}

/* Caller holds the lock. A file that vanished or cannot be read keeps the
 * tables read before: an editor's rename must not make everyone unknown. */
static void pwf_refresh(struct authd_backend *b)
{
	time_t now = time(NULL);
	struct stat st[3];
	struct pwf_table *t;
	const char *err;

	if (now == b->checked)
		return;
	b->checked = now;
	if (!pwf_changed(b))
		return;
	if ((t = pwf_read_all(b, st, &err)) == NULL) {
		if (!b->broken)
			log_error(NULL, "passwd-file: keeping the tables read before: %s", err);
		b->broken = true;
		return;
	}
	b->broken = false;
	pwf_table_free(b->table);
	b->table = t;
	for (size_t i = 0; i < 3; i++)
		b->files[i].st = st[i];
	log_info(NULL, "passwd-file: reloaded users=%s", b->files[0].path);
}

static int pwf_init(const struct cfg *cfg, struct authd_backend **backend_r,
		    const char **error_r)
{
	struct authd_backend *b = xcalloc(1, sizeof(*b));
	static const enum pwf_kind kinds[3] = { PWF_USERS, PWF_ALIASES, PWF_DOMAINS };
	struct stat st[3];

	for (size_t i = 0; i < 3; i++) {
		b->files[i].key = pwf_defs[i].name;
		b->files[i].kind = kinds[i];
		b->files[i].path = xstrdup(cfg_str(cfg, pwf_defs[i].name));
	}
	memset(st, 0, sizeof(st));
	if (*b->files[0].path == '\0') {
		*error_r = "passwd_file is empty";
	} else if ((b->table = pwf_read_all(b, st, error_r)) != NULL) {
		for (size_t i = 0; i < 3; i++)
			b->files[i].st = st[i];
		b->checked = time(NULL);
		pthread_mutex_init(&b->lock, NULL);
		*backend_r = b;
		return 0;
	}
	for (size_t i = 0; i < 3; i++)
		free(b->files[i].path);
	free(b);
	return -1;
}

static void pwf_deinit(struct authd_backend *b)
{
	pthread_mutex_destroy(&b->lock);
	pwf_table_free(b->table);
	for (size_t i = 0; i < 3; i++)
		free(b->files[i].path);
	free(b);
}

static enum authd_status pwf_user_lookup(struct authd_backend *b, const char *addr,
					 struct authd_user *user_r, const char **error_r)
{
	enum authd_status st;

	(void)error_r;
	pthread_mutex_lock(&b->lock);
	pwf_refresh(b);
	st = pwf_table_user(b->table, addr, user_r);
	pthread_mutex_unlock(&b->lock);
	return st;
}

static enum authd_status pwf_alias_lookup(struct authd_backend *b, const char *addr,
					  struct authd_targets *targets_r, const char **error_r)
{
	enum authd_status st;

	(void)error_r;
	pthread_mutex_lock(&b->lock);
	pwf_refresh(b);
	st = pwf_table_alias(b->table, addr, targets_r);
	pthread_mutex_unlock(&b->lock);
	return st;
}

static enum authd_status pwf_domain_lookup(struct authd_backend *b, const char *domain,
					   struct authd_domain *domain_r, const char **error_r)
{
	enum authd_status st;

	(void)error_r;
	pthread_mutex_lock(&b->lock);
	pwf_refresh(b);
	st = pwf_table_domain(b->table, domain, domain_r);
	pthread_mutex_unlock(&b->lock);
	return st;
}

const struct authd_backend_ops authd_backend_passwd_file = {
	.name = "passwd-file",
	.defs = pwf_defs,
	.ndefs = sizeof(pwf_defs) / sizeof(pwf_defs[0]),
	.init = pwf_init,
	.deinit = pwf_deinit,
	.user_lookup = pwf_user_lookup,
	.alias_lookup = pwf_alias_lookup,
	.domain_lookup = pwf_domain_lookup,
	.sender_grant = NULL,
	.password_verify = NULL,
};
