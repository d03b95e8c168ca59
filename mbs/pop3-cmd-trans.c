/* POP3 commands of the TRANSACTION state (RFC 1939 5, 7): STAT, LIST,
 * RETR, DELE, NOOP, RSET, TOP, UIDL. RETR and TOP stream the message:
 * a worker reads the file a chunk at a time, the loop dot-stuffs it into
 * the connection and asks for the next chunk only while the client keeps
 * up (the connection's write queue is below its high mark). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "pop3-session.h"
#include "xalloc.h"

#define POP3_RETR_CHUNK (128 * 1024)

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

/* ---- RETR and TOP ---- */

struct pop3_retr {
	struct pop3_client *c;
	struct pop3_maildrop *md;
	uint32_t n;
	enum pop3_retr_mode mode;
	int fd;
	/* worker results */
	int open_result;
	const char *error;
	char *chunk;
	ssize_t got;
	/* loop side */
	struct pop3_stuff stuff;
	bool waiting_writable;   /* the connection is full: on_writable resumes */
	bool aborted;            /* the connection closed: free at the next callback */
	uint64_t sent;
};

static void pop3_retr_free(struct pop3_retr *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->chunk);
	free(r);
}

static void pop3_retr_read_work(void *ctx)
{
	struct pop3_retr *r = ctx;

	r->got = read(r->fd, r->chunk, POP3_RETR_CHUNK);
}

static void pop3_retr_finish(struct pop3_client *c, struct pop3_retr *r)
{
	c->retr = NULL;
	if (r->mode != POP3_RETR_TOP)
		c->md->msgs[r->n - 1].retrieved = true;
	pop3_retr_free(r);
	pop3_client_done(c);
}

static void pop3_retr_read_done(struct pop3_client *c, void *ctx);

static void pop3_retr_next(struct pop3_client *c, struct pop3_retr *r)
{
	if (conn_write_blocked(c->conn)) {
		r->waiting_writable = true;
		return;
	}
	pop3_client_work(c, pop3_retr_read_work, pop3_retr_read_done, r);
}

static void pop3_retr_read_done(struct pop3_client *c, void *ctx)
{
	struct pop3_retr *r = ctx;
	struct buf out;
	bool enough;

	if (c->gone || r->aborted) {
		pop3_retr_free(r);
		return;
	}
	if (r->got < 0) {
		/* The reply has begun: all we can do is drop the connection,
		 * so that the client does not take a short message for whole. */
		log_warn(conn_sid(c->conn), "%s: read failed user=<%s> msg=%u",
			 conn_service(c->conn)->name, c->user, (unsigned)r->n);
		c->retr = NULL;
		pop3_retr_free(r);
		conn_abort(c->conn, "message read failed");
		return;
	}
	buf_init(&out, BUF_NO_LIMIT);
	enough = pop3_stuff_feed(&r->stuff, r->chunk, (size_t)r->got, &out);
	if ((enough || r->got == 0) && r->mode != POP3_RETR_RAW)
		pop3_stuff_end(&r->stuff, &out);
	conn_write(c->conn, out.data, out.len);
	r->sent += out.len;
	buf_free(&out);
	/* A slow reader of a big message is not idle. */
	conn_set_timeout(c->conn, CONN_TIMEOUT_IDLE, cfg_time(pop3_client_cfg(c), "pop3_idle_timeout"));
	if (enough || r->got == 0) {
		pop3_retr_finish(c, r);
		return;
	}
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

static void pop3_retr_open_work(void *ctx)
{
	struct pop3_retr *r = ctx;

	r->open_result = pop3_maildrop_open_msg(r->md, r->n, &r->fd, &r->error);
}

static void pop3_retr_open_done(struct pop3_client *c, void *ctx)
{
	struct pop3_retr *r = ctx;

	if (c->gone || r->aborted) {
		pop3_retr_free(r);
		return;
	}
	if (r->open_result <= 0) {
		r->fd = -1;
		c->retr = NULL;
		if (r->mode == POP3_RETR_RAW) {
			/* POP2 has announced the length already: all it can
			 * be told is by the connection ending short. */
			pop3_retr_free(r);
			conn_abort(c->conn, "message gone");
			return;
		}
		if (r->open_result == 0) {
			pop3_client_line(c, "-ERR Message %u was deleted by another session.",
					 (unsigned)r->n);
		} else {
			log_warn(conn_sid(c->conn), "%s: open failed user=<%s> msg=%u reason=\"%s\"",
				 conn_service(c->conn)->name, c->user, (unsigned)r->n, r->error);
			pop3_client_line(c, "-ERR [SYS/TEMP] Couldn't read message %u.", (unsigned)r->n);
		}
		pop3_retr_free(r);
		pop3_client_done(c);
		return;
	}
	if (r->mode == POP3_RETR_TOP)
		pop3_client_line(c, "+OK");
	else if (r->mode == POP3_RETR_MSG)
		pop3_client_line(c, "+OK %llu octets",
				 (unsigned long long)c->md->msgs[r->n - 1].size);
	r->chunk = xmalloc(POP3_RETR_CHUNK);
	pop3_retr_next(c, r);
}

bool pop3_retr_start(struct pop3_client *c, uint32_t n, enum pop3_retr_mode mode, uint32_t lines)
{
	struct pop3_retr *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->md = c->md;
	r->n = n;
	r->mode = mode;
	r->fd = -1;
	pop3_stuff_init(&r->stuff, mode == POP3_RETR_TOP, lines);
	r->stuff.raw = mode == POP3_RETR_RAW;
	c->retr = r;
	pop3_client_work(c, pop3_retr_open_work, pop3_retr_open_done, r);
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
