/* POP3 commands of the AUTHORIZATION state and of any state: CAPA, QUIT,
 * STLS (RFC 2595), USER/PASS (RFC 1939 7), AUTH (RFC 5034). Passwords
 * are checked by authd (the SASL exchange runs there); a login then gets
 * the mailbox from authd's user lookup and opens the maildrop. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authd-client.h"
#include "base64.h"
#include "buf.h"
#include "log.h"
#include "pop3-session.h"
#include "xalloc.h"

bool pop3_cmd_capa(struct pop3_client *c, const struct pop3_command *cmd)
{
	struct conn *conn = c->conn;
	bool auth = c->state == POP3_ST_AUTH;

	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR CAPA takes no arguments.");
		return true;
	}
	/* RFC 2449 5 */
	conn_write_str(conn, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
		       "AUTH-RESP-CODE\r\n");
	if (auth && !conn_is_tls(conn) && conn_tls_available(conn))
		conn_write_str(conn, "STLS\r\n");
	/* Offer the clear-text mechanisms only where they may be used
	 * (RFC 2595 2.1, like LOGINDISABLED in IMAP). */
	if (auth && pop3_client_plaintext_ok(c))
		conn_write_str(conn, "USER\r\nSASL PLAIN LOGIN\r\n");
	conn_write_str(conn, ".\r\n");
	return true;
}

bool pop3_cmd_noop(struct pop3_client *c, const struct pop3_command *cmd)
{
	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR NOOP takes no arguments.");
		return true;
	}
	pop3_client_line(c, "+OK");
	return true;
}

bool pop3_cmd_stls(struct pop3_client *c, const struct pop3_command *cmd)
{
	const char *error;

	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR STLS takes no arguments.");
		return true;
	}
	if (conn_is_tls(c->conn)) {
		pop3_client_bad(c, "-ERR TLS is already active.");
		return true;
	}
	if (!conn_tls_available(c->conn)) {
		pop3_client_line(c, "-ERR TLS support isn't enabled.");
		return true;
	}
	pop3_client_line(c, "+OK Begin TLS negotiation now.");
	/* lib/conn drops whatever the client pipelined after STLS */
	if (conn_starttls(c->conn, &error) < 0)
		conn_close(c->conn, error);
	return true;
}

/* ---- QUIT ---- */

struct pop3_update {
	struct pop3_maildrop *md;
	bool mark_seen;
	size_t removed;
	int result;
	const char *error;
};

static void pop3_update_work(void *ctx)
{
	struct pop3_update *u = ctx;

	u->result = pop3_maildrop_commit(u->md, u->mark_seen, &u->removed, &u->error);
	/* RFC 1939 6: the lock goes before the reply. */
	pop3_maildrop_close(&u->md);
}

static void pop3_update_done(struct pop3_client *c, void *ctx)
{
	struct pop3_update *u = ctx;

	if (!c->gone) {
		const char *name = conn_service(c->conn)->name;

		if (u->result < 0) {
			log_warn(conn_sid(c->conn), "%s: update failed user=<%s> reason=\"%s\"",
				 name, c->user, u->error);
			pop3_client_line(c, c->pop2 ? "- Couldn't delete the messages: %s" :
					 "-ERR [SYS/TEMP] Couldn't delete the messages: %s.", u->error);
		} else {
			log_info(conn_sid(c->conn), "%s: logout user=<%s> deleted=%zu", name, c->user,
				 u->removed);
			pop3_client_line(c, "%s", c->pop2 ? "+ OK, bye" : u->removed > 0 ?
					 "+OK Logging out, messages deleted." : "+OK Logging out.");
		}
		conn_close(c->conn, "quit");
	}
	free(u);
}

