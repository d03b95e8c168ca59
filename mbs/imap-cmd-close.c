/* CHECK, CLOSE and UNSELECT (RFC 3501 6.4.1, 6.4.2; RFC 3691). */
#include <stdlib.h>

#include "imap-commands.h"
#include "log.h"
#include "xalloc.h"

/* ---- CHECK: a checkpoint is a sync; every change is already durable ---- */

static void check_done(struct imap_client *c)
{
	imap_client_tagged(c, "OK", "CHECK completed");
}

IMAP_CMD(check)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "CHECK takes no arguments");
		return;
	}
	imap_client_sync(c, check_done);
}

/* ---- CLOSE and UNSELECT ---- */

struct close_ctx {
	struct mbox *box;
	bool expunge;
	const char *error;
	int ret;
};

static void close_work(void *arg)
{
	struct close_ctx *ctx = arg;

	ctx->ret = 0;
	/* CLOSE expunges silently: no untagged EXPUNGE (RFC 3501 6.4.2). */
	if (ctx->expunge)
		ctx->ret = mbox_expunge(ctx->box, NULL, 0, NULL, &ctx->error);
	mbox_close(&ctx->box);
}

static void close_done(struct imap_client *c, void *arg)
{
	struct close_ctx *ctx = arg;

	if (!c->gone) {
		/* The mailbox is deselected even when the expunge failed: a
		 * client cannot retry CLOSE on a mailbox it no longer has. */
		if (ctx->ret < 0)
			log_warn(conn_sid(c->conn), "imap: user=<%s> close expunge: %s",
			       c->user, ctx->error);
		if (ctx->ret < 0)
			imap_client_tagged(c, "NO", "[SERVERBUG] Closed, but could not expunge: %s",
					   ctx->error);
		else
			imap_client_tagged(c, "OK", "%s completed", ctx->expunge ? "CLOSE" : "UNSELECT");
	}
	free(ctx);
}

static void close_start(struct imap_client *c, struct imap_command *cmd, bool expunge)
{
	struct close_ctx *ctx;

	if (cmd->count != 0) {
		imap_client_bad(c, expunge ? "CLOSE takes no arguments" : "UNSELECT takes no arguments");
		return;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->box = c->box;
	ctx->expunge = expunge && !c->box->readonly;
	/* Deselected now: the tagged reply must not sync this mailbox. */
	c->box = NULL;
	c->state = IMAP_ST_AUTH;
	imap_client_work(c, close_work, close_done, ctx);
}

IMAP_CMD(close)
{
	close_start(c, cmd, true);
}

IMAP_CMD(unselect)
{
	close_start(c, cmd, false);
}
