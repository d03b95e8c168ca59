/* The frontends' asynchronous client of authd: the lookup protocol
 * (docs/authd.md) and the Dovecot-compatible auth protocol
 * (docs/authd-protocols.md), each over one UNIX socket connection that is
 * opened on demand and opened again after a failure. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "authd-client.h"
#include "buf.h"
#include "linereader.h"
#include "log.h"
#include "xalloc.h"

#define AC_DEFAULT_TIMEOUT_MS 10000
/* authd delays a failed login by up to penalty_max (15 s by default):
 * an AUTH gets this much on top of the lookup timeout. */
#define AC_AUTH_EXTRA_MS 20000
#define AC_TICK_MS 100
#define AC_LOOKUP_LINE_MAX (256 * 1024)
#define AC_AUTH_LINE_MAX 16384
#define AC_READ_SIZE 65536
#define AC_MAX_FIELDS 1024

enum ac_kind { AC_USER, AC_RCPT, AC_DOMAIN, AC_SENDER, AC_AUTH };

enum ac_chan_state {
	AC_CLOSED,      /* no socket */
	AC_CONNECTING,
	AC_HANDSHAKE,   /* auth: waiting for DONE */
	AC_READY,
	AC_CLOSING,     /* handle being closed */
};

struct ac_chan {
	struct authd_client *client;
	const char *path;
	bool is_auth;
	enum ac_chan_state state;
	struct ac_sock *sock;       /* while not CLOSED */
	struct linereader lr;
	struct authd_client_req *head, *tail;  /* requests of this channel */
};

struct authd_client_req {
	struct authd_client *client;
	struct ac_chan *chan;
	struct authd_client_req *prev, *next;
	enum ac_kind kind;
	uint32_t id;
	char *out;                  /* a line not yet sent */
	uint64_t deadline;          /* loop ms; 0: not waiting on authd */
	bool failed;                /* deliver TEMPFAIL at the next tick */
	const char *fail_reason;
	void *cb;
	void *ctx;
};

struct authd_client {
	uv_loop_t *loop;
	char *lookup_path, *auth_path;
	unsigned timeout_ms;
	uint32_t next_id;
	struct ac_chan lookup, auth;
	uv_timer_t *timer;
	bool timer_running;
	bool weak;                  /* authd_client_weaken() */
};

/* Handles live apart from the channel: libuv may call back after the
 * client is freed (a cancelled connect, the close). */
struct ac_sock {
	uv_pipe_t pipe;
	uv_connect_t connect;
	struct ac_chan *chan;       /* NULL once the channel let go of it */
};

struct ac_write {
	uv_write_t req;
	char data[];
};

static void ac_chan_connect(struct ac_chan *ch);
static void ac_chan_fail(struct ac_chan *ch, const char *reason);
static void ac_deliver_temp(struct authd_client_req *req, const char *reason);

/* ------------------------------------------------------------ escaping */

/* The lookup protocol's escapes: \t \n \r \\. */
static void ac_lookup_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\t': buf_append_str(out, "\\t"); break;
		case '\n': buf_append_str(out, "\\n"); break;
		case '\r': buf_append_str(out, "\\r"); break;
		case '\\': buf_append_str(out, "\\\\"); break;
		default: buf_append_char(out, *s);
		}
	}
}

/* The auth protocol's escapes: \001 followed by t, r, n or 1. */
static void ac_auth_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\t': buf_append_str(out, "\001t"); break;
		case '\n': buf_append_str(out, "\001n"); break;
		case '\r': buf_append_str(out, "\001r"); break;
		case '\001': buf_append_str(out, "\0011"); break;
		default: buf_append_char(out, *s);
		}
	}
}

/* Unescape one field in place; -1 on a bad escape. */
static int ac_unescape(char *s, char esc, bool is_auth)
{
	char *w = s;

	for (char *r = s; *r != '\0'; r++) {
		if (*r != esc) {
			*w++ = *r;
			continue;
		}
		switch (*++r) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case '1': if (!is_auth) return -1; *w++ = '\001'; break;
		case '\\': if (is_auth) return -1; *w++ = '\\'; break;
		default: return -1;
		}
	}
	*w = '\0';
	return 0;
}

