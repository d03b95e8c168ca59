/* The POP3 maildrop: sizes with CRLF line ends (from the name's ,W= or
 * the file), UIDL in Dovecot's default format, the session lock (second
 * session refused, stale lock of a dead process taken over), DELE/RSET,
 * and UPDATE: files gone only after commit, \Seen for RETR'd messages. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dotlock.h"
#include "imap-args.h"
#include "maildir.h"
#include "pop3-maildrop.h"
#include "xalloc.h"
#include "test.h"

static char test_dir[] = "/tmp/test-pop3-maildrop.XXXXXX";

static const struct pop3_maildrop_settings lock_set = { true, 0 };
/* A stale lock is removed on one look and taken on the next. */
static const struct pop3_maildrop_settings lock_wait_set = { true, 300 };

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

static void test_deliver(const char *maildir, const char *text)
{
	const char *error;
	bool no_space;
	char *name = NULL;

	CHECK_INT(maildir_create(maildir, &error), 0);
	CHECK_INT(maildir_deliver(maildir, text, strlen(text), NULL, &name, &no_space, &error), 0);
	free(name);
}

/* A file written by another program: no ,S= or ,W= in its name. */
static void test_drop(const char *maildir, const char *base, const char *text)
{
	char *path = xasprintf("%s/new/%s", maildir, base);
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

static size_t test_count_files(const char *maildir)
{
	size_t n = 0;

	for (int k = 0; k < 2; k++) {
		char *path = xasprintf("%s/%s", maildir, k == 0 ? "new" : "cur");
		DIR *d = opendir(path);
		struct dirent *de;

		while (d != NULL && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				n++;
		if (d != NULL)
			closedir(d);
		free(path);
	}
	return n;
}

static void test_open_sizes_uidl(void)
{
	struct mbox_user *u = test_user("sizes");
	struct pop3_maildrop *md = NULL;
	const char *error;
	char uidl[POP3_UIDL_LEN + 1], want[POP3_UIDL_LEN + 1];

	/* a missing Maildir is created: an empty maildrop */
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK(md != NULL && md->count == 0 && md->total_size == 0);
	pop3_maildrop_close(&md);
	CHECK(md == NULL);
	test_deliver(u->root, "Subject: a\n\nline\n");               /* 17 + 3 */
	test_drop(u->root, "1700000000.M1P1.other", "Subject: b\r\n\r\nx\ny\r\n");  /* 19 + 1 */
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK_INT(md->count, 2);
	CHECK_INT(md->msgs[0].size + md->msgs[1].size, 20 + 20);
	CHECK_INT(md->total_size, 40);
	pop3_maildrop_uidl(md, 1, uidl);
	snprintf(want, sizeof(want), "%08x%08x", (unsigned)md->box->msgs[0].uid,
		 (unsigned)md->box->uidvalidity);
	CHECK_STR(uidl, want);
	CHECK_INT(strlen(uidl), 16);
	for (size_t i = 0; i < 16; i++)
		CHECK((uidl[i] >= '0' && uidl[i] <= '9') || (uidl[i] >= 'a' && uidl[i] <= 'f'));
	CHECK(pop3_maildrop_msg(md, 0) == NULL);
	CHECK(pop3_maildrop_msg(md, 3) == NULL);
	CHECK(pop3_maildrop_msg(md, 2) != NULL);
	pop3_maildrop_close(&md);
	test_user_free(u);
}

static void test_lock(void)
{
	struct mbox_user *u = test_user("lock");
	struct pop3_maildrop *a = NULL, *b = NULL;
	const struct pop3_maildrop_settings nolock = { false, 0 };
	const char *error;
	char *path;
	FILE *f;

	CHECK_INT(pop3_maildrop_open(u, &lock_set, &a, &error), 1);
	path = xasprintf("%s/dovecot-pop3-session.lock", u->root);
	CHECK(access(path, F_OK) == 0);
	/* a second session is refused while the first holds the lock */
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &b, &error), 0);
	CHECK(b == NULL);
	/* without locking, both may go on (Dovecot's default) */
	CHECK_INT(pop3_maildrop_open(u, &nolock, &b, &error), 1);
	pop3_maildrop_close(&b);
	CHECK_INT(pop3_maildrop_touch(a, &error), 1);
	pop3_maildrop_close(&a);
	CHECK(access(path, F_OK) < 0);
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &b, &error), 1);
	pop3_maildrop_close(&b);
	/* a lock left by a process of this host that is gone is stale */
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		fprintf(f, "%ld:%s", (long)pid, dotlock_hostname());
		fclose(f);
	}
	CHECK_INT(pop3_maildrop_open(u, &lock_wait_set, &b, &error), 1);
	pop3_maildrop_close(&b);
	/* one of another host is not, until it is old: [IN-USE] */
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("1:elsewhere.invalid", f);
		fclose(f);
	}
	CHECK_INT(pop3_maildrop_open(u, &lock_wait_set, &b, &error), 0);
	CHECK(b == NULL);
	unlink(path);
	free(path);
	test_user_free(u);
}

