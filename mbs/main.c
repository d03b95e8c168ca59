/* mailroom-mbs: IMAP (and later POP3/POP2) over the Maildir++ store, on
 * the daemon skeleton; the IMAP session in imap-session.c, its commands
 * in imap-cmd-*.c, the store behind mbs/mailbox.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd-client.h"
#include "daemon.h"
#include "imap-session.h"
#include "log.h"
#include "mbs.h"
#include "notify.h"
#include "pop3-session.h"
#include "xalloc.h"

const struct cfg_def mbs_defs[] = {
	{ "hostname", CFG_STR, NULL,
	  "name in the greeting and the BYE (empty: the host's name)", 0, 0, NULL, NULL },
	{ "authd_lookup_socket", CFG_STR, "/run/mailroom/authd-lookup",
	  "authd's lookup socket (the user's mailbox and quota after login)", 0, 0, NULL, NULL },
	{ "authd_auth_socket", CFG_STR, "/run/mailroom/auth",
	  "authd's auth socket (LOGIN, AUTHENTICATE, USER/PASS)", 0, 0, NULL, NULL },
	{ "authd_timeout", CFG_TIME, "10s",
	  "an authd answer later than this is a temporary failure ([UNAVAILABLE])", 1, 3600, NULL, NULL },
	{ "auth_allow_plaintext", CFG_BOOL, "no",
	  "allow LOGIN and AUTHENTICATE before TLS (no: LOGINDISABLED; loopback is not exempt)",
	  0, 0, NULL, NULL },
	{ "imap_idle_timeout", CFG_TIME, "30m",
	  "close an authenticated IMAP session silent this long, IDLE included (RFC 3501 5.4: at least 30m)",
	  1, 86400, NULL, NULL },
	{ "imap_session_timeout", CFG_TIME, "0",
	  "after login, close an IMAP connection this long after the login (0: never; clients keep one IDLE connection for days; before login the daemon's session_timeout applies)",
	  0, 604800, NULL, NULL },
	{ "imap_max_bad_commands", CFG_INT, "20",
	  "BAD replies in a row before BYE and close (an OK or NO starts the count again)", 1, 10000, NULL, NULL },
	{ "imap_max_line", CFG_SIZE, "64k",
	  "longest IMAP command line; longer ones get BAD and are dropped", 1024, 1024 * 1024, NULL, NULL },
	{ "imap_max_literal", CFG_SIZE, "64k",
	  "largest literal kept in memory for a command other than APPEND ([TOOBIG] beyond)",
	  1024, 16 * 1024 * 1024, NULL, NULL },
	{ "imap_append_limit", CFG_SIZE, "50M",
	  "largest message APPEND accepts, advertised as APPENDLIMIT ([TOOBIG] beyond)",
	  1024, 1LL << 32, NULL, NULL },
	{ "worker_threads", CFG_INT, "16",
	  "threads for mailbox work (reads, fsyncs, directory scans); read at start only",
	  1, 1024, NULL, NULL },
	{ "mailbox_notify", CFG_ENUM, "inotify",
	  "how sessions learn of changes to an open folder: inotify, or polling only",
	  0, 0, "inotify|poll", NULL },
	{ "mailbox_poll_interval", CFG_TIME, "5s",
	  "polling period when inotify is off or unavailable", 1, 3600, NULL, NULL },
	{ "mailbox_revalidate_interval", CFG_TIME, "30s",
	  "re-read an open folder this often even without events (changes from other hosts, NFS)",
	  1, 86400, NULL, NULL },
	/* ---- POP3 and POP2 (pop3-*.c, pop2-session.c) ---- */
	{ "pop3_idle_timeout", CFG_TIME, "10m",
	  "close a POP3 or POP2 session silent this long (RFC 1939 3: at least 10m)",
	  1, 86400, NULL, NULL },
	{ "pop3_max_bad_commands", CFG_INT, "20",
	  "-ERR replies to unknown or malformed commands (failed logins too) in a row before the session is closed",
	  1, 10000, NULL, NULL },
	{ "pop3_lock_session", CFG_BOOL, "yes",
	  "one POP3 session per maildrop ([IN-USE] for another), with Dovecot's dovecot-pop3-session.lock",
	  0, 0, NULL, NULL },
	{ "pop3_lock_timeout", CFG_TIME, "10s",
	  "wait this long for another session's lock before answering [IN-USE]", 1, 600, NULL, NULL },
	{ "pop3_mark_seen", CFG_BOOL, "yes",
	  "messages sent by RETR get \\Seen when the session QUITs, as Dovecot does", 0, 0, NULL, NULL },
	{ "pop2_allow_plaintext", CFG_BOOL, "no",
	  "accept POP2 HELO (a clear-text password) on connections without TLS", 0, 0, NULL, NULL },
};
const size_t mbs_defs_count = sizeof(mbs_defs) / sizeof(mbs_defs[0]);

