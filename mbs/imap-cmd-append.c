/* APPEND (RFC 3501 6.3.11) with [APPENDUID] (RFC 4315 UIDPLUS). The
 * message is on stable storage before the OK: mbox_append writes,
 * fsyncs and renames it into place. APPENDLIMIT (RFC 7889) is enforced by
 * the session when the literal is announced, before it is read; the
 * session hands the message over with imap_client_literal(). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "xalloc.h"

struct append_ctx {
	struct mbox_user *user;
	char *name;
	struct imap_flags flags;
	time_t internaldate;
	char *data;                  /* the message, taken from the session */
	size_t len;
	uint32_t uidvalidity, uid;
	int ret;
	const char *error;
};

static void append_work(void *ctx)
{
	struct append_ctx *a = ctx;
	struct mbox_append req = {
		.flags = a->flags.system,
		.keywords = (const char *const *)a->flags.keywords,
		.keyword_count = a->flags.keyword_count,
		.internaldate = a->internaldate,
	};

	a->ret = mbox_append(a->user, a->name, a->data, a->len, &req, &a->uidvalidity, &a->uid,
			     &a->error);
}

static void append_done(struct imap_client *c, void *ctx)
{
	struct append_ctx *a = ctx;

	if (!c->gone) {
		if (a->ret > 0 && a->uid != 0)
			imap_client_tagged(c, "OK", "[APPENDUID %u %u] Append completed",
					   a->uidvalidity, a->uid);
		else if (a->ret > 0)
			/* expunged by another session before it got its UID */
			imap_client_tagged(c, "OK", "Append completed");
		else
			imap_cmd_mbox_fail(c, a->ret, a->error);
	}
	imap_flags_free(&a->flags);
	free(a->data);
	free(a->name);
	free(a);
}

IMAP_CMD(append)
{
	struct append_ctx *a;
	const struct imap_arg *msg;
	const char *error;
	size_t i = 1;
	char *name;

	/* APPEND mailbox [flag-list] [date-time] literal */
	if (cmd->count < 2 || cmd->count > 4) {
		imap_client_bad(c, "APPEND needs a mailbox name and a message literal");
		return;
	}
	msg = &cmd->args[cmd->count - 1];
	if (msg->type != IMAP_ARG_LITERAL ||
	    (msg->streamed && imap_client_literal_count(c) != 1)) {
		imap_client_bad(c, "APPEND's message must be a literal");
		return;
	}
	a = xcalloc(1, sizeof(*a));
	if (i < cmd->count - 1 && cmd->args[i].type == IMAP_ARG_LIST) {
		if (imap_flag_list_parse(&cmd->args[i], &a->flags, &error) < 0) {
			free(a);
			imap_client_bad(c, error);
			return;
		}
		i++;
	}
	if (i < cmd->count - 1) {
		int zone;

		if (imap_datetime_parse(&cmd->args[i], &a->internaldate, &zone, &error) < 0) {
			imap_flags_free(&a->flags);
			free(a);
			imap_client_bad(c, error);
			return;
		}
		i++;
	}
	if (i != cmd->count - 1) {
		imap_flags_free(&a->flags);
		free(a);
		imap_client_bad(c, "Unexpected APPEND arguments");
		return;
	}
	if (msg->len == 0) {
		/* no RFC 5322 message; Dovecot refuses it too */
		imap_flags_free(&a->flags);
		free(a);
		imap_client_tagged(c, "NO", "Can't save a zero byte message");
		return;
	}
	if (!imap_cmd_mailbox_arg(c, &cmd->args[0], &name)) {
		imap_flags_free(&a->flags);
		free(a);
		return;
	}
	a->user = &c->mbox_user;
	a->name = name;
	if (msg->streamed) {
		struct buf *data = imap_client_literal(c, 0);

		a->len = data->len;
		a->data = buf_steal(data);
	} else {
		a->len = msg->len;
		a->data = xmalloc(msg->len + 1);
		memcpy(a->data, msg->str, msg->len + 1);
	}
	imap_client_work(c, append_work, append_done, a);
}
