#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn-private.h"
#include "proxy.h"
#include "tls.h"
#include "xalloc.h"

#define CONN_READ_SIZE (64 * 1024)
#define CONN_DEFAULT_MAX_LINE 8192
/* How long an orderly close may wait for a peer to take our last bytes. */
#define CONN_CLOSE_GRACE_MS 10000

struct conn_wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static void conn_finish(struct conn *c, bool reset);

/* ---------------------------------------------------------- accessors */

const char *conn_sid(const struct conn *c) { return c->sid; }
const struct netaddr *conn_remote(const struct conn *c) { return &c->rip; }
const struct netaddr *conn_local(const struct conn *c) { return &c->lip; }
bool conn_proxied(const struct conn *c) { return c->proxied; }
bool conn_is_unix(const struct conn *c) { return c->is_unix; }
void *conn_ssl(const struct conn *c) { return c->ssl; }
const struct conn_service *conn_service(const struct conn *c) { return c->svc; }
struct conn_env *conn_env(const struct conn *c) { return c->env; }
void *conn_session(const struct conn *c) { return c->session; }
bool conn_is_closing(const struct conn *c) { return c->closing; }
size_t conn_write_queued(const struct conn *c) { return c->queued; }
bool conn_write_blocked(const struct conn *c) { return c->queued > CONN_WRITE_HIGH; }
struct conn *conn_list_next(const struct conn *c) { return c->next; }

bool conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL && SSL_is_init_finished(c->ssl);
}

void conn_list_link(struct conn **head, struct conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head != NULL)
		(*head)->prev = c;
	*head = c;
}

void conn_list_unlink(struct conn **head, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (*head == c)
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static const char *conn_addr_str(const struct netaddr *a, char out[NETADDR_STRLEN])
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return "unix";
	return netaddr_str(a, out);
}

/* ------------------------------------------------------------- writes */

static void conn_write_cb(uv_write_t *req, int status)
{
	struct conn_wreq *w = (struct conn_wreq *)req;
	struct conn *c = w->c;

	c->queued -= w->len;
	free(w);
	if (c->finished)
		return;
	if (status < 0) {
		if (!c->closing)
			c->close_reason = "write error";
		conn_finish(c, true);
		return;
	}
	if (c->closing) {
		if (c->queued == 0)
			conn_finish(c, false);
		return;
	}
	if (c->stage == CONN_STAGE_STARTTLS_FLUSH && c->queued == 0) {
		const char *error;

		c->stage = CONN_STAGE_STARTTLS;
		if (conn_tls_begin(c, &error) < 0)
			conn_abort(c, error);
		return;
	}
	/* Reading stopped above CONN_WRITE_HIGH starts again at
	 * CONN_WRITE_LOW. Not only when one completion crosses both marks:
	 * many small writes (TLS records) drain in steps, and a step ending
	 * between the two must not leave the connection deaf. */
	if (!c->reading && c->queued <= CONN_WRITE_LOW)
		conn_update_reading(c);
	if (c->queued <= CONN_WRITE_LOW && c->stage == CONN_STAGE_READY &&
	    c->svc->on_writable != NULL)
		c->svc->on_writable(c->session, c);
}

void conn_raw_write(struct conn *c, const void *data, size_t len)
{
	struct conn_wreq *w;
	uv_buf_t b;
	int ret;

	if (c->finished || len == 0)
		return;
	w = xmalloc(sizeof(*w) + len);
	w->c = c;
	w->len = len;
	memcpy(w->data, data, len);
	b = uv_buf_init(w->data, (unsigned)len);
	ret = uv_write(&w->req, &c->h.stream, &b, 1, conn_write_cb);
	if (ret < 0) {
		free(w);
		c->close_reason = uv_strerror(ret);
		conn_finish(c, true);
		return;
	}
	c->queued += len;
	c->bytes_out += len;
	if (conn_write_blocked(c))
		conn_update_reading(c);
}

void conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->finished)
		return;
	if (c->ssl != NULL)
		conn_tls_write(c, data, len);
	else
		conn_raw_write(c, data, len);
}

void conn_write_str(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, BUF_NO_LIMIT);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	conn_write(c, b.data, b.len);
	buf_free(&b);
}

/* -------------------------------------------------------------- reads */

static void conn_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	/* Every read is consumed (copied into the line reader or the TLS
	 * BIO) before the next, so one buffer serves the whole loop. */
	static char space[CONN_READ_SIZE];

	*b = uv_buf_init(space, sizeof(space));
}