/* Split a line at tabs and unescape each field; returns the count or -1. */
static int ac_split(char *line, bool is_auth, char **fields, int max)
{
	int n = 0;

	for (char *p = line;;) {
		char *tab = strchr(p, '\t');

		if (n == max)
			return -1;
		if (tab != NULL)
			*tab = '\0';
		if (ac_unescape(p, is_auth ? '\001' : '\\', is_auth) < 0)
			return -1;
		fields[n++] = p;
		if (tab == NULL)
			return n;
		p = tab + 1;
	}
}

/* ------------------------------------------------------------ requests */

static uint64_t ac_now(struct authd_client *c)
{
	return uv_now(c->loop);
}

static void ac_req_link(struct ac_chan *ch, struct authd_client_req *req)
{
	req->chan = ch;
	req->prev = ch->tail;
	if (ch->tail != NULL)
		ch->tail->next = req;
	else
		ch->head = req;
	ch->tail = req;
}

static void ac_req_unlink(struct authd_client_req *req)
{
	struct ac_chan *ch = req->chan;

	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		ch->head = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	else
		ch->tail = req->prev;
	req->prev = req->next = NULL;
}

static void ac_req_free(struct authd_client_req *req)
{
	ac_req_unlink(req);
	free(req->out);
	free(req);
}

static struct authd_client_req *ac_req_find(struct ac_chan *ch, uint32_t id)
{
	for (struct authd_client_req *r = ch->head; r != NULL; r = r->next)
		if (r->id == id && r->out == NULL)
			return r;
	return NULL;
}

static void ac_tick(uv_timer_t *t);

static void ac_timer_arm(struct authd_client *c, uint64_t delay)
{
	uv_timer_start(c->timer, ac_tick, delay, AC_TICK_MS);
	c->timer_running = true;
}

/* Fail every request whose deadline passed, and those marked failed. */
static void ac_tick(uv_timer_t *t)
{
	struct authd_client *c = t->data;
	struct ac_chan *chans[] = { &c->lookup, &c->auth };
	uint64_t now = ac_now(c);
	bool pending = false;

	for (size_t i = 0; i < 2; i++) {
		struct authd_client_req *r = chans[i]->head, *next;

		for (; r != NULL; r = next) {
			next = r->next;
			if (r->failed) {
				ac_deliver_temp(r, r->fail_reason);
				/* the callback may have cancelled others: start over */
				next = chans[i]->head;
			} else if (r->deadline != 0 && now >= r->deadline) {
				log_warn(NULL, "authd client: request timed out socket=%s",
					 chans[i]->path);
				ac_deliver_temp(r, "authd timed out");
				next = chans[i]->head;
			} else {
				pending = true;
			}
		}
	}
	if (!pending && c->timer_running) {
		uv_timer_stop(c->timer);
		c->timer_running = false;
	}
}

static void ac_write_done(uv_write_t *w, int status)
{
	(void)status;   /* a failed write shows up as a read error too */
	free(w);
}

static void ac_chan_write(struct ac_chan *ch, const char *line)
{
	size_t len = strlen(line);
	struct ac_write *w = xmalloc(sizeof(*w) + len + 1);
	uv_buf_t b;
	int r;

	memcpy(w->data, line, len);
	w->data[len] = '\n';
	b = uv_buf_init(w->data, (unsigned)len + 1);
	r = uv_write(&w->req, (uv_stream_t *)&ch->sock->pipe, &b, 1, ac_write_done);
	if (r < 0) {
		free(w);
		ac_chan_fail(ch, uv_strerror(r));
	}
}

/* Send the lines queued while the channel was not ready. */
static void ac_chan_flush(struct ac_chan *ch)
{
	for (struct authd_client_req *r = ch->head; r != NULL && ch->state == AC_READY; r = r->next) {
		if (r->out == NULL)
			continue;
		char *line = r->out;

		r->out = NULL;
		ac_chan_write(ch, line);
		free(line);
	}
}

