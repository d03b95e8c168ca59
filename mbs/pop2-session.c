/* POP2 (RFC 937) over the POP3 maildrop: an optional listener, off by
 * default, for the oldest clients. HELO logs in (a clear-text password,
 * so only over TLS or where pop2_allow_plaintext says so), FOLD selects
 * the folder (INBOX only: the maildrop), READ announces a message's
 * length, RETR sends exactly that many octets, ACKS/ACKD/NACK acknowledge
 * it (ACKD deletes), QUIT applies the deletions. Replies: "+" and "-"
 * for yes and no, "#n" a message count, "=n" a length. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "buf.h"
#include "log.h"
#include "pop3-session.h"
#include "xalloc.h"

struct pop2_state {
	uint32_t current;      /* the message READ, ACKx and RETR are about */
	bool announced;        /* READ said its length: RETR may follow */
	bool sent;             /* RETR sent it: ACKS, ACKD or NACK expected */
};

/* The pop2 state lives after the client. */
struct pop2_client {
	struct pop3_client c;
	struct pop2_state st;
};

static struct pop2_state *pop2_st(struct pop3_client *c)
{
	return &((struct pop2_client *)c)->st;
}

static uint32_t pop2_count(struct pop3_client *c)
{
	return (uint32_t)(c->md->count - c->md->deleted_count);
}

static void pop2_login_reply(struct pop3_client *c, enum pop3_login_result result)
{
	switch (result) {
	case POP3_LOGIN_OK:
		pop2_st(c)->current = 1;
		pop3_client_line(c, "#%u messages in your mailbox", (unsigned)pop2_count(c));
		break;
	case POP3_LOGIN_FAILED:
		pop3_client_bad(c, "- Authentication failed");
		break;
	case POP3_LOGIN_TEMPFAIL:
	case POP3_LOGIN_ERROR:
		pop3_client_line(c, "- Temporary failure, try again later");
		break;
	case POP3_LOGIN_DISABLED:
		pop3_client_line(c, "- POP access is disabled for this account");
		break;
	case POP3_LOGIN_IN_USE:
		pop3_client_line(c, "- Mailbox is locked by another session");
		break;
	}
}

/* "=n" for the current message: its length, or 0 when there is none
 * (past the end, or deleted). */
static void pop2_announce(struct pop3_client *c)
{
	struct pop2_state *st = pop2_st(c);
	const struct pop3_msg *msg = pop3_maildrop_msg(c->md, st->current);

	st->sent = false;
	st->announced = msg != NULL;
	if (msg == NULL)
		pop3_client_line(c, "=0 No message %u", (unsigned)st->current);
	else
		pop3_client_line(c, "=%llu characters in message %u",
				 (unsigned long long)msg->size, (unsigned)st->current);
}

static bool pop2_helo(struct pop3_client *c, const struct pop3_command *cmd)
{
	struct buf plain, b64;

	if (c->state != POP3_ST_AUTH) {
		pop3_client_bad(c, "- Already logged in");
		return true;
	}
	if (cmd->argc != 2) {
		pop3_client_bad(c, "- Syntax: HELO user password");
		return true;
	}
	if (!conn_is_tls(c->conn) && !cfg_bool(pop3_client_cfg(c), "pop2_allow_plaintext")) {
		pop3_client_bad(c, "- Clear-text passwords are not accepted here");
		return true;
	}
	free(c->user_arg);
	c->user_arg = xstrdup(cmd->args[0]);
	buf_init(&plain, BUF_NO_LIMIT);
	buf_init(&b64, BUF_NO_LIMIT);
	buf_append_char(&plain, '\0');
	buf_append_str(&plain, cmd->args[0]);
	buf_append_char(&plain, '\0');
	buf_append_str(&plain, cmd->args[1]);
	base64_encode(&b64, plain.data, plain.len);
	memset(plain.data, 0, plain.len);
	pop3_auth_start(c, "PLAIN", "HELO", buf_cstr(&b64));
	buf_free(&plain);
	buf_free(&b64);
	return false;
}

