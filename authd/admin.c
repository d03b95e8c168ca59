/* mailroom: the admin command (docs/mailroom.1). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "buf.h"
#include "core.h"
#include "daemon.h"
#include "fields.h"
#include "listener.h"
#include "password.h"
#include "queue-admin.h"
#include "xalloc.h"

#define ADMIN_DEFAULT_CONFIG SYSCONFDIR "/mailroom/authd.conf"
#define ADMIN_DEFAULT_LOOKUP "/run/mailroom/authd-lookup"
#define ADMIN_DEFAULT_AUTH "/run/mailroom/auth"

struct admin_opts {
	const char *config;
	const char *socket;
	const char *service;
	const char *scheme;
	bool config_given;
};

static void admin_usage(FILE *out)
{
	fprintf(out,
		"usage: mailroom [-c CONFIG] [--socket PATH] COMMAND\n"
		"  pw [-s SCHEME] [PASSWORD]     hash a password (stdin when not given)\n"
		"  user lookup ADDR              a mailbox as authd sees it\n"
		"  rcpt lookup ADDR              where mail for ADDR goes\n"
		"  cache flush [KEY]             drop authd's cached answers\n"
		"  auth test [--service NAME] USER [PASSWORD]\n"
		"                                log in through authd's auth socket\n"
		"  queue list|show ID|flush|delete ID   this host's mail queue\n"
		"exit: 0 ok, 1 not found or failed, 2 usage, 75 temporary failure\n");
}

/* The first UNIX listener of authd's config for service (NULL: the
 * default service, lookup); fallback when there is none. */
static char *admin_socket_from_config(const struct admin_opts *o, const char *service,
				      const char *fallback)
{
	size_t ncore, n = daemon_common_defs_count;
	const struct cfg_def *core = authd_all_defs(&ncore);
	struct cfg_def *table = xcalloc(n + ncore, sizeof(*table));
	struct cfg *cfg;
	const char *err;
	char *found = NULL;

	memcpy(table, daemon_common_defs, n * sizeof(*table));
	memcpy(table + n, core, ncore * sizeof(*table));
	cfg = cfg_new(table, n + ncore);
	if (cfg_load_file(cfg, o->config, &err) < 0) {
		if (o->config_given)
			fprintf(stderr, "mailroom: %s\n", err);
	} else {
		for (size_t i = 0; i < cfg_list_count(cfg, "listen") && found == NULL; i++) {
			struct listener_spec spec;

			if (listener_spec_parse(cfg_list_get(cfg, "listen", i), &spec, &err) < 0)
				continue;
			if (spec.is_unix && strcmp(spec.service != NULL ? spec.service : "lookup",
						   service) == 0)
				found = xstrdup(spec.address);
			listener_spec_free(&spec);
		}
	}
	cfg_free(cfg);
	free(table);
	return found != NULL ? found : xstrdup(fallback);
}

/* The password argument, or one line of stdin. */
static char *admin_password(int argc, char **argv, int i)
{
	char line[4096];
	size_t len;

	if (i < argc)
		return xstrdup(argv[i]);
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "Password: ");
	if (fgets(line, sizeof(line), stdin) == NULL)
		return NULL;
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	return xstrdup(line);
}

static int admin_pw(const struct admin_opts *o, int argc, char **argv)
{
	char *password, *hash;
	const char *err;
	int ret = ADMIN_OK;

	if (argc > 1) {
		admin_usage(stderr);
		return ADMIN_USAGE;
	}
	if ((password = admin_password(argc, argv, 0)) == NULL) {
		fprintf(stderr, "mailroom: no password given\n");
		return ADMIN_USAGE;
	}
	if (password_hash(o->scheme, password, &hash, &err) < 0) {
		fprintf(stderr, "mailroom: %s: %s\n", o->scheme, err);
		ret = ADMIN_USAGE;
	} else {
		printf("%s\n", hash);
		free(hash);
	}
	memset(password, 0, strlen(password));
	free(password);
	return ret;
}

/* Print a lookup reply ("<id>\tSTATUS\tfield...") a field a line; the
 * exit status follows STATUS. */
