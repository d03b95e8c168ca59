/* DATA and BDAT: the message streams into the queue (smtp-msg.c); only
 * <CRLF>.<CRLF> ends DATA, and the 250 is sent from the queue's commit
 * callback, once the message is durable. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "authd-client.h"
#include "buf.h"
#include "log.h"
#include "smtp-msg.h"
#include "smtp-session.h"
#include "tls.h"
#include "xalloc.h"

#define SMTP_FROM_CHECK_MAX 8

static const char *smtp_protocol(const struct smtp_session *s)
{
	static const char *const names[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "LMTP", "LMTPA" }, { "LMTPS", "LMTPSA" } },
	};

	if (!s->esmtp)
		return "SMTP";
	return names[s->kind == SMTP_KIND_LMTP][conn_is_tls(s->conn)][s->auth_user != NULL];
}

/* RFC 5321 4.4; how much it tells is received_header_details. */
static char *smtp_received(struct smtp_session *s, const char *qid)
{
	const struct cfg *cfg = smtp_cfg(s);
	unsigned details = cfg_enum(cfg, "received_header_details");  /* full|no-auth-user|minimal */
	char ip[NETADDR_STRLEN] = "unix", date[64];
	time_t now = time(NULL);
	struct tm tm;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (conn_remote(s->conn)->family != AF_UNSPEC)
		netaddr_str(conn_remote(s->conn), ip);
	buf_append_str(&b, "Received: ");
	if (details < 2)
		buf_printf(&b, "from %s ([%s])\r\n\t", s->helo != NULL ? s->helo : "unknown", ip);
	buf_printf(&b, "by %s (Mailroom) with %s id %s", s->mta->hostname, smtp_protocol(s), qid);
	if (details < 2 && conn_is_tls(s->conn)) {
		SSL *ssl = conn_ssl(s->conn);

		buf_printf(&b, "\r\n\t(using %s with cipher %s)", tls_ssl_version(ssl),
			   tls_ssl_cipher(ssl));
	}
	if (details == 0 && s->auth_user != NULL)
		buf_printf(&b, "\r\n\t(authenticated as %s)", s->auth_user);
	if (s->nrcpts == 1)
		buf_printf(&b, "\r\n\tfor <%s>", s->rcpts[0].addr);
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(&b, "; %s", date);
	return buf_steal(&b);
}

/* Open the queue message; false (and the reply given) when the queue
 * cannot take one. */
static bool smtp_data_begin(struct smtp_session *s)
{
	const struct cfg *cfg = smtp_cfg(s);
	char ip[NETADDR_STRLEN] = "unix";
	struct queue_envelope env = {
		.sender = s->sender, .rcpts = s->rcpts, .nrcpts = s->nrcpts,
		.ret = s->mail_ret, .envid = s->mail_envid,
		.smtputf8 = s->mail_params.smtputf8,
		.body_8bit = s->mail_params.body == SMTP_BODY_8BITMIME,
		.helo = s->helo, .client_addr = ip, .auth_user = s->auth_user,
		.protocol = smtp_protocol(s), .session_id = conn_sid(s->conn),
	};
	struct queue_msg *qm;
	const char *error;
	char *received;

	if (conn_remote(s->conn)->family != AF_UNSPEC)
		netaddr_str(conn_remote(s->conn), ip);
	qm = queue_msg_begin(s->mta->queue, &env, &error);
	if (qm == NULL) {
		log_warn(conn_sid(s->conn), "queue refused the message error=\"%s\"", error);
		return false;
	}
	received = smtp_received(s, queue_msg_id(qm));
	s->msg = smtp_msg_new(qm, cfg_size(cfg, "message_size_limit"), received,
			      s->kind == SMTP_KIND_SUBMISSION, s->mta->hostname);
	free(received);
	if (s->kind == SMTP_KIND_SUBMISSION && cfg_list_count(cfg, "masquerade_domains") > 0) {
		size_t n = cfg_list_count(cfg, "masquerade_domains");
		const char **d = xcalloc(n, sizeof(*d));

		for (size_t i = 0; i < n; i++)
			d[i] = cfg_list_get(cfg, "masquerade_domains", i);
		smtp_msg_masquerade(s->msg, d, n);
		free(d);
	}
	return true;
}