static void test_delete_reset_commit(void)
{
	struct mbox_user *u = test_user("dele");
	struct pop3_maildrop *md = NULL;
	const char *error;
	size_t removed;

	for (int i = 0; i < 4; i++)
		test_deliver(u->root, "Subject: m\n\nbody\n");
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK_INT(md->count, 4);
	pop3_maildrop_delete(md, 1);
	pop3_maildrop_delete(md, 1);    /* twice counts once */
	pop3_maildrop_delete(md, 3);
	CHECK_INT(md->deleted_count, 2);
	CHECK_INT(md->deleted_size, 2 * md->msgs[1].size);
	CHECK(pop3_maildrop_msg(md, 1) == NULL);
	pop3_maildrop_reset(md);
	CHECK_INT(md->deleted_count, 0);
	CHECK(pop3_maildrop_msg(md, 1) != NULL);
	pop3_maildrop_delete(md, 2);
	pop3_maildrop_delete(md, 4);
	md->msgs[0].retrieved = true;
	/* a session that ends without QUIT changes nothing */
	pop3_maildrop_close(&md);
	CHECK_INT(test_count_files(u->root), 4);
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK_INT(md->count, 4);
	CHECK(!(md->box->msgs[0].flags & IMAP_FLAG_SEEN));
	pop3_maildrop_delete(md, 2);
	pop3_maildrop_delete(md, 4);
	md->msgs[0].retrieved = true;
	md->msgs[1].retrieved = true;
	CHECK_INT(test_count_files(u->root), 4);
	CHECK_INT(pop3_maildrop_commit(md, true, &removed, &error), 1);
	CHECK_INT(removed, 2);
	pop3_maildrop_close(&md);
	CHECK_INT(test_count_files(u->root), 2);
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK_INT(md->count, 2);
	CHECK(md->box->msgs[0].flags & IMAP_FLAG_SEEN);
	CHECK(!(md->box->msgs[1].flags & IMAP_FLAG_SEEN));
	CHECK(!(md->box->msgs[0].flags & IMAP_FLAG_DELETED));
	/* without mark_seen nothing is flagged */
	md->msgs[1].retrieved = true;
	CHECK_INT(pop3_maildrop_commit(md, false, &removed, &error), 1);
	CHECK_INT(removed, 0);
	pop3_maildrop_close(&md);
	CHECK_INT(pop3_maildrop_open(u, &lock_set, &md, &error), 1);
	CHECK(!(md->box->msgs[1].flags & IMAP_FLAG_SEEN));
	pop3_maildrop_close(&md);
	test_user_free(u);
}

/* Messages expunged by someone else during the session: RETR finds them
 * gone, DELE at QUIT does no harm. */
static void test_expunged_meanwhile(void)
{
	struct mbox_user *u = test_user("gone");
	struct pop3_maildrop *md = NULL, *other = NULL;
	const struct pop3_maildrop_settings nolock = { false, 0 };
	const char *error;
	size_t removed;
	int fd;

	test_deliver(u->root, "Subject: 1\n\nx\n");
	test_deliver(u->root, "Subject: 2\n\nx\n");
	CHECK_INT(pop3_maildrop_open(u, &nolock, &md, &error), 1);
	CHECK_INT(pop3_maildrop_open(u, &nolock, &other, &error), 1);
	pop3_maildrop_delete(other, 1);
	CHECK_INT(pop3_maildrop_commit(other, true, &removed, &error), 1);
	pop3_maildrop_close(&other);
	CHECK_INT(pop3_maildrop_open_msg(md, 1, &fd, &error), 0);
	CHECK_INT(pop3_maildrop_open_msg(md, 2, &fd, &error), 1);
	close(fd);
	pop3_maildrop_delete(md, 1);
	pop3_maildrop_delete(md, 2);
	CHECK_INT(pop3_maildrop_commit(md, true, &removed, &error), 1);
	pop3_maildrop_close(&md);
	CHECK_INT(test_count_files(u->root), 0);
	test_user_free(u);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("maildrop: open, sizes with CRLF, UIDL", test_open_sizes_uidl);
	test_run("maildrop: session lock, stale lock", test_lock);
	test_run("maildrop: DELE, RSET, UPDATE", test_delete_reset_commit);
	test_run("maildrop: expunged by another session", test_expunged_meanwhile);
	return test_done();
}
