#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hash.h"
#include "xalloc.h"

struct cache_entry {
	struct cache_entry *next_in_bucket;
	struct cache_entry *lru_prev, *lru_next; /* head = most recently used */
	uint64_t hash;
	time_t stored;
	char *key;
	char *value;    /* NULL: negative entry */
};

struct authd_cache {
	struct authd_cache_settings set;
	struct cache_entry **buckets;
	size_t nbuckets;  /* power of two */
	size_t count;
	struct cache_entry *lru_head, *lru_tail;
};

static void cache_lru_unlink(struct authd_cache *c, struct cache_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void cache_lru_push(struct authd_cache *c, struct cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
}

static struct cache_entry **cache_slot(struct authd_cache *c, const char *key, uint64_t hash)
{
	struct cache_entry **p = &c->buckets[hash & (c->nbuckets - 1)];

	while (*p != NULL && ((*p)->hash != hash || strcmp((*p)->key, key) != 0))
		p = &(*p)->next_in_bucket;
	return p;
}

static void cache_remove(struct authd_cache *c, struct cache_entry **slot)
{
	struct cache_entry *e = *slot;

	*slot = e->next_in_bucket;
	cache_lru_unlink(c, e);
	free(e->key);
	free(e->value);
	free(e);
	c->count--;
}

static void cache_grow(struct authd_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct cache_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < c->nbuckets; i++) {
		struct cache_entry *e = c->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next_in_bucket;
			e->next_in_bucket = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

static void cache_evict_over_limit(struct authd_cache *c)
{
	while (c->count > c->set.max_entries && c->lru_tail != NULL) {
		struct cache_entry *e = c->lru_tail;

		cache_remove(c, cache_slot(c, e->key, e->hash));
	}
}

struct authd_cache *authd_cache_new(const struct authd_cache_settings *set)
{
	struct authd_cache *c = xcalloc(1, sizeof(*c));

	c->set = *set;
	c->nbuckets = 64;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	return c;
}

void authd_cache_free(struct authd_cache *c)
{
	if (c == NULL)
		return;
	authd_cache_flush(c, NULL);
	free(c->buckets);
	free(c);
}

void authd_cache_configure(struct authd_cache *c, const struct authd_cache_settings *set)
{
	c->set = *set;
	cache_evict_over_limit(c);
}

void authd_cache_put(struct authd_cache *c, const char *key, const char *value, time_t now)
{
	uint64_t hash = hash_str(key);
	struct cache_entry **slot, *e;

	if (c->set.max_entries == 0)
		return;
	slot = cache_slot(c, key, hash);
	if (*slot != NULL)
		cache_remove(c, slot);
	if (c->count >= c->nbuckets)
		cache_grow(c);
	e = xcalloc(1, sizeof(*e));
	e->hash = hash;
	e->stored = now;
	e->key = xstrdup(key);
	e->value = value != NULL ? xstrdup(value) : NULL;
	slot = &c->buckets[hash & (c->nbuckets - 1)];
	e->next_in_bucket = *slot;
	*slot = e;
	cache_lru_push(c, e);
	c->count++;
	cache_evict_over_limit(c);
}

enum authd_cache_result authd_cache_get(struct authd_cache *c, const char *key,
					time_t now, bool backend_down,
					const char **value_r)
{
	struct cache_entry **slot = cache_slot(c, key, hash_str(key)), *e = *slot;
	time_t age, ttl, grace;

	if (e == NULL)
		return AUTHD_CACHE_MISS;
	ttl = e->value != NULL ? c->set.pos_ttl : c->set.neg_ttl;
	/* Only positive answers outlive their TTL while the backend is down:
	 * a stale "unknown" would bounce mail a retry would deliver. */
	grace = e->value != NULL ? (time_t)c->set.stale_ttl : 0;
	age = now - e->stored;
	/* A clock stepping backwards must not make an entry immortal. */
	if (age < 0 || age >= ttl + grace) {
		cache_remove(c, slot);
		return AUTHD_CACHE_MISS;
	}
	if (age >= ttl && !backend_down)
		return AUTHD_CACHE_MISS;
	cache_lru_unlink(c, e);
	cache_lru_push(c, e);
	*value_r = e->value;
	return e->value != NULL ? AUTHD_CACHE_HIT : AUTHD_CACHE_NEGATIVE;
}

size_t authd_cache_flush(struct authd_cache *c, const char *key)
{
	size_t n = 0;

	if (key != NULL) {
		struct cache_entry **slot = cache_slot(c, key, hash_str(key));

		if (*slot == NULL)
			return 0;
		cache_remove(c, slot);
		return 1;
	}
	while (c->lru_head != NULL) {
		struct cache_entry *e = c->lru_head;

		cache_remove(c, cache_slot(c, e->key, e->hash));
		n++;
	}
	return n;
}

size_t authd_cache_count(const struct authd_cache *c)
{
	return c->count;
}
