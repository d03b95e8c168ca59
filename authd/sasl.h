#ifndef MR_AUTHD_SASL_H
#define MR_AUTHD_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "authd.h"

/* SASL exchanges through Cyrus SASL's server API. Cyrus runs the
 * mechanisms (PLAIN, LOGIN); the password check goes back to authd's own
 * backends through the checkpass callback (authd_login_verify), never to
 * sasldb or an auxprop plugin. */

struct authd_sasl;

enum authd_sasl_result {
	AUTHD_SASL_CONTINUE,  /* send the challenge, wait for the client */
	AUTHD_SASL_OK,        /* authenticated: authd_sasl_user() */
	AUTHD_SASL_FAIL,      /* bad credentials, disabled account, bad exchange */
	AUTHD_SASL_TEMPFAIL,  /* the backend could not answer */
};

/* Once per process, before any exchange (loop thread); idempotent. */
int authd_sasl_init(const char **error_r);
/* Mechanisms Cyrus loaded among those we offer, space-separated
 * ("PLAIN LOGIN"); "" before init. */
const char *authd_sasl_mechs(void);
/* Whether mech (any case) is one authd_sasl_mechs() names. */
bool authd_sasl_mech_known(const char *mech);

/* Loop thread: a new exchange for login (copied). NULL with error_r when
 * Cyrus refuses. */
struct authd_sasl *authd_sasl_new(struct authd *a, const struct authd_login *login,
				  const char *mech, const char **error_r);
/* Worker: one step. The first call starts the exchange (in may be NULL:
 * no initial response). On CONTINUE *out_r and *outlen_r hold the challenge
 * (valid until the next step). One step at a time per exchange. */
enum authd_sasl_result authd_sasl_step(struct authd_sasl *s, const void *in, size_t inlen,
				       const char **out_r, size_t *outlen_r);
/* After OK: the canonical user (as the backend stores it). */
const char *authd_sasl_user(const struct authd_sasl *s);
/* After FAIL: a reason for the log, NULL when the core already logged. */
const char *authd_sasl_error(const struct authd_sasl *s);
/* After AUTHD_SASL_FAIL: the password was right but the account, its
 * domain or the service is disabled. */
bool authd_sasl_disabled(const struct authd_sasl *s);
void authd_sasl_free(struct authd_sasl *s);

#endif
