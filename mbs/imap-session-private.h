#ifndef MR_MBS_IMAP_SESSION_PRIVATE_H
#define MR_MBS_IMAP_SESSION_PRIVATE_H

#include "authd-client.h"
#include "buf.h"
#include "imap-session.h"
#include "notify.h"

/* What imap-session.c keeps per connection beyond struct imap_client,
 * and the hooks the session's own commands (AUTHENTICATE, IDLE) use. */

typedef void imap_line_fn(struct imap_client *c, const struct lr_line *line);

enum imap_literal_mode {
	IMAP_LIT_NONE,
	IMAP_LIT_PARSER,   /* kept or skipped: the parser takes the bytes */
	IMAP_LIT_STREAM,   /* APPEND's message: into streams[nstreams - 1] */
};

struct imap_session {
	struct imap_client *c;
	struct imap_session *prev, *next;
	enum imap_literal_mode lit;
	struct buf *streams;
	size_t nstreams;
	/* A command reading lines itself (AUTHENTICATE, IDLE). */
	imap_line_fn *line_fn;
	bool in_dispatch;
	unsigned jobs;              /* worker jobs out */
	/* imap_client_when_writable(): counted in jobs while it waits */
	void (*writable_fn)(struct imap_client *c, void *ctx);
	void *writable_ctx;
	/* the tagged reply waiting for the sync before it */
	char *pending_status, *pending_text;
	/* AUTHENTICATE / LOGIN */
	struct authd_client_req *auth_req;
	struct authd_client_req *user_req;
	char *auth_mech;
	bool auth_ir;               /* SASL-IR was used */
	char *auth_login;           /* LOGIN's user name, for the log */
	/* The selected folder's watch (mbs/notify.h), for IDLE and to skip
	 * the sync before a tagged OK when nothing changed. */
	struct mbs_notify_watch *watch;
	const struct mbox *watch_box;
	char *watch_path;
	uint64_t synced_gen;        /* the watch's generation at the last sync */
	bool synced_valid;          /* ...and that sync left nothing pending */
	/* IDLE */
	bool idle_syncing;          /* a sync is out */
	bool idle_again;            /* another change came meanwhile */
	bool idle_done;             /* DONE read: finish after the sync */
	bool idle_bad;              /* ...and it was not DONE */
};

static inline struct imap_session *imap_session_of(struct imap_client *c)
{
	return c->session_private;
}

/* Read the next lines through fn (NULL: back to commands). Resumes reading. */
void imap_client_read_line(struct imap_client *c, imap_line_fn *fn);
/* Write a whole tagged reply without the sync, end the command. */
void imap_client_tagged_now(struct imap_client *c, const char *status, const char *text);
/* The remote address as text ("-" for a UNIX socket). */
const char *imap_client_rip(const struct imap_client *c, char *buf);
/* IDLE (imap-cmd-idle.c): the selected folder changed. */
void imap_idle_changed(struct imap_client *c);
/* Keep the watch on the selected folder (none without one). */
void imap_client_watch_update(struct imap_client *c);
/* Set the idle timer for the client's state. */
void imap_client_set_timeout(struct imap_client *c);

#endif
