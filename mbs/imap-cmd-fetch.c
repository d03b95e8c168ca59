/* FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8, 7.4.2). The replies are
 * rendered on a worker in batches of about FETCH_BATCH bytes; the next
 * batch is made only once the connection's write queue has drained, so a
 * FETCH 1:* of a large mailbox never sits in memory whole. A large message
 * asked for whole (BODY[], BODY.PEEK[], RFC822) is streamed from its file
 * in chunks the same way. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-msgset.h"
#include "imap-commands.h"
#include "imap-msg.h"
#include "log.h"
#include "xalloc.h"

#define FETCH_BATCH (128 * 1024)
/* Messages from this size on are streamed when only their whole text and
 * metadata are asked for. */
#define FETCH_STREAM_MIN (1024 * 1024)
#define FETCH_STREAM_CHUNK (128 * 1024)

struct fetch_ctx {
	struct mbox *box;
	struct imap_fetch_items items;
	bool uid, sets_seen, started;
	size_t *idx, n, pos;
	bool *add_flags;              /* per idx: \Seen was just set */
	bool expunged;                /* some asked-for messages are gone */
	struct buf out, data;
	/* The message being streamed (fd >= 0). */
	int fd;
	uint64_t stream_left;         /* literal bytes still to send */
	bool prev_cr;
	const char *error;
	int ret;
};

/* Whether the items ask for a message's whole text and nothing else that
 * needs its bytes: then it can be streamed. *name_r is the reply's name. */
static bool fetch_streamable(const struct imap_fetch_items *items, const char **name_r)
{
	const unsigned heavy = IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY |
		IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT;

	if ((items->attrs & heavy) != 0)
		return false;
	if ((items->attrs & IMAP_FETCH_RFC822) != 0) {
		*name_r = "RFC822";
		return items->body_count == 0;
	}
	if (items->body_count != 1)
		return false;
	*name_r = "BODY[]";
	return items->bodies[0].kind == IMAP_SECTION_FULL && items->bodies[0].part_count == 0 &&
		!items->bodies[0].partial;
}

/* RFC 3501 6.4.5: BODY[...] without PEEK sets \Seen; in a read-write view
 * it is set before the replies, and they then carry FLAGS. */
static void fetch_set_seen(struct fetch_ctx *ctx)
{
	struct mbox *box = ctx->box;
	size_t *unseen = xreallocarray(NULL, ctx->n + 1, sizeof(*unseen)), count = 0;
	const char *error;

	for (size_t k = 0; k < ctx->n; k++) {
		const struct mbox_msg *msg = &box->msgs[ctx->idx[k]];

		ctx->add_flags[k] = !msg->expunged && (msg->flags & IMAP_FLAG_SEEN) == 0;
		if (ctx->add_flags[k])
			unseen[count++] = ctx->idx[k];
	}
	if (count > 0 && mbox_store(box, unseen, count, MBOX_STORE_ADD, IMAP_FLAG_SEEN, NULL, 0,
				    &error) < 0)
		log_warn(NULL, "imap: fetch: setting \\Seen: %s", error);
	free(unseen);
	/* Only where it changed do the replies gain FLAGS. */
	for (size_t k = 0; k < ctx->n; k++) {
		if (ctx->add_flags[k] && (box->msgs[ctx->idx[k]].flags & IMAP_FLAG_SEEN) == 0)
			ctx->add_flags[k] = false;
	}
}

/* data[0..len) in IMAP's sent form (bare LF as CRLF, NUL as 0x80, as
 * imap_fetch_write sends sections), at most *left bytes. */
static void fetch_stream_convert(struct fetch_ctx *ctx, const char *data, size_t len)
{
	for (size_t i = 0; i < len && ctx->stream_left > 0; i++) {
		char ch = data[i];

		if (ch == '\n' && !ctx->prev_cr) {
			if (ctx->stream_left < 2) {
				ctx->stream_left = 0;
				break;
			}
			buf_append(&ctx->out, "\r\n", 2);
			ctx->stream_left -= 2;
		} else {
			buf_append_char(&ctx->out, ch == '\0' ? (char)0x80 : ch);
			ctx->stream_left--;
		}
		ctx->prev_cr = ch == '\r';
	}
}

