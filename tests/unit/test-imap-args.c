#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-test-util.h"

/* The last command's arguments as STORE flags, as text. */
static char *store_flags_dump(const struct imap_command *cmd)
{
	struct imap_flags flags;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (cmd == NULL || cmd->count < 1) {
		buf_append_str(&b, "no command");
	} else if (imap_store_flags_parse(cmd->args, cmd->count, &flags, &error) < 0) {
		buf_printf(&b, "ERR %s", error);
	} else {
		buf_printf(&b, "%#x", flags.system);
		for (size_t i = 0; i < flags.keyword_count; i++)
			buf_printf(&b, " %s", flags.keywords[i]);
		imap_flags_free(&flags);
	}
	return buf_steal(&b);
}

static void check_store(const char *line, const char *want)
{
	char *got = imap_test_feeds(line, NULL, false, 0, store_flags_dump);

	CHECK_STR(got, want);
	free(got);
}

static void test_flags(void)
{
	check_store("a X (\\Seen \\answered)\r\n", "0x3");
	check_store("a X \\Flagged \\Deleted \\Draft\r\n", "0x1c");
	check_store("a X ($Junk \\Seen $junk NonJunk)\r\n", "0x1 $Junk NonJunk");
	check_store("a X ()\r\n", "0");
	check_store("a X (\\Recent)\r\n", "ERR \\Recent can not be set by a client");
	check_store("a X (\\Bogus)\r\n", "ERR Unknown system flag");
	check_store("a X (\"quoted\")\r\n", "ERR Flags must be atoms");
	check_store("a X (NIL)\r\n", "ERR Flags must be atoms");
	check_store("a X ((nested))\r\n", "ERR Flags must be atoms");
	check_store("a X (a%b)\r\n", "ERR Invalid keyword");
	check_store("a X (a]b)\r\n", "ERR Invalid keyword");
	check_store("a X (\\Seen) extra\r\n", "ERR Unexpected argument after flag list");
}

static void test_flag_list_and_store_mode(void)
{
	struct imap_arg atom = { .type = IMAP_ARG_ATOM, .str = (char *)"\\Seen", .len = 5 };
	struct imap_flags flags;
	enum imap_store_mode mode;
	const char *error = NULL;
	bool silent;

	CHECK_INT(imap_flag_list_parse(&atom, &flags, &error), -1);
	CHECK_STR(error, "Flag list expected");
	CHECK_INT(imap_store_mode_parse("FLAGS", &mode, &silent, &error), 0);
	CHECK(mode == IMAP_STORE_REPLACE && !silent);
	CHECK_INT(imap_store_mode_parse("+flags.silent", &mode, &silent, &error), 0);
	CHECK(mode == IMAP_STORE_ADD && silent);
	CHECK_INT(imap_store_mode_parse("-FLAGS", &mode, &silent, &error), 0);
	CHECK(mode == IMAP_STORE_REMOVE && !silent);
	CHECK_INT(imap_store_mode_parse("FLAGS.LOUD", &mode, &silent, &error), -1);
	CHECK_INT(imap_store_mode_parse("*FLAGS", &mode, &silent, &error), -1);
	CHECK_INT(imap_store_mode_parse("+-FLAGS", &mode, &silent, &error), -1);
	CHECK_INT(imap_store_mode_parse("FLAG", &mode, &silent, &error), -1);
	CHECK_INT(imap_store_mode_parse(".SILENT", &mode, &silent, &error), -1);
	CHECK_STR(error, "Invalid STORE data item");
	CHECK_INT(imap_store_mode_parse(NULL, &mode, &silent, &error), -1);
}

static void check_date(const char *s, int y, int m, int d)
{
	struct imap_date date;
	const char *error = NULL;

	CHECK_INT(imap_date_parse(s, &date, &error), 0);
	CHECK_INT(date.year, y);
	CHECK_INT(date.month, m);
	CHECK_INT(date.day, d);
}

static void test_dates(void)
{
	struct imap_date date;
	const char *error = NULL;
	static const char *const bad[] = {
		"", "1-Jan-70", "32-Jan-2024", "0-Jan-2024", "29-Feb-2023", "30-Feb-2024",
		"1-Jnu-2024", "1 Jan 2024", "01-Jan-2024x", "001-Jan-2024", "1-January-2024",
		"-Jan-2024", "1-Jan-20245", "31-Apr-2024", "29-Feb-1900",
	};

	check_date("1-Jan-2024", 2024, 1, 1);
	check_date("01-jan-2024", 2024, 1, 1);
	check_date("29-Feb-2000", 2000, 2, 29);
	check_date("29-FEB-2024", 2024, 2, 29);
	check_date("31-Dec-1999", 1999, 12, 31);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK_INT(imap_date_parse(bad[i], &date, &error), -1);
		CHECK_STR(error, "Invalid date (d-Mon-yyyy)");
	}
	date = (struct imap_date){ 1970, 1, 1 };
	CHECK_INT(imap_date_days(&date), 0);
	date = (struct imap_date){ 2000, 3, 1 };
	CHECK_INT(imap_date_days(&date), 11017);
	date = (struct imap_date){ 1969, 12, 31 };
	CHECK_INT(imap_date_days(&date), -1);
}

