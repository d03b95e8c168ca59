/* backend = mysql: users, aliases, domains and send-as grants from MySQL
 * or MariaDB through prepared statements. Each lookup runs one configured
 * query; its placeholders are bound as parameters, never pasted into the
 * SQL, and its result columns are read by name, so admins can point the
 * queries at another schema. The pool and the servers are in
 * backend-mysql-pool.c. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backend-mysql.h"
#include "buf.h"
#include "config.h"
#include "xalloc.h"

#define MYSQL_P_LOOKUP ((1u << AUTHD_MYSQL_P_ADDR) | (1u << AUTHD_MYSQL_P_LOCAL) | \
			(1u << AUTHD_MYSQL_P_DOMAIN))
#define MYSQL_P_SENDER (MYSQL_P_LOOKUP | (1u << AUTHD_MYSQL_P_SENDER))

/* The defaults read the PostfixAdmin tables of sql/schema.sql with the
 * columns of sql/mailroom-extras.sql. */
#define MYSQL_DEFAULT_USER_QUERY \
	"SELECT m.username AS user, m.password, m.maildir, m.quota AS quota_bytes, " \
	"m.active, COALESCE(d.active, 0) AS domain_active, m.smtp_active, m.enable_imap, " \
	"m.enable_pop3, m.enable_deliver FROM mailbox m " \
	"LEFT JOIN domain d ON d.domain = m.domain WHERE m.username = %u"
#define MYSQL_DEFAULT_ALIAS_QUERY \
	"SELECT goto AS targets FROM alias WHERE address = %u AND active = 1"
#define MYSQL_DEFAULT_DOMAIN_QUERY \
	"SELECT d.backupmx = 0 AS hosted, d.active, d.backupmx AS relay, " \
	"ad.target_domain AS alias_target FROM domain d " \
	"LEFT JOIN alias_domain ad ON ad.alias_domain = d.domain AND ad.active = 1 " \
	"WHERE d.domain = %d AND d.domain <> 'ALL'"
#define MYSQL_DEFAULT_SENDER_QUERY \
	"SELECT 1 AS granted FROM sender_acl WHERE login = %u AND sender = %s AND active = 1"

struct authd_backend {
	struct authd_mysql_pool *pool;
	struct authd_mysql_query queries[AUTHD_MYSQL_Q_COUNT];
};

/* ------------------------------------------------------ query templates */

static const char mysql_placeholders[AUTHD_MYSQL_P_COUNT] = { 'u', 'l', 'd', 's' };

static int mysql_placeholder(char c, unsigned allowed, enum authd_mysql_param *param_r,
			     const char **error_r)
{
	for (unsigned i = 0; i < AUTHD_MYSQL_P_COUNT; i++) {
		if (mysql_placeholders[i] != c)
			continue;
		if ((allowed & (1u << i)) == 0) {
			*error_r = "%s (the sender) is only known to mysql_sender_query";
			return -1;
		}
		*param_r = (enum authd_mysql_param)i;
		return 0;
	}
	*error_r = "unknown placeholder: use %u, %l, %d, %s or %% for a '%'";
	return -1;
}

int authd_mysql_query_parse(const char *tmpl, unsigned allowed, struct authd_mysql_query *q,
			    const char **error_r)
{
	struct buf out;
	char quote = 0;

	memset(q, 0, sizeof(*q));
	buf_init(&out, strlen(tmpl) + 1);
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (quote != 0) {
			/* Inside '...', "..." or `...`: a backslash escapes the next byte. */
			if (*p == '\\' && quote != '`' && p[1] != '\0')
				buf_append(&out, p++, 1);
			else if (*p == quote)
				quote = 0;
			else if (*p == '%' && p[1] != '%' && p[1] != '\0') {
				*error_r = "a placeholder inside quotes would not be bound: "
					   "write %u, not '%u'";
				goto fail;
			}
			buf_append(&out, p, 1);
			continue;
		}
		if (*p == '\'' || *p == '"' || *p == '`') {
			quote = *p;
		} else if (*p == '?') {
			*error_r = "a literal '?' is not allowed (placeholders are %u, %l, %d, %s)";
			goto fail;
		} else if (*p == '%') {
			if (p[1] == '%') {
				buf_append(&out, p++, 1);
				continue;
			}
			if (q->nparams == AUTHD_MYSQL_PARAMS_MAX) {
				*error_r = "too many placeholders";
				goto fail;
			}
			if (mysql_placeholder(p[1], allowed, &q->params[q->nparams], error_r) < 0)
				goto fail;
			q->nparams++;
			buf_append(&out, "?", 1);
			p++;
			continue;
		}
		buf_append(&out, p, 1);
	}
	if (quote != 0) {
		*error_r = "unterminated quote";
		goto fail;
	}
	q->sql = buf_steal(&out);
	buf_free(&out);
	return 0;
