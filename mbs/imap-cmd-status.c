/* STATUS (RFC 3501 6.3.10) with SIZE (RFC 8438 STATUS=SIZE). */
#include <stdlib.h>

#include "buf.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "imap-list.h"
#include "xalloc.h"

struct status_ctx {
	struct mbox_user *user;
	char *name;
	unsigned items;
	struct mbox_status st;
	int ret;
	const char *error;
};

static void status_work(void *ctx)
{
	struct status_ctx *s = ctx;

	s->ret = mbox_status(s->user, s->name, &s->st, &s->error);
}

static void status_done(struct imap_client *c, void *ctx)
{
	struct status_ctx *s = ctx;

	if (!c->gone) {
		if (s->ret > 0) {
			struct buf out;

			buf_init(&out, BUF_NO_LIMIT);
			imap_status_format(&out, s->name, imap_cmd_utf8(c), s->items, &s->st);
			imap_client_write(c, out.data, out.len);
			buf_free(&out);
			imap_client_tagged(c, "OK", "Status completed");
		} else if (s->ret == 0) {
			imap_client_tagged(c, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		} else {
			imap_cmd_mbox_fail(c, s->ret, s->error);
		}
	}
	free(s->name);
	free(s);
}

IMAP_CMD(status)
{
	struct status_ctx *s;
	const char *error;
	unsigned items;
	char *name;

	if (cmd->count != 2) {
		imap_client_bad(c, "STATUS needs a mailbox name and a list of items");
		return;
	}
	if (imap_status_items_parse(&cmd->args[1], &items, &error) < 0) {
		imap_client_bad(c, error);
		return;
	}
	if (!imap_cmd_mailbox_arg(c, &cmd->args[0], &name))
		return;
	s = xcalloc(1, sizeof(*s));
	s->user = &c->mbox_user;
	s->name = name;
	s->items = items;
	imap_client_work(c, status_work, status_done, s);
}
