/* The saslauthd protocol, what Cyrus SASL's `pwcheck_method: saslauthd`
 * (and testsaslauthd) speaks over a UNIX socket: four counted strings
 * (login, password, service, realm; a 2-byte big-endian length, then the
 * bytes), answered by one counted string "OK ..." or "NO ...", then the
 * connection closes. The counted strings arrive as literals through the
 * connection's line reader. */
#include <stdlib.h>
#include <string.h>

#include "authd.h"
#include "buf.h"
#include "conn.h"
#include "daemon.h"
#include "log.h"
#include "proto-saslauthd.h"
#include "xalloc.h"

/* saslauthd itself takes at most 1024 bytes per field. */
#define SASLAUTHD_MAX_FIELD 1024
#define SASLAUTHD_FIELDS 4

enum { SASLAUTHD_LOGIN, SASLAUTHD_PASSWORD, SASLAUTHD_SERVICE, SASLAUTHD_REALM };

struct saslauthd_session {
	struct conn *conn;      /* NULL once the connection is gone */
	struct authd *authd;
	char sid[LOG_SID_LEN];
	unsigned field;         /* the field being read */
	bool want_length;       /* reading its 2-byte length, else its bytes */
	bool working;           /* the check runs on a worker */
	struct buf part;        /* bytes of the length or field being read */
	char *fields[SASLAUTHD_FIELDS];
	enum authd_verdict verdict;
	uv_timer_t timer;
	bool timer_used;
};

static void saslauthd_session_free_cb(uv_handle_t *h)
{
	free(h->data);
}

static void saslauthd_session_free(struct saslauthd_session *s)
{
	for (unsigned i = 0; i < SASLAUTHD_FIELDS; i++) {
		if (s->fields[i] != NULL)
			explicit_bzero(s->fields[i], strlen(s->fields[i]));
		free(s->fields[i]);
	}
	if (s->part.data != NULL)
		explicit_bzero(s->part.data, s->part.cap);
	buf_free(&s->part);
	if (s->timer_used)
		uv_close((uv_handle_t *)&s->timer, saslauthd_session_free_cb);
	else
		free(s);
}

/* The reply, then the close: one request per connection, as saslauthd.
 * The close may free the session at once: callers return right after. */
static void saslauthd_reply(struct saslauthd_session *s, const char *text)
{
	size_t len = strlen(text);
	unsigned char count[2] = { (unsigned char)(len >> 8), (unsigned char)len };

	if (s->conn == NULL)
		return;
	conn_write(s->conn, count, 2);
	conn_write(s->conn, text, len);
	conn_close(s->conn, "done");
}

static void *saslauthd_connect(struct conn *c)
{
	struct saslauthd_session *s = xcalloc(1, sizeof(*s));

	s->conn = c;
	s->authd = authd_of_conn(c);
	snprintf(s->sid, sizeof(s->sid), "%s", conn_sid(c));
	buf_init(&s->part, SASLAUTHD_MAX_FIELD);
	s->want_length = true;
	conn_expect_literal(c, 2);
	return s;
}

static void saslauthd_work(void *ctx)
{
	struct saslauthd_session *s = ctx;
	const char *realm = s->fields[SASLAUTHD_REALM];
	char *user = s->fields[SASLAUTHD_LOGIN];
	struct authd_login login = { .service = s->fields[SASLAUTHD_SERVICE], .rip = NULL,
				     .secured = true, .sid = s->sid };
	struct authd_user u;

	/* A realm stands for the domain when the login has none, as with
	 * saslauthd -r. */
	if (*realm != '\0' && strchr(user, '@') == NULL)
		user = xasprintf("%s@%s", user, realm);
	memset(&u, 0, sizeof(u));
	s->verdict = authd_login_verify(s->authd, &login, user, s->fields[SASLAUTHD_PASSWORD], &u);
	if (s->verdict == AUTHD_LOGIN_OK)
		authd_user_free(&u);
	if (user != s->fields[SASLAUTHD_LOGIN])
		free(user);
}