fail:
	buf_free(&out);
	return -1;
}

void authd_mysql_query_free(struct authd_mysql_query *q)
{
	free(q->sql);
	memset(q, 0, sizeof(*q));
}

/* ------------------------------------------------------- configuration */

static int mysql_check_server(const char *value, const char **error_r)
{
	return authd_mysql_server_check(value, error_r);
}

static int mysql_check_query(const char *value, unsigned allowed, const char **error_r)
{
	struct authd_mysql_query q;

	if (authd_mysql_query_parse(value, allowed, &q, error_r) < 0)
		return -1;
	authd_mysql_query_free(&q);
	return 0;
}

static int mysql_check_lookup_query(const char *value, const char **error_r)
{
	return mysql_check_query(value, MYSQL_P_LOOKUP, error_r);
}

static int mysql_check_sender_query(const char *value, const char **error_r)
{
	return mysql_check_query(value, MYSQL_P_SENDER, error_r);
}

static const struct cfg_def mysql_defs[] = {
	{ .name = "mysql_servers", .type = CFG_LIST, .def = "127.0.0.1:3306",
	  .validate = mysql_check_server,
	  .help = "Database server, host[:port], [IPv6]:port or a UNIX socket path; "
		  "repeat for failover, tried in order." },
	{ .name = "mysql_retry_interval", .type = CFG_TIME, .def = "30s", .min = 1, .max = 3600,
	  .help = "Skip a server this long after it failed to connect." },
	{ .name = "mysql_user", .type = CFG_STR, .def = "mailroom",
	  .help = "Database user (read-only access is enough)." },
	{ .name = "mysql_password", .type = CFG_STR, .def = NULL,
	  .help = "Password of mysql_user." },
	{ .name = "mysql_database", .type = CFG_STR, .def = "mail",
	  .help = "Database holding the mail tables." },
	{ .name = "mysql_connect_timeout", .type = CFG_TIME, .def = "5s", .min = 1, .max = 600,
	  .help = "Give up connecting to one server after this long." },
	{ .name = "mysql_read_timeout", .type = CFG_TIME, .def = "10s", .min = 1, .max = 600,
	  .help = "Give up waiting for a server's answer after this long." },
	{ .name = "mysql_write_timeout", .type = CFG_TIME, .def = "10s", .min = 1, .max = 600,
	  .help = "Give up sending to a server after this long." },
	{ .name = "mysql_tls", .type = CFG_ENUM, .def = "none", .choices = "none|required|verify",
	  .help = "TLS to the server: none, required (encrypted), verify (and check its "
		  "certificate and name)." },
	{ .name = "mysql_tls_ca", .type = CFG_STR, .def = NULL,
	  .help = "CA certificates (PEM file) for mysql_tls = verify; empty: the system's." },
	{ .name = "mysql_pool_size", .type = CFG_INT, .def = "4", .min = 1, .max = 256,
	  .help = "Connections kept open; lookups beyond it wait for a free one." },
	{ .name = "mysql_pool_wait", .type = CFG_TIME, .def = "10s", .min = 1, .max = 600,
	  .help = "Longest wait for a free connection before a lookup fails temporarily." },
	{ .name = "mysql_user_query", .type = CFG_STR, .def = MYSQL_DEFAULT_USER_QUERY,
	  .validate = mysql_check_lookup_query,
	  .help = "Mailbox by address (%u address, %l local part, %d domain); columns "
		  "by name, see docs/authd-mysql.md." },
	{ .name = "mysql_alias_query", .type = CFG_STR, .def = MYSQL_DEFAULT_ALIAS_QUERY,
	  .validate = mysql_check_lookup_query,
	  .help = "Targets of an active alias (%u address or @domain); column targets." },
	{ .name = "mysql_domain_query", .type = CFG_STR, .def = MYSQL_DEFAULT_DOMAIN_QUERY,
	  .validate = mysql_check_lookup_query,
	  .help = "A domain (%d); columns hosted, active, relay, alias_target." },
	{ .name = "mysql_sender_query", .type = CFG_STR, .def = MYSQL_DEFAULT_SENDER_QUERY,
	  .validate = mysql_check_sender_query,
	  .help = "Any row: login %u may send as %s (an address or @domain); "
		  "empty: no grants." },
};