void pop3_client_update(struct pop3_client *c)
{
	struct pop3_update *u;

	/* RFC 1939 6: the UPDATE state applies the DELEs. */
	c->state = POP3_ST_UPDATE;
	uv_timer_stop(&c->lock_timer);
	u = xcalloc(1, sizeof(*u));
	u->md = c->md;
	c->md = NULL;
	u->mark_seen = cfg_bool(pop3_client_cfg(c), "pop3_mark_seen");
	pop3_client_work(c, pop3_update_work, pop3_update_done, u);
}

bool pop3_cmd_quit(struct pop3_client *c, const struct pop3_command *cmd)
{
	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR QUIT takes no arguments.");
		return true;
	}
	if (c->state == POP3_ST_AUTH) {
		pop3_client_line(c, "+OK Logging out.");
		conn_close(c->conn, "quit");
		return true;
	}
	pop3_client_update(c);
	return false;
}

/* ---- login ---- */

struct pop3_open {
	struct mbox_user *user;
	struct pop3_maildrop_settings set;
	uint64_t deadline;            /* loop time: give up waiting for the lock */
	struct pop3_maildrop *md;
	int result;
	const char *error;
};

/* Another session's lock is waited for on the loop, a try every
 * POP3_LOCK_RETRY_MSECS, not by a worker sleeping for the whole
 * pop3_lock_timeout: a few clients of one locked mailbox must not hold
 * every worker thread. One try looks at the lock a few times within
 * POP3_LOCK_TRY_MSECS, which is what dotlock_create() needs to see an
 * abandoned lock stay unchanged and take it over. */
#define POP3_LOCK_RETRY_MSECS 200
#define POP3_LOCK_TRY_MSECS 30

static void pop3_open_work(void *ctx)
{
	struct pop3_open *o = ctx;

	o->result = pop3_maildrop_open(o->user, &o->set, &o->md, &o->error);
}

static void pop3_login_fail(struct pop3_client *c)
{
	free(c->user);
	c->user = NULL;
	free(c->mbox_user.root);
	c->mbox_user.root = NULL;
}

static void pop3_login_reply(struct pop3_client *c, enum pop3_login_result result)
{
	if (c->login_reply != NULL) {
		c->login_reply(c, result);
		return;
	}
	switch (result) {
	case POP3_LOGIN_OK:
		pop3_client_line(c, "+OK Logged in.");
		break;
	case POP3_LOGIN_FAILED:
		pop3_client_bad(c, "-ERR [AUTH] Authentication failed.");
		break;
	case POP3_LOGIN_TEMPFAIL:
		pop3_client_line(c, "-ERR [SYS/TEMP] Temporary authentication failure.");
		break;
	case POP3_LOGIN_DISABLED:
		pop3_client_line(c, "-ERR [SYS/PERM] POP3 access is disabled for this account.");
		break;
	case POP3_LOGIN_IN_USE:
		pop3_client_line(c, "-ERR [IN-USE] Mailbox is locked by another POP3 session.");
		break;
	case POP3_LOGIN_ERROR:
		pop3_client_line(c, "-ERR [SYS/TEMP] Couldn't open the mailbox.");
		break;
	}
}

static void pop3_open_done(struct pop3_client *c, void *ctx);

static void pop3_open_retry(uv_timer_t *t)
{
	struct pop3_client *c = t->data;
	struct pop3_open *o = c->open_wait;

	c->open_wait = NULL;
	pop3_client_work(c, pop3_open_work, pop3_open_done, o);
}

