/* STARTTLS, LOGIN and AUTHENTICATE (RFC 3501 6.2, RFC 4959 SASL-IR):
 * the SASL exchange runs in authd; on success the user's mailbox and
 * quota come from an authd lookup and the store is prepared on a worker
 * (special-use folders created and subscribed). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base64.h"
#include "imap-commands.h"
#include "imap-session-private.h"
#include "log.h"
#include "xalloc.h"

/* A SASL response line: base64 only (it goes into authd's protocol). */
#define IMAP_SASL_LINE_MAX 8192

void imap_cmd_starttls(struct imap_client *c, struct imap_command *cmd)
{
	const char *error;

	if (cmd->count != 0) {
		imap_client_bad(c, "STARTTLS takes no arguments");
		return;
	}
	if (conn_is_tls(c->conn)) {
		imap_client_bad(c, "TLS is already active");
		return;
	}
	if (!conn_tls_available(c->conn)) {
		imap_client_tagged(c, "NO", "TLS is not available");
		return;
	}
	imap_client_tagged_now(c, "OK", "Begin TLS negotiation now.");
	/* lib/conn drops whatever the client pipelined after the command
	 * (RFC 3501 6.2.1: no plaintext command may be read as if over TLS) */
	if (conn_starttls(c->conn, &error) < 0)
		conn_close(c->conn, error);
}

static bool imap_plaintext_ok(struct imap_client *c)
{
	if (conn_is_tls(c->conn) || cfg_bool(imap_client_cfg(c), "auth_allow_plaintext"))
		return true;
	/* RFC 3501 6.2.3, RFC 5530 PRIVACYREQUIRED */
	imap_client_tagged(c, "NO", "[PRIVACYREQUIRED] Plaintext authentication is disallowed "
			   "without TLS; use STARTTLS first.");
	return false;
}

static void imap_login_log_fail(struct imap_client *c, const char *what)
{
	struct imap_session *s = imap_session_of(c);
	char ip[NETADDR_STRLEN];
	struct buf b;

	buf_init(&b, 1024);
	log_escape(&b, s->auth_login != NULL ? s->auth_login : "");
	log_info(conn_sid(c->conn), "imap-login: %s user=<%s> rip=%s method=%s", what,
		 buf_cstr(&b), imap_client_rip(c, ip), s->auth_mech != NULL ? s->auth_mech : "-");
	buf_free(&b);
}

static void imap_auth_reset(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	free(s->auth_mech);
	free(s->auth_login);
	s->auth_mech = s->auth_login = NULL;
	s->auth_req = s->user_req = NULL;
}

static void imap_auth_end(struct imap_client *c, const char *status, const char *text)
{
	imap_auth_reset(c);
	imap_client_read_line(c, NULL);
	imap_client_tagged(c, status, "%s", text);
}

/* ---- after authd said OK: the user's store ---- */

struct imap_login_init {
	struct mbox_user user;
	int ret;
	const char *error;
};

/* The directories above a first-time Maildir (<mail_root>/<domain>/), as
 * the mta's delivery makes them. */
static void imap_mkdir_parents(const char *maildir)
{
	char *path = xstrdup(maildir);

	for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (p[1] != '\0')
			mkdir(path, 0700);
		*p = '/';
	}
	free(path);
}

static void imap_login_init_work(void *ctx)
{
	struct imap_login_init *li = ctx;

	imap_mkdir_parents(li->user.root);
	li->ret = mbox_user_init(&li->user, &li->error);
}

static void imap_login_init_done(struct imap_client *c, void *ctx)
{
	struct imap_login_init *li = ctx;
	struct imap_session *s;
	char ip[NETADDR_STRLEN];

	if (c->gone) {
		free(li->user.root);
		free(li);
		return;
	}
	s = imap_session_of(c);
	if (li->ret < 0) {
		log_error(conn_sid(c->conn), "imap: mailbox init failed user=<%s> error=\"%s\"",
			  c->user, li->error != NULL ? li->error : "");
		free(li->user.root);
		free(li);
		free(c->user);
		c->user = NULL;
		imap_auth_end(c, "NO", "[UNAVAILABLE] Mailbox not available, try again later.");
		return;
	}
	c->mbox_user = li->user;
	free(li);
	c->state = IMAP_ST_AUTH;
	/* The daemon's session_timeout bounds a connection that never logs
	 * in; a logged-in client may stay for days (the autologout timer,
	 * imap_idle_timeout, still applies). */
	conn_set_timeout(c->conn, CONN_TIMEOUT_SESSION,
			 (unsigned)cfg_time(imap_client_cfg(c), "imap_session_timeout"));
	log_info(conn_sid(c->conn), "imap-login: user=<%s> rip=%s method=%s tls=%s", c->user,
		 imap_client_rip(c, ip), s->auth_mech, conn_is_tls(c->conn) ? "yes" : "no");
	imap_auth_reset(c);
	imap_client_read_line(c, NULL);
	imap_client_tagged(c, "OK", "[CAPABILITY %s] Logged in", imap_client_capability(c));
}

