/* The Dovecot-compatible auth client protocol: a frontend (Postfix with
 * smtpd_sasl_type = dovecot, Exim, Mailroom's own mta and mbs) relays
 * base64 SASL data; the exchange runs here through Cyrus SASL. Requests
 * are pipelined: each id lives on its own until OK or FAIL. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd.h"
#include "base64.h"
#include "buf.h"
#include "core.h"
#include "daemon.h"
#include "log.h"
#include "proto-auth.h"
#include "sasl.h"
#include "services.h"
#include "xalloc.h"

/* Open exchanges one connection may hold; Postfix keeps one per SMTP
 * session, so this is far above honest use. */
#define AUTHPROTO_MAX_REQUESTS 256
/* Decoded SASL data per step: more than any PLAIN or LOGIN response. */
#define AUTHPROTO_MAX_DATA 8192

enum authproto_state {
	AUTHPROTO_WAIT_CLIENT, /* a CONT went out; the client's CONT is due */
	AUTHPROTO_WORKING,     /* a SASL step runs on a worker */
	AUTHPROTO_DELAYED,     /* a FAIL waits out the penalty */
};

struct authproto_session;

struct authproto_request {
	struct authproto_session *session;
	struct authproto_request *next;
	uint32_t id;
	enum authproto_state state;
	struct authd_sasl *sasl;
	bool have_rip;
	bool no_penalty;
	struct netaddr rip;
	struct buf in;          /* decoded client data for the next step */
	bool in_present;        /* false: AUTH without resp= */
	/* Worker results. */
	enum authd_sasl_result result;
	struct buf out;         /* challenge, decoded */
	uv_timer_t timer;
	bool timer_used;
};

struct authproto_session {
	struct conn *conn;      /* NULL once the connection is gone */
	struct authd *authd;
	uv_loop_t *loop;
	char sid[LOG_SID_LEN];
	bool version_seen;
	bool in_close;          /* on_close is walking the requests */
	struct authproto_request *requests;
	size_t nrequests;
	/* Plaintext mechanisms without "secured": read at connect. */
	bool allow_plaintext;
	struct netmask_list plaintext_networks;
};

static unsigned authproto_cuid;

const struct cfg_def authproto_defs[] = {
	{ "auth_allow_plaintext", CFG_BOOL, "no", "auth protocol: accept PLAIN and LOGIN on requests not marked secured (TLS)", 0, 0, NULL, NULL },
	{ "auth_plaintext_networks", CFG_STR, NULL, "auth protocol: client networks (rip) whose plaintext logins count as secured, e.g. a webmail on 127.0.0.1 (comma or space separated)", 0, 0, NULL, authd_validate_networks },
};
const size_t authproto_defs_count = sizeof(authproto_defs) / sizeof(authproto_defs[0]);

static void authproto_session_maybe_free(struct authproto_session *s)
{
	if (s->conn == NULL && s->nrequests == 0 && !s->in_close) {
		netmask_list_free(&s->plaintext_networks);
		free(s);
	}
}

/* Client data may hold a password: wipe it once used. */
static void authproto_wipe(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_reset(b);
}

static void authproto_request_free_cb(uv_handle_t *h)
{
	struct authproto_request *r = h->data;

	buf_free(&r->in);
	buf_free(&r->out);
	free(r);
}

