#ifndef MR_AUTHD_CLIENT_H
#define MR_AUTHD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* The frontends' (mta, mbs) only way to users: an asynchronous client of
 * mailroom-authd's lookup protocol and of its Dovecot-compatible auth
 * protocol (docs/authd.md, docs/authd-protocols.md). One client per
 * daemon; it keeps connections to authd's sockets, pipelines requests,
 * reconnects, and answers TEMPFAIL when authd cannot be reached or does
 * not answer within the timeout, so a frontend never mistakes an outage
 * for "unknown user". Callbacks run on the loop thread; a request can be
 * cancelled (its callback is then never called) when the session that
 * asked goes away. */

struct authd_client;
struct authd_client_req;

enum authd_client_status {
	AUTHD_CLIENT_OK,
	AUTHD_CLIENT_NOTFOUND,
	AUTHD_CLIENT_FAIL,      /* permanent refusal (alias loop, chain too deep) */
	AUTHD_CLIENT_TEMPFAIL,  /* authd or its backend unreachable: try later */
};

struct authd_client_settings {
	const char *lookup_socket;  /* authd's service=lookup socket */
	const char *auth_socket;    /* authd's service=auth socket; NULL: no AUTH */
	unsigned timeout_ms;        /* per request; 0: 10 s */
};

struct authd_client *authd_client_new(uv_loop_t *loop, const struct authd_client_settings *set);
/* Cancels every pending request; closes the connections. */
void authd_client_free(struct authd_client *client);
void authd_client_cancel(struct authd_client_req *req);
/* From now on the client's sockets and timer do not keep the loop running:
 * a stopping daemon lets its loop end once nothing else is active. */
void authd_client_weaken(struct authd_client *client);

/* ---- lookups ---- */

struct authd_user_answer {
	enum authd_client_status status;
	const char *reason;       /* TEMPFAIL/FAIL */
	const char *user;
	const char *maildir;      /* absolute */
	uint64_t quota_bytes;     /* 0: unlimited */
	uint64_t quota_messages;
	const char *services;     /* "smtp,imap,pop3,deliver" */
	const char *state;        /* "active", "disabled", "domain-disabled" */
};
/* Whether a's services list names service (case-insensitive); an answer
 * without the list allows nothing. */
bool authd_user_has_service(const struct authd_user_answer *a, const char *service);

struct authd_rcpt_target {
	const char *local;        /* a local mailbox address, or NULL */
	const char *maildir;      /* with local: absolute Maildir path */
	const char *remote;       /* a remote address, or NULL */
};

struct authd_rcpt_answer {
	enum authd_client_status status;
	const char *reason;
	const char *kind;         /* "mailbox", "alias", "relay" */
	const char *detail;       /* the +detail of the address, or NULL */
	const struct authd_rcpt_target *targets;
	size_t ntargets;
};

struct authd_domain_answer {
	enum authd_client_status status;
	const char *reason;
	const char *type;         /* "hosted", "alias", "relay" */
	bool active;
	const char *target;       /* alias domains */
};

/* Answers (and every string in them) live until the callback returns. */
typedef void authd_user_cb(void *ctx, const struct authd_user_answer *answer);
typedef void authd_rcpt_cb(void *ctx, const struct authd_rcpt_answer *answer);
typedef void authd_domain_cb(void *ctx, const struct authd_domain_answer *answer);
/* OK: login may use sender; NOTFOUND: it may not. */
typedef void authd_status_cb(void *ctx, enum authd_client_status status, const char *reason);

struct authd_client_req *authd_client_user(struct authd_client *c, const char *addr,
					   authd_user_cb *cb, void *ctx);
struct authd_client_req *authd_client_rcpt(struct authd_client *c, const char *addr,
					   authd_rcpt_cb *cb, void *ctx);
struct authd_client_req *authd_client_domain(struct authd_client *c, const char *domain,
					     authd_domain_cb *cb, void *ctx);
struct authd_client_req *authd_client_sender(struct authd_client *c, const char *login,
					     const char *sender, authd_status_cb *cb, void *ctx);

/* ---- SASL authentication relayed to authd ---- */

enum authd_auth_step {
	AUTHD_AUTH_CONTINUE,  /* data: base64 challenge to send the client */
	AUTHD_AUTH_OK,        /* data: the canonical user name */
	/* data: NULL, or "user_disabled" when the password was right but the
	 * account, domain or service is disabled (never why otherwise) */
	AUTHD_AUTH_FAIL,
	AUTHD_AUTH_TEMPFAIL,  /* data: reason for the log */
};

struct authd_auth_info {
	const char *mech;         /* "PLAIN", "LOGIN" */
	const char *service;      /* "smtp", "imap", "pop3" */
	const char *rip, *lip;    /* text addresses, may be NULL */
	bool secured;             /* the client's connection is TLS */
	const char *session_id;
};

typedef void authd_auth_cb(void *ctx, enum authd_auth_step step, const char *data);

/* initial_b64: the SASL initial response in base64 ("" for an empty one),
 * or NULL when the client sent none. The callback may run several times
 * (CONTINUE); after OK/FAIL/TEMPFAIL the request is over. */
struct authd_client_req *authd_client_auth(struct authd_client *c,
					   const struct authd_auth_info *info,
					   const char *initial_b64,
					   authd_auth_cb *cb, void *ctx);
/* The client's answer to a CONTINUE challenge, in base64. */
void authd_client_auth_respond(struct authd_client_req *req, const char *b64);

#endif