static void ac_send(struct authd_client_req *req, struct buf *line)
{
	struct ac_chan *ch = req->chan;
	struct authd_client *c = req->client;

	req->out = buf_steal(line);
	req->deadline = ac_now(c) + c->timeout_ms + (req->kind == AC_AUTH ? AC_AUTH_EXTRA_MS : 0);
	if (!c->timer_running)
		ac_timer_arm(c, AC_TICK_MS);
	if (ch->state == AC_READY)
		ac_chan_flush(ch);
	else if (ch->state == AC_CLOSED)
		ac_chan_connect(ch);
}

static struct authd_client_req *ac_req_new(struct authd_client *c, struct ac_chan *ch,
					   enum ac_kind kind, void *cb, void *ctx)
{
	struct authd_client_req *req = xcalloc(1, sizeof(*req));

	req->client = c;
	req->kind = kind;
	req->cb = cb;
	req->ctx = ctx;
	if (++c->next_id == 0)
		c->next_id = 1;
	req->id = c->next_id;
	ac_req_link(ch, req);
	return req;
}

/* ------------------------------------------------------------ answers */

static void ac_deliver_temp(struct authd_client_req *req, const char *reason)
{
	void *cb = req->cb, *ctx = req->ctx;
	enum ac_kind kind = req->kind;

	ac_req_free(req);
	switch (kind) {
	case AC_USER: {
		struct authd_user_answer a = { .status = AUTHD_CLIENT_TEMPFAIL, .reason = reason };
		((authd_user_cb *)cb)(ctx, &a);
		break;
	}
	case AC_RCPT: {
		struct authd_rcpt_answer a = { .status = AUTHD_CLIENT_TEMPFAIL, .reason = reason };
		((authd_rcpt_cb *)cb)(ctx, &a);
		break;
	}
	case AC_DOMAIN: {
		struct authd_domain_answer a = { .status = AUTHD_CLIENT_TEMPFAIL, .reason = reason };
		((authd_domain_cb *)cb)(ctx, &a);
		break;
	}
	case AC_SENDER:
		((authd_status_cb *)cb)(ctx, AUTHD_CLIENT_TEMPFAIL, reason);
		break;
	case AC_AUTH:
		((authd_auth_cb *)cb)(ctx, AUTHD_AUTH_TEMPFAIL, reason);
		break;
	}
}

static int ac_status_parse(const char *s, enum authd_client_status *st_r)
{
	if (strcmp(s, "OK") == 0)
		*st_r = AUTHD_CLIENT_OK;
	else if (strcmp(s, "NOTFOUND") == 0)
		*st_r = AUTHD_CLIENT_NOTFOUND;
	else if (strcmp(s, "FAIL") == 0)
		*st_r = AUTHD_CLIENT_FAIL;
	else if (strcmp(s, "TEMPFAIL") == 0)
		*st_r = AUTHD_CLIENT_TEMPFAIL;
	else
		return -1;
	return 0;
}

/* "key=value" fields: the value of key, or NULL. */
static const char *ac_field(char **f, int n, const char *key)
{
	size_t klen = strlen(key);

	for (int i = 0; i < n; i++)
		if (strncmp(f[i], key, klen) == 0 && f[i][klen] == '=')
			return f[i] + klen + 1;
	return NULL;
}

static uint64_t ac_u64(const char *s)
{
	return s != NULL ? strtoull(s, NULL, 10) : 0;
}

static void ac_answer_user(void *cb, void *ctx, enum authd_client_status st,
			   char **f, int n)
{
	struct authd_user_answer a = { .status = st };

	if (st == AUTHD_CLIENT_OK) {
		a.user = ac_field(f, n, "user");
		a.maildir = ac_field(f, n, "maildir");
		a.quota_bytes = ac_u64(ac_field(f, n, "quota_bytes"));
		a.quota_messages = ac_u64(ac_field(f, n, "quota_messages"));
		a.services = ac_field(f, n, "services");
		a.state = ac_field(f, n, "status");
	} else if (n > 0) {
		a.reason = f[0];
	}
	((authd_user_cb *)cb)(ctx, &a);
}