static int admin_print_reply(const char *line)
{
	struct authd_fields f;
	const char *err;
	int ret;

	if (authd_fields_split(line, strlen(line), 4096, &f, &err) < 0 || f.count < 2) {
		fprintf(stderr, "mailroom: unexpected reply: %s\n", line);
		authd_fields_free(&f);
		return ADMIN_TEMPFAIL;
	}
	if (strcmp(f.items[1], "OK") == 0)
		ret = ADMIN_OK;
	else if (strcmp(f.items[1], "TEMPFAIL") == 0)
		ret = ADMIN_TEMPFAIL;
	else if (strcmp(f.items[1], "ERROR") == 0)
		ret = ADMIN_USAGE;
	else
		ret = ADMIN_NO;
	printf("%s\n", f.items[1]);
	for (size_t i = 2; i < f.count; i++)
		printf("%s%s\n", ret == ADMIN_OK ? "" : "reason=", f.items[i]);
	authd_fields_free(&f);
	return ret;
}

static int admin_lookup(const struct admin_opts *o, const char *cmd, const char *arg)
{
	char *path = o->socket != NULL ? xstrdup(o->socket) :
		     admin_socket_from_config(o, "lookup", ADMIN_DEFAULT_LOOKUP);
	struct admin_conn c;
	struct buf req;
	char *line = xmalloc(ADMIN_LINE_MAX);
	int ret = ADMIN_TEMPFAIL;

	buf_init(&req, BUF_NO_LIMIT);
	buf_printf(&req, "1\t%s", cmd);
	if (arg != NULL)
		authd_field_add(&req, arg);
	buf_append_char(&req, '\n');
	if (admin_connect(&c, path) == 0) {
		if (admin_send(&c, req.data, req.len) == 0 && admin_read_line(&c, line) == 0)
			ret = admin_print_reply(line);
		admin_close(&c);
	}
	buf_free(&req);
	free(line);
	free(path);
	return ret;
}

static int admin_auth(const struct admin_opts *o, int argc, char **argv)
{
	char *path, *password;
	int ret;

	if (argc < 1 || argc > 2) {
		admin_usage(stderr);
		return ADMIN_USAGE;
	}
	if ((password = admin_password(argc, argv, 1)) == NULL) {
		fprintf(stderr, "mailroom: no password given\n");
		return ADMIN_USAGE;
	}
	path = o->socket != NULL ? xstrdup(o->socket) :
	       admin_socket_from_config(o, "auth", ADMIN_DEFAULT_AUTH);
	ret = admin_auth_test(path, o->service, argv[0], password);
	memset(password, 0, strlen(password));
	free(password);
	free(path);
	return ret;
}

/* "NOUN VERB ARG" commands. */
static int admin_dispatch(const struct admin_opts *o, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "pw") == 0)
		return admin_pw(o, argc - 1, argv + 1);
	if (argc == 3 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "lookup") == 0)
		return admin_lookup(o, "USER", argv[2]);
	if (argc == 3 && strcmp(argv[0], "rcpt") == 0 && strcmp(argv[1], "lookup") == 0)
		return admin_lookup(o, "RCPT", argv[2]);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "cache") == 0 &&
	    strcmp(argv[1], "flush") == 0)
		return admin_lookup(o, "FLUSH", argc == 3 ? argv[2] : NULL);
	if (argc >= 1 && strcmp(argv[0], "queue") == 0)
		return queue_admin_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[0], "auth") == 0 && strcmp(argv[1], "test") == 0)
		return admin_auth(o, argc - 2, argv + 2);
	admin_usage(stderr);
	return ADMIN_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 'S' },
		{ "service", required_argument, NULL, 'v' },
		{ "scheme", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct admin_opts o = {
		.config = ADMIN_DEFAULT_CONFIG, .service = "imap", .scheme = "SHA512-CRYPT",
	};
	int ch;

	/* Options may come anywhere ("pw -s SSHA x"): GNU getopt permutes. */
	while ((ch = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config = optarg; o.config_given = true; break;
		case 'S': o.socket = optarg; break;
		case 'v': o.service = optarg; break;
		case 's': o.scheme = optarg; break;
		case 'h': admin_usage(stdout); return ADMIN_OK;
		default: admin_usage(stderr); return ADMIN_USAGE;
		}
	}
	if (strpbrk(o.service, "\t\n\r") != NULL) {
		fprintf(stderr, "mailroom: bad --service\n");
		return ADMIN_USAGE;
	}
	return admin_dispatch(&o, argc - optind, argv + optind);
}
