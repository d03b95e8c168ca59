#ifndef MR_MTA_DELIVER_H
#define MR_MTA_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "queue-private.h"

/* One delivery attempt of one queued message (deliver.c), its local
 * Maildir work (deliver-local.c) and its bounce (bounce.c). */

enum deliver_result { DELIVER_WAIT, DELIVER_OK, DELIVER_TEMP, DELIVER_PERM };

struct deliver_outcome {
	enum deliver_result result;
	unsigned code;		/* SMTP reply code */
	char enh[12];		/* enhanced status code */
	char *text;
};

struct deliver_target {
	size_t rcpt;		/* index of its recipient in the queue file */
	char *addr;
	char *maildir;		/* local targets */
	char *detail;		/* +detail for a mailbox, or NULL */
	bool remote;
	uint64_t quota_bytes, quota_messages;
	char *folder;		/* where it went ("" for INBOX) */
	struct deliver_outcome out;
};

struct deliver_job {
	struct queue *q;
	char id[QUEUE_ID_LEN + 1];
	enum queue_subdir dir;
	char *path;
	int fd;
	struct queue_file qf;
	int64_t now;
	bool gone, corrupt;
	char *load_error;
	/* The message's header section, for loop detection. */
	char *headers;
	unsigned received;	/* Received: headers in it */
	struct deliver_outcome *rcpts;	/* per recipient of the file */
	size_t nrcpts_before;	/* recipients before remote ones were added */
	struct deliver_target *targets;
	size_t ntargets;
	unsigned lookups;
	/* LMTP */
	queue_rcpt_cb *rcpt_cb;
	void *ctx;
	size_t lmtp_nrcpts;
	/* Outcome of the final step. */
	char bounce_id[QUEUE_ID_LEN + 1];
	bool bounce_written;
	uint64_t bounce_size;
	bool kept;		/* the file went to deferred/ */
	int finish_errno;
	uv_work_t work;
};

void deliver_set(struct deliver_outcome *o, enum deliver_result result, unsigned code,
		 const char *enh, const char *text);

/* deliver-local.c: worker thread */
void deliver_local_read_headers(struct deliver_job *job);
void deliver_local(struct deliver_job *job, struct deliver_target *t);

/* bounce.c: worker thread. Writes the DSN for the recipients that
 * bounced in this attempt into active/ (durably). 1 written, 0 none
 * needed, -1 error. */
int bounce_write(struct deliver_job *job, const bool *bounced_now);

#endif
