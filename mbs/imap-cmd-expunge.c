/* EXPUNGE and UID EXPUNGE (RFC 3501 6.4.3, RFC 4315 2.1). */
#include <stdlib.h>

#include "imap-msgset.h"
#include "imap-commands.h"
#include "log.h"
#include "xalloc.h"

struct expunge_ctx {
	struct mbox *box;
	size_t *idx;              /* UID EXPUNGE: only these; NULL: every \Deleted */
	size_t n;
	struct mbox_changes ch;
	const char *error;
	int ret;
};

static void expunge_work(void *arg)
{
	struct expunge_ctx *ctx = arg;

	/* mbox_expunge fsyncs the directories: durable before the OK. */
	ctx->ret = mbox_expunge(ctx->box, ctx->idx, ctx->n, &ctx->ch, &ctx->error);
}

static void expunge_done(struct imap_client *c, void *arg)
{
	struct expunge_ctx *ctx = arg;

	if (!c->gone) {
		if (ctx->ret < 0) {
			log_warn(conn_sid(c->conn), "imap: user=<%s> expunge: %s", c->user,
				 ctx->error);
			imap_client_tagged(c, "NO", "[SERVERBUG] Expunge failed: %s", ctx->error);
		} else {
			imap_client_send_changes(c, &ctx->ch);
			imap_client_tagged(c, "OK", "%sEXPUNGE completed",
					   ctx->idx != NULL ? "UID " : "");
		}
	}
	mbox_changes_free(&ctx->ch);
	free(ctx->idx);
	free(ctx);
}

IMAP_CMD(expunge)
{
	struct expunge_ctx *ctx;
	const char *error;

	if (cmd->uid ? cmd->count != 1 : cmd->count != 0) {
		imap_client_bad(c, cmd->uid ? "UID EXPUNGE takes one UID set" :
				"EXPUNGE takes no arguments");
		return;
	}
	if (c->box->readonly) {
		imap_client_tagged(c, "NO", "[READ-ONLY] The mailbox is read-only");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->box = c->box;
	if (cmd->uid) {
		const char *set = imap_arg_atom(&cmd->args[0]);

		if (imap_msgset_resolve(c->box, set, true, &ctx->idx, &ctx->n, &error) < 0) {
			free(ctx);
			imap_client_bad(c, error);
			return;
		}
	}
	imap_client_work(c, expunge_work, expunge_done, ctx);
}