static void check_datetime(const char *s, long long want_time, int want_zone)
{
	struct imap_arg arg = { .type = IMAP_ARG_QUOTED, .str = (char *)s, .len = strlen(s) };
	const char *error = NULL;
	time_t t = 0;
	int zone = 0;

	CHECK_INT(imap_datetime_parse(&arg, &t, &zone, &error), want_time < 0 ? -1 : 0);
	if (want_time >= 0) {
		CHECK_INT(t, want_time);
		CHECK_INT(zone, want_zone);
	}
}

static void test_datetime(void)
{
	struct imap_arg atom = { .type = IMAP_ARG_ATOM, .str = (char *)"x", .len = 1 };
	const char *error = NULL;
	time_t t;
	int zone;

	check_datetime("01-Jan-1970 00:00:00 +0000", 0, 0);
	check_datetime(" 1-Jan-1970 01:00:00 +0100", 0, 60);
	check_datetime("17-Jul-1996 02:44:25 -0700", 837596665, -420);
	check_datetime("29-Feb-2024 23:59:59 +0530", 1709231399, 330);
	check_datetime("1-Jan-1970 00:00:00 +0000", -1, 0);
	check_datetime("01-Jan-1970 24:00:00 +0000", -1, 0);
	check_datetime("01-Jan-1970 00:60:00 +0000", -1, 0);
	check_datetime("01-Jan-1970 00:00:00 0000 ", -1, 0);
	check_datetime("01-Jan-1970 00:00:00 +0060", -1, 0);
	check_datetime("30-Feb-1970 00:00:00 +0000", -1, 0);
	check_datetime("01-Jan-1970T00:00:00 +0000", -1, 0);
	CHECK_INT(imap_datetime_parse(&atom, &t, &zone, &error), -1);
	CHECK_INT(imap_datetime_parse(NULL, &t, &zone, &error), -1);
}

static void check_mailbox(const char *name, unsigned flags, const char *want)
{
	struct buf b;
	const char *error = NULL;

	buf_init(&b, BUF_NO_LIMIT);
	if (imap_mailbox_name_check(name, flags, &b, &error) < 0)
		buf_printf(&b, "ERR %s", error);
	CHECK_STR(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_mailbox_names(void)
{
	struct buf long_name;

	check_mailbox("INBOX", 0, "INBOX");
	check_mailbox("inbox", 0, "INBOX");
	check_mailbox("InBox.Sub", 0, "INBOX.Sub");
	check_mailbox("Inboxes", 0, "Inboxes");
	check_mailbox("Sent", 0, "Sent");
	check_mailbox("Archive.2024.Q1", 0, "Archive.2024.Q1");
	check_mailbox("Entw&APw-rfe", 0, "Entw&APw-rfe");
	check_mailbox("Entw\xc3\xbcrfe", IMAP_MAILBOX_UTF8, "Entw&APw-rfe");
	check_mailbox("Tom & Jerry", IMAP_MAILBOX_UTF8, "Tom &- Jerry");
	check_mailbox("a~b", 0, "a~b");
	check_mailbox("", 0, "ERR Empty mailbox name");
	check_mailbox("..", 0, "ERR Mailbox name has an empty level");
	check_mailbox("a..b", 0, "ERR Mailbox name has an empty level");
	check_mailbox(".hidden", 0, "ERR Mailbox name has an empty level");
	check_mailbox("trailing.", 0, "ERR Mailbox name has an empty level");
	check_mailbox("a/b", 0, "ERR Mailbox name contains /, % or *");
	check_mailbox("../../etc", 0, "ERR Mailbox name contains /, % or *");
	check_mailbox("a*", 0, "ERR Mailbox name contains /, % or *");
	check_mailbox("~root", 0, "ERR Mailbox name level starts with ~");
	check_mailbox("a.~b", 0, "ERR Mailbox name level starts with ~");
	check_mailbox("a&AAE-b", 0, "ERR Mailbox name contains control characters");
	check_mailbox("a\x7f", IMAP_MAILBOX_UTF8, "ERR Mailbox name contains control characters");
	check_mailbox("a\xc2\x85", IMAP_MAILBOX_UTF8, "ERR Mailbox name contains control characters");
	check_mailbox("Entw&APw", 0, "ERR mUTF-7: unterminated or invalid BASE64 run");
	check_mailbox("&AGE-", 0, "ERR mUTF-7: printable ASCII must not be encoded");
	check_mailbox("caf\xc3\xa9", 0, "ERR mUTF-7: byte outside printable ASCII");
	check_mailbox("bad\xff", IMAP_MAILBOX_UTF8, "ERR invalid UTF-8");
	check_mailbox("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16", 0,
		      "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16");
	check_mailbox("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17", 0,
		      "ERR Mailbox name has too many levels");
	buf_init(&long_name, BUF_NO_LIMIT);
	for (int i = 0; i < IMAP_MAILBOX_MAX_LEN; i++)
		buf_append_char(&long_name, 'x');
	check_mailbox(long_name.data, 0, long_name.data);
	buf_append_char(&long_name, 'x');
	check_mailbox(long_name.data, 0, "ERR Mailbox name too long");
	buf_free(&long_name);
}

int main(void)
{
	test_run("imap args: flags, whole and trickled", test_flags);
	test_run("imap args: flag list and STORE mode", test_flag_list_and_store_mode);
	test_run("imap args: SEARCH dates", test_dates);
	test_run("imap args: APPEND date-time", test_datetime);
	test_run("imap args: mailbox names", test_mailbox_names);
	return test_done();
}
