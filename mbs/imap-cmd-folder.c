/* CREATE (with RFC 6154 CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE,
 * UNSUBSCRIBE; and what the folder command files share. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-cmd-folder.h"
#include "imap-commands.h"
#include "imap-list.h"
#include "imap-special-use.h"
#include "log.h"
#include "xalloc.h"

/* ---- shared ---- */

bool imap_cmd_utf8(const struct imap_client *c)
{
	return (c->enabled & IMAP_ENABLED_UTF8) != 0;
}

bool imap_cmd_mailbox_arg(struct imap_client *c, const struct imap_arg *arg, char **stored_r)
{
	const char *error;
	int ret = imap_mailbox_arg(arg, imap_cmd_utf8(c), stored_r, &error);

	if (ret < 0)
		imap_client_bad(c, error);
	else if (ret == 0)
		imap_client_tagged(c, "NO", "[CANNOT] Invalid mailbox name: %s", error);
	return ret > 0;
}

void imap_cmd_mbox_fail(struct imap_client *c, int ret, const char *error)
{
	if (ret == 0) {
		imap_client_tagged(c, "NO", "%s%s", imap_mbox_error_code(error), error);
		return;
	}
	struct buf line;

	buf_init(&line, 4096);
	log_escape(&line, error != NULL ? error : "unknown error");
	log_error(conn_sid(c->conn), "imap-mailbox: user=%s command=%s error=%s",
		  c->user != NULL ? c->user : "-", c->def != NULL ? c->def->name : "-",
		  buf_cstr(&line));
	buf_free(&line);
	imap_client_tagged(c, "NO", "[SERVERBUG] Internal error occurred. "
			   "Refer to server log for more information.");
}

void imap_cmd_deselect(struct imap_client *c, bool tell)
{
	if (c->box == NULL)
		return;
	mbox_close(&c->box);
	c->state = IMAP_ST_AUTH;
	if (tell)
		imap_client_untagged(c, "OK [CLOSED] Previous mailbox closed.");
}

/* "A" is the selected mailbox or one of its parents. */
static bool imap_cmd_selected_below(const struct imap_client *c, const char *name)
{
	size_t len = strlen(name);

	if (c->box == NULL)
		return false;
	return strncmp(c->box->name, name, len) == 0 &&
	       (c->box->name[len] == '\0' || c->box->name[len] == IMAP_MAILBOX_SEP);
}

/* ---- the commands ---- */

enum folder_op {
	FOLDER_CREATE,
	FOLDER_DELETE,
	FOLDER_RENAME,
	FOLDER_SUBSCRIBE,
	FOLDER_UNSUBSCRIBE,
};

struct folder_ctx {
	enum folder_op op;
	const struct mbox_user *user;
	char *name, *to;
	unsigned use;            /* CREATE's USE attributes */
	int ret;
	const char *error;
};

/* The name's entry in the special-use file no longer holds (DELETE, or a
 * CREATE without USE of a name another program left behind). */
static void folder_special_use_forget(const struct folder_ctx *f)
{
	struct imap_special_use_map map;
	const char *error;

	if (imap_special_use_read(f->user->root, &map, &error) == 0 &&
	    imap_special_use_lookup(&map, f->name) != 0)
		(void)imap_special_use_set(f->user->root, f->name, 0, &error);
	imap_special_use_map_free(&map);
}

/* CREATE (RFC 6154 3): the attributes the name does not give by itself
 * are recorded first, and forgotten again when the folder cannot be
 * made, so a refused CREATE leaves nothing behind. */
static void folder_create(struct folder_ctx *f)
{
	unsigned extra = f->use & ~imap_special_use_of_name(f->name), before = 0;
	struct imap_special_use_map map;
	const char *error;

	if (extra != 0) {
		/* what an existing folder of that name has stays */
		if (imap_special_use_read(f->user->root, &map, &f->error) < 0) {
			f->ret = -1;
			return;
		}
		before = imap_special_use_lookup(&map, f->name);
		imap_special_use_map_free(&map);
		if (imap_special_use_set(f->user->root, f->name, f->use, &f->error) < 0) {
			f->ret = -1;
			return;
		}
	}
	f->ret = mbox_folder_create(f->user, f->name, &f->error);
	if (f->ret <= 0 && extra != 0)
		(void)imap_special_use_set(f->user->root, f->name, before, &error);
	else if (f->ret > 0 && extra == 0)
		folder_special_use_forget(f);
}

