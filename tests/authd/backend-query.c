/* Runs one backend primitive from the command line and prints the answer,
 * so integration tests can drive a backend against a real server before
 * (and besides) the daemon:
 *
 *   backend-query [-o key=value]... CONFIG user ADDR
 *   backend-query ... CONFIG alias ADDR | domain DOMAIN | sender LOGIN SENDER
 *   backend-query ... CONFIG -          one command per stdin line, each
 *                                        answer ends with a line "."
 *   backend-query ... CONFIG --threads N --repeat M user ADDR
 *                                        N threads, M lookups each
 *
 * CONFIG holds `backend = NAME` and that backend's keys. Exit status: 0
 * found, 1 not found, 75 temporary failure, 2 usage, 78 configuration. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "log.h"
#include "xalloc.h"

#define EXIT_NOTFOUND 1
#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 75
#define EXIT_CONFIG 78
#define QUERY_LINE_MAX 4096
#define QUERY_THREADS_MAX 64
#define QUERY_REPEAT_MAX 100000

static const struct authd_backend_ops *const query_backends[] = {
	&authd_backend_mysql,
};

struct query_run {
	const struct authd_backend_ops *ops;
	struct authd_backend *backend;
	const char *prim, *arg1, *arg2;
	unsigned repeat;
	unsigned counts[3];  /* by status + 1 */
	const char *last_error;
};

static int query_exit(enum authd_status st)
{
	return st == AUTHD_OK ? 0 : st == AUTHD_NOTFOUND ? EXIT_NOTFOUND : EXIT_TEMPFAIL;
}

static void query_print_user(const struct authd_user *u)
{
	static const char *const names[] = { "smtp", "imap", "pop3", "deliver" };
	const char *sep = "";

	printf("user=%s\npassword=%s\nmaildir=%s\n", u->user,
	       u->password != NULL ? u->password : "", u->maildir);
	printf("quota_bytes=%llu\nquota_messages=%llu\n", (unsigned long long)u->quota_bytes,
	       (unsigned long long)u->quota_messages);
	printf("active=%d\ndomain_active=%d\nservices=", u->active, u->domain_active);
	for (unsigned i = 0; i < 4; i++) {
		if (u->services & (1u << i)) {
			printf("%s%s", sep, names[i]);
			sep = ",";
		}
	}
	printf("\n");
}

/* One primitive; prints when print is set. */
static enum authd_status query_one(struct query_run *r, bool print, const char **error_r)
{
	enum authd_status st = AUTHD_TEMPFAIL;
	struct authd_user user;
	struct authd_targets targets = { 0 };
	struct authd_domain domain;

	if (strcmp(r->prim, "user") == 0) {
		st = r->ops->user_lookup(r->backend, r->arg1, &user, error_r);
		if (st == AUTHD_OK && print)
			query_print_user(&user);
		if (st == AUTHD_OK)
			authd_user_free(&user);
	} else if (strcmp(r->prim, "alias") == 0) {
		st = r->ops->alias_lookup(r->backend, r->arg1, &targets, error_r);
		for (size_t i = 0; print && i < targets.count; i++)
			printf("target=%s\n", targets.items[i]);
		authd_targets_free(&targets);
	} else if (strcmp(r->prim, "domain") == 0) {
		st = r->ops->domain_lookup(r->backend, r->arg1, &domain, error_r);
		if (st == AUTHD_OK && print)
			printf("hosted=%d\nactive=%d\nrelay=%d\nalias_target=%s\n", domain.hosted,
			       domain.active, domain.relay,
			       domain.alias_target != NULL ? domain.alias_target : "");
		if (st == AUTHD_OK)
			authd_domain_free(&domain);
	} else if (strcmp(r->prim, "sender") == 0 && r->arg2 != NULL) {
		st = r->ops->sender_grant == NULL ? AUTHD_NOTFOUND :
		     r->ops->sender_grant(r->backend, r->arg1, r->arg2, error_r);
	} else {
		*error_r = "unknown primitive or missing argument";
	}
	return st;
}

static enum authd_status query_print(struct query_run *r)
{
	const char *error = "";
	enum authd_status st = query_one(r, true, &error);

	if (st == AUTHD_OK)
		printf("status=ok\n");
	else if (st == AUTHD_NOTFOUND)
		printf("status=notfound\n");
	else
		printf("status=tempfail\nreason=%s\n", error);
	return st;
}

/* Commands from stdin on one backend instance (reconnect tests). */
static int query_stdin(struct query_run *r)
{
	char line[QUERY_LINE_MAX];
	int ret = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *save = NULL;

		line[strcspn(line, "\r\n")] = '\0';
		r->prim = strtok_r(line, " \t", &save);
		if (r->prim == NULL)
			continue;
		r->arg1 = strtok_r(NULL, " \t", &save);
		r->arg2 = strtok_r(NULL, " \t", &save);
		if (r->arg1 == NULL) {
			printf("status=tempfail\nreason=missing argument\n.\n");
		} else {
			ret = query_exit(query_print(r));
			printf(".\n");
		}
		fflush(stdout);
	}
	return ret;
}

static pthread_mutex_t query_lock = PTHREAD_MUTEX_INITIALIZER;

static void *query_thread(void *arg)
{
	struct query_run *r = arg;

	for (unsigned i = 0; i < r->repeat; i++) {
		const char *error = NULL;
		enum authd_status st = query_one(r, false, &error);

		pthread_mutex_lock(&query_lock);
		r->counts[st + 1]++;
		if (st == AUTHD_TEMPFAIL && r->last_error == NULL)
			r->last_error = xstrdup(error);
		pthread_mutex_unlock(&query_lock);
	}
	return NULL;
}