static void ac_answer_rcpt(void *cb, void *ctx, enum authd_client_status st,
			   char **f, int n)
{
	struct authd_rcpt_answer a = { .status = st };
	struct authd_rcpt_target *t = xcalloc((size_t)n + 1, sizeof(*t));
	size_t nt = 0;

	if (st != AUTHD_CLIENT_OK && n > 0)
		a.reason = f[0];
	for (int i = 0; st == AUTHD_CLIENT_OK && i < n; i++) {
		if (strncmp(f[i], "kind=", 5) == 0)
			a.kind = f[i] + 5;
		else if (strncmp(f[i], "detail=", 7) == 0)
			a.detail = f[i] + 7;
		else if (strncmp(f[i], "local=", 6) == 0)
			t[nt++].local = f[i] + 6;
		else if (strncmp(f[i], "maildir=", 8) == 0 && nt > 0 && t[nt - 1].local != NULL)
			t[nt - 1].maildir = f[i] + 8;
		else if (strncmp(f[i], "remote=", 7) == 0)
			t[nt++].remote = f[i] + 7;
	}
	a.targets = t;
	a.ntargets = nt;
	((authd_rcpt_cb *)cb)(ctx, &a);
	free(t);
}

static void ac_answer_domain(void *cb, void *ctx, enum authd_client_status st,
			     char **f, int n)
{
	struct authd_domain_answer a = { .status = st };

	if (st == AUTHD_CLIENT_OK) {
		const char *status = ac_field(f, n, "status");

		a.type = ac_field(f, n, "type");
		a.active = status != NULL && strcmp(status, "active") == 0;
		a.target = ac_field(f, n, "target");
	} else if (n > 0) {
		a.reason = f[0];
	}
	((authd_domain_cb *)cb)(ctx, &a);
}

static void ac_lookup_line(struct ac_chan *ch, char *line)
{
	char *f[AC_MAX_FIELDS];
	int n = ac_split(line, false, f, AC_MAX_FIELDS);
	enum authd_client_status st;
	struct authd_client_req *req;
	char *end;
	unsigned long id;

	if (n < 2 || ac_status_parse(f[1], &st) < 0) {
		if (n >= 2 && strcmp(f[1], "ERROR") == 0)
			log_warn(NULL, "authd client: authd refused a request: %s",
				 n > 2 ? f[2] : "");
		return;
	}
	id = strtoul(f[0], &end, 10);
	if (*end != '\0' || (req = ac_req_find(ch, (uint32_t)id)) == NULL)
		return;     /* cancelled, or timed out already */
	void *cb = req->cb, *ctx = req->ctx;
	enum ac_kind kind = req->kind;

	ac_req_free(req);
	switch (kind) {
	case AC_USER: ac_answer_user(cb, ctx, st, f + 2, n - 2); break;
	case AC_RCPT: ac_answer_rcpt(cb, ctx, st, f + 2, n - 2); break;
	case AC_DOMAIN: ac_answer_domain(cb, ctx, st, f + 2, n - 2); break;
	case AC_SENDER:
		((authd_status_cb *)cb)(ctx, st, n > 2 && st != AUTHD_CLIENT_OK ? f[2] : NULL);
		break;
	case AC_AUTH:
		break;
	}
}

static void ac_auth_answer(struct ac_chan *ch, const char *verb, char **f, int n)
{
	struct authd_client_req *req;
	char *end;
	unsigned long id;

	if (n < 1)
		return;
	id = strtoul(f[0], &end, 10);
	if (*end != '\0' || (req = ac_req_find(ch, (uint32_t)id)) == NULL)
		return;
	if (strcmp(verb, "CONT") == 0) {
		req->deadline = 0;  /* now the client is the one to answer */
		((authd_auth_cb *)req->cb)(req->ctx, AUTHD_AUTH_CONTINUE, n > 1 ? f[1] : "");
		return;
	}
	void *cb = req->cb, *ctx = req->ctx;
	const char *user = ac_field(f + 1, n - 1, "user");
	const char *reason = ac_field(f + 1, n - 1, "reason");
	const char *code = ac_field(f + 1, n - 1, "code");
	bool temp = false;

	for (int i = 1; i < n; i++)
		temp |= strcmp(f[i], "temp") == 0;
	ac_req_free(req);
	if (strcmp(verb, "OK") == 0)
		((authd_auth_cb *)cb)(ctx, AUTHD_AUTH_OK, user != NULL ? user : "");
	else if (temp)
		((authd_auth_cb *)cb)(ctx, AUTHD_AUTH_TEMPFAIL, reason != NULL ? reason : "temp");
	else
		((authd_auth_cb *)cb)(ctx, AUTHD_AUTH_FAIL, code);
}

