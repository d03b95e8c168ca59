#ifndef MR_DAEMON_H
#define MR_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "config.h"
#include "conn.h"

/* The skeleton every daemon main() calls: command line, configuration
 * (a common table plus the daemon's own), listeners, TLS, privilege drop,
 * pid file, background start, signals (TERM/INT graceful stop, HUP
 * reload), connection limits; sessions plug in as struct conn_service,
 * chosen per listener by `service=`. */

struct daemon;

struct daemon_info {
	const char *name;            /* "mailroom-mta": log ident, messages */
	const char *default_config;  /* used when --config is not given and it exists */
	const struct cfg_def *defs;  /* the daemon's own keys (after the common ones) */
	size_t ndefs;
	/* The first is the default for listeners without service=. */
	const struct conn_service *const *services;
	size_t nservices;
	/* Daemon-specific checks of a loaded configuration (start, reload,
	 * --check-config). May be NULL. */
	int (*check)(const struct cfg *cfg, const char **error_r);
	/* A reload took effect. May be NULL. */
	void (*reloaded)(struct daemon *d);
	/* After the listeners are bound and privileges dropped, before the
	 * loop runs and start-up is reported: the daemon builds its own
	 * state (daemon_set_context). -1 with error_r stops start-up. May be
	 * NULL. */
	int (*started)(struct daemon *d, const char **error_r);
	/* Stopping: listeners closed and every connection gone. The daemon
	 * stops its own timers and lets idle handles go so the loop can end
	 * (work already running finishes first). May be NULL. */
	void (*stopping)(struct daemon *d);
	/* The loop has ended (or start-up failed after started() succeeded):
	 * free what started() built. May be NULL. */
	void (*stopped)(struct daemon *d);
	/* SIGTERM/SIGINT: the listeners are closed, the connections still
	 * open; sessions that would wait for their client (IMAP) say goodbye
	 * and close. May be NULL. */
	void (*quiesce)(struct daemon *d);
};

/* The keys every daemon has. */
extern const struct cfg_def daemon_common_defs[];
extern const size_t daemon_common_defs_count;

/* Runs the daemon; returns the process exit status. */
int daemon_main(const struct daemon_info *info, int argc, char **argv);

/* The configuration in force. A reload replaces it: sessions must not keep
 * pointers into it across callbacks. */
const struct cfg *daemon_cfg(const struct daemon *d);
uv_loop_t *daemon_loop(struct daemon *d);
struct daemon *daemon_of_conn(const struct conn *c);
bool daemon_stopping(const struct daemon *d);
/* The daemon's own state, for its sessions (NULL until set). */
void daemon_set_context(struct daemon *d, void *ctx);
void *daemon_context(const struct daemon *d);

/* Process helpers (daemon-process.c). */
/* The `hostname` key of cfg, or the host's own name when it is empty
 * ("localhost" when that fails), NUL-terminated in out. */
void daemon_hostname(const struct cfg *cfg, char *out, size_t size);

/* Refuse when a live process holds path; else write our pid. */
int daemon_pidfile_claim(const char *path, const char **error_r);
/* Remove it, or empty it when the directory is not ours any more. */
void daemon_pidfile_release(const char *path);
/* Resolve user/group; uid_r/gid_r -1 when user is empty. */
int daemon_lookup_user(const char *user, const char *group, int *uid_r, int *gid_r,
		       const char **error_r);
/* As root: switch to user/group for good. Not root: user/group must be
 * empty or name who we already are. */
int daemon_drop_privileges(const char *user, const char *group, const char **error_r);
/* Fork into the background. The parent waits for daemon_ready() or the
 * child's failure and exits; returns in the child only. */
void daemon_background(void);
/* Tell a waiting parent that start-up succeeded (msg NULL) or failed. */
void daemon_ready(const char *error);

#endif