/* One chunk of the message being streamed; at its end the reply's ")". */
static void fetch_stream_chunk(struct fetch_ctx *ctx)
{
	char *chunk = xmalloc(FETCH_STREAM_CHUNK);
	ssize_t r;

	do {
		r = read(ctx->fd, chunk, FETCH_STREAM_CHUNK);
	} while (r < 0 && errno == EINTR);
	if (r > 0)
		fetch_stream_convert(ctx, chunk, (size_t)r);
	free(chunk);
	if (r > 0 && ctx->stream_left > 0)
		return;
	/* The file ended early (it cannot change in a Maildir, but a
	 * literal must have the length it announced). */
	while (ctx->stream_left > 0) {
		buf_append_char(&ctx->out, ' ');
		ctx->stream_left--;
	}
	buf_append_str(&ctx->out, ")\r\n");
	close(ctx->fd);
	ctx->fd = -1;
	ctx->pos++;
}

/* Start streaming message idx[pos]: its size in the sent form (one pass
 * over the file), the reply up to the literal's "{n}\r\n". 1 started, 0
 * expunged, -1 error. */
static int fetch_stream_start(struct fetch_ctx *ctx, const char *name, bool add_flags)
{
	struct mbox *box = ctx->box;
	size_t i = ctx->idx[ctx->pos];
	struct imap_fetch_items meta = { .attrs = ctx->items.attrs & ~IMAP_FETCH_RFC822 };
	struct mbox_msg copy = box->msgs[i];
	struct imap_msg m = { 0 };
	char *chunk;
	bool prev_cr = false;
	uint64_t vsize = 0;
	ssize_t r;
	int fd, ret;

	ret = mbox_msg_open(box, i, &fd, &ctx->error);
	if (ret <= 0)
		return ret;
	chunk = xmalloc(FETCH_STREAM_CHUNK);
	while ((r = read(fd, chunk, FETCH_STREAM_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		for (ssize_t k = 0; k < r; k++) {
			vsize += chunk[k] == '\n' && !prev_cr ? 2 : 1;
			prev_cr = chunk[k] == '\r';
		}
	}
	free(chunk);
	if (r < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		ctx->error = "cannot read the message";
		return -1;
	}
	copy.vsize = vsize;
	m.seq = (uint32_t)(i + 1);
	m.msg = &copy;
	m.keywords = &box->keywords;
	/* The metadata items as imap_fetch_write renders them, then the
	 * literal in place of the reply's closing ")\r\n". */
	imap_fetch_write(&ctx->out, &meta, &m, ctx->uid, add_flags);
	imap_msg_clear(&m);
	buf_truncate(&ctx->out, ctx->out.len - 3);
	buf_printf(&ctx->out, "%s%s {%" PRIu64 "}\r\n",
		   ctx->out.data[ctx->out.len - 1] == '(' ? "" : " ", name, vsize);
	ctx->fd = fd;
	ctx->stream_left = vsize;
	ctx->prev_cr = false;
	return 1;
}

static void fetch_work(void *arg)
{
	struct fetch_ctx *ctx = arg;
	struct mbox *box = ctx->box;
	const char *stream_name = NULL;
	bool streamable = fetch_streamable(&ctx->items, &stream_name);

	buf_reset(&ctx->out);
	if (!ctx->started) {
		ctx->started = true;
		if (ctx->sets_seen)
			fetch_set_seen(ctx);
	}
	if (ctx->fd >= 0) {
		fetch_stream_chunk(ctx);
		if (ctx->fd >= 0)
			return;
	}
	while (ctx->pos < ctx->n && ctx->out.len < FETCH_BATCH) {
		size_t i = ctx->idx[ctx->pos];
		struct imap_msg m = { 0 };
		bool add_flags = ctx->add_flags[ctx->pos];
		int r;

		if (box->msgs[i].expunged) {
			/* A UID that is gone is simply not there (its
			 * EXPUNGE comes before the tagged OK); a sequence
			 * number the client still holds gets EXPUNGEISSUED. */
			ctx->expunged = ctx->expunged || !ctx->uid;
			ctx->pos++;
			continue;
		}
		if (streamable && box->msgs[i].size >= FETCH_STREAM_MIN) {
			r = fetch_stream_start(ctx, stream_name, add_flags);
			if (r < 0) {
				ctx->ret = -1;
				return;
			}
			if (r == 0) {
				ctx->expunged = ctx->expunged || !ctx->uid;
				ctx->pos++;
				continue;
			}
			fetch_stream_chunk(ctx);
			if (ctx->fd >= 0)
				return;
			continue;
		}
		m.seq = (uint32_t)(i + 1);
		m.msg = &box->msgs[i];
		m.keywords = &box->keywords;
		if (imap_fetch_needs_data(&ctx->items, m.msg)) {
			buf_reset(&ctx->data);
			r = mbox_msg_read(box, i, &ctx->data, &ctx->error);
			if (r < 0) {
				ctx->ret = -1;
				return;
			}
			if (r == 0) {
				ctx->expunged = ctx->expunged || !ctx->uid;
				ctx->pos++;
				continue;
			}
			m.data = ctx->data.data;
			m.len = ctx->data.len;
		}
		imap_fetch_write(&ctx->out, &ctx->items, &m, ctx->uid, add_flags);
		imap_msg_clear(&m);
		ctx->pos++;
	}
	/* Keep no large message's bytes between batches. */
	if (ctx->data.cap > FETCH_BATCH) {
		buf_free(&ctx->data);
		buf_init(&ctx->data, BUF_NO_LIMIT);
	}
}

static void fetch_free(struct fetch_ctx *ctx)
{
	if (ctx->fd >= 0)
		close(ctx->fd);
	imap_fetch_items_free(&ctx->items);
	buf_free(&ctx->out);
	buf_free(&ctx->data);
	free(ctx->add_flags);
	free(ctx->idx);
	free(ctx);
}

static void fetch_done(struct imap_client *c, void *arg);

static void fetch_next(struct imap_client *c, void *arg)
{
	struct fetch_ctx *ctx = arg;

	if (c->gone) {
		fetch_free(ctx);
		return;
	}
	imap_client_work(c, fetch_work, fetch_done, ctx);
}

static void fetch_done(struct imap_client *c, void *arg)
{
	struct fetch_ctx *ctx = arg;

	if (c->gone) {
		fetch_free(ctx);
		return;
	}
	imap_client_write(c, ctx->out.data, ctx->out.len);
	if (ctx->ret < 0) {
		log_warn(conn_sid(c->conn), "imap: user=<%s> fetch: %s", c->user, ctx->error);
		imap_client_tagged(c, "NO", "[SERVERBUG] Fetch failed: %s", ctx->error);
		fetch_free(ctx);
		return;
	}
	if (ctx->pos < ctx->n) {
		imap_client_when_writable(c, fetch_next, ctx);
		return;
	}
	if (ctx->expunged)
		/* RFC 5530: some messages were expunged by another session. */
		imap_client_tagged(c, "NO", "[EXPUNGEISSUED] Some of the requested messages "
				   "no longer exist");
	else
		imap_client_tagged(c, "OK", "%sFETCH completed", ctx->uid ? "UID " : "");
	fetch_free(ctx);
}

IMAP_CMD(fetch)
{
	struct fetch_ctx *ctx;
	const char *error;

	if (cmd->count < 2) {
		imap_client_bad(c, "FETCH needs a set and data items");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->fd = -1;
	if (imap_fetch_parse(cmd->args + 1, cmd->count - 1, &ctx->items, &error) < 0) {
		free(ctx);
		imap_client_bad(c, error);
		return;
	}
	if (imap_msgset_resolve(c->box, imap_arg_atom(&cmd->args[0]), cmd->uid, &ctx->idx,
				&ctx->n, &error) < 0) {
		imap_fetch_items_free(&ctx->items);
		free(ctx);
		imap_client_bad(c, error);
		return;
	}
	ctx->box = c->box;
	ctx->uid = cmd->uid;
	ctx->sets_seen = imap_fetch_sets_seen(&ctx->items) && !c->box->readonly;
	ctx->add_flags = xcalloc(ctx->n + 1, sizeof(*ctx->add_flags));
	buf_init(&ctx->out, BUF_NO_LIMIT);
	buf_init(&ctx->data, BUF_NO_LIMIT);
	imap_client_work(c, fetch_work, fetch_done, ctx);
}
