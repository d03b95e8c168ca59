#ifndef MR_AUTHD_PROTO_LOOKUP_H
#define MR_AUTHD_PROTO_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "fields.h"

/* The lookup protocol's requests (docs/authd.md, "Lookup protocol"):
 * "<id>\t<COMMAND>[\t<arg>...]", values escaped as in authd/fields.h. */

#define LOOKUP_ID_MAX 32
#define LOOKUP_LINE_MAX 4096
#define LOOKUP_MAX_INFLIGHT 64   /* per connection; reading pauses above */

enum lookup_cmd {
	LOOKUP_USER,
	LOOKUP_RCPT,
	LOOKUP_DOMAIN,
	LOOKUP_SENDER,
	LOOKUP_FLUSH,
	LOOKUP_PING,
};

struct lookup_request {
	char id[LOOKUP_ID_MAX + 1];  /* "" when no id could be read */
	enum lookup_cmd cmd;
	struct authd_fields args;    /* unescaped, after the command */
};

/* Parse one line (without its terminator). -1 with error_r for the
 * ERROR reply; req->id is filled whenever the id itself was valid. */
int lookup_request_parse(const char *line, size_t len, struct lookup_request *req,
			 const char **error_r);
void lookup_request_free(struct lookup_request *req);

#endif
