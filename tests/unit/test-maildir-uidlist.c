#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "dotlock.h"
#include "maildir.h"
#include "maildir-uidlist.h"
#include "xalloc.h"
#include "test.h"

static char test_dir[] = "/tmp/test-uidlist.XXXXXX";
static const struct dotlock_settings test_lock_set = { 30000, 120 };

static const char test_good[] =
	"3 V1700000000 N10 G0123456789abcdef0123456789abcdef X1 Y2\n"
	"1 :1700000000.M1P1.host,S=10,W=11\n"
	"3 W22 S20 :1700000001.M1P1.host,S=20\n"
	"7 :1700000002.M1P1.host:2,S\n";

/* Feed whole, or one byte at a time: the same list either way. */
static int test_parse(struct maildir_uidlist *list, const char *text, size_t len, bool trickle,
		      const char **error_r)
{
	struct maildir_uidlist_parser *p;

	maildir_uidlist_init(list);
	p = maildir_uidlist_parser_new(list);
	if (!trickle) {
		maildir_uidlist_parser_feed(p, text, len);
	} else {
		for (size_t i = 0; i < len; i++)
			maildir_uidlist_parser_feed(p, text + i, 1);
	}
	return maildir_uidlist_parser_finish(&p, error_r);
}

static void test_uidlist_parse_good(void)
{
	for (int trickle = 0; trickle < 2; trickle++) {
		struct maildir_uidlist list;
		const char *error;
		struct buf out;

		CHECK_INT(test_parse(&list, test_good, strlen(test_good), trickle, &error), 0);
		CHECK_INT(list.uidvalidity, 1700000000);
		CHECK_INT(list.next_uid, 10);
		CHECK_STR(list.guid, "0123456789abcdef0123456789abcdef");
		CHECK_STR(list.extra_header, "X1 Y2");
		CHECK_INT(list.count, 3);
		CHECK_INT(list.skipped_lines, 0);
		CHECK_INT(list.recs[1].uid, 3);
		CHECK_STR(list.recs[1].ext, "W22 S20");
		CHECK(list.recs[0].ext == NULL);
		CHECK_STR(list.recs[2].base, "1700000002.M1P1.host");
		CHECK(maildir_uidlist_lookup(&list, 7) == &list.recs[2]);
		CHECK(maildir_uidlist_lookup(&list, 2) == NULL);
		buf_init(&out, BUF_NO_LIMIT);
		maildir_uidlist_format(&list, &out);
		/* Written back the same, except that names lose their flags. */
		CHECK_STR(buf_cstr(&out),
			  "3 V1700000000 N10 G0123456789abcdef0123456789abcdef X1 Y2\n"
			  "1 :1700000000.M1P1.host,S=10,W=11\n"
			  "3 W22 S20 :1700000001.M1P1.host,S=20\n"
			  "7 :1700000002.M1P1.host\n");
		buf_free(&out);
		maildir_uidlist_free(&list);
	}
}

static void test_uidlist_parse_malformed(void)
{
	static const char text[] =
		"3 N5 V42\n"
		"1 :a.host\n"
		"x :bad.uid\n"
		"0 :zero.uid\n"
		"1 :not.ascending\n"
		"2 no.colon\n"
		"3 :\n"
		"4 :../escape\n"
		"5 :.dotfile\n"
		"\n"
		"99999999999 :too.big\n"
		"6 :ok.host\n"
		"20 W1 :high.uid\n"
		"21 :cut.off";
	for (int trickle = 0; trickle < 2; trickle++) {
		struct maildir_uidlist list;
		const char *error;

		CHECK_INT(test_parse(&list, text, sizeof(text) - 1, trickle, &error), 0);
		CHECK_INT(list.uidvalidity, 42);
		CHECK(list.guid == NULL && list.extra_header == NULL);
		CHECK_INT(list.count, 3);
		CHECK_INT(list.skipped_lines, 9);
		CHECK_INT(list.recs[1].uid, 6);
		/* N was 5 but UID 20 exists: never hand 20 out again. */
		CHECK_INT(list.next_uid, 21);
		maildir_uidlist_free(&list);
	}
}

