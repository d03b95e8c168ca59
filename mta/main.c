/* mailroom-mta: SMTP (MX), submission, submissions and LMTP on the daemon
 * skeleton; sessions in smtp-*.c, the queue behind mta/queue.h. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd-client.h"
#include "daemon.h"
#include "log.h"
#include "mta.h"
#include "queue.h"
#include "smtp-session.h"
#include "xalloc.h"

const struct cfg_def mta_defs[] = {
	{ "hostname", CFG_STR, NULL,
	  "name in the greeting, the EHLO reply and Received: lines (empty: the host's name)",
	  0, 0, NULL, NULL },
	{ "message_size_limit", CFG_SIZE, "50M",
	  "largest message accepted, advertised in EHLO SIZE and enforced", 1024, 1LL << 40, NULL, NULL },
	{ "max_recipients", CFG_INT, "1000",
	  "recipients per message; more get 452 4.5.3", 1, 100000, NULL, NULL },
	{ "max_errors", CFG_INT, "10",
	  "error replies in one session before 421 4.7.0 and close", 1, 1000, NULL, NULL },
	{ "smtpd_timeout_command", CFG_TIME, "5m",
	  "wait this long for the next command (RFC 5321 4.5.3.2.7: at least 5m)", 1, 86400, NULL, NULL },
	{ "smtpd_timeout_data", CFG_TIME, "3m",
	  "wait this long for more DATA/BDAT bytes (RFC 5321 4.5.3.2.5: at least 3m)", 1, 86400, NULL, NULL },
	{ "authd_lookup_socket", CFG_STR, "/run/mailroom/authd-lookup",
	  "authd's lookup socket (recipients, domains, senders)", 0, 0, NULL, NULL },
	{ "authd_auth_socket", CFG_STR, "/run/mailroom/auth",
	  "authd's auth socket (SASL for AUTH on submission)", 0, 0, NULL, NULL },
	{ "authd_timeout", CFG_TIME, "10s",
	  "an authd answer later than this is a temporary failure", 1, 3600, NULL, NULL },
	{ "sender_login_check", CFG_BOOL, "yes",
	  "submission: MAIL FROM must be an address the login owns (553 5.7.1)", 0, 0, NULL, NULL },
	{ "header_from_check", CFG_BOOL, "yes",
	  "submission: the From: header's addresses must be owned by the login too",
	  0, 0, NULL, NULL },
	{ "masquerade_domains", CFG_LIST, NULL,
	  "submission: a sender (envelope, From:, Sender:, Reply-To:) in a subdomain of one of these is rewritten to it",
	  0, 0, NULL, NULL },
	{ "received_header_details", CFG_ENUM, "full",
	  "Received: shows client and TLS and auth user (full), not the user, or only our side",
	  0, 0, "full|no-auth-user|minimal", NULL },
	{ "rate_limit_per_minute", CFG_INT, "120",
	  "connections per client address per minute; more get 421 4.7.0 (0: no limit)",
	  0, 1000000, NULL, NULL },
};
const size_t mta_defs_count = sizeof(mta_defs) / sizeof(mta_defs[0]);

static const struct conn_service *const mta_services[] = {
	&smtp_service_mx, &smtp_service_submission, &smtp_service_submissions, &smtp_service_lmtp,
};

static int mta_check(const struct cfg *cfg, const char **error_r)
{
	const char *h = cfg_str(cfg, "hostname");

	for (; *h != '\0'; h++) {
		if ((unsigned char)*h <= ' ' || *h == 0x7f) {
			*error_r = "hostname: no spaces or control characters";
			return -1;
		}
	}
	if (cfg_time(cfg, "smtpd_timeout_command") < 300 || cfg_time(cfg, "smtpd_timeout_data") < 180)
		log_warn(NULL, "smtpd timeouts below RFC 5321 4.5.3.2 minimums");
	return 0;
}

static int mta_started(struct daemon *d, const char **error_r)
{
	const struct cfg *cfg = daemon_cfg(d);
	struct mta *m = xcalloc(1, sizeof(*m));
	struct authd_client_settings set = {
		.lookup_socket = cfg_str(cfg, "authd_lookup_socket"),
		.auth_socket = *cfg_str(cfg, "authd_auth_socket") != '\0'
			? cfg_str(cfg, "authd_auth_socket") : NULL,
		.timeout_ms = cfg_time(cfg, "authd_timeout") * 1000,
	};

	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	m->loop = daemon_loop(d);
	daemon_hostname(cfg, m->hostname, sizeof(m->hostname));
	m->authd = authd_client_new(m->loop, &set);
	m->queue = queue_new(m->loop, cfg, m->authd, error_r);
	if (m->queue == NULL) {
		authd_client_free(m->authd);
		free(m);
		return -1;
	}
	daemon_set_context(d, m);
	log_info(NULL, "mta hostname=%s", m->hostname);
	return 0;
}

static void mta_reloaded(struct daemon *d)
{
	struct mta *m = daemon_context(d);

	daemon_hostname(daemon_cfg(d), m->hostname, sizeof(m->hostname));
}

static void mta_stopping(struct daemon *d)
{
	struct mta *m = daemon_context(d);

	queue_quiesce(m->queue);
	authd_client_weaken(m->authd);
}

static void mta_stopped(struct daemon *d)
{
	struct mta *m = daemon_context(d);

	if (m == NULL)
		return;
	queue_free(m->queue);
	authd_client_free(m->authd);
	free(m);
	daemon_set_context(d, NULL);
}

int main(int argc, char **argv)
{
	size_t n = mta_defs_count + queue_defs_count;
	struct cfg_def *defs = xcalloc(n, sizeof(*defs));
	struct daemon_info info = {
		.name = "mailroom-mta",
		.default_config = SYSCONFDIR "/mailroom/mta.conf",
		.defs = defs,
		.ndefs = n,
		.services = mta_services,
		.nservices = sizeof(mta_services) / sizeof(mta_services[0]),
		.check = mta_check,
		.started = mta_started,
		.reloaded = mta_reloaded,
		.stopping = mta_stopping,
		.stopped = mta_stopped,
	};
	int status;

	memcpy(defs, mta_defs, sizeof(mta_defs));
	memcpy(defs + mta_defs_count, queue_defs, queue_defs_count * sizeof(*defs));
	status = daemon_main(&info, argc, argv);
	free(defs);
	return status;
}
