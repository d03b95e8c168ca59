/* POP3 commands of the TRANSACTION state (RFC 1939 5, 7): STAT, LIST,
 * RETR, DELE, NOOP, RSET, TOP, UIDL. RETR and TOP stream the message:
 * a worker reads the file and dot-stuffs it a chunk at a time, the loop
 * writes each chunk and asks for the next only while the client keeps up
 * (the connection's write queue is below its high mark). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "pop3-session.h"
#include "xalloc.h"

/* Reply octets one worker job produces at most (plus one read's worth);
 * the file is read POP3_READ_CHUNK at a time into the job's stack. */
#define POP3_RETR_CHUNK (128 * 1024)
#define POP3_READ_CHUNK (64 * 1024)

/* One message number argument; replies and returns NULL when it is
 * missing, malformed, out of range or deleted. */
static struct pop3_msg *pop3_msg_arg(struct pop3_client *c, const char *arg, uint32_t *n_r)
{
	struct pop3_msg *msg;

	if (!pop3_parse_number(arg, 1, UINT32_MAX, n_r)) {
		pop3_client_bad(c, "-ERR Invalid message number: %s", arg);
		return NULL;
	}
	if (*n_r > c->md->count) {
		pop3_client_line(c, "-ERR There's no message %u.", (unsigned)*n_r);
		return NULL;
	}
	msg = pop3_maildrop_msg(c->md, *n_r);
	if (msg == NULL)
		pop3_client_line(c, "-ERR Message is deleted.");
	return msg;
}

bool pop3_cmd_stat(struct pop3_client *c, const struct pop3_command *cmd)
{
	const struct pop3_maildrop *md = c->md;

	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR STAT takes no arguments.");
		return true;
	}
	pop3_client_line(c, "+OK %zu %llu", md->count - md->deleted_count,
			 (unsigned long long)(md->total_size - md->deleted_size));
	return true;
}

/* LIST and UIDL: one message, or every message not deleted. */
static bool pop3_listing(struct pop3_client *c, const struct pop3_command *cmd, bool uidl)
{
	const struct pop3_maildrop *md = c->md;
	char id[POP3_UIDL_LEN + 1];
	struct pop3_msg *msg;
	struct buf b;
	uint32_t n;

	if (cmd->argc == 1) {
		msg = pop3_msg_arg(c, cmd->args[0], &n);
		if (msg == NULL)
			return true;
		if (uidl) {
			pop3_maildrop_uidl(md, n, id);
			pop3_client_line(c, "+OK %u %s", (unsigned)n, id);
		} else {
			pop3_client_line(c, "+OK %u %llu", (unsigned)n, (unsigned long long)msg->size);
		}
		return true;
	}
	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR %s takes at most one argument.", uidl ? "UIDL" : "LIST");
		return true;
	}
	buf_init(&b, BUF_NO_LIMIT);
	if (uidl)
		buf_append_str(&b, "+OK\r\n");
	else
		buf_printf(&b, "+OK %zu messages:\r\n", md->count - md->deleted_count);
	for (size_t i = 0; i < md->count; i++) {
		if (md->msgs[i].deleted)
			continue;
		if (uidl) {
			pop3_maildrop_uidl(md, (uint32_t)i + 1, id);
			buf_printf(&b, "%zu %s\r\n", i + 1, id);
		} else {
			buf_printf(&b, "%zu %llu\r\n", i + 1, (unsigned long long)md->msgs[i].size);
		}
		if (b.len >= 64 * 1024) {
			conn_write(c->conn, b.data, b.len);
			buf_reset(&b);
		}
	}
	buf_append_str(&b, ".\r\n");
	conn_write(c->conn, b.data, b.len);
	buf_free(&b);
	return true;
}

bool pop3_cmd_list(struct pop3_client *c, const struct pop3_command *cmd)
{
	return pop3_listing(c, cmd, false);
}

bool pop3_cmd_uidl(struct pop3_client *c, const struct pop3_command *cmd)
{
	return pop3_listing(c, cmd, true);
}

bool pop3_cmd_dele(struct pop3_client *c, const struct pop3_command *cmd)
{
	uint32_t n;

	if (cmd->argc != 1) {
		pop3_client_bad(c, "-ERR DELE wants a message number.");
		return true;
	}
	if (pop3_msg_arg(c, cmd->args[0], &n) == NULL)
		return true;
	pop3_maildrop_delete(c->md, n);
	pop3_client_line(c, "+OK Marked to be deleted.");
	return true;
}

bool pop3_cmd_rset(struct pop3_client *c, const struct pop3_command *cmd)
{
	if (cmd->argc != 0) {
		pop3_client_bad(c, "-ERR RSET takes no arguments.");
		return true;
	}
	pop3_maildrop_reset(c->md);
	for (size_t i = 0; i < c->md->count; i++)
		c->md->msgs[i].retrieved = false;
	pop3_client_line(c, "+OK");
	return true;
}

