#ifndef MR_AUTHD_PROTO_AUTH_H
#define MR_AUTHD_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "netaddr.h"

/* The Dovecot-compatible auth client protocol (docs/authd-protocols.md):
 * the line parser (proto-auth-parse.c, no I/O, fuzzed on its own) and the
 * session on a listener with service=auth (proto-auth.c). */

/* Dovecot expects lines to fit in 16 KiB; the longest is a CONT carrying a
 * SASL response. */
#define AUTHPROTO_MAX_LINE 16384
#define AUTHPROTO_MAX_ARGS 64

/* A line split at tabs, each field tab-unescaped in place. */
struct authproto_line {
	const char *cmd;
	const char *args[AUTHPROTO_MAX_ARGS];
	size_t nargs;
};

/* Split line (len bytes, modified in place, NUL-terminated after len) into
 * fields. -1 with error_r for an empty command, too many fields, a bad
 * escape or an escaped NUL. */
int authproto_split(char *line, size_t len, struct authproto_line *l, const char **error_r);

/* A request id: decimal, fits 32 bits. */
int authproto_parse_id(const char *s, uint32_t *id_r);

/* An AUTH line's fields after "AUTH". */
struct authproto_auth {
	uint32_t id;
	const char *mech;
	const char *service;
	bool secured;
	bool valid_client_cert;
	bool no_penalty;
	bool have_lip, have_rip;
	struct netaddr lip, rip;   /* ports from lport= / rport= */
	const char *resp;          /* initial response (base64); NULL: none */
};

/* -1 with error_r when the id, mechanism or service is missing or bad, or
 * an address or port does not parse. Unknown parameters are ignored, as
 * the protocol asks. */
int authproto_parse_auth(const struct authproto_line *l, struct authproto_auth *a,
			 const char **error_r);

/* Append s with the protocol's escaping (\001 then 1, t, r, n or 0). */
int authproto_escape(struct buf *out, const char *s);

/* The session (service=auth). */
extern const struct conn_service authd_auth_service;

#endif
