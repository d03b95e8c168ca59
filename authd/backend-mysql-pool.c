/* The MySQL backend's servers and connection pool: failover in the
 * configured order, a failed server skipped for retry_interval, a bounded
 * pool shared by the worker threads, prepared statements kept per
 * connection, and one retry on a fresh connection when the server went
 * away under a statement. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysql.h>

#include "backend-mysql.h"
#include "log.h"
#include "xalloc.h"

#define MYSQL_DEFAULT_PORT 3306
/* Values up to this size are fetched in one step; longer ones in two. */
#define MYSQL_CELL_SMALL 256
/* A goto list of a big team alias fits; anything larger is a broken query. */
#define MYSQL_CELL_MAX (1024 * 1024)
#define MYSQL_ROWS_MAX 10000

struct mysql_server {
	char *spec;             /* as configured, for the log */
	char *host;             /* NULL for a socket */
	char *socket;
	unsigned port;
	time_t down_until;      /* monotonic seconds; 0 = not marked down */
};

struct mysql_conn {
	MYSQL *db;
	MYSQL_STMT *stmt[AUTHD_MYSQL_Q_COUNT];
	size_t server;
};

struct authd_mysql_pool {
	struct mysql_server *servers;
	size_t nservers;
	char *user, *password, *database, *tls_ca;
	unsigned connect_timeout, read_timeout, write_timeout, retry_interval, pool_wait;
	unsigned tls, size;

	pthread_mutex_t lock;
	pthread_cond_t cond;    /* a connection became idle or a slot free */
	struct mysql_conn **idle;
	size_t nidle;
	size_t nopen;           /* idle + in use + being opened */
};

static pthread_once_t mysql_once = PTHREAD_ONCE_INIT;
static pthread_key_t mysql_thread_key;
static int mysql_library_status;
static _Thread_local char mysql_errbuf[512];

const char *authd_mysql_error(const char *fmt, ...)
{
	char tmp[sizeof(mysql_errbuf)];
	va_list ap;

	/* Through tmp: an argument may be the previous message itself. */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(mysql_errbuf, tmp, sizeof(tmp));
	return mysql_errbuf;
}

/* The connector wants mysql_thread_end() on every thread that used it; the
 * worker threads are not ours, so a key destructor does it at their exit. */
static void mysql_thread_done(void *unused)
{
	mysql_thread_end();
}

static void mysql_once_init(void)
{
	mysql_library_status = mysql_library_init(0, NULL, NULL);
	if (pthread_key_create(&mysql_thread_key, mysql_thread_done) != 0)
		mysql_library_status = -1;
}

static void mysql_thread_attach(void)
{
	static const char attached = 1;

	if (pthread_getspecific(mysql_thread_key) == NULL) {
		mysql_thread_init();
		pthread_setspecific(mysql_thread_key, &attached);
	}
}

static time_t mysql_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ------------------------------------------------------------ servers */

/* Split spec into host/socket and port; 0 ok, -1 with *error_r. */
static int mysql_server_parse(const char *spec, struct mysql_server *s, const char **error_r)
{
	const char *host = spec, *colon, *end;
	size_t hostlen;

	memset(s, 0, sizeof(*s));
	s->port = MYSQL_DEFAULT_PORT;
	if (spec[0] == '/') {
		s->socket = xstrdup(spec);
		return 0;
	}
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			*error_r = "bad [IPv6] address";
			return -1;
		}
		host = spec + 1;
		hostlen = (size_t)(end - host);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strchr(spec, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			*error_r = "an IPv6 address needs brackets: [addr]:port";
			return -1;
		}
		hostlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	}
	if (hostlen == 0) {
		*error_r = "empty host name";
		return -1;
	}
	if (colon != NULL) {
		char *stop;
		unsigned long port = strtoul(colon + 1, &stop, 10);

		if (colon[1] < '0' || colon[1] > '9' || *stop != '\0' || port == 0 ||
		    port > 65535) {
			*error_r = "port must be 1..65535";
			return -1;
		}
		s->port = (unsigned)port;
	}
	s->host = xstrndup(host, hostlen);
	return 0;
}

static void mysql_server_free(struct mysql_server *s)
{
	free(s->spec);
	free(s->host);
	free(s->socket);
}

