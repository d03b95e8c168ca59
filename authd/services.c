/* The service table of mailroom-authd: the first one is the default for a
 * listener without service=. */
#include "services.h"

const struct conn_service *const authd_services[] = {
	&authd_lookup_service,        /* service=lookup: docs/authd.md */
	/* authproto branch: &authd_auth_service (service=auth), */
	/* authproto branch: &authd_saslauthd_service (service=saslauthd), */
};
const size_t authd_services_count = sizeof(authd_services) / sizeof(authd_services[0]);
