#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mailbox.h"
#include "maildir-quota.h"
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

static char *test_read_file(const char *path)
{
	struct buf b;
	const char *error;

	buf_init(&b, 1 << 20);
	if (maildir_file_read(path, &b, &error) <= 0)
		buf_append_str(&b, "(none)");
	return buf_steal(&b);
}

static void test_create_delete(void)
{
	struct mbox_user *u = test_user("create");
	struct mbox_append a = { 0, NULL, 0, 0 };
	struct mbox_status st;
	uint32_t validity, validity2, uid;
	const char *error;
	char *p;

	u->quota.bytes = 1000000;
	CHECK_INT(mbox_user_init(u, &error), 0);
	CHECK_INT(mbox_folder_create(u, "Work", &error), 1);
	CHECK_INT(mbox_folder_create(u, "Work", &error), 0);
	CHECK_STR(error, "Mailbox already exists");
	CHECK_INT(mbox_folder_create(u, "INBOX", &error), 0);
	CHECK_INT(mbox_folder_create(u, "../evil", &error), 0);
	CHECK_INT(mbox_folder_create(u, "a/b", &error), 0);
	p = xasprintf("%s/.Work/maildirfolder", u->root);
	CHECK(access(p, F_OK) == 0);
	free(p);
	/* A deeper folder: its parents are \Noselect until created. */
	CHECK_INT(mbox_folder_create(u, "Projects.2024.Q1", &error), 1);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Junk:sJ Projects:nc Projects.2024:nc "
		   "Projects.2024.Q1: Sent:sS Trash:sT Work:");
	struct mbox *box;
	CHECK_INT(mbox_open(u, "Projects", false, &box, &error), 0);
	CHECK_INT(mbox_folder_create(u, "Projects", &error), 1);
	CHECK_INT(mbox_open(u, "Projects", false, &box, &error), 1);
	mbox_close(&box);
	/* DELETE with children: emptied, kept as a \Noselect parent. */
	CHECK_INT(mbox_append(u, "Projects", "x\n", 2, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_folder_delete(u, "Projects", &error), 1);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Junk:sJ Projects:nc Projects.2024:nc "
		   "Projects.2024.Q1: Sent:sS Trash:sT Work:");
	CHECK_INT(mbox_folder_delete(u, "Projects", &error), 0);
	CHECK_STR(error, "Mailbox has children, delete them first");
	CHECK_INT(mbox_folder_delete(u, "Nope", &error), 0);
	CHECK_STR(error, "Mailbox doesn't exist");
	CHECK_INT(mbox_folder_delete(u, "INBOX", &error), 0);
	CHECK_STR(error, "INBOX cannot be deleted");
	CHECK_INT(mbox_folder_delete(u, "..", &error), 0);
	CHECK_INT(mbox_folder_delete(u, "Projects.2024.Q1", &error), 1);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Junk:sJ Sent:sS Trash:sT Work:");
	/* Deleted and made again at once: a new UIDVALIDITY all the same. */
	CHECK_INT(mbox_append(u, "Work", "x\n", 2, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_folder_delete(u, "Work", &error), 1);
	CHECK_INT(mbox_folder_create(u, "Work", &error), 1);
	CHECK_INT(mbox_append(u, "Work", "x\n", 2, &a, &validity2, &uid, &error), 1);
	CHECK_INT(uid, 1);
	CHECK(validity2 != validity);
	CHECK_INT(mbox_status(u, "Work", &st, &error), 1);
	CHECK_INT(st.messages, 1);
	/* Nothing left behind at the root: no half-made or half-removed
	 * folder directories. */
	DIR *dir = opendir(u->root);
	struct dirent *d;
	int leftovers = 0;

	while (dir != NULL && (d = readdir(dir)) != NULL)
		leftovers += strncmp(d->d_name, "..", 2) == 0 && d->d_name[2] != '\0';
	if (dir != NULL)
		closedir(dir);
	CHECK_INT(leftovers, 0);
	test_user_free(u);
}