static void saslauthd_fail_delayed(uv_timer_t *t)
{
	saslauthd_reply(t->data, "NO authentication failed");
}

static void saslauthd_done(void *ctx)
{
	struct saslauthd_session *s = ctx;
	unsigned delay;

	s->working = false;
	if (s->conn == NULL) {
		saslauthd_session_free(s);
		return;
	}
	switch (s->verdict) {
	case AUTHD_LOGIN_OK:
		saslauthd_reply(s, "OK");
		break;
	case AUTHD_LOGIN_TEMPFAIL:
		/* The protocol has no "try later"; the text says it. */
		saslauthd_reply(s, "NO temporary failure");
		break;
	case AUTHD_LOGIN_FAIL:
	case AUTHD_LOGIN_DISABLED:
		/* No client address travels in this protocol: the core decides
		 * what a NULL address costs. */
		delay = authd_penalty_delay_for(s->authd, NULL);
		if (delay > 0) {
			uv_timer_init(daemon_loop(daemon_of_conn(s->conn)), &s->timer);
			s->timer.data = s;
			s->timer_used = true;
			uv_timer_start(&s->timer, saslauthd_fail_delayed, delay, 0);
			return;
		}
		saslauthd_reply(s, "NO authentication failed");
		break;
	}
}

/* A counted string is complete: its length, or its bytes. */
static void saslauthd_part_done(struct saslauthd_session *s, struct conn *c)
{
	if (s->want_length) {
		const unsigned char *p = (const unsigned char *)s->part.data;
		size_t len = (size_t)p[0] << 8 | p[1];

		buf_reset(&s->part);
		if (len > SASLAUTHD_MAX_FIELD) {
			log_error(s->sid, "saslauthd protocol error: reason=\"field too long\" field=%u",
				  s->field);
			saslauthd_reply(s, "NO request too long");
			return;
		}
		s->want_length = false;
		if (len > 0) {
			conn_expect_literal(c, len);
			return;
		}
	}
	s->fields[s->field++] = xstrndup(buf_cstr(&s->part), s->part.len);
	if (s->part.data != NULL)
		explicit_bzero(s->part.data, s->part.cap);
	buf_reset(&s->part);
	s->want_length = true;
	if (s->field < SASLAUTHD_FIELDS) {
		conn_expect_literal(c, 2);
		return;
	}
	s->working = true;
	authd_submit(s->authd, saslauthd_work, saslauthd_done, s);
}

static void saslauthd_data(void *session, struct conn *c, const struct lr_line *chunk)
{
	struct saslauthd_session *s = session;

	if (s->working || s->field >= SASLAUTHD_FIELDS)
		return;
	/* A NUL inside a field would cut it short where the backend looks. */
	if (!s->want_length && memchr(chunk->data, '\0', chunk->len) != NULL) {
		log_error(s->sid, "saslauthd protocol error: reason=\"NUL in field\" field=%u",
			  s->field);
		saslauthd_reply(s, "NO bad request");
		return;
	}
	if (buf_append(&s->part, chunk->data, chunk->len) < 0) {
		saslauthd_reply(s, "NO request too long");
		return;
	}
	if (chunk->last)
		saslauthd_part_done(s, c);
}

static void saslauthd_close(void *session, struct conn *c)
{
	struct saslauthd_session *s = session;

	(void)c;
	s->conn = NULL;
	if (s->timer_used)
		uv_timer_stop(&s->timer);
	/* A check on a worker frees the session when it returns. */
	if (!s->working)
		saslauthd_session_free(s);
}

const struct conn_service authd_saslauthd_service = {
	.name = "saslauthd",
	.eol = LR_EOL_LF,
	.on_connect = saslauthd_connect,
	.on_data = saslauthd_data,
	.on_close = saslauthd_close,
};