static void pop3_open_done(struct pop3_client *c, void *ctx)
{
	struct pop3_open *o = ctx;

	if (!c->gone && !c->shutdown && o->result == 0 && uv_now(c->loop) < o->deadline) {
		c->open_wait = o;
		uv_timer_start(&c->lock_timer, pop3_open_retry, POP3_LOCK_RETRY_MSECS, 0);
		return;
	}

	if (c->gone) {
		c->md = o->md;   /* released on a worker with the session */
		free(o);
		return;
	}
	if (o->result > 0) {
		c->md = o->md;
		log_info(conn_sid(c->conn), "%s: maildrop user=<%s> messages=%zu size=%llu",
			 conn_service(c->conn)->name, c->user, c->md->count,
			 (unsigned long long)c->md->total_size);
		pop3_client_logged_in(c);
		pop3_login_reply(c, POP3_LOGIN_OK);
	} else if (o->result == 0) {
		log_info(conn_sid(c->conn), "%s: maildrop in use user=<%s>",
			 conn_service(c->conn)->name, c->user);
		pop3_login_reply(c, POP3_LOGIN_IN_USE);
		pop3_login_fail(c);
	} else {
		log_warn(conn_sid(c->conn), "%s: maildrop failed user=<%s> reason=\"%s\"",
			 conn_service(c->conn)->name, c->user, o->error);
		pop3_login_reply(c, POP3_LOGIN_ERROR);
		pop3_login_fail(c);
	}
	free(o);
	pop3_client_done(c);
}

static void pop3_user_cb(void *ctx, const struct authd_user_answer *a)
{
	struct pop3_client *c = ctx;
	const struct cfg *cfg = pop3_client_cfg(c);
	struct pop3_open *o;

	c->req = NULL;
	if (a->status == AUTHD_CLIENT_TEMPFAIL) {
		log_warn(conn_sid(c->conn), "%s: user lookup tempfail user=<%s> reason=\"%s\"",
			 conn_service(c->conn)->name, c->user, a->reason != NULL ? a->reason : "");
		pop3_login_reply(c, POP3_LOGIN_TEMPFAIL);
		pop3_login_fail(c);
		pop3_client_done(c);
		return;
	}
	if (a->status != AUTHD_CLIENT_OK || a->maildir == NULL || a->maildir[0] != '/' ||
	    (a->state != NULL && strcmp(a->state, "active") != 0) ||
	    !authd_user_has_service(a, "pop3")) {
		log_info(conn_sid(c->conn), "%s: login refused user=<%s> reason=%s",
			 conn_service(c->conn)->name, c->user,
			 a->status != AUTHD_CLIENT_OK ? "no-user" : "pop3-disabled");
		pop3_login_reply(c, POP3_LOGIN_DISABLED);
		pop3_login_fail(c);
		pop3_client_done(c);
		return;
	}
	c->mbox_user.root = xstrdup(a->maildir);
	c->mbox_user.quota.bytes = a->quota_bytes;
	c->mbox_user.quota.count = a->quota_messages;
	o = xcalloc(1, sizeof(*o));
	o->user = &c->mbox_user;
	o->set.lock_session = cfg_bool(cfg, "pop3_lock_session");
	o->set.lock_timeout_msecs = POP3_LOCK_TRY_MSECS;   /* see pop3_open_retry */
	o->deadline = uv_now(c->loop) + (uint64_t)cfg_time(cfg, "pop3_lock_timeout") * 1000;
	pop3_client_work(c, pop3_open_work, pop3_open_done, o);
}

/* The password was right: look the user up, then open the maildrop. */
static void pop3_authenticated(struct pop3_client *c, const char *user)
{
	char rip[NETADDR_STRLEN] = "";

	if (conn_remote(c->conn)->family != AF_UNSPEC)
		netaddr_str(conn_remote(c->conn), rip);
	log_info(conn_sid(c->conn), "%s-login: user=<%s> rip=%s method=%s tls=%s",
		 conn_service(c->conn)->name, user, rip, c->auth_mech,
		 conn_is_tls(c->conn) ? "yes" : "no");
	free(c->user);
	c->user = xstrdup(user);
	c->req = authd_client_user(c->mbs->authd, user, pop3_user_cb, c);
}

static void pop3_auth_end(struct pop3_client *c)
{
	free(c->auth_mech);
	c->auth_mech = NULL;
	c->auth_waiting = false;
}

