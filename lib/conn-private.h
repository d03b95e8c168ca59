#ifndef MR_CONN_PRIVATE_H
#define MR_CONN_PRIVATE_H

/* Shared between conn.c, conn-tls.c and conn-proxy.c only. */

#include <openssl/ssl.h>

#include "buf.h"
#include "conn.h"

enum conn_stage {
	CONN_STAGE_PROXY,          /* waiting for the PROXY header */
	CONN_STAGE_HANDSHAKE,      /* implicit TLS handshake */
	CONN_STAGE_READY,          /* the session reads lines */
	CONN_STAGE_STARTTLS_FLUSH, /* sending the go-ahead; input dropped */
	CONN_STAGE_STARTTLS,       /* STARTTLS handshake */
};

struct conn {
	union conn_stream h;
	uv_timer_t idle_timer, session_timer, resume_timer;
	int open_handles;

	struct conn_env *env;
	const struct conn_service *svc;
	void *session;
	enum conn_tls_mode tls_mode;
	enum conn_stage stage;
	char sid[LOG_SID_LEN];

	struct netaddr rip, lip, peer; /* peer: the socket's real peer */
	bool is_unix, proxied;

	SSL *ssl;
	BIO *rbio, *wbio;
	bool tls_failed;

	struct linereader lr;
	struct buf proxy_in;

	size_t queued;
	uint64_t bytes_in, bytes_out, dropped;
	uint64_t start_ms;
	unsigned timeouts[2];

	bool reading, paused, closing, finished, in_dispatch, ready_called;
	bool opened; /* env->opened was called, so env->closed will be */
	const char *close_reason;

	struct conn *prev, *next;
};

/* conn.c */
void conn_raw_write(struct conn *c, const void *data, size_t len);
void conn_plain_input(struct conn *c, const char *data, size_t len);
void conn_input_raw(struct conn *c, const char *data, size_t len);
void conn_become_ready(struct conn *c);
void conn_update_reading(struct conn *c);

/* conn-tls.c */
int conn_tls_begin(struct conn *c, const char **error_r);
void conn_tls_input(struct conn *c, const char *data, size_t len);
void conn_tls_write(struct conn *c, const void *data, size_t len);
void conn_tls_flush(struct conn *c);
void conn_tls_shutdown(struct conn *c);
void conn_tls_free(struct conn *c);

/* conn-proxy.c */
/* At accept: false when the peer may not talk to this listener. */
bool conn_proxy_peer_allowed(struct conn *c);
void conn_proxy_input(struct conn *c, const char *data, size_t len);

#endif
