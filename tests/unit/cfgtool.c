/* A stand-in for a daemon's configuration options, so the sample-config
 * check can be tested before any daemon exists: a small table with every
 * type, and --print-defaults, --config FILE, --check-config. */
#include <stdio.h>
#include <string.h>

#include "config.h"

static int cfgtool_no_slash(const char *value, const char **error_r)
{
	if (strchr(value, '/') != NULL) {
		*error_r = "must not contain '/'";
		return -1;
	}
	return 0;
}

static const struct cfg_def cfgtool_table[] = {
	{ .name = "hostname", .type = CFG_STR, .def = "mail.example.test",
	  .help = "Name announced in greetings." },
	{ .name = "banner_extra", .type = CFG_STR, .def = NULL,
	  .help = "Text added after the greeting; empty for none." },
	{ .name = "tag", .type = CFG_STR, .def = "mr", .validate = cfgtool_no_slash,
	  .help = "Short tag for log lines (no '/')." },
	{ .name = "workers", .type = CFG_INT, .def = "4", .min = 1, .max = 64,
	  .help = "Worker threads." },
	{ .name = "tls_required", .type = CFG_BOOL, .def = "yes",
	  .help = "Refuse AUTH before TLS." },
	{ .name = "message_size_limit", .type = CFG_SIZE, .def = "25M", .min = 1024,
	  .max = 1LL << 30, .help = "Largest message accepted, in bytes (k, M, G suffixes)." },
	{ .name = "idle_timeout", .type = CFG_TIME, .def = "30m",
	  .help = "Close a connection idle this long (s, m, h, d suffixes)." },
	{ .name = "log_level", .type = CFG_ENUM, .def = "info", .choices = "debug|info|warn|error",
	  .help = "Least important log level written." },
	{ .name = "listen", .type = CFG_LIST, .def = "127.0.0.1:2525 ; [::1]:2525",
	  .help = "Address and port to accept connections on; repeat for more." },
	{ .name = "trusted_networks", .type = CFG_LIST, .def = NULL,
	  .help = "Networks allowed to send a PROXY header; repeat for more." },
};

#define CFGTOOL_COUNT (sizeof(cfgtool_table) / sizeof(cfgtool_table[0]))

static int cfgtool_usage(void)
{
	fputs("usage: cfgtool --print-defaults\n"
	      "       cfgtool [--config FILE] --check-config\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *error;
	bool print = false, check = false;
	struct cfg *cfg;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--print-defaults") == 0)
			print = true;
		else if (strcmp(argv[i], "--check-config") == 0)
			check = true;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else
			return cfgtool_usage();
	}
	if (print == check || (print && config != NULL))
		return cfgtool_usage();
	if (print) {
		cfg_print_defaults(cfgtool_table, CFGTOOL_COUNT, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	cfg = cfg_new(cfgtool_table, CFGTOOL_COUNT);
	if (config != NULL && cfg_load_file(cfg, config, &error) < 0) {
		fprintf(stderr, "cfgtool: %s\n", error);
		ret = 1;
	}
	cfg_free(cfg);
	return ret;
}
