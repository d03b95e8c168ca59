#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "netaddr.h"
#include "tls.h"
#include "xalloc.h"

struct daemon {
	const struct daemon_info *info;
	struct cfg_def *table;
	size_t ntable;
	const char *config_path;
	char **opts; /* -o key=value, re-applied on reload */
	size_t nopts;
	bool foreground, check_only;

	struct cfg *cfg;
	uv_loop_t loop;
	struct listener *listeners;
	size_t nlisteners;
	struct conn_env env;
	struct netmask_list trusted;
	struct conn *conns;
	size_t nconns;
	char *pid_file;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t shutdown_timer;
	bool stopping, finished;
	void *context;
	bool started;
};

static char daemon_errbuf[1024];

const struct cfg_def daemon_common_defs[] = {
	{ "listen", CFG_LIST, NULL, "ADDRESS [tls=implicit|starttls|none] [proxy_protocol=yes|no] [service=NAME] [mode=OCTAL]; repeat for more", 0, 0, NULL, listener_spec_validate },
	{ "log_level", CFG_ENUM, "info", "least severe level logged", 0, 0, "debug|info|warn|error", NULL },
	{ "log_dest", CFG_ENUM, "syslog", "where log lines go (mail facility for syslog)", 0, 0, "stderr|syslog", NULL },
	{ "user", CFG_STR, "vmail", "user to run as after binding (empty: stay who we are)", 0, 0, NULL, NULL },
	{ "group", CFG_STR, NULL, "group to run as (empty: the user's primary group)", 0, 0, NULL, NULL },
	{ "pid_file", CFG_STR, NULL, "file holding the daemon's pid (empty: none)", 0, 0, NULL, NULL },
	{ "shutdown_timeout", CFG_TIME, "30s", "on SIGTERM, how long sessions may take to finish", 0, 86400, NULL, NULL },
	{ "idle_timeout", CFG_TIME, "5m", "close a connection silent this long (0: never)", 0, 86400, NULL, NULL },
	{ "session_timeout", CFG_TIME, "1h", "close any connection this old (0: never)", 0, 604800, NULL, NULL },
	{ "max_connections", CFG_INT, "1000", "connections at once; more get a \"too busy\" reply", 1, 1000000, NULL, NULL },
	{ "max_connections_per_ip", CFG_INT, "50", "connections at once from one client address (0: no limit)", 0, 1000000, NULL, NULL },
	{ "tls_cert", CFG_STR, NULL, "certificate chain file (PEM, leaf first); empty: no TLS", 0, 0, NULL, NULL },
	{ "tls_key", CFG_STR, NULL, "private key file (empty: in tls_cert)", 0, 0, NULL, NULL },
	{ "tls_cert_dir", CFG_STR, NULL, "directory of <name>.pem (chain and key) picked by SNI; *.domain.pem for wildcards", 0, 0, NULL, NULL },
	{ "tls_min_version", CFG_ENUM, "TLSv1.2", "oldest TLS version accepted", 0, 0, "TLSv1.2|TLSv1.3", NULL },
	{ "tls_ciphers", CFG_STR, NULL, "TLS 1.2 cipher list, server preference (empty: OpenSSL default)", 0, 0, NULL, NULL },
	{ "tls_ciphersuites", CFG_STR, NULL, "TLS 1.3 cipher suites (empty: OpenSSL default)", 0, 0, NULL, NULL },
	{ "proxy_trusted_networks", CFG_STR, NULL, "networks allowed to send a PROXY header (comma or space separated)", 0, 0, NULL, NULL },
};
const size_t daemon_common_defs_count = sizeof(daemon_common_defs) / sizeof(daemon_common_defs[0]);

/* Keys read once at start. */
static const char *const daemon_restart_keys[] = {
	"listen", "user", "group", "pid_file", "log_dest",
};

