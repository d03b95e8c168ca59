#ifndef MR_CONN_H
#define MR_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "linereader.h"
#include "log.h"
#include "netaddr.h"

/* One client connection over TCP or a UNIX socket: optional TLS (implicit
 * or STARTTLS) through OpenSSL memory BIOs driven by libuv, an optional
 * PROXY protocol header, a bounded line reader feeding the session, a write
 * queue with back-pressure, idle and total timeouts. The session protocol
 * plugs in as a struct conn_service. */

struct conn;
struct tls_store;

/* A TCP or UNIX stream socket, as connections and listeners hold them. */
union conn_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

/* Output queued beyond this stops reading from the socket; reading resumes
 * (and on_writable fires) once the queue drains below CONN_WRITE_LOW. */
#define CONN_WRITE_HIGH (256 * 1024)
#define CONN_WRITE_LOW (64 * 1024)

enum conn_tls_mode {
	CONN_TLS_NONE,
	CONN_TLS_IMPLICIT,
	CONN_TLS_STARTTLS,
};

enum conn_timeout {
	CONN_TIMEOUT_IDLE,
	CONN_TIMEOUT_SESSION,
};

/* A session protocol. Only name and on_connect are required. The session
 * pointer is what on_connect returned. */
struct conn_service {
	const char *name;
	size_t max_line;     /* 0: 8192 */
	enum lr_eol eol;
	/* The connection is ready (PROXY header read, implicit TLS done):
	 * send the greeting. Returns the session state (may be NULL). */
	void *(*on_connect)(struct conn *c);
	void (*on_line)(void *session, struct conn *c, const struct lr_line *line);
	void (*on_data)(void *session, struct conn *c, const struct lr_line *chunk);
	/* A line passed max_line and is being dropped; answer and go on. */
	void (*on_too_long)(void *session, struct conn *c);
	/* STARTTLS handshake finished. */
	void (*on_tls)(void *session, struct conn *c);
	/* The write queue drained below CONN_WRITE_LOW. */
	void (*on_writable)(void *session, struct conn *c);
	/* A timeout is about to close the connection: a last line may be
	 * written (it is flushed before the close). */
	void (*on_timeout)(struct conn *c, enum conn_timeout which);
	/* Over a connection limit: write a "too busy" line; then it closes. */
	void (*on_busy)(struct conn *c);
	void (*on_close)(void *session, struct conn *c);
};

/* What a connection needs from its listener and daemon. The daemon owns it
 * and may change fields between connections (reload). */
struct conn_env {
	uv_loop_t *loop;
	struct tls_store *tls;              /* NULL: no TLS configured */
	const struct netmask_list *proxy_trusted;
	unsigned idle_timeout;              /* seconds, 0 = none */
	unsigned session_timeout;
	/* Admission check once the real client address is known; return false
	 * to refuse with on_busy. May be NULL. */
	bool (*admit)(struct conn *c, void *ctx);
	/* A connection was accepted / is gone (after on_close). */
	void (*opened)(struct conn *c, void *ctx);
	void (*closed)(struct conn *c, void *ctx);
	void *ctx;
};

struct conn_listen_opts {
	const struct conn_service *service;
	enum conn_tls_mode tls;
	bool proxy_protocol;
	bool is_unix;
};

/* Accept one connection from a listening stream and start it. NULL with
 * error_r when accept failed. */
struct conn *conn_accept(uv_stream_t *server, const struct conn_listen_opts *opts,
			 struct conn_env *env, const char **error_r);

/* Queue output; TLS-encrypted when TLS is on. Never fails: a dead
 * connection drops it. Callers producing a lot watch conn_write_blocked()
 * and continue from on_writable. */
void conn_write(struct conn *c, const void *data, size_t len);
void conn_write_str(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
size_t conn_write_queued(const struct conn *c);
bool conn_write_blocked(const struct conn *c);

/* Stop / restart delivering lines to the session (an asynchronous step is
 * pending). At most one more socket read is buffered meanwhile. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* The next n bytes are a literal, delivered through on_data. */
void conn_expect_literal(struct conn *c, uint64_t n);

/* Call after queueing the "go ahead" reply: the reply is sent in
 * plaintext, everything the client sent before the handshake is dropped,
 * then the handshake runs. -1 when TLS is unavailable or already on. */
int conn_starttls(struct conn *c, const char **error_r);
bool conn_tls_available(const struct conn *c);

/* Per session / per state; 0 disables. Restarts the timer. */
void conn_set_timeout(struct conn *c, enum conn_timeout which, unsigned seconds);

/* Orderly: stop reading, flush output, TLS close_notify, close. */
void conn_close(struct conn *c, const char *reason);
/* Abortive: drop queued output and reset the connection. */
void conn_abort(struct conn *c, const char *reason);
bool conn_is_closing(const struct conn *c);

const char *conn_sid(const struct conn *c);
/* Client address (from the PROXY header when one was accepted). family is
 * AF_UNSPEC for a UNIX socket. */
const struct netaddr *conn_remote(const struct conn *c);
const struct netaddr *conn_local(const struct conn *c);
bool conn_proxied(const struct conn *c);
bool conn_is_unix(const struct conn *c);
bool conn_is_tls(const struct conn *c);
/* The SSL object (NULL without TLS), for tls_ssl_version() and friends. */
void *conn_ssl(const struct conn *c);
const struct conn_service *conn_service(const struct conn *c);
struct conn_env *conn_env(const struct conn *c);
void *conn_session(const struct conn *c);

/* Intrusive list for the daemon's set of live connections. */
struct conn *conn_list_next(const struct conn *c);
void conn_list_link(struct conn **head, struct conn *c);
void conn_list_unlink(struct conn **head, struct conn *c);

#endif
