#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "db.h"
#include "fields.h"
#include "xalloc.h"

/* Cache keys are "<kind>\t<name>"; kinds never clash with each other. */
#define DB_KIND_USER "U"
#define DB_KIND_ALIAS "A"
#define DB_KIND_DOMAIN "D"
#define DB_KIND_GRANT "G"
#define DB_VALUE_MAX (64 * 1024)

/* One kind of lookup: ask the backend, and turn a result into a cache
 * value and back. */
struct db_kind {
	const char *tag;
	enum authd_status (*fetch)(struct authd_db *db, const char *name, void *out,
				   const char **error_r);
	void (*encode)(const void *out, struct buf *value);
	int (*decode)(const char *value, void *out);
	void (*free)(void *out);
};

/* ------------------------------------------------------------- users */

static enum authd_status db_user_fetch(struct authd_db *db, const char *name, void *out,
				       const char **error_r)
{
	return db->ops->user_lookup(db->backend, name, out, error_r);
}

static void db_user_encode(const void *out, struct buf *v)
{
	const struct authd_user *u = out;

	buf_printf(v, "%d%d\t%u\t%" PRIu64 "\t%" PRIu64, u->active ? 1 : 0,
		   u->domain_active ? 1 : 0, u->services, u->quota_bytes, u->quota_messages);
	authd_field_add(v, u->user != NULL ? u->user : "");
	authd_field_add(v, u->maildir != NULL ? u->maildir : "");
	/* "-" and "=..." tell a missing password from a stored one. */
	buf_append_str(v, u->password == NULL ? "\t-" : "\t=");
	if (u->password != NULL)
		authd_field_escape(v, u->password);
}

static int db_user_decode(const char *value, void *out)
{
	struct authd_user *u = out;
	struct authd_fields f;
	const char *err;

	if (authd_fields_split(value, strlen(value), 7, &f, &err) < 0)
		return -1;
	if (f.count != 7 || strlen(f.items[0]) != 2 ||
	    (f.items[6][0] != '-' && f.items[6][0] != '=')) {
		authd_fields_free(&f);
		return -1;
	}
	memset(u, 0, sizeof(*u));
	u->active = f.items[0][0] == '1';
	u->domain_active = f.items[0][1] == '1';
	u->services = (unsigned)strtoul(f.items[1], NULL, 10);
	u->quota_bytes = strtoull(f.items[2], NULL, 10);
	u->quota_messages = strtoull(f.items[3], NULL, 10);
	u->user = xstrdup(f.items[4]);
	u->maildir = xstrdup(f.items[5]);
	if (f.items[6][0] == '=')
		u->password = xstrdup(f.items[6] + 1);
	memset(f.items[6], 0, strlen(f.items[6]));
	authd_fields_free(&f);
	return 0;
}

static void db_user_free(void *out)
{
	authd_user_free(out);
}

/* ----------------------------------------------------------- aliases */

static enum authd_status db_alias_fetch(struct authd_db *db, const char *name, void *out,
					const char **error_r)
{
	return db->ops->alias_lookup(db->backend, name, out, error_r);
}

static void db_alias_encode(const void *out, struct buf *v)
{
	const struct authd_targets *t = out;

	buf_append_str(v, "T");
	for (size_t i = 0; i < t->count; i++)
		authd_field_add(v, t->items[i]);
}

static int db_alias_decode(const char *value, void *out)
{
	struct authd_targets *t = out;
	struct authd_fields f;
	const char *err;

	if (authd_fields_split(value, strlen(value), 4096, &f, &err) < 0)
		return -1;
	memset(t, 0, sizeof(*t));
	for (size_t i = 1; i < f.count; i++)
		authd_targets_add(t, f.items[i]);
	authd_fields_free(&f);
	return 0;
}

static void db_alias_free(void *out)
{
	authd_targets_free(out);
}

/* ----------------------------------------------------------- domains */

static enum authd_status db_domain_fetch(struct authd_db *db, const char *name, void *out,
					 const char **error_r)
{
	return db->ops->domain_lookup(db->backend, name, out, error_r);
}

static void db_domain_encode(const void *out, struct buf *v)
{
	const struct authd_domain *d = out;

	buf_printf(v, "%d%d%d", d->hosted ? 1 : 0, d->active ? 1 : 0, d->relay ? 1 : 0);
	if (d->alias_target != NULL)
		authd_field_add(v, d->alias_target);
}

