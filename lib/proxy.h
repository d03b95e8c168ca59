#ifndef MR_PROXY_H
#define MR_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

/* PROXY protocol v1 (text) and v2 (binary) header parser, as HAProxy
 * sends it ahead of the client's bytes. Incremental: call it with all bytes
 * received so far; it never reads past the header. */

#define PROXY_V1_MAX 107        /* the whole v1 line, CRLF included */
#define PROXY_V2_MAX (16 + 65535)

enum proxy_result {
	PROXY_ERROR = -1,   /* not a valid header; error_r says why */
	PROXY_NEED_MORE = 0,
	PROXY_DONE = 1,     /* *consumed_r bytes were the header */
};

struct proxy_info {
	int version;          /* 1 or 2 */
	/* false for "PROXY UNKNOWN" and v2 LOCAL (health checks): keep the
	 * real peer address. */
	bool has_addr;
	struct netaddr src;   /* the client */
	struct netaddr dst;   /* the address it connected to */
	bool ssl;             /* v2 PP2_TYPE_SSL with the client-SSL bit */
	char authority[256];  /* v2 PP2_TYPE_AUTHORITY (SNI), "" when absent */
};

enum proxy_result proxy_parse(const void *data, size_t len,
			      struct proxy_info *info_r, size_t *consumed_r,
			      const char **error_r);

/* Whether the bytes so far could still be the start of a PROXY header
 * (true for an empty prefix). */
bool proxy_maybe_header(const void *data, size_t len);

#endif
