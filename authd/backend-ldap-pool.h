#ifndef MR_AUTHD_BACKEND_LDAP_POOL_H
#define MR_AUTHD_BACKEND_LDAP_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include <ldap.h>

/* A fixed number of LDAP connections shared by authd's worker threads.
 * A libldap handle must not be used by two threads at once, so each
 * request borrows one handle for its duration. Handles connect lazily,
 * trying the URIs in order; a URI that failed is tried last for
 * retry_interval seconds. A borrowed handle is bound as the service
 * account (or anonymously when bind_dn is empty). */

struct authd_ldap_pool_settings {
	const char *const *uris;
	size_t uri_count;
	bool starttls;             /* StartTLS on ldap:// URIs; never falls back */
	const char *tls_ca;        /* CA file; "" for the system default */
	int tls_require_cert;      /* LDAP_OPT_X_TLS_NEVER ... _HARD */
	const char *bind_dn;
	const char *bind_password;
	unsigned timeout;          /* seconds, for connect, bind and search */
	unsigned retry_interval;   /* seconds a failed URI goes to the back */
	size_t size;
};

struct authd_ldap_pool;
struct authd_ldap_conn;

/* Copies the settings; connects nothing yet. */
struct authd_ldap_pool *authd_ldap_pool_new(const struct authd_ldap_pool_settings *set);
void authd_ldap_pool_free(struct authd_ldap_pool *pool);

/* Borrow a connected, service-bound handle, waiting at most the timeout
 * for a free one. -1 with the reason when no server could be reached. */
int authd_ldap_pool_get(struct authd_ldap_pool *pool, struct authd_ldap_conn **conn_r,
			const char **error_r);
/* Give it back; broken closes the handle so the next borrower reconnects. */
void authd_ldap_pool_put(struct authd_ldap_pool *pool, struct authd_ldap_conn *conn,
			 bool broken);
LDAP *authd_ldap_conn_handle(const struct authd_ldap_conn *conn);

/* A simple bind as dn on the borrowed handle, then back to the service
 * account. Returns the LDAP result code of the first bind; *broken_r is
 * set when the handle could not be restored (the caller passes it to
 * authd_ldap_pool_put). */
int authd_ldap_conn_bind_as(struct authd_ldap_pool *pool, struct authd_ldap_conn *conn,
			    const char *dn, const char *password, bool *broken_r);

/* Result codes that mean "the server or the connection failed" rather
 * than an answer about the directory's content. */
bool authd_ldap_rc_is_outage(int rc);

/* A message for error_r, in thread-local storage (valid until the next
 * call on this thread). */
const char *authd_ldap_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