static void ac_auth_line(struct ac_chan *ch, char *line)
{
	char *f[AC_MAX_FIELDS];
	int n = ac_split(line, true, f, AC_MAX_FIELDS);

	if (n < 1) {
		ac_chan_fail(ch, "malformed auth line");
		return;
	}
	if (ch->state == AC_HANDSHAKE) {
		if (strcmp(f[0], "VERSION") == 0 && (n < 2 || strcmp(f[1], "1") != 0))
			ac_chan_fail(ch, "unsupported auth protocol version");
		else if (strcmp(f[0], "DONE") == 0) {
			ch->state = AC_READY;
			ac_chan_flush(ch);
		}
		return;
	}
	if (strcmp(f[0], "OK") == 0 || strcmp(f[0], "FAIL") == 0 || strcmp(f[0], "CONT") == 0)
		ac_auth_answer(ch, f[0], f + 1, n - 1);
}

/* ------------------------------------------------------------ channel I/O */

static void ac_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	b->base = xmalloc(AC_READ_SIZE);
	b->len = AC_READ_SIZE;
}

static void ac_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct ac_sock *sock = s->data;
	struct ac_chan *ch = sock->chan;
	struct lr_line line;
	enum lr_result r;

	if (ch == NULL || ch->sock != sock) {
		free(b->base);
		return;
	}
	if (nread < 0) {
		free(b->base);
		ac_chan_fail(ch, nread == UV_EOF ? "authd closed the connection"
			     : uv_strerror((int)nread));
		return;
	}
	linereader_feed(&ch->lr, b->base, (size_t)nread);
	free(b->base);
	while (ch->state == AC_READY || ch->state == AC_HANDSHAKE) {
		r = linereader_next(&ch->lr, &line);
		if (r == LR_NEED_MORE)
			break;
		if (r == LR_TOO_LONG || (line.flags & LR_F_NUL) != 0) {
			ac_chan_fail(ch, "answer too long or with a NUL byte");
			break;
		}
		if (r != LR_LINE)
			continue;
		char *copy = xstrndup(line.data, line.len);

		if (ch->is_auth)
			ac_auth_line(ch, copy);
		else
			ac_lookup_line(ch, copy);
		free(copy);
	}
}

static void ac_pipe_closed(uv_handle_t *h)
{
	struct ac_sock *sock = h->data;
	struct ac_chan *ch = sock->chan;

	free(sock);
	if (ch == NULL)
		return;     /* the client is gone */
	ch->state = AC_CLOSED;
	/* requests made while closing want a new connection */
	for (struct authd_client_req *r = ch->head; r != NULL; r = r->next)
		if (r->out != NULL && !r->failed) {
			ac_chan_connect(ch);
			break;
		}
}

/* The connection is lost: every request sent on it fails temporarily
 * (authd may or may not have seen it); unsent ones wait for a new one. */
static void ac_chan_fail(struct ac_chan *ch, const char *reason)
{
	struct authd_client *c = ch->client;
	bool unreachable = ch->state == AC_CONNECTING;

	if (ch->state == AC_CLOSED || ch->state == AC_CLOSING)
		return;
	log_warn(NULL, "authd client: socket=%s error=\"%s\"", ch->path, reason);
	for (struct authd_client_req *r = ch->head; r != NULL; r = r->next) {
		if (r->out == NULL || unreachable || ch->is_auth) {
			r->failed = true;
			r->fail_reason = "authd unavailable";
		}
	}
	ch->state = AC_CLOSING;
	linereader_discard(&ch->lr);
	uv_close((uv_handle_t *)&ch->sock->pipe, ac_pipe_closed);
	ch->sock = NULL;
	ac_timer_arm(c, 0);
}