static const struct conn_service *const mbs_services[] = {
	&imap_service, &imaps_service,
	&pop3_service, &pop3s_service, &pop2_service,
};

static int mbs_check(const struct cfg *cfg, const char **error_r)
{
	const char *h = cfg_str(cfg, "hostname");

	for (; *h != '\0'; h++) {
		/* it goes into the greeting: no spaces, controls or brackets */
		if ((unsigned char)*h <= ' ' || *h == 0x7f || *h == '[' || *h == ']') {
			*error_r = "hostname: no spaces, brackets or control characters";
			return -1;
		}
	}
	if (cfg_time(cfg, "imap_idle_timeout") < 30 * 60)
		log_warn(NULL, "imap_idle_timeout below the RFC 3501 5.4 minimum of 30 minutes");
	if (cfg_time(cfg, "pop3_idle_timeout") < 10 * 60)
		log_warn(NULL, "pop3_idle_timeout below the RFC 1939 3 minimum of 10 minutes");
	return 0;
}

static void mbs_notify_settings(const struct cfg *cfg, struct mbs_notify_settings *set)
{
	*set = (struct mbs_notify_settings){
		.mode = cfg_enum(cfg, "mailbox_notify") == 0 ? MBS_NOTIFY_INOTIFY : MBS_NOTIFY_POLL,
		.poll_ms = cfg_time(cfg, "mailbox_poll_interval") * 1000,
		.revalidate_ms = cfg_time(cfg, "mailbox_revalidate_interval") * 1000,
	};
}

static int mbs_started(struct daemon *d, const char **error_r)
{
	const struct cfg *cfg = daemon_cfg(d);
	struct mbs *m = xcalloc(1, sizeof(*m));
	struct authd_client_settings set = {
		.lookup_socket = cfg_str(cfg, "authd_lookup_socket"),
		.auth_socket = *cfg_str(cfg, "authd_auth_socket") != '\0'
			? cfg_str(cfg, "authd_auth_socket") : NULL,
		.timeout_ms = cfg_time(cfg, "authd_timeout") * 1000,
	};
	struct mbs_notify_settings nset;

	char threads[16];

	(void)error_r;
	/* libuv sizes its thread pool at the first job, which comes after
	 * this: mailbox work is mostly waiting on the disk (fsync), so more
	 * threads than cores keep reads from queueing behind writes. The
	 * environment wins when set. */
	snprintf(threads, sizeof(threads), "%lld", cfg_int(cfg, "worker_threads"));
	setenv("UV_THREADPOOL_SIZE", threads, 0);
	m->loop = daemon_loop(d);
	daemon_hostname(cfg, m->hostname, sizeof(m->hostname));
	m->authd = authd_client_new(m->loop, &set);
	mbs_notify_settings(cfg, &nset);
	m->notify = mbs_notify_new(m->loop, &nset);
	daemon_set_context(d, m);
	log_info(NULL, "mbs hostname=%s", m->hostname);
	return 0;
}

static void mbs_reloaded(struct daemon *d)
{
	struct mbs *m = daemon_context(d);
	struct mbs_notify_settings nset;

	daemon_hostname(daemon_cfg(d), m->hostname, sizeof(m->hostname));
	/* new intervals apply now; the mode stays until a restart */
	mbs_notify_settings(daemon_cfg(d), &nset);
	mbs_notify_set(m->notify, &nset);
}

/* SIGTERM: sessions wait for the next command forever, so tell them to
 * go (RFC 3501 7.1.5 BYE) rather than wait out shutdown_timeout. */
static void mbs_quiesce(struct daemon *d)
{
	struct mbs *m = daemon_context(d);

	if (m != NULL)
		imap_sessions_shutdown(m);
	if (m != NULL)
		pop3_sessions_shutdown(m);
}

/* The last session is gone: the authd client's sockets must not keep
 * the loop running. */
static void mbs_stopping(struct daemon *d)
{
	struct mbs *m = daemon_context(d);

	if (m != NULL)
		authd_client_weaken(m->authd);
}

static void mbs_stopped(struct daemon *d)
{
	struct mbs *m = daemon_context(d);

	if (m == NULL)
		return;
	authd_client_free(m->authd);
	mbs_notify_free(m->notify);
	free(m);
	daemon_set_context(d, NULL);
}

int main(int argc, char **argv)
{
	struct daemon_info info = {
		.name = "mailroom-mbs",
		.default_config = SYSCONFDIR "/mailroom/mbs.conf",
		.defs = mbs_defs,
		.ndefs = mbs_defs_count,
		.services = mbs_services,
		.nservices = sizeof(mbs_services) / sizeof(mbs_services[0]),
		.check = mbs_check,
		.started = mbs_started,
		.reloaded = mbs_reloaded,
		.quiesce = mbs_quiesce,
		.stopping = mbs_stopping,
		.stopped = mbs_stopped,
	};

	return daemon_main(&info, argc, argv);
}