static void conn_timer_restart(struct conn *c, enum conn_timeout which);

static void conn_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;

	if (n == 0)
		return;
	if (n < 0) {
		conn_close(c, n == UV_EOF ? "client closed" : uv_strerror((int)n));
		return;
	}
	c->bytes_in += (uint64_t)n;
	conn_timer_restart(c, CONN_TIMEOUT_IDLE);
	conn_input_raw(c, b->base, (size_t)n);
}

void conn_update_reading(struct conn *c)
{
	bool want = !c->closing && !c->paused && !conn_write_blocked(c);

	if (want && !c->reading) {
		if (uv_read_start(&c->h.stream, conn_alloc_cb, conn_read_cb) == 0)
			c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop(&c->h.stream);
		c->reading = false;
	}
}

/* Input before TLS and session: the PROXY header, the handshake, the
 * bytes a STARTTLS client pipelined (dropped). */
void conn_input_raw(struct conn *c, const char *data, size_t len)
{
	if (c->closing || len == 0)
		return;
	switch (c->stage) {
	case CONN_STAGE_PROXY:
		conn_proxy_input(c, data, len);
		break;
	case CONN_STAGE_STARTTLS_FLUSH:
		c->dropped += len;
		break;
	default:
		if (c->ssl != NULL)
			conn_tls_input(c, data, len);
		else
			conn_plain_input(c, data, len);
		break;
	}
}

static bool conn_dispatch_one(struct conn *c)
{
	struct lr_line line;

	switch (linereader_next(&c->lr, &line)) {
	case LR_NEED_MORE:
		return false;
	case LR_LINE:
		if (c->svc->on_line != NULL)
			c->svc->on_line(c->session, c, &line);
		break;
	case LR_DATA:
		if (c->svc->on_data != NULL)
			c->svc->on_data(c->session, c, &line);
		break;
	case LR_TOO_LONG:
		if (c->svc->on_too_long != NULL)
			c->svc->on_too_long(c->session, c);
		break;
	}
	return true;
}

/* Hand buffered lines to the session until it pauses, closes, starts TLS
 * or the buffer runs dry. Every pass consumes input, so it ends. */
static void conn_dispatch(struct conn *c)
{
	if (c->in_dispatch)
		return;
	c->in_dispatch = true;
	while (!c->closing && !c->paused && c->stage == CONN_STAGE_READY) {
		if (!conn_dispatch_one(c))
			break;
	}
	c->in_dispatch = false;
}

void conn_plain_input(struct conn *c, const char *data, size_t len)
{
	linereader_feed(&c->lr, data, len);
	if (c->stage == CONN_STAGE_READY)
		conn_dispatch(c);
}

void conn_pause(struct conn *c)
{
	c->paused = true;
	conn_update_reading(c);
}

static void conn_resume_cb(uv_timer_t *t)
{
	conn_dispatch(t->data);
}

void conn_resume(struct conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = false;
	conn_update_reading(c);
	/* Not from here: the caller may be deep in a session callback. */
	uv_timer_start(&c->resume_timer, conn_resume_cb, 0, 0);
}

void conn_expect_literal(struct conn *c, uint64_t n)
{
	linereader_expect_literal(&c->lr, n);
}

/* The address is final and TLS (if implicit) is up: admit the session. */
void conn_become_ready(struct conn *c)
{
	if (c->ready_called)
		return;
	c->ready_called = true;
	c->stage = CONN_STAGE_READY;
	if (c->env->admit != NULL && !c->env->admit(c, c->env->ctx)) {
		if (c->svc->on_busy != NULL)
			c->svc->on_busy(c);
		conn_close(c, "too busy");
		return;
	}
	c->session = c->svc->on_connect(c);
	conn_dispatch(c);
}

/* ----------------------------------------------------------- STARTTLS */

bool conn_tls_available(const struct conn *c)
{
	return c->env->tls != NULL && c->ssl == NULL &&
	       c->tls_mode == CONN_TLS_STARTTLS;
}

int conn_starttls(struct conn *c, const char **error_r)
{
	if (!conn_tls_available(c) || c->stage != CONN_STAGE_READY) {
		*error_r = "TLS not available";
		return -1;
	}
	/* Whatever followed the STARTTLS command was sent in plaintext and
	 * must never be read as if it came through TLS. */
	c->dropped += linereader_discard(&c->lr);
	c->stage = CONN_STAGE_STARTTLS_FLUSH;
	if (c->queued == 0) {
		c->stage = CONN_STAGE_STARTTLS;
		return conn_tls_begin(c, error_r);
	}
	return 0;
}

