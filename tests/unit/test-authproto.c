#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto-auth.h"
#include "test.h"
#include "xalloc.h"

/* Split a copy, as the session does with a line from the reader. */
static int split(const char *text, struct authproto_line *l, char **copy_r, const char **error_r)
{
	size_t len = strlen(text);

	*copy_r = xmalloc(len + 1);
	memcpy(*copy_r, text, len);
	return authproto_split(*copy_r, len, l, error_r);
}

static void test_authproto_split(void)
{
	struct authproto_line l;
	const char *error;
	char *copy;

	CHECK_INT(split("VERSION\t1\t2", &l, &copy, &error), 0);
	CHECK_STR(l.cmd, "VERSION");
	CHECK_INT(l.nargs, 2);
	CHECK_STR(l.args[0], "1");
	CHECK_STR(l.args[1], "2");
	free(copy);
	/* Empty fields are fields. */
	CHECK_INT(split("CONT\t7\t", &l, &copy, &error), 0);
	CHECK_INT(l.nargs, 2);
	CHECK_STR(l.args[1], "");
	free(copy);
	/* Escapes: \001 1 t r n, and any other character stands for itself. */
	CHECK_INT(split("X\ta\001tb\0011c\001r\001nd\001xe", &l, &copy, &error), 0);
	CHECK_STR(l.args[0], "a\tb\001c\r\ndxe");
	free(copy);
	CHECK_INT(split("DONE", &l, &copy, &error), 0);
	CHECK_STR(l.cmd, "DONE");
	CHECK_INT(l.nargs, 0);
	free(copy);
}

static void test_authproto_split_malformed(void)
{
	static const char *const bad[] = {
		"", "\tAUTH", "X\ta\001", "X\ta\0010b", "\001",
	};
	struct authproto_line l;
	const char *error = NULL;
	struct buf many;
	char *copy;
	char nul[] = "AUTH\t1\0x";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK_INT(split(bad[i], &l, &copy, &error), -1);
		CHECK(error != NULL);
		free(copy);
	}
	/* A NUL byte inside the line. */
	CHECK_INT(authproto_split(nul, 8, &l, &error), -1);
	CHECK_STR(error, "NUL byte in line");
	/* One field too many. */
	buf_init(&many, BUF_NO_LIMIT);
	buf_append_str(&many, "AUTH");
	for (int i = 0; i < AUTHPROTO_MAX_ARGS; i++)
		buf_append_str(&many, "\tx");
	CHECK_INT(split(buf_cstr(&many), &l, &copy, &error), 0);
	CHECK_INT(l.nargs, AUTHPROTO_MAX_ARGS);
	free(copy);
	buf_append_str(&many, "\tx");
	CHECK_INT(split(buf_cstr(&many), &l, &copy, &error), -1);
	CHECK_STR(error, "too many fields");
	free(copy);
	buf_free(&many);
}

static void test_authproto_id(void)
{
	uint32_t id;

	CHECK_INT(authproto_parse_id("0", &id), 0);
	CHECK_INT(id, 0);
	CHECK_INT(authproto_parse_id("4294967295", &id), 0);
	CHECK(id == 4294967295u);
	CHECK_INT(authproto_parse_id("4294967296", &id), -1);
	CHECK_INT(authproto_parse_id("99999999999999999999999", &id), -1);
	CHECK_INT(authproto_parse_id("", &id), -1);
	CHECK_INT(authproto_parse_id("-1", &id), -1);
	CHECK_INT(authproto_parse_id("+1", &id), -1);
	CHECK_INT(authproto_parse_id("1 ", &id), -1);
	CHECK_INT(authproto_parse_id("0x10", &id), -1);
}

static int parse_auth(const char *text, struct authproto_auth *a, const char **error_r)
{
	struct authproto_line l;
	static char *copy;
	int r;

	free(copy);
	r = split(text, &l, &copy, error_r);
	CHECK_INT(r, 0);
	CHECK_STR(l.cmd, "AUTH");
	return authproto_parse_auth(&l, a, error_r);
}

