#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "imap-args.h"
#include "mailbox.h"
#include "maildir-quota.h"
#include "maildir-uidlist.h"
#include "xalloc.h"
#include "test.h"

/* STORE, EXPUNGE, COPY, quota, and what other writers do meanwhile. */

static char test_dir[] = "/tmp/test-mailbox-msg.XXXXXX";

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

/* A user with INBOX holding n messages "Subject: m<i>", opened read-write. */
static struct mbox *test_box(struct mbox_user *u, int n)
{
	struct mbox_append a = { 0, NULL, 0, 0 };
	struct mbox *box = NULL;
	uint32_t validity, uid;
	const char *error;

	for (int i = 1; i <= n; i++) {
		char text[64];

		snprintf(text, sizeof(text), "Subject: m%d\n\nbody %d\n", i, i);
		CHECK_INT(mbox_append(u, "INBOX", text, strlen(text), &a, &validity, &uid, &error), 1);
		CHECK_INT(uid, i);
	}
	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK_INT(box->count, n);
	return box;
}

static char *test_path(const struct mbox *box, size_t i)
{
	return xasprintf("%s/%s", box->path, box->msgs[i].file);
}

/* What another program does: rename a message to new flag letters. */
static void test_rename_flags(const struct mbox *box, size_t i, const char *letters)
{
	char *from = test_path(box, i);
	const char *name = strchr(box->msgs[i].file, '/') + 1;
	char *to = xasprintf("%s/cur/%.*s:2,%s", box->path, (int)strcspn(name, ":"), name, letters);

	CHECK(rename(from, to) == 0);
	free(from);
	free(to);
}