const struct cfg *daemon_cfg(const struct daemon *d) { return d->cfg; }
uv_loop_t *daemon_loop(struct daemon *d) { return &d->loop; }
struct daemon *daemon_of_conn(const struct conn *c) { return conn_env(c)->ctx; }
bool daemon_stopping(const struct daemon *d) { return d->stopping; }
void daemon_set_context(struct daemon *d, void *ctx) { d->context = ctx; }
void *daemon_context(const struct daemon *d) { return d->context; }

/* ------------------------------------------------------ configuration */

static const struct conn_service *daemon_service(const struct daemon *d, const char *name)
{
	if (name == NULL)
		return d->info->services[0];
	for (size_t i = 0; i < d->info->nservices; i++)
		if (strcmp(d->info->services[i]->name, name) == 0)
			return d->info->services[i];
	return NULL;
}

static int daemon_check_listeners(const struct daemon *d, const struct cfg *cfg,
				  const char **error_r)
{
	size_t n = cfg_list_count(cfg, "listen");
	bool have_tls = *cfg_str(cfg, "tls_cert") != '\0';
	struct listener_spec spec;
	const char *why = NULL;

	for (size_t i = 0; i < n && why == NULL; i++) {
		const char *text = cfg_list_get(cfg, "listen", i);

		if (listener_spec_parse(text, &spec, error_r) < 0)
			why = *error_r;
		else if (daemon_service(d, spec.service) == NULL)
			why = "unknown service=";
		else if (spec.tls != CONN_TLS_NONE && !have_tls)
			why = "tls= needs tls_cert";
		if (why != NULL)
			snprintf(daemon_errbuf, sizeof(daemon_errbuf), "listen %s: %s", text, why);
		listener_spec_free(&spec);
	}
	*error_r = daemon_errbuf;
	return why == NULL ? 0 : -1;
}

static int daemon_check_cfg(const struct daemon *d, const struct cfg *cfg,
			    const char **error_r)
{
	struct netmask_list l;
	const char *err;

	if (daemon_check_listeners(d, cfg, error_r) < 0)
		return -1;
	if (netmask_list_parse(&l, cfg_str(cfg, "proxy_trusted_networks"), &err) < 0) {
		snprintf(daemon_errbuf, sizeof(daemon_errbuf), "proxy_trusted_networks: %s", err);
		*error_r = daemon_errbuf;
		return -1;
	}
	netmask_list_free(&l);
	if (d->info->check != NULL)
		return d->info->check(cfg, error_r);
	return 0;
}

static bool daemon_is_list(const struct daemon *d, const char *key, size_t keylen)
{
	for (size_t i = 0; i < d->ntable; i++)
		if (strlen(d->table[i].name) == keylen &&
		    strncmp(d->table[i].name, key, keylen) == 0)
			return d->table[i].type == CFG_LIST;
	return false;
}

/* The value of -o number i; repeated -o for a list key add up (" ; "
 * joins list values for cfg_set). NULL when an earlier -o had the key. */
static char *daemon_opt_value(const struct daemon *d, size_t i, size_t keylen)
{
	const char *key = d->opts[i];
	struct buf v;

	if (!daemon_is_list(d, key, keylen))
		return xstrdup(key + keylen + 1);
	for (size_t j = 0; j < i; j++)
		if (strncmp(d->opts[j], key, keylen + 1) == 0)
			return NULL;
	buf_init(&v, BUF_NO_LIMIT);
	for (size_t j = i; j < d->nopts; j++) {
		if (strncmp(d->opts[j], key, keylen + 1) != 0)
			continue;
		if (v.len > 0)
			buf_append_str(&v, " ; ");
		buf_append_str(&v, d->opts[j] + keylen + 1);
	}
	return buf_steal(&v);
}

