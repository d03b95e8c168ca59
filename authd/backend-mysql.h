#ifndef MR_AUTHD_BACKEND_MYSQL_H
#define MR_AUTHD_BACKEND_MYSQL_H

#include <stddef.h>

#include "backend.h"

/* Internals of the MySQL/MariaDB backend, shared by backend-mysql.c (the
 * lookups and what result columns mean) and backend-mysql-pool.c (servers,
 * connections, prepared statements). */

enum authd_mysql_query_id {
	AUTHD_MYSQL_Q_USER,
	AUTHD_MYSQL_Q_ALIAS,
	AUTHD_MYSQL_Q_DOMAIN,
	AUTHD_MYSQL_Q_SENDER,
	AUTHD_MYSQL_Q_COUNT,
};

/* What a placeholder stands for; index into the values of a lookup. */
enum authd_mysql_param {
	AUTHD_MYSQL_P_ADDR,    /* %u */
	AUTHD_MYSQL_P_LOCAL,   /* %l */
	AUTHD_MYSQL_P_DOMAIN,  /* %d */
	AUTHD_MYSQL_P_SENDER,  /* %s */
	AUTHD_MYSQL_P_COUNT,
};

#define AUTHD_MYSQL_PARAMS_MAX 16

/* A configured query, its placeholders already turned into '?'. */
struct authd_mysql_query {
	enum authd_mysql_query_id id;  /* each connection prepares it once */
	char *sql;
	enum authd_mysql_param params[AUTHD_MYSQL_PARAMS_MAX];
	size_t nparams;
};

/* Parse a query template: %u %l %d %s become '?' parameters (only those
 * in `allowed`, a mask of 1 << AUTHD_MYSQL_P_*), %% a literal '%'. A
 * placeholder inside a quoted string or identifier, a literal '?', or any
 * other %-sequence is an error. */
int authd_mysql_query_parse(const char *tmpl, unsigned allowed, struct authd_mysql_query *q,
			    const char **error_r);
void authd_mysql_query_free(struct authd_mysql_query *q);

/* Every row of one result, each cell a string or NULL for SQL NULL. */
struct authd_mysql_rows {
	size_t ncols, nrows;
	char **names;    /* ncols column names (the AS name) */
	char **cells;    /* nrows * ncols, row-major */
};

void authd_mysql_rows_free(struct authd_mysql_rows *rows);
static inline const char *authd_mysql_cell(const struct authd_mysql_rows *rows, size_t row,
					   size_t col)
{
	return rows->cells[row * rows->ncols + col];
}

/* The pool's settings, filled from the configuration by backend-mysql.c. */
struct authd_mysql_settings {
	const char *const *servers;   /* "host[:port]", "[v6]:port" or "/socket" */
	size_t nservers;
	const char *user, *password, *database;
	unsigned connect_timeout, read_timeout, write_timeout, retry_interval, pool_wait;
	unsigned tls;                 /* 0 none, 1 required, 2 verify */
	const char *tls_ca;
	unsigned pool_size;
};

struct authd_mysql_pool;

/* Checks a servers entry (the config table's validator uses it too). */
int authd_mysql_server_check(const char *spec, const char **error_r);
/* Copies what it needs from settings; connects lazily on first use. */
int authd_mysql_pool_new(const struct authd_mysql_settings *set,
			 struct authd_mysql_pool **pool_r, const char **error_r);
/* No lookup may still be running. */
void authd_mysql_pool_free(struct authd_mysql_pool *pool);

/* Run one prepared query with values (indexed by AUTHD_MYSQL_P_*) on a
 * pooled connection. A lost connection is retried once on a fresh one.
 * OK fills rows_r (caller frees); TEMPFAIL says why in *error_r (a
 * per-thread buffer, valid until this thread's next lookup). */
enum authd_status authd_mysql_pool_run(struct authd_mysql_pool *pool,
				       const struct authd_mysql_query *q,
				       const char *const values[AUTHD_MYSQL_P_COUNT],
				       struct authd_mysql_rows *rows_r, const char **error_r);

/* printf into this thread's error buffer; returns it. */
const char *authd_mysql_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