static void test_store_modes(void)
{
	struct mbox_user *u = test_user("store");
	struct mbox *box = test_box(u, 3), *other;
	const char *kws[] = { "$Label1", "Work" }, *error;
	size_t idx[] = { 0, 2 };
	uint64_t before = box->highest_modseq, m;

	CHECK_INT(mbox_store(box, idx, 2, MBOX_STORE_ADD, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED,
			     kws, 2, &error), 1);
	CHECK_INT(box->msgs[0].flags, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	CHECK_INT(box->msgs[0].keywords, 3);
	CHECK_INT(box->msgs[1].flags, 0);
	CHECK(box->msgs[0].modseq > before && box->msgs[0].modseq == box->msgs[2].modseq);
	CHECK_INT(box->highest_modseq, box->msgs[0].modseq);
	CHECK(strstr(box->msgs[0].file, ":2,FSab") != NULL);
	m = box->highest_modseq;
	/* Remove a keyword case-insensitively, replace flags on another. */
	kws[0] = "work";
	CHECK_INT(mbox_store(box, idx, 1, MBOX_STORE_REMOVE, IMAP_FLAG_FLAGGED, kws, 1, &error), 1);
	CHECK_INT(box->msgs[0].flags, IMAP_FLAG_SEEN);
	CHECK_INT(box->msgs[0].keywords, 1);
	CHECK(box->msgs[0].modseq > m);
	CHECK_INT(mbox_store(box, idx + 1, 1, MBOX_STORE_REPLACE, IMAP_FLAG_ANSWERED | IMAP_FLAG_DRAFT,
			     NULL, 0, &error), 1);
	CHECK_INT(box->msgs[2].flags, IMAP_FLAG_ANSWERED | IMAP_FLAG_DRAFT);
	CHECK_INT(box->msgs[2].keywords, 0);
	/* Nothing to change: no new modseq. */
	m = box->highest_modseq;
	CHECK_INT(mbox_store(box, idx + 1, 1, MBOX_STORE_ADD, IMAP_FLAG_DRAFT, NULL, 0, &error), 1);
	CHECK_INT(box->highest_modseq, m);
	/* Another view sees the changes as FETCH FLAGS, by sequence number. */
	CHECK_INT(mbox_open(u, "INBOX", false, &other, &error), 1);
	CHECK_INT(other->msgs[0].flags, IMAP_FLAG_SEEN);
	CHECK_INT(other->msgs[0].modseq, box->msgs[0].modseq);
	CHECK_INT(other->highest_modseq, box->highest_modseq);
	CHECK_INT(mbox_store(box, idx, 1, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0, &error), 1);
	struct mbox_changes ch;
	CHECK_INT(mbox_sync(other, true, &ch, &error), 0);
	CHECK_INT(ch.flag_changed_count, 1);
	CHECK_INT(ch.flag_changed[0], 1);
	CHECK_INT(other->msgs[0].flags, IMAP_FLAG_SEEN | IMAP_FLAG_DELETED);
	mbox_changes_free(&ch);
	/* A read-only view may not store. */
	mbox_close(&other);
	CHECK_INT(mbox_open(u, "INBOX", true, &other, &error), 1);
	CHECK_INT(mbox_store(other, idx, 1, MBOX_STORE_ADD, IMAP_FLAG_SEEN, NULL, 0, &error), -1);
	mbox_close(&other);
	mbox_close(&box);
	test_user_free(u);
}

static void test_store_other_writers(void)
{
	struct mbox_user *u = test_user("store-other");
	struct mbox *box = test_box(u, 3);
	struct mbox_changes ch;
	const char *error;
	size_t idx[] = { 0, 1, 2 };
	char *path;
	uint64_t m = box->highest_modseq;

	/* Message 1 gets \Flagged and an unknown letter from another
	 * program; our +\Seen keeps both. */
	test_rename_flags(box, 0, "FX");
	/* Message 2 vanishes: skipped. */
	path = test_path(box, 1);
	CHECK(unlink(path) == 0);
	free(path);
	CHECK_INT(mbox_store(box, idx, 3, MBOX_STORE_ADD, IMAP_FLAG_SEEN, NULL, 0, &error), 1);
	CHECK_INT(box->msgs[0].flags, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	CHECK(strstr(box->msgs[0].file, ":2,FSX") != NULL);
	CHECK_INT(box->msgs[2].flags, IMAP_FLAG_SEEN);
	CHECK(box->msgs[0].modseq > m);
	/* The sync reports the expunge. */
	CHECK_INT(mbox_sync(box, true, &ch, &error), 0);
	CHECK_INT(ch.expunged_count, 1);
	CHECK_INT(ch.expunged[0], 2);
	CHECK_INT(box->count, 2);
	mbox_changes_free(&ch);
	/* A flag change by a program that does not take the lock gets a new
	 * modseq when the next sync notices it. */
	m = box->highest_modseq;
	test_rename_flags(box, 1, "T");
	CHECK_INT(mbox_sync(box, true, &ch, &error), 0);
	CHECK_INT(ch.flag_changed_count, 1);
	CHECK_INT(ch.flag_changed[0], 2);
	CHECK_INT(box->msgs[1].flags, IMAP_FLAG_DELETED);
	CHECK(box->msgs[1].modseq > m && box->highest_modseq == box->msgs[1].modseq);
	mbox_changes_free(&ch);
	mbox_close(&box);
	test_user_free(u);
}

static void test_store_keywords_full(void)
{
	struct mbox_user *u = test_user("kwfull");
	struct mbox *box = test_box(u, 2);
	const char *names[27], *error;
	char buf[27][16];
	size_t idx[] = { 0 };

	for (int i = 0; i < 27; i++) {
		snprintf(buf[i], sizeof(buf[i]), "kw%d", i);
		names[i] = buf[i];
	}
	CHECK_INT(mbox_store(box, idx, 1, MBOX_STORE_ADD, 0, names, 26, &error), 1);
	CHECK_INT(box->msgs[0].keywords, 0x3ffffff);
	/* The 27th does not fit: refused, nothing changes. */
	idx[0] = 1;
	CHECK_INT(mbox_store(box, idx, 1, MBOX_STORE_ADD, IMAP_FLAG_SEEN, names + 1, 26, &error), 0);
	CHECK(strstr(error, "[LIMIT]") != NULL);
	CHECK_INT(box->msgs[1].flags, 0);
	CHECK_INT(box->msgs[1].keywords, 0);
	/* APPEND keeps the message, without the keyword that does not fit. */
	struct mbox_append a = { IMAP_FLAG_SEEN, names + 25, 2, 0 };
	uint32_t validity, uid;
	CHECK_INT(mbox_append(u, "INBOX", "x\n", 2, &a, &validity, &uid, &error), 1);
	CHECK_INT(uid, 3);
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK_INT(box->msgs[2].keywords, 1u << 25);
	mbox_close(&box);
	test_user_free(u);
}

static int64_t test_quota_bytes(struct mbox_user *u)
{
	struct maildir_quota q;
	const char *error;

	CHECK_INT(mbox_quota(u, &q, &error), 0);
	return q.bytes;
}

static void test_expunge(void)
{
	struct mbox_user *u = test_user("expunge");
	struct mbox *box, *other;
	struct mbox_changes ch;
	const char *error;
	size_t del[] = { 0, 2, 3 }, one[] = { 3 };
	int64_t before;

	u->quota.bytes = 100000;
	box = test_box(u, 5);
	before = test_quota_bytes(u);
	CHECK(before > 0);
	CHECK_INT(mbox_open(u, "INBOX", false, &other, &error), 1);
	CHECK_INT(mbox_store(box, del, 3, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0, &error), 1);
	/* UID EXPUNGE of one message only. */
	CHECK_INT(mbox_expunge(box, one, 1, &ch, &error), 1);
	CHECK_INT(ch.expunged_count, 1);
	CHECK_INT(ch.expunged[0], 4);
	CHECK_INT(box->count, 4);
	mbox_changes_free(&ch);
	/* Another session takes \Deleted off message 1 meanwhile: it stays. */
	CHECK_INT(mbox_sync(other, true, NULL, &error), 0);
	size_t first[] = { 0 };
	CHECK_INT(mbox_store(other, first, 1, MBOX_STORE_REMOVE, IMAP_FLAG_DELETED, NULL, 0, &error), 1);
	CHECK_INT(mbox_expunge(box, NULL, 0, &ch, &error), 1);
	CHECK_INT(ch.expunged_count, 1);
	CHECK_INT(ch.expunged[0], 3);
	CHECK_INT(box->count, 3);
	CHECK_INT(box->msgs[0].uid, 1);
	CHECK_INT(box->msgs[1].uid, 2);
	CHECK_INT(box->msgs[2].uid, 5);
	mbox_changes_free(&ch);
	CHECK(test_quota_bytes(u) < before);
	/* \Deleted set by another session that this view has not seen yet
	 * counts: the flags on disk decide. */
	size_t last[] = { 2 };
	CHECK_INT(mbox_sync(other, true, NULL, &error), 0);
	CHECK_INT(mbox_store(other, last, 1, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0, &error), 1);
	CHECK_INT(box->msgs[2].flags, 0);
	CHECK_INT(mbox_expunge(box, NULL, 0, &ch, &error), 1);
	CHECK_INT(ch.expunged_count, 1);
	CHECK_INT(ch.expunged[0], 3);
	CHECK_INT(box->count, 2);
	mbox_changes_free(&ch);
	/* Nothing left to expunge. */
	CHECK_INT(mbox_expunge(box, NULL, 0, &ch, &error), 1);
	CHECK_INT(ch.expunged_count, 0);
	mbox_changes_free(&ch);
	mbox_close(&other);
	mbox_close(&box);
	test_user_free(u);
}

static void test_deferred_expunge(void)
{
	struct mbox_user *u = test_user("deferred");
	struct mbox *box = test_box(u, 5), *other;
	struct mbox_changes ch;
	struct buf out;
	const char *error;
	size_t del[] = { 1, 3 };

	CHECK_INT(mbox_open(u, "INBOX", false, &other, &error), 1);
	CHECK_INT(mbox_store(other, del, 2, MBOX_STORE_ADD, IMAP_FLAG_DELETED, NULL, 0, &error), 1);
	CHECK_INT(mbox_expunge(other, NULL, 0, &ch, &error), 1);
	CHECK_INT(ch.expunged_count, 2);
	mbox_changes_free(&ch);
	/* During FETCH: the view keeps its numbers, the messages are
	 * marked, reading them says "expunged". */
	CHECK_INT(mbox_sync(box, false, &ch, &error), 0);
	CHECK_INT(ch.expunged_count, 0);
	CHECK_INT(box->count, 5);
	CHECK(box->msgs[1].expunged && box->msgs[3].expunged && !box->msgs[2].expunged);
	mbox_changes_free(&ch);
	buf_init(&out, 4096);
	CHECK_INT(mbox_msg_read(box, 1, &out, &error), 0);
	CHECK_INT(mbox_msg_read(box, 2, &out, &error), 1);
	buf_free(&out);
	/* Later, in send order: 2, then the old 4 is now 3. */
	CHECK_INT(mbox_sync(box, true, &ch, &error), 0);
	CHECK_INT(ch.expunged_count, 2);
	CHECK_INT(ch.expunged[0], 2);
	CHECK_INT(ch.expunged[1], 3);
	CHECK_INT(box->count, 3);
	CHECK_INT(box->msgs[2].uid, 5);
	mbox_changes_free(&ch);
	mbox_close(&other);
	mbox_close(&box);
	test_user_free(u);
}

static void test_read_renamed_and_vanished(void)
{
	struct mbox_user *u = test_user("readmove");
	struct mbox *box = test_box(u, 2);
	struct buf out;
	const char *error;
	char *path;
	int fd = -1;

	test_rename_flags(box, 0, "S");
	buf_init(&out, 4096);
	CHECK_INT(mbox_msg_read(box, 0, &out, &error), 1);
	CHECK_STR(buf_cstr(&out), "Subject: m1\n\nbody 1\n");
	CHECK(strstr(box->msgs[0].file, ":2,S") != NULL);
	path = test_path(box, 1);
	CHECK(unlink(path) == 0);
	free(path);
	CHECK_INT(mbox_msg_read(box, 1, &out, &error), 0);
	CHECK_INT(mbox_msg_open(box, 1, &fd, &error), 0);
	CHECK_INT(mbox_msg_open(box, 0, &fd, &error), 1);
	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(mbox_msg_open(box, 7, &fd, &error), -1);
	/* A small out buffer: an error, out unchanged. */
	struct buf small;
	buf_init(&small, 4);
	CHECK_INT(mbox_msg_read(box, 0, &small, &error), -1);
	CHECK_INT(small.len, 0);
	buf_free(&small);
	buf_free(&out);
	mbox_close(&box);
	test_user_free(u);
}

static void test_vsize_unknown(void)
{
	struct mbox_user *u = test_user("vsize");
	struct mbox *box;
	struct buf out;
	const char *error;
	char *path = xasprintf("%s/cur/1000.M1P1.host:2,S", u->root);
	FILE *f = fopen(path, "w");

	/* A file named without ,S= and ,W= (written by another program). */
	fputs("a\nb\n", f);
	fclose(f);
	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK_INT(box->count, 1);
	CHECK_INT(box->msgs[0].size, 4);
	CHECK_INT(box->msgs[0].vsize, 0);
	buf_init(&out, 100);
	CHECK_INT(mbox_msg_read(box, 0, &out, &error), 1);
	CHECK_INT(box->msgs[0].vsize, 6);
	buf_free(&out);
	mbox_close(&box);
	free(path);
	test_user_free(u);
}

static void test_copy(void)
{
	struct mbox_user *u = test_user("copy");
	struct mbox *box = test_box(u, 4), *dst;
	const char *kws[] = { "Work" }, *other_kws[] = { "Home" }, *error;
	size_t idx[] = { 0, 1, 3 }, first[] = { 0 };
	uint32_t validity, *src_uids, *dst_uids, uid;
	size_t n;
	char *path;

	CHECK_INT(mbox_folder_create(u, "Archive", &error), 1);
	/* The target's letter a is another keyword already. */
	struct mbox_append a = { 0, other_kws, 1, 0 };
	CHECK_INT(mbox_append(u, "Archive", "x\n", 2, &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_store(box, first, 1, MBOX_STORE_ADD, IMAP_FLAG_SEEN, kws, 1, &error), 1);
	/* Message 2 vanishes before the copy: left out. */
	path = test_path(box, 1);
	CHECK(unlink(path) == 0);
	free(path);
	CHECK_INT(mbox_copy(box, idx, 3, "Archive", &validity, &src_uids, &dst_uids, &n, &error), 1);
	CHECK_INT(n, 2);
	CHECK_INT(src_uids[0], 1);
	CHECK_INT(src_uids[1], 4);
	CHECK_INT(dst_uids[0], 2);
	CHECK_INT(dst_uids[1], 3);
	free(src_uids);
	free(dst_uids);
	CHECK_INT(mbox_open(u, "Archive", false, &dst, &error), 1);
	CHECK_INT(validity, dst->uidvalidity);
	CHECK_INT(dst->count, 3);
	CHECK_INT(dst->msgs[1].flags, IMAP_FLAG_SEEN);
	CHECK_INT(dst->msgs[1].keywords, 1u << 1);
	CHECK_STR(dst->keywords.names[1], "Work");
	CHECK_INT(dst->msgs[1].internaldate, box->msgs[0].internaldate);
	/* Without flags the copy lands in new/: \Recent for this view. */
	CHECK(dst->msgs[2].recent);
	struct buf out;
	buf_init(&out, 1000);
	CHECK_INT(mbox_msg_read(dst, 2, &out, &error), 1);
	CHECK_STR(buf_cstr(&out), "Subject: m4\n\nbody 4\n");
	buf_free(&out);
	mbox_close(&dst);
	/* The source is untouched. */
	CHECK_INT(mbox_sync(box, true, NULL, &error), 0);
	CHECK_INT(box->count, 3);
	CHECK_INT(mbox_copy(box, idx, 1, "Nowhere", &validity, &src_uids, &dst_uids, &n, &error), 0);
	CHECK(strncmp(error, "[TRYCREATE]", 11) == 0);
	/* Into the same folder works too. */
	CHECK_INT(mbox_copy(box, first, 1, "INBOX", &validity, &src_uids, &dst_uids, &n, &error), 1);
	CHECK_INT(n, 1);
	CHECK_INT(dst_uids[0], 5);
	free(src_uids);
	free(dst_uids);
	mbox_close(&box);
	test_user_free(u);
}

static void test_quota_refusal(void)
{
	struct mbox_user *u = test_user("quota");
	struct mbox_append a = { 0, NULL, 0, 0 };
	struct mbox *box;
	struct maildir_quota q;
	uint32_t validity, uid, *s, *d;
	size_t idx[] = { 0 }, n;
	char big[300];
	const char *error;

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	u->quota.bytes = 500;
	CHECK_INT(mbox_append(u, "INBOX", big, sizeof(big), &a, &validity, &uid, &error), 1);
	CHECK_INT(mbox_quota(u, &q, &error), 0);
	CHECK_INT(q.bytes, 300);
	CHECK_INT(q.count, 1);
	CHECK_INT(q.limits.bytes, 500);
	CHECK_INT(mbox_append(u, "INBOX", big, sizeof(big), &a, &validity, &uid, &error), 0);
	CHECK(strncmp(error, "[OVERQUOTA]", 11) == 0);
	CHECK_INT(mbox_folder_create(u, "Other", &error), 1);
	CHECK_INT(mbox_open(u, "INBOX", false, &box, &error), 1);
	CHECK_INT(mbox_copy(box, idx, 1, "Other", &validity, &s, &d, &n, &error), 0);
	CHECK(strncmp(error, "[OVERQUOTA]", 11) == 0);
	/* Count limits too. */
	u->quota.bytes = 0;
	u->quota.count = 1;
	CHECK_INT(mbox_append(u, "INBOX", "y\n", 2, &a, &validity, &uid, &error), 0);
	CHECK(strncmp(error, "[OVERQUOTA]", 11) == 0);
	u->quota.count = 0;
	CHECK_INT(mbox_append(u, "INBOX", "y\n", 2, &a, &validity, &uid, &error), 1);
	mbox_close(&box);
	test_user_free(u);
}

/* Views of one folder in one process share their message array while
 * they hold the same messages; a change reaches only the view that made
 * it until the others sync, and closing in any order leaves the rest
 * readable. */
static void test_shared_views(void)
{
	struct mbox_user *u = test_user("shared");
	struct mbox *a = test_box(u, 3), *b = NULL, *c = NULL, *ro = NULL;
	struct mbox_changes ch;
	struct buf out;
	const char *error;
	size_t idx[1] = { 1 };

	/* a took the new messages as \Recent: its view differs */
	CHECK_INT(mbox_open(u, "INBOX", false, &b, &error), 1);
	CHECK_INT(mbox_open(u, "INBOX", false, &c, &error), 1);
	CHECK_INT(mbox_open(u, "INBOX", true, &ro, &error), 1);
	CHECK(b->msgs == c->msgs);
	CHECK(a->msgs != b->msgs);
	CHECK(ro->msgs != b->msgs);
	CHECK(a->msgs[0].recent && !b->msgs[0].recent);

	/* STORE through b: c keeps what it showed until it syncs */
	CHECK_INT(mbox_store(b, idx, 1, MBOX_STORE_ADD, IMAP_FLAG_FLAGGED, NULL, 0, &error), 1);
	CHECK(b->msgs != c->msgs);
	CHECK((b->msgs[1].flags & IMAP_FLAG_FLAGGED) != 0);
	CHECK((c->msgs[1].flags & IMAP_FLAG_FLAGGED) == 0);
	CHECK_INT(mbox_sync(c, true, &ch, &error), 0);
	CHECK_INT(ch.flag_changed_count, 1);
	mbox_changes_free(&ch);
	CHECK((c->msgs[1].flags & IMAP_FLAG_FLAGGED) != 0);
	CHECK_INT(mbox_sync(b, true, NULL, &error), 0);
	CHECK(b->msgs == c->msgs);

	/* reading from a shared view; then the others go, c still reads */
	buf_init(&out, BUF_NO_LIMIT);
	CHECK_INT(mbox_msg_read(c, 2, &out, &error), 1);
	CHECK(strstr(buf_cstr(&out), "body 3") != NULL);
	mbox_close(&b);
	mbox_close(&a);
	buf_reset(&out);
	CHECK_INT(mbox_msg_read(c, 0, &out, &error), 1);
	CHECK(strstr(buf_cstr(&out), "body 1") != NULL);
	CHECK_INT(mbox_sync(c, true, NULL, &error), 0);
	CHECK_INT(c->count, 3);
	buf_free(&out);
	mbox_close(&c);
	mbox_close(&ro);
	test_user_free(u);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("store: add, remove, replace, modseq, other views", test_store_modes);
	test_run("store: files renamed or removed by other writers", test_store_other_writers);
	test_run("store: 26 keyword letters, then refusal", test_store_keywords_full);
	test_run("expunge: all, by index, flag cleared meanwhile, quota", test_expunge);
	test_run("expunge seen during FETCH is reported later in order", test_deferred_expunge);
	test_run("read follows a renamed file; vanished file", test_read_renamed_and_vanished);
	test_run("vsize of a file named without ,W=", test_vsize_unknown);
	test_run("copy: UIDs, flags, keywords by name, vanished source", test_copy);
	test_run("quota: APPEND and COPY refused with [OVERQUOTA]", test_quota_refusal);
	test_run("views of one folder share their messages until one changes", test_shared_views);
	return test_done();
}