static void test_uidlist_parse_bad_header(void)
{
	static const char *const bad[] = {
		"", "\n1 :a\n", "2 V1 N1\n", "3 V0 N1\n", "3 Vx N1\n", "3 V1\n",
		"3 N1\n", "3 V1 N1", "3 V1 N99999999999\n", "3 V1\0 N1\n",
	};
	static const size_t lens[] = { 0, 6, 8, 8, 8, 5, 5, 7, 18, 9 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int trickle = 0; trickle < 2; trickle++) {
			struct maildir_uidlist list;
			const char *error = NULL;

			CHECK_INT(test_parse(&list, bad[i], lens[i], trickle, &error), -1);
			CHECK(error != NULL);
			maildir_uidlist_free(&list);
		}
	}
}

static void test_uidlist_overlong_line(void)
{
	struct buf text;
	struct maildir_uidlist list;
	const char *error;

	buf_init(&text, BUF_NO_LIMIT);
	buf_append_str(&text, "3 V1 N2\n1 :");
	for (int i = 0; i < MAILDIR_UIDLIST_LINE_MAX + 10; i++)
		buf_append_char(&text, 'x');
	buf_append_str(&text, "\n2 :short\n");
	CHECK_INT(test_parse(&list, text.data, text.len, false, &error), 0);
	CHECK_INT(list.count, 1);
	CHECK_INT(list.skipped_lines, 1);
	CHECK_STR(list.recs[0].base, "short");
	maildir_uidlist_free(&list);
	buf_free(&text);
}

static char *test_deliver(const char *md, const char *body)
{
	char *name;
	const char *error;
	bool no_space;

	CHECK_INT(maildir_deliver(md, body, strlen(body), NULL, &name, &no_space, &error), 0);
	return name;
}

static uint32_t test_uid_of(const struct maildir_uidlist *list, const char *file)
{
	for (size_t i = 0; i < list->count; i++) {
		if (list->recs[i].file != NULL && strcmp(list->recs[i].file, file) == 0)
			return list->recs[i].uid;
	}
	return 0;
}

static void test_uidlist_sync(void)
{
	char *md = xasprintf("%s/sync", test_dir), *a, *b, *c, *moved, *flagged;
	struct maildir_uidlist list;
	struct maildir_flags seen = { MAILDIR_FLAG_SEEN, 0 };
	const char *error;
	uint32_t validity;

	CHECK_INT(maildir_create(md, &error), 0);
	maildir_uidlist_init(&list);
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(list.count, 0);
	CHECK(list.uidvalidity > 1600000000 && list.next_uid == 1 && list.guid != NULL);
	validity = list.uidvalidity;
	a = test_deliver(md, "a\n");
	b = test_deliver(md, "b\n");
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(list.count, 2);
	CHECK_INT(test_uid_of(&list, a), 1);
	CHECK_INT(test_uid_of(&list, b), 2);
	CHECK_INT(list.uidvalidity, validity);
	/* new -> cur and a flag change keep the UID. */
	CHECK_INT(maildir_move_to_cur(md, a, &moved, &error), 1);
	CHECK_INT(maildir_set_flags(md, b, &seen, &flagged, &error), 1);
	c = test_deliver(md, "c\n");
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(test_uid_of(&list, moved), 1);
	CHECK_INT(test_uid_of(&list, flagged), 2);
	CHECK_INT(test_uid_of(&list, c), 3);
	/* Expunge the newest: its UID is never handed out again. */
	char *path = xasprintf("%s/%s", md, c);
	CHECK(unlink(path) == 0);
	free(path);
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(list.count, 2);
	CHECK_INT(list.next_uid, 4);
	free(c);
	c = test_deliver(md, "d\n");
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(test_uid_of(&list, c), 4);
	/* A reader without the lock sees the same. */
	struct maildir_uidlist again;
	maildir_uidlist_init(&again);
	CHECK_INT(maildir_uidlist_read(md, &again, &error), 1);
	CHECK_INT(again.count, 3);
	CHECK_INT(again.next_uid, 5);
	CHECK_INT(again.uidvalidity, validity);
	maildir_uidlist_free(&again);
	/* A lost header: start over with a new UIDVALIDITY... */
	CHECK_INT(maildir_file_replace(md, "dovecot-uidlist", "garbage\n", 8, &error), 0);
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(list.count, 3);
	CHECK_INT(list.next_uid, 4);
	maildir_uidlist_free(&list);
	free(a); free(b); free(c); free(moved); free(flagged); free(md);
}

