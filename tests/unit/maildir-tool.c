/* Test helper, not a test: drives the Maildir primitives from the command
 * line so integration tests can compare them with Dovecot.
 *
 *	maildir-tool deliver DIR FILE	deliver FILE, print the new file name
 *	maildir-tool sync DIR		assign UIDs, print "uidvalidity V nextuid N"
 *	maildir-tool list DIR		sync, then print "uidvalidity V", and per
 *					message "<uid>\t<IMAP flags>\t<file>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dotlock.h"
#include "maildir.h"
#include "maildir-uidlist.h"

static const struct dotlock_settings tool_lock = {
	DOTLOCK_DEFAULT_TIMEOUT_MSECS, DOTLOCK_DEFAULT_STALE_SECS
};

static int tool_fail(const char *what, const char *error)
{
	fprintf(stderr, "maildir-tool: %s: %s\n", what, error);
	return 1;
}

static int tool_deliver(const char *dir, const char *file)
{
	struct buf data;
	const char *error;
	char *name;
	bool no_space;

	buf_init(&data, 64u * 1024 * 1024);
	if (maildir_create(dir, &error) < 0)
		return tool_fail(dir, error);
	if (maildir_file_read(file, &data, &error) <= 0)
		return tool_fail(file, "cannot read");
	if (maildir_deliver(dir, data.data, data.len, NULL, &name, &no_space, &error) < 0)
		return tool_fail("deliver", error);
	printf("%s\n", name);
	free(name);
	buf_free(&data);
	return 0;
}

static void tool_flags(struct buf *out, const char *file, const struct maildir_keywords *kw)
{
	static const char *const names[] = {
		"\\Draft", "\\Flagged", "$Forwarded", "\\Answered", "\\Seen", "\\Deleted"
	};
	const char *slash = strchr(file, '/');
	struct maildir_name n;

	if (maildir_name_parse(slash == NULL ? file : slash + 1, &n) < 0)
		return;
	for (int i = 0; i < 6; i++) {
		if (n.flags.flags & (1u << i))
			buf_printf(out, "%s%s", out->len > 0 ? " " : "", names[i]);
	}
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if ((n.flags.keywords & (1u << i)) && kw->names[i] != NULL)
			buf_printf(out, "%s%s", out->len > 0 ? " " : "", kw->names[i]);
	}
}

static int tool_sync(const char *dir, bool list_all)
{
	struct maildir_uidlist list;
	struct maildir_keywords kw;
	const char *error;

	maildir_uidlist_init(&list);
	maildir_keywords_init(&kw);
	if (maildir_create(dir, &error) < 0 || maildir_uidlist_sync(dir, &tool_lock, &list, &error) < 0)
		return tool_fail("sync", error);
	if (!list_all) {
		printf("uidvalidity %u nextuid %u\n", list.uidvalidity, list.next_uid);
	} else {
		if (maildir_keywords_read(dir, &kw, &error) < 0)
			return tool_fail("keywords", error);
		printf("uidvalidity %u\n", list.uidvalidity);
		for (size_t i = 0; i < list.count; i++) {
			struct buf flags;

			buf_init(&flags, BUF_NO_LIMIT);
			tool_flags(&flags, list.recs[i].file, &kw);
			printf("%u\t%s\t%s\n", list.recs[i].uid, buf_cstr(&flags), list.recs[i].file);
			buf_free(&flags);
		}
	}
	maildir_keywords_free(&kw);
	maildir_uidlist_free(&list);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "deliver") == 0)
		return tool_deliver(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "sync") == 0)
		return tool_sync(argv[2], false);
	if (argc == 3 && strcmp(argv[1], "list") == 0)
		return tool_sync(argv[2], true);
	fprintf(stderr, "usage: maildir-tool deliver DIR FILE | sync DIR | list DIR\n");
	return 2;
}
