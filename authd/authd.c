/* authd's core: the configured backend behind the answer cache, logins,
 * the penalty table and the worker pool the protocol front ends use. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cache.h"
#include "core.h"
#include "daemon.h"
#include "log.h"
#include "names.h"
#include "password.h"
#include "penalty.h"
#include "services.h"
#include "xalloc.h"

struct authd_env {
	unsigned refs;                 /* under authd.lock */
	struct authd_env *next;        /* retired list */
	const struct authd_backend_ops *ops;
	struct authd_backend *backend;
	char *default_domain;
	char *default_pass_scheme;
	char *mail_root;
	struct resolve_settings resolve;
};

struct authd {
	uv_loop_t *loop;
	/* Guards env, every env's refs, retired, cache and penalty: workers
	 * use them all. */
	pthread_mutex_t lock;
	struct authd_env *env;
	struct authd_env *retired;     /* no longer current, deinit on the loop */
	struct authd_cache *cache;
	struct authd_penalty *penalty;
	struct netmask_list trusted;   /* the penalty's, by reference */
	unsigned jobs;                 /* submitted and not yet done */
};

static int authd_validate_scheme(const char *value, const char **error_r)
{
	if (password_scheme_find(value) != NULL)
		return 0;
	*error_r = "unknown password scheme";
	return -1;
}

int authd_validate_networks(const char *value, const char **error_r)
{
	struct netmask_list l;

	if (netmask_list_parse(&l, value, error_r) < 0)
		return -1;
	netmask_list_free(&l);
	return 0;
}

const struct cfg_def authd_core_defs[] = {
	{ "backend", CFG_ENUM, "passwd-file", "where users, aliases and domains live", 0, 0, "passwd-file", NULL },
	{ "mail_root", CFG_STR, "/var/vmail", "directory that relative maildir paths are under", 0, 0, NULL, NULL },
	{ "default_domain", CFG_STR, NULL, "domain added to a user name without '@' (empty: none)", 0, 0, NULL, NULL },
	{ "default_pass_scheme", CFG_STR, "SHA512-CRYPT", "scheme of stored passwords without a {SCHEME} prefix", 0, 0, NULL, authd_validate_scheme },
	{ "cache_size", CFG_INT, "10000", "answers cached at most (0: no cache)", 0, 10000000, NULL, NULL },
	{ "cache_ttl", CFG_TIME, "5m", "how long a found user, alias or domain is answered from the cache", 0, 86400, NULL, NULL },
	{ "cache_negative_ttl", CFG_TIME, "1m", "how long \"not found\" is answered from the cache", 0, 86400, NULL, NULL },
	{ "cache_stale_ttl", CFG_TIME, "1h", "while the backend is down, how long past cache_ttl an answer may still serve", 0, 604800, NULL, NULL },
	{ "penalty_base", CFG_INT, "500", "milliseconds of delay after a client's first failed login (0: no penalty)", 0, 60000, NULL, NULL },
	{ "penalty_max", CFG_INT, "15000", "milliseconds of delay at most, however many failures", 0, 600000, NULL, NULL },
	{ "penalty_window", CFG_TIME, "15m", "a client without failures this long starts afresh", 1, 86400, NULL, NULL },
	{ "penalty_size", CFG_INT, "100000", "client addresses remembered at most", 1, 10000000, NULL, NULL },
	{ "penalty_trusted_networks", CFG_STR, NULL, "networks never delayed (webmail, own hosts; comma or space separated)", 0, 0, NULL, authd_validate_networks },
	{ "relay_domains", CFG_STR, NULL, "domains relayed for besides the backend's relay domains (comma or space separated)", 0, 0, NULL, NULL },
	{ "recipient_delimiter", CFG_STR, "+", "characters separating a local part from its detail: user+tag@d goes to user@d (empty: none)", 0, 0, NULL, NULL },
	{ "alias_max_depth", CFG_INT, "10", "alias hops followed at most when resolving a recipient", 1, 100, NULL, NULL },
	{ "workers", CFG_INT, "8", "worker threads for backend lookups (read at start only)", 1, 128, NULL, NULL },
};
const size_t authd_core_defs_count = sizeof(authd_core_defs) / sizeof(authd_core_defs[0]);