static void ac_connected(uv_connect_t *cr, int status)
{
	struct ac_sock *sock = cr->data;
	struct ac_chan *ch = sock->chan;
	char hello[64];

	if (ch == NULL || ch->sock != sock || ch->state != AC_CONNECTING)
		return;
	if (status < 0) {
		ac_chan_fail(ch, uv_strerror(status));
		return;
	}
	uv_read_start((uv_stream_t *)&sock->pipe, ac_alloc, ac_read);
	if (!ch->is_auth) {
		ch->state = AC_READY;
		ac_chan_flush(ch);
		return;
	}
	ch->state = AC_HANDSHAKE;
	snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld", (long)getpid());
	ac_chan_write(ch, hello);
}

static void ac_chan_connect(struct ac_chan *ch)
{
	struct ac_sock *sock = xcalloc(1, sizeof(*sock));

	uv_pipe_init(ch->client->loop, &sock->pipe, 0);
	if (ch->client->weak)
		uv_unref((uv_handle_t *)&sock->pipe);
	sock->pipe.data = sock;
	sock->connect.data = sock;
	sock->chan = ch;
	ch->sock = sock;
	ch->state = AC_CONNECTING;
	linereader_discard(&ch->lr);
	uv_pipe_connect(&sock->connect, &sock->pipe, ch->path, ac_connected);
}

/* ------------------------------------------------------------ public API */

static void ac_chan_init(struct authd_client *c, struct ac_chan *ch, const char *path,
			 bool is_auth)
{
	ch->client = c;
	ch->path = path;
	ch->is_auth = is_auth;
	ch->state = AC_CLOSED;
	linereader_init(&ch->lr, is_auth ? AC_AUTH_LINE_MAX : AC_LOOKUP_LINE_MAX, LR_EOL_LF);
}

struct authd_client *authd_client_new(uv_loop_t *loop, const struct authd_client_settings *set)
{
	struct authd_client *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->lookup_path = xstrdup(set->lookup_socket != NULL ? set->lookup_socket : "");
	c->auth_path = set->auth_socket != NULL ? xstrdup(set->auth_socket) : NULL;
	c->timeout_ms = set->timeout_ms != 0 ? set->timeout_ms : AC_DEFAULT_TIMEOUT_MS;
	ac_chan_init(c, &c->lookup, c->lookup_path, false);
	ac_chan_init(c, &c->auth, c->auth_path != NULL ? c->auth_path : "", true);
	c->timer = xcalloc(1, sizeof(*c->timer));
	uv_timer_init(loop, c->timer);
	c->timer->data = c;
	return c;
}

static void ac_chan_free(struct ac_chan *ch)
{
	while (ch->head != NULL)
		ac_req_free(ch->head);
	if (ch->sock != NULL) {
		/* the close callback (and a pending connect's) must not touch ch */
		ch->sock->chan = NULL;
		uv_close((uv_handle_t *)&ch->sock->pipe, ac_pipe_closed);
	}
	linereader_free(&ch->lr);
}

static void ac_timer_closed(uv_handle_t *h)
{
	free(h);
}

void authd_client_free(struct authd_client *c)
{
	if (c == NULL)
		return;
	ac_chan_free(&c->lookup);
	ac_chan_free(&c->auth);
	uv_close((uv_handle_t *)c->timer, ac_timer_closed);
	free(c->lookup_path);
	free(c->auth_path);
	free(c);
}

void authd_client_weaken(struct authd_client *c)
{
	c->weak = true;
	uv_unref((uv_handle_t *)c->timer);
	if (c->lookup.sock != NULL)
		uv_unref((uv_handle_t *)&c->lookup.sock->pipe);
	if (c->auth.sock != NULL)
		uv_unref((uv_handle_t *)&c->auth.sock->pipe);
}

void authd_client_cancel(struct authd_client_req *req)
{
	if (req == NULL)
		return;
	if (req->kind == AC_AUTH && req->out == NULL && req->chan->state == AC_READY) {
		char line[48];

		/* tell authd so it stops the exchange; its FAIL is ignored */
		snprintf(line, sizeof(line), "CONT\t%" PRIu32 "\t*", req->id);
		ac_chan_write(req->chan, line);
	}
	ac_req_free(req);
}

