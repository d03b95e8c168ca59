/* The lookup protocol's request parser and field escapes. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto-lookup.h"
#include "test.h"

static int parse(const char *line, struct lookup_request *req, const char **err)
{
	return lookup_request_parse(line, strlen(line), req, err);
}

static void test_good(void)
{
	struct lookup_request req;
	const char *err;

	CHECK_INT(parse("17\tUSER\tdemo@example.test", &req, &err), 0);
	CHECK_STR(req.id, "17");
	CHECK_INT(req.cmd, LOOKUP_USER);
	CHECK_INT(req.args.count, 1);
	CHECK_STR(req.args.items[0], "demo@example.test");
	lookup_request_free(&req);

	CHECK_INT(parse("a.b-c:d_e\tsender\tx@y\tz@w", &req, &err), 0);
	CHECK_INT(req.cmd, LOOKUP_SENDER);
	CHECK_STR(req.args.items[1], "z@w");
	lookup_request_free(&req);

	CHECK_INT(parse("1\tFLUSH", &req, &err), 0);
	CHECK_INT(req.args.count, 0);
	lookup_request_free(&req);
	CHECK_INT(parse("1\tPING", &req, &err), 0);
	CHECK_INT(req.cmd, LOOKUP_PING);
	lookup_request_free(&req);

	/* escapes come out as the bytes they stand for */
	CHECK_INT(parse("2\tRCPT\ta\\tb\\\\c\\nd\\re", &req, &err), 0);
	CHECK_STR(req.args.items[0], "a\tb\\c\nd\re");
	lookup_request_free(&req);
}

static void check_error(const char *line, size_t len, const char *want_id, const char *want)
{
	struct lookup_request req;
	const char *err = NULL;

	CHECK_INT(lookup_request_parse(line, len, &req, &err), -1);
	CHECK_STR(req.id, want_id);
	CHECK_STR(err, want);
}

static void test_bad(void)
{
	char longid[64];

	check_error("", 0, "", "bad request id");
	check_error("\tUSER\tx", 7, "", "bad request id");
	check_error("a b\tUSER\tx", 10, "", "bad request id");
	memset(longid, '1', 33);
	strcpy(longid + 33, "\tPING");
	check_error(longid, strlen(longid), "", "bad request id");
	check_error("5", 1, "5", "missing command");
	check_error("5\tNOPE\tx", 8, "5", "unknown command");
	check_error("5\tUSER", 6, "5", "wrong number of fields");
	check_error("5\tUSER\ta\tb", 10, "5", "wrong number of fields");
	check_error("5\tSENDER\ta", 10, "5", "wrong number of fields");
	check_error("5\tPING\tx", 8, "5", "wrong number of fields");
	check_error("5\tUSER\t", 7, "5", "empty field");
	check_error("5\tUSER\tbad\\escape", 17, "5", "bad escape or NUL byte in a field");
	check_error("5\tUSER\ttrailing\\", 16, "5", "bad escape or NUL byte in a field");
	check_error("5\tUSER\tn\0ul", 11, "5", "bad escape or NUL byte in a field");
	check_error("5\tUSER\t1\t2\t3\t4\t5\t6\t7\t8", 22, "5", "too many fields");
}

static void test_escape_round_trip(void)
{
	static const char *const values[] = { "plain", "tab\there", "nl\nand\\bs", "", "\r\n\t\\" };
	struct authd_fields f;
	struct buf b;
	const char *err;

	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, "x");
	for (size_t i = 0; i < 5; i++)
		authd_field_add(&b, values[i]);
	CHECK(memchr(b.data, '\n', b.len) == NULL);
	CHECK_INT(authd_fields_split(b.data, b.len, 10, &f, &err), 0);
	CHECK_INT(f.count, 6);
	for (size_t i = 0; i < 5 && f.count == 6; i++)
		CHECK_STR(f.items[i + 1], values[i]);
	authd_fields_free(&f);
	buf_free(&b);
}

int main(void)
{
	test_run("good requests", test_good);
	test_run("malformed requests", test_bad);
	test_run("escapes round-trip", test_escape_round_trip);
	return test_done();
}
