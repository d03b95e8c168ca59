/* The SMTP/LMTP session: connection life, the command table, and the
 * commands that need no other module (HELO, EHLO, LHLO, RSET, NOOP, QUIT,
 * VRFY, HELP). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd-client.h"
#include "buf.h"
#include "log.h"
#include "smtp-msg.h"
#include "smtp-session.h"
#include "xalloc.h"

/* RFC 5321 4.5.3.1.4/6: a command line is 512 octets, a text line 1000,
 * both with CRLF; we take 1000 for commands too (long AUTH responses). */
#define SMTP_CMD_LINE_MAX 998
/* What the line reader keeps in one line (DATA lines may be long). */
#define SMTP_READ_LINE_MAX (64 * 1024)

typedef void smtp_cmd_fn(struct smtp_session *s, char *args);

struct smtp_cmd {
	const char *verb;
	unsigned states;    /* SMTP_ST_* where it is allowed */
	unsigned kinds;     /* 1 << smtp_kind where it exists */
	smtp_cmd_fn *fn;
};

#define K_SMTP ((1u << SMTP_KIND_MX) | (1u << SMTP_KIND_SUBMISSION))
#define K_LMTP (1u << SMTP_KIND_LMTP)
#define K_ALL (K_SMTP | K_LMTP)

static void smtp_cmd_helo(struct smtp_session *s, char *args);
static void smtp_cmd_ehlo(struct smtp_session *s, char *args);
static void smtp_cmd_lhlo(struct smtp_session *s, char *args);
static void smtp_cmd_rset(struct smtp_session *s, char *args);
static void smtp_cmd_noop(struct smtp_session *s, char *args);
static void smtp_cmd_quit(struct smtp_session *s, char *args);
static void smtp_cmd_vrfy(struct smtp_session *s, char *args);
static void smtp_cmd_help(struct smtp_session *s, char *args);

static const struct smtp_cmd smtp_cmds[] = {
	{ "HELO", SMTP_ST_ANY, K_SMTP, smtp_cmd_helo },
	{ "EHLO", SMTP_ST_ANY, K_SMTP, smtp_cmd_ehlo },
	{ "LHLO", SMTP_ST_ANY, K_LMTP, smtp_cmd_lhlo },
	{ "STARTTLS", SMTP_ST_READY, K_ALL, smtp_cmd_starttls },
	{ "AUTH", SMTP_ST_READY, K_SMTP, smtp_cmd_auth },
	{ "MAIL", SMTP_ST_READY, K_ALL, smtp_cmd_mail },
	{ "RCPT", SMTP_ST_MAIL | SMTP_ST_RCPT, K_ALL, smtp_cmd_rcpt },
	{ "DATA", SMTP_ST_RCPT, K_ALL, smtp_cmd_data },
	/* out of sequence it must still be read: smtp_cmd_bdat checks */
	{ "BDAT", SMTP_ST_ANY | SMTP_ST_BDAT, K_ALL, smtp_cmd_bdat },
	{ "RSET", SMTP_ST_ANY | SMTP_ST_BDAT, K_ALL, smtp_cmd_rset },
	{ "NOOP", SMTP_ST_ANY | SMTP_ST_BDAT, K_ALL, smtp_cmd_noop },
	{ "QUIT", SMTP_ST_ANY | SMTP_ST_BDAT, K_ALL, smtp_cmd_quit },
	{ "VRFY", SMTP_ST_ANY, K_ALL, smtp_cmd_vrfy },
	{ "HELP", SMTP_ST_ANY | SMTP_ST_BDAT, K_ALL, smtp_cmd_help },
};

const struct cfg *smtp_cfg(const struct smtp_session *s)
{
	return daemon_cfg(daemon_of_conn(s->conn));
}

static void smtp_vreply(struct smtp_session *s, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void smtp_vreply(struct smtp_session *s, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, 4096);
	buf_vprintf(&b, fmt, ap);
	buf_append_str(&b, "\r\n");
	conn_write(s->conn, b.data, b.len);
	buf_free(&b);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
}

void smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= (unsigned)cfg_int(smtp_cfg(s), "max_errors")) {
		log_info(conn_sid(s->conn), "too many errors errors=%u", s->errors);
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
			   s->mta->hostname);
		conn_close(s->conn, "too many errors");
	}
}

void smtp_txn_reset(struct smtp_session *s)
{
	if (s->msg != NULL)
		smtp_msg_abort(s->msg);
	s->msg = NULL;
	free(s->sender);
	s->sender = NULL;
	free(s->mail_ret);
	free(s->mail_envid);
	s->mail_ret = s->mail_envid = NULL;
	memset(&s->mail_params, 0, sizeof(s->mail_params));
	for (size_t i = 0; i < s->nrcpts; i++) {
		free((char *)s->rcpts[i].addr);
		free((char *)s->rcpts[i].orcpt);
	}
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpts = 0;
	s->data_failed = false;
	if (s->state & (SMTP_ST_MAIL | SMTP_ST_RCPT | SMTP_ST_BDAT | SMTP_ST_DATA))
		s->state = SMTP_ST_READY;
}

