/* STARTTLS (RFC 3207) and AUTH (RFC 4954): the SASL exchange runs in
 * authd; the session relays base64 lines both ways. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authd-client.h"
#include "log.h"
#include "smtp-session.h"
#include "xalloc.h"

void smtp_cmd_starttls(struct smtp_session *s, char *args)
{
	const char *error;

	if (*args != '\0') {
		smtp_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (conn_is_tls(s->conn)) {
		smtp_error(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!conn_tls_available(s->conn)) {
		smtp_error(s, "454 4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* lib/conn drops whatever the client pipelined after the command */
	if (conn_starttls(s->conn, &error) < 0)
		conn_close(s->conn, error);
}

static void smtp_auth_end(struct smtp_session *s)
{
	free(s->auth_mech);
	s->auth_mech = NULL;
	s->auth_waiting = false;
	smtp_resume(s);
}

static void smtp_auth_step(void *ctx, enum authd_auth_step step, const char *data)
{
	struct smtp_session *s = ctx;

	switch (step) {
	case AUTHD_AUTH_CONTINUE:
		smtp_reply(s, "334 %s", data);
		s->auth_waiting = true;
		conn_resume(s->conn);
		return;
	case AUTHD_AUTH_OK:
		s->req = NULL;
		free(s->auth_user);
		s->auth_user = xstrdup(data);
		log_info(conn_sid(s->conn), "auth ok user=<%s> mech=%s", data, s->auth_mech);
		smtp_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTHD_AUTH_FAIL:
		s->req = NULL;
		log_info(conn_sid(s->conn), "auth failed mech=%s", s->auth_mech);
		smtp_error(s, "535 5.7.8 Authentication credentials invalid");
		break;
	case AUTHD_AUTH_TEMPFAIL:
		s->req = NULL;
		log_warn(conn_sid(s->conn), "auth tempfail reason=\"%s\"", data != NULL ? data : "");
		smtp_error(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	smtp_auth_end(s);
}

bool smtp_auth_wants_line(const struct smtp_session *s)
{
	return s->auth_mech != NULL && s->auth_waiting;
}

void smtp_auth_line(struct smtp_session *s, const char *line)
{
	s->auth_waiting = false;
	if (strcmp(line, "*") == 0) {
		authd_client_cancel(s->req);
		s->req = NULL;
		smtp_error(s, "501 5.7.0 Authentication aborted");
		free(s->auth_mech);
		s->auth_mech = NULL;
		return;
	}
	conn_pause(s->conn);
	authd_client_auth_respond(s->req, line);
}

void smtp_auth_cancel(struct smtp_session *s)
{
	free(s->auth_mech);
	s->auth_mech = NULL;
	s->auth_waiting = false;
}

void smtp_cmd_auth(struct smtp_session *s, char *args)
{
	char ip[NETADDR_STRLEN] = "", lip[NETADDR_STRLEN] = "";
	char *initial = strchr(args, ' ');
	struct authd_auth_info info = { .service = "smtp", .secured = true };

	if (s->kind != SMTP_KIND_SUBMISSION) {
		smtp_error(s, "503 5.5.1 Authentication not enabled");
		return;
	}
	if (s->auth_user != NULL) {
		smtp_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	if (!conn_is_tls(s->conn)) {
		smtp_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (initial != NULL)
		*initial++ = '\0';
	if (strcasecmp(args, "PLAIN") != 0 && strcasecmp(args, "LOGIN") != 0) {
		smtp_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	if (initial != NULL && strcmp(initial, "=") == 0)
		initial = "";   /* RFC 4954 4: "=" is an empty initial response */
	s->auth_mech = xstrdup(args);
	for (char *p = s->auth_mech; *p != '\0'; p++)
		*p = (char)(*p & ~0x20);
	if (conn_remote(s->conn)->family != AF_UNSPEC) {
		netaddr_str(conn_remote(s->conn), ip);
		netaddr_str(conn_local(s->conn), lip);
		info.rip = ip;
		info.lip = lip;
	}
	info.mech = s->auth_mech;
	info.session_id = conn_sid(s->conn);
	conn_pause(s->conn);
	s->req = authd_client_auth(s->mta->authd, &info, initial, smtp_auth_step, s);
}