static int daemon_apply_opts(const struct daemon *d, struct cfg *cfg, const char **error_r)
{
	for (size_t i = 0; i < d->nopts; i++) {
		const char *eq = strchr(d->opts[i], '=');
		char *key, *value;
		const char *err = "expected key=value";
		int ret = -1;

		if (eq != NULL) {
			key = xstrndup(d->opts[i], (size_t)(eq - d->opts[i]));
			value = daemon_opt_value(d, i, strlen(key));
			ret = value == NULL ? 0 : cfg_set(cfg, key, value, &err);
			free(key);
			free(value);
		}
		if (ret < 0 && eq == NULL)
			snprintf(daemon_errbuf, sizeof(daemon_errbuf), "-o %s: %s", d->opts[i], err);
		else if (ret < 0)
			snprintf(daemon_errbuf, sizeof(daemon_errbuf), "%s", err);
		if (ret < 0) {
			*error_r = daemon_errbuf;
			return -1;
		}
	}
	return 0;
}

/* A fresh configuration from the file and -o options, checked. */
static struct cfg *daemon_load_cfg(const struct daemon *d, const char **error_r)
{
	struct cfg *cfg = cfg_new(d->table, d->ntable);
	const char *err = NULL;
	int ret = 0;

	if (d->config_path != NULL)
		ret = cfg_load_file(cfg, d->config_path, &err);
	if (ret == 0)
		ret = daemon_apply_opts(d, cfg, &err);
	if (ret == 0)
		ret = daemon_check_cfg(d, cfg, &err);
	if (ret < 0) {
		/* err may live in cfg; copy before freeing it. */
		if (err != daemon_errbuf)
			snprintf(daemon_errbuf, sizeof(daemon_errbuf), "%s", err);
		*error_r = daemon_errbuf;
		cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

static void daemon_tls_settings(const struct cfg *cfg, struct tls_settings *s)
{
	s->cert = cfg_str(cfg, "tls_cert");
	s->key = cfg_str(cfg, "tls_key");
	s->cert_dir = cfg_str(cfg, "tls_cert_dir");
	s->min_version = cfg_str(cfg, "tls_min_version");
	s->ciphers = cfg_str(cfg, "tls_ciphers");
	s->ciphersuites = cfg_str(cfg, "tls_ciphersuites");
}

static int daemon_load_tls(struct daemon *d, const struct cfg *cfg, const char **error_r)
{
	struct tls_settings s;
	struct tls_store *st;

	daemon_tls_settings(cfg, &s);
	if (tls_store_load(&s, &st, error_r) < 0)
		return -1;
	if (d->env.tls != NULL)
		tls_store_unref(d->env.tls);
	d->env.tls = st;
	return 0;
}

/* Values that take effect without a restart. */
static void daemon_apply_live(struct daemon *d, const struct cfg *cfg)
{
	const char *err;

	log_set_level(log_level_parse(cfg_str(cfg, "log_level")));
	netmask_list_free(&d->trusted);
	if (netmask_list_parse(&d->trusted, cfg_str(cfg, "proxy_trusted_networks"), &err) < 0)
		d->trusted.count = 0; /* checked at load; cannot happen */
	d->env.proxy_trusted = &d->trusted;
	d->env.idle_timeout = cfg_time(cfg, "idle_timeout");
	d->env.session_timeout = cfg_time(cfg, "session_timeout");
}

/* ------------------------------------------------------------- reload */

static bool daemon_key_changed(const struct cfg *a, const struct cfg *b, const char *key)
{
	size_t n;

	if (strcmp(key, "listen") != 0)
		return strcmp(cfg_str(a, key), cfg_str(b, key)) != 0;
	n = cfg_list_count(a, key);
	if (n != cfg_list_count(b, key))
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(cfg_list_get(a, key, i), cfg_list_get(b, key, i)) != 0)
			return true;
	return false;
}

static void daemon_reload(struct daemon *d)
{
	const char *err;
	struct cfg *cfg = daemon_load_cfg(d, &err);

	if (cfg == NULL) {
		log_error(NULL, "reload failed, keeping the running configuration: %s", err);
		return;
	}
	for (size_t i = 0; i < sizeof(daemon_restart_keys) / sizeof(*daemon_restart_keys); i++)
		if (daemon_key_changed(d->cfg, cfg, daemon_restart_keys[i]))
			log_warn(NULL, "reload: %s changed; takes effect after a restart",
				 daemon_restart_keys[i]);
	if (daemon_load_tls(d, cfg, &err) < 0)
		log_error(NULL, "reload: TLS certificates not replaced: %s", err);
	daemon_apply_live(d, cfg);
	cfg_free(d->cfg);
	d->cfg = cfg;
	log_info(NULL, "reloaded config=%s", d->config_path != NULL ? d->config_path : "-");
	if (d->info->reloaded != NULL)
		d->info->reloaded(d);
}

/* --------------------------------------------------------- connections */

static bool daemon_same_ip(const struct netaddr *a, const struct netaddr *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->addr, b->addr, len) == 0;
}