static size_t folder_levels(const char *name)
{
	size_t n = 1;

	for (; *name != '\0'; name++)
		n += *name == IMAP_MAILBOX_SEP;
	return n;
}

/* Every name the RENAME would make is checked first, so that it is
 * refused whole rather than stopping half-way through the children. */
static int folder_rename_check(const struct mbox_user *u, const char *from, const char *to,
			       const char **error_r)
{
	struct mbox_folder_list list;
	size_t from_len = strlen(from), to_len = strlen(to);
	int ret = 1;

	if (strcmp(from, "INBOX") == 0)
		return 1;   /* its children stay where they are (RFC 3501 6.3.5) */
	if (mbox_folder_list(u, false, &list, error_r) < 0)
		return -1;
	for (size_t i = 0; i < list.count && ret > 0; i++) {
		const char *name = list.v[i].name;

		if (strncmp(name, from, from_len) != 0 || name[from_len] != IMAP_MAILBOX_SEP)
			continue;
		if (to_len + strlen(name) - from_len > IMAP_MAILBOX_MAX_LEN ||
		    folder_levels(to) + folder_levels(name) - folder_levels(from) >
			    IMAP_MAILBOX_MAX_LEVELS) {
			*error_r = "The new name of a child folder is too long";
			ret = 0;
		}
	}
	mbox_folder_list_free(&list);
	return ret;
}

static void folder_work(void *ctx)
{
	struct folder_ctx *f = ctx;

	switch (f->op) {
	case FOLDER_CREATE:
		folder_create(f);
		break;
	case FOLDER_DELETE:
		f->ret = mbox_folder_delete(f->user, f->name, &f->error);
		if (f->ret > 0)
			folder_special_use_forget(f);
		break;
	case FOLDER_RENAME:
		f->ret = folder_rename_check(f->user, f->name, f->to, &f->error);
		if (f->ret > 0)
			f->ret = mbox_folder_rename(f->user, f->name, f->to, &f->error);
		if (f->ret > 0 &&
		    imap_special_use_rename(f->user->root, f->name, f->to, &f->error) < 0)
			f->ret = -1;
		break;
	case FOLDER_SUBSCRIBE:
	case FOLDER_UNSUBSCRIBE:
		f->ret = mbox_subscribe(f->user, f->name, f->op == FOLDER_SUBSCRIBE, &f->error);
		break;
	}
}

static void folder_done(struct imap_client *c, void *ctx)
{
	static const char *const done_text[] = {
		"Create completed", "Delete completed", "Rename completed",
		"Subscribe completed", "Unsubscribe completed",
	};
	struct folder_ctx *f = ctx;

	if (!c->gone) {
		if (f->ret > 0) {
			/* The selected mailbox went away under this session
			 * (INBOX stays where it is when renamed). */
			if (f->op == FOLDER_DELETE && imap_cmd_selected_below(c, f->name) &&
			    strcmp(c->box->name, f->name) == 0)
				imap_cmd_deselect(c, true);
			else if (f->op == FOLDER_RENAME && strcmp(f->name, "INBOX") != 0 &&
				 imap_cmd_selected_below(c, f->name))
				imap_cmd_deselect(c, true);
			imap_client_tagged(c, "OK", "%s", done_text[f->op]);
		} else {
			imap_cmd_mbox_fail(c, f->ret, f->error);
		}
	}
	free(f->name);
	free(f->to);
	free(f);
}

static void folder_start(struct imap_client *c, enum folder_op op, char *name, char *to,
			 unsigned use)
{
	struct folder_ctx *f = xcalloc(1, sizeof(*f));

	f->op = op;
	f->use = use;
	f->user = &c->mbox_user;
	f->name = name;
	f->to = to;
	imap_client_work(c, folder_work, folder_done, f);
}

/* CREATE's parameters (RFC 4466 create-params): only USE (RFC 6154).
 * 1 ok with *use_r, 0 replied NO, -1 BAD. */
