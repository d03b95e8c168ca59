#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mailbox.h"
#include "xalloc.h"
#include "test.h"

/* Folders: names and paths, listing, first login, CREATE, DELETE,
 * RENAME, subscriptions. */

static char test_dir[] = "/tmp/test-mailbox-folder.XXXXXX";

static struct mbox_user *test_user(const char *name)
{
	struct mbox_user *u = xcalloc(1, sizeof(*u));

	u->root = xasprintf("%s/%s", test_dir, name);
	return u;
}

static void test_user_free(struct mbox_user *u)
{
	free(u->root);
	free(u);
}

/* "name:flags" for every folder, space-separated; flags as letters:
 * n noselect, c children, s subscribed, x nonexistent, special uses
 * S D T J A. */
static char *test_list(const struct mbox_user *u, bool subscribed)
{
	struct mbox_folder_list list;
	struct buf out;
	const char *error;

	buf_init(&out, BUF_NO_LIMIT);
	if (mbox_folder_list(u, subscribed, &list, &error) < 0) {
		buf_append_str(&out, "error");
		return buf_steal(&out);
	}
	for (size_t i = 0; i < list.count; i++) {
		unsigned f = list.v[i].flags;

		buf_printf(&out, "%s%s:", i > 0 ? " " : "", list.v[i].name);
		if (f & MBOX_FOLDER_NOSELECT) buf_append_char(&out, 'n');
		if (f & MBOX_FOLDER_CHILDREN) buf_append_char(&out, 'c');
		if (f & MBOX_FOLDER_SUBSCRIBED) buf_append_char(&out, 's');
		if (f & MBOX_FOLDER_NONEXISTENT) buf_append_char(&out, 'x');
		if (f & MBOX_FOLDER_SENT) buf_append_char(&out, 'S');
		if (f & MBOX_FOLDER_DRAFTS) buf_append_char(&out, 'D');
		if (f & MBOX_FOLDER_TRASH) buf_append_char(&out, 'T');
		if (f & MBOX_FOLDER_JUNK) buf_append_char(&out, 'J');
		if (f & MBOX_FOLDER_ARCHIVE) buf_append_char(&out, 'A');
	}
	mbox_folder_list_free(&list);
	return buf_steal(&out);
}

#define CHECK_LIST(u, subscribed, want) do { \
	char *got_ = test_list((u), (subscribed)); \
	CHECK_STR(got_, (want)); \
	free(got_); \
} while (0)

static void test_user_init(void)
{
	struct mbox_user *u = test_user("init");
	const char *error;

	CHECK_INT(mbox_user_init(u, &error), 0);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Junk:sJ Sent:sS Trash:sT");
	CHECK_LIST(u, true, "INBOX:s Archive:sA Drafts:sD Junk:sJ Sent:sS Trash:sT");
	/* Not again once the store has folders: a deleted Junk stays gone. */
	CHECK_INT(mbox_folder_delete(u, "Junk", &error), 1);
	CHECK_INT(mbox_subscribe(u, "Junk", false, &error), 1);
	CHECK_INT(mbox_user_init(u, &error), 0);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Sent:sS Trash:sT");
	test_user_free(u);
}

static void test_paths(void)
{
	struct mbox_user *u = test_user("paths");
	static const char *const bad[] = {
		"", ".", "..", "../x", "a/..", "a/b", "/etc", ".hidden", "trailing.", "a..b",
		"x\ny", "tab\there", "del\x7f", "\xc3\xa9t\xc3\xa9", "inbox", "Inbox",
	};
	const char *error;
	char *p;

	p = mbox_folder_path(u, "INBOX", &error);
	CHECK_STR(p, u->root);
	free(p);
	p = mbox_folder_path(u, "A.B", &error);
	CHECK(p != NULL && strcmp(p + strlen(u->root), "/.A.B") == 0);
	free(p);
	p = mbox_folder_path(u, "&AOk-t&AOk-", &error);
	CHECK(p != NULL && strcmp(p + strlen(u->root), "/.&AOk-t&AOk-") == 0);
	free(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = mbox_folder_path(u, bad[i], &error);
		if (p != NULL)
			printf("# accepted: %s\n", bad[i]);
		CHECK(p == NULL);
		free(p);
	}
	test_user_free(u);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("first login: special folders, subscribed once", test_user_init);
	test_run("folder paths never leave the root", test_paths);
	return test_done();
}
