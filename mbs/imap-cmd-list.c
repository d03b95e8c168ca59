/* LIST and LSUB (RFC 3501 6.3.8-9) with LIST-EXTENDED (RFC 5258),
 * LIST-STATUS (RFC 5819), CHILDREN (RFC 3348) and SPECIAL-USE (RFC 6154);
 * the grammar and the replies are in imap-list.c. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "imap-list.h"
#include "imap-special-use.h"
#include "xalloc.h"

struct list_ctx {
	struct imap_list_args args;
	struct mbox_user *user;
	bool utf8;
	struct buf out;
	int ret;
	const char *error;
};

static int list_status(void *ctx, const char *name, struct mbox_status *st_r)
{
	struct list_ctx *l = ctx;
	const char *error;

	/* A folder deleted since it was listed is left out. */
	return mbox_status(l->user, name, st_r, &error) > 0 ? 1 : 0;
}

static void list_work(void *ctx)
{
	struct list_ctx *l = ctx;
	struct mbox_folder_list all, subs;

	memset(&subs, 0, sizeof(subs));
	if (l->args.delimiter_query) {
		memset(&all, 0, sizeof(all));
		imap_list_build(&l->args, &all, &subs, l->utf8, NULL, NULL, &l->out);
		l->ret = 1;
		return;
	}
	if (mbox_folder_list(l->user, false, &all, &l->error) < 0) {
		l->ret = -1;
		return;
	}
	if (imap_list_needs_subs(&l->args) &&
	    mbox_folder_list(l->user, true, &subs, &l->error) < 0) {
		mbox_folder_list_free(&all);
		l->ret = -1;
		return;
	}
	/* special uses given by CREATE (the names give the others) */
	struct imap_special_use_map map;

	if (imap_special_use_read(l->user->root, &map, &l->error) < 0) {
		mbox_folder_list_free(&all);
		mbox_folder_list_free(&subs);
		l->ret = -1;
		return;
	}
	imap_special_use_apply(&map, &all);
	imap_special_use_apply(&map, &subs);
	imap_special_use_map_free(&map);
	imap_list_build(&l->args, &all, &subs, l->utf8, list_status, l, &l->out);
	mbox_folder_list_free(&all);
	mbox_folder_list_free(&subs);
	l->ret = 1;
}

static void list_done(struct imap_client *c, void *ctx)
{
	struct list_ctx *l = ctx;

	if (!c->gone) {
		if (l->ret > 0) {
			imap_client_write(c, l->out.data, l->out.len);
			imap_client_tagged(c, "OK", "%s completed", l->args.lsub ? "Lsub" : "List");
		} else {
			imap_cmd_mbox_fail(c, l->ret, l->error);
		}
	}
	imap_list_args_free(&l->args);
	buf_free(&l->out);
	free(l);
}

static void list_cmd(struct imap_client *c, struct imap_command *cmd, bool lsub)
{
	struct list_ctx *l = xcalloc(1, sizeof(*l));
	const char *error;

	l->utf8 = imap_cmd_utf8(c);
	if (imap_list_args_parse(cmd->args, cmd->count, lsub, l->utf8, &l->args, &error) < 0) {
		free(l);
		imap_client_bad(c, error);
		return;
	}
	l->user = &c->mbox_user;
	buf_init(&l->out, BUF_NO_LIMIT);
	imap_client_work(c, list_work, list_done, l);
}

IMAP_CMD(list)
{
	list_cmd(c, cmd, false);
}

IMAP_CMD(lsub)
{
	list_cmd(c, cmd, true);
}
