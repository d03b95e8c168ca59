#ifndef MR_MTA_QUEUE_FILE_H
#define MR_MTA_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* The queue file (docs/queue.md): an envelope block of text lines, an
 * empty line, the message bytes, then a trailer "MRQ-END <size>\n" that
 * proves the file is whole. Files are never changed in place: a new state
 * is a new file renamed over the old one. */

#define QUEUE_FILE_MAGIC "MRQ 1"
#define QUEUE_FILE_TRAILER "MRQ-END "
#define QUEUE_FILE_LINE_MAX 8192
#define QUEUE_FILE_HEADER_MAX (4 * 1024 * 1024)
#define QUEUE_FILE_RCPTS_MAX 10000

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,	/* local delivery still to do */
	QUEUE_RCPT_SENT,	/* every local target delivered */
	QUEUE_RCPT_BOUNCED,	/* permanent failure, reported */
	QUEUE_RCPT_REMOTE,	/* waits for the outbound agent */
};

struct queue_file_rcpt {
	enum queue_rcpt_state state;
	unsigned notify;	/* QUEUE_NOTIFY_* */
	char *addr;
	char *orcpt;		/* NULL when not given */
	char *diag;		/* last status ("5.1.1 unknown user"), or NULL */
};

/* A local target of recipient `rcpt` that already has its copy, so a retry
 * of a partly delivered alias does not deliver twice. */
struct queue_file_done {
	size_t rcpt;
	char *target;
};

struct queue_file {
	char *id;
	int64_t arrival;
	unsigned attempts;
	int64_t next_retry;	/* 0: now */
	char *sender;		/* "" for <> */
	char *ret, *envid;	/* DSN; NULL when not given */
	bool smtputf8, body_8bit;
	char *helo, *client, *auth, *proto, *sid;	/* NULL when unknown */
	struct queue_file_rcpt *rcpts;
	size_t nrcpts;
	struct queue_file_done *done;
	size_t ndone;
	/* Set by parsing: where the message starts and how long it is. */
	uint64_t msg_offset;
	uint64_t msg_size;
};

void queue_file_init(struct queue_file *qf);
void queue_file_free(struct queue_file *qf);
/* Add a recipient (strings copied; orcpt/diag may be NULL). */
struct queue_file_rcpt *queue_file_add_rcpt(struct queue_file *qf, const char *addr,
					    unsigned notify, const char *orcpt);
void queue_file_add_done(struct queue_file *qf, size_t rcpt, const char *target);
bool queue_file_is_done(const struct queue_file *qf, size_t rcpt, const char *target);
void queue_file_set_diag(struct queue_file_rcpt *r, const char *diag);
const char *queue_rcpt_state_name(enum queue_rcpt_state state);

/* The envelope block, ending with its empty line. */
void queue_file_format_header(const struct queue_file *qf, struct buf *out);
/* The trailer that follows size message bytes. */
void queue_file_format_trailer(uint64_t size, struct buf *out);

/* Incremental parser: feed the whole file in any pieces; finish checks
 * the trailer and fills msg_offset and msg_size. header_only stops after
 * the envelope (finish then succeeds without a trailer, msg_size 0). */
struct queue_file_parser;
struct queue_file_parser *queue_file_parser_new(struct queue_file *qf, bool header_only);
/* 0: more wanted, 1: header_only and the envelope is complete, -1: error. */
int queue_file_parser_feed(struct queue_file_parser *p, const void *data, size_t len);
/* 0 ok, -1 with *error_r (valid until the parser is freed). Frees p. */
int queue_file_parser_finish(struct queue_file_parser **p, const char **error_r);

/* Parse the file at path (whole, or only its envelope). 1: parsed,
 * 0: no such file, -1: unreadable or malformed (*error_r static or
 * owned by the thread until the next call). */
int queue_file_load(const char *path, struct queue_file *qf, bool header_only,
		    const char **error_r);

#endif
