#ifndef MR_AUTHD_DB_H
#define MR_AUTHD_DB_H

#include <pthread.h>
#include <stdbool.h>

#include "backend.h"
#include "cache.h"

/* The backend's primitive lookups behind authd's answer cache: a fresh
 * entry answers without asking; a backend TEMPFAIL falls back to a stale
 * positive entry (within cache_stale_ttl) and is a TEMPFAIL otherwise.
 * Worker threads: the cache is shared and `lock` guards it. */

struct authd_db {
	const struct authd_backend_ops *ops;
	struct authd_backend *backend;
	struct authd_cache *cache;   /* NULL: every lookup asks the backend */
	pthread_mutex_t *lock;       /* guards cache */
	/* Answer from fresh cache entries only: a lookup that would have to
	 * ask the backend sets `missed` and returns TEMPFAIL instead. Lets
	 * the event loop answer cached requests without a worker round trip;
	 * a caller that sees `missed` asks again on a worker. */
	bool cache_only;
	bool missed;
};

enum authd_status authd_db_user(struct authd_db *db, const char *addr,
				struct authd_user *user_r, const char **error_r);
enum authd_status authd_db_alias(struct authd_db *db, const char *addr,
				 struct authd_targets *targets_r, const char **error_r);
enum authd_status authd_db_domain(struct authd_db *db, const char *domain,
				  struct authd_domain *domain_r, const char **error_r);
/* NOTFOUND also when the backend has no grants at all. */
enum authd_status authd_db_sender_grant(struct authd_db *db, const char *login,
					const char *sender, const char **error_r);

/* Drop what the cache holds about key (an address, "@domain" or a
 * domain: every kind of entry under that name), or everything when key is
 * NULL. Returns how many entries went. */
size_t authd_db_flush(struct authd_cache *cache, pthread_mutex_t *lock, const char *key);

#endif
