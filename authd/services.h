#ifndef MR_AUTHD_SERVICES_H
#define MR_AUTHD_SERVICES_H

#include <stddef.h>

#include "conn.h"

/* The protocols mailroom-authd serves, picked per listener by service=. */
extern const struct conn_service *const authd_services[];
extern const size_t authd_services_count;

/* Each protocol front end exports its service. */
extern const struct conn_service authd_lookup_service;   /* proto-lookup.c */

#endif
