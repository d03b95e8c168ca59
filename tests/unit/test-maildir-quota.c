#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "maildir-quota.h"
#include "xalloc.h"
#include "test.h"

static char test_dir[] = "/tmp/test-quota.XXXXXX";

static void test_quota_parse(void)
{
	static const char text[] = "1000S,10C\n100 1\n  200   2 \n-50 -1\nabc 1\n5\n1 2 3\n\n7 1";
	struct maildir_quota q;
	const char *error;

	CHECK_INT(maildir_quota_parse(&q, text, sizeof(text) - 1, &error), 0);
	CHECK_INT(q.limits.bytes, 1000);
	CHECK_INT(q.limits.count, 10);
	CHECK_INT(q.bytes, 250);
	CHECK_INT(q.count, 2);
	/* "abc 1", "5", "1 2 3" and the unterminated "7 1". */
	CHECK_INT(q.skipped_lines, 4);
	CHECK_INT(maildir_quota_parse(&q, "5C,7S\n", 6, &error), 0);
	CHECK(q.limits.bytes == 7 && q.limits.count == 5);
	CHECK_INT(maildir_quota_parse(&q, "0S\n", 3, &error), 0);
	CHECK(q.limits.bytes == 0 && q.limits.count == 0);
	CHECK_INT(maildir_quota_parse(&q, "", 0, &error), -1);
	CHECK_INT(maildir_quota_parse(&q, "10X\n", 4, &error), -1);
	CHECK_INT(maildir_quota_parse(&q, "-1S\n", 4, &error), -1);
	CHECK_INT(maildir_quota_parse(&q, "S\n", 2, &error), -1);
	CHECK_INT(maildir_quota_parse(&q, "99999999999999999999S\n", 22, &error), -1);
	static const char big[] = "1S\n9223372036854775000 0\n1000 0\n";
	CHECK_INT(maildir_quota_parse(&q, big, sizeof(big) - 1, &error), 0);
	CHECK_INT(q.bytes, 9223372036854775000LL);
	CHECK_INT(q.skipped_lines, 1);
}

static void test_quota_fits(void)
{
	struct maildir_quota q = { { 1000, 3 }, 900, 2, 0 };

	CHECK_INT(maildir_quota_fits(&q, 100, 1), 1);
	CHECK_INT(maildir_quota_fits(&q, 101, 1), 0);
	CHECK_INT(maildir_quota_fits(&q, 1, 2), 0);
	q.limits.bytes = 0;
	q.limits.count = 0;
	CHECK_INT(maildir_quota_fits(&q, 1u << 30, 100000), 1);
}

static char *test_file_text(const char *md)
{
	char *path = xasprintf("%s/maildirsize", md);
	struct buf b;
	const char *error;

	buf_init(&b, BUF_NO_LIMIT);
	maildir_file_read(path, &b, &error);
	free(path);
	return buf_steal(&b);
}

static void test_quota_file(void)
{
	char *md = xasprintf("%s/q", test_dir), *name, *text, *path;
	struct maildir_quota_limits limits = { 100, 5 };
	struct maildir_quota q;
	const char *error;
	bool no_space;

	CHECK_INT(maildir_create(md, &error), 0);
	CHECK_INT(maildir_folder_create(md, "Sent", &error), 0);
	CHECK_INT(maildir_deliver(md, "0123456789", 10, NULL, &name, &no_space, &error), 0);
	free(name);
	path = xasprintf("%s/.Sent", md);
	CHECK_INT(maildir_deliver(path, "01234", 5, NULL, &name, &no_space, &error), 0);
	free(name);
	free(path);
	/* Missing: counted and written. */
	CHECK_INT(maildir_quota_update(md, 10, 1, &error), 0);
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 15 && q.count == 2);
	text = test_file_text(md);
	CHECK_STR(text, "100S,5C\n15 2\n");
	free(text);
	/* Appended changes add up; the file is trusted while it is small. */
	CHECK_INT(maildir_quota_update(md, 30, 1, &error), 1);
	CHECK_INT(maildir_quota_update(md, -5, -1, &error), 1);
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 40 && q.count == 2);
	CHECK_INT(maildir_quota_fits(&q, 60, 1), 1);
	CHECK_INT(maildir_quota_fits(&q, 61, 1), 0);
	/* Other limits configured: recalculated from the store. */
	limits.bytes = 1000;
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 15 && q.count == 2 && q.limits.bytes == 1000);
	/* Limits from the file when none are configured. */
	CHECK_INT(maildir_quota_get(md, NULL, &q, &error), 0);
	CHECK(q.limits.bytes == 1000 && q.limits.count == 5);
	/* Over 5120 bytes: recalculated. */
	for (int i = 0; i < 1500; i++)
		CHECK_INT(maildir_quota_update(md, 1, 0, &error), 1);
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 15 && q.count == 2);
	text = test_file_text(md);
	CHECK_STR(text, "1000S,5C\n15 2\n");
	free(text);
	free(md);
}

static void test_quota_stale_over(void)
{
	char *md = xasprintf("%s/stale", test_dir), *path;
	struct maildir_quota_limits limits = { 100, 0 };
	struct maildir_quota q;
	struct timespec old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	const char *error;

	CHECK_INT(maildir_create(md, &error), 0);
	CHECK_INT(maildir_file_replace(md, "maildirsize", "100S\n500 3\n", 11, &error), 0);
	/* Over quota but fresh: believed. */
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 500 && q.count == 3);
	CHECK_INT(maildir_quota_fits(&q, 0, 0), 0);
	/* Over quota and 15 minutes old: recalculated (the Maildir is empty). */
	path = xasprintf("%s/maildirsize", md);
	CHECK(utimensat(AT_FDCWD, path, old, 0) == 0);
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 0 && q.count == 0);
	/* A broken limits line is rebuilt too. */
	CHECK_INT(maildir_file_replace(md, "maildirsize", "junk\n1 1\n", 9, &error), 0);
	CHECK_INT(maildir_quota_get(md, &limits, &q, &error), 0);
	CHECK(q.bytes == 0 && q.limits.bytes == 100);
	free(path);
	free(md);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("quota maildirsize parse, malformed lines", test_quota_parse);
	test_run("quota fits", test_quota_fits);
	test_run("quota file: create, append, recalculate", test_quota_file);
	test_run("quota stale over-quota file is recalculated", test_quota_stale_over);
	char *rm = xasprintf("rm -rf %s", test_dir);
	int rm_status = system(rm);

	free(rm);
	return rm_status == 0 ? test_done() : 1;
}