static void test_authproto_auth(void)
{
	struct authproto_auth a;
	char ip[NETADDR_STRLEN];
	const char *error;

	CHECK_INT(parse_auth("AUTH\t12\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1"
			     "\trip=2001:db8::7\tlport=587\trport=40000\tsecured"
			     "\tvalid-client-cert\tno-penalty\tfuture=1\tresp=AGEAYg==",
			     &a, &error), 0);
	CHECK_INT(a.id, 12);
	CHECK_STR(a.mech, "PLAIN");
	CHECK_STR(a.service, "smtp");
	CHECK(a.secured && a.valid_client_cert && a.no_penalty);
	CHECK(a.have_lip && a.have_rip);
	CHECK_STR(netaddr_str(&a.lip, ip), "127.0.0.1");
	CHECK_INT(a.lip.port, 587);
	CHECK_INT(a.rip.family, AF_INET6);
	CHECK_STR(netaddr_str(&a.rip, ip), "2001:db8::7");
	CHECK_INT(a.rip.port, 40000);
	CHECK_STR(a.resp, "AGEAYg==");
	/* The minimum; resp= present but empty is an empty initial response. */
	CHECK_INT(parse_auth("AUTH\t1\tLOGIN\tservice=imap", &a, &error), 0);
	CHECK(!a.secured && !a.have_rip && a.resp == NULL);
	CHECK_INT(parse_auth("AUTH\t1\tLOGIN\tservice=imap\tresp=", &a, &error), 0);
	CHECK_STR(a.resp, "");
}

static void test_authproto_auth_malformed(void)
{
	static const struct {
		const char *line, *error;
	} bad[] = {
		{ "AUTH", "AUTH without id and mechanism" },
		{ "AUTH\t1", "AUTH without id and mechanism" },
		{ "AUTH\tx\tPLAIN\tservice=smtp", "bad request id" },
		{ "AUTH\t\tPLAIN\tservice=smtp", "bad request id" },
		{ "AUTH\t1\t\tservice=smtp", "empty mechanism" },
		{ "AUTH\t1\tPLAIN", "AUTH without service" },
		{ "AUTH\t1\tPLAIN\tservice=", "AUTH without service" },
		{ "AUTH\t1\tPLAIN\tservice=smtp\trip=999.1.1.1", "bad rip" },
		{ "AUTH\t1\tPLAIN\tservice=smtp\tlip=host", "bad lip" },
		{ "AUTH\t1\tPLAIN\tservice=smtp\trport=70000", "bad rport" },
		{ "AUTH\t1\tPLAIN\tservice=smtp\tlport=-1", "bad lport" },
	};
	struct authproto_auth a;
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		CHECK_INT(parse_auth(bad[i].line, &a, &error), -1);
		CHECK_STR(error != NULL ? error : "(none)", bad[i].error);
	}
}

static void test_authproto_escape(void)
{
	struct authproto_line l;
	const char *error;
	struct buf b;
	char *copy;

	buf_init(&b, 64);
	CHECK_INT(authproto_escape(&b, "a\tb\001c\r\nd"), 0);
	CHECK_STR(buf_cstr(&b), "a\001tb\0011c\001r\001nd");
	/* What we escape, the parser gives back. */
	{
		char line[80];

		snprintf(line, sizeof(line), "OK\t%s", buf_cstr(&b));
		CHECK_INT(split(line, &l, &copy, &error), 0);
		CHECK_STR(l.args[0], "a\tb\001c\r\nd");
		free(copy);
	}
	buf_free(&b);
	buf_init(&b, 3);
	CHECK_INT(authproto_escape(&b, "\t\t"), -1);
	buf_free(&b);
}

int main(void)
{
	test_run("auth protocol line split and unescape", test_authproto_split);
	test_run("auth protocol malformed lines", test_authproto_split_malformed);
	test_run("auth protocol request ids", test_authproto_id);
	test_run("auth protocol AUTH parameters", test_authproto_auth);
	test_run("auth protocol malformed AUTH", test_authproto_auth_malformed);
	test_run("auth protocol escaping", test_authproto_escape);
	return test_done();
}