static const char *const mysql_query_keys[AUTHD_MYSQL_Q_COUNT] = {
	"mysql_user_query", "mysql_alias_query", "mysql_domain_query", "mysql_sender_query",
};

static void mysql_backend_free(struct authd_backend *b)
{
	authd_mysql_pool_free(b->pool);
	for (size_t i = 0; i < AUTHD_MYSQL_Q_COUNT; i++)
		authd_mysql_query_free(&b->queries[i]);
	free(b);
}

static int mysql_init_queries(struct authd_backend *b, const struct cfg *cfg,
			      const char **error_r)
{
	for (size_t i = 0; i < AUTHD_MYSQL_Q_COUNT; i++) {
		unsigned allowed = i == AUTHD_MYSQL_Q_SENDER ? MYSQL_P_SENDER : MYSQL_P_LOOKUP;
		const char *tmpl = cfg_str(cfg, mysql_query_keys[i]);

		if (i == AUTHD_MYSQL_Q_SENDER && tmpl[0] == '\0')
			continue;
		if (authd_mysql_query_parse(tmpl, allowed, &b->queries[i], error_r) < 0) {
			*error_r = authd_mysql_error("%s: %s", mysql_query_keys[i], *error_r);
			return -1;
		}
		b->queries[i].id = (enum authd_mysql_query_id)i;
	}
	return 0;
}

static int mysql_init(const struct cfg *cfg, struct authd_backend **backend_r,
		      const char **error_r)
{
	struct authd_backend *b = xcalloc(1, sizeof(*b));
	size_t nservers = cfg_list_count(cfg, "mysql_servers");
	const char **servers = xcalloc(nservers + 1, sizeof(*servers));
	struct authd_mysql_settings set = {
		.servers = servers, .nservers = nservers,
		.user = cfg_str(cfg, "mysql_user"),
		.password = cfg_str(cfg, "mysql_password"),
		.database = cfg_str(cfg, "mysql_database"),
		.connect_timeout = cfg_time(cfg, "mysql_connect_timeout"),
		.read_timeout = cfg_time(cfg, "mysql_read_timeout"),
		.write_timeout = cfg_time(cfg, "mysql_write_timeout"),
		.retry_interval = cfg_time(cfg, "mysql_retry_interval"),
		.pool_wait = cfg_time(cfg, "mysql_pool_wait"),
		.tls = cfg_enum(cfg, "mysql_tls"),
		.tls_ca = cfg_str(cfg, "mysql_tls_ca"),
		.pool_size = (unsigned)cfg_int(cfg, "mysql_pool_size"),
	};
	int ret;

	for (size_t i = 0; i < nservers; i++)
		servers[i] = cfg_list_get(cfg, "mysql_servers", i);
	ret = mysql_init_queries(b, cfg, error_r);
	if (ret == 0)
		ret = authd_mysql_pool_new(&set, &b->pool, error_r);
	free(servers);
	if (ret < 0) {
		mysql_backend_free(b);
		return -1;
	}
	*backend_r = b;
	return 0;
}

