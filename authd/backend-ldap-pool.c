#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backend-ldap-pool.h"
#include "xalloc.h"

struct authd_ldap_conn {
	LDAP *ld;       /* NULL until connected, and after a failure */
	bool busy;
};

struct authd_ldap_pool {
	struct authd_ldap_pool_settings set;  /* strings owned by the pool */
	char **uris;
	time_t *down_until;                   /* per URI, monotonic seconds */
	struct authd_ldap_conn *conns;
	pthread_mutex_t lock;
	pthread_cond_t freed;
};

const char *authd_ldap_errorf(const char *fmt, ...)
{
	static _Thread_local char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return msg;
}

bool authd_ldap_rc_is_outage(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_TIMEOUT:
	case LDAP_CONNECT_ERROR:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_LOCAL_ERROR:
	case LDAP_ENCODING_ERROR:
	case LDAP_DECODING_ERROR:
	case LDAP_NO_MEMORY:
		return true;
	default:
		return false;
	}
}

static time_t pool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

struct authd_ldap_pool *authd_ldap_pool_new(const struct authd_ldap_pool_settings *set)
{
	struct authd_ldap_pool *pool = xcalloc(1, sizeof(*pool));
	pthread_condattr_t attr;

	pool->set = *set;
	pool->uris = xcalloc(set->uri_count, sizeof(*pool->uris));
	for (size_t i = 0; i < set->uri_count; i++)
		pool->uris[i] = xstrdup(set->uris[i]);
	pool->set.uris = (const char *const *)pool->uris;
	pool->set.tls_ca = xstrdup(set->tls_ca);
	pool->set.bind_dn = xstrdup(set->bind_dn);
	pool->set.bind_password = xstrdup(set->bind_password);
	pool->down_until = xcalloc(set->uri_count, sizeof(*pool->down_until));
	pool->conns = xcalloc(set->size, sizeof(*pool->conns));
	pthread_mutex_init(&pool->lock, NULL);
	/* Waits are bounded in monotonic time, immune to clock changes. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->freed, &attr);
	pthread_condattr_destroy(&attr);
	return pool;
}

void authd_ldap_pool_free(struct authd_ldap_pool *pool)
{
	if (pool == NULL)
		return;
	for (size_t i = 0; i < pool->set.size; i++) {
		if (pool->conns[i].ld != NULL)
			ldap_unbind_ext_s(pool->conns[i].ld, NULL, NULL);
	}
	for (size_t i = 0; i < pool->set.uri_count; i++)
		free(pool->uris[i]);
	free(pool->uris);
	free((char *)pool->set.tls_ca);
	if (pool->set.bind_password[0] != '\0')
		memset((char *)pool->set.bind_password, 0, strlen(pool->set.bind_password));
	free((char *)pool->set.bind_password);
	free((char *)pool->set.bind_dn);
	free(pool->down_until);
	free(pool->conns);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

static int pool_simple_bind(LDAP *ld, const char *dn, const char *password)
{
	struct berval cred = { .bv_val = (char *)password, .bv_len = strlen(password) };

	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

static int pool_set_options(const struct authd_ldap_pool_settings *set, LDAP *ld,
			    bool tls)
{
	struct timeval tv = { .tv_sec = set->timeout };
	int version = LDAP_VERSION3;
	int rc = LDAP_SUCCESS;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
		return LDAP_LOCAL_ERROR;
	if (!tls)
		return LDAP_SUCCESS;
	/* Per-handle TLS settings take effect through a new context. */
	if (set->tls_ca[0] != '\0')
		rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, set->tls_ca);
	if (rc == LDAP_OPT_SUCCESS)
		rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &set->tls_require_cert);
	if (rc == LDAP_OPT_SUCCESS) {
		int is_server = 0;

		rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
	}
	return rc == LDAP_OPT_SUCCESS ? LDAP_SUCCESS : LDAP_LOCAL_ERROR;
}

