#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dotlock.h"
#include "imap-args.h"
#include "mailbox.h"
#include "maildir-uidlist.h"
#include "xalloc.h"
#include "test.h"

/* The mailbox layer: open, sync, read, append, \Recent, STATUS. Folders
 * are in test-mailbox-folder.c, STORE/EXPUNGE/COPY in test-mailbox-msg.c. */

static char test_dir[] = "/tmp/test-mailbox.XXXXXX";

static struct mbox_user *test_user(const char *name)
{
	struct mbox_user *u = xcalloc(1, sizeof(*u));
	const char *error;

	u->root = xasprintf("%s/%s", test_dir, name);
	CHECK_INT(maildir_create(u->root, &error), 0);
	return u;
}

static void test_user_free(struct mbox_user *u)
{
	free(u->root);
	free(u);
}

static char *test_deliver(const char *maildir, const char *text)
{
	const char *error;
	bool no_space;
	char *name = NULL;

	CHECK_INT(maildir_deliver(maildir, text, strlen(text), NULL, &name, &no_space, &error), 0);
	return name;
}

static void test_open_empty_and_missing(void)
{
	struct mbox_user *u = test_user("empty");
	struct mbox *box = NULL;
	struct mbox_status st;
	const char *error;

	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK(box != NULL && box->count == 0);
	CHECK(box->uidvalidity > 0);
	CHECK_INT(box->uidnext, 1);
	mbox_get_status(box, &st);
	CHECK_INT(st.messages, 0);
	CHECK_INT(st.first_unseen, 0);
	CHECK_INT(st.uidvalidity, box->uidvalidity);
	mbox_close(&box);
	CHECK(box == NULL);
	CHECK_INT(mbox_open(u, "Nope", false, &box, &error), 0);
	CHECK_INT(mbox_open(u, "../etc", false, &box, &error), 0);
	CHECK_INT(mbox_open(u, "a/b", true, &box, &error), 0);
	CHECK_INT(mbox_status(u, "Nope", &st, &error), 0);
	test_user_free(u);
}

static void test_sync_delivery_and_read(void)
{
	struct mbox_user *u = test_user("read");
	struct mbox *box;
	struct mbox_changes ch;
	struct buf out;
	const char *error;
	char *a = test_deliver(u->root, "Subject: a\n\nline\n");

	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK_INT(box->count, 1);
	CHECK_INT(box->msgs[0].uid, 1);
	CHECK(box->msgs[0].recent);
	CHECK_INT(box->msgs[0].size, 17);
	CHECK_INT(box->msgs[0].vsize, 20);
	CHECK(strncmp(box->msgs[0].file, "cur/", 4) == 0);
	CHECK(box->msgs[0].internaldate > 0);
	CHECK(box->msgs[0].modseq > 0);
	buf_init(&out, 1024);
	CHECK_INT(mbox_msg_read(box, 0, &out, &error), 1);
	CHECK_STR(buf_cstr(&out), "Subject: a\n\nline\n");
	CHECK_INT(mbox_msg_read(box, 5, &out, &error), -1);
	/* A second delivery shows up as EXISTS with the next UID. */
	free(test_deliver(u->root, "Subject: b\n\nx\n"));
	CHECK_INT(mbox_sync(box, true, &ch, &error), 0);
	CHECK(ch.exists_changed);
	CHECK_INT(ch.expunged_count, 0);
	CHECK_INT(box->count, 2);
	CHECK_INT(box->msgs[1].uid, 2);
	CHECK_INT(box->uidnext, 3);
	mbox_changes_free(&ch);
	/* Nothing new: no changes. */
	CHECK_INT(mbox_sync(box, true, &ch, &error), 0);
	CHECK(!ch.exists_changed && ch.expunged_count == 0 && ch.flag_changed_count == 0);
	mbox_changes_free(&ch);
	buf_free(&out);
	mbox_close(&box);
	free(a);
	test_user_free(u);
}