static void authproto_request_free(struct authproto_request *r)
{
	struct authproto_session *s = r->session;

	for (struct authproto_request **p = &s->requests; *p != NULL; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	s->nrequests--;
	authd_sasl_free(r->sasl);
	authproto_wipe(&r->in);
	if (r->timer_used) {
		uv_close((uv_handle_t *)&r->timer, authproto_request_free_cb);
	} else {
		buf_free(&r->in);
		buf_free(&r->out);
		free(r);
	}
	authproto_session_maybe_free(s);
}

static struct authproto_request *authproto_request_find(struct authproto_session *s, uint32_t id)
{
	for (struct authproto_request *r = s->requests; r != NULL; r = r->next) {
		if (r->id == id)
			return r;
	}
	return NULL;
}

/* A broken client: Dovecot's auth server disconnects it too, since the
 * two sides no longer agree on what is going on. The close may free the
 * session at once: callers return right after. */
static void authproto_protocol_error(struct authproto_session *s, const char *reason)
{
	struct buf b;

	buf_init(&b, 512);
	log_escape(&b, reason);
	log_error(s->sid, "auth protocol error: reason=%s", buf_cstr(&b));
	buf_free(&b);
	if (s->conn != NULL)
		conn_close(s->conn, "protocol error");
}

/* FAIL with an optional reason (a fixed text of ours, so no escaping). */
static void authproto_fail(struct authproto_session *s, uint32_t id, bool temp, const char *reason)
{
	if (s->conn == NULL)
		return;
	conn_printf(s->conn, "FAIL\t%u%s%s%s\n", id, temp ? "\ttemp" : "",
		    reason != NULL ? "\treason=" : "", reason != NULL ? reason : "");
}

static void authproto_handshake(struct authproto_session *s)
{
	const char *p = authd_sasl_mechs();
	unsigned char cookie[16];
	struct buf b;

	buf_init(&b, 4096);
	buf_append_str(&b, "VERSION\t1\t2\n");
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		/* PLAIN and LOGIN, all Cyrus may offer here, carry the password. */
		buf_printf(&b, "MECH\t%.*s\tplaintext\n", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	buf_printf(&b, "SPID\t%ld\nCUID\t%u\nCOOKIE\t", (long)getpid(), ++authproto_cuid);
	if (RAND_bytes(cookie, sizeof(cookie)) != 1)
		memset(cookie, 0, sizeof(cookie));
	for (size_t i = 0; i < sizeof(cookie); i++)
		buf_printf(&b, "%02x", cookie[i]);
	buf_append_str(&b, "\nDONE\n");
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

static void *authproto_connect(struct conn *c)
{
	struct authproto_session *s = xcalloc(1, sizeof(*s));
	struct daemon *d = daemon_of_conn(c);
	const char *error;

	s->conn = c;
	s->authd = authd_of_conn(c);
	s->loop = daemon_loop(d);
	snprintf(s->sid, sizeof(s->sid), "%s", conn_sid(c));
	s->allow_plaintext = cfg_bool(daemon_cfg(d), "auth_allow_plaintext");
	if (netmask_list_parse(&s->plaintext_networks,
			       cfg_str(daemon_cfg(d), "auth_plaintext_networks"), &error) < 0)
		s->plaintext_networks.count = 0; /* validated with the configuration */
	/* Frontends hold this connection for as long as they run. */
	conn_set_timeout(c, CONN_TIMEOUT_IDLE, 0);
	conn_set_timeout(c, CONN_TIMEOUT_SESSION, 0);
	if (authd_sasl_init(&error) < 0) {
		log_error(s->sid, "sasl: init failed: %s", error);
		conn_close(c, "SASL unavailable");
		return s;
	}
	authproto_handshake(s);
	return s;
}

static void authproto_work(void *ctx)
{
	struct authproto_request *r = ctx;
	const char *out;
	size_t outlen;

	r->result = authd_sasl_step(r->sasl, r->in_present ? buf_cstr(&r->in) : NULL, r->in.len,
				    &out, &outlen);
	buf_reset(&r->out);
	if (r->result == AUTHD_SASL_CONTINUE && buf_append(&r->out, out, outlen) < 0)
		r->result = AUTHD_SASL_FAIL;
	authproto_wipe(&r->in);
}

/* A failed login's FAIL: with code=user_disabled when the password was
 * right but the account, domain or service is off (Dovecot's code; the
 * frontends answer [AUTHORIZATIONFAILED]). Only who knows the password
 * learns it. */
static void authproto_fail_login(struct authproto_request *r)
{
	struct authproto_session *s = r->session;

	if (s->conn == NULL)
		return;
	if (authd_sasl_disabled(r->sasl))
		conn_printf(s->conn, "FAIL\t%u\tcode=user_disabled\n", r->id);
	else
		authproto_fail(s, r->id, false, NULL);
}

static void authproto_fail_delayed(uv_timer_t *t)
{
	struct authproto_request *r = t->data;

	authproto_fail_login(r);
	authproto_request_free(r);
}

/* A failed login: the answer waits out the client address's penalty,
 * while the connection goes on serving other ids. */
static void authproto_finish_fail(struct authproto_request *r)
{
	struct authproto_session *s = r->session;
	unsigned delay = 0;
	const char *why = authd_sasl_error(r->sasl);

	if (why != NULL) {
		struct buf b;
		char ip[NETADDR_STRLEN];

		buf_init(&b, 512);
		log_escape(&b, why);
		log_info(s->sid, "auth failed: id=%u rip=%s reason=%s", r->id,
			 r->have_rip ? netaddr_str(&r->rip, ip) : "-", buf_cstr(&b));
		buf_free(&b);
	}
	if (!r->no_penalty)
		delay = authd_penalty_delay_for(s->authd, r->have_rip ? &r->rip : NULL);
	if (delay == 0) {
		authproto_fail_login(r);
		authproto_request_free(r);
		return;
	}
	r->state = AUTHPROTO_DELAYED;
	uv_timer_init(s->loop, &r->timer);
	r->timer.data = r;
	r->timer_used = true;
	uv_timer_start(&r->timer, authproto_fail_delayed, delay, 0);
}

static void authproto_done(void *ctx)
{
	struct authproto_request *r = ctx;
	struct authproto_session *s = r->session;
	struct buf b;

	if (s->conn == NULL) {
		authproto_request_free(r);
		return;
	}
	switch (r->result) {
	case AUTHD_SASL_CONTINUE:
		buf_init(&b, AUTHPROTO_MAX_LINE);
		buf_printf(&b, "CONT\t%u\t", r->id);
		base64_encode(&b, r->out.data != NULL ? r->out.data : "", r->out.len);
		buf_append_char(&b, '\n');
		conn_write(s->conn, b.data, b.len);
		buf_free(&b);
		r->state = AUTHPROTO_WAIT_CLIENT;
		return;
	case AUTHD_SASL_OK:
		buf_init(&b, AUTHPROTO_MAX_LINE);
		buf_printf(&b, "OK\t%u\tuser=", r->id);
		authproto_escape(&b, authd_sasl_user(r->sasl));
		buf_append_char(&b, '\n');
		conn_write(s->conn, b.data, b.len);
		buf_free(&b);
		break;
	case AUTHD_SASL_TEMPFAIL:
		authproto_fail(s, r->id, true, NULL);
		break;
	case AUTHD_SASL_FAIL:
		authproto_finish_fail(r);
		return;
	}
	authproto_request_free(r);
}

static void authproto_step(struct authproto_request *r)
{
	r->state = AUTHPROTO_WORKING;
	authd_submit(r->session->authd, authproto_work, authproto_done, r);
}

static struct authproto_request *authproto_request_new(struct authproto_session *s,
						       const struct authproto_auth *a)
{
	struct authproto_request *r = xcalloc(1, sizeof(*r));

	r->session = s;
	r->id = a->id;
	r->have_rip = a->have_rip;
	r->rip = a->rip;
	r->no_penalty = a->no_penalty;
	buf_init(&r->in, AUTHPROTO_MAX_DATA);
	buf_init(&r->out, AUTHPROTO_MAX_DATA);
	r->next = s->requests;
	s->requests = r;
	s->nrequests++;
	return r;
}

/* Checks that answer FAIL without starting an exchange; NULL: go on. */
static const char *authproto_auth_refusal(struct authproto_session *s,
					  const struct authproto_auth *a, bool *temp_r)
{
	*temp_r = false;
	if (s->nrequests >= AUTHPROTO_MAX_REQUESTS) {
		*temp_r = true;
		return "Too many requests in progress";
	}
	if (!authd_sasl_mech_known(a->mech))
		return "Unsupported authentication mechanism";
	/* Every mechanism offered sends the password as is: the frontend
	 * marks TLS (or a local channel it trusts) with "secured". */
	if (!a->secured && !s->allow_plaintext &&
	    !(a->have_rip && netmask_list_match(&s->plaintext_networks, &a->rip)))
		return "Plaintext authentication disallowed on non-secure (SSL/TLS) connections";
	return NULL;
}

static void authproto_cmd_auth(struct authproto_session *s, const struct authproto_line *l)
{
	struct authproto_auth a;
	struct authproto_request *r;
	struct authd_login login;
	const char *error;
	bool temp;

	if (authproto_parse_auth(l, &a, &error) < 0) {
		authproto_protocol_error(s, error);
		return;
	}
	if (authproto_request_find(s, a.id) != NULL) {
		authproto_protocol_error(s, "duplicate request id");
		return;
	}
	if ((error = authproto_auth_refusal(s, &a, &temp)) != NULL) {
		authproto_fail(s, a.id, temp, error);
		return;
	}
	r = authproto_request_new(s, &a);
	if (a.resp != NULL && base64_decode(&r->in, a.resp, strlen(a.resp)) < 0) {
		authproto_fail(s, a.id, false, "Invalid base64 data in initial response");
		authproto_request_free(r);
		return;
	}
	r->in_present = a.resp != NULL;
	login = (struct authd_login){ .service = a.service, .rip = a.have_rip ? &a.rip : NULL,
				      .secured = a.secured, .sid = s->sid };
	r->sasl = authd_sasl_new(s->authd, &login, a.mech, &error);
	if (r->sasl == NULL) {
		log_error(s->sid, "sasl: cannot start mech=%s: %s", a.mech, error);
		authproto_fail(s, a.id, true, NULL);
		authproto_request_free(r);
		return;
	}
	authproto_step(r);
}

static void authproto_cmd_cont(struct authproto_session *s, const struct authproto_line *l)
{
	struct authproto_request *r;
	const char *data = l->nargs >= 2 ? l->args[1] : "";
	uint32_t id;

	if (l->nargs < 1 || authproto_parse_id(l->args[0], &id) < 0) {
		authproto_protocol_error(s, "CONT without a valid id");
		return;
	}
	if ((r = authproto_request_find(s, id)) == NULL) {
		authproto_fail(s, id, false, "Authentication request not found");
		return;
	}
	if (r->state != AUTHPROTO_WAIT_CLIENT) {
		authproto_protocol_error(s, "CONT while the request is being processed");
		return;
	}
	if (strcmp(data, "*") == 0) {
		authproto_fail(s, id, false, "Authentication aborted by client");
		authproto_request_free(r);
		return;
	}
	buf_reset(&r->in);
	if (base64_decode(&r->in, data, strlen(data)) < 0) {
		authproto_fail(s, id, false, "Invalid base64 data in continued response");
		authproto_request_free(r);
		return;
	}
	r->in_present = true;
	authproto_step(r);
}

static void authproto_line(void *session, struct conn *c, const struct lr_line *line)
{
	struct authproto_session *s = session;
	struct authproto_line l;
	const char *error;
	char *copy;

	(void)c;
	copy = xmalloc(line->len + 1);
	memcpy(copy, line->data, line->len);
	if (authproto_split(copy, line->len, &l, &error) < 0) {
		authproto_protocol_error(s, error);
	} else if (strcmp(l.cmd, "VERSION") == 0) {
		/* Only the major version must match. */
		if (l.nargs < 2 || strcmp(l.args[0], "1") != 0)
			authproto_protocol_error(s, "unsupported protocol version");
		else
			s->version_seen = true;
	} else if (!s->version_seen) {
		authproto_protocol_error(s, "command before VERSION");
	} else if (strcmp(l.cmd, "CPID") == 0) {
		/* Dovecot's master uses it; nothing to do here. */
	} else if (strcmp(l.cmd, "AUTH") == 0) {
		authproto_cmd_auth(s, &l);
	} else if (strcmp(l.cmd, "CONT") == 0) {
		authproto_cmd_cont(s, &l);
	} else {
		authproto_protocol_error(s, "unknown command");
	}
	explicit_bzero(copy, line->len);
	free(copy);
}

static void authproto_too_long(void *session, struct conn *c)
{
	(void)c;
	authproto_protocol_error(session, "line too long");
}

static void authproto_close(void *session, struct conn *c)
{
	struct authproto_session *s = session;
	struct authproto_request *r, *next;

	(void)c;
	s->conn = NULL;
	s->in_close = true;
	/* Requests on a worker are freed when their step returns. */
	for (r = s->requests; r != NULL; r = next) {
		next = r->next;
		if (r->state == AUTHPROTO_DELAYED)
			uv_timer_stop(&r->timer);
		if (r->state != AUTHPROTO_WORKING)
			authproto_request_free(r);
	}
	s->in_close = false;
	authproto_session_maybe_free(s);
}

const struct conn_service authd_auth_service = {
	.name = "auth",
	.max_line = AUTHPROTO_MAX_LINE,
	.eol = LR_EOL_LF,
	.on_connect = authproto_connect,
	.on_line = authproto_line,
	.on_too_long = authproto_too_long,
	.on_close = authproto_close,
};
