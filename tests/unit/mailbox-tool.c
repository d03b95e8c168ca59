/* Test helper, not a test: drives the mailbox layer (mbs/mailbox.h) from
 * the command line so integration tests can compare a store with what
 * Dovecot makes of it. ROOT is the user's Maildir; folder names are the
 * stored form (mUTF-7, "." between levels).
 *
 *	mailbox-tool ROOT init			first login: INBOX and special folders
 *	mailbox-tool ROOT create NAME | delete NAME | rename FROM TO
 *	mailbox-tool ROOT subscribe NAME | unsubscribe NAME
 *	mailbox-tool ROOT list | lsub		"<name>\t<flags>" per folder
 *	mailbox-tool ROOT append NAME FILE [FLAG...]	prints "<uidvalidity> <uid>"
 *	mailbox-tool ROOT fetch NAME		"uidvalidity V uidnext N highestmodseq M",
 *						then "<uid>\t<flags>\t<modseq>\t<base>"
 *	mailbox-tool ROOT store NAME UID +|-|= [FLAG...]
 *	mailbox-tool ROOT expunge NAME		remove what has \Deleted
 *	mailbox-tool ROOT copy NAME UID TO	prints "<uidvalidity> <src uid> <dst uid>"
 *	mailbox-tool ROOT status NAME		"messages M recent R unseen U uidnext N uidvalidity V"
 *
 * FLAG is \Seen, \Answered, \Flagged, \Deleted, \Draft or a keyword.
 * Exit status 0 done, 2 refused (the reason on stderr), 1 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-args.h"
#include "mailbox.h"
#include "xalloc.h"

static const struct {
	const char *name;
	unsigned flag;
} tool_flag_names[] = {
	{ "\\Seen", IMAP_FLAG_SEEN },
	{ "\\Answered", IMAP_FLAG_ANSWERED },
	{ "\\Flagged", IMAP_FLAG_FLAGGED },
	{ "\\Deleted", IMAP_FLAG_DELETED },
	{ "\\Draft", IMAP_FLAG_DRAFT },
};

static int tool_result(int ret, const char *what, const char *error)
{
	if (ret > 0)
		return 0;
	fprintf(stderr, "mailbox-tool: %s: %s\n", what, error);
	return ret == 0 ? 2 : 1;
}

/* Flag arguments -> system flags and keyword names. */
static void tool_parse_flags(char **args, int count, unsigned *flags_r,
			     const char ***keywords_r, size_t *keyword_count_r)
{
	const char **kw = xcalloc((size_t)count + 1, sizeof(*kw));
	size_t n = 0;

	*flags_r = 0;
	for (int i = 0; i < count; i++) {
		bool system = false;

		for (size_t j = 0; j < sizeof(tool_flag_names) / sizeof(tool_flag_names[0]); j++) {
			if (strcasecmp(args[i], tool_flag_names[j].name) == 0) {
				*flags_r |= tool_flag_names[j].flag;
				system = true;
			}
		}
		if (!system)
			kw[n++] = args[i];
	}
	*keywords_r = kw;
	*keyword_count_r = n;
}

static void tool_print_flags(const struct mbox *box, const struct mbox_msg *msg)
{
	struct buf out;

	buf_init(&out, BUF_NO_LIMIT);
	for (size_t j = 0; j < sizeof(tool_flag_names) / sizeof(tool_flag_names[0]); j++) {
		if (msg->flags & tool_flag_names[j].flag)
			buf_printf(&out, "%s%s", out.len > 0 ? " " : "", tool_flag_names[j].name);
	}
	for (int k = 0; k < MAILDIR_KEYWORDS_MAX; k++) {
		if ((msg->keywords & (1u << k)) && box->keywords.names[k] != NULL)
			buf_printf(&out, "%s%s", out.len > 0 ? " " : "", box->keywords.names[k]);
	}
	fputs(buf_cstr(&out), stdout);
	buf_free(&out);
}

