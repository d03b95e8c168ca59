#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "test.h"

static const char *escaped(const char *s)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 4096);
	log_escape(&b, s);
	return buf_cstr(&b);
}

static void test_log_escape(void)
{
	CHECK_STR(escaped("user@example.com"), "user@example.com");
	CHECK_STR(escaped(""), "\"\"");
	CHECK_STR(escaped("two words"), "\"two words\"");
	CHECK_STR(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
	/* A CRLF in a user name must not start a new log line. */
	CHECK_STR(escaped("x\r\nfail user=root"), "\"x\\x0d\\x0afail user=root\"");
	CHECK_STR(escaped("k=v"), "\"k=v\"");
	CHECK_STR(escaped("\x7f"), "\"\\x7f\"");
}

static void test_log_sid(void)
{
	char a[LOG_SID_LEN], b[LOG_SID_LEN];

	log_sid_new(a);
	log_sid_new(b);
	CHECK_INT(strlen(a), LOG_SID_LEN - 1);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") == LOG_SID_LEN - 1);
}

static void test_log_parse(void)
{
	CHECK_INT(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	CHECK_INT(log_level_parse("error"), LOG_LEVEL_ERROR);
	CHECK_INT(log_level_parse("loud"), -1);
	CHECK_INT(log_dest_parse("syslog"), LOG_DEST_SYSLOG);
	CHECK_INT(log_dest_parse("file"), -1);
	log_set_level(LOG_LEVEL_WARN);
	CHECK(!log_enabled(LOG_LEVEL_INFO));
	CHECK(log_enabled(LOG_LEVEL_ERROR));
}

int main(void)
{
	test_run("log escape", test_log_escape);
	test_run("log session ids", test_log_sid);
	test_run("log level and destination names", test_log_parse);
	return test_done();
}
