#ifndef MR_MTA_QUEUE_H
#define MR_MTA_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

/* The seam between an SMTP session and the queue (per host, local disk).
 * The session hands over the envelope and the message bytes; commit makes
 * the message durable (file written and fsync'd, directory entry fsync'd,
 * possibly together with other sessions' messages: group commit) and only
 * then calls back, so the session's 250 never precedes durability. After
 * that the queue owns the message: it delivers locally (through authd's
 * recipient resolution and lib/maildir), retries temporary failures with
 * backoff, and keeps remote targets for the outbound agent. All calls are
 * made on the event loop thread; the queue runs blocking work (fsync,
 * directory scans) on worker threads. */

struct queue;
struct queue_msg;

/* RFC 3461 DSN parameters of one recipient. */
#define QUEUE_NOTIFY_NEVER 0x01
#define QUEUE_NOTIFY_SUCCESS 0x02
#define QUEUE_NOTIFY_FAILURE 0x04
#define QUEUE_NOTIFY_DELAY 0x08

struct queue_rcpt {
	const char *addr;       /* as accepted at RCPT, without <> */
	unsigned notify;        /* QUEUE_NOTIFY_* bits; 0: not given */
	const char *orcpt;      /* ORCPT= value or NULL */
};

struct queue_envelope {
	const char *sender;     /* "" for the null reverse-path */
	const struct queue_rcpt *rcpts;
	size_t nrcpts;
	const char *ret;        /* DSN RET=FULL|HDRS or NULL */
	const char *envid;      /* DSN ENVID= or NULL */
	bool smtputf8;          /* SMTPUTF8 given at MAIL */
	bool body_8bit;         /* BODY=8BITMIME */
	/* Where it came from, for Received: and the log. */
	const char *helo;
	const char *client_addr;    /* text form */
	const char *auth_user;      /* NULL when not authenticated */
	const char *protocol;       /* "ESMTP", "ESMTPS", "ESMTPSA", "LMTP", ... */
	const char *session_id;     /* the session's log sid */
};

enum queue_result {
	QUEUE_OK = 0,
	QUEUE_TEMPFAIL = -1,    /* disk full, I/O error: 452 4.3.1 / 451 4.3.0 */
};

/* Start receiving a message; NULL with *error_r when the queue cannot take
 * one now (disk full, queue over its bound). */
struct queue_msg *queue_msg_begin(struct queue *q, const struct queue_envelope *env,
				  const char **error_r);
/* Message bytes in order, as they will be stored: the session has already
 * removed dot-stuffing and turned line ends into CRLF. -1 after an error
 * (the message will fail at commit). */
int queue_msg_write(struct queue_msg *msg, const void *data, size_t len);
/* Total bytes written so far (for SIZE enforcement during DATA). */
uint64_t queue_msg_size(const struct queue_msg *msg);
/* The queue id (also in log lines), valid until commit's callback returns. */
const char *queue_msg_id(const struct queue_msg *msg);

typedef void queue_commit_cb(void *ctx, enum queue_result result, const char *queue_id,
			     const char *error);
/* Make the message durable, then call cb on the loop thread; msg is freed
 * by the queue after cb returns. */
void queue_msg_commit(struct queue_msg *msg, queue_commit_cb *cb, void *ctx);
/* Drop a message being received (client went away, RSET, size exceeded). */
void queue_msg_abort(struct queue_msg *msg);

/* LMTP (RFC 2033): commit durably, then deliver every recipient at once
 * and call cb once per recipient (rcpt = its index in the envelope, in
 * order) with the reply for it, then once more with rcpt ==
 * QUEUE_RCPT_DONE (code 0) after which msg is freed. A commit failure
 * gives every recipient the same 4xx reply. Recipients that fail
 * temporarily get 4xx and are left to the client to retry; remote targets
 * stay in the queue (the 250 covers them). */
#define QUEUE_RCPT_DONE ((size_t)-1)
typedef void queue_rcpt_cb(void *ctx, size_t rcpt, unsigned code, const char *enhanced,
			   const char *text);
void queue_msg_deliver(struct queue_msg *msg, queue_rcpt_cb *cb, void *ctx);

/* ---- the queue itself (mta/main.c) ---- */

struct authd_client;

/* Its configuration keys; main.c adds them to its own table. */
extern const struct cfg_def queue_defs[];
extern const size_t queue_defs_count;

/* Creates the queue directory's subdirectories, removes what incoming/
 * holds (never acknowledged), rescans active/ and deferred/ and starts
 * delivering. NULL with *error_r when the directory is unusable. */
struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, struct authd_client *authd,
			const char **error_r);
/* Stops scheduling; messages being received are aborted, deliveries in
 * progress are left to finish on their worker threads and are retried
 * after the next start if they did not. Call before closing the loop,
 * then run the loop until it has no more work. */
void queue_free(struct queue *q);
/* Daemon stopping: no more scheduled runs; deliveries already running
 * finish, the rest stays queued for the next start. */
void queue_quiesce(struct queue *q);

#endif