static int tool_list(struct mbox_user *u, bool subscribed)
{
	static const char *const names[] = {
		"\\Noselect", "\\HasChildren", "\\Subscribed", "\\NonExistent",
		"\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"
	};
	static const unsigned bits[] = {
		MBOX_FOLDER_NOSELECT, MBOX_FOLDER_CHILDREN, MBOX_FOLDER_SUBSCRIBED,
		MBOX_FOLDER_NONEXISTENT, MBOX_FOLDER_SENT, MBOX_FOLDER_DRAFTS,
		MBOX_FOLDER_TRASH, MBOX_FOLDER_JUNK, MBOX_FOLDER_ARCHIVE
	};
	struct mbox_folder_list list;
	const char *error;

	if (mbox_folder_list(u, subscribed, &list, &error) < 0)
		return tool_result(-1, "list", error);
	for (size_t i = 0; i < list.count; i++) {
		bool first = true;

		printf("%s\t", list.v[i].name);
		for (size_t j = 0; j < sizeof(bits) / sizeof(bits[0]); j++) {
			if (list.v[i].flags & bits[j]) {
				printf("%s%s", first ? "" : " ", names[j]);
				first = false;
			}
		}
		printf("\n");
	}
	mbox_folder_list_free(&list);
	return 0;
}

static int tool_append(struct mbox_user *u, const char *name, const char *file, char **flags,
		       int nflags)
{
	struct mbox_append a = { 0, NULL, 0, 0 };
	const char **kw;
	struct buf data;
	uint32_t validity, uid;
	const char *error;
	int ret;

	buf_init(&data, 64u * 1024 * 1024);
	if (maildir_file_read(file, &data, &error) <= 0)
		return tool_result(-1, file, "cannot read");
	tool_parse_flags(flags, nflags, &a.flags, &kw, &a.keyword_count);
	a.keywords = kw;
	ret = mbox_append(u, name, data.data, data.len, &a, &validity, &uid, &error);
	if (ret > 0)
		printf("%u %u\n", validity, uid);
	free(kw);
	buf_free(&data);
	return tool_result(ret, "append", error);
}

static int tool_fetch(struct mbox_user *u, const char *name)
{
	struct mbox *box;
	const char *error;
	int ret = mbox_open(u, name, true, &box, &error);

	if (ret <= 0)
		return tool_result(ret, "open", error);
	printf("uidvalidity %u uidnext %u highestmodseq %llu\n", box->uidvalidity, box->uidnext,
	       (unsigned long long)box->highest_modseq);
	for (size_t i = 0; i < box->count; i++) {
		const char *base = strchr(box->msgs[i].file, '/') + 1;

		printf("%u\t", box->msgs[i].uid);
		tool_print_flags(box, &box->msgs[i]);
		printf("\t%llu\t%.*s\n", (unsigned long long)box->msgs[i].modseq,
		       (int)strcspn(base, ":"), base);
	}
	mbox_close(&box);
	return 0;
}

/* The view index of uid, or -1. */
static long tool_find(const struct mbox *box, uint32_t uid)
{
	for (size_t i = 0; i < box->count; i++) {
		if (box->msgs[i].uid == uid)
			return (long)i;
	}
	return -1;
}

static int tool_store(struct mbox_user *u, const char *name, const char *uid, const char *mode,
		      char **flags, int nflags)
{
	enum mbox_store_mode m = mode[0] == '+' ? MBOX_STORE_ADD :
				 mode[0] == '-' ? MBOX_STORE_REMOVE : MBOX_STORE_REPLACE;
	struct mbox *box;
	const char **kw;
	size_t nkw, idx;
	unsigned f;
	long i;
	const char *error;
	int ret = mbox_open(u, name, false, &box, &error);

	if (ret <= 0)
		return tool_result(ret, "open", error);
	i = tool_find(box, (uint32_t)strtoul(uid, NULL, 10));
	if (i < 0) {
		mbox_close(&box);
		return tool_result(0, "store", "no such UID");
	}
	idx = (size_t)i;
	tool_parse_flags(flags, nflags, &f, &kw, &nkw);
	ret = mbox_store(box, &idx, 1, m, f, kw, nkw, &error);
	free(kw);
	mbox_close(&box);
	return tool_result(ret, "store", error);
}