static int query_threads(struct query_run *r, unsigned nthreads)
{
	pthread_t threads[QUERY_THREADS_MAX];
	unsigned started = 0;

	for (; started < nthreads; started++) {
		if (pthread_create(&threads[started], NULL, query_thread, r) != 0)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	printf("ok=%u\nnotfound=%u\ntempfail=%u\n", r->counts[AUTHD_OK + 1],
	       r->counts[AUTHD_NOTFOUND + 1], r->counts[AUTHD_TEMPFAIL + 1]);
	if (r->last_error != NULL)
		printf("reason=%s\n", r->last_error);
	free((char *)r->last_error);
	return started == nthreads && r->counts[AUTHD_TEMPFAIL + 1] == 0 ? 0 : EXIT_TEMPFAIL;
}

static int query_usage(void)
{
	fputs("usage: backend-query [-o key=value]... CONFIG "
	      "[--threads N --repeat M] PRIMITIVE ARG [ARG]\n"
	      "       backend-query [-o key=value]... CONFIG -\n", stderr);
	return EXIT_USAGE;
}

/* The table: `backend` plus every compiled-in backend's keys. */
static struct cfg_def *query_table(size_t *count_r)
{
	static const struct cfg_def backend_def = {
		.name = "backend", .type = CFG_STR, .def = "mysql",
		.help = "Backend to query." };
	size_t n = 1;
	struct cfg_def *table;

	for (size_t i = 0; i < sizeof(query_backends) / sizeof(query_backends[0]); i++)
		n += query_backends[i]->ndefs;
	table = xcalloc(n, sizeof(*table));
	table[0] = backend_def;
	n = 1;
	for (size_t i = 0; i < sizeof(query_backends) / sizeof(query_backends[0]); i++) {
		memcpy(table + n, query_backends[i]->defs,
		       query_backends[i]->ndefs * sizeof(*table));
		n += query_backends[i]->ndefs;
	}
	*count_r = n;
	return table;
}

/* CONFIG first, then each -o over it, as a daemon's command line does. */
static struct cfg *query_config(int *argi, int argc, char **argv, struct cfg_def **table_r)
{
	size_t count;
	struct cfg *cfg;
	const char *error;
	int first = *argi, i = *argi;

	*table_r = query_table(&count);
	cfg = cfg_new(*table_r, count);
	while (i + 1 < argc && strcmp(argv[i], "-o") == 0)
		i += 2;
	if (i >= argc || cfg_load_file(cfg, argv[i], &error) < 0) {
		fprintf(stderr, "backend-query: %s\n", i >= argc ? "no CONFIG" : error);
		cfg_free(cfg);
		return NULL;
	}
	*argi = i + 1;
	for (i = first; strcmp(argv[i], "-o") == 0; i += 2) {
		char *key = xstrdup(argv[i + 1]), *eq = strchr(key, '=');
		int ret = -1;

		error = "-o needs key=value";
		if (eq != NULL) {
			*eq = '\0';
			ret = cfg_set(cfg, key, eq + 1, &error);
		}
		free(key);
		if (ret < 0) {
			fprintf(stderr, "backend-query: %s\n", error);
			cfg_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

static int query_main(struct query_run *r, int argi, int argc, char **argv)
{
	unsigned nthreads = 0;

	if (argi < argc && strcmp(argv[argi], "-") == 0)
		return query_stdin(r);
	if (argi + 3 < argc && strcmp(argv[argi], "--threads") == 0 &&
	    strcmp(argv[argi + 2], "--repeat") == 0) {
		nthreads = (unsigned)strtoul(argv[argi + 1], NULL, 10);
		r->repeat = (unsigned)strtoul(argv[argi + 3], NULL, 10);
		if (nthreads == 0 || nthreads > QUERY_THREADS_MAX || r->repeat == 0 ||
		    r->repeat > QUERY_REPEAT_MAX)
			return query_usage();
		argi += 4;
	}
	if (argi + 1 >= argc)
		return query_usage();
	r->prim = argv[argi];
	r->arg1 = argv[argi + 1];
	r->arg2 = argi + 2 < argc ? argv[argi + 2] : NULL;
	if (nthreads > 0)
		return query_threads(r, nthreads);
	return query_exit(query_print(r));
}

int main(int argc, char **argv)
{
	struct query_run run = { 0 };
	struct cfg_def *table;
	struct cfg *cfg;
	const char *error, *name;
	int argi = 1, ret;

	log_open("backend-query", LOG_DEST_STDERR, LOG_LEVEL_INFO);
	cfg = query_config(&argi, argc, argv, &table);
	if (cfg == NULL) {
		free(table);
		return EXIT_CONFIG;
	}
	name = cfg_str(cfg, "backend");
	for (size_t i = 0; i < sizeof(query_backends) / sizeof(query_backends[0]); i++) {
		if (strcmp(query_backends[i]->name, name) == 0)
			run.ops = query_backends[i];
	}
	if (run.ops == NULL || run.ops->init(cfg, &run.backend, &error) < 0) {
		fprintf(stderr, "backend-query: %s\n", run.ops == NULL ? "unknown backend" : error);
		cfg_free(cfg);
		free(table);
		return EXIT_CONFIG;
	}
	ret = query_main(&run, argi, argc, argv);
	fflush(stdout);
	run.ops->deinit(run.backend);
	cfg_free(cfg);
	free(table);
	return ret;
}
