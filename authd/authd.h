#ifndef MR_AUTHD_H
#define MR_AUTHD_H

#include <stdbool.h>

#include "backend.h"
#include "netaddr.h"

/* authd's core, shared by its protocol front ends (proto-auth.c for the
 * Dovecot-compatible auth protocol and SASL, proto-lookup.c, the saslauthd
 * protocol): the configured backend behind the answer cache, the password
 * check, recipient resolution, sender ownership, and the brute-force
 * penalty. Functions marked "worker" block and must only run on a worker
 * thread (authd_submit); the rest are for the event loop thread. */

struct authd;

/* What the frontend tells about a login attempt. */
struct authd_login {
	const char *service;         /* "smtp", "imap", "pop3", "sieve", ... */
	const struct netaddr *rip;   /* client address; NULL when unknown */
	bool secured;                /* TLS or a trusted local channel */
	const char *sid;             /* the frontend's session id, for the log */
};

enum authd_verdict {
	AUTHD_LOGIN_OK,
	AUTHD_LOGIN_FAIL,      /* unknown user or wrong password (never said which) */
	AUTHD_LOGIN_DISABLED,  /* account, domain or this service disabled */
	AUTHD_LOGIN_TEMPFAIL,  /* backend unreachable: try again later */
};

/* Worker. Looks the user up (through the cache), checks the password with
 * its scheme or the backend's own means, checks account, domain and
 * service status, and logs one line for every failure with user, service,
 * rip and the reason (fail2ban reads these). On OK fills *user_r
 * (caller frees). Records the outcome for the penalty. */
enum authd_verdict authd_login_verify(struct authd *a, const struct authd_login *login,
				      const char *user, const char *password,
				      struct authd_user *user_r);

/* Loop thread: milliseconds a frontend must wait before answering a
 * failed attempt from rip (0 for trusted networks or a clean record). */
unsigned authd_penalty_delay_for(struct authd *a, const struct netaddr *rip);

/* Run work(ctx) on a worker thread, then done(ctx) on the loop thread. */
void authd_submit(struct authd *a, void (*work)(void *ctx), void (*done)(void *ctx),
		  void *ctx);

/* The authd of a connection's daemon (for protocol sessions). */
struct conn;
struct authd *authd_of_conn(const struct conn *c);

#endif