static void imap_user_answer(void *ctx, const struct authd_user_answer *a)
{
	struct imap_client *c = ctx;
	struct imap_session *s = imap_session_of(c);
	struct imap_login_init *li;

	s->user_req = NULL;
	switch (a->status) {
	case AUTHD_CLIENT_OK:
		break;
	case AUTHD_CLIENT_TEMPFAIL:
		log_warn(conn_sid(c->conn), "imap-login: lookup tempfail user=<%s> reason=\"%s\"",
			 c->user, a->reason != NULL ? a->reason : "");
		free(c->user);
		c->user = NULL;
		imap_auth_end(c, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later.");
		return;
	default:
		log_warn(conn_sid(c->conn), "imap-login: lookup failed after auth user=<%s>", c->user);
		imap_login_log_fail(c, "failed");
		free(c->user);
		c->user = NULL;
		imap_auth_end(c, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	}
	if ((a->state != NULL && strcmp(a->state, "active") != 0) ||
	    !authd_user_has_service(a, "imap")) {
		/* the password was right: saying why gives nothing away */
		imap_login_log_fail(c, "refused (disabled)");
		free(c->user);
		c->user = NULL;
		imap_auth_end(c, "NO", "[AUTHORIZATIONFAILED] IMAP access is disabled for this account.");
		return;
	}
	if (a->maildir == NULL || a->maildir[0] != '/') {
		log_error(conn_sid(c->conn), "imap-login: no absolute maildir for user=<%s>", c->user);
		free(c->user);
		c->user = NULL;
		imap_auth_end(c, "NO", "[UNAVAILABLE] Mailbox not available, try again later.");
		return;
	}
	li = xcalloc(1, sizeof(*li));
	li->user.root = xstrdup(a->maildir);
	for (size_t n = strlen(li->user.root); n > 1 && li->user.root[n - 1] == '/'; n--)
		li->user.root[n - 1] = '\0';
	li->user.quota.bytes = a->quota_bytes;
	li->user.quota.count = a->quota_messages;
	imap_client_work(c, imap_login_init_work, imap_login_init_done, li);
}

/* ---- the SASL exchange ---- */

static void imap_auth_line(struct imap_client *c, const struct lr_line *line);

static void imap_auth_step(void *ctx, enum authd_auth_step step, const char *data)
{
	struct imap_client *c = ctx;
	struct imap_session *s = imap_session_of(c);

	switch (step) {
	case AUTHD_AUTH_CONTINUE:
		imap_client_write(c, "+ ", 2);
		imap_client_write(c, data, strlen(data));
		imap_client_write(c, "\r\n", 2);
		imap_client_read_line(c, imap_auth_line);
		return;
	case AUTHD_AUTH_OK:
		s->auth_req = NULL;
		c->user = xstrdup(data);
		s->user_req = authd_client_user(c->mbs->authd, data, imap_user_answer, c);
		return;
	case AUTHD_AUTH_FAIL:
		s->auth_req = NULL;
		if (data != NULL && strcmp(data, "user_disabled") == 0) {
			/* the password was right (authd says so only then):
			 * RFC 5530 AUTHORIZATIONFAILED */
			imap_login_log_fail(c, "refused (disabled)");
			imap_auth_end(c, "NO", "[AUTHORIZATIONFAILED] IMAP access is disabled for "
				      "this account.");
			return;
		}
		imap_login_log_fail(c, "failed");
		imap_auth_end(c, "NO", "[AUTHENTICATIONFAILED] Authentication failed.");
		return;
	case AUTHD_AUTH_TEMPFAIL:
		s->auth_req = NULL;
		log_warn(conn_sid(c->conn), "imap-login: auth tempfail method=%s reason=\"%s\"",
			 s->auth_mech, data != NULL ? data : "");
		imap_auth_end(c, "NO", "[UNAVAILABLE] Temporary authentication failure, try again later.");
		return;
	}
}

static bool imap_base64_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (base64_char_value(s[i]) < 0 && s[i] != '=')
			return false;
	return true;
}

static void imap_auth_line(struct imap_client *c, const struct lr_line *line)
{
	struct imap_session *s = imap_session_of(c);

	/* RFC 3501 6.2.2: "*" cancels, and the reply is BAD */
	if (line->len == 1 && line->data[0] == '*') {
		authd_client_cancel(s->auth_req);
		s->auth_req = NULL;
		imap_auth_reset(c);
		imap_client_read_line(c, NULL);
		imap_client_tagged(c, "BAD", "Authentication aborted.");
		return;
	}
	if (line->len > IMAP_SASL_LINE_MAX || (line->flags & LR_F_NUL) ||
	    !imap_base64_ok(line->data, line->len)) {
		authd_client_cancel(s->auth_req);
		s->auth_req = NULL;
		imap_auth_reset(c);
		imap_client_read_line(c, NULL);
		imap_client_bad(c, "Invalid base64 in the authentication response.");
		return;
	}
	imap_client_read_line(c, NULL);
	conn_pause(c->conn);
	authd_client_auth_respond(s->auth_req, line->data);
}

static void imap_auth_start(struct imap_client *c, const char *mech, const char *initial)
{
	struct imap_session *s = imap_session_of(c);
	char ip[NETADDR_STRLEN] = "", lip[NETADDR_STRLEN] = "";
	/* Only reached over TLS or with auth_allow_plaintext: either way mbs
	 * has decided the channel is good enough, and says so to authd
	 * (which otherwise refuses PLAIN and LOGIN outside TLS). */
	struct authd_auth_info info = { .service = "imap", .mech = mech, .secured = true,
					.session_id = conn_sid(c->conn) };

	if (c->mbs->authd == NULL) {   /* shutting down */
		imap_client_tagged(c, "NO", "[UNAVAILABLE] Server shutting down.");
		return;
	}
	if (conn_remote(c->conn)->family != AF_UNSPEC) {
		info.rip = netaddr_str(conn_remote(c->conn), ip);
		info.lip = netaddr_str(conn_local(c->conn), lip);
	}
	free(s->auth_mech);
	s->auth_mech = xstrdup(mech);
	s->auth_req = authd_client_auth(c->mbs->authd, &info, initial, imap_auth_step, c);
}

void imap_cmd_login(struct imap_client *c, struct imap_command *cmd)
{
	struct imap_session *s = imap_session_of(c);
	const char *user, *pass;
	struct buf raw, b64;

	if (cmd->count != 2 || (user = imap_arg_astring(&cmd->args[0])) == NULL ||
	    (pass = imap_arg_astring(&cmd->args[1])) == NULL) {
		imap_client_bad(c, "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_plaintext_ok(c))
		return;
	buf_init(&raw, BUF_NO_LIMIT);
	buf_append_char(&raw, '\0');
	buf_append_str(&raw, user);
	buf_append_char(&raw, '\0');
	buf_append_str(&raw, pass);
	buf_init(&b64, BUF_NO_LIMIT);
	base64_encode(&b64, raw.data, raw.len);
	explicit_bzero(raw.data, raw.len);
	buf_free(&raw);
	free(s->auth_login);
	s->auth_login = xstrdup(user);
	imap_auth_start(c, "PLAIN", buf_cstr(&b64));
	free(s->auth_mech);
	s->auth_mech = xstrdup("cmd-login");   /* the LOGIN command, in the log */
	explicit_bzero(b64.data, b64.len);
	buf_free(&b64);
}

void imap_cmd_authenticate(struct imap_client *c, struct imap_command *cmd)
{
	const char *mech, *initial = NULL;
	char upper[16];
	size_t n;

	if (cmd->count < 1 || cmd->count > 2 || (mech = imap_arg_atom(&cmd->args[0])) == NULL) {
		imap_client_bad(c, "AUTHENTICATE needs a mechanism name");
		return;
	}
	if (cmd->count == 2) {
		/* RFC 4959: the initial response, "=" for an empty one */
		initial = imap_arg_atom(&cmd->args[1]);
		if (initial == NULL || !imap_base64_ok(initial, strlen(initial)) ||
		    strlen(initial) > IMAP_SASL_LINE_MAX) {
			imap_client_bad(c, "Invalid base64 initial response");
			return;
		}
		if (strcmp(initial, "=") == 0)
			initial = "";
	}
	n = strlen(mech);
	if (n >= sizeof(upper)) {
		imap_client_tagged(c, "NO", "Unsupported authentication mechanism.");
		return;
	}
	for (size_t i = 0; i <= n; i++)
		upper[i] = (char)(mech[i] >= 'a' && mech[i] <= 'z' ? mech[i] - 32 : mech[i]);
	if (strcmp(upper, "PLAIN") != 0 && strcmp(upper, "LOGIN") != 0) {
		imap_client_tagged(c, "NO", "Unsupported authentication mechanism.");
		return;
	}
	if (!imap_plaintext_ok(c))
		return;
	imap_auth_start(c, upper, initial);
}