const struct authd_backend_ops *authd_backend_find(const char *name)
{
	for (size_t i = 0; i < authd_backends_count; i++)
		if (strcmp(authd_backends[i]->name, name) == 0)
			return authd_backends[i];
	return NULL;
}

const struct cfg_def *authd_all_defs(size_t *count_r)
{
	static struct cfg_def *all;
	static size_t count;
	struct buf choices;
	size_t n = authd_core_defs_count;

	if (all != NULL) {
		*count_r = count;
		return all;
	}
	count = authd_core_defs_count;
	for (size_t i = 0; i < authd_backends_count; i++)
		count += authd_backends[i]->ndefs;
	for (size_t i = 0; i < authd_service_keys_count; i++)
		count += *authd_service_keys[i].count;
	all = xcalloc(count, sizeof(*all));
	memcpy(all, authd_core_defs, sizeof(authd_core_defs));
	buf_init(&choices, BUF_NO_LIMIT);
	for (size_t i = 0; i < authd_backends_count; i++) {
		const struct authd_backend_ops *ops = authd_backends[i];

		memcpy(all + n, ops->defs, ops->ndefs * sizeof(*all));
		n += ops->ndefs;
		buf_printf(&choices, "%s%s", i > 0 ? "|" : "", ops->name);
	}
	for (size_t i = 0; i < authd_service_keys_count; i++) {
		memcpy(all + n, authd_service_keys[i].defs,
		       *authd_service_keys[i].count * sizeof(*all));
		n += *authd_service_keys[i].count;
	}
	all[0].choices = buf_steal(&choices);
	*count_r = count;
	return all;
}

/* ----------------------------------------------------------- generations */

static void authd_split_list(const char *s, struct resolve_settings *set)
{
	struct authd_targets t = { 0 };

	authd_targets_add_list(&t, s);
	set->relay_domains = xcalloc(t.count + 1, sizeof(char *));
	for (size_t i = 0; i < t.count; i++)
		set->relay_domains[i] = authd_name_lower(t.items[i]);
	set->nrelay_domains = t.count;
	authd_targets_free(&t);
}

static void authd_env_free(struct authd_env *e)
{
	if (e->backend != NULL)
		e->ops->deinit(e->backend);
	for (size_t i = 0; i < e->resolve.nrelay_domains; i++)
		free(e->resolve.relay_domains[i]);
	free(e->resolve.relay_domains);
	free((char *)e->resolve.delimiters);
	free(e->default_domain);
	free(e->default_pass_scheme);
	free(e->mail_root);
	free(e);
}

static struct authd_env *authd_env_new(const struct cfg *cfg, const char **error_r)
{
	struct authd_env *e = xcalloc(1, sizeof(*e));

	e->ops = authd_backend_find(cfg_str(cfg, "backend"));
	e->default_domain = authd_name_lower(cfg_str(cfg, "default_domain"));
	e->default_pass_scheme = xstrdup(cfg_str(cfg, "default_pass_scheme"));
	e->mail_root = xstrdup(cfg_str(cfg, "mail_root"));
	e->resolve.delimiters = xstrdup(cfg_str(cfg, "recipient_delimiter"));
	e->resolve.max_depth = (unsigned)cfg_int(cfg, "alias_max_depth");
	authd_split_list(cfg_str(cfg, "relay_domains"), &e->resolve);
	if (e->ops == NULL) {
		*error_r = "unknown backend";
	} else if (e->ops->init(cfg, &e->backend, error_r) == 0) {
		e->refs = 1; /* authd's own */
		return e;
	}
	e->backend = NULL;
	authd_env_free(e);
	return NULL;
}

struct authd_env *authd_env_get(struct authd *a)
{
	struct authd_env *e;

	pthread_mutex_lock(&a->lock);
	e = a->env;
	e->refs++;
	pthread_mutex_unlock(&a->lock);
	return e;
}

