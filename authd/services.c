/* The service table of mailroom-authd: the first one is the default for a
 * listener without service=. */
#include "services.h"

const struct conn_service *const authd_services[] = {
	&authd_lookup_service,        /* service=lookup: docs/authd.md */
	&authd_auth_service,          /* service=auth: docs/authd-protocols.md */
	&authd_saslauthd_service,     /* service=saslauthd: docs/authd-protocols.md */
};
const size_t authd_services_count = sizeof(authd_services) / sizeof(authd_services[0]);

const struct authd_service_keys authd_service_keys[] = {
	{ authproto_defs, &authproto_defs_count },  /* service=auth */
};
const size_t authd_service_keys_count = sizeof(authd_service_keys) /
					sizeof(authd_service_keys[0]);