static void pop3_auth_step(void *ctx, enum authd_auth_step step, const char *data)
{
	struct pop3_client *c = ctx;
	char rip[NETADDR_STRLEN] = "";

	switch (step) {
	case AUTHD_AUTH_CONTINUE:
		/* RFC 5034 4: "+ " and the base64 challenge */
		pop3_client_line(c, "+ %s", data != NULL ? data : "");
		c->auth_waiting = true;
		conn_resume(c->conn);
		return;
	case AUTHD_AUTH_OK:
		c->req = NULL;
		pop3_authenticated(c, data);
		pop3_auth_end(c);
		return;   /* still pending: the user lookup goes on */
	case AUTHD_AUTH_FAIL:
		c->req = NULL;
		if (conn_remote(c->conn)->family != AF_UNSPEC)
			netaddr_str(conn_remote(c->conn), rip);
		if (data != NULL && strcmp(data, "user_disabled") == 0) {
			/* The password was right: say why (RFC 3206 4: not a
			 * temporary condition). */
			log_info(conn_sid(c->conn), "%s-login: refused (disabled) rip=%s method=%s "
				 "user=<%s>", conn_service(c->conn)->name, rip, c->auth_mech,
				 c->user_arg != NULL ? c->user_arg : "");
			pop3_auth_end(c);
			pop3_login_reply(c, POP3_LOGIN_DISABLED);
			break;
		}
		log_info(conn_sid(c->conn), "%s-login: auth failed rip=%s method=%s user=<%s>",
			 conn_service(c->conn)->name, rip, c->auth_mech,
			 c->user_arg != NULL ? c->user_arg : "");
		pop3_auth_end(c);
		pop3_login_reply(c, POP3_LOGIN_FAILED);
		break;
	case AUTHD_AUTH_TEMPFAIL:
		c->req = NULL;
		log_warn(conn_sid(c->conn), "%s-login: auth tempfail reason=\"%s\"",
			 conn_service(c->conn)->name, data != NULL ? data : "");
		pop3_auth_end(c);
		pop3_login_reply(c, POP3_LOGIN_TEMPFAIL);
		break;
	}
	free(c->user_arg);
	c->user_arg = NULL;
	pop3_client_done(c);
}

/* Start a SASL exchange in authd; method is what the log calls it
 * (USER for USER/PASS). */
void pop3_auth_start(struct pop3_client *c, const char *mech, const char *method,
		     const char *initial)
{
	char rip[NETADDR_STRLEN] = "", lip[NETADDR_STRLEN] = "", sasl[8];
	struct authd_auth_info info = {
		.service = "pop3",
		/* authd refuses PLAIN and LOGIN unless told the channel is
		 * safe: over TLS, or where the configuration allows it. */
		.secured = pop3_client_plaintext_ok(c),
	};
	size_t i;

	for (i = 0; mech[i] != '\0' && i < sizeof(sasl) - 1; i++)
		sasl[i] = (char)(mech[i] >= 'a' && mech[i] <= 'z' ? mech[i] - 'a' + 'A' : mech[i]);
	sasl[i] = '\0';
	free(c->auth_mech);
	c->auth_mech = xstrdup(method != NULL ? method : sasl);
	if (conn_remote(c->conn)->family != AF_UNSPEC) {
		netaddr_str(conn_remote(c->conn), rip);
		netaddr_str(conn_local(c->conn), lip);
		info.rip = rip;
		info.lip = lip;
	}
	info.mech = sasl;
	info.session_id = conn_sid(c->conn);
	c->req = authd_client_auth(c->mbs->authd, &info, initial, pop3_auth_step, c);
}

static bool pop3_plaintext_refused(struct pop3_client *c)
{
	if (pop3_client_plaintext_ok(c))
		return false;
	pop3_client_bad(c, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
			"(SSL/TLS) connections.");
	return true;
}