/* ---- RETR and TOP ----
 *
 * Each step of the stream is one worker job that reads up to
 * POP3_RETR_CHUNK octets of reply and dot-stuffs them there; the first
 * job also opens the file (open() may block on NFS) and puts the "+OK"
 * line in front, so a message that fits in one chunk, almost all of
 * them, costs a single trip through the thread pool and a single write.
 * The size fstat() gives ends the stream without a last read that
 * returns 0: Maildir files are never changed once delivered. The loop
 * thread never reads the file, not even a small one: a page that is not
 * cached is a disk (or network) wait that would stall every session.
 *
 * Back-pressure: the next job is queued only while the connection's
 * write queue is below its high mark, so a client that stops reading
 * holds at most CONN_WRITE_HIGH plus one chunk of its message in memory;
 * while it is stalled the stream keeps no buffer of its own. While the
 * socket drains the queue, the next chunk is read: that is the
 * read-ahead, bounded by the same mark. */

struct pop3_retr {
	struct pop3_client *c;
	struct pop3_maildrop *md;
	uint32_t n;
	enum pop3_retr_mode mode;
	int fd;
	/* the worker's, while a job is out */
	int64_t file_left;       /* octets not read yet; -1 unknown */
	int open_result;
	const char *error;
	bool read_failed;
	int read_errno;
	bool eof;                /* the reply is complete in out, fd closed */
	struct buf out;          /* reply octets to write */
	struct pop3_stuff stuff;
	/* loop side */
	bool started;            /* part of the reply was written */
	bool waiting_writable;   /* the connection is full: on_writable resumes */
	bool aborted;            /* the connection closed: free at the next callback */
	uint64_t sent;
};

static void pop3_retr_free(struct pop3_retr *r)
{
	if (r->fd >= 0)
		close(r->fd);   /* only a stream cut short: read-only, no flush */
	buf_free(&r->out);
	free(r);
}

static void pop3_retr_fill_work(void *ctx)
{
	struct pop3_retr *r = ctx;
	char chunk[POP3_READ_CHUNK];
	struct stat st;
	size_t want;
	ssize_t got;

	if (r->fd < 0) {
		r->open_result = pop3_maildrop_open_msg(r->md, r->n, &r->fd, &r->error);
		if (r->open_result <= 0) {
			r->fd = -1;
			return;
		}
		r->file_left = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
	}
	/* Room for the chunk at once: bare LFs gain a CR, a few lines a dot. */
	want = r->file_left >= 0 && (uint64_t)r->file_left < POP3_RETR_CHUNK ?
		(size_t)r->file_left : POP3_RETR_CHUNK;
	buf_reserve(&r->out, want + want / 16 + 8);
	while (r->out.len < POP3_RETR_CHUNK) {
		want = sizeof(chunk);
		if (r->file_left >= 0 && (uint64_t)r->file_left < want)
			want = (size_t)r->file_left;
		got = want == 0 ? 0 : read(r->fd, chunk, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r->read_failed = true;
			r->read_errno = errno;
			return;
		}
		if (got == 0 || pop3_stuff_feed(&r->stuff, chunk, (size_t)got, &r->out)) {
			r->eof = true;
			break;
		}
		if (r->file_left >= 0 && (r->file_left -= got) == 0) {
			r->eof = true;   /* no read that returns 0, no extra job */
			break;
		}
	}
	if (r->eof) {
		if (r->mode != POP3_RETR_RAW)
			pop3_stuff_end(&r->stuff, &r->out);
		close(r->fd);
		r->fd = -1;
	}
}

static void pop3_retr_finish(struct pop3_client *c, struct pop3_retr *r)
{
	c->retr = NULL;
	if (r->mode != POP3_RETR_TOP)
		c->md->msgs[r->n - 1].retrieved = true;
	pop3_retr_free(r);
	pop3_client_done(c);
}

static void pop3_retr_fill_done(struct pop3_client *c, void *ctx);

static void pop3_retr_next(struct pop3_client *c, struct pop3_retr *r)
{
	if (conn_write_blocked(c->conn)) {
		/* A stalled client pins no chunk buffer of ours. */
		buf_free(&r->out);
		r->waiting_writable = true;
		return;
	}
	pop3_client_work(c, pop3_retr_fill_work, pop3_retr_fill_done, r);
}

/* The message could not be opened or its first chunk read: nothing of
 * the reply is out yet, so the client gets an error and the session
 * goes on (except for POP2, see below). */