static bool daemon_admit(struct conn *c, void *ctx)
{
	struct daemon *d = ctx;
	long long per_ip = cfg_int(d->cfg, "max_connections_per_ip");
	const struct netaddr *rip = conn_remote(c);
	long long same = 0;

	if ((long long)d->nconns > cfg_int(d->cfg, "max_connections"))
		return false;
	if (per_ip == 0 || conn_is_unix(c))
		return true;
	/* A linear walk: fine for the connection counts one process holds. */
	for (struct conn *o = d->conns; o != NULL; o = conn_list_next(o))
		if (daemon_same_ip(conn_remote(o), rip))
			same++;
	return same <= per_ip;
}

static void daemon_finish(struct daemon *d);

static void daemon_conn_opened(struct conn *c, void *ctx)
{
	struct daemon *d = ctx;

	conn_list_link(&d->conns, c);
	d->nconns++;
}

static void daemon_conn_closed(struct conn *c, void *ctx)
{
	struct daemon *d = ctx;

	conn_list_unlink(&d->conns, c);
	d->nconns--;
	if (d->stopping && d->nconns == 0)
		daemon_finish(d);
}

/* ------------------------------------------------------------ signals */

static void daemon_abort_all(struct daemon *d, const char *reason)
{
	struct conn *c = d->conns, *next;

	for (; c != NULL; c = next) {
		next = conn_list_next(c);
		conn_abort(c, reason);
	}
}

static void daemon_close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void daemon_finish(struct daemon *d)
{
	if (d->finished)
		return;
	d->finished = true;
	daemon_close_handle((uv_handle_t *)&d->shutdown_timer);
	daemon_close_handle((uv_handle_t *)&d->sig_term);
	daemon_close_handle((uv_handle_t *)&d->sig_int);
	daemon_close_handle((uv_handle_t *)&d->sig_hup);
	if (d->started && d->info->stopping != NULL)
		d->info->stopping(d);
}

static void daemon_shutdown_timeout(uv_timer_t *t)
{
	struct daemon *d = t->data;

	log_warn(NULL, "shutdown timeout: closing %zu connections", d->nconns);
	daemon_abort_all(d, "shutdown");
}

static void daemon_stop(struct daemon *d)
{
	if (d->stopping) {
		daemon_abort_all(d, "shutdown");
		return;
	}
	d->stopping = true;
	log_info(NULL, "stopping connections=%zu", d->nconns);
	for (size_t i = 0; i < d->nlisteners; i++)
		listener_close(&d->listeners[i]);
	if (d->info->quiesce != NULL)
		d->info->quiesce(d);
	if (d->nconns == 0) {
		daemon_finish(d);
		return;
	}
	uv_timer_start(&d->shutdown_timer, daemon_shutdown_timeout,
		       (uint64_t)cfg_time(d->cfg, "shutdown_timeout") * 1000, 0);
}

static void daemon_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP)
		daemon_reload(d);
	else
		daemon_stop(d);
}

