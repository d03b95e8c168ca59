#ifndef MR_AUTHD_PENALTY_H
#define MR_AUTHD_PENALTY_H

#include <stddef.h>
#include <time.h>

#include "netaddr.h"

/* Brute-force penalty: each failed login from a client address doubles the
 * delay before that address's next answer (base_ms, 2 x base_ms, ... up to
 * max_ms); a success or `window` seconds without failures forgets it.
 * IPv6 clients are counted per /48, since one attacker holds a whole
 * prefix; trusted networks (webmail, the provider's own hosts) are exempt.
 * The table is bounded: the longest-quiet addresses are forgotten first.
 * Used from the event loop thread only. */

struct authd_penalty;

struct authd_penalty_settings {
	unsigned base_ms;        /* delay after the first failure */
	unsigned max_ms;         /* ceiling */
	unsigned window;         /* seconds after the last failure to forget */
	size_t max_entries;      /* addresses remembered at most */
	const struct netmask_list *trusted; /* may be NULL; kept by reference */
};

struct authd_penalty *authd_penalty_new(const struct authd_penalty_settings *set);
void authd_penalty_free(struct authd_penalty *penalty);

/* Milliseconds to wait before answering this client's next attempt. */
unsigned authd_penalty_delay(struct authd_penalty *penalty,
			     const struct netaddr *client, time_t now);
/* Record a failed login; returns the new failure count (0 if exempt). */
unsigned authd_penalty_fail(struct authd_penalty *penalty,
			    const struct netaddr *client, time_t now);
void authd_penalty_success(struct authd_penalty *penalty,
			   const struct netaddr *client);

/* The text key an address is counted under: "192.0.2.7" or
 * "2001:db8:1::/48". */
const char *authd_penalty_bucket(const struct netaddr *client,
				 char out[NETADDR_STRLEN]);

#endif