static void test_uidlist_sync_locked_out(void)
{
	char *md = xasprintf("%s/locked", test_dir), *lock = xasprintf("%s/dovecot-uidlist.lock", md);
	const struct dotlock_settings quick = { 200, 120 };
	struct maildir_uidlist list;
	const char *error;
	FILE *f;

	CHECK_INT(maildir_create(md, &error), 0);
	f = fopen(lock, "w");
	fputs("1:other.host.example", f);
	fclose(f);
	maildir_uidlist_init(&list);
	CHECK_INT(maildir_uidlist_sync(md, &quick, &list, &error), -1);
	CHECK_STR(error, "dovecot-uidlist is locked by someone else");
	maildir_uidlist_free(&list);
	free(lock);
	free(md);
}

#define TEST_WRITERS 4
#define TEST_PER_WRITER 15

/* Each child delivers and syncs, and writes every "uid base" pair it was
 * told; the parent checks no UID ever meant two messages. */
static void test_uidlist_writer(const char *md, const char *log)
{
	struct maildir_uidlist list;
	const char *error;
	FILE *out = fopen(log, "w");
	int failed_before = test_failed_checks;

	maildir_uidlist_init(&list);
	for (int i = 0; i < TEST_PER_WRITER; i++) {
		char *name = test_deliver(md, "Subject: concurrent\n\nx\n");

		free(name);
		if (maildir_uidlist_sync(md, &test_lock_set, &list, &error) < 0)
			_exit(1);
		for (size_t j = 0; j < list.count; j++)
			fprintf(out, "%u %s\n", list.recs[j].uid, list.recs[j].base);
	}
	fclose(out);
	_exit(test_failed_checks == failed_before ? 0 : 2);
}

static void test_uidlist_concurrent(void)
{
	char *md = xasprintf("%s/concurrent", test_dir), *logs[TEST_WRITERS];
	char *seen[TEST_WRITERS * TEST_PER_WRITER + 1] = { NULL };
	struct maildir_uidlist list;
	const char *error;
	pid_t pids[TEST_WRITERS];
	int status;
	bool clash = false;

	CHECK_INT(maildir_create(md, &error), 0);
	for (int i = 0; i < TEST_WRITERS; i++) {
		logs[i] = xasprintf("%s/log%d", test_dir, i);
		pids[i] = fork();
		if (pids[i] == 0)
			test_uidlist_writer(md, logs[i]);
	}
	for (int i = 0; i < TEST_WRITERS; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < TEST_WRITERS; i++) {
		char base[300];
		unsigned int uid;
		FILE *f = fopen(logs[i], "r");

		while (f != NULL && fscanf(f, "%u %299s", &uid, base) == 2) {
			if (uid == 0 || uid > TEST_WRITERS * TEST_PER_WRITER) {
				clash = true;
			} else if (seen[uid] == NULL) {
				seen[uid] = xstrdup(base);
			} else if (strcmp(seen[uid], base) != 0) {
				clash = true;
			}
		}
		if (f != NULL)
			fclose(f);
		free(logs[i]);
	}
	CHECK(!clash);
	maildir_uidlist_init(&list);
	CHECK_INT(maildir_uidlist_sync(md, &test_lock_set, &list, &error), 0);
	CHECK_INT(list.count, TEST_WRITERS * TEST_PER_WRITER);
	CHECK_INT(list.next_uid, TEST_WRITERS * TEST_PER_WRITER + 1);
	for (size_t i = 0; i < list.count; i++) {
		CHECK_INT(list.recs[i].uid, i + 1);
		CHECK(seen[i + 1] != NULL && strcmp(seen[i + 1], list.recs[i].base) == 0);
	}
	for (size_t i = 0; i <= TEST_WRITERS * TEST_PER_WRITER; i++)
		free(seen[i]);
	maildir_uidlist_free(&list);
	free(md);
}

