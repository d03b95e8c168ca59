#ifndef MR_MBS_IMAP_SESSION_H
#define MR_MBS_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "daemon.h"
#include "imap-parser.h"
#include "mailbox.h"
#include "mbs.h"

struct buf;

/* One IMAP connection. Commands run one at a time: the session reads the
 * next command only after the running one has sent its tagged reply
 * (imap_client_done), so pipelined commands are answered in order. A
 * command's handler checks its arguments on the loop thread and moves
 * storage work to a worker with imap_client_work(). One file per command
 * family (imap-cmd-*.c), every command in the table imap_commands[]
 * (imap-commands.c). */

enum imap_state {
	IMAP_ST_NOAUTH = 0x01,
	IMAP_ST_AUTH = 0x02,
	IMAP_ST_SELECTED = 0x04,
	IMAP_ST_LOGOUT = 0x08,
};
#define IMAP_ST_ANY (IMAP_ST_NOAUTH | IMAP_ST_AUTH | IMAP_ST_SELECTED)
#define IMAP_ST_AUTHED (IMAP_ST_AUTH | IMAP_ST_SELECTED)

/* ENABLE'd extensions (RFC 5161). */
enum imap_enabled {
	IMAP_ENABLED_UTF8 = 0x01,        /* UTF8=ACCEPT */
};

struct imap_client;

enum imap_cmd_flags {
	IMAP_CMD_UID = 0x01,             /* may be prefixed by UID */
	/* Untagged EXPUNGE may not be sent while it runs (RFC 3501 7.4.1):
	 * FETCH, STORE, SEARCH without UID. */
	IMAP_CMD_NO_EXPUNGE = 0x02,
};

struct imap_cmd_def {
	const char *name;                /* upper case */
	unsigned states;                 /* enum imap_state bits it is valid in */
	unsigned flags;                  /* enum imap_cmd_flags */
	/* Runs the command: it must end with imap_client_tagged() (directly
	 * or from a later callback), which also reads the next command. */
	void (*run)(struct imap_client *c, struct imap_command *cmd);
};

extern const struct imap_cmd_def imap_commands[];
extern const size_t imap_commands_count;

struct imap_client {
	struct conn *conn;
	struct mbs *mbs;
	unsigned state;                  /* enum imap_state (one bit) */
	unsigned enabled;                /* enum imap_enabled */
	unsigned bad_commands;

	/* after login */
	char *user;
	struct mbox_user mbox_user;
	/* selected */
	struct mbox *box;

	/* the running command */
	struct imap_command *cmd;
	const struct imap_cmd_def *def;
	bool gone;                       /* the connection closed meanwhile */
	bool idling;
	struct imap_parser *parser;
	/* Private to imap-session.c and the command that owns it. The
	 * session never frees cmd_ctx: the command does (its worker's done
	 * callback runs even when the client is gone). */
	void *cmd_ctx;
	void *session_private;
};

/* Write to the client; output is buffered by the connection. */
void imap_client_write(struct imap_client *c, const void *data, size_t len);
void imap_client_untagged(struct imap_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The tagged reply that ends the running command: status is "OK", "NO"
 * or "BAD"; text may start with a response code. Before an OK in the
 * selected state the pending mailbox changes are sent (EXISTS, EXPUNGE,
 * FETCH FLAGS), as RFC 3501 7 allows. Then the next command is read. */
void imap_client_tagged(struct imap_client *c, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A BAD for a malformed command; counts toward the bad-command limit. */
void imap_client_bad(struct imap_client *c, const char *text);

/* Run work(ctx) on a worker thread, then done(c, ctx) on the loop. When
 * the connection went away meanwhile, done is still called with c->gone
 * set (it must free ctx and write nothing). */
void imap_client_work(struct imap_client *c, void (*work)(void *ctx),
		      void (*done)(struct imap_client *c, void *ctx), void *ctx);

/* Call done(c, ctx) once the connection's output queue has drained
 * (below CONN_WRITE_LOW; at once when it is not over CONN_WRITE_HIGH): a
 * command that writes a lot (FETCH) waits here between batches, so a slow
 * reader holds back the server instead of filling its memory. When the
 * connection closes meanwhile, done is called with c->gone set (it must
 * free ctx and write nothing). One wait at a time. */
void imap_client_when_writable(struct imap_client *c,
			       void (*done)(struct imap_client *c, void *ctx), void *ctx);

/* Sync the selected mailbox on a worker and send what changed, then call
 * done (NOOP, CHECK, IDLE wake-ups, before tagged replies). */
void imap_client_sync(struct imap_client *c, void (*done)(struct imap_client *c));
/* Send the untagged replies for ch (EXPUNGE, EXISTS, RECENT, FETCH FLAGS,
 * FLAGS) on the loop thread. */
void imap_client_send_changes(struct imap_client *c, const struct mbox_changes *ch);

const struct cfg *imap_client_cfg(const struct imap_client *c);

/* APPEND's message literals: the session reads a literal of the APPEND
 * command that comes after the mailbox name into memory (up to
 * imap_append_limit, else NO [TOOBIG] before it is sent), and the
 * argument is IMAP_ARG_LITERAL with `streamed` set. The i-th streamed
 * literal of the running command (0-based, in order) or NULL. Valid until
 * imap_client_tagged(); the command may take the bytes with buf_steal(). */
struct buf *imap_client_literal(struct imap_client *c, size_t i);
size_t imap_client_literal_count(const struct imap_client *c);
/* The CAPABILITY list for the client's state (after "CAPABILITY "). */
const char *imap_client_capability(const struct imap_client *c);

extern const struct conn_service imap_service, imaps_service;

/* Daemon shutdown: every session says BYE and closes (a running command
 * ends first). */
void imap_sessions_shutdown(struct mbs *m);

#endif