static void pop3_retr_fail(struct pop3_client *c, struct pop3_retr *r)
{
	c->retr = NULL;
	if (r->mode == POP3_RETR_RAW) {
		/* POP2 has announced the length already: all it can be told
		 * is by the connection ending short. */
		pop3_retr_free(r);
		conn_abort(c->conn, "message gone");
		return;
	}
	if (r->open_result == 0) {
		pop3_client_line(c, "-ERR Message %u was deleted by another session.",
				 (unsigned)r->n);
	} else {
		log_warn(conn_sid(c->conn), "%s: %s failed user=<%s> msg=%u reason=\"%s\"",
			 conn_service(c->conn)->name, r->read_failed ? "read" : "open",
			 c->user, (unsigned)r->n, r->read_failed ? strerror(r->read_errno) : r->error);
		pop3_client_line(c, "-ERR [SYS/TEMP] Couldn't read message %u.", (unsigned)r->n);
	}
	pop3_retr_free(r);
	pop3_client_done(c);
}

static void pop3_retr_fill_done(struct pop3_client *c, void *ctx)
{
	struct pop3_retr *r = ctx;

	if (c->gone || r->aborted) {
		pop3_retr_free(r);
		return;
	}
	if (!r->started && (r->open_result <= 0 || r->read_failed)) {
		pop3_retr_fail(c, r);
		return;
	}
	if (r->read_failed) {
		/* The reply has begun: all we can do is drop the connection,
		 * so that the client does not take a short message for whole. */
		log_warn(conn_sid(c->conn), "%s: read failed user=<%s> msg=%u reason=\"%s\"",
			 conn_service(c->conn)->name, c->user, (unsigned)r->n,
			 strerror(r->read_errno));
		c->retr = NULL;
		pop3_retr_free(r);
		conn_abort(c->conn, "message read failed");
		return;
	}
	r->started = true;
	conn_write(c->conn, r->out.data, r->out.len);
	r->sent += r->out.len;
	buf_reset(&r->out);
	if (r->eof) {
		pop3_retr_finish(c, r);
		return;
	}
	/* A slow reader of a big message is not idle. */
	conn_set_timeout(c->conn, CONN_TIMEOUT_IDLE, cfg_time(pop3_client_cfg(c), "pop3_idle_timeout"));
	pop3_retr_next(c, r);
}

void pop3_retr_writable(struct pop3_client *c)
{
	struct pop3_retr *r = c->retr;

	if (r == NULL || !r->waiting_writable || c->working)
		return;
	r->waiting_writable = false;
	pop3_retr_next(c, r);
}

void pop3_retr_abort(struct pop3_client *c)
{
	struct pop3_retr *r = c->retr;

	c->retr = NULL;
	if (r == NULL)
		return;
	if (c->working)
		r->aborted = true;   /* the job's callback frees it */
	else
		pop3_retr_free(r);
}

bool pop3_retr_start(struct pop3_client *c, uint32_t n, enum pop3_retr_mode mode, uint32_t lines)
{
	struct pop3_retr *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->md = c->md;
	r->n = n;
	r->mode = mode;
	r->fd = -1;
	buf_init(&r->out, BUF_NO_LIMIT);
	/* The first job writes the reply after this line, and drops it when
	 * the message cannot be read. */
	if (mode == POP3_RETR_TOP)
		buf_append_str(&r->out, "+OK\r\n");
	else if (mode == POP3_RETR_MSG)
		buf_printf(&r->out, "+OK %llu octets\r\n",
			   (unsigned long long)c->md->msgs[n - 1].size);
	pop3_stuff_init(&r->stuff, mode == POP3_RETR_TOP, lines);
	r->stuff.raw = mode == POP3_RETR_RAW;
	c->retr = r;
	pop3_client_work(c, pop3_retr_fill_work, pop3_retr_fill_done, r);
	return false;
}

bool pop3_cmd_retr(struct pop3_client *c, const struct pop3_command *cmd)
{
	uint32_t n;

	if (cmd->argc != 1) {
		pop3_client_bad(c, "-ERR RETR wants a message number.");
		return true;
	}
	if (pop3_msg_arg(c, cmd->args[0], &n) == NULL)
		return true;
	return pop3_retr_start(c, n, POP3_RETR_MSG, 0);
}

bool pop3_cmd_top(struct pop3_client *c, const struct pop3_command *cmd)
{
	uint32_t n, lines;

	if (cmd->argc != 2) {
		pop3_client_bad(c, "-ERR TOP wants a message number and a line count.");
		return true;
	}
	if (!pop3_parse_number(cmd->args[1], 0, UINT32_MAX, &lines)) {
		pop3_client_bad(c, "-ERR Invalid line count: %s", cmd->args[1]);
		return true;
	}
	if (pop3_msg_arg(c, cmd->args[0], &n) == NULL)
		return true;
	return pop3_retr_start(c, n, POP3_RETR_TOP, lines);
}
