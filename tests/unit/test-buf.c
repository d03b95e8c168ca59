#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "test.h"

static void test_buf_append_and_limit(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_STR(buf_cstr(&b), "");
	CHECK_INT(buf_append_str(&b, "abcd"), 0);
	CHECK_INT(buf_append_str(&b, "efgh"), 0);
	CHECK_STR(buf_cstr(&b), "abcdefgh");
	/* One byte over the limit fails and leaves the content alone. */
	CHECK_INT(buf_append_char(&b, 'x'), -1);
	CHECK_INT(b.len, 8);
	CHECK_STR(buf_cstr(&b), "abcdefgh");
	CHECK_INT(buf_printf(&b, "%d", 1), -1);
	CHECK_INT(b.len, 8);
	buf_free(&b);
}

static void test_buf_consume_truncate(void)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	buf_printf(&b, "%s=%d;", "key", 42);
	CHECK_STR(buf_cstr(&b), "key=42;");
	buf_consume(&b, 4);
	CHECK_STR(buf_cstr(&b), "42;");
	buf_truncate(&b, 2);
	CHECK_STR(buf_cstr(&b), "42");
	buf_truncate(&b, 10);
	CHECK_INT(b.len, 2);
	buf_consume(&b, 100);
	CHECK_INT(b.len, 0);
	CHECK_STR(buf_cstr(&b), "");
	buf_free(&b);
}

static void test_buf_binary_and_growth(void)
{
	struct buf b;
	char chunk[1000];

	memset(chunk, 0, sizeof(chunk));
	buf_init(&b, 100000);
	for (int i = 0; i < 100; i++)
		CHECK_INT(buf_append(&b, chunk, sizeof(chunk)), 0);
	CHECK_INT(b.len, 100000);
	CHECK_INT(buf_append(&b, chunk, 1), -1);
	CHECK(b.cap >= b.len + 1);
	buf_free(&b);
}

static void test_buf_steal(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 16);
	s = buf_steal(&b);
	CHECK_STR(s, "");
	free(s);
	buf_append_str(&b, "kept");
	s = buf_steal(&b);
	CHECK_STR(s, "kept");
	CHECK_INT(b.len, 0);
	CHECK_INT(b.limit, 16);
	free(s);
}

int main(void)
{
	test_run("buf append and limit", test_buf_append_and_limit);
	test_run("buf consume and truncate", test_buf_consume_truncate);
	test_run("buf binary data and growth", test_buf_binary_and_growth);
	test_run("buf steal", test_buf_steal);
	return test_done();
}
