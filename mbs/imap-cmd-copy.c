/* COPY, UID COPY (RFC 3501 6.4.7, RFC 4315 [COPYUID]) and MOVE, UID MOVE
 * (RFC 6851). */
#include <stdlib.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-msgset.h"
#include "imap-commands.h"
#include "log.h"
#include "xalloc.h"

struct copy_ctx {
	struct mbox *box;
	size_t *idx;
	size_t n;
	char *target;             /* stored name */
	bool move, uid;
	/* results */
	uint32_t uidvalidity;
	uint32_t *src_uids, *dst_uids;
	size_t copied;
	struct mbox_changes ch;
	const char *error;
	int ret;
	bool expunge_failed;
};

static void copy_work(void *arg)
{
	struct copy_ctx *ctx = arg;
	struct mbox *box = ctx->box;
	size_t *moved, n = 0;

	ctx->ret = mbox_copy(box, ctx->idx, ctx->n, ctx->target, &ctx->uidvalidity,
			     &ctx->src_uids, &ctx->dst_uids, &ctx->copied, &ctx->error);
	if (ctx->ret <= 0 || !ctx->move)
		return;
	/* RFC 6851 3.3: what was copied leaves the source. Only those
	 * messages are flagged and expunged (UID EXPUNGE's way), so other
	 * \Deleted messages stay. */
	moved = xreallocarray(NULL, ctx->copied + 1, sizeof(*moved));
	for (size_t k = 0; k < ctx->copied; k++) {
		size_t i = imap_msgset_find_uid(box, ctx->src_uids[k]);

		if (i < box->count)
			moved[n++] = i;
	}
	if (mbox_store(box, moved, n, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0,
		       &ctx->error) <= 0 ||
	    mbox_expunge(box, moved, n, &ctx->ch, &ctx->error) < 0)
		ctx->expunge_failed = true;
	free(moved);
}

static void copy_done(struct imap_client *c, void *arg)
{
	struct copy_ctx *ctx = arg;
	const char *what = ctx->move ? "MOVE" : "COPY";

	if (c->gone)
		goto out;
	if (ctx->ret < 0) {
		log_warn(conn_sid(c->conn), "imap: user=<%s> %s to %s: %s", c->user,
			 ctx->move ? "move" : "copy", ctx->target, ctx->error);
		imap_client_tagged(c, "NO", "[SERVERBUG] %s failed: %s", what, ctx->error);
	} else if (ctx->ret == 0) {
		/* [TRYCREATE] or [OVERQUOTA] from the mailbox layer. */
		imap_client_tagged(c, "NO", "%s", ctx->error);
	} else {
		struct buf code;

		buf_init(&code, BUF_NO_LIMIT);
		if (ctx->copied > 0) {
			buf_printf(&code, "[COPYUID %u ", ctx->uidvalidity);
			imap_msgset_uids_format(ctx->src_uids, ctx->copied, &code);
			buf_append_char(&code, ' ');
			imap_msgset_uids_format(ctx->dst_uids, ctx->copied, &code);
			buf_append_str(&code, "] ");
		}
		if (ctx->move) {
			/* RFC 6851 4.3: COPYUID in an untagged OK before the
			 * EXPUNGEs, since the tagged OK comes after them. */
			if (ctx->copied > 0)
				imap_client_untagged(c, "OK %sMoved", buf_cstr(&code));
			imap_client_send_changes(c, &ctx->ch);
			if (ctx->expunge_failed) {
				log_warn(conn_sid(c->conn), "imap: user=<%s> move: expunge: %s",
					 c->user, ctx->error);
				imap_client_tagged(c, "NO", "[SERVERBUG] Copied, but could not "
						   "remove the originals: %s", ctx->error);
			} else {
				imap_client_tagged(c, "OK", "%sMOVE completed",
						   ctx->uid ? "UID " : "");
			}
		} else {
			imap_client_tagged(c, "OK", "%s%sCOPY completed", buf_cstr(&code),
					   ctx->uid ? "UID " : "");
		}
		buf_free(&code);
	}
out:
	mbox_changes_free(&ctx->ch);
	free(ctx->src_uids);
	free(ctx->dst_uids);
	free(ctx->target);
	free(ctx->idx);
	free(ctx);
}

static void copy_start(struct imap_client *c, struct imap_command *cmd, bool move)
{
	struct copy_ctx *ctx;
	const char *error, *name;
	struct buf stored;

	if (cmd->count != 2) {
		imap_client_bad(c, move ? "MOVE needs a set and a mailbox" :
				"COPY needs a set and a mailbox");
		return;
	}
	name = imap_arg_astring(&cmd->args[1]);
	if (name == NULL) {
		imap_client_bad(c, "Invalid mailbox name");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	if (imap_msgset_resolve(c->box, imap_arg_atom(&cmd->args[0]), cmd->uid, &ctx->idx,
				&ctx->n, &error) < 0) {
		free(ctx);
		imap_client_bad(c, error);
		return;
	}
	buf_init(&stored, IMAP_MAILBOX_MAX_LEN * 8);
	if (imap_mailbox_name_check(name, (c->enabled & IMAP_ENABLED_UTF8) ? IMAP_MAILBOX_UTF8 : 0,
				    &stored, &error) < 0) {
		buf_free(&stored);
		free(ctx->idx);
		free(ctx);
		imap_client_tagged(c, "NO", "[CANNOT] Invalid mailbox name: %s", error);
		return;
	}
	if (move && c->box->readonly) {
		buf_free(&stored);
		free(ctx->idx);
		free(ctx);
		imap_client_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	ctx->target = buf_steal(&stored);
	ctx->box = c->box;
	ctx->move = move;
	ctx->uid = cmd->uid;
	if (ctx->n == 0) {
		/* UID COPY of UIDs that are all gone: nothing to do (RFC 4315
		 * gives no COPYUID then). */
		ctx->ret = 1;
		copy_done(c, ctx);
		return;
	}
	imap_client_work(c, copy_work, copy_done, ctx);
}

IMAP_CMD(copy)
{
	copy_start(c, cmd, false);
}

IMAP_CMD(move)
{
	copy_start(c, cmd, true);
}
