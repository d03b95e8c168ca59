/* Drives the LDAP backend's primitives directly, for the integration
 * tests, until authd's lookup socket can carry them:
 *
 *   ldap-query [-o key=value]... CONFIG COMMAND ARG...
 *   ldap-query [-o key=value]... CONFIG -     commands from stdin, one a line,
 *                                             arguments separated by tabs
 *   ldap-query --print-defaults               the backend's keys as a config file
 * Commands: user ADDR | alias ADDR | domain DOMAIN | sender LOGIN SENDER |
 *           auth ADDR PASSWORD | parallel N COMMAND ARG...
 * Each answer is "key=value" lines, starting with status=ok|notfound|tempfail
 * and ending with a line ".". With a command line, the exit status is 0 for
 * ok, 1 for notfound, 2 for tempfail, 3 for a usage or configuration error. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "buf.h"
#include "config.h"
#include "xalloc.h"

#define QUERY_ARGS_MAX 8
#define QUERY_THREADS_MAX 64
#define QUERY_LINE_MAX 8192

static const struct authd_backend_ops *const query_ops = &authd_backend_ldap;

struct query {
	struct authd_backend *backend;
	char *argv[QUERY_ARGS_MAX];
	int argc;
	enum authd_status status;
	struct buf out;
};

static const char *query_status_name(enum authd_status status)
{
	return status == AUTHD_OK ? "ok" : status == AUTHD_NOTFOUND ? "notfound" : "tempfail";
}

static void query_print_user(struct buf *out, const struct authd_user *u)
{
	static const char *const svc[] = { "smtp", "imap", "pop3", "deliver" };
	const char *sep = "";

	buf_printf(out, "user=%s\npassword=%s\nmaildir=%s\n", u->user,
		   u->password != NULL ? u->password : "", u->maildir != NULL ? u->maildir : "");
	buf_printf(out, "quota_bytes=%llu\nquota_messages=%llu\nservices=",
		   (unsigned long long)u->quota_bytes, (unsigned long long)u->quota_messages);
	for (unsigned i = 0; i < 4; i++) {
		if (u->services & (1u << i)) {
			buf_printf(out, "%s%s", sep, svc[i]);
			sep = ",";
		}
	}
	buf_printf(out, "\nactive=%s\ndomain_active=%s\n", u->active ? "yes" : "no",
		   u->domain_active ? "yes" : "no");
}

static enum authd_status query_user(struct query *q, bool with_password, const char **error_r)
{
	struct authd_user user;
	enum authd_status status = query_ops->user_lookup(q->backend, q->argv[1], &user, error_r);

	if (status != AUTHD_OK)
		return status;
	if (with_password)
		status = query_ops->password_verify(q->backend, &user, q->argv[2], error_r);
	else
		query_print_user(&q->out, &user);
	authd_user_free(&user);
	return status;
}

static enum authd_status query_alias(struct query *q, const char **error_r)
{
	struct authd_targets t = { 0 };
	enum authd_status status = query_ops->alias_lookup(q->backend, q->argv[1], &t, error_r);

	for (size_t i = 0; i < t.count; i++)
		buf_printf(&q->out, "target=%s\n", t.items[i]);
	authd_targets_free(&t);
	return status;
}

static enum authd_status query_domain(struct query *q, const char **error_r)
{
	struct authd_domain d;
	enum authd_status status = query_ops->domain_lookup(q->backend, q->argv[1], &d, error_r);

	if (status == AUTHD_OK)
		buf_printf(&q->out, "hosted=%s\nactive=%s\nrelay=%s\nalias_target=%s\n",
			   d.hosted ? "yes" : "no", d.active ? "yes" : "no",
			   d.relay ? "yes" : "no", d.alias_target != NULL ? d.alias_target : "");
	authd_domain_free(&d);
	return status;
}

static void query_parallel(struct query *q);

/* Run one command into q->out; -1 for a usage error. */
static int query_run(struct query *q)
{
	static const struct { const char *name; int argc; } cmds[] = {
		{ "user", 2 }, { "alias", 2 }, { "domain", 2 }, { "sender", 3 }, { "auth", 3 },
	};
	const char *error = NULL;
	size_t k = 0;

	if (q->argc >= 3 && strcmp(q->argv[0], "parallel") == 0) {
		query_parallel(q);
		return 0;
	}
	while (k < sizeof(cmds) / sizeof(cmds[0]) &&
	       (q->argc < 1 || strcmp(q->argv[0], cmds[k].name) != 0))
		k++;
	if (k == sizeof(cmds) / sizeof(cmds[0]) || q->argc != cmds[k].argc)
		return -1;
	switch (k) {
	case 0: q->status = query_user(q, false, &error); break;
	case 1: q->status = query_alias(q, &error); break;
	case 2: q->status = query_domain(q, &error); break;
	case 3: q->status = query_ops->sender_grant(q->backend, q->argv[1], q->argv[2],
						    &error); break;
	default: q->status = query_user(q, true, &error); break;
	}
	/* The status first: prepend it to what the command printed. */
	struct buf head;

	buf_init(&head, BUF_NO_LIMIT);
	buf_printf(&head, "status=%s\n", query_status_name(q->status));
	if (error != NULL)
		buf_printf(&head, "error=%s\n", error);
	buf_append(&head, q->out.data, q->out.len);
	buf_free(&q->out);
	q->out = head;
	return 0;
}

