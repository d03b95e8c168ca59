/* SELECT and EXAMINE (RFC 3501 6.3.1-2). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "xalloc.h"

struct select_ctx {
	struct mbox_user *user;
	char *name;
	bool readonly;
	struct mbox *box;
	struct mbox_status st;
	int ret;
	const char *error;
};

static void select_work(void *ctx)
{
	struct select_ctx *s = ctx;

	s->ret = mbox_open(s->user, s->name, s->readonly, &s->box, &s->error);
	if (s->ret > 0)
		mbox_get_status(s->box, &s->st);
}

static void select_flags(struct buf *out, const struct mbox *box)
{
	buf_append_str(out, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (box->keywords.names[i] != NULL)
			buf_printf(out, " %s", box->keywords.names[i]);
	}
}

static void select_done(struct imap_client *c, void *ctx)
{
	struct select_ctx *s = ctx;

	if (c->gone) {
		mbox_close(&s->box);
	} else if (s->ret <= 0) {
		/* Not found (or a \Noselect level): the session stays in the
		 * authenticated state, as RFC 3501 6.3.1 asks of a failed
		 * SELECT. */
		if (s->ret == 0)
			imap_client_tagged(c, "NO", "[NONEXISTENT] Mailbox doesn't exist: %s",
					   s->name);
		else
			imap_cmd_mbox_fail(c, s->ret, s->error);
	} else {
		struct mbox *box = s->box;
		struct buf flags;
		bool room = false;

		buf_init(&flags, BUF_NO_LIMIT);
		select_flags(&flags, box);
		for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX && !room; i++)
			room = box->keywords.names[i] == NULL;
		imap_client_untagged(c, "FLAGS (%s)", buf_cstr(&flags));
		if (s->readonly)
			imap_client_untagged(c, "OK [PERMANENTFLAGS ()] Read-only mailbox.");
		else
			/* \* only while keyword letters are left (Maildir
			 * keeps 26). */
			imap_client_untagged(c, "OK [PERMANENTFLAGS (%s%s)] Flags permitted.",
					     buf_cstr(&flags), room ? " \\*" : "");
		buf_free(&flags);
		imap_client_untagged(c, "%u EXISTS", s->st.messages);
		imap_client_untagged(c, "%u RECENT", s->st.recent);
		if (s->st.first_unseen != 0)
			imap_client_untagged(c, "OK [UNSEEN %u] First unseen.", s->st.first_unseen);
		imap_client_untagged(c, "OK [UIDVALIDITY %u] UIDs valid", s->st.uidvalidity);
		imap_client_untagged(c, "OK [UIDNEXT %u] Predicted next UID", s->st.uidnext);
		c->box = box;
		c->state = IMAP_ST_SELECTED;
		s->box = NULL;
		imap_client_tagged(c, "OK", "%s %s completed",
				   s->readonly ? "[READ-ONLY]" : "[READ-WRITE]",
				   s->readonly ? "Examine" : "Select");
	}
	free(s->name);
	free(s);
}

static void select_cmd(struct imap_client *c, struct imap_command *cmd, bool readonly)
{
	struct select_ctx *s;
	char *name;

	if (cmd->count != 1) {
		/* select-params (RFC 4466): CONDSTORE and QRESYNC come with
		 * their extensions; none is known yet. */
		imap_client_bad(c, cmd->count == 0 ? "Missing mailbox name" :
						     "Unknown SELECT parameters");
		return;
	}
	/* Whatever happens next, the mailbox selected so far is closed
	 * (RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected). */
	imap_cmd_deselect(c, true);
	if (!imap_cmd_mailbox_arg(c, &cmd->args[0], &name))
		return;
	s = xcalloc(1, sizeof(*s));
	s->user = &c->mbox_user;
	s->name = name;
	s->readonly = readonly;
	imap_client_work(c, select_work, select_done, s);
}

IMAP_CMD(select)
{
	select_cmd(c, cmd, false);
}

IMAP_CMD(examine)
{
	select_cmd(c, cmd, true);
}
