#ifndef MR_MBS_MBS_H
#define MR_MBS_MBS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

/* What every IMAP, POP3 and POP2 session of mailroom-mbs shares: the
 * authd client, the change notifier and the host name. */

struct authd_client;
struct mbs_notify;
struct imap_session;
struct pop3_client;

struct mbs {
	uv_loop_t *loop;
	struct authd_client *authd;
	struct mbs_notify *notify;
	char hostname[256];
	/* The live IMAP sessions (imap-session.c), for the BYE on shutdown. */
	struct imap_session *imap_sessions;
	/* The live POP3 and POP2 sessions (pop3-session.c), likewise. */
	struct pop3_client *pop3_clients;
};

extern const struct cfg_def mbs_defs[];
extern const size_t mbs_defs_count;

#endif
