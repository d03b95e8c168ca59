#ifndef MR_AUTHD_SERVICES_H
#define MR_AUTHD_SERVICES_H

#include <stddef.h>

#include "config.h"
#include "conn.h"

/* The protocols mailroom-authd serves, picked per listener by service=. */
extern const struct conn_service *const authd_services[];
extern const size_t authd_services_count;

/* Keys a protocol front end adds to authd's configuration table (after
 * the core's and the backends', see authd_all_defs). */
struct authd_service_keys {
	const struct cfg_def *defs;
	const size_t *count;
};
extern const struct authd_service_keys authd_service_keys[];
extern const size_t authd_service_keys_count;

/* Each protocol front end exports its service. */
extern const struct conn_service authd_lookup_service;   /* proto-lookup.c */
extern const struct conn_service authd_auth_service;     /* proto-auth.c */
extern const struct conn_service authd_saslauthd_service; /* proto-saslauthd.c */

/* The auth protocol's keys (proto-auth.c). */
extern const struct cfg_def authproto_defs[];
extern const size_t authproto_defs_count;

#endif