static void *query_thread(void *arg)
{
	query_run(arg);
	return NULL;
}

/* "parallel N CMD...": N copies at once, to exercise the pool; prints
 * how many ended in each status. */
static void query_parallel(struct query *q)
{
	int n = atoi(q->argv[1]);
	struct query *sub;
	pthread_t *tids;
	int counts[3] = { 0 };

	if (n < 1 || n > QUERY_THREADS_MAX)
		n = 1;
	sub = xcalloc((size_t)n, sizeof(*sub));
	tids = xcalloc((size_t)n, sizeof(*tids));
	for (int i = 0; i < n; i++) {
		sub[i].backend = q->backend;
		sub[i].argc = q->argc - 2;
		memcpy(sub[i].argv, q->argv + 2, (size_t)sub[i].argc * sizeof(char *));
		buf_init(&sub[i].out, BUF_NO_LIMIT);
		pthread_create(&tids[i], NULL, query_thread, &sub[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(tids[i], NULL);
		counts[sub[i].status + 1]++;
		buf_free(&sub[i].out);
	}
	q->status = counts[0] > 0 ? AUTHD_TEMPFAIL : counts[1] > 0 ? AUTHD_NOTFOUND : AUTHD_OK;
	buf_printf(&q->out, "status=%s\nok=%d\nnotfound=%d\ntempfail=%d\n",
		   query_status_name(q->status), counts[2], counts[1], counts[0]);
	free(sub);
	free(tids);
}

/* -1 for a usage error. */
static int query_answer(struct query *q)
{
	int ret;

	buf_init(&q->out, BUF_NO_LIMIT);
	ret = query_run(q);
	if (ret < 0)
		buf_printf(&q->out, "status=usage\n");
	fwrite(q->out.data, 1, q->out.len, stdout);
	fputs(".\n", stdout);
	fflush(stdout);
	buf_free(&q->out);
	return ret;
}

static int query_stdin(struct authd_backend *backend)
{
	static char line[QUERY_LINE_MAX];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		struct query q = { .backend = backend };
		char *save = NULL;

		line[strcspn(line, "\n")] = '\0';
		for (char *w = strtok_r(line, "\t", &save); w != NULL && q.argc < QUERY_ARGS_MAX;
		     w = strtok_r(NULL, "\t", &save))
			q.argv[q.argc++] = w;
		query_answer(&q);
	}
	return 0;
}

static struct cfg *query_config(int argc, char **argv, int *next_r)
{
	struct cfg *cfg = cfg_new(query_ops->defs, query_ops->ndefs);
	const char *error = NULL;
	int i = 1;

	/* -o settings apply after the file, as a daemon's do. */
	while (i + 1 < argc && strcmp(argv[i], "-o") == 0)
		i += 2;
	if (i >= argc || cfg_load_file(cfg, argv[i], &error) < 0)
		goto fail;
	for (int k = 1; k < i; k += 2) {
		char *key = xstrdup(argv[k + 1]);
		char *eq = strchr(key, '=');
		int rc = eq == NULL ? -1 : 0;

		if (eq != NULL) {
			*eq = '\0';
			rc = cfg_set(cfg, key, eq + 1, &error);
		}
		free(key);
		if (rc < 0)
			goto fail;
	}
	*next_r = i + 1;
	return cfg;
fail:
	fprintf(stderr, "ldap-query: %s\n", error != NULL ? error : "usage: ldap-query "
		"[-o key=value]... CONFIG COMMAND ARG... | CONFIG -");
	cfg_free(cfg);
	return NULL;
}

int main(int argc, char **argv)
{
	struct authd_backend *backend;
	struct query q = { 0 };
	const char *error = NULL;
	struct cfg *cfg;
	int next, ret = 0;

	if (argc == 2 && strcmp(argv[1], "--print-defaults") == 0) {
		cfg_print_defaults(query_ops->defs, query_ops->ndefs, stdout);
		return 0;
	}
	/* As in the daemon: a server closing its socket must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	cfg = query_config(argc, argv, &next);
	if (cfg == NULL)
		return 3;
	if (query_ops->init(cfg, &backend, &error) < 0) {
		fprintf(stderr, "ldap-query: %s\n", error);
		cfg_free(cfg);
		return 3;
	}
	if (next < argc && strcmp(argv[next], "-") == 0) {
		query_stdin(backend);
	} else {
		q.backend = backend;
		for (; next < argc && q.argc < QUERY_ARGS_MAX; next++)
			q.argv[q.argc++] = argv[next];
		if (query_answer(&q) < 0)
			ret = 3;
		else
			ret = q.status == AUTHD_OK ? 0 : q.status == AUTHD_NOTFOUND ? 1 : 2;
	}
	query_ops->deinit(backend);
	cfg_free(cfg);
	return ret;
}
