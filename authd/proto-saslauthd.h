#ifndef MR_AUTHD_PROTO_SASLAUTHD_H
#define MR_AUTHD_PROTO_SASLAUTHD_H

#include "conn.h"

/* The saslauthd protocol on a listener with service=saslauthd
 * (docs/authd-protocols.md). */
extern const struct conn_service authd_saslauthd_service;

#endif