static void mysql_deinit(struct authd_backend *b)
{
	if (b != NULL)
		mysql_backend_free(b);
}

/* ------------------------------------------------------- result columns */

struct mysql_column {
	const char *name;
	int field;
};

/* Find each result column in table; idx[field] = its column or -1. An
 * unknown name is an error: a misspelt service flag must not silently
 * allow every service. */
static int mysql_map_columns(const struct authd_mysql_rows *rows,
			     const struct mysql_column *table, size_t ntable, int *idx,
			     size_t nfields, const char *what, const char **error_r)
{
	for (size_t f = 0; f < nfields; f++)
		idx[f] = -1;
	for (size_t c = 0; c < rows->ncols; c++) {
		size_t t;

		for (t = 0; t < ntable; t++) {
			if (strcasecmp(rows->names[c], table[t].name) == 0)
				break;
		}
		if (t == ntable) {
			*error_r = authd_mysql_error("%s query: unknown result column %s",
						     what, rows->names[c]);
			return -1;
		}
		if (idx[table[t].field] >= 0) {
			*error_r = authd_mysql_error("%s query: column %s given twice",
						     what, rows->names[c]);
			return -1;
		}
		idx[table[t].field] = (int)c;
	}
	return 0;
}

static const char *mysql_field(const struct authd_mysql_rows *rows, size_t row, int col)
{
	return col < 0 ? NULL : authd_mysql_cell(rows, row, (size_t)col);
}

/* SQL truth values as schemas store them: 1/0, y/n (ISPConfig), yes/no,
 * true/false. NULL never grants anything. */
static int mysql_truth(const char *v, bool *r, const char *name, const char **error_r)
{
	static const char *const yes[] = { "1", "y", "yes", "true", "t", "on" };
	static const char *const no[] = { "0", "n", "no", "false", "f", "off", "" };
	char *end;

	*r = false;
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return (*r = true), 0;
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	(void)strtoll(v, &end, 10);
	if (end != v && *end == '\0') {
		*r = true;  /* another integer, as MySQL's own truth test */
		return 0;
	}
	*error_r = authd_mysql_error("column %s: not a truth value", name);
	return -1;
}

/* A size or count; NULL, 0 and negative values (some schemas' "-1") mean
 * no limit. */