static void test_append_and_status(void)
{
	struct mbox_user *u = test_user("append");
	struct mbox_append a = { IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED, NULL, 0, 1000000000 };
	struct mbox_append plain = { 0, NULL, 0, 0 };
	const char *kws[] = { "$Label1", "work" };
	struct mbox_status st;
	struct mbox *box;
	uint32_t validity, uid;
	const char *error;

	CHECK_INT(mbox_append(u, "INBOX", "Subject: s\n\nseen\n", 17, &a, &validity, &uid, &error), 1);
	CHECK_INT(uid, 1);
	CHECK(validity > 0);
	a.keywords = kws;
	a.keyword_count = 2;
	a.flags = 0;
	CHECK_INT(mbox_append(u, "INBOX", "Subject: k\r\n\r\nkw\r\n", 18, &a, &validity, &uid, &error), 1);
	CHECK_INT(uid, 2);
	CHECK_INT(mbox_append(u, "INBOX", "x\n", 2, &plain, &validity, &uid, &error), 1);
	CHECK_INT(uid, 3);
	CHECK_INT(mbox_append(u, "Missing", "x\n", 2, &plain, &validity, &uid, &error), 0);
	CHECK(strncmp(error, "[TRYCREATE]", 11) == 0);
	CHECK_INT(mbox_append(u, "../x", "x\n", 2, &plain, &validity, &uid, &error), 0);

	CHECK_INT(mbox_status(u, "INBOX", &st, &error), 1);
	CHECK_INT(st.messages, 3);
	CHECK_INT(st.unseen, 2);
	CHECK_INT(st.uidnext, 4);
	CHECK_INT(st.uidvalidity, validity);
	CHECK_INT(st.size, 20 + 18 + 3);
	/* Only the one without flags went to new/: it is the recent one. */
	CHECK_INT(st.recent, 1);

	CHECK_INT(mbox_open(u, "INBOX", true, &box, &error), 1);
	CHECK_INT(box->count, 3);
	CHECK_INT(box->msgs[0].flags, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	CHECK_INT(box->msgs[0].internaldate, 1000000000);
	CHECK_INT(box->msgs[1].flags, 0);
	CHECK_INT(box->msgs[1].keywords, 3);
	CHECK_STR(box->keywords.names[0], "$Label1");
	CHECK_STR(box->keywords.names[1], "work");
	CHECK(!box->msgs[0].recent && !box->msgs[1].recent && box->msgs[2].recent);
	CHECK(strncmp(box->msgs[2].file, "new/", 4) == 0);
	mbox_get_status(box, &st);
	CHECK_INT(st.first_unseen, 2);
	mbox_close(&box);
	test_user_free(u);
}

static void test_recent_once(void)
{
	struct mbox_user *u = test_user("recent");
	struct mbox *one, *two, *ro;
	const char *error;

	CHECK_INT(mbox_open(u, "INBOX", false, &one, &error), 1);
	CHECK_INT(mbox_open(u, "INBOX", false, &two, &error), 1);
	CHECK_INT(mbox_open(u, "INBOX", true, &ro, &error), 1);
	free(test_deliver(u->root, "Subject: r\n\nr\n"));
	/* EXAMINE sees it as recent and moves nothing. */
	CHECK_INT(mbox_sync(ro, true, NULL, &error), 0);
	CHECK(ro->count == 1 && ro->msgs[0].recent);
	CHECK(strncmp(ro->msgs[0].file, "new/", 4) == 0);
	CHECK_INT(mbox_sync(one, true, NULL, &error), 0);
	CHECK_INT(mbox_sync(two, true, NULL, &error), 0);
	CHECK(one->count == 1 && two->count == 1);
	CHECK(one->msgs[0].recent);
	CHECK(!two->msgs[0].recent);
	CHECK(strncmp(two->msgs[0].file, "cur/", 4) == 0);
	mbox_close(&one);
	mbox_close(&two);
	mbox_close(&ro);
	test_user_free(u);
}

/* Set the mtime of <maildir>/<name> to t (seconds), keep the rest. */
static void test_set_mtime(const char *maildir, const char *name, time_t t)
{
	char *path = xasprintf("%s/%s", maildir, name);
	struct timespec times[2] = { { t, 0 }, { t, 0 } };

	utimensat(AT_FDCWD, path, times, 0);
	free(path);
}

static void test_age_stamps(const char *maildir, time_t t)
{
	test_set_mtime(maildir, "new", t);
	test_set_mtime(maildir, "cur", t);
	test_set_mtime(maildir, "dovecot-uidlist", t);
	test_set_mtime(maildir, "dovecot-keywords", t);
}

static void test_sync_stamps(void)
{
	struct mbox_user *u = test_user("stamps");
	struct mbox *box;
	struct stat before, after;
	const char *error;
	char *newdir = xasprintf("%s/new", u->root);
	time_t old = time(NULL) - 60;

	free(test_deliver(u->root, "Subject: 1\n\n1\n"));
	CHECK_INT(mbox_open(u, "INBOX", true, &box, &error), 1);
	CHECK_INT(box->count, 1);
	/* Racy: the mtimes are recent, so a change that leaves new/'s mtime
	 * as it was (the same tick) is still found. */
	CHECK(stat(newdir, &before) == 0);
	free(test_deliver(u->root, "Subject: 2\n\n2\n"));
	test_set_mtime(u->root, "new", before.st_mtime);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK_INT(box->count, 2);
	/* Old mtimes: after one full sync, an unchanged look means nothing
	 * changed and no directory is read. Shown by a change made behind
	 * the stamps' back (mtime put back), which the view then misses... */
	test_age_stamps(u->root, old);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK(stat(newdir, &before) == 0);
	free(test_deliver(u->root, "Subject: 3\n\n3\n"));
	test_set_mtime(u->root, "new", old);
	CHECK(stat(newdir, &after) == 0);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	if (after.st_size == before.st_size)
		CHECK_INT(box->count, 2);
	/* ...until the mtime moves, as every real change makes it. */
	test_set_mtime(u->root, "new", old + 1);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK_INT(box->count, 3);
	/* A new uidlist (another process assigned UIDs) is noticed too. */
	test_age_stamps(u->root, old);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	free(test_deliver(u->root, "Subject: 4\n\n4\n"));
	test_set_mtime(u->root, "new", old);
	struct mbox *other;
	CHECK_INT(mbox_open(u, "INBOX", true, &other, &error), 1);
	CHECK_INT(other->count, 4);
	mbox_close(&other);
	test_set_mtime(u->root, "new", old);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK_INT(box->count, 4);
	mbox_close(&box);
	free(newdir);
	test_user_free(u);
}

static void test_uidvalidity_lost(void)
{
	struct mbox_user *u = test_user("lost");
	struct mbox *box;
	const char *error;
	char *path = xasprintf("%s/dovecot-uidlist", u->root);

	free(test_deliver(u->root, "Subject: 1\n\n1\n"));
	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	/* The uidlist is lost and rebuilt with another UIDVALIDITY: the
	 * view cannot go on. */
	CHECK(unlink(path) == 0);
	sleep(1);
	CHECK_INT(mbox_sync(box, true, NULL, &error), -1);
	CHECK_STR(error, "UIDVALIDITY changed");
	mbox_close(&box);
	free(path);
	test_user_free(u);
}

/* A sync that finds the uidlist complete reads it without taking its
 * lock: with the lock held elsewhere (a long EXPUNGE, another host) an
 * unchanged folder still opens and counts at once; what needs a UID
 * waits for the lock. */
static void test_sync_without_lock(void)
{
	static const struct dotlock_settings once = { 0, 0 };
	struct mbox_user *u = test_user("nolock");
	struct mbox *box, *other;
	struct mbox_status st;
	struct dotlock *lock;
	const char *error;

	free(test_deliver(u->root, "Subject: 1\n\n1\n"));
	free(test_deliver(u->root, "Subject: 2\n\n2\n"));
	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK_INT(maildir_uidlist_lock(u->root, &once, &lock, &error), 0);
	CHECK_INT(mbox_open(u, "INBOX", false, &other, &error), 1);
	CHECK_INT(other->count, 2);
	CHECK_INT(other->msgs[1].uid, 2);
	CHECK_INT(mbox_status(u, "INBOX", &st, &error), 1);
	CHECK_INT(st.messages, 2);
	CHECK_INT(st.uidnext, 3);
	CHECK_INT(maildir_uidlist_unlock(&lock, &error), 0);
	free(test_deliver(u->root, "Subject: 3\n\n3\n"));
	CHECK_INT(mbox_sync(other, true, NULL, &error), 0);
	CHECK_INT(other->count, 3);
	CHECK_INT(other->msgs[2].uid, 3);
	mbox_close(&other);
	mbox_close(&box);
	test_user_free(u);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("open: empty INBOX, missing and traversal names", test_open_empty_and_missing);
	test_run("sync: deliveries, read", test_sync_delivery_and_read);
	test_run("append with flags, keywords, date; status", test_append_and_status);
	test_run("\\Recent goes to one read-write view only", test_recent_once);
	test_run("sync skips the scan only on old, unchanged stamps", test_sync_stamps);
	test_run("a rebuilt uidlist ends the view", test_uidvalidity_lost);
	test_run("an unchanged folder syncs while its uidlist is locked", test_sync_without_lock);
	return test_done();
}
