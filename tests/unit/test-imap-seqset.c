#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-seqset.h"
#include "test.h"

/* Parse, then format the raw set back. */
static void check_raw(const char *s, unsigned flags, const char *want)
{
	struct imap_seqset set;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(imap_seqset_parse(s, flags, &set, &error), 0);
	imap_seqset_format(&set, &b);
	CHECK_STR(buf_cstr(&b), want);
	CHECK(imap_seqset_is_valid(s) || (flags & IMAP_SEQSET_NO_STAR) != 0);
	imap_seqset_free(&set);
	buf_free(&b);
}

static void check_bad(const char *s, unsigned flags, const char *want_error)
{
	struct imap_seqset set;
	const char *error = NULL;

	CHECK_INT(imap_seqset_parse(s, flags, &set, &error), -1);
	CHECK_STR(error, want_error);
	CHECK(set.ranges == NULL && set.count == 0);
}

/* Resolve against max and format: "ERR <reason>" on error. */
static char *resolved(const char *s, uint32_t max, bool uid)
{
	struct imap_seqset raw, set;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (imap_seqset_parse(s, 0, &raw, &error) < 0) {
		buf_printf(&b, "PARSE %s", error);
		return buf_steal(&b);
	}
	if (uid)
		imap_seqset_resolve_uid(&raw, max, &set);
	else if (imap_seqset_resolve_seq(&raw, max, &set, &error) < 0)
		buf_printf(&b, "ERR %s", error);
	if (b.len == 0) {
		imap_seqset_format(&set, &b);
		/* The formatted set parses back to itself. */
		if (set.count > 0)
			CHECK(imap_seqset_is_valid(b.data));
	}
	imap_seqset_free(&raw);
	imap_seqset_free(&set);
	return buf_steal(&b);
}

#define CHECK_RESOLVED(s, max, uid, want) \
	do { char *got_ = resolved(s, max, uid); CHECK_STR(got_, want); free(got_); } while (0)

static void test_seqset_parse(void)
{
	check_raw("1", 0, "1");
	check_raw("1:*", 0, "1:*");
	check_raw("*", 0, "*");
	check_raw("5,7:9,*", 0, "5,7:9,*");
	check_raw("9:7,*:3", 0, "9:7,*:3");
	check_raw("4294967295", 0, "4294967295");
	check_raw("1:2,3", IMAP_SEQSET_NO_STAR, "1:2,3");
	check_bad("", 0, "Invalid sequence set");
	check_bad("0", 0, "Sequence numbers start at 1");
	check_bad("1:0", 0, "Sequence numbers start at 1");
	check_bad("01", 0, "Sequence numbers start at 1");
	check_bad("1,", 0, "Invalid sequence set");
	check_bad(",1", 0, "Invalid sequence set");
	check_bad("1::2", 0, "Invalid sequence set");
	check_bad("1:2:3", 0, "Invalid sequence set");
	check_bad("1 2", 0, "Invalid sequence set");
	check_bad("-1", 0, "Invalid sequence set");
	check_bad("4294967296", 0, "Sequence number too large");
	check_bad("$", 0, "$ (SEARCHRES) is not supported");
	check_bad("1,$", 0, "$ (SEARCHRES) is not supported");
	check_bad("1:*", IMAP_SEQSET_NO_STAR, "\"*\" is not allowed in a UID set");
	CHECK(!imap_seqset_is_valid("ALL"));
}