/* Caller holds the lock. */
static void authd_env_unref_locked(struct authd *a, struct authd_env *e)
{
	if (--e->refs > 0)
		return;
	/* Maybe a worker thread: the backend is deinitialised on the loop. */
	e->next = a->retired;
	a->retired = e;
}

void authd_env_put(struct authd *a, struct authd_env *e)
{
	pthread_mutex_lock(&a->lock);
	authd_env_unref_locked(a, e);
	pthread_mutex_unlock(&a->lock);
}

static void authd_reap(struct authd *a)
{
	struct authd_env *e, *next;

	pthread_mutex_lock(&a->lock);
	e = a->retired;
	a->retired = NULL;
	pthread_mutex_unlock(&a->lock);
	for (; e != NULL; e = next) {
		next = e->next;
		authd_env_free(e);
	}
}

void authd_env_db(struct authd *a, struct authd_env *e, struct authd_db *db_r)
{
	db_r->ops = e->ops;
	db_r->backend = e->backend;
	db_r->cache = a->cache;
	db_r->lock = &a->lock;
	db_r->cache_only = false;
	db_r->missed = false;
}

const struct resolve_settings *authd_env_resolve(const struct authd_env *e)
{
	return &e->resolve;
}

const char *authd_env_mail_root(const struct authd_env *e)
{
	return e->mail_root;
}

int authd_env_normalize(const struct authd_env *e, const char *name, char **out_r,
			const char **error_r)
{
	return authd_name_normalize(name, e->default_domain, out_r, error_r);
}

/* --------------------------------------------------------------- state */

static void authd_cache_settings(const struct cfg *cfg, struct authd_cache_settings *s)
{
	s->max_entries = (size_t)cfg_int(cfg, "cache_size");
	s->pos_ttl = cfg_time(cfg, "cache_ttl");
	s->neg_ttl = cfg_time(cfg, "cache_negative_ttl");
	s->stale_ttl = cfg_time(cfg, "cache_stale_ttl");
}

/* Caller holds the lock (or is alone). */
static void authd_penalty_setup(struct authd *a, const struct cfg *cfg)
{
	struct authd_penalty_settings ps = {
		.base_ms = (unsigned)cfg_int(cfg, "penalty_base"),
		.max_ms = (unsigned)cfg_int(cfg, "penalty_max"),
		.window = cfg_time(cfg, "penalty_window"),
		.max_entries = (size_t)cfg_int(cfg, "penalty_size"),
		.trusted = &a->trusted,
	};
	const char *err;

	authd_penalty_free(a->penalty);
	netmask_list_free(&a->trusted);
	if (netmask_list_parse(&a->trusted, cfg_str(cfg, "penalty_trusted_networks"), &err) < 0)
		a->trusted.count = 0; /* validated with the configuration */
	a->penalty = authd_penalty_new(&ps);
}

struct authd *authd_new(uv_loop_t *loop, const struct cfg *cfg, const char **error_r)
{
	struct authd *a = xcalloc(1, sizeof(*a));
	struct authd_cache_settings cs;
	char workers[32];

	if ((a->env = authd_env_new(cfg, error_r)) == NULL) {
		free(a);
		return NULL;
	}
	/* libuv sizes its pool once, at its first use: this is the only
	 * moment the setting can take effect. */
	snprintf(workers, sizeof(workers), "%lld", cfg_int(cfg, "workers"));
	setenv("UV_THREADPOOL_SIZE", workers, 1);
	a->loop = loop;
	pthread_mutex_init(&a->lock, NULL);
	authd_cache_settings(cfg, &cs);
	a->cache = authd_cache_new(&cs);
	authd_penalty_setup(a, cfg);
	return a;
}

int authd_reload(struct authd *a, const struct cfg *cfg, const char **error_r)
{
	struct authd_env *e = authd_env_new(cfg, error_r);
	struct authd_cache_settings cs;

	if (e == NULL)
		return -1;
	authd_cache_settings(cfg, &cs);
	pthread_mutex_lock(&a->lock);
	authd_env_unref_locked(a, a->env);
	a->env = e;
	authd_cache_configure(a->cache, &cs);
	authd_cache_flush(a->cache, NULL);
	authd_penalty_setup(a, cfg);
	pthread_mutex_unlock(&a->lock);
	authd_reap(a);
	return 0;
}