static void daemon_signals(struct daemon *d)
{
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, daemon_signal, SIGTERM);
	uv_signal_start(&d->sig_int, daemon_signal, SIGINT);
	uv_signal_start(&d->sig_hup, daemon_signal, SIGHUP);
	uv_timer_init(&d->loop, &d->shutdown_timer);
	d->shutdown_timer.data = d;
}

/* ------------------------------------------------------------ start-up */

static int daemon_bind_all(struct daemon *d, const char **error_r)
{
	d->nlisteners = cfg_list_count(d->cfg, "listen");
	d->listeners = xcalloc(d->nlisteners + 1, sizeof(*d->listeners));
	for (size_t i = 0; i < d->nlisteners; i++) {
		struct listener *l = &d->listeners[i];

		if (listener_spec_parse(cfg_list_get(d->cfg, "listen", i), &l->spec, error_r) < 0)
			return -1;
		l->opts.service = daemon_service(d, l->spec.service);
		l->env = &d->env;
		if (listener_bind(l, &d->loop, error_r) < 0)
			return -1;
	}
	return 0;
}

static void daemon_env_init(struct daemon *d)
{
	d->env.loop = &d->loop;
	d->env.admit = daemon_admit;
	d->env.opened = daemon_conn_opened;
	d->env.closed = daemon_conn_closed;
	d->env.ctx = d;
}

static void daemon_log_open(struct daemon *d)
{
	int dest = log_dest_parse(cfg_str(d->cfg, "log_dest"));
	int level = log_level_parse(cfg_str(d->cfg, "log_level"));

	log_open(d->info->name, (enum log_dest)dest, (enum log_level)level);
}

/* Bind, read keys, write the pid file, then drop root. */
static int daemon_start(struct daemon *d, const char **error_r)
{
	const char *user = cfg_str(d->cfg, "user"), *group = cfg_str(d->cfg, "group");
	int uid, gid;

	if (daemon_lookup_user(user, group, &uid, &gid, error_r) < 0)
		return -1;
	d->pid_file = xstrdup(cfg_str(d->cfg, "pid_file"));
	if (*d->pid_file != '\0' && daemon_pidfile_claim(d->pid_file, error_r) < 0) {
		free(d->pid_file);
		d->pid_file = NULL;
		return -1;
	}
	uv_loop_init(&d->loop);
	/* Before any port opens: whoever sees it open may signal us. */
	daemon_signals(d);
	daemon_env_init(d);
	daemon_apply_live(d, d->cfg);
	if (daemon_bind_all(d, error_r) < 0 || daemon_load_tls(d, d->cfg, error_r) < 0)
		return -1;
	/* Our pid file must stay removable once we are not root. */
	if (*d->pid_file != '\0' && geteuid() == 0 && uid >= 0 &&
	    chown(d->pid_file, (uid_t)uid, (gid_t)gid) < 0)
		log_warn(NULL, "chown pid_file=%s failed", d->pid_file);
	if (daemon_drop_privileges(user, group, error_r) < 0)
		return -1;
	if (geteuid() == 0)
		log_warn(NULL, "running as root: set user= to drop privileges");
	if (d->info->started != NULL) {
		if (d->info->started(d, error_r) < 0)
			return -1;
		d->started = true;
	}
	return 0;
}

static void daemon_cleanup(struct daemon *d)
{
	if (d->started && d->info->stopped != NULL)
		d->info->stopped(d);
	for (size_t i = 0; i < d->nlisteners; i++)
		listener_spec_free(&d->listeners[i].spec);
	free(d->listeners);
	if (d->env.tls != NULL)
		tls_store_unref(d->env.tls);
	netmask_list_free(&d->trusted);
	daemon_pidfile_release(d->pid_file);
	free(d->pid_file);
	cfg_free(d->cfg);
	free(d->table);
	free(d->opts);
}