static int db_domain_decode(const char *value, void *out)
{
	struct authd_domain *d = out;
	struct authd_fields f;
	const char *err;

	if (authd_fields_split(value, strlen(value), 2, &f, &err) < 0)
		return -1;
	if (strlen(f.items[0]) != 3) {
		authd_fields_free(&f);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	d->hosted = f.items[0][0] == '1';
	d->active = f.items[0][1] == '1';
	d->relay = f.items[0][2] == '1';
	if (f.count == 2)
		d->alias_target = xstrdup(f.items[1]);
	authd_fields_free(&f);
	return 0;
}

static void db_domain_free(void *out)
{
	authd_domain_free(out);
}

/* ------------------------------------------------------------ grants */

/* name is "login\tsender". */
static enum authd_status db_grant_fetch(struct authd_db *db, const char *name, void *out,
					const char **error_r)
{
	const char *tab = strchr(name, '\t');
	char *login;
	enum authd_status st;

	(void)out;
	if (db->ops->sender_grant == NULL || tab == NULL)
		return AUTHD_NOTFOUND;
	login = xstrndup(name, (size_t)(tab - name));
	st = db->ops->sender_grant(db->backend, login, tab + 1, error_r);
	free(login);
	return st;
}

static void db_grant_encode(const void *out, struct buf *v)
{
	(void)out;
	buf_append_str(v, "1");
}

static int db_grant_decode(const char *value, void *out)
{
	(void)out;
	return strcmp(value, "1") == 0 ? 0 : -1;
}

static void db_grant_free(void *out)
{
	(void)out;
}

static const struct db_kind db_kind_user = {
	DB_KIND_USER, db_user_fetch, db_user_encode, db_user_decode, db_user_free,
};
static const struct db_kind db_kind_alias = {
	DB_KIND_ALIAS, db_alias_fetch, db_alias_encode, db_alias_decode, db_alias_free,
};
static const struct db_kind db_kind_domain = {
	DB_KIND_DOMAIN, db_domain_fetch, db_domain_encode, db_domain_decode, db_domain_free,
};
static const struct db_kind db_kind_grant = {
	DB_KIND_GRANT, db_grant_fetch, db_grant_encode, db_grant_decode, db_grant_free,
};

/* ------------------------------------------------------------ caching */

/* A copy of the cached value (the cache's own may change once the lock
 * is released). */
static enum authd_cache_result db_cache_get(struct authd_db *db, const char *key,
					    bool backend_down, char **value_r)
{
	enum authd_cache_result r;
	const char *v = NULL;

	*value_r = NULL;
	if (db->cache == NULL)
		return AUTHD_CACHE_MISS;
	pthread_mutex_lock(db->lock);
	r = authd_cache_get(db->cache, key, time(NULL), backend_down, &v);
	if (r == AUTHD_CACHE_HIT)
		*value_r = xstrdup(v);
	pthread_mutex_unlock(db->lock);
	return r;
}

static void db_cache_put(struct authd_db *db, const char *key, const char *value)
{
	if (db->cache == NULL)
		return;
	pthread_mutex_lock(db->lock);
	authd_cache_put(db->cache, key, value, time(NULL));
	pthread_mutex_unlock(db->lock);
}

static int db_decode(const struct db_kind *kind, char *value, void *out)
{
	int ret = kind->decode(value, out);

	memset(value, 0, strlen(value));
	free(value);
	return ret;
}

static enum authd_status db_lookup(struct authd_db *db, const struct db_kind *kind,
				   const char *name, void *out, const char **error_r)
{
	char *key = xasprintf("%s\t%s", kind->tag, name), *value;
	enum authd_cache_result cr = db_cache_get(db, key, false, &value);
	enum authd_status st;
	struct buf v;

	if (cr == AUTHD_CACHE_NEGATIVE) {
		free(key);
		return AUTHD_NOTFOUND;
	}
	if (cr == AUTHD_CACHE_HIT && db_decode(kind, value, out) == 0) {
		free(key);
		return AUTHD_OK;
	}
	if (db->cache_only) {
		db->missed = true;
		free(key);
		*error_r = "not cached";
		return AUTHD_TEMPFAIL;
	}
	st = kind->fetch(db, name, out, error_r);
	if (st == AUTHD_OK) {
		buf_init(&v, DB_VALUE_MAX);
		kind->encode(out, &v);
		/* An answer too big to cache is simply not cached. */
		if (v.len > 0)
			db_cache_put(db, key, buf_cstr(&v));
		memset(v.data, 0, v.len);
		buf_free(&v);
	} else if (st == AUTHD_NOTFOUND) {
		db_cache_put(db, key, NULL);
	} else if (db_cache_get(db, key, true, &value) == AUTHD_CACHE_HIT &&
		   db_decode(kind, value, out) == 0) {
		st = AUTHD_OK; /* stale, but better than locking everyone out */
	}
	free(key);
	return st;
}

enum authd_status authd_db_user(struct authd_db *db, const char *addr,
				struct authd_user *user_r, const char **error_r)
{
	memset(user_r, 0, sizeof(*user_r));
	return db_lookup(db, &db_kind_user, addr, user_r, error_r);
}

enum authd_status authd_db_alias(struct authd_db *db, const char *addr,
				 struct authd_targets *targets_r, const char **error_r)
{
	memset(targets_r, 0, sizeof(*targets_r));
	return db_lookup(db, &db_kind_alias, addr, targets_r, error_r);
}

enum authd_status authd_db_domain(struct authd_db *db, const char *domain,
				  struct authd_domain *domain_r, const char **error_r)
{
	memset(domain_r, 0, sizeof(*domain_r));
	return db_lookup(db, &db_kind_domain, domain, domain_r, error_r);
}

enum authd_status authd_db_sender_grant(struct authd_db *db, const char *login,
					const char *sender, const char **error_r)
{
	char *name;
	enum authd_status st;

	if (db->ops->sender_grant == NULL)
		return AUTHD_NOTFOUND;
	name = xasprintf("%s\t%s", login, sender);
	st = db_lookup(db, &db_kind_grant, name, NULL, error_r);
	free(name);
	return st;
}

size_t authd_db_flush(struct authd_cache *cache, pthread_mutex_t *lock, const char *key)
{
	static const char *const kinds[] = { DB_KIND_USER, DB_KIND_ALIAS, DB_KIND_DOMAIN };
	size_t n = 0;

	if (cache == NULL)
		return 0;
	pthread_mutex_lock(lock);
	if (key == NULL) {
		n = authd_cache_flush(cache, NULL);
	} else {
		for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
			char *k = xasprintf("%s\t%s", kinds[i], key);

			n += authd_cache_flush(cache, k);
			free(k);
		}
	}
	pthread_mutex_unlock(lock);
	return n;
}