static int create_params_parse(struct imap_client *c, const struct imap_arg *params,
			       unsigned *use_r)
{
	*use_r = 0;
	if (params->type != IMAP_ARG_LIST || params->count == 0)
		return -1;
	for (size_t i = 0; i < params->count; i++) {
		const struct imap_arg *uses;

		if (!imap_arg_atom_is(&params->list[i], "USE") || i + 1 >= params->count ||
		    params->list[i + 1].type != IMAP_ARG_LIST)
			return -1;
		uses = &params->list[++i];
		for (size_t j = 0; j < uses->count; j++) {
			const char *attr = imap_arg_atom(&uses->list[j]);
			unsigned flag;

			if (attr == NULL || attr[0] != '\\')
				return -1;
			/* \All and \Flagged are virtual mailboxes, which
			 * the store has not */
			flag = imap_special_use_parse(attr);
			if (flag == 0) {
				imap_client_tagged(c, "NO", "[USEATTR] Unsupported special-use "
						   "attribute");
				return 0;
			}
			*use_r |= flag;
		}
	}
	return 1;
}

IMAP_CMD(create)
{
	const char *raw = cmd->count >= 1 ? imap_arg_astring(&cmd->args[0]) : NULL;
	struct imap_arg trimmed;
	char *name, *copy;
	unsigned use = 0;
	size_t len;
	int ret;

	if (raw == NULL || cmd->count > 2) {
		imap_client_bad(c, "CREATE needs a mailbox name and optional parameters");
		return;
	}
	/* RFC 3501 6.3.3: a trailing delimiter only declares the intent to
	 * create names below; the folder is made without it. */
	copy = xstrdup(raw);
	len = strlen(copy);
	if (len > 1 && copy[len - 1] == IMAP_MAILBOX_SEP)
		copy[len - 1] = '\0';
	trimmed = cmd->args[0];
	trimmed.type = IMAP_ARG_QUOTED;
	trimmed.str = copy;
	trimmed.len = strlen(copy);
	if (!imap_cmd_mailbox_arg(c, &trimmed, &name)) {
		free(copy);
		return;
	}
	free(copy);
	if (cmd->count == 2) {
		ret = create_params_parse(c, &cmd->args[1], &use);
		if (ret <= 0) {
			if (ret < 0)
				imap_client_bad(c, "Invalid CREATE parameters");
			free(name);
			return;
		}
	}
	folder_start(c, FOLDER_CREATE, name, NULL, use);
}

IMAP_CMD(delete)
{
	char *name;

	if (cmd->count != 1) {
		imap_client_bad(c, "DELETE needs one mailbox name");
		return;
	}
	if (imap_cmd_mailbox_arg(c, &cmd->args[0], &name))
		folder_start(c, FOLDER_DELETE, name, NULL, 0);
}

IMAP_CMD(rename)
{
	char *from, *to;

	if (cmd->count != 2) {
		imap_client_bad(c, "RENAME needs two mailbox names");
		return;
	}
	if (!imap_cmd_mailbox_arg(c, &cmd->args[0], &from))
		return;
	if (!imap_cmd_mailbox_arg(c, &cmd->args[1], &to)) {
		free(from);
		return;
	}
	folder_start(c, FOLDER_RENAME, from, to, 0);
}

static void subscribe_cmd(struct imap_client *c, struct imap_command *cmd, bool on)
{
	char *name;

	if (cmd->count != 1) {
		imap_client_bad(c, on ? "SUBSCRIBE needs one mailbox name" :
					"UNSUBSCRIBE needs one mailbox name");
		return;
	}
	/* RFC 3501 6.3.6: a name may be subscribed whether or not a folder
	 * has it. */
	if (imap_cmd_mailbox_arg(c, &cmd->args[0], &name))
		folder_start(c, on ? FOLDER_SUBSCRIBE : FOLDER_UNSUBSCRIBE, name, NULL, 0);
}

IMAP_CMD(subscribe)
{
	subscribe_cmd(c, cmd, true);
}

IMAP_CMD(unsubscribe)
{
	subscribe_cmd(c, cmd, false);
}
