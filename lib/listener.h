#ifndef MR_LISTENER_H
#define MR_LISTENER_H

#include <stdbool.h>

#include <uv.h>

#include "conn.h"
#include "netaddr.h"

/* A listening socket from a `listen` line:
 *   ADDRESS [tls=implicit|starttls|none] [proxy_protocol=yes|no]
 *           [service=NAME] [mode=OCTAL]
 * ADDRESS is host:port, [v6]:port, *:port, or an absolute UNIX socket
 * path (mode applies to it; default 0660). */

struct listener_spec {
	char *address;          /* as written */
	bool is_unix;
	struct netaddr addr;    /* TCP */
	enum conn_tls_mode tls;
	bool proxy_protocol;
	char *service;          /* NULL: the daemon's first service */
	unsigned mode;
};

struct listener {
	struct listener_spec spec;
	union conn_stream h;
	struct conn_listen_opts opts;
	struct conn_env *env;
	bool bound, closing;
};

int listener_spec_parse(const char *s, struct listener_spec *spec_r, const char **error_r);
void listener_spec_free(struct listener_spec *spec);
/* For a config table's validate hook. */
int listener_spec_validate(const char *value, const char **error_r);

/* Bind and listen; connections are accepted once the loop runs and go to
 * l->opts.service with l->env. A stale UNIX socket file is replaced; a live
 * one is an error. */
int listener_bind(struct listener *l, uv_loop_t *loop, const char **error_r);
/* Stop accepting; a UNIX socket file is removed. Frees nothing. */
void listener_close(struct listener *l);

#endif