static void test_rename(void)
{
	struct mbox_user *u = test_user("rename");
	struct mbox_append a = { 0, NULL, 0, 0 };
	const char *kws[] = { "Important" };
	struct mbox_status st;
	uint32_t validity, uid;
	const char *error;
	char *p;

	CHECK_INT(mbox_user_init(u, &error), 0);
	CHECK_INT(mbox_folder_create(u, "A", &error), 1);
	CHECK_INT(mbox_folder_create(u, "A.B", &error), 1);
	CHECK_INT(mbox_folder_create(u, "A.B.C", &error), 1);
	CHECK_INT(mbox_folder_create(u, "AB", &error), 1);
	CHECK_INT(mbox_subscribe(u, "A.B", true, &error), 1);
	CHECK_INT(mbox_append(u, "A.B", "x\n", 2, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_folder_rename(u, "A", "Z", &error), 1);
	CHECK_LIST(u, false, "INBOX:s AB: Archive:sA Drafts:sD Junk:sJ Sent:sS Trash:sT "
		   "Z:c Z.B:cs Z.B.C:");
	CHECK_INT(mbox_status(u, "Z.B", &st, &error), 1);
	CHECK_INT(st.messages, 1);
	CHECK_INT(st.uidvalidity, validity);
	CHECK_INT(mbox_folder_rename(u, "A", "Y", &error), 0);
	CHECK_STR(error, "Mailbox doesn't exist");
	CHECK_INT(mbox_folder_rename(u, "Z", "AB", &error), 0);
	CHECK_STR(error, "Target mailbox already exists");
	CHECK_INT(mbox_folder_rename(u, "Z", "Z.B.D", &error), 0);
	CHECK_INT(mbox_folder_rename(u, "Z", "INBOX", &error), 0);
	CHECK_INT(mbox_folder_rename(u, "Z", "../x", &error), 0);
	CHECK_INT(mbox_folder_rename(u, "../x", "Q", &error), 0);
	/* Renaming only the \Noselect parent level moves the children. */
	CHECK_INT(mbox_folder_create(u, "P.Q", &error), 1);
	CHECK_INT(mbox_folder_rename(u, "P", "R", &error), 1);
	p = xasprintf("%s/.R.Q/cur", u->root);
	CHECK(access(p, F_OK) == 0);
	free(p);
	/* RENAME INBOX: its messages move, with their flags and keywords;
	 * INBOX stays, empty. */
	a.flags = 0x01;
	a.keywords = kws;
	a.keyword_count = 1;
	CHECK_INT(mbox_append(u, "INBOX", "in 1\n", 5, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_append(u, "INBOX", "in 2\n", 5, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_folder_rename(u, "INBOX", "Old", &error), 1);
	CHECK_INT(mbox_status(u, "INBOX", &st, &error), 1);
	CHECK_INT(st.messages, 0);
	struct mbox *box;
	CHECK_INT(mbox_open(u, "Old", false, &box, &error), 1);
	CHECK_INT(box->count, 2);
	CHECK_INT(box->msgs[0].flags, 0x01);
	CHECK_INT(box->msgs[0].keywords, 1);
	CHECK_STR(box->keywords.names[0], "Important");
	mbox_close(&box);
	CHECK_INT(mbox_folder_rename(u, "INBOX", "Old", &error), 0);
	test_user_free(u);
}

static void test_subscriptions(void)
{
	struct mbox_user *u = test_user("subs");
	const char *error;
	char *path, *text;

	CHECK_INT(mbox_user_init(u, &error), 0);
	path = xasprintf("%s/subscriptions", u->root);
	CHECK_INT(mbox_subscribe(u, "Sent", false, &error), 1);
	CHECK_INT(mbox_subscribe(u, "Sent", false, &error), 1);
	CHECK_INT(mbox_subscribe(u, "Gone.Away", true, &error), 1);
	CHECK_INT(mbox_subscribe(u, "Gone.Away", true, &error), 1);
	CHECK_INT(mbox_subscribe(u, "a/b", true, &error), 0);
	text = test_read_file(path);
	CHECK_STR(text, "V\t2\n\nINBOX\nDrafts\nTrash\nJunk\nArchive\nGone\tAway\n");
	free(text);
	CHECK_LIST(u, true, "INBOX:s Archive:sA Drafts:sD Gone.Away:sx Junk:sJ Trash:sT");
	/* A version 1 file (names as they are) is read too; junk lines are
	 * skipped. */
	FILE *f = fopen(path, "w");
	fputs("INBOX\nSent\n../etc\n\nx/y\n", f);
	fclose(f);
	CHECK_LIST(u, true, "INBOX:s Sent:sS");
	CHECK_INT(mbox_subscribe(u, "Drafts", true, &error), 1);
	text = test_read_file(path);
	CHECK_STR(text, "V\t2\n\nINBOX\nSent\nDrafts\n");
	free(text);
	free(path);
	test_user_free(u);
}

static void test_list_odd_entries(void)
{
	struct mbox_user *u = test_user("odd");
	const char *error;
	char *p;
	FILE *f;

	CHECK_INT(mbox_user_init(u, &error), 0);
	/* A plain file, a hidden-looking name, a dotted-dot leftover, a
	 * directory without cur/ and one named .INBOX are no folders, or
	 * \Noselect ones. */
	p = xasprintf("%s/.file", u->root);
	f = fopen(p, "w");
	fclose(f);
	free(p);
	p = xasprintf("%s/..deleted.x", u->root);
	CHECK(mkdir(p, 0700) == 0);
	free(p);
	p = xasprintf("%s/.INBOX", u->root);
	CHECK(mkdir(p, 0700) == 0);
	free(p);
	p = xasprintf("%s/.Bare", u->root);
	CHECK(mkdir(p, 0700) == 0);
	free(p);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Bare:n Drafts:sD Junk:sJ Sent:sS Trash:sT");
	/* INBOX may have children (".INBOX.x"), and stays selectable. */
	CHECK_INT(mbox_folder_create(u, "INBOX.Old", &error), 1);
	CHECK_LIST(u, false, "INBOX:cs Archive:sA Bare:n Drafts:sD INBOX.Old: Junk:sJ Sent:sS Trash:sT");
	/* A missing root lists INBOX alone. */
	struct mbox_user *none = test_user("missing-root");
	CHECK_LIST(none, false, "INBOX:");
	test_user_free(none);
	test_user_free(u);
}

static void test_old_dir(const char *root, const char *name, bool old, bool with_message)
{
	char *p = xasprintf("%s/%s", root, name);
	struct timeval tv[2] = { { .tv_sec = time(NULL) - (old ? 7200 : 0) } };

	CHECK(mkdir(p, 0700) == 0);
	if (with_message) {
		char *cur = xasprintf("%s/cur", p);
		char *msg = xasprintf("%s/1.M1P1.host,S=100:2,S", cur);
		FILE *f;

		CHECK(mkdir(cur, 0700) == 0);
		f = fopen(msg, "w");
		CHECK(f != NULL && fprintf(f, "%100s", "x") == 100 && fclose(f) == 0);
		free(msg);
		free(cur);
	}
	tv[1] = tv[0];
	CHECK(utimes(p, tv) == 0);
	free(p);
}

static bool test_exists(const char *root, const char *name)
{
	char *p = xasprintf("%s/%s", root, name);
	struct stat st;
	bool ret = stat(p, &st) == 0;

	free(p);
	return ret;
}

static void test_leftovers(void)
{
	struct mbox_user *u = test_user("leftovers");
	const char *error;
	char *p, *text;

	FILE *f;

	CHECK_INT(mbox_user_init(u, &error), 0);
	p = xasprintf("%s/maildirsize", u->root);
	f = fopen(p, "w");
	CHECK(f != NULL && fputs("0S\n100 1\n", f) >= 0 && fclose(f) == 0);
	free(p);
	/* cut short by a crash an hour ago or more: removed (a deleted
	 * folder's message leaves the quota); recent ones may still be in
	 * another process's hands: kept */
	test_old_dir(u->root, "..deleted.old", true, true);
	test_old_dir(u->root, "..creating.old", true, false);
	test_old_dir(u->root, "..deleted.new", false, true);
	test_old_dir(u->root, "..creating.new", false, false);
	CHECK_LIST(u, false, "INBOX:s Archive:sA Drafts:sD Junk:sJ Sent:sS Trash:sT");
	CHECK(!test_exists(u->root, "..deleted.old"));
	CHECK(!test_exists(u->root, "..creating.old"));
	CHECK(test_exists(u->root, "..deleted.new"));
	CHECK(test_exists(u->root, "..creating.new"));
	p = xasprintf("%s/maildirsize", u->root);
	text = test_read_file(p);
	CHECK(strstr(text, "\n-100 -1\n") != NULL);
	free(text);
	free(p);
	test_user_free(u);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("first login: special folders, subscribed once", test_user_init);
	test_run("folder paths never leave the root", test_paths);
	test_run("create and delete; children keep a \\Noselect parent", test_create_delete);
	test_run("rename with children, rename INBOX, refusals", test_rename);
	test_run("subscriptions in Dovecot's format", test_subscriptions);
	test_run("listing skips what is no folder", test_list_odd_entries);
	test_run("leftovers of a crashed DELETE or CREATE are swept", test_leftovers);
	return test_done();
}
