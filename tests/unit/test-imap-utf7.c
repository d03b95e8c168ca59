#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-utf7.h"
#include "test.h"

static void check_pair(const char *utf7, const char *utf8)
{
	struct buf b;
	const char *error = NULL;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(imap_utf7_to_utf8(utf7, &b, &error), 0);
	CHECK_STR(buf_cstr(&b), utf8);
	buf_reset(&b);
	CHECK_INT(imap_utf8_to_utf7(utf8, &b, &error), 0);
	CHECK_STR(buf_cstr(&b), utf7);
	CHECK(imap_utf7_is_valid(utf7));
	buf_free(&b);
}

static void check_bad_utf7(const char *utf7, const char *want_error)
{
	struct buf b;
	const char *error = NULL;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(imap_utf7_to_utf8(utf7, &b, &error), -1);
	CHECK_STR(error, want_error);
	CHECK(!imap_utf7_is_valid(utf7));
	buf_free(&b);
}

static void test_utf7_good(void)
{
	check_pair("", "");
	check_pair("INBOX", "INBOX");
	check_pair("&-", "&");
	check_pair("Tom &- Jerry", "Tom & Jerry");
	check_pair("Entw&APw-rfe", "Entw\xc3\xbc" "rfe");
	/* RFC 3501 5.1.3's example. */
	check_pair("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		   "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	check_pair("&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc");
	/* A code point past the BMP: a surrogate pair. */
	check_pair("&2D3eAA-", "\xf0\x9f\x98\x80");
	check_pair("a&AAE-b", "a\x01" "b");
}

static void test_utf7_bad(void)
{
	check_bad_utf7("&", "mUTF-7: unterminated or invalid BASE64 run");
	check_bad_utf7("&AOQ", "mUTF-7: unterminated or invalid BASE64 run");
	check_bad_utf7("&AOQ/-", "mUTF-7: unterminated or invalid BASE64 run");
	check_bad_utf7("&AGE-", "mUTF-7: printable ASCII must not be encoded");
	check_bad_utf7("&AOQ-&APY-", "mUTF-7: adjacent BASE64 runs");
	check_bad_utf7("&AOR-", "mUTF-7: bad BASE64 padding");
	check_bad_utf7("&AOQA-", "mUTF-7: bad BASE64 padding");
	check_bad_utf7("&2D0-", "mUTF-7: lone high surrogate");
	check_bad_utf7("&3gA-", "mUTF-7: lone low surrogate");
	check_bad_utf7("&2D3YPQ-", "mUTF-7: lone high surrogate");
	check_bad_utf7("caf\xc3\xa9", "mUTF-7: byte outside printable ASCII");
	check_bad_utf7("&AAA-", "mUTF-7: NUL character");
	check_bad_utf7("a\tb", "mUTF-7: byte outside printable ASCII");
	/* The strict forms still pass: "&-" right after a run is "&". */
	check_pair("&AOQ-&-", "\xc3\xa4&");
}

static void test_utf8_validation(void)
{
	struct buf b;
	const char *error = NULL;
	unsigned cp;

	CHECK_INT(imap_utf8_validate("abc\xc3\xa4", 5), 0);
	CHECK_INT(imap_utf8_validate("\xc0\x80", 2), -1);          /* overlong */
	CHECK_INT(imap_utf8_validate("\xed\xa0\x80", 3), -1);      /* surrogate */
	CHECK_INT(imap_utf8_validate("\xf4\x90\x80\x80", 4), -1);  /* past U+10FFFF */
	CHECK_INT(imap_utf8_validate("\xe2\x82", 2), -1);          /* truncated */
	CHECK_INT(imap_utf8_decode_one("\xe2\x82\xac", 3, &cp), 3);
	CHECK_INT(cp, 0x20ac);
	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(imap_utf8_to_utf7("bad\xff", &b, &error), -1);
	CHECK_STR(error, "invalid UTF-8");
	buf_free(&b);
	/* The destination's limit is honoured. */
	buf_init(&b, 4);
	CHECK_INT(imap_utf8_to_utf7("\xc3\xa4\xc3\xb6\xc3\xbc", &b, &error), -1);
	CHECK_STR(error, "mUTF-7: name too long");
	buf_free(&b);
}

/* Every BMP code point and some beyond survive a round trip. */
static void test_utf7_round_trip(void)
{
	struct buf u8, u7, back;
	const char *error;
	int bad = 0;

	buf_init(&u8, BUF_NO_LIMIT);
	buf_init(&u7, BUF_NO_LIMIT);
	buf_init(&back, BUF_NO_LIMIT);
	for (unsigned cp = 1; cp < 0x110000 && bad < 5; cp += cp < 0x10000 ? 1 : 997) {
		char enc[5] = { 0 };

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			enc[0] = (char)cp;
		} else if (cp < 0x800) {
			enc[0] = (char)(0xc0 | (cp >> 6)), enc[1] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			enc[0] = (char)(0xe0 | (cp >> 12));
			enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), enc[2] = (char)(0x80 | (cp & 0x3f));
		} else {
			enc[0] = (char)(0xf0 | (cp >> 18)), enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), enc[3] = (char)(0x80 | (cp & 0x3f));
		}
		buf_reset(&u8), buf_reset(&u7), buf_reset(&back);
		buf_printf(&u8, "x%sy%s", enc, enc);
		if (imap_utf8_to_utf7(u8.data, &u7, &error) < 0 ||
		    imap_utf7_to_utf8(u7.data, &back, &error) < 0 ||
		    strcmp(back.data, u8.data) != 0) {
			test_check_failed(__FILE__, __LINE__, "round trip");
			bad++;
		}
	}
	buf_free(&u8);
	buf_free(&u7);
	buf_free(&back);
}

int main(void)
{
	test_run("mUTF-7 good names", test_utf7_good);
	test_run("mUTF-7 invalid names", test_utf7_bad);
	test_run("UTF-8 validation", test_utf8_validation);
	test_run("mUTF-7 round trip", test_utf7_round_trip);
	return test_done();
}