static void test_uidlist_ext_fields(void)
{
	struct maildir_uidlist list;
	struct maildir_uidlist_rec *rec;
	struct buf out;
	const char *error, *v;
	uint64_t n;
	size_t len;

	CHECK_INT(test_parse(&list, test_good, strlen(test_good), false, &error), 0);
	rec = &list.recs[1];
	v = maildir_uidlist_rec_ext(rec, 'S', &len);
	CHECK(v != NULL && len == 2 && memcmp(v, "20", 2) == 0);
	CHECK(maildir_uidlist_rec_ext(rec, 'M', &len) == NULL);
	CHECK_INT(maildir_uidlist_rec_ext_u64(rec, 'W', &n), 1);
	CHECK_INT(n, 22);
	maildir_uidlist_rec_ext_set(rec, 'M', "5");
	maildir_uidlist_rec_ext_set(rec, 'W', "23");
	maildir_uidlist_rec_ext_set(rec, 'F', "");
	CHECK_STR(rec->ext, "S20 M5 W23 F");
	v = maildir_uidlist_rec_ext(rec, 'F', &len);
	CHECK(v != NULL && len == 0);
	CHECK_INT(maildir_uidlist_rec_ext_u64(rec, 'F', &n), 0);
	maildir_uidlist_rec_ext_set(rec, 'S', NULL);
	maildir_uidlist_rec_ext_set(rec, 'W', NULL);
	maildir_uidlist_rec_ext_set(rec, 'F', NULL);
	maildir_uidlist_rec_ext_set(rec, 'M', NULL);
	CHECK(rec->ext == NULL);
	maildir_uidlist_rec_ext_set(&list.recs[0], 'M', "18446744073709551615");
	CHECK_INT(maildir_uidlist_rec_ext_u64(&list.recs[0], 'M', &n), 1);
	CHECK(n == UINT64_MAX);
	maildir_uidlist_rec_ext_set(&list.recs[0], 'M', "18446744073709551616");
	CHECK_INT(maildir_uidlist_rec_ext_u64(&list.recs[0], 'M', &n), 0);
	maildir_uidlist_rec_ext_set(&list.recs[0], 'M', "12x");
	CHECK_INT(maildir_uidlist_rec_ext_u64(&list.recs[0], 'M', &n), 0);
	/* Header fields besides V N G: Y kept in place, M added. */
	CHECK_INT(maildir_uidlist_hdr_ext_u64(&list, 'Y', &n), 1);
	CHECK_INT(n, 2);
	maildir_uidlist_hdr_ext_set(&list, 'M', "9");
	CHECK_INT(maildir_uidlist_hdr_ext_u64(&list, 'M', &n), 1);
	CHECK_INT(n, 9);
	buf_init(&out, BUF_NO_LIMIT);
	maildir_uidlist_format(&list, &out);
	CHECK(strncmp(buf_cstr(&out), "3 V1700000000 N10 G0123456789abcdef0123456789abcdef X1 Y2 M9\n", 60) == 0);
	buf_free(&out);
	/* Lookups by base name; add gives the next UID. */
	CHECK(maildir_uidlist_find_base(&list, "1700000001.M1P1.host,S=20:2,RS") == &list.recs[1]);
	CHECK(maildir_uidlist_find_base(&list, "1700000001.M1P1") == NULL);
	rec = maildir_uidlist_add(&list, "1800000000.M1P1.host:2,S");
	CHECK_INT(rec->uid, 10);
	CHECK_STR(rec->base, "1800000000.M1P1.host");
	CHECK_INT(list.next_uid, 11);
	maildir_uidlist_free(&list);
}

