#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "dotlock.h"
#include "maildir.h"
#include "xalloc.h"
#include "test.h"

static char test_dir[] = "/tmp/test-maildir.XXXXXX";

/* Names in dir, or "" ; entries joined by spaces, in directory order. */
static int test_count_entries(const char *maildir, const char *sub)
{
	char *path = xasprintf("%s/%s", maildir, sub);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	free(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static char *test_new_maildir(const char *name)
{
	char *path = xasprintf("%s/%s", test_dir, name);
	const char *error;

	CHECK_INT(maildir_create(path, &error), 0);
	return path;
}

static void test_maildir_create_and_folders(void)
{
	char *md = test_new_maildir("layout"), *p;
	const char *error;
	struct stat st;

	CHECK_INT(maildir_create(md, &error), 0);	/* again: fine */
	p = xasprintf("%s/cur", md);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	free(p);
	CHECK_INT(maildir_folder_create(md, "Sent", &error), 0);
	CHECK_INT(maildir_folder_create(md, "Archive.2024", &error), 0);
	p = xasprintf("%s/.Sent/maildirfolder", md);
	CHECK(access(p, F_OK) == 0);
	free(p);
	p = xasprintf("%s/.Archive.2024/tmp", md);
	CHECK(access(p, F_OK) == 0);
	free(p);
	CHECK_INT(maildir_folder_create(md, "../x", &error), -1);
	CHECK_INT(maildir_folder_create(md, ".hidden", &error), -1);
	CHECK_INT(maildir_folder_name_valid("a..b"), 0);
	CHECK_INT(maildir_folder_name_valid("a/b"), 0);
	CHECK_INT(maildir_folder_name_valid("Trash."), 0);
	CHECK_INT(maildir_folder_name_valid(""), 0);
	CHECK_INT(maildir_folder_name_valid("a\nb"), 0);
	CHECK_INT(maildir_folder_name_valid("Junk"), 1);
	free(md);
}

static void test_maildir_names(void)
{
	struct maildir_name n;
	struct buf b;

	CHECK_INT(maildir_name_parse("1700000000.M12P34.host,S=123,W=130:2,FSa", &n), 0);
	CHECK_INT(n.base_len, strlen("1700000000.M12P34.host,S=123,W=130"));
	CHECK(n.has_size && n.size == 123 && n.has_vsize && n.vsize == 130 && n.has_info);
	CHECK_INT(n.flags.flags, MAILDIR_FLAG_FLAGGED | MAILDIR_FLAG_SEEN);
	CHECK_INT(n.flags.keywords, 1);
	CHECK_INT(maildir_name_parse("1700000000.M1P2.host", &n), 0);
	CHECK(!n.has_size && !n.has_vsize && !n.has_info);
	CHECK_INT(maildir_name_parse("1.host,S=12x", &n), -1);
	CHECK_INT(maildir_name_parse("1.host,S=", &n), -1);
	CHECK_INT(maildir_name_parse("1.host,S=99999999999999999999999", &n), -1);
	CHECK_INT(maildir_name_parse(".hidden", &n), -1);
	CHECK_INT(maildir_name_parse("", &n), -1);
	CHECK_INT(maildir_name_parse(":2,S", &n), -1);
	CHECK_INT(maildir_name_parse("a/b", &n), -1);
	/* Other fields such as ,X=1 are allowed and ignored. */
	CHECK_INT(maildir_name_parse("1.h,X=1,S=5", &n), 0);
	CHECK(n.has_size && n.size == 5);

	buf_init(&b, BUF_NO_LIMIT);
	maildir_host_escape(&b, "a/b:c");
	CHECK_STR(buf_cstr(&b), "a\\057b\\072c");
	buf_reset(&b);
	struct maildir_flags f = { MAILDIR_FLAG_TRASHED | MAILDIR_FLAG_DRAFT | MAILDIR_FLAG_PASSED |
				   MAILDIR_FLAG_REPLIED, (1u << 25) | (1u << 2) };
	maildir_flags_format(&b, &f);
	CHECK_STR(buf_cstr(&b), ":2,DPRTcz");
	maildir_flags_parse("zcTRPD?", &f);
	CHECK_INT(f.flags, MAILDIR_FLAG_TRASHED | MAILDIR_FLAG_DRAFT | MAILDIR_FLAG_PASSED |
		  MAILDIR_FLAG_REPLIED);
	CHECK_INT(f.keywords, (1u << 25) | (1u << 2));
	buf_reset(&b);
	maildir_name_unique(&b);
	char *first = xstrdup(buf_cstr(&b));
	buf_reset(&b);
	maildir_name_unique(&b);
	CHECK(strcmp(first, buf_cstr(&b)) != 0);
	CHECK(strstr(first, ".M") != NULL && strchr(first, 'Q') != NULL);
	CHECK_INT(maildir_name_parse(first, &n), 0);
	free(first);
	buf_free(&b);
}

static void test_maildir_deliver_buffer(void)
{
	char *md = test_new_maildir("deliver"), *name, *path;
	const char msg[] = "Subject: x\n\nbody\r\nline\n";
	struct maildir_save save = { true, { MAILDIR_FLAG_SEEN, 1 }, 0 };
	struct maildir_name n;
	const char *error;
	bool no_space = true;
	struct stat st;

	CHECK_INT(maildir_deliver(md, msg, strlen(msg), NULL, &name, &no_space, &error), 0);
	CHECK(!no_space);
	CHECK(strncmp(name, "new/", 4) == 0);
	CHECK_INT(maildir_name_parse(name + 4, &n), 0);
	/* Three bare LFs become CRLF in the virtual size. */
	CHECK(n.size == strlen(msg) && n.vsize == strlen(msg) + 3 && !n.has_info);
	path = xasprintf("%s/%s", md, name);
	CHECK(stat(path, &st) == 0 && (size_t)st.st_size == strlen(msg));
	free(path);
	free(name);
	CHECK_INT(maildir_deliver(md, msg, strlen(msg), &save, &name, &no_space, &error), 0);
	CHECK(strncmp(name, "cur/", 4) == 0);
	CHECK(strstr(name, ":2,Sa") != NULL);
	free(name);
	CHECK_INT(test_count_entries(md, "tmp"), 0);
	CHECK_INT(test_count_entries(md, "new"), 1);
	CHECK_INT(test_count_entries(md, "cur"), 1);
	/* No Maildir there: an error, nothing left behind. */
	path = xasprintf("%s/missing", test_dir);
	CHECK_INT(maildir_deliver(path, msg, 3, NULL, &name, &no_space, &error), -1);
	CHECK(!no_space);
	free(path);
	free(md);
}

static void test_maildir_writer_chunks(void)
{
	char *md = test_new_maildir("chunks");
	struct maildir_writer *w;
	struct maildir_name n;
	const char *error, *name;

	CHECK_INT(maildir_writer_open(md, &w, &error), 0);
	CHECK_INT(test_count_entries(md, "tmp"), 1);
	/* A CRLF split across two writes is not a bare LF. */
	CHECK_INT(maildir_writer_write(w, "a\r", 2, &error), 0);
	CHECK_INT(maildir_writer_write(w, "\nb\n", 3, &error), 0);
	CHECK_INT(maildir_writer_write(w, "", 0, &error), 0);
	CHECK_INT(maildir_writer_finish(w, NULL, &name, &error), 0);
	CHECK_INT(maildir_name_parse(name + 4, &n), 0);
	CHECK(n.size == 5 && n.vsize == 6);
	CHECK_INT(maildir_writer_finish(w, NULL, &name, &error), -1);
	maildir_writer_free(&w);
	CHECK(w == NULL);
	CHECK_INT(test_count_entries(md, "new"), 1);
	CHECK_INT(test_count_entries(md, "tmp"), 0);
	/* Abandoned before finish: the tmp/ file goes, nothing is visible. */
	CHECK_INT(maildir_writer_open(md, &w, &error), 0);
	CHECK_INT(maildir_writer_write(w, "partial", 7, &error), 0);
	maildir_writer_free(&w);
	CHECK_INT(test_count_entries(md, "tmp"), 0);
	CHECK_INT(test_count_entries(md, "new"), 1);
	free(md);
}

static void test_maildir_crash_before_rename(void)
{
	char *md = test_new_maildir("crash");
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct maildir_writer *w;
		const char *error;

		if (maildir_writer_open(md, &w, &error) < 0 ||
		    maildir_writer_write(w, "Subject: x\n\n", 12, &error) < 0)
			_exit(1);
		_exit(0);	/* dies with the message written, not renamed */
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(test_count_entries(md, "tmp"), 1);
	CHECK_INT(test_count_entries(md, "new"), 0);
	CHECK_INT(test_count_entries(md, "cur"), 0);
	free(md);
}

static void test_maildir_set_flags(void)
{
	char *md = test_new_maildir("flags"), *name, *moved, *again, *path;
	struct maildir_flags f = { MAILDIR_FLAG_REPLIED | MAILDIR_FLAG_SEEN, 1u << 1 };
	const char *error;
	bool no_space;
	size_t base_len;

	CHECK_INT(maildir_deliver(md, "x\n", 2, NULL, &name, &no_space, &error), 0);
	base_len = strlen(name) - 4;
	CHECK_INT(maildir_move_to_cur(md, name, &moved, &error), 1);
	CHECK(strncmp(moved, "cur/", 4) == 0 && strcmp(moved + 4 + base_len, ":2,") == 0);
	CHECK_INT(maildir_set_flags(md, moved, &f, &again, &error), 1);
	CHECK(strcmp(again + 4 + base_len, ":2,RSb") == 0);
	CHECK_INT(maildir_set_flags(md, moved, &f, &path, &error), 0);	/* gone */
	/* Letters we do not know are kept. */
	char *odd = xasprintf("%s/cur/%.*s:2,S%%", md, (int)base_len, name + 4);
	char *cur = xasprintf("%s/%s", md, again);
	CHECK(rename(cur, odd) == 0);
	free(again);
	again = xasprintf("cur/%.*s:2,S%%", (int)base_len, name + 4);
	f.flags = MAILDIR_FLAG_FLAGGED;
	f.keywords = 0;
	CHECK_INT(maildir_set_flags(md, again, &f, &path, &error), 1);
	CHECK(strcmp(path + 4 + base_len, ":2,%F") == 0);
	CHECK_INT(test_count_entries(md, "cur"), 1);
	CHECK_INT(maildir_set_flags(md, "cur/.bad", &f, &path, &error), -1);
	free(path);
	free(odd);
	free(cur);
	free(again);
	free(moved);
	free(name);
	free(md);
}

static void test_maildir_keywords(void)
{
	const char text[] = "0 $Label1\n1 Junk\nbad line\n30 Toolate\n1 Dup\n2 \n3 has space\n4 NonJunk";
	char *md = test_new_maildir("keywords");
	struct maildir_keywords kw, other;
	const char *error;
	int idx;

	maildir_keywords_init(&kw);
	CHECK_INT(maildir_keywords_parse(&kw, text, strlen(text)), 5);
	CHECK_STR(kw.names[0], "$Label1");
	CHECK_STR(kw.names[1], "Junk");
	CHECK(kw.names[2] == NULL && kw.names[3] == NULL);
	CHECK_STR(kw.names[4], "NonJunk");
	CHECK_INT(maildir_keywords_lookup(&kw, "Junk"), 1);
	CHECK_INT(maildir_keywords_lookup(&kw, "junk"), -1);
	maildir_keywords_free(&kw);
	maildir_keywords_init(&other);
	CHECK_INT(maildir_keywords_read(md, &other, &error), 0);
	CHECK_INT(maildir_keywords_assign(md, "$Forwarded", &other, &idx, &error), 1);
	CHECK_INT(idx, 0);
	CHECK_INT(maildir_keywords_assign(md, "Work", &kw, &idx, &error), 1);
	CHECK_INT(idx, 1);
	CHECK_INT(maildir_keywords_assign(md, "$Forwarded", &kw, &idx, &error), 1);
	CHECK_INT(idx, 0);
	CHECK_INT(maildir_keywords_assign(md, "bad word", &kw, &idx, &error), -1);
	for (int i = 2; i < 26; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		CHECK_INT(maildir_keywords_assign(md, name, &kw, &idx, &error), 1);
		CHECK_INT(idx, i);
	}
	CHECK_INT(maildir_keywords_assign(md, "one-too-many", &kw, &idx, &error), 0);
	CHECK_INT(maildir_keywords_read(md, &other, &error), 1);
	CHECK_STR(other.names[1], "Work");
	CHECK_STR(other.names[25], "k25");
	maildir_keywords_free(&kw);
	maildir_keywords_free(&other);
	free(md);
}

static void test_maildir_keywords_trickle(void)
{
	const char text[] = "0 a\n1 b\n";
	struct maildir_keywords kw;

	/* The file is read whole (it is replaced by rename, so never seen
	 * half-written); a line cut short is a malformed line, skipped. */
	maildir_keywords_init(&kw);
	CHECK_INT(maildir_keywords_parse(&kw, text, 5), 1);
	CHECK_STR(kw.names[0], "a");
	CHECK(kw.names[1] == NULL);
	maildir_keywords_free(&kw);
}

static void test_maildir_copy_and_mtime(void)
{
	char *src = test_new_maildir("copy-src"), *dst = test_new_maildir("copy-dst");
	char *name, *copy, *from, *to;
	struct maildir_save save = { true, { MAILDIR_FLAG_SEEN | MAILDIR_FLAG_PASSED, 4 }, 1234567890 };
	struct maildir_name n;
	struct stat a, b;
	const char *error;
	bool no_space;

	CHECK_INT(maildir_deliver(src, "x\ny\n", 4, &save, &name, &no_space, &error), 0);
	from = xasprintf("%s/%s", src, name);
	CHECK(stat(from, &a) == 0 && a.st_mtime == 1234567890);
	/* A hard link under a new name, flags as asked, sizes from the name. */
	save.flags.flags = MAILDIR_FLAG_FLAGGED;
	save.flags.keywords = 0;
	CHECK_INT(maildir_copy(from, dst, &save, &copy, &no_space, &error), 1);
	CHECK(strncmp(copy, "cur/", 4) == 0 && strstr(copy, ":2,F") != NULL);
	CHECK_INT(maildir_name_parse(copy + 4, &n), 0);
	CHECK(n.has_size && n.size == 4 && n.has_vsize && n.vsize == 6);
	CHECK(strncmp(copy + 4, name + 4, n.base_len) != 0);
	to = xasprintf("%s/%s", dst, copy);
	CHECK(stat(to, &b) == 0 && b.st_ino == a.st_ino && b.st_mtime == 1234567890);
	free(to);
	free(copy);
	CHECK_INT(test_count_entries(dst, "tmp"), 0);
	/* Into new/ without flags. */
	CHECK_INT(maildir_copy(from, dst, NULL, &copy, &no_space, &error), 1);
	CHECK(strncmp(copy, "new/", 4) == 0 && strchr(copy, ':') == NULL);
	free(copy);
	/* Another file system (when /dev/shm is one): a byte copy that keeps
	 * the mtime. */
	char shm[] = "/dev/shm/test-maildir.XXXXXX";
	if (mkdtemp(shm) != NULL) {
		struct stat s1, s2;

		CHECK(stat(shm, &s1) == 0 && stat(dst, &s2) == 0);
		CHECK_INT(maildir_create(shm, &error), 0);
		CHECK_INT(maildir_copy(from, shm, &save, &copy, &no_space, &error), 1);
		to = xasprintf("%s/%s", shm, copy);
		CHECK(stat(to, &b) == 0 && b.st_mtime == 1234567890 && b.st_size == 4);
		if (s1.st_dev != s2.st_dev)
			CHECK(b.st_ino != a.st_ino || b.st_dev != a.st_dev);
		CHECK_INT(maildir_name_parse(copy + 4, &n), 0);
		CHECK(n.has_size && n.size == 4 && n.vsize == 6);
		unlink(to);
		free(to);
		free(copy);
		static const char *const subs[] = { "cur", "new", "tmp" };
		for (int i = 0; i < 3; i++) {
			to = xasprintf("%s/%s", shm, subs[i]);
			rmdir(to);
			free(to);
		}
		rmdir(shm);
	}
	/* A source gone: 0. A target that is no Maildir: an error. */
	to = xasprintf("%s/missing", test_dir);
	CHECK_INT(maildir_copy(from, to, NULL, &copy, &no_space, &error), -1);
	free(to);
	CHECK(unlink(from) == 0);
	CHECK_INT(maildir_copy(from, dst, NULL, &copy, &no_space, &error), 0);
	CHECK_INT(test_count_entries(dst, "new"), 1);
	CHECK_INT(test_count_entries(dst, "cur"), 1);
	free(from);
	free(name);
	free(src);
	free(dst);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("maildir create, folders, folder names", test_maildir_create_and_folders);
	test_run("maildir names and flags", test_maildir_names);
	test_run("maildir deliver from a buffer", test_maildir_deliver_buffer);
	test_run("maildir writer in chunks, abandoned writer", test_maildir_writer_chunks);
	test_run("maildir crash before rename leaves no message", test_maildir_crash_before_rename);
	test_run("maildir set flags by rename", test_maildir_set_flags);
	test_run("maildir dovecot-keywords", test_maildir_keywords);
	test_run("maildir dovecot-keywords cut short", test_maildir_keywords_trickle);
	test_run("maildir copy by hard link; mtime of a delivery", test_maildir_copy_and_mtime);
	char *rm = xasprintf("rm -rf %s", test_dir);
	int rm_status = system(rm);

	free(rm);
	return rm_status == 0 ? test_done() : 1;
}