static void test_seqset_resolve(void)
{
	CHECK_RESOLVED("1:*", 10, false, "1:10");
	CHECK_RESOLVED("*", 10, false, "10");
	CHECK_RESOLVED("*:4", 10, false, "4:10");
	CHECK_RESOLVED("5,7:9,*,1:2,3,6", 10, false, "1:3,5:10");
	CHECK_RESOLVED("3,3,3:3", 10, false, "3");
	CHECK_RESOLVED("11", 10, false, "ERR Invalid message sequence number");
	CHECK_RESOLVED("1:11", 10, false, "ERR Invalid message sequence number");
	CHECK_RESOLVED("1:*", 0, false, "ERR No messages in the mailbox");
	/* UIDs: out-of-range numbers are dropped, n:* keeps the last UID. */
	CHECK_RESOLVED("1:*", 500, true, "1:500");
	CHECK_RESOLVED("559:*", 500, true, "500");
	CHECK_RESOLVED("600", 500, true, "");
	CHECK_RESOLVED("490:600,1", 500, true, "1,490:500");
	CHECK_RESOLVED("1:*", 0, true, "");
	CHECK_RESOLVED("4294967295:1", 7, true, "1:7");
}

static void test_seqset_membership(void)
{
	struct imap_seqset raw, set;
	struct imap_seqset_iter iter;
	const char *error;
	uint32_t n, seen[16];
	size_t count = 0;

	CHECK_INT(imap_seqset_parse("2,4:6,9:*", 0, &raw, &error), 0);
	CHECK(imap_seqset_contains_raw(&raw, 5, 12));
	CHECK(imap_seqset_contains_raw(&raw, 12, 12));
	CHECK(!imap_seqset_contains_raw(&raw, 13, 12));
	CHECK(!imap_seqset_contains_raw(&raw, 3, 12));
	/* "9:*" with * = 7 is 7:9. */
	CHECK(imap_seqset_contains_raw(&raw, 8, 7));
	CHECK_INT(imap_seqset_resolve_seq(&raw, 11, &set, &error), 0);
	CHECK_INT(imap_seqset_count(&set), 7);
	for (uint32_t i = 0; i <= 12; i++)
		CHECK(imap_seqset_contains(&set, i) == (i == 2 || (i >= 4 && i <= 6) || i >= 9) ||
		      i == 12);
	CHECK(!imap_seqset_contains(&set, 12));
	imap_seqset_iter_init(&iter, &set);
	while (imap_seqset_iter_next(&iter, &n) && count < 16)
		seen[count++] = n;
	CHECK_INT(count, 7);
	CHECK_INT(seen[0], 2);
	CHECK_INT(seen[1], 4);
	CHECK_INT(seen[3], 6);
	CHECK_INT(seen[6], 11);
	imap_seqset_free(&raw);
	imap_seqset_free(&set);
	/* Iteration up to the largest number ends. */
	memset(&set, 0, sizeof(set));
	imap_seqset_add(&set, UINT32_MAX - 1, UINT32_MAX);
	imap_seqset_iter_init(&iter, &set);
	count = 0;
	while (imap_seqset_iter_next(&iter, &n) && count < 16)
		count++;
	CHECK_INT(count, 2);
	imap_seqset_free(&set);
}

static void test_seqset_build(void)
{
	struct imap_seqset set;
	struct buf b;

	memset(&set, 0, sizeof(set));
	buf_init(&b, BUF_NO_LIMIT);
	imap_seqset_add(&set, 7, 7);
	imap_seqset_add(&set, 3, 5);
	imap_seqset_add(&set, 6, 6);
	imap_seqset_add(&set, 10, 9);
	imap_seqset_normalize(&set);
	imap_seqset_format(&set, &b);
	CHECK_STR(buf_cstr(&b), "3:7,9:10");
	imap_seqset_free(&set);
	buf_free(&b);
	/* A limit on the output is honoured. */
	buf_init(&b, 3);
	imap_seqset_add(&set, 100, 200);
	CHECK_INT(imap_seqset_format(&set, &b), -1);
	imap_seqset_free(&set);
	buf_free(&b);
}

int main(void)
{
	test_run("seqset parse", test_seqset_parse);
	test_run("seqset resolve", test_seqset_resolve);
	test_run("seqset membership and iteration", test_seqset_membership);
	test_run("seqset build and format", test_seqset_build);
	return test_done();
}