/* ------------------------------------------------------------- timers */

static void conn_timer_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	enum conn_timeout which = t == &c->idle_timer ?
		CONN_TIMEOUT_IDLE : CONN_TIMEOUT_SESSION;

	if (c->closing) {
		conn_abort(c, c->close_reason);
		return;
	}
	if (c->svc->on_timeout != NULL && c->stage == CONN_STAGE_READY)
		c->svc->on_timeout(c, which);
	conn_close(c, which == CONN_TIMEOUT_IDLE ? "idle timeout" : "session timeout");
}

static void conn_timer_restart(struct conn *c, enum conn_timeout which)
{
	uv_timer_t *t = which == CONN_TIMEOUT_IDLE ? &c->idle_timer : &c->session_timer;

	if (c->closing)
		return;
	if (c->timeouts[which] == 0)
		uv_timer_stop(t);
	else
		uv_timer_start(t, conn_timer_cb, (uint64_t)c->timeouts[which] * 1000, 0);
}

void conn_set_timeout(struct conn *c, enum conn_timeout which, unsigned seconds)
{
	c->timeouts[which] = seconds;
	conn_timer_restart(c, which);
}

/* -------------------------------------------------------------- close */

static void conn_log_close(struct conn *c)
{
	char rip[NETADDR_STRLEN], lip[NETADDR_STRLEN];
	struct buf tls, reason;
	uint64_t ms = uv_now(c->env->loop) - c->start_ms;

	buf_init(&tls, 256);
	buf_init(&reason, 512);
	tls_ssl_describe(c->ssl, &tls);
	log_escape(&reason, c->close_reason != NULL ? c->close_reason : "closed");
	log_info(c->sid, "close rip=%s lip=%s tls=%s in=%llu out=%llu dropped=%llu "
		 "duration=%llu.%03u reason=%s",
		 conn_addr_str(&c->rip, rip), conn_addr_str(&c->lip, lip),
		 buf_cstr(&tls), (unsigned long long)c->bytes_in,
		 (unsigned long long)c->bytes_out, (unsigned long long)c->dropped,
		 (unsigned long long)(ms / 1000), (unsigned)(ms % 1000),
		 buf_cstr(&reason));
	buf_free(&tls);
	buf_free(&reason);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	if (c->opened && c->env->closed != NULL)
		c->env->closed(c, c->env->ctx);
	conn_tls_free(c);
	linereader_free(&c->lr);
	buf_free(&c->proxy_in);
	free(c);
}

static void conn_finish(struct conn *c, bool reset)
{
	if (c->finished)
		return;
	c->closing = true;
	c->finished = true;
	if (c->ready_called && c->session != NULL && c->svc->on_close != NULL)
		c->svc->on_close(c->session, c);
	c->session = NULL;
	conn_log_close(c);
	if (reset && !c->is_unix)
		uv_tcp_close_reset(&c->h.tcp, conn_handle_closed);
	else
		uv_close(&c->h.handle, conn_handle_closed);
	uv_close((uv_handle_t *)&c->idle_timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->session_timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->resume_timer, conn_handle_closed);
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_reason = reason;
	conn_update_reading(c);
	uv_timer_stop(&c->session_timer);
	uv_timer_stop(&c->resume_timer);
	conn_tls_shutdown(c);
	if (c->queued == 0) {
		conn_finish(c, false);
		return;
	}
	uv_timer_start(&c->idle_timer, conn_timer_cb, CONN_CLOSE_GRACE_MS, 0);
}

void conn_abort(struct conn *c, const char *reason)
{
	if (!c->closing || c->close_reason == NULL)
		c->close_reason = reason;
	conn_finish(c, true);
}

/* ------------------------------------------------------------- accept */

/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; logs, limits
 * and sessions want the plain IPv4 address. */
static void conn_unmap_v4(struct netaddr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family != AF_INET6 || memcmp(a->addr, prefix, sizeof(prefix)) != 0)
		return;
	memmove(a->addr, a->addr + 12, 4);
	memset(a->addr + 4, 0, 12);
	a->family = AF_INET;
}