static void test_uidlist_locked_steps(void)
{
	char *md = xasprintf("%s/steps", test_dir), *a, *b, *path;
	struct maildir_uidlist list;
	struct dotlock *lock;
	const char *error;
	bool changed;

	CHECK_INT(maildir_create(md, &error), 0);
	a = test_deliver(md, "a\n");
	b = test_deliver(md, "b\n");
	maildir_uidlist_init(&list);
	CHECK_INT(maildir_uidlist_lock(md, &test_lock_set, &lock, &error), 0);
	CHECK_INT(maildir_uidlist_refresh_locked(md, &list, &changed, &error), 0);
	CHECK(changed);
	CHECK_INT(list.count, 2);
	CHECK_INT(list.dropped, 0);
	maildir_uidlist_rec_ext_set(&list.recs[0], 'M', "7");
	CHECK_INT(maildir_uidlist_write(md, &list, &error), 0);
	/* Held: another sync gives up after its timeout. */
	const struct dotlock_settings quick = { 100, 120 };
	struct maildir_uidlist other;
	maildir_uidlist_init(&other);
	CHECK_INT(maildir_uidlist_sync(md, &quick, &other, &error), -1);
	maildir_uidlist_free(&other);
	CHECK_INT(maildir_uidlist_unlock(&lock, &error), 0);
	/* A file gone is dropped and counted; the extension field stays. */
	path = xasprintf("%s/%s", md, b);
	CHECK(unlink(path) == 0);
	free(path);
	CHECK_INT(maildir_uidlist_lock(md, &test_lock_set, &lock, &error), 0);
	CHECK_INT(maildir_uidlist_refresh_locked(md, &list, &changed, &error), 0);
	CHECK(changed);
	CHECK_INT(list.count, 1);
	CHECK_INT(list.dropped, 1);
	CHECK_STR(list.recs[0].ext, "M7");
	CHECK_INT(maildir_uidlist_write(md, &list, &error), 0);
	CHECK_INT(maildir_uidlist_refresh_locked(md, &list, &changed, &error), 0);
	CHECK(!changed);
	CHECK_INT(list.dropped, 0);
	/* A lock someone took over is reported at unlock. */
	char *lockpath = xasprintf("%s/dovecot-uidlist.lock", md);
	CHECK(unlink(lockpath) == 0);
	FILE *f = fopen(lockpath, "w");
	fputs("1:elsewhere", f);
	fclose(f);
	CHECK_INT(maildir_uidlist_unlock(&lock, &error), -1);
	unlink(lockpath);
	free(lockpath);
	maildir_uidlist_free(&list);
	free(a);
	free(b);
	free(md);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("uidlist parse, whole and trickled, and format", test_uidlist_parse_good);
	test_run("uidlist malformed lines are skipped", test_uidlist_parse_malformed);
	test_run("uidlist bad headers are refused", test_uidlist_parse_bad_header);
	test_run("uidlist overlong line", test_uidlist_overlong_line);
	test_run("uidlist sync: assign, move, flag, expunge", test_uidlist_sync);
	test_run("uidlist sync waits for the lock, then gives up", test_uidlist_sync_locked_out);
	test_run("uidlist concurrent writers never share a UID", test_uidlist_concurrent);
	test_run("uidlist extension fields, lookups by base", test_uidlist_ext_fields);
	test_run("uidlist lock, refresh, write, unlock in steps", test_uidlist_locked_steps);
	char *rm = xasprintf("rm -rf %s", test_dir);
	int rm_status = system(rm);

	free(rm);
	return rm_status == 0 ? test_done() : 1;
}
