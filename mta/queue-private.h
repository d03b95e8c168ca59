#ifndef MR_MTA_QUEUE_PRIVATE_H
#define MR_MTA_QUEUE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "queue.h"
#include "queue-file.h"

/* Inside the queue: shared by queue.c, queue-commit.c, queue-scan.c,
 * deliver*.c and bounce.c. */

#define QUEUE_ID_LEN 16
#define QUEUE_WRITE_BUF (64 * 1024)

enum queue_subdir { QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_CORRUPT };
extern const char *const queue_subdir_names[];

enum queue_quota_action { QUEUE_QUOTA_BOUNCE, QUEUE_QUOTA_DEFER };

struct queue_settings {
	char *dir;
	uint64_t min_free;
	unsigned retry_min, retry_max, lifetime;
	unsigned syncfs_batch;
	unsigned concurrency;
	bool plus_to_folder;
	enum queue_quota_action quota_action;
	unsigned max_received;
	bool hold;		/* delivery_hold: queue without delivering */
	char *hostname;
};

/* A message waiting for delivery: in the ready list or the deferred list. */
struct queue_entry {
	struct queue_entry *next;
	char id[QUEUE_ID_LEN + 1];
	enum queue_subdir dir;
	int64_t next_retry;
};

struct queue_stats {
	unsigned batches;	/* group commits made durable */
	unsigned committed;	/* messages they held */
	unsigned delivered;	/* deliveries finished (any outcome) */
};

struct queue {
	uv_loop_t *loop;
	struct authd_client *authd;
	struct queue_settings set;
	unsigned refs;		/* the queue itself, handles, work in flight */
	bool closing;
	unsigned id_counter;

	/* Group commit: msgs waiting for the next batch, and whether a
	 * batch is on a worker thread now. */
	struct queue_msg *commit_head, **commit_tail;
	bool commit_busy;

	/* Delivery scheduling. */
	struct queue_entry *ready_head, **ready_tail;
	struct queue_entry *deferred;
	unsigned running;
	bool scanned;
	uv_timer_t tick;

	struct queue_stats stats;
};

struct queue_msg {
	struct queue *q;
	struct queue_msg *next;
	char id[QUEUE_ID_LEN + 1];
	char *path;		/* incoming/<id> */
	int fd;
	struct buf wbuf;
	uint64_t size;
	int error;		/* first errno; 0 while fine */
	char *sender;
	size_t nrcpts;
	bool committed;
	queue_commit_cb *cb;
	queue_rcpt_cb *rcpt_cb;
	void *ctx;
};

/* queue.c */
char *queue_path(const struct queue *q, enum queue_subdir dir, const char *id);
void queue_id_new(struct queue *q, char id[QUEUE_ID_LEN + 1]);
void queue_ref(struct queue *q);
void queue_unref(struct queue *q);
/* Log an address as "key=<addr>" with anything unsafe escaped. */
void queue_log_addr(struct buf *out, const char *key, const char *addr);
bool queue_errno_no_space(int err);

/* queue-commit.c */
void queue_commit_add(struct queue_msg *msg);
void queue_commit_kick(struct queue *q);
void queue_msg_free(struct queue_msg *msg);
/* A piece of a message to write: bytes in memory, or (fd >= 0) len
 * bytes of fd from offset. */
struct queue_piece {
	const void *data;
	size_t len;
	int fd;
	uint64_t offset;
};
/* Write a whole queue file (envelope, the pieces as its message, trailer)
 * in incoming/, fsync it, rename it to dst_path and fsync that directory.
 * Blocking: worker threads only. */
int queue_file_write_durable(const struct queue *q, const struct queue_file *qf,
			     const struct queue_piece *pieces, size_t npieces,
			     const char *dst_path, int *errno_r);

/* queue-scan.c */
void queue_scan_start(struct queue *q);
void queue_schedule(struct queue *q, const char *id, enum queue_subdir dir,
		    int64_t next_retry);
void queue_flush(struct queue *q);
void queue_tick_start(struct queue *q);
/* A delivery finished: start the next one. */
void queue_delivery_done(struct queue *q);
unsigned queue_retry_delay(const struct queue *q, unsigned attempts);

/* deliver.c */
/* Deliver the message now; for LMTP, with per-recipient callbacks. */
void deliver_start(struct queue *q, const char *id, enum queue_subdir dir,
		   queue_rcpt_cb *rcpt_cb, void *ctx, size_t nrcpts);

#endif