static int tool_expunge(struct mbox_user *u, const char *name)
{
	struct mbox *box;
	struct mbox_changes ch;
	const char *error;
	int ret = mbox_open(u, name, false, &box, &error);

	if (ret <= 0)
		return tool_result(ret, "open", error);
	ret = mbox_expunge(box, NULL, 0, &ch, &error);
	if (ret > 0) {
		printf("expunged %zu\n", ch.expunged_count);
		mbox_changes_free(&ch);
	}
	mbox_close(&box);
	return tool_result(ret, "expunge", error);
}

static int tool_copy(struct mbox_user *u, const char *name, const char *uid, const char *to)
{
	struct mbox *box;
	uint32_t validity, *src, *dst;
	size_t idx, n;
	long i;
	const char *error;
	int ret = mbox_open(u, name, false, &box, &error);

	if (ret <= 0)
		return tool_result(ret, "open", error);
	i = tool_find(box, (uint32_t)strtoul(uid, NULL, 10));
	if (i < 0) {
		mbox_close(&box);
		return tool_result(0, "copy", "no such UID");
	}
	idx = (size_t)i;
	ret = mbox_copy(box, &idx, 1, to, &validity, &src, &dst, &n, &error);
	if (ret > 0) {
		for (size_t k = 0; k < n; k++)
			printf("%u %u %u\n", validity, src[k], dst[k]);
		free(src);
		free(dst);
	}
	mbox_close(&box);
	return tool_result(ret, "copy", error);
}

static int tool_status(struct mbox_user *u, const char *name)
{
	struct mbox_status st;
	const char *error;
	int ret = mbox_status(u, name, &st, &error);

	if (ret > 0)
		printf("messages %u recent %u unseen %u uidnext %u uidvalidity %u\n", st.messages,
		       st.recent, st.unseen, st.uidnext, st.uidvalidity);
	return tool_result(ret, "status", error);
}

static int tool_folder(struct mbox_user *u, const char *cmd, int argc, char **argv)
{
	const char *error = "";
	int ret;

	if (strcmp(cmd, "create") == 0)
		ret = mbox_folder_create(u, argv[0], &error);
	else if (strcmp(cmd, "delete") == 0)
		ret = mbox_folder_delete(u, argv[0], &error);
	else if (strcmp(cmd, "rename") == 0 && argc == 2)
		ret = mbox_folder_rename(u, argv[0], argv[1], &error);
	else if (strcmp(cmd, "rename") == 0)
		ret = -1, error = "rename needs FROM and TO";
	else
		ret = mbox_subscribe(u, argv[0], cmd[0] == 's', &error);
	return tool_result(ret, cmd, error);
}

int main(int argc, char **argv)
{
	struct mbox_user u = { NULL, { 0, 0 } };
	const char *cmd, *error = "";

	if (argc < 3) {
		fprintf(stderr, "usage: mailbox-tool ROOT COMMAND [ARGS]\n");
		return 1;
	}
	u.root = argv[1];
	cmd = argv[2];
	if (strcmp(cmd, "init") == 0)
		return mbox_user_init(&u, &error) < 0 ? tool_result(-1, cmd, error) : 0;
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "lsub") == 0)
		return tool_list(&u, cmd[1] == 's');
	if (argc < 4)
		return tool_result(-1, cmd, "missing arguments");
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "delete") == 0 ||
	    strcmp(cmd, "rename") == 0 || strcmp(cmd, "subscribe") == 0 ||
	    strcmp(cmd, "unsubscribe") == 0)
		return tool_folder(&u, cmd, argc - 3, argv + 3);
	if (strcmp(cmd, "append") == 0 && argc >= 5)
		return tool_append(&u, argv[3], argv[4], argv + 5, argc - 5);
	if (strcmp(cmd, "fetch") == 0)
		return tool_fetch(&u, argv[3]);
	if (strcmp(cmd, "store") == 0 && argc >= 6)
		return tool_store(&u, argv[3], argv[4], argv[5], argv + 6, argc - 6);
	if (strcmp(cmd, "expunge") == 0)
		return tool_expunge(&u, argv[3]);
	if (strcmp(cmd, "copy") == 0 && argc == 6)
		return tool_copy(&u, argv[3], argv[4], argv[5]);
	if (strcmp(cmd, "status") == 0)
		return tool_status(&u, argv[3]);
	return tool_result(-1, cmd, "unknown command or wrong arguments");
}
