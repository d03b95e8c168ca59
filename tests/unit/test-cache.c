#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "test.h"

static const struct authd_cache_settings set = {
	.max_entries = 3, .pos_ttl = 60, .neg_ttl = 10, .stale_ttl = 300,
};

static void test_cache_hit_negative_miss(void)
{
	struct authd_cache *c = authd_cache_new(&set);
	const char *v = NULL;

	CHECK_INT(authd_cache_get(c, "user\ta@x", 100, false, &v), AUTHD_CACHE_MISS);
	authd_cache_put(c, "user\ta@x", "home=/m/x/a", 100);
	authd_cache_put(c, "user\tb@x", NULL, 100);
	CHECK_INT(authd_cache_get(c, "user\ta@x", 159, false, &v), AUTHD_CACHE_HIT);
	CHECK_STR(v, "home=/m/x/a");
	CHECK_INT(authd_cache_get(c, "user\tb@x", 109, false, &v), AUTHD_CACHE_NEGATIVE);
	/* Each kind expires on its own TTL. */
	CHECK_INT(authd_cache_get(c, "user\tb@x", 110, false, &v), AUTHD_CACHE_MISS);
	CHECK_INT(authd_cache_get(c, "user\ta@x", 160, false, &v), AUTHD_CACHE_MISS);
	/* Replacing keeps one entry. */
	authd_cache_put(c, "user\ta@x", "home=/new", 200);
	authd_cache_put(c, "user\ta@x", "home=/newer", 200);
	CHECK_INT(authd_cache_get(c, "user\ta@x", 200, false, &v), AUTHD_CACHE_HIT);
	CHECK_STR(v, "home=/newer");
	CHECK_INT(authd_cache_count(c), 1);
	authd_cache_free(c);
}

static void test_cache_backend_down(void)
{
	struct authd_cache *c = authd_cache_new(&set);
	const char *v = NULL;

	authd_cache_put(c, "pos", "v", 1000);
	authd_cache_put(c, "neg", NULL, 1000);
	/* Expired but within the stale window: only usable while down. */
	CHECK_INT(authd_cache_get(c, "pos", 1100, true, &v), AUTHD_CACHE_HIT);
	CHECK_INT(authd_cache_get(c, "pos", 1100, false, &v), AUTHD_CACHE_MISS);
	CHECK_INT(authd_cache_get(c, "pos", 1359, true, &v), AUTHD_CACHE_HIT);
	/* A stale negative answer is never given: the caller tempfails. */
	CHECK_INT(authd_cache_get(c, "neg", 1011, true, &v), AUTHD_CACHE_MISS);
	/* Past expiry plus the stale window the entry is gone. */
	CHECK_INT(authd_cache_get(c, "pos", 1360, true, &v), AUTHD_CACHE_MISS);
	CHECK_INT(authd_cache_count(c), 0);
	/* A clock that went backwards drops the entry. */
	authd_cache_put(c, "pos", "v", 1000);
	CHECK_INT(authd_cache_get(c, "pos", 999, false, &v), AUTHD_CACHE_MISS);
	authd_cache_free(c);
}

static void test_cache_lru_bound(void)
{
	struct authd_cache *c = authd_cache_new(&set);
	const char *v = NULL;

	authd_cache_put(c, "a", "1", 0);
	authd_cache_put(c, "b", "2", 0);
	authd_cache_put(c, "c", "3", 0);
	/* Touch a, so b is the least recently used. */
	CHECK_INT(authd_cache_get(c, "a", 1, false, &v), AUTHD_CACHE_HIT);
	authd_cache_put(c, "d", "4", 1);
	CHECK_INT(authd_cache_count(c), 3);
	CHECK_INT(authd_cache_get(c, "b", 1, false, &v), AUTHD_CACHE_MISS);
	CHECK_INT(authd_cache_get(c, "a", 1, false, &v), AUTHD_CACHE_HIT);
	CHECK_INT(authd_cache_get(c, "d", 1, false, &v), AUTHD_CACHE_HIT);
	/* Shrinking evicts down to the new bound. */
	struct authd_cache_settings small = set;
	small.max_entries = 1;
	authd_cache_configure(c, &small);
	CHECK_INT(authd_cache_count(c), 1);
	CHECK_INT(authd_cache_get(c, "d", 1, false, &v), AUTHD_CACHE_HIT);
	small.max_entries = 0;
	authd_cache_configure(c, &small);
	authd_cache_put(c, "e", "5", 1);
	CHECK_INT(authd_cache_count(c), 0);
	authd_cache_free(c);
}

static void test_cache_flush_and_growth(void)
{
	struct authd_cache_settings big = set;
	struct authd_cache *c;
	const char *v = NULL;
	char key[32];
	int found = 0;

	big.max_entries = 5000;
	c = authd_cache_new(&big);
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "user%d@example.test", i);
		authd_cache_put(c, key, key, 0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "user%d@example.test", i);
		found += authd_cache_get(c, key, 1, false, &v) == AUTHD_CACHE_HIT &&
			 strcmp(v, key) == 0;
	}
	CHECK_INT(found, 5000);
	CHECK_INT(authd_cache_flush(c, "user7@example.test"), 1);
	CHECK_INT(authd_cache_flush(c, "user7@example.test"), 0);
	CHECK_INT(authd_cache_flush(c, NULL), 4999);
	CHECK_INT(authd_cache_count(c), 0);
	authd_cache_free(c);
}

int main(void)
{
	test_run("cache hit, negative and expiry", test_cache_hit_negative_miss);
	test_run("cache while the backend is down", test_cache_backend_down);
	test_run("cache size bound evicts least recently used", test_cache_lru_bound);
	test_run("cache flush and growth", test_cache_flush_and_growth);
	return test_done();
}