/* One URI: initialize, TLS, service bind. */
static int pool_open(const struct authd_ldap_pool_settings *set, const char *uri,
		     LDAP **ld_r, const char **error_r)
{
	bool ldaps = strncasecmp(uri, "ldaps://", 8) == 0;
	LDAP *ld = NULL;
	const char *step = "initialize";
	int rc = ldap_initialize(&ld, uri);

	if (rc == LDAP_SUCCESS) {
		step = "options";
		rc = pool_set_options(set, ld, ldaps || set->starttls);
	}
	if (rc == LDAP_SUCCESS && set->starttls && !ldaps) {
		step = "StartTLS";
		rc = ldap_start_tls_s(ld, NULL, NULL);
	}
	if (rc == LDAP_SUCCESS) {
		step = "bind";
		rc = pool_simple_bind(ld, set->bind_dn, set->bind_password);
	}
	if (rc != LDAP_SUCCESS) {
		*error_r = authd_ldap_errorf("%s: %s: %s", uri, step, ldap_err2string(rc));
		if (ld != NULL)
			ldap_unbind_ext_s(ld, NULL, NULL);
		return -1;
	}
	*ld_r = ld;
	return 0;
}

/* URIs in the order to try: those not recently failed first, in
 * configured order, then the failed ones as a last resort. */
static size_t *pool_uri_order(struct authd_ldap_pool *pool)
{
	size_t n = pool->set.uri_count, k = 0;
	size_t *order = xcalloc(n, sizeof(*order));
	time_t now = pool_now();

	pthread_mutex_lock(&pool->lock);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if ((pool->down_until[i] <= now) == (pass == 0))
				order[k++] = i;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	return order;
}

static void pool_mark(struct authd_ldap_pool *pool, size_t uri, bool ok)
{
	pthread_mutex_lock(&pool->lock);
	pool->down_until[uri] = ok ? 0 : pool_now() + (time_t)pool->set.retry_interval;
	pthread_mutex_unlock(&pool->lock);
}

static int pool_connect(struct authd_ldap_pool *pool, struct authd_ldap_conn *conn,
			const char **error_r)
{
	size_t *order = pool_uri_order(pool);
	int ret = -1;

	for (size_t k = 0; k < pool->set.uri_count && ret < 0; k++) {
		size_t i = order[k];

		ret = pool_open(&pool->set, pool->uris[i], &conn->ld, error_r);
		pool_mark(pool, i, ret == 0);
	}
	free(order);
	return ret;
}

int authd_ldap_pool_get(struct authd_ldap_pool *pool, struct authd_ldap_conn **conn_r,
			const char **error_r)
{
	struct authd_ldap_conn *conn = NULL;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += pool->set.timeout;
	pthread_mutex_lock(&pool->lock);
	while (conn == NULL) {
		for (size_t i = 0; i < pool->set.size && conn == NULL; i++) {
			if (!pool->conns[i].busy)
				conn = &pool->conns[i];
		}
		if (conn == NULL &&
		    pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT)
			break;
	}
	if (conn != NULL)
		conn->busy = true;
	pthread_mutex_unlock(&pool->lock);
	if (conn == NULL) {
		*error_r = authd_ldap_errorf("no free LDAP connection within %us",
					     pool->set.timeout);
		return -1;
	}
	if (conn->ld == NULL && pool_connect(pool, conn, error_r) < 0) {
		authd_ldap_pool_put(pool, conn, true);
		return -1;
	}
	*conn_r = conn;
	return 0;
}

void authd_ldap_pool_put(struct authd_ldap_pool *pool, struct authd_ldap_conn *conn,
			 bool broken)
{
	/* Unbinding may wait on the network, so it happens outside the lock:
	 * the slot stays busy until then. */
	if (broken && conn->ld != NULL) {
		ldap_unbind_ext_s(conn->ld, NULL, NULL);
		conn->ld = NULL;
	}
	pthread_mutex_lock(&pool->lock);
	conn->busy = false;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

LDAP *authd_ldap_conn_handle(const struct authd_ldap_conn *conn)
{
	return conn->ld;
}

int authd_ldap_conn_bind_as(struct authd_ldap_pool *pool, struct authd_ldap_conn *conn,
			    const char *dn, const char *password, bool *broken_r)
{
	int rc = pool_simple_bind(conn->ld, dn, password);

	*broken_r = authd_ldap_rc_is_outage(rc) ||
		pool_simple_bind(conn->ld, pool->set.bind_dn, pool->set.bind_password) !=
		LDAP_SUCCESS;
	return rc;
}