static struct authd_client_req *ac_lookup(struct authd_client *c, enum ac_kind kind,
					  const char *verb, const char *a1, const char *a2,
					  void *cb, void *ctx)
{
	struct authd_client_req *req = ac_req_new(c, &c->lookup, kind, cb, ctx);
	struct buf line;

	buf_init(&line, BUF_NO_LIMIT);
	buf_printf(&line, "%" PRIu32 "\t%s\t", req->id, verb);
	ac_lookup_escape(&line, a1);
	if (a2 != NULL) {
		buf_append_char(&line, '\t');
		ac_lookup_escape(&line, a2);
	}
	ac_send(req, &line);
	buf_free(&line);
	return req;
}

struct authd_client_req *authd_client_user(struct authd_client *c, const char *addr,
					   authd_user_cb *cb, void *ctx)
{
	return ac_lookup(c, AC_USER, "USER", addr, NULL, (void *)cb, ctx);
}

struct authd_client_req *authd_client_rcpt(struct authd_client *c, const char *addr,
					   authd_rcpt_cb *cb, void *ctx)
{
	return ac_lookup(c, AC_RCPT, "RCPT", addr, NULL, (void *)cb, ctx);
}

struct authd_client_req *authd_client_domain(struct authd_client *c, const char *domain,
					     authd_domain_cb *cb, void *ctx)
{
	return ac_lookup(c, AC_DOMAIN, "DOMAIN", domain, NULL, (void *)cb, ctx);
}

struct authd_client_req *authd_client_sender(struct authd_client *c, const char *login,
					     const char *sender, authd_status_cb *cb, void *ctx)
{
	return ac_lookup(c, AC_SENDER, "SENDER", login, sender, (void *)cb, ctx);
}

static void ac_auth_param(struct buf *line, const char *key, const char *value)
{
	if (value == NULL)
		return;
	buf_printf(line, "\t%s=", key);
	ac_auth_escape(line, value);
}

struct authd_client_req *authd_client_auth(struct authd_client *c,
					   const struct authd_auth_info *info,
					   const char *initial_b64,
					   authd_auth_cb *cb, void *ctx)
{
	struct authd_client_req *req = ac_req_new(c, &c->auth, AC_AUTH, (void *)cb, ctx);
	struct buf line;

	buf_init(&line, BUF_NO_LIMIT);
	buf_printf(&line, "AUTH\t%" PRIu32 "\t", req->id);
	ac_auth_escape(&line, info->mech);
	ac_auth_param(&line, "service", info->service != NULL ? info->service : "smtp");
	if (info->secured)
		buf_append_str(&line, "\tsecured");
	ac_auth_param(&line, "session", info->session_id);
	ac_auth_param(&line, "lip", info->lip);
	ac_auth_param(&line, "rip", info->rip);
	ac_auth_param(&line, "resp", initial_b64);
	if (c->auth_path == NULL) {
		/* no auth socket configured: a temporary failure, not a refusal */
		buf_free(&line);
		req->failed = true;
		req->fail_reason = "no auth socket configured";
		ac_timer_arm(c, 0);
		return req;
	}
	ac_send(req, &line);
	buf_free(&line);
	return req;
}

void authd_client_auth_respond(struct authd_client_req *req, const char *b64)
{
	struct authd_client *c = req->client;
	struct buf line;

	buf_init(&line, BUF_NO_LIMIT);
	buf_printf(&line, "CONT\t%" PRIu32 "\t", req->id);
	ac_auth_escape(&line, b64);
	if (req->chan->state == AC_READY) {
		ac_chan_write(req->chan, buf_cstr(&line));
		req->deadline = ac_now(c) + c->timeout_ms + AC_AUTH_EXTRA_MS;
		if (!c->timer_running)
			ac_timer_arm(c, AC_TICK_MS);
	} else {
		req->failed = true;
		req->fail_reason = "authd connection lost";
		ac_timer_arm(c, 0);
	}
	buf_free(&line);
}

bool authd_user_has_service(const struct authd_user_answer *a, const char *service)
{
	size_t n = strlen(service);

	for (const char *p = a->services; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, ", ");

		if (len == n && strncasecmp(p, service, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}
