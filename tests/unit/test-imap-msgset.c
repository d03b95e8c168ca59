#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-msgset.h"
#include "test.h"
#include "xalloc.h"

/* A view of `count` messages with the given UIDs. */
static struct mbox *view(const uint32_t *uids, size_t count)
{
	struct mbox *box = xcalloc(1, sizeof(*box));

	box->msgs = xcalloc(count + 1, sizeof(*box->msgs));
	for (size_t i = 0; i < count; i++)
		box->msgs[i].uid = uids[i];
	box->count = count;
	return box;
}

static void view_free(struct mbox *box)
{
	free(box->msgs);
	free(box);
}

/* The resolved indexes as "0,2,3", or "ERR <reason>". */
static char *resolved(const struct mbox *box, const char *set, bool uid)
{
	const char *error = NULL;
	size_t *idx = NULL, n = 0;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (imap_msgset_resolve(box, set, uid, &idx, &n, &error) < 0) {
		buf_printf(&b, "ERR %s", error);
		return buf_steal(&b);
	}
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, i == 0 ? "%zu" : ",%zu", idx[i]);
	free(idx);
	return buf_steal(&b);
}

static void check_resolved(const struct mbox *box, const char *set, bool uid, const char *want)
{
	char *got = resolved(box, set, uid);

	CHECK_STR(got, want);
	free(got);
}

static void test_sequence_numbers(void)
{
	static const uint32_t uids[] = { 3, 4, 10, 11, 12, 40 };
	struct mbox *box = view(uids, 6);

	check_resolved(box, "1", false, "0");
	check_resolved(box, "*", false, "5");
	check_resolved(box, "1:*", false, "0,1,2,3,4,5");
	/* Ranges in either order (RFC 3501 9: "2:4" and "4:2" are the same). */
	check_resolved(box, "4:2", false, "1,2,3");
	check_resolved(box, "*:5", false, "4,5");
	check_resolved(box, "6,1,3:3,1", false, "0,2,5");
	check_resolved(box, "7", false, "ERR Invalid message sequence number");
	check_resolved(box, "1:7", false, "ERR Invalid message sequence number");
	check_resolved(box, "0", false, "ERR Sequence numbers start at 1");
	check_resolved(box, "a", false, "ERR Invalid sequence set");
	check_resolved(box, "1,", false, "ERR Invalid sequence set");
	check_resolved(box, "$", false, "ERR $ (SEARCHRES) is not supported");
	view_free(box);
}

static void test_uids(void)
{
	static const uint32_t uids[] = { 3, 4, 10, 11, 12, 40 };
	struct mbox *box = view(uids, 6);
	struct mbox *empty = view(uids, 0);

	check_resolved(box, "4", true, "1");
	check_resolved(box, "5:9", true, "");
	check_resolved(box, "11:4", true, "1,2,3");
	check_resolved(box, "1:4294967295", true, "0,1,2,3,4,5");
	check_resolved(box, "*", true, "5");
	/* RFC 3501 6.4.8: "n:*" holds the highest UID even past it. */
	check_resolved(box, "100:*", true, "5");
	check_resolved(box, "41", true, "");
	check_resolved(box, "40,3,12", true, "0,4,5");
	/* Overlapping and touching ranges name each message once. */
	check_resolved(box, "1:10,4:11,39:41,12", true, "0,1,2,3,4,5");
	check_resolved(box, "12:11,5:3,40:*", true, "0,1,3,4,5");
	check_resolved(box, "x", true, "ERR Invalid sequence set");
	check_resolved(empty, "1:*", true, "");
	check_resolved(empty, "*", true, "");
	check_resolved(empty, "1", false, "ERR No messages in the mailbox");
	view_free(box);
	view_free(empty);
}

/* A large view with gaps: every range is found by search, and a set
 * covering all of it gives every index once, in order. */
static void test_uids_large(void)
{
	enum { N = 100000 };
	uint32_t *uids = xreallocarray(NULL, N, sizeof(*uids));
	const char *error;
	size_t *idx, n;
	struct mbox *box;
	bool ordered = true;

	for (size_t i = 0; i < N; i++)
		uids[i] = (uint32_t)(2 * i + 2);
	box = view(uids, N);
	CHECK_INT(imap_msgset_resolve(box, "1:*", true, &idx, &n, &error), 0);
	CHECK_INT(n, N);
	for (size_t i = 0; i < n; i++)
		ordered = ordered && idx[i] == i;
	CHECK(ordered);
	free(idx);
	check_resolved(box, "3:7,199999:200001", true, "1,2,99999");
	check_resolved(box, "1,3,5", true, "");
	free(uids);
	view_free(box);
}

static void test_find_uid(void)
{
	static const uint32_t uids[] = { 3, 4, 10, 11, 12, 40 };
	struct mbox *box = view(uids, 6);

	CHECK_INT(imap_msgset_find_uid(box, 3), 0);
	CHECK_INT(imap_msgset_find_uid(box, 40), 5);
	CHECK_INT(imap_msgset_find_uid(box, 11), 3);
	CHECK_INT(imap_msgset_find_uid(box, 2), 6);
	CHECK_INT(imap_msgset_find_uid(box, 5), 6);
	CHECK_INT(imap_msgset_find_uid(box, 41), 6);
	view_free(box);
}

static void test_uids_format(void)
{
	static const uint32_t a[] = { 1, 2, 3, 5, 7, 8, 4294967295u };
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(imap_msgset_uids_format(a, 7, &b), 0);
	CHECK_STR(buf_cstr(&b), "1:3,5,7:8,4294967295");
	buf_reset(&b);
	CHECK_INT(imap_msgset_uids_format(a, 1, &b), 0);
	CHECK_STR(buf_cstr(&b), "1");
	buf_reset(&b);
	CHECK_INT(imap_msgset_uids_format(a, 0, &b), 0);
	CHECK_STR(buf_cstr(&b), "");
	buf_free(&b);
	buf_init(&b, 4);
	CHECK_INT(imap_msgset_uids_format(a, 7, &b), -1);
	buf_free(&b);
}

int main(void)
{
	test_run("msgset sequence numbers", test_sequence_numbers);
	test_run("msgset UIDs", test_uids);
	test_run("msgset UIDs in a large view with gaps", test_uids_large);
	test_run("msgset find by UID", test_find_uid);
	test_run("msgset uid-set format", test_uids_format);
	return test_done();
}