int authd_mysql_server_check(const char *spec, const char **error_r)
{
	struct mysql_server s;
	int ret = mysql_server_parse(spec, &s, error_r);

	mysql_server_free(&s);
	return ret;
}

static void mysql_set_options(const struct authd_mysql_pool *p, const struct mysql_server *s,
			      MYSQL *db)
{
	unsigned proto = s->socket != NULL ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	my_bool enforce = p->tls != 0, verify = p->tls == 2, no = 0;

	mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &p->connect_timeout);
	mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &p->read_timeout);
	mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &p->write_timeout);
	mysql_options(db, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* We reconnect ourselves: the connector's would lose the statements. */
	mysql_options(db, MYSQL_OPT_RECONNECT, &no);
	mysql_options(db, MYSQL_OPT_LOCAL_INFILE, &no);
	mysql_options(db, MYSQL_OPT_SSL_ENFORCE, &enforce);
	mysql_options(db, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
	if (p->tls != 0 && p->tls_ca[0] != '\0')
		mysql_options(db, MYSQL_OPT_SSL_CA, p->tls_ca);
}

static MYSQL *mysql_connect_server(const struct authd_mysql_pool *p,
				   const struct mysql_server *s, const char **error_r)
{
	MYSQL *db = mysql_init(NULL);

	if (db == NULL) {
		*error_r = authd_mysql_error("server %s: mysql_init failed", s->spec);
		return NULL;
	}
	mysql_set_options(p, s, db);
	if (mysql_real_connect(db, s->host, p->user, p->password, p->database, s->port,
			       s->socket, 0) == NULL) {
		*error_r = authd_mysql_error("server %s: %s (%u)", s->spec, mysql_error(db),
					     mysql_errno(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

/* Connect to the first server not marked down; mark the ones that fail. */
static int mysql_conn_open(struct authd_mysql_pool *p, struct mysql_conn *c,
			   const char **error_r)
{
	size_t tried = 0;

	for (size_t i = 0; i < p->nservers; i++) {
		struct mysql_server *s = &p->servers[i];
		bool down;

		pthread_mutex_lock(&p->lock);
		down = s->down_until > mysql_now();
		pthread_mutex_unlock(&p->lock);
		if (down)
			continue;
		tried++;
		c->db = mysql_connect_server(p, s, error_r);
		pthread_mutex_lock(&p->lock);
		s->down_until = c->db != NULL ? 0 : mysql_now() + p->retry_interval;
		pthread_mutex_unlock(&p->lock);
		if (c->db != NULL) {
			c->server = i;
			return 0;
		}
		log_warn(NULL, "mysql server failed: %s; skipped for %us", *error_r,
			 p->retry_interval);
	}
	if (tried == 0)
		*error_r = authd_mysql_error("every server failed within the last %us "
					     "(mysql_retry_interval)", p->retry_interval);
	else if (tried < p->nservers || p->nservers > 1)
		*error_r = authd_mysql_error("no server answered; last: %s", *error_r);
	return -1;
}

static void mysql_conn_close(struct mysql_conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < AUTHD_MYSQL_Q_COUNT; i++) {
		if (c->stmt[i] != NULL)
			mysql_stmt_close(c->stmt[i]);
	}
	if (c->db != NULL)
		mysql_close(c->db);
	free(c);
}

/* --------------------------------------------------------------- pool */

int authd_mysql_pool_new(const struct authd_mysql_settings *set,
			 struct authd_mysql_pool **pool_r, const char **error_r)
{
	struct authd_mysql_pool *p;
	pthread_condattr_t attr;

	pthread_once(&mysql_once, mysql_once_init);
	if (mysql_library_status != 0) {
		*error_r = "mysql_library_init failed";
		return -1;
	}
	if (set->nservers == 0) {
		*error_r = "mysql_servers is empty";
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->servers = xcalloc(set->nservers, sizeof(*p->servers));
	for (size_t i = 0; i < set->nservers; i++, p->nservers++) {
		if (mysql_server_parse(set->servers[i], &p->servers[i], error_r) < 0) {
			*error_r = authd_mysql_error("mysql_servers %s: %s", set->servers[i],
						     *error_r);
			authd_mysql_pool_free(p);
			return -1;
		}
		p->servers[i].spec = xstrdup(set->servers[i]);
	}
	p->user = xstrdup(set->user);
	p->password = xstrdup(set->password);
	p->database = xstrdup(set->database);
	p->tls_ca = xstrdup(set->tls_ca);
	p->connect_timeout = set->connect_timeout;
	p->read_timeout = set->read_timeout;
	p->write_timeout = set->write_timeout;
	p->retry_interval = set->retry_interval;
	p->pool_wait = set->pool_wait;
	p->tls = set->tls;
	p->size = set->pool_size;
	p->idle = xcalloc(p->size, sizeof(*p->idle));
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	*pool_r = p;
	return 0;
}

void authd_mysql_pool_free(struct authd_mysql_pool *p)
{
	if (p == NULL)
		return;
	if (p->idle != NULL) {
		for (size_t i = 0; i < p->nidle; i++)
			mysql_conn_close(p->idle[i]);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
	}
	for (size_t i = 0; i < p->nservers; i++)
		mysql_server_free(&p->servers[i]);
	free(p->servers);
	free(p->idle);
	if (p->password != NULL)
		memset(p->password, 0, strlen(p->password));
	free(p->user);
	free(p->password);
	free(p->database);
	free(p->tls_ca);
	free(p);
}

/* Wait (bounded by pool_wait) for an idle connection or a free slot.
 * fresh: never hand out an idle one; close it to free its slot instead.
 * Called and returns with the lock held. */
static int mysql_pool_wait(struct authd_mysql_pool *p, bool fresh, struct mysql_conn **idle_r,
			   const char **error_r)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += p->pool_wait;
	*idle_r = NULL;
	while (p->nidle == 0 && p->nopen >= p->size) {
		int rc = pthread_cond_timedwait(&p->cond, &p->lock, &deadline);

		if (rc == ETIMEDOUT && p->nidle == 0 && p->nopen >= p->size) {
			*error_r = authd_mysql_error("all %u connections busy for %us "
						     "(mysql_pool_size, mysql_pool_wait)",
						     p->size, p->pool_wait);
			return -1;
		}
	}
	if (p->nidle > 0 && (!fresh || p->nopen >= p->size)) {
		*idle_r = p->idle[--p->nidle];
		if (!fresh)
			return 0;
		p->nopen--;  /* the stale one gives its slot to the fresh one */
	}
	p->nopen++;
	return 0;
}

static int mysql_pool_get(struct authd_mysql_pool *p, bool fresh, struct mysql_conn **conn_r,
			  const char **error_r)
{
	struct mysql_conn *c;

	mysql_thread_attach();
	pthread_mutex_lock(&p->lock);
	if (mysql_pool_wait(p, fresh, &c, error_r) < 0) {
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (c != NULL && !fresh) {
		*conn_r = c;
		return 0;
	}
	mysql_conn_close(c);
	c = xcalloc(1, sizeof(*c));
	if (mysql_conn_open(p, c, error_r) < 0) {
		mysql_conn_close(c);
		pthread_mutex_lock(&p->lock);
		p->nopen--;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	*conn_r = c;
	return 0;
}

/* Back to the pool, or closed when it is no longer trusted. */
static void mysql_pool_put(struct authd_mysql_pool *p, struct mysql_conn *c, bool keep)
{
	pthread_mutex_lock(&p->lock);
	if (keep)
		p->idle[p->nidle++] = c;
	else
		p->nopen--;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (!keep)
		mysql_conn_close(c);
}

/* ---------------------------------------------------------- statements */

struct mysql_fetch {
	size_t ncols;
	MYSQL_BIND *bind;
	char *small;            /* ncols * MYSQL_CELL_SMALL */
	unsigned long *len;
	my_bool *null, *err;
};

static void mysql_fetch_init(struct mysql_fetch *f, size_t ncols)
{
	f->ncols = ncols;
	f->bind = xcalloc(ncols, sizeof(*f->bind));
	f->small = xcalloc(ncols, MYSQL_CELL_SMALL);
	f->len = xcalloc(ncols, sizeof(*f->len));
	f->null = xcalloc(ncols, sizeof(*f->null));
	f->err = xcalloc(ncols, sizeof(*f->err));
	for (size_t i = 0; i < ncols; i++) {
		f->bind[i].buffer_type = MYSQL_TYPE_STRING;
		f->bind[i].buffer = f->small + i * MYSQL_CELL_SMALL;
		f->bind[i].buffer_length = MYSQL_CELL_SMALL;
		f->bind[i].length = &f->len[i];
		f->bind[i].is_null = &f->null[i];
		f->bind[i].error = &f->err[i];
	}
}

static void mysql_fetch_free(struct mysql_fetch *f)
{
	free(f->bind);
	free(f->small);
	free(f->len);
	free(f->null);
	free(f->err);
}

/* One cell of the fetched row as a new string (NULL for SQL NULL). */
static int mysql_fetch_cell(MYSQL_STMT *stmt, struct mysql_fetch *f, size_t col, char **cell_r,
			    const char **error_r)
{
	MYSQL_BIND big;
	unsigned long len = f->len[col];

	*cell_r = NULL;
	if (f->null[col])
		return 0;
	if (len < MYSQL_CELL_SMALL) {
		*cell_r = xstrndup(f->small + col * MYSQL_CELL_SMALL, len);
		return 0;
	}
	if (len > MYSQL_CELL_MAX) {
		*error_r = authd_mysql_error("a value of %lu bytes (limit %d)", len, MYSQL_CELL_MAX);
		return -1;
	}
	memset(&big, 0, sizeof(big));
	big.buffer_type = MYSQL_TYPE_STRING;
	big.buffer = xmalloc(len + 1);
	big.buffer_length = len + 1;
	big.length = &len;
	if (mysql_stmt_fetch_column(stmt, &big, (unsigned)col, 0) != 0) {
		*error_r = authd_mysql_error("%s", mysql_stmt_error(stmt));
		free(big.buffer);
		return -1;
	}
	((char *)big.buffer)[len] = '\0';
	*cell_r = big.buffer;
	return 0;
}

static int mysql_fetch_rows(MYSQL_STMT *stmt, struct mysql_fetch *f,
			    struct authd_mysql_rows *rows, unsigned *errno_r, const char **error_r)
{
	for (;;) {
		int rc = mysql_stmt_fetch(stmt);

		if (rc == MYSQL_NO_DATA)
			return 0;
		if (rc == 1) {
			*errno_r = mysql_stmt_errno(stmt);
			*error_r = authd_mysql_error("%s (%u)", mysql_stmt_error(stmt), *errno_r);
			return -1;
		}
		if (rows->nrows == MYSQL_ROWS_MAX) {
			*error_r = authd_mysql_error("more than %d rows", MYSQL_ROWS_MAX);
			return -1;
		}
		rows->cells = xreallocarray(rows->cells, (rows->nrows + 1) * f->ncols,
					    sizeof(*rows->cells));
		for (size_t i = 0; i < f->ncols; i++) {
			char **cell = &rows->cells[rows->nrows * f->ncols + i];

			if (mysql_fetch_cell(stmt, f, i, cell, error_r) < 0) {
				for (size_t j = 0; j < i; j++)
					free(rows->cells[rows->nrows * f->ncols + j]);
				return -1;
			}
		}
		rows->nrows++;
	}
}

static MYSQL_STMT *mysql_conn_stmt(struct mysql_conn *c, const struct authd_mysql_query *q,
				   unsigned *errno_r, const char **error_r)
{
	MYSQL_STMT *stmt = c->stmt[q->id];

	if (stmt != NULL)
		return stmt;
	stmt = mysql_stmt_init(c->db);
	if (stmt == NULL) {
		*errno_r = mysql_errno(c->db);
		*error_r = authd_mysql_error("mysql_stmt_init: %s", mysql_error(c->db));
		return NULL;
	}
	if (mysql_stmt_prepare(stmt, q->sql, strlen(q->sql)) != 0) {
		*errno_r = mysql_stmt_errno(stmt);
		*error_r = authd_mysql_error("prepare: %s (%u)", mysql_stmt_error(stmt), *errno_r);
		mysql_stmt_close(stmt);
		return NULL;
	}
	if (mysql_stmt_param_count(stmt) != q->nparams) {
		*error_r = authd_mysql_error("the server counts %lu parameters, the query has %zu "
					     "placeholders (a literal '?'?)",
					     mysql_stmt_param_count(stmt), q->nparams);
		mysql_stmt_close(stmt);
		return NULL;
	}
	c->stmt[q->id] = stmt;
	return stmt;
}

static int mysql_stmt_run(MYSQL_STMT *stmt, const struct authd_mysql_query *q,
			  const char *const values[], unsigned *errno_r, const char **error_r)
{
	MYSQL_BIND params[AUTHD_MYSQL_PARAMS_MAX];
	unsigned long lens[AUTHD_MYSQL_PARAMS_MAX];

	memset(params, 0, sizeof(params));
	for (size_t i = 0; i < q->nparams; i++) {
		const char *v = values[q->params[i]];

		lens[i] = strlen(v);
		params[i].buffer_type = MYSQL_TYPE_STRING;
		params[i].buffer = (void *)v;
		params[i].buffer_length = lens[i];
		params[i].length = &lens[i];
	}
	if ((q->nparams > 0 && mysql_stmt_bind_param(stmt, params) != 0) ||
	    mysql_stmt_execute(stmt) != 0) {
		*errno_r = mysql_stmt_errno(stmt);
		*error_r = authd_mysql_error("%s (%u)", mysql_stmt_error(stmt), *errno_r);
		return -1;
	}
	return 0;
}

/* Execute q on c and collect its rows; -1 with *errno_r when the
 * connector gave an error number. */
static int mysql_conn_query(struct mysql_conn *c, const struct authd_mysql_query *q,
			    const char *const values[], struct authd_mysql_rows *rows,
			    unsigned *errno_r, const char **error_r)
{
	MYSQL_STMT *stmt = mysql_conn_stmt(c, q, errno_r, error_r);
	MYSQL_RES *meta;
	MYSQL_FIELD *fields;
	struct mysql_fetch f;
	int ret = -1;

	if (stmt == NULL || mysql_stmt_run(stmt, q, values, errno_r, error_r) < 0)
		return -1;
	meta = mysql_stmt_result_metadata(stmt);
	if (meta == NULL) {
		*error_r = "the query returns no rows (not a SELECT?)";
		mysql_stmt_free_result(stmt);
		return -1;
	}
	fields = mysql_fetch_fields(meta);
	rows->ncols = mysql_num_fields(meta);
	rows->names = xcalloc(rows->ncols, sizeof(*rows->names));
	for (size_t i = 0; i < rows->ncols; i++)
		rows->names[i] = xstrdup(fields[i].name);
	mysql_fetch_init(&f, rows->ncols);
	if (mysql_stmt_bind_result(stmt, f.bind) != 0) {
		*errno_r = mysql_stmt_errno(stmt);
		*error_r = authd_mysql_error("bind result: %s", mysql_stmt_error(stmt));
	} else {
		ret = mysql_fetch_rows(stmt, &f, rows, errno_r, error_r);
	}
	mysql_fetch_free(&f);
	mysql_free_result(meta);
	mysql_stmt_free_result(stmt);
	return ret;
}

static bool mysql_errno_gone(unsigned err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	       err == CR_SERVER_LOST_EXTENDED;
}

void authd_mysql_rows_free(struct authd_mysql_rows *rows)
{
	for (size_t i = 0; i < rows->nrows * rows->ncols; i++)
		free(rows->cells[i]);
	for (size_t i = 0; i < rows->ncols; i++)
		free(rows->names[i]);
	free(rows->cells);
	free(rows->names);
	memset(rows, 0, sizeof(*rows));
}

enum authd_status authd_mysql_pool_run(struct authd_mysql_pool *p,
				       const struct authd_mysql_query *q,
				       const char *const values[AUTHD_MYSQL_P_COUNT],
				       struct authd_mysql_rows *rows_r, const char **error_r)
{
	memset(rows_r, 0, sizeof(*rows_r));
	for (int attempt = 0; attempt < 2; attempt++) {
		struct mysql_conn *c;
		unsigned err = 0;
		size_t server;

		if (mysql_pool_get(p, attempt > 0, &c, error_r) < 0)
			return AUTHD_TEMPFAIL;
		server = c->server;
		if (mysql_conn_query(c, q, values, rows_r, &err, error_r) == 0) {
			mysql_pool_put(p, c, true);
			return AUTHD_OK;
		}
		authd_mysql_rows_free(rows_r);
		/* After any error the connection's state is unknown: drop it. */
		mysql_pool_put(p, c, false);
		*error_r = authd_mysql_error("server %s: %s", p->servers[server].spec, *error_r);
		if (!mysql_errno_gone(err))
			break;
		if (attempt == 0)
			log_info(NULL, "mysql connection lost: %s; retrying on a new connection",
				 *error_r);
	}
	return AUTHD_TEMPFAIL;
}