static bool pop2_command(struct pop3_client *c, const struct pop3_command *cmd)
{
	struct pop2_state *st = pop2_st(c);
	const char *n = cmd->name;
	uint32_t num;

	if (strcmp(n, "HELO") == 0)
		return pop2_helo(c, cmd);
	if (strcmp(n, "QUIT") == 0) {
		if (c->state == POP3_ST_AUTH) {
			pop3_client_line(c, "+ OK, bye");
			conn_close(c->conn, "quit");
			return true;
		}
		pop3_client_update(c);
		return false;
	}
	if (c->state != POP3_ST_TRANS) {
		pop3_client_bad(c, "- Say HELO first");
		return true;
	}
	if (strcmp(n, "FOLD") == 0) {
		if (cmd->argc != 1) {
			pop3_client_bad(c, "- Syntax: FOLD folder");
		} else if (strcasecmp(cmd->args[0], "INBOX") != 0) {
			pop3_client_line(c, "- Only INBOX is available");
		} else {
			st->current = 1;
			st->announced = st->sent = false;
			pop3_client_line(c, "#%u messages in INBOX", (unsigned)pop2_count(c));
		}
		return true;
	}
	if (strcmp(n, "READ") == 0) {
		if (cmd->argc > 1 || (cmd->argc == 1 &&
				      !pop3_parse_number(cmd->args[0], 1, UINT32_MAX, &num))) {
			pop3_client_bad(c, "- Syntax: READ [message number]");
			return true;
		}
		if (cmd->argc == 1)
			st->current = num;
		pop2_announce(c);
		return true;
	}
	if (strcmp(n, "RETR") == 0) {
		if (cmd->argc != 0 || !st->announced) {
			pop3_client_bad(c, "- READ a message first");
			return true;
		}
		st->announced = false;
		st->sent = true;
		return pop3_retr_start(c, st->current, POP3_RETR_RAW, 0);
	}
	if (strcmp(n, "ACKS") == 0 || strcmp(n, "ACKD") == 0 || strcmp(n, "NACK") == 0) {
		if (cmd->argc != 0 || !st->sent) {
			pop3_client_bad(c, "- RETR a message first");
			return true;
		}
		/* ACKS: keep it; ACKD: delete it; both go to the next one.
		 * NACK: it did not arrive; it stays current. */
		if (n[3] == 'D')
			pop3_maildrop_delete(c->md, st->current);
		if (n[0] == 'A')
			st->current++;
		pop2_announce(c);
		return true;
	}
	pop3_client_bad(c, "- Unknown command: %s", n);
	return true;
}

static void pop2_on_line(void *session, struct conn *conn, const struct lr_line *line)
{
	struct pop3_client *c = session;
	struct pop3_command cmd;
	const char *error;

	if (conn_is_closing(conn) || c->state == POP3_ST_UPDATE)
		return;
	if (pop3_parse_line(line->data, line->len, line->flags, &cmd, &error) < 0) {
		pop3_client_bad(c, "- %s", error);
		return;
	}
	pop3_client_run(c, pop2_command, &cmd);
}

static void *pop2_connect(struct conn *conn)
{
	struct pop3_client *c = pop3_client_new(conn, sizeof(struct pop2_client));

	c->pop2 = true;
	c->login_reply = pop2_login_reply;
	pop3_client_line(c, "+ POP2 %s Mailroom server ready", c->mbs->hostname);
	return c;
}

static void pop2_on_too_long(void *session, struct conn *conn)
{
	(void)conn;
	pop3_client_bad(session, "- Line too long");
}

static void pop2_on_timeout(struct conn *conn, enum conn_timeout which)
{
	(void)which;
	conn_write_str(conn, "- Disconnected for inactivity\r\n");
}

static void pop2_on_busy(struct conn *conn)
{
	conn_write_str(conn, "- Too many connections, try later\r\n");
}

const struct conn_service pop2_service = {
	.name = "pop2", .max_line = 1024, .eol = LR_EOL_LF,
	.on_connect = pop2_connect, .on_line = pop2_on_line,
	.on_too_long = pop2_on_too_long, .on_writable = pop3_on_writable,
	.on_timeout = pop2_on_timeout, .on_busy = pop2_on_busy, .on_close = pop3_on_close,
};
