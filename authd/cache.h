#ifndef MR_AUTHD_CACHE_H
#define MR_AUTHD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* authd's answer cache: key -> value strings, positive entries (a value)
 * and negative ones ("no such user") with their own TTLs, bounded in entry
 * count (least recently used goes first). When the backend is down, a
 * positive entry up to stale_ttl past its expiry may still answer, so a
 * short outage does not lock everyone out; anything else is a temporary
 * failure for the caller, never "unknown user". Used from the event loop thread only. */

struct authd_cache;

struct authd_cache_settings {
	size_t max_entries;   /* 0 disables the cache */
	unsigned pos_ttl;     /* seconds a positive answer is fresh */
	unsigned neg_ttl;     /* seconds a negative answer is fresh */
	unsigned stale_ttl;   /* seconds past expiry usable while the backend is down */
};

enum authd_cache_result {
	AUTHD_CACHE_MISS,
	AUTHD_CACHE_HIT,      /* *value_r is the cached value */
	AUTHD_CACHE_NEGATIVE, /* cached "not found" */
};

struct authd_cache *authd_cache_new(const struct authd_cache_settings *set);
void authd_cache_free(struct authd_cache *cache);
/* New limits; entries over the new max_entries are dropped. */
void authd_cache_configure(struct authd_cache *cache, const struct authd_cache_settings *set);

/* value NULL stores a negative entry. Replaces an existing entry. */
void authd_cache_put(struct authd_cache *cache, const char *key,
		     const char *value, time_t now);
/* backend_down: accept entries up to stale_ttl past their expiry.
 * *value_r stays valid until the next put/flush on this cache. */
enum authd_cache_result authd_cache_get(struct authd_cache *cache, const char *key,
					time_t now, bool backend_down,
					const char **value_r);
/* Drop one key, or everything when key is NULL; returns how many. */
size_t authd_cache_flush(struct authd_cache *cache, const char *key);
size_t authd_cache_count(const struct authd_cache *cache);

#endif