static void conn_addresses(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	memset(&c->peer, 0, sizeof(c->peer));
	memset(&c->lip, 0, sizeof(c->lip));
	if (c->is_unix)
		return;
	if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
		netaddr_from_sockaddr(&c->peer, (struct sockaddr *)&ss);
	len = sizeof(ss);
	if (uv_tcp_getsockname(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0)
		netaddr_from_sockaddr(&c->lip, (struct sockaddr *)&ss);
	conn_unmap_v4(&c->peer);
	conn_unmap_v4(&c->lip);
}

static struct conn *conn_new(const struct conn_listen_opts *o, struct conn_env *env)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	size_t max_line = o->service->max_line != 0 ?
		o->service->max_line : CONN_DEFAULT_MAX_LINE;

	c->env = env;
	c->svc = o->service;
	c->tls_mode = o->tls;
	c->is_unix = o->is_unix;
	log_sid_new(c->sid);
	linereader_init(&c->lr, max_line, o->service->eol);
	buf_init(&c->proxy_in, PROXY_V2_MAX);
	c->timeouts[CONN_TIMEOUT_IDLE] = env->idle_timeout;
	c->timeouts[CONN_TIMEOUT_SESSION] = env->session_timeout;
	c->start_ms = uv_now(env->loop);
	return c;
}

static void conn_log_connect(struct conn *c)
{
	char rip[NETADDR_STRLEN], lip[NETADDR_STRLEN];

	log_info(c->sid, "connect rip=%s rport=%u lip=%s lport=%u service=%s",
		 conn_addr_str(&c->rip, rip), c->rip.port,
		 conn_addr_str(&c->lip, lip), c->lip.port, c->svc->name);
}

static int conn_init_handles(struct conn *c, uv_stream_t *server, const char **error_r)
{
	uv_loop_t *loop = c->env->loop;
	int ret = c->is_unix ? uv_pipe_init(loop, &c->h.pipe, 0) :
		uv_tcp_init(loop, &c->h.tcp);

	if (ret < 0) {
		*error_r = uv_strerror(ret);
		return -1;
	}
	c->h.handle.data = c;
	uv_timer_init(loop, &c->idle_timer);
	uv_timer_init(loop, &c->session_timer);
	uv_timer_init(loop, &c->resume_timer);
	c->idle_timer.data = c->session_timer.data = c->resume_timer.data = c;
	c->open_handles = 4;
	ret = uv_accept(server, &c->h.stream);
	if (ret < 0) {
		*error_r = uv_strerror(ret);
		return -1;
	}
	return 0;
}

/* What the connection does first: the PROXY header, the implicit TLS
 * handshake, or straight to the session. */
static void conn_start(struct conn *c, const struct conn_listen_opts *o)
{
	const char *error;

	if (o->proxy_protocol) {
		if (!conn_proxy_peer_allowed(c))
			conn_abort(c, "PROXY header from an untrusted address");
		else
			c->stage = CONN_STAGE_PROXY;
		return;
	}
	if (c->tls_mode == CONN_TLS_IMPLICIT) {
		c->stage = CONN_STAGE_HANDSHAKE;
		if (conn_tls_begin(c, &error) < 0)
			conn_abort(c, error);
		return;
	}
	conn_become_ready(c);
}

struct conn *conn_accept(uv_stream_t *server, const struct conn_listen_opts *o,
			 struct conn_env *env, const char **error_r)
{
	struct conn *c = conn_new(o, env);

	if (conn_init_handles(c, server, error_r) < 0) {
		c->close_reason = *error_r;
		c->finished = true;
		uv_close(&c->h.handle, conn_handle_closed);
		uv_close((uv_handle_t *)&c->idle_timer, conn_handle_closed);
		uv_close((uv_handle_t *)&c->session_timer, conn_handle_closed);
		uv_close((uv_handle_t *)&c->resume_timer, conn_handle_closed);
		return NULL;
	}
	if (!c->is_unix)
		uv_tcp_nodelay(&c->h.tcp, 1);
	conn_addresses(c);
	c->rip = c->peer;
	c->opened = true;
	if (env->opened != NULL)
		env->opened(c, env->ctx);
	conn_log_connect(c);
	conn_timer_restart(c, CONN_TIMEOUT_IDLE);
	conn_timer_restart(c, CONN_TIMEOUT_SESSION);
	conn_update_reading(c);
	conn_start(c, o);
	return c;
}
