/* QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA. One quota root,
 * "", for the whole store: STORAGE (KiB) and MESSAGE from maildirsize
 * with the limits authd gave at login. Limits are set by the
 * administrator in SQL or LDAP, so SETQUOTA is refused. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "imap-list.h"
#include "xalloc.h"

struct quota_ctx {
	struct mbox_user *user;
	char *name;                  /* GETQUOTAROOT's mailbox, else NULL */
	struct maildir_quota q;
	int ret;
	const char *error;
};

static void quota_work(void *ctx)
{
	struct quota_ctx *q = ctx;

	q->ret = mbox_quota(q->user, &q->q, &q->error) < 0 ? -1 : 1;
}

static bool quota_limited(const struct maildir_quota *q)
{
	return q->limits.bytes != 0 || q->limits.count != 0;
}

static void quota_done(struct imap_client *c, void *ctx)
{
	struct quota_ctx *q = ctx;

	if (!c->gone) {
		if (q->ret > 0) {
			struct buf out;

			buf_init(&out, BUF_NO_LIMIT);
			if (q->name != NULL) {
				buf_append_str(&out, "* QUOTAROOT ");
				imap_list_append_name(&out, q->name, imap_cmd_utf8(c));
				/* no limits: the mailbox has no quota root */
				buf_append_str(&out, quota_limited(&q->q) ? " \"\"\r\n" : "\r\n");
			}
			if (q->name == NULL || quota_limited(&q->q))
				imap_quota_format(&out, &q->q);
			imap_client_write(c, out.data, out.len);
			buf_free(&out);
			imap_client_tagged(c, "OK", "%s completed",
					   q->name != NULL ? "Getquotaroot" : "Getquota");
		} else {
			imap_cmd_mbox_fail(c, q->ret, q->error);
		}
	}
	free(q->name);
	free(q);
}

static void quota_start(struct imap_client *c, char *name)
{
	struct quota_ctx *q = xcalloc(1, sizeof(*q));

	q->user = &c->mbox_user;
	q->name = name;
	imap_client_work(c, quota_work, quota_done, q);
}

/* The one quota root is "". */
static bool quota_root_arg(struct imap_client *c, struct imap_command *cmd, size_t want)
{
	const char *root = cmd->count >= 1 ? imap_arg_astring(&cmd->args[0]) : NULL;

	if (root == NULL || cmd->count != want) {
		imap_client_bad(c, want == 1 ? "GETQUOTA needs a quota root" :
					       "SETQUOTA needs a quota root and a list of limits");
		return false;
	}
	if (*root != '\0') {
		imap_client_tagged(c, "NO", "[NONEXISTENT] No such quota root");
		return false;
	}
	return true;
}

IMAP_CMD(getquota)
{
	if (quota_root_arg(c, cmd, 1))
		quota_start(c, NULL);
}

IMAP_CMD(getquotaroot)
{
	char *name;

	if (cmd->count != 1) {
		imap_client_bad(c, "GETQUOTAROOT needs one mailbox name");
		return;
	}
	if (imap_cmd_mailbox_arg(c, &cmd->args[0], &name))
		quota_start(c, name);
}

IMAP_CMD(setquota)
{
	const struct imap_arg *list;

	if (cmd->count != 2 || cmd->args[1].type != IMAP_ARG_LIST ||
	    imap_arg_astring(&cmd->args[0]) == NULL) {
		imap_client_bad(c, "SETQUOTA needs a quota root and a list of limits");
		return;
	}
	/* setquota_list: (resource number ...) */
	list = &cmd->args[1];
	for (size_t i = 0; i < list->count; i++) {
		const char *s = imap_arg_atom(&list->list[i]);

		if (s == NULL || (i % 2 == 1 && s[strspn(s, "0123456789")] != '\0') ||
		    list->count % 2 != 0) {
			imap_client_bad(c, "SETQUOTA's limits are resource names and numbers");
			return;
		}
	}
	imap_client_tagged(c, "NO", "[NOPERM] Quota limits are set by the administrator");
}
