/* STORE and UID STORE (RFC 3501 6.4.6). */
#include <stdlib.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-msgset.h"
#include "imap-commands.h"
#include "imap-msg.h"
#include "log.h"
#include "xalloc.h"

struct store_ctx {
	struct mbox *box;
	size_t *idx;
	size_t n;
	uint32_t *uids;           /* of idx, to find them again after the sync */
	enum mbox_store_mode mode;
	struct imap_flags flags;
	bool silent, uid;
	struct mbox_changes ch;
	struct buf out;           /* the FETCH replies */
	const char *error;
	int ret;
};

static void store_work(void *arg)
{
	struct store_ctx *ctx = arg;
	struct mbox *box = ctx->box;
	struct imap_fetch_items items = { .attrs = IMAP_FETCH_FLAGS };
	const char *error;

	ctx->ret = mbox_store(box, ctx->idx, ctx->n, ctx->mode, ctx->flags.system,
			      (const char *const *)ctx->flags.keywords, ctx->flags.keyword_count,
			      &ctx->error);
	if (ctx->ret <= 0)
		return;
	/* A new keyword changes FLAGS, which must come before the FETCH
	 * replies that use it; so sync now. EXPUNGE only for UID STORE (RFC
	 * 3501 7.4.1): otherwise vanished messages stay in the view. */
	if (mbox_sync(box, ctx->uid, &ctx->ch, &error) < 0)
		log_warn(NULL, "imap: store: sync after store: %s", error);
	if (ctx->silent)
		return;
	for (size_t k = 0; k < ctx->n; k++) {
		size_t i = imap_msgset_find_uid(box, ctx->uids[k]);
		struct imap_msg m = { 0 };

		if (i == box->count || box->msgs[i].expunged)
			continue;
		m.seq = (uint32_t)(i + 1);
		m.msg = &box->msgs[i];
		m.keywords = &box->keywords;
		imap_fetch_write(&ctx->out, &items, &m, ctx->uid, false);
		imap_msg_clear(&m);
	}
}

static void store_done(struct imap_client *c, void *arg)
{
	struct store_ctx *ctx = arg;

	if (!c->gone) {
		if (ctx->ret < 0) {
			log_warn(conn_sid(c->conn), "imap: user=<%s> store: %s", c->user, ctx->error);
			imap_client_tagged(c, "NO", "[SERVERBUG] Store failed: %s", ctx->error);
		} else if (ctx->ret == 0) {
			imap_client_tagged(c, "NO", "%s", ctx->error);
		} else {
			imap_client_send_changes(c, &ctx->ch);
			imap_client_write(c, ctx->out.data, ctx->out.len);
			imap_client_tagged(c, "OK", "%sSTORE completed", ctx->uid ? "UID " : "");
		}
	}
	mbox_changes_free(&ctx->ch);
	buf_free(&ctx->out);
	imap_flags_free(&ctx->flags);
	free(ctx->uids);
	free(ctx->idx);
	free(ctx);
}

IMAP_CMD(store)
{
	struct store_ctx *ctx;
	enum imap_store_mode mode;
	const char *error, *atom;

	if (cmd->count < 3) {
		imap_client_bad(c, "STORE needs a set, an item and flags");
		return;
	}
	atom = imap_arg_atom(&cmd->args[1]);
	ctx = xcalloc(1, sizeof(*ctx));
	if (atom == NULL) {
		error = "Invalid STORE data item";
		goto bad;
	}
	if (imap_store_mode_parse(atom, &mode, &ctx->silent, &error) < 0)
		goto bad;
	if (imap_store_flags_parse(cmd->args + 2, cmd->count - 2, &ctx->flags, &error) < 0)
		goto bad;
	if (imap_msgset_resolve(c->box, imap_arg_atom(&cmd->args[0]), cmd->uid, &ctx->idx,
				&ctx->n, &error) < 0)
		goto bad;
	if (c->box->readonly) {
		imap_flags_free(&ctx->flags);
		free(ctx->idx);
		free(ctx);
		imap_client_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	ctx->mode = mode == IMAP_STORE_ADD ? MBOX_STORE_ADD :
		mode == IMAP_STORE_REMOVE ? MBOX_STORE_REMOVE : MBOX_STORE_REPLACE;
	ctx->box = c->box;
	ctx->uid = cmd->uid;
	ctx->uids = xreallocarray(NULL, ctx->n + 1, sizeof(*ctx->uids));
	for (size_t k = 0; k < ctx->n; k++)
		ctx->uids[k] = c->box->msgs[ctx->idx[k]].uid;
	buf_init(&ctx->out, BUF_NO_LIMIT);
	imap_client_work(c, store_work, store_done, ctx);
	return;
bad:
	imap_flags_free(&ctx->flags);
	free(ctx->idx);
	free(ctx);
	imap_client_bad(c, error);
}
