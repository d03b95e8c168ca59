#include <stdio.h>

#include "conn-private.h"
#include "proxy.h"

/* PROXY protocol at connection start. On a listener with
 * proxy_protocol=yes the header is mandatory and only peers in
 * proxy_trusted_networks may send one; anybody else is refused at once,
 * since a server-speaks-first protocol could not tell "no header yet"
 * from "no header at all". */

bool conn_proxy_peer_allowed(struct conn *c)
{
	/* Reaching a UNIX socket is already governed by its file mode. */
	if (c->is_unix)
		return true;
	return c->env->proxy_trusted != NULL &&
	       netmask_list_match(c->env->proxy_trusted, &c->peer);
}

static void conn_proxy_apply(struct conn *c, const struct proxy_info *info)
{
	char src[NETADDR_STRLEN], peer[NETADDR_STRLEN];

	if (!info->has_addr) {
		/* LOCAL / UNKNOWN: a health check; the peer speaks for itself. */
		log_info(c->sid, "proxy v%d local", info->version);
		return;
	}
	c->rip = info->src;
	c->lip = info->dst;
	c->proxied = true;
	log_info(c->sid, "proxy v%d rip=%s rport=%u via=%s", info->version,
		 netaddr_str(&c->rip, src), c->rip.port,
		 c->is_unix ? "unix" : netaddr_str(&c->peer, peer));
}

static void conn_proxy_done(struct conn *c, const struct proxy_info *info,
			    size_t consumed)
{
	struct buf rest;
	const char *error;

	conn_proxy_apply(c, info);
	/* What followed the header belongs to the next stage. */
	buf_init(&rest, BUF_NO_LIMIT);
	buf_append(&rest, c->proxy_in.data + consumed, c->proxy_in.len - consumed);
	buf_free(&c->proxy_in);
	if (c->tls_mode == CONN_TLS_IMPLICIT) {
		c->stage = CONN_STAGE_HANDSHAKE;
		if (conn_tls_begin(c, &error) < 0) {
			conn_abort(c, error);
			buf_free(&rest);
			return;
		}
	} else {
		conn_become_ready(c);
	}
	conn_input_raw(c, rest.data, rest.len);
	buf_free(&rest);
}

void conn_proxy_input(struct conn *c, const char *data, size_t len)
{
	static char reason[300];
	struct proxy_info info;
	size_t consumed = 0;
	const char *error = "PROXY header too long";

	if (buf_append(&c->proxy_in, data, len) < 0) {
		conn_abort(c, error);
		return;
	}
	switch (proxy_parse(c->proxy_in.data, c->proxy_in.len, &info, &consumed, &error)) {
	case PROXY_NEED_MORE:
		return;
	case PROXY_DONE:
		conn_proxy_done(c, &info, consumed);
		return;
	case PROXY_ERROR:
		break;
	}
	snprintf(reason, sizeof(reason), "bad PROXY header: %s", error);
	conn_abort(c, reason);
}