void smtp_resume(struct smtp_session *s)
{
	s->req = NULL;
	conn_resume(s->conn);
}

/* ---------------------------------------------------------------- commands */

static bool smtp_helo_name_ok(const char *args)
{
	if (*args == '\0' || strlen(args) > 255)
		return false;
	for (const char *p = args; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static bool smtp_helo(struct smtp_session *s, char *args, bool esmtp)
{
	if (!smtp_helo_name_ok(args)) {
		smtp_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return false;
	}
	smtp_txn_reset(s);
	free(s->helo);
	s->helo = xstrdup(args);
	s->esmtp = esmtp;
	s->state = SMTP_ST_READY;
	return true;
}

static void smtp_cmd_helo(struct smtp_session *s, char *args)
{
	if (smtp_helo(s, args, false))
		smtp_reply(s, "250 %s", s->mta->hostname);
}

static void smtp_ehlo_reply(struct smtp_session *s)
{
	const struct cfg *cfg = smtp_cfg(s);
	struct conn *c = s->conn;

	conn_printf(c, "250-%s\r\n", s->mta->hostname);
	conn_write_str(c, "250-PIPELINING\r\n");
	conn_printf(c, "250-SIZE %llu\r\n",
		    (unsigned long long)cfg_size(cfg, "message_size_limit"));
	if (!conn_is_tls(c) && conn_tls_available(c))
		conn_write_str(c, "250-STARTTLS\r\n");
	/* AUTH only where it can succeed: submission, and over TLS */
	if (s->kind == SMTP_KIND_SUBMISSION && conn_is_tls(c) && s->auth_user == NULL)
		conn_write_str(c, "250-AUTH PLAIN LOGIN\r\n");
	conn_write_str(c, "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n"
		       "250-CHUNKING\r\n250 DSN\r\n");
}

static void smtp_cmd_ehlo(struct smtp_session *s, char *args)
{
	if (smtp_helo(s, args, true))
		smtp_ehlo_reply(s);
}

static void smtp_cmd_lhlo(struct smtp_session *s, char *args)
{
	if (smtp_helo(s, args, true))
		smtp_ehlo_reply(s);
}

static void smtp_cmd_rset(struct smtp_session *s, char *args)
{
	if (*args != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	smtp_txn_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_noop(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void smtp_cmd_quit(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, "221 2.0.0 %s Bye", s->mta->hostname);
	conn_close(s->conn, "quit");
}

/* Answering VRFY would hand out the list of mailboxes (RFC 5321 3.5.3). */
static void smtp_cmd_vrfy(struct smtp_session *s, char *args)
{
	if (*args == '\0') {
		smtp_error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void smtp_cmd_help(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, "214 2.0.0 Commands: %s MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP",
		   s->kind == SMTP_KIND_LMTP ? "LHLO STARTTLS"
		   : s->kind == SMTP_KIND_SUBMISSION ? "HELO EHLO STARTTLS AUTH" : "HELO EHLO STARTTLS");
}

/* ---------------------------------------------------------------- dispatch */

static const struct smtp_cmd *smtp_cmd_find(const char *verb, enum smtp_kind kind)
{
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
		if (strcmp(smtp_cmds[i].verb, verb) == 0 && (smtp_cmds[i].kinds & (1u << kind)))
			return &smtp_cmds[i];
	return NULL;
}

static void smtp_dispatch(struct smtp_session *s, const struct lr_line *line)
{
	char verb[SMTP_VERB_MAX + 1];
	const char *args;
	const struct smtp_cmd *cmd;

	if (line->len > SMTP_CMD_LINE_MAX) {
		smtp_error(s, "500 5.5.2 Line too long");
		return;
	}
	if (line->flags & (LR_F_BARE_LF | LR_F_BARE_CR)) {
		smtp_error(s, "500 5.5.2 Bare <CR> or <LF> in command");
		return;
	}
	if (smtp_parse_verb(line->data, line->len, verb, &args) < 0) {
		smtp_error(s, "500 5.5.2 Syntax error, command unrecognized");
		return;
	}
	cmd = smtp_cmd_find(verb, s->kind);
	if (cmd == NULL) {
		smtp_error(s, "500 5.5.1 Command unrecognized");
		return;
	}
	if ((cmd->states & s->state) == 0) {
		smtp_error(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	char *copy = xstrdup(args);

	cmd->fn(s, copy);
	free(copy);
}

static void smtp_on_line(void *session, struct conn *c, const struct lr_line *line)
{
	struct smtp_session *s = session;
	const struct cfg *cfg = smtp_cfg(s);

	if (conn_is_closing(c))
		return;
	if (s->state == SMTP_ST_DATA) {
		smtp_data_line(s, line);
		return;
	}
	if (smtp_auth_wants_line(s)) {
		smtp_auth_line(s, line->data);
		return;
	}
	smtp_dispatch(s, line);
	if (!conn_is_closing(c) && s->state != SMTP_ST_DATA)
		conn_set_timeout(c, CONN_TIMEOUT_IDLE, cfg_time(cfg, "smtpd_timeout_command"));
}

static void smtp_on_data(void *session, struct conn *c, const struct lr_line *chunk)
{
	(void)c;
	smtp_bdat_chunk(session, chunk);
}

static void smtp_on_too_long(void *session, struct conn *c)
{
	struct smtp_session *s = session;

	(void)c;
	if (s->state == SMTP_ST_DATA)
		smtp_data_too_long(s);
	else
		smtp_error(s, "500 5.5.2 Line too long");
}

/* Count this client address's connections in the current minute. */
static bool smtp_rate_ok(struct smtp_session *s)
{
	long long limit = cfg_int(smtp_cfg(s), "rate_limit_per_minute");
	const struct netaddr *a = conn_remote(s->conn);
	uint64_t minute = uv_now(s->mta->loop) / 60000, h = 1469598103934665603ull;
	struct mta_rate_slot *slot;

	if (limit == 0 || a->family == AF_UNSPEC)
		return true;
	for (size_t i = 0; i < sizeof(a->addr); i++)
		h = (h ^ ((const unsigned char *)&a->addr)[i]) * 1099511628211ull;
	slot = &s->mta->rate[h % MTA_RATE_SLOTS];
	if (slot->key != h || slot->window != minute) {
		slot->key = h;
		slot->window = minute;
		slot->count = 0;
	}
	return ++slot->count <= (unsigned long long)limit;
}

static void *smtp_connect(struct conn *c, enum smtp_kind kind)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	const struct cfg *cfg;

	s->conn = c;
	s->mta = daemon_context(daemon_of_conn(c));
	s->kind = kind;
	s->state = SMTP_ST_GREETED;
	s->tls_seen = conn_is_tls(c);
	cfg = smtp_cfg(s);
	if (!smtp_rate_ok(s)) {
		log_info(conn_sid(c), "rate limit reached");
		smtp_reply(s, "421 4.7.0 %s Too many connections from your address, try later",
			   s->mta->hostname);
		conn_close(c, "rate limit");
		return s;
	}
	conn_set_timeout(c, CONN_TIMEOUT_IDLE, cfg_time(cfg, "smtpd_timeout_command"));
	smtp_reply(s, "220 %s %s Mailroom", s->mta->hostname,
		   kind == SMTP_KIND_LMTP ? "LMTP" : "ESMTP");
	return s;
}

static void *smtp_connect_mx(struct conn *c)
{
	return smtp_connect(c, SMTP_KIND_MX);
}

static void *smtp_connect_submission(struct conn *c)
{
	return smtp_connect(c, SMTP_KIND_SUBMISSION);
}

static void *smtp_connect_lmtp(struct conn *c)
{
	return smtp_connect(c, SMTP_KIND_LMTP);
}

static void smtp_on_tls(void *session, struct conn *c)
{
	struct smtp_session *s = session;

	(void)c;
	/* RFC 3207 4.2: forget everything learnt before TLS */
	s->tls_seen = true;
	free(s->helo);
	s->helo = NULL;
	smtp_txn_reset(s);
	s->state = SMTP_ST_GREETED;
}

static void smtp_on_timeout(struct conn *c, enum conn_timeout which)
{
	(void)which;
	conn_write_str(c, "421 4.4.2 Timeout, closing connection\r\n");
}

static void smtp_on_busy(struct conn *c)
{
	conn_write_str(c, "421 4.7.0 Too many connections, try later\r\n");
}

void smtp_session_free(struct smtp_session *s)
{
	smtp_txn_reset(s);
	free(s->helo);
	free(s->auth_user);
	free(s->pending_addr);
	free(s->pending_orcpt);
	free(s->auth_mech);
	for (size_t i = 0; i < s->nfrom; i++)
		free(s->from_addrs[i]);
	free(s->from_addrs);
	free(s);
}

static void smtp_on_close(void *session, struct conn *c)
{
	struct smtp_session *s = session;

	(void)c;
	if (s == NULL)
		return;
	if (s->req != NULL)
		authd_client_cancel(s->req);
	s->req = NULL;
	smtp_auth_cancel(s);
	if (s->committing || s->quota_checking) {
		s->gone = true;   /* the pending callback frees it */
		return;
	}
	smtp_session_free(s);
}

#define SMTP_SERVICE(NAME, CONNECT) { \
	.name = NAME, .max_line = SMTP_READ_LINE_MAX, .eol = LR_EOL_CRLF, \
	.on_connect = CONNECT, .on_line = smtp_on_line, .on_data = smtp_on_data, \
	.on_too_long = smtp_on_too_long, .on_tls = smtp_on_tls, \
	.on_timeout = smtp_on_timeout, .on_busy = smtp_on_busy, .on_close = smtp_on_close }

const struct conn_service smtp_service_mx = SMTP_SERVICE("smtp", smtp_connect_mx);
const struct conn_service smtp_service_submission =
	SMTP_SERVICE("submission", smtp_connect_submission);
const struct conn_service smtp_service_submissions =
	SMTP_SERVICE("submissions", smtp_connect_submission);
const struct conn_service smtp_service_lmtp = SMTP_SERVICE("lmtp", smtp_connect_lmtp);