void smtp_cmd_data(struct smtp_session *s, char *args)
{
	if (*args != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (!smtp_data_begin(s)) {
		smtp_error(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->state = SMTP_ST_DATA;
	conn_set_timeout(s->conn, CONN_TIMEOUT_IDLE, cfg_time(smtp_cfg(s), "smtpd_timeout_data"));
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* ---------------------------------------------------------------- the end */

static void smtp_commit_done(void *ctx, enum queue_result result, const char *queue_id,
			     const char *error)
{
	struct smtp_session *s = ctx;

	s->committing = false;
	if (s->gone) {
		log_info(NULL, "%s: client gone before the reply, message %s", queue_id,
			 result == QUEUE_OK ? "queued" : "lost");
		smtp_session_free(s);
		return;
	}
	if (result == QUEUE_OK) {
		log_info(conn_sid(s->conn), "queued id=%s nrcpt=%zu", queue_id, s->nrcpts);
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", queue_id);
	} else {
		log_warn(conn_sid(s->conn), "queue commit failed error=\"%s\"", error);
		smtp_error(s, "452 4.3.1 Insufficient system storage");
	}
	smtp_txn_reset(s);
	smtp_resume(s);
}

static void smtp_commit(struct smtp_session *s)
{
	struct queue_msg *qm = smtp_msg_release(s->msg);

	s->msg = NULL;
	s->committing = true;
	queue_msg_commit(qm, smtp_commit_done, s);
}

/* LMTP (RFC 2033 4.2): one reply per accepted recipient, in RCPT order,
 * each after that recipient's delivery into its mailbox. */
static void smtp_lmtp_rcpt_done(void *ctx, size_t rcpt, unsigned code, const char *enhanced,
				const char *text)
{
	struct smtp_session *s = ctx;

	if (rcpt == QUEUE_RCPT_DONE) {
		s->committing = false;
		if (s->gone) {
			smtp_session_free(s);
			return;
		}
		smtp_txn_reset(s);
		smtp_resume(s);
		return;
	}
	if (s->gone || rcpt >= s->nrcpts)
		return;
	log_info(conn_sid(s->conn), "lmtp to=<%s> reply=%u %s", s->rcpts[rcpt].addr, code,
		 enhanced);
	smtp_reply(s, "%u %s <%s> %s", code, enhanced, s->rcpts[rcpt].addr, text);
}

static void smtp_lmtp_end(struct smtp_session *s)
{
	struct queue_msg *qm = smtp_msg_release(s->msg);

	s->msg = NULL;
	s->committing = true;
	queue_msg_deliver(qm, smtp_lmtp_rcpt_done, s);
}

static void smtp_from_check_next(struct smtp_session *s);

static void smtp_from_checked(void *ctx, enum authd_client_status st, const char *reason)
{
	struct smtp_session *s = ctx;
	const char *addr = s->from_addrs[s->from_next - 1];

	s->req = NULL;
	if (st == AUTHD_CLIENT_OK) {
		smtp_from_check_next(s);
		return;
	}
	if (st == AUTHD_CLIENT_TEMPFAIL) {
		log_warn(conn_sid(s->conn), "From: check tempfail reason=\"%s\"",
			 reason != NULL ? reason : "");
		smtp_error(s, "451 4.3.0 Temporary failure checking the From: address, try later");
	} else {
		log_info(conn_sid(s->conn), "From: not owned user=<%s> from=<%s>", s->auth_user, addr);
		smtp_error(s, "553 5.7.1 From: address %s not owned by user %s", addr, s->auth_user);
	}
	smtp_txn_reset(s);
	smtp_resume(s);
}

static void smtp_from_free(struct smtp_session *s)
{
	for (size_t i = 0; i < s->nfrom; i++)
		free(s->from_addrs[i]);
	free(s->from_addrs);
	s->from_addrs = NULL;
	s->nfrom = s->from_next = 0;
}

/* Each From: address must belong to the login, one authd question each. */
static void smtp_from_check_next(struct smtp_session *s)
{
	if (s->from_next < s->nfrom) {
		const char *addr = s->from_addrs[s->from_next++];

		s->req = authd_client_sender(s->mta->authd, s->auth_user, addr,
					     smtp_from_checked, s);
		return;
	}
	smtp_from_free(s);
	smtp_commit(s);
}

static void smtp_message_end(struct smtp_session *s)
{
	enum smtp_msg_status st = smtp_msg_finish(s->msg);
	const char *from = smtp_msg_from(s->msg);
	static const char *const replies[] = {
		[SMTP_MSG_TOO_BIG] = "552 5.3.4 Message size exceeds fixed maximum message size",
		[SMTP_MSG_BARE_NL] = "550 5.5.2 Message contains bare <CR> or <LF>; "
			"lines must end with <CR><LF>",
		[SMTP_MSG_LONG_LINE] = "500 5.5.2 Message line too long",
		[SMTP_MSG_IO] = "452 4.3.1 Insufficient system storage",
	};

	conn_pause(s->conn);
	s->state = SMTP_ST_READY;
	if (st != SMTP_MSG_OK) {
		log_info(conn_sid(s->conn), "message refused reply=\"%.9s\"", replies[st]);
		smtp_error(s, "%s", replies[st]);
		smtp_txn_reset(s);
		smtp_resume(s);
		return;
	}
	if (s->kind == SMTP_KIND_LMTP) {
		smtp_lmtp_end(s);
		return;
	}
	if (s->kind == SMTP_KIND_SUBMISSION && s->auth_user != NULL && from != NULL &&
	    cfg_bool(smtp_cfg(s), "header_from_check")) {
		smtp_from_free(s);
		s->from_addrs = xcalloc(SMTP_FROM_CHECK_MAX, sizeof(char *));
		s->nfrom = smtp_msg_from_addrs(from, s->from_addrs, SMTP_FROM_CHECK_MAX);
		smtp_from_check_next(s);
		return;
	}
	smtp_commit(s);
}

void smtp_data_line(struct smtp_session *s, const struct lr_line *line)
{
	/* only <CRLF>.<CRLF> ends the data: no bare CR or LF may be around
	 * the dot (LR_EOL_CRLF keeps them inside the line) */
	if (line->len == 1 && line->data[0] == '.' && line->flags == 0) {
		smtp_message_end(s);
		return;
	}
	if (line->flags & (LR_F_BARE_LF | LR_F_BARE_CR))
		smtp_msg_fail(s->msg, SMTP_MSG_BARE_NL);
	if (line->len > 0 && line->data[0] == '.')
		smtp_msg_line(s->msg, line->data + 1, line->len - 1);
	else
		smtp_msg_line(s->msg, line->data, line->len);
}

void smtp_data_too_long(struct smtp_session *s)
{
	smtp_msg_fail(s->msg, SMTP_MSG_LONG_LINE);
}

/* ---------------------------------------------------------------- BDAT */

static void smtp_bdat_done(struct smtp_session *s)
{
	if (s->bdat_discard) {
		s->bdat_discard = false;
		smtp_error(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	if (s->data_failed) {
		smtp_error(s, "452 4.3.1 Insufficient system storage");
		smtp_txn_reset(s);
		return;
	}
	if (s->bdat_last) {
		smtp_message_end(s);
		return;
	}
	if (smtp_msg_status(s->msg) == SMTP_MSG_TOO_BIG) {
		/* no point in reading more: the transaction is over */
		smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		smtp_txn_reset(s);
		return;
	}
	smtp_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)s->bdat_size);
}

void smtp_cmd_bdat(struct smtp_session *s, char *args)
{
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(args, &size, &last) < 0) {
		/* the chunk cannot be skipped without its size: close */
		smtp_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		smtp_txn_reset(s);
		conn_close(s->conn, "bad BDAT");
		return;
	}
	s->bdat_discard = (s->state & (SMTP_ST_RCPT | SMTP_ST_BDAT)) == 0;
	if (s->state == SMTP_ST_RCPT) {
		s->data_failed = !smtp_data_begin(s);
		s->state = SMTP_ST_BDAT;
	}
	s->bdat_last = last;
	s->bdat_size = size;
	conn_set_timeout(s->conn, CONN_TIMEOUT_IDLE, cfg_time(smtp_cfg(s), "smtpd_timeout_data"));
	conn_expect_literal(s->conn, size);
	if (size == 0)
		smtp_bdat_done(s);
}

void smtp_bdat_chunk(struct smtp_session *s, const struct lr_line *chunk)
{
	if (!s->bdat_discard && !s->data_failed && s->msg != NULL)
		smtp_msg_bytes(s->msg, chunk->data, chunk->len);
	if (chunk->last)
		smtp_bdat_done(s);
}