static int daemon_run(struct daemon *d)
{
	const char *error;

	if (!d->foreground)
		daemon_background();
	daemon_log_open(d);
	if (daemon_start(d, &error) < 0) {
		log_error(NULL, "start failed: %s", error);
		daemon_ready(error);
		daemon_cleanup(d);
		return 1;
	}
	log_info(NULL, "started listeners=%zu tls_sni_certs=%zu", d->nlisteners,
		 d->env.tls != NULL ? tls_store_count(d->env.tls) : 0);
	daemon_ready(NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	log_info(NULL, "stopped");
	/* stopped() closes the daemon's handles: run their close callbacks */
	if (d->started && d->info->stopped != NULL)
		d->info->stopped(d);
	d->started = false;
	uv_run(&d->loop, UV_RUN_DEFAULT);
	uv_loop_close(&d->loop);
	daemon_cleanup(d);
	return 0;
}

/* -------------------------------------------------------- command line */

static void daemon_usage(const struct daemon_info *info, FILE *out)
{
	fprintf(out,
		"usage: %s [options]\n"
		"  -c, --config FILE     configuration file%s%s\n"
		"  -o KEY=VALUE          set one parameter (after the file; repeatable)\n"
		"  -F, --foreground      stay in the foreground\n"
		"      --print-defaults  print every parameter with its default and exit\n"
		"      --check-config    load and check the configuration and exit\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version and exit\n",
		info->name, info->default_config != NULL ? "; default " : "",
		info->default_config != NULL ? info->default_config : "");
}

enum { OPT_PRINT_DEFAULTS = 256, OPT_CHECK_CONFIG };

/* 0: go on; otherwise 1 + exit status. */
static int daemon_parse_args(struct daemon *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "print-defaults", no_argument, NULL, OPT_PRINT_DEFAULTS },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:o:FhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': d->config_path = optarg; break;
		case 'o':
			d->opts = xreallocarray(d->opts, d->nopts + 1, sizeof(*d->opts));
			d->opts[d->nopts++] = optarg;
			break;
		case 'F': d->foreground = true; break;
		case OPT_CHECK_CONFIG: d->check_only = true; break;
		case OPT_PRINT_DEFAULTS:
			cfg_print_defaults(d->table, d->ntable, stdout);
			return 1;
		case 'h': daemon_usage(d->info, stdout); return 1;
		case 'V': printf("%s %s\n", d->info->name, PACKAGE_VERSION); return 1;
		default: daemon_usage(d->info, stderr); return 3;
		}
	}
	if (optind < argc) {
		daemon_usage(d->info, stderr);
		return 3;
	}
	return 0;
}

static void daemon_build_table(struct daemon *d)
{
	d->ntable = daemon_common_defs_count + d->info->ndefs;
	d->table = xreallocarray(NULL, d->ntable, sizeof(*d->table));
	memcpy(d->table, daemon_common_defs, sizeof(daemon_common_defs));
	if (d->info->ndefs > 0)
		memcpy(d->table + daemon_common_defs_count, d->info->defs,
		       d->info->ndefs * sizeof(*d->table));
}

int daemon_main(const struct daemon_info *info, int argc, char **argv)
{
	struct daemon d = { .info = info };
	const char *error;
	int ret;

	daemon_build_table(&d);
	ret = daemon_parse_args(&d, argc, argv);
	if (ret == 0 && d.config_path == NULL && info->default_config != NULL &&
	    access(info->default_config, F_OK) == 0)
		d.config_path = info->default_config;
	if (ret == 0 && (d.cfg = daemon_load_cfg(&d, &error)) == NULL) {
		fprintf(stderr, "%s: %s\n", info->name, error);
		ret = 2;
	}
	if (ret == 0 && d.check_only) {
		printf("%s: configuration OK\n", d.config_path != NULL ? d.config_path : info->name);
		ret = 1;
	}
	if (ret != 0) {
		if (d.cfg != NULL)
			cfg_free(d.cfg);
		free(d.table);
		free(d.opts);
		return ret - 1;
	}
	return daemon_run(&d);
}