static int mysql_number(const char *v, uint64_t *r, const char *name, const char **error_r)
{
	char *end;

	*r = 0;
	if (v == NULL || v[0] == '-')
		return 0;
	*r = strtoull(v, &end, 10);
	if (end == v || (*end != '\0' && *end != '.')) {
		*error_r = authd_mysql_error("column %s: not a number", name);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- users */

enum {
	UC_USER, UC_PASSWORD, UC_MAILDIR, UC_QUOTA_BYTES, UC_QUOTA_MESSAGES, UC_ACTIVE,
	UC_DOMAIN_ACTIVE, UC_SERVICES, UC_SMTP, UC_IMAP, UC_POP3, UC_DELIVER, UC_COUNT
};

static const struct mysql_column mysql_user_columns[] = {
	{ "user", UC_USER }, { "password", UC_PASSWORD }, { "maildir", UC_MAILDIR },
	{ "quota_bytes", UC_QUOTA_BYTES }, { "quota_messages", UC_QUOTA_MESSAGES },
	{ "active", UC_ACTIVE }, { "domain_active", UC_DOMAIN_ACTIVE },
	{ "services", UC_SERVICES }, { "smtp_active", UC_SMTP }, { "enable_smtp", UC_SMTP },
	{ "enable_imap", UC_IMAP }, { "enable_pop3", UC_POP3 },
	{ "enable_deliver", UC_DELIVER },
};

static const struct { int field; const char *word; unsigned bit; } mysql_services[] = {
	{ UC_SMTP, "smtp", AUTHD_SVC_SMTP }, { UC_IMAP, "imap", AUTHD_SVC_IMAP },
	{ UC_POP3, "pop3", AUTHD_SVC_POP3 }, { UC_DELIVER, "deliver", AUTHD_SVC_DELIVER },
};

#define MYSQL_NSERVICES (sizeof(mysql_services) / sizeof(mysql_services[0]))

/* services: a list of words (NULL: all); then each flag column narrows. */
static int mysql_user_services(const struct authd_mysql_rows *rows, const int *idx,
			       unsigned *services_r, const char **error_r)
{
	const char *list = mysql_field(rows, 0, idx[UC_SERVICES]);
	unsigned services = AUTHD_SVC_ALL;

	if (list != NULL) {
		static const char sep[] = ", \t";

		services = 0;
		for (const char *p = list + strspn(list, sep); *p != '\0'; p += strspn(p, sep)) {
			size_t len = strcspn(p, sep);

			for (size_t i = 0; i < MYSQL_NSERVICES; i++) {
				if (strlen(mysql_services[i].word) == len &&
				    strncasecmp(p, mysql_services[i].word, len) == 0)
					services |= mysql_services[i].bit;
			}
			p += len;
		}
	}
	for (size_t i = 0; i < MYSQL_NSERVICES; i++) {
		int col = idx[mysql_services[i].field];
		bool on;

		if (col < 0)
			continue;
		if (mysql_truth(mysql_field(rows, 0, col), &on, rows->names[col], error_r) < 0)
			return -1;
		if (!on)
			services &= ~mysql_services[i].bit;
	}
	*services_r = services;
	return 0;
}

static void mysql_lower_domain(char *addr)
{
	char *at = strrchr(addr, '@');

	for (char *p = at != NULL ? at : addr + strlen(addr); *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
}

static int mysql_user_fill(const struct authd_mysql_rows *rows, const int *idx,
			   const char *const values[], struct authd_user *u,
			   const char **error_r)
{
	const char *v;
	bool active, domain_active;

	v = mysql_field(rows, 0, idx[UC_USER]);
	if (v == NULL) {
		*error_r = "user query: column user is NULL";
		return -1;
	}
	u->user = xstrdup(v);
	mysql_lower_domain(u->user);
	if ((v = mysql_field(rows, 0, idx[UC_PASSWORD])) != NULL)
		u->password = xstrdup(v);
	v = mysql_field(rows, 0, idx[UC_MAILDIR]);
	u->maildir = v != NULL ? xstrdup(v) : xasprintf("%s/%s/", values[AUTHD_MYSQL_P_DOMAIN],
							 values[AUTHD_MYSQL_P_LOCAL]);
	active = domain_active = true;
	if ((idx[UC_ACTIVE] >= 0 &&
	     mysql_truth(mysql_field(rows, 0, idx[UC_ACTIVE]), &active, "active", error_r) < 0) ||
	    (idx[UC_DOMAIN_ACTIVE] >= 0 &&
	     mysql_truth(mysql_field(rows, 0, idx[UC_DOMAIN_ACTIVE]), &domain_active,
			 "domain_active", error_r) < 0) ||
	    mysql_number(mysql_field(rows, 0, idx[UC_QUOTA_BYTES]), &u->quota_bytes,
			 "quota_bytes", error_r) < 0 ||
	    mysql_number(mysql_field(rows, 0, idx[UC_QUOTA_MESSAGES]), &u->quota_messages,
			 "quota_messages", error_r) < 0 ||
	    mysql_user_services(rows, idx, &u->services, error_r) < 0)
		return -1;
	u->active = active;
	u->domain_active = domain_active;
	return 0;
}

/* values: the address, its local part (new string in *local_r) and its
 * domain. */
static void mysql_split(const char *addr, char **local_r, const char *values[])
{
	const char *at = strrchr(addr, '@');

	*local_r = at != NULL ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	values[AUTHD_MYSQL_P_ADDR] = addr;
	values[AUTHD_MYSQL_P_LOCAL] = *local_r;
	values[AUTHD_MYSQL_P_DOMAIN] = at != NULL ? at + 1 : "";
	values[AUTHD_MYSQL_P_SENDER] = "";
}

/* Run query id for addr (and sender); caller frees *local_r. */
static enum authd_status mysql_lookup(struct authd_backend *b, enum authd_mysql_query_id id,
				      const char *addr, const char *sender,
				      struct authd_mysql_rows *rows, const char *values[],
				      char **local_r, const char **error_r)
{
	mysql_split(addr, local_r, values);
	if (sender != NULL)
		values[AUTHD_MYSQL_P_SENDER] = sender;
	return authd_mysql_pool_run(b->pool, &b->queries[id], values, rows, error_r);
}

static enum authd_status mysql_user_lookup(struct authd_backend *b, const char *addr,
					   struct authd_user *user_r, const char **error_r)
{
	const char *values[AUTHD_MYSQL_P_COUNT];
	char *local;
	struct authd_mysql_rows rows;
	int idx[UC_COUNT];
	enum authd_status st;

	memset(user_r, 0, sizeof(*user_r));
	st = mysql_lookup(b, AUTHD_MYSQL_Q_USER, addr, NULL, &rows, values, &local,
			  error_r);
	if (st != AUTHD_OK) {
		free(local);
		return st;
	}
	st = AUTHD_TEMPFAIL;
	if (mysql_map_columns(&rows, mysql_user_columns,
			      sizeof(mysql_user_columns) / sizeof(mysql_user_columns[0]),
			      idx, UC_COUNT, "user", error_r) < 0)
		goto out;
	if (idx[UC_USER] < 0) {
		*error_r = "user query: the result has no column named user";
		goto out;
	}
	if (rows.nrows > 1) {
		*error_r = authd_mysql_error("user query: %zu rows for one address", rows.nrows);
		goto out;
	}
	if (rows.nrows == 0) {
		st = AUTHD_NOTFOUND;
		goto out;
	}
	if (mysql_user_fill(&rows, idx, values, user_r, error_r) < 0) {
		authd_user_free(user_r);
		goto out;
	}
	st = AUTHD_OK;
out:
	free(local);
	authd_mysql_rows_free(&rows);
	return st;
}

/* ------------------------------------------------- aliases and domains */

static enum authd_status mysql_alias_lookup(struct authd_backend *b, const char *addr,
					    struct authd_targets *targets_r,
					    const char **error_r)
{
	static const struct mysql_column cols[] = { { "targets", 0 } };
	const char *values[AUTHD_MYSQL_P_COUNT];
	char *local;
	struct authd_mysql_rows rows;
	enum authd_status st;
	int idx[1];

	memset(targets_r, 0, sizeof(*targets_r));
	st = mysql_lookup(b, AUTHD_MYSQL_Q_ALIAS, addr, NULL, &rows, values, &local,
			  error_r);
	free(local);
	if (st != AUTHD_OK)
		return st;
	st = AUTHD_TEMPFAIL;
	if (mysql_map_columns(&rows, cols, 1, idx, 1, "alias", error_r) < 0)
		goto out;
	if (idx[0] < 0) {
		*error_r = "alias query: the result has no column named targets";
		goto out;
	}
	/* One row with a list (PostfixAdmin) or a row per target (iRedMail). */
	for (size_t r = 0; r < rows.nrows; r++) {
		const char *list = mysql_field(&rows, r, idx[0]);

		if (list != NULL)
			authd_targets_add_list(targets_r, list);
	}
	st = targets_r->count > 0 ? AUTHD_OK : AUTHD_NOTFOUND;
out:
	authd_mysql_rows_free(&rows);
	return st;
}

enum { DC_HOSTED, DC_ACTIVE, DC_RELAY, DC_ALIAS_TARGET, DC_COUNT };

static int mysql_domain_fill(const struct authd_mysql_rows *rows, const int *idx,
			     struct authd_domain *d, const char **error_r)
{
	bool hosted = true, active = true, relay = false;
	const char *target = mysql_field(rows, 0, idx[DC_ALIAS_TARGET]);

	if ((idx[DC_HOSTED] >= 0 &&
	     mysql_truth(mysql_field(rows, 0, idx[DC_HOSTED]), &hosted, "hosted", error_r) < 0) ||
	    (idx[DC_ACTIVE] >= 0 &&
	     mysql_truth(mysql_field(rows, 0, idx[DC_ACTIVE]), &active, "active", error_r) < 0) ||
	    (idx[DC_RELAY] >= 0 &&
	     mysql_truth(mysql_field(rows, 0, idx[DC_RELAY]), &relay, "relay", error_r) < 0))
		return -1;
	d->hosted = hosted;
	d->active = active;
	d->relay = relay;
	if (target != NULL && target[0] != '\0') {
		d->alias_target = xstrdup(target);
		for (char *p = d->alias_target; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return 0;
}

static enum authd_status mysql_domain_lookup(struct authd_backend *b, const char *domain,
					     struct authd_domain *domain_r,
					     const char **error_r)
{
	static const struct mysql_column cols[] = {
		{ "hosted", DC_HOSTED }, { "active", DC_ACTIVE }, { "relay", DC_RELAY },
		{ "alias_target", DC_ALIAS_TARGET },
	};
	const char *values[AUTHD_MYSQL_P_COUNT];
	struct authd_mysql_rows rows;
	enum authd_status st;
	int idx[DC_COUNT];

	memset(domain_r, 0, sizeof(*domain_r));
	/* %u and %d are the domain, %l is empty. */
	values[AUTHD_MYSQL_P_ADDR] = values[AUTHD_MYSQL_P_DOMAIN] = domain;
	values[AUTHD_MYSQL_P_LOCAL] = values[AUTHD_MYSQL_P_SENDER] = "";
	st = authd_mysql_pool_run(b->pool, &b->queries[AUTHD_MYSQL_Q_DOMAIN], values, &rows,
				  error_r);
	if (st != AUTHD_OK)
		return st;
	st = AUTHD_TEMPFAIL;
	if (mysql_map_columns(&rows, cols, DC_COUNT, idx, DC_COUNT, "domain", error_r) < 0)
		goto out;
	if (rows.nrows > 1) {
		*error_r = authd_mysql_error("domain query: %zu rows for one domain", rows.nrows);
		goto out;
	}
	st = AUTHD_NOTFOUND;
	if (rows.nrows == 1)
		st = mysql_domain_fill(&rows, idx, domain_r, error_r) < 0 ? AUTHD_TEMPFAIL
									   : AUTHD_OK;
out:
	authd_mysql_rows_free(&rows);
	return st;
}

static enum authd_status mysql_sender_grant(struct authd_backend *b, const char *login,
					    const char *sender, const char **error_r)
{
	const char *values[AUTHD_MYSQL_P_COUNT];
	char *local;
	struct authd_mysql_rows rows;
	enum authd_status st;

	if (b->queries[AUTHD_MYSQL_Q_SENDER].sql == NULL)
		return AUTHD_NOTFOUND;
	st = mysql_lookup(b, AUTHD_MYSQL_Q_SENDER, login, sender, &rows, values, &local,
			  error_r);
	free(local);
	if (st != AUTHD_OK)
		return st;
	st = rows.nrows > 0 ? AUTHD_OK : AUTHD_NOTFOUND;
	authd_mysql_rows_free(&rows);
	return st;
}

const struct authd_backend_ops authd_backend_mysql = {
	.name = "mysql",
	.defs = mysql_defs,
	.ndefs = sizeof(mysql_defs) / sizeof(mysql_defs[0]),
	.init = mysql_init,
	.deinit = mysql_deinit,
	.user_lookup = mysql_user_lookup,
	.alias_lookup = mysql_alias_lookup,
	.domain_lookup = mysql_domain_lookup,
	.sender_grant = mysql_sender_grant,
	.password_verify = NULL,
};
