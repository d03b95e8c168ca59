/* SEARCH and UID SEARCH (RFC 3501 6.4.4, 6.4.8). The matching runs on a
 * worker: BODY and TEXT read and decode every message. */
#include <stdlib.h>

#include "buf.h"
#include "imap-commands.h"
#include "imap-msg.h"
#include "log.h"
#include "xalloc.h"

struct search_ctx {
	struct mbox *box;
	struct imap_search_program prog;
	bool uid;
	struct buf out;           /* "* SEARCH ...\r\n" */
	const char *error;
	int ret;
};

static void search_work(void *arg)
{
	struct search_ctx *ctx = arg;
	struct mbox *box = ctx->box;
	struct imap_search_ctx sctx;
	struct buf data;

	sctx.max_seq = (uint32_t)box->count;
	sctx.max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	buf_init(&data, BUF_NO_LIMIT);
	buf_append_str(&ctx->out, "* SEARCH");
	for (size_t i = 0; i < box->count; i++) {
		struct imap_msg m = { 0 };
		bool match;

		/* Gone from disk but still numbered (RFC 3501 7.4.1): its
		 * bytes cannot be read, and it is not reported as a match. */
		if (box->msgs[i].expunged)
			continue;
		m.seq = (uint32_t)(i + 1);
		m.msg = &box->msgs[i];
		m.keywords = &box->keywords;
		if (imap_search_needs_data(&ctx->prog, m.msg)) {
			const char *error;
			int r;

			buf_reset(&data);
			r = mbox_msg_read(box, i, &data, &error);
			if (r < 0) {
				ctx->error = error;
				ctx->ret = -1;
				break;
			}
			if (r == 0)
				continue;
			m.data = data.data;
			m.len = data.len;
		}
		match = imap_search_match(&ctx->prog, &m, &sctx);
		imap_msg_clear(&m);
		if (match)
			buf_printf(&ctx->out, " %u", ctx->uid ? box->msgs[i].uid : m.seq);
	}
	buf_append_str(&ctx->out, "\r\n");
	buf_free(&data);
}

static void search_done(struct imap_client *c, void *arg)
{
	struct search_ctx *ctx = arg;

	if (!c->gone) {
		if (ctx->ret < 0) {
			log_warn(conn_sid(c->conn), "imap: user=<%s> search: %s", c->user, ctx->error);
			imap_client_tagged(c, "NO", "[SERVERBUG] Search failed: %s", ctx->error);
		} else {
			imap_client_write(c, ctx->out.data, ctx->out.len);
			imap_client_tagged(c, "OK", "%sSEARCH completed", ctx->uid ? "UID " : "");
		}
	}
	imap_search_program_free(&ctx->prog);
	buf_free(&ctx->out);
	free(ctx);
}

IMAP_CMD(search)
{
	struct search_ctx *ctx = xcalloc(1, sizeof(*ctx));
	const char *error;

	if (imap_search_parse(cmd->args, cmd->count, &ctx->prog, &error) < 0) {
		bool no = ctx->prog.badcharset;

		imap_search_program_free(&ctx->prog);
		free(ctx);
		/* An unknown charset is NO [BADCHARSET] (RFC 3501 6.4.4). */
		if (no)
			imap_client_tagged(c, "NO", "%s", error);
		else
			imap_client_bad(c, error);
		return;
	}
	ctx->box = c->box;
	ctx->uid = cmd->uid;
	buf_init(&ctx->out, BUF_NO_LIMIT);
	imap_client_work(c, search_work, search_done, ctx);
}
