#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "penalty.h"
#include "xalloc.h"

/* Failure counts live in an authd_cache: it already gives a bounded,
 * least-recently-used table whose entries expire `window` after their last
 * write, which is exactly the forgetting rule. */
struct authd_penalty {
	struct authd_penalty_settings set;
	struct authd_cache *counts;
};

struct authd_penalty *authd_penalty_new(const struct authd_penalty_settings *set)
{
	struct authd_penalty *p = xcalloc(1, sizeof(*p));
	struct authd_cache_settings cs = {
		.max_entries = set->max_entries,
		.pos_ttl = set->window,
	};

	p->set = *set;
	p->counts = authd_cache_new(&cs);
	return p;
}

void authd_penalty_free(struct authd_penalty *p)
{
	if (p == NULL)
		return;
	authd_cache_free(p->counts);
	free(p);
}

const char *authd_penalty_bucket(const struct netaddr *client, char out[NETADDR_STRLEN])
{
	struct netaddr prefix = *client;
	size_t len;

	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	/* An IPv4 client seen on a dual-stack socket is still one IPv4 host,
	 * not the whole ::ffff:0:0/96 prefix. */
	if (client->family == AF_INET6 && memcmp(client->addr, v4mapped, 12) == 0) {
		prefix.family = AF_INET;
		memmove(prefix.addr, client->addr + 12, 4);
		return netaddr_str(&prefix, out);
	}
	if (client->family != AF_INET6)
		return netaddr_str(client, out);
	memset(prefix.addr + 6, 0, sizeof(prefix.addr) - 6);
	netaddr_str(&prefix, out);
	len = strlen(out);
	snprintf(out + len, NETADDR_STRLEN - len, "/48");
	return out;
}

static bool penalty_exempt(const struct authd_penalty *p, const struct netaddr *client)
{
	return p->set.trusted != NULL && netmask_list_match(p->set.trusted, client);
}

static unsigned penalty_count(struct authd_penalty *p, const char *bucket, time_t now)
{
	const char *value = NULL;

	if (authd_cache_get(p->counts, bucket, now, false, &value) != AUTHD_CACHE_HIT)
		return 0;
	return (unsigned)strtoul(value, NULL, 10);
}

unsigned authd_penalty_delay(struct authd_penalty *p, const struct netaddr *client, time_t now)
{
	char bucket[NETADDR_STRLEN];
	unsigned n, delay;

	if (penalty_exempt(p, client))
		return 0;
	n = penalty_count(p, authd_penalty_bucket(client, bucket), now);
	if (n == 0)
		return 0;
	delay = p->set.base_ms;
	while (--n > 0 && delay < p->set.max_ms)
		delay *= 2;
	return delay < p->set.max_ms ? delay : p->set.max_ms;
}

unsigned authd_penalty_fail(struct authd_penalty *p, const struct netaddr *client, time_t now)
{
	char bucket[NETADDR_STRLEN], value[16];
	unsigned n;

	if (penalty_exempt(p, client))
		return 0;
	authd_penalty_bucket(client, bucket);
	n = penalty_count(p, bucket, now);
	if (n < 1000000)
		n++;
	snprintf(value, sizeof(value), "%u", n);
	authd_cache_put(p->counts, bucket, value, now);
	return n;
}

void authd_penalty_success(struct authd_penalty *p, const struct netaddr *client)
{
	char bucket[NETADDR_STRLEN];

	authd_cache_flush(p->counts, authd_penalty_bucket(client, bucket));
}