void authd_free(struct authd *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	authd_env_unref_locked(a, a->env);
	pthread_mutex_unlock(&a->lock);
	authd_reap(a);
	authd_cache_free(a->cache);
	authd_penalty_free(a->penalty);
	netmask_list_free(&a->trusted);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

size_t authd_flush(struct authd *a, const char *key)
{
	return authd_db_flush(a->cache, &a->lock, key);
}

struct authd *authd_of_conn(const struct conn *c)
{
	return daemon_context(daemon_of_conn(c));
}

/* --------------------------------------------------------------- workers */

struct authd_job {
	uv_work_t req;
	struct authd *a;
	void (*work)(void *ctx);
	void (*done)(void *ctx);
	void *ctx;
};

static void authd_job_work(uv_work_t *req)
{
	struct authd_job *job = req->data;

	job->work(job->ctx);
}

static void authd_job_done(uv_work_t *req, int status)
{
	struct authd_job *job = req->data;
	struct authd *a = job->a;

	(void)status; /* a cancelled job still owes its caller done() */
	job->done(job->ctx);
	a->jobs--;
	free(job);
	authd_reap(a);
}

void authd_submit(struct authd *a, void (*work)(void *ctx), void (*done)(void *ctx),
		  void *ctx)
{
	struct authd_job *job = xcalloc(1, sizeof(*job));

	job->a = a;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	job->req.data = job;
	a->jobs++;
	if (uv_queue_work(a->loop, &job->req, authd_job_work, authd_job_done) != 0) {
		/* Only with a bad loop or callback: do it here rather than lose it. */
		work(ctx);
		authd_job_done(&job->req, 0);
	}
}

/* --------------------------------------------------------------- logins */

unsigned authd_penalty_delay_for(struct authd *a, const struct netaddr *rip)
{
	unsigned ms;

	if (rip == NULL || (rip->family != AF_INET && rip->family != AF_INET6))
		return 0;
	pthread_mutex_lock(&a->lock);
	ms = authd_penalty_delay(a->penalty, rip, time(NULL));
	pthread_mutex_unlock(&a->lock);
	return ms;
}

static void authd_penalty_record(struct authd *a, const struct netaddr *rip, bool failed)
{
	if (rip == NULL || (rip->family != AF_INET && rip->family != AF_INET6))
		return;
	pthread_mutex_lock(&a->lock);
	if (failed)
		authd_penalty_fail(a->penalty, rip, time(NULL));
	else
		authd_penalty_success(a->penalty, rip);
	pthread_mutex_unlock(&a->lock);
}

/* One line per failed login, in the form fail2ban filters match. */
static void authd_log_failure(const struct authd_login *login, const char *user,
			      const char *event, const char *reason)
{
	char rip[NETADDR_STRLEN] = "-";
	struct buf line;
	char *who = xasprintf("<%s>", user);

	if (login->rip != NULL && (login->rip->family == AF_INET || login->rip->family == AF_INET6))
		netaddr_str(login->rip, rip);
	buf_init(&line, BUF_NO_LIMIT);
	buf_printf(&line, "%s: user=", event);
	log_escape(&line, who);
	buf_append_str(&line, " service=");
	log_escape(&line, login->service != NULL ? login->service : "-");
	buf_printf(&line, " rip=%s reason=", rip);
	log_escape(&line, reason);
	log_at(strcmp(event, "auth tempfail") == 0 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
	       login->sid, "%s", buf_cstr(&line));
	buf_free(&line);
	free(who);
}

/* The AUTHD_SVC_ bit a service name needs; 0 for services that the
 * mailbox flags do not cover (sieve and the like). */
static unsigned authd_service_bit(const char *service)
{
	static const struct { const char *name; unsigned bit; } map[] = {
		{ "smtp", AUTHD_SVC_SMTP }, { "submission", AUTHD_SVC_SMTP },
		{ "imap", AUTHD_SVC_IMAP }, { "pop3", AUTHD_SVC_POP3 },
		{ "deliver", AUTHD_SVC_DELIVER }, { "lmtp", AUTHD_SVC_DELIVER },
	};

	for (size_t i = 0; service != NULL && i < sizeof(map) / sizeof(*map); i++)
		if (strcmp(map[i].name, service) == 0)
			return map[i].bit;
	return 0;
}

/* 1 match, 0 mismatch, -1 tempfail; *why_r for the log. */
static int authd_check_password(struct authd_env *e, const struct authd_user *u,
				const char *password, const char **why_r)
{
	const char *err = NULL;
	int r;

	if (e->ops->password_verify != NULL) {
		enum authd_status st = e->ops->password_verify(e->backend, u, password, &err);

		*why_r = st == AUTHD_TEMPFAIL ? err : "password mismatch";
		return st == AUTHD_TEMPFAIL ? -1 : st == AUTHD_OK;
	}
	if (u->password == NULL) {
		*why_r = "no password stored";
		return 0;
	}
	r = password_verify(u->password, password, e->default_pass_scheme, &err);
	*why_r = r < 0 ? err : "password mismatch";
	return r > 0;
}

/* The verdict for a found user with the given password check result. */
static enum authd_verdict authd_judge(const struct authd_login *login,
				      const struct authd_user *u, int match,
				      const char **why_r)
{
	unsigned bit = authd_service_bit(login->service);

	if (match < 0)
		return AUTHD_LOGIN_TEMPFAIL;
	if (match == 0)
		return AUTHD_LOGIN_FAIL;
	/* Status only after the password: guessers learn nothing from it. */
	if (!u->active)
		*why_r = "account disabled";
	else if (!u->domain_active)
		*why_r = "domain disabled";
	else if (bit != 0 && (u->services & bit) == 0)
		*why_r = "service disabled";
	else
		return AUTHD_LOGIN_OK;
	return AUTHD_LOGIN_DISABLED;
}

static enum authd_verdict authd_verify_env(struct authd *a, struct authd_env *e,
					   const struct authd_login *login, const char *name,
					   const char *password, struct authd_user *user_r)
{
	struct authd_db db;
	const char *why = NULL;
	enum authd_status st;
	enum authd_verdict v;
	int match = 0;

	authd_env_db(a, e, &db);
	st = authd_db_user(&db, name, user_r, &why);
	if (st == AUTHD_TEMPFAIL) {
		authd_log_failure(login, name, "auth tempfail",
				  why != NULL ? why : "backend unavailable");
		return AUTHD_LOGIN_TEMPFAIL;
	}
	if (st == AUTHD_OK)
		match = authd_check_password(e, user_r, password, &why);
	else
		why = "unknown user";
	v = authd_judge(login, user_r, match, &why);
	if (v != AUTHD_LOGIN_OK) {
		authd_log_failure(login, name, v == AUTHD_LOGIN_TEMPFAIL ? "auth tempfail" :
				  "auth failed", why);
		authd_user_free(user_r);
	}
	if (v == AUTHD_LOGIN_FAIL)
		authd_penalty_record(a, login->rip, true);
	else if (v == AUTHD_LOGIN_OK)
		authd_penalty_record(a, login->rip, false);
	return v;
}

enum authd_verdict authd_login_verify(struct authd *a, const struct authd_login *login,
				      const char *user, const char *password,
				      struct authd_user *user_r)
{
	struct authd_env *e = authd_env_get(a);
	enum authd_verdict v;
	const char *err;
	char *name;

	memset(user_r, 0, sizeof(*user_r));
	if (authd_env_normalize(e, user, &name, &err) < 0) {
		authd_log_failure(login, user, "auth failed", "invalid user name");
		authd_penalty_record(a, login->rip, true);
		authd_env_put(a, e);
		return AUTHD_LOGIN_FAIL;
	}
	v = authd_verify_env(a, e, login, name, password, user_r);
	free(name);
	authd_env_put(a, e);
	return v;
}