bool pop3_cmd_user(struct pop3_client *c, const struct pop3_command *cmd)
{
	if (cmd->argc != 1) {
		pop3_client_bad(c, "-ERR USER wants one argument.");
		return true;
	}
	if (pop3_plaintext_refused(c))
		return true;
	free(c->user_arg);
	c->user_arg = xstrdup(cmd->args[0]);
	pop3_client_line(c, "+OK");
	return true;
}

bool pop3_cmd_pass(struct pop3_client *c, const struct pop3_command *cmd)
{
	struct buf plain, b64;

	if (c->user_arg == NULL) {
		pop3_client_bad(c, "-ERR No username given.");
		return true;
	}
	if (*cmd->rest == '\0') {
		pop3_client_bad(c, "-ERR PASS wants the password.");
		return true;
	}
	if (pop3_plaintext_refused(c))
		return true;
	/* USER/PASS goes to authd as SASL PLAIN: "\0user\0password". */
	buf_init(&plain, BUF_NO_LIMIT);
	buf_init(&b64, BUF_NO_LIMIT);
	buf_append_char(&plain, '\0');
	buf_append_str(&plain, c->user_arg);
	buf_append_char(&plain, '\0');
	buf_append_str(&plain, cmd->rest);
	base64_encode(&b64, plain.data, plain.len);
	memset(plain.data, 0, plain.len);
	pop3_auth_start(c, "PLAIN", "USER", buf_cstr(&b64));
	buf_free(&plain);
	buf_free(&b64);
	return false;
}

bool pop3_cmd_auth(struct pop3_client *c, const struct pop3_command *cmd)
{
	const char *rest = cmd->rest, *sp = strchr(rest, ' ');
	char *mech, *initial = NULL;

	if (*rest == '\0') {
		/* The mechanism list, as clients of the older AUTH
		 * (RFC 1734) ask for it. */
		if (pop3_client_plaintext_ok(c))
			pop3_client_line(c, "+OK\r\nPLAIN\r\nLOGIN\r\n.");
		else
			pop3_client_line(c, "+OK\r\n.");
		return true;
	}
	/* Not cmd->args: an initial response may be longer than arguments
	 * can be (RFC 5034 4). */
	mech = xstrndup(rest, sp != NULL ? (size_t)(sp - rest) : strlen(rest));
	if (sp != NULL)
		initial = xstrdup(sp + 1);
	if (*mech == '\0' || (initial != NULL && (*initial == '\0' || strchr(initial, ' ') != NULL))) {
		pop3_client_bad(c, "-ERR Invalid AUTH arguments.");
	} else if (strcasecmp(mech, "PLAIN") != 0 && strcasecmp(mech, "LOGIN") != 0) {
		pop3_client_bad(c, "-ERR Unsupported authentication mechanism.");
	} else if (!pop3_plaintext_refused(c)) {
		free(c->user_arg);
		c->user_arg = NULL;
		/* RFC 5034 4: "=" is an empty initial response */
		pop3_auth_start(c, mech, NULL,
				initial == NULL ? NULL : strcmp(initial, "=") == 0 ? "" : initial);
		free(mech);
		free(initial);
		return false;
	}
	free(mech);
	free(initial);
	return true;
}

void pop3_auth_abort(struct pop3_client *c)
{
	if (c->req != NULL)
		authd_client_cancel(c->req);
	c->req = NULL;
	pop3_auth_end(c);
	free(c->user_arg);
	c->user_arg = NULL;
}

void pop3_auth_line(struct pop3_client *c, const char *line)
{
	c->auth_waiting = false;
	if (strcmp(line, "*") == 0) {
		/* RFC 5034 4: the client cancels: -ERR */
		pop3_auth_abort(c);
		pop3_client_bad(c, "-ERR Authentication aborted.");
		pop3_client_done(c);
		return;
	}
	conn_pause(c->conn);
	authd_client_auth_respond(c->req, line);
}

void pop3_auth_cancel(struct pop3_client *c)
{
	pop3_auth_end(c);
}
