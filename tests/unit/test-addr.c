#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "test.h"
#include "xalloc.h"

#define NUL ADDR_ALLOW_NULL
#define U8 ADDR_ALLOW_UTF8
#define NOBR ADDR_ALLOW_NO_BRACKETS
#define PM ADDR_ALLOW_POSTMASTER

struct good_case {
	const char *in;
	unsigned flags;
	const char *local;
	const char *domain;     /* NULL: none */
	bool literal, utf8, null_path;
	const char *canonical;  /* addr_to_string() */
};

static const struct good_case good_cases[] = {
	{ "<user@example.com>", 0, "user", "example.com", false, false, false, "user@example.com" },
	{ "<User.Name+tag@Example.COM>", 0, "User.Name+tag", "example.com", false, false, false,
	  "User.Name+tag@example.com" },
	{ "<>", NUL, "", NULL, false, false, true, "" },
	{ "<@relay.example,@Other.example:user@example.org>", 0, "user", "example.org",
	  false, false, false, "user@example.org" },
	{ "<\"john doe\"@example.com>", 0, "john doe", "example.com", false, false, false,
	  "\"john doe\"@example.com" },
	{ "<\"john\"@example.com>", 0, "john", "example.com", false, false, false, "john@example.com" },
	{ "<\"a\\\"b\\\\c\"@x.org>", 0, "a\"b\\c", "x.org", false, false, false, "\"a\\\"b\\\\c\"@x.org" },
	{ "<\"\\a\\ b\"@x.org>", 0, "a b", "x.org", false, false, false, "\"a b\"@x.org" },
	{ "<\"\"@x.org>", 0, "", "x.org", false, false, false, "\"\"@x.org" },
	{ "<\"a..b\"@x.org>", 0, "a..b", "x.org", false, false, false, "\"a..b\"@x.org" },
	{ "<\".a\"@x.org>", 0, ".a", "x.org", false, false, false, "\".a\"@x.org" },
	{ "<\"a@b\"@x.org>", 0, "a@b", "x.org", false, false, false, "\"a@b\"@x.org" },
	{ "<user@[192.0.2.1]>", 0, "user", "[192.0.2.1]", true, false, false, "user@[192.0.2.1]" },
	{ "<user@[IPv6:2001:DB8::1]>", 0, "user", "[IPv6:2001:db8::1]", true, false, false,
	  "user@[IPv6:2001:db8::1]" },
	{ "<user@[ipv6:::ffff:192.0.2.1]>", 0, "user", "[IPv6:::ffff:192.0.2.1]", true, false, false,
	  "user@[IPv6:::ffff:192.0.2.1]" },
	{ "<Postmaster>", PM, "Postmaster", NULL, false, false, false, "Postmaster" },
	{ "<POSTMASTER@Example.com>", PM, "POSTMASTER", "example.com", false, false, false,
	  "POSTMASTER@example.com" },
	{ "<pel\xc3\xa9@EX\xc3\x84MPLE.com>", U8, "pel\xc3\xa9", "ex\xc3\x84mple.com", false, true,
	  false, "pel\xc3\xa9@ex\xc3\x84mple.com" },
	{ "<\"\xe6\x97\xa5\xe6\x9c\xac\"@x.org>", U8, "\xe6\x97\xa5\xe6\x9c\xac", "x.org", false, true,
	  false, "\xe6\x97\xa5\xe6\x9c\xac@x.org" },
	{ "<a@\xf0\x9f\x93\xa7.example>", U8, "a", "\xf0\x9f\x93\xa7.example", false, true, false,
	  "a@\xf0\x9f\x93\xa7.example" },
	{ "<a@XN--bcher-kva.Example>", 0, "a", "xn--bcher-kva.example", false, false, false,
	  "a@xn--bcher-kva.example" },
	{ "<!#$%&'*+-/=?^_`{|}~@x.org>", 0, "!#$%&'*+-/=?^_`{|}~", "x.org", false, false, false,
	  "!#$%&'*+-/=?^_`{|}~@x.org" },
	{ "<a@1.2.3.4>", 0, "a", "1.2.3.4", false, false, false, "a@1.2.3.4" },
	{ "<a@localhost>", 0, "a", "localhost", false, false, false, "a@localhost" },
	{ "<a@a-b--c.x>", 0, "a", "a-b--c.x", false, false, false, "a@a-b--c.x" },
	{ "user@Example.com", NOBR, "user", "example.com", false, false, false, "user@example.com" },
	{ "Postmaster", NOBR | PM, "Postmaster", NULL, false, false, false, "Postmaster" },
	{ "<user@example.com>", NOBR | NUL | U8 | PM, "user", "example.com", false, false, false,
	  "user@example.com" },
};

struct bad_case {
	const char *in;
	size_t len;       /* 0: strlen(in) */
	unsigned flags;
	int ret;          /* -1 malformed, 0 incomplete */
};

static const struct bad_case bad_cases[] = {
	{ "", 0, 0, 0 },
	{ "<", 0, 0, 0 },
	{ "", 0, NOBR, 0 },
	{ "a@b.c", 0, 0, -1 },
	{ "<>", 0, 0, -1 },
	{ "<>x", 0, NUL, -1 },
	{ "<a@b.c", 0, 0, 0 },
	{ "<a@b.c>x", 0, 0, -1 },
	{ "<a@b.c>>", 0, 0, -1 },
	{ "<<a@b.c>>", 0, 0, -1 },
	{ "< a@b.c>", 0, 0, -1 },
	{ "<a@b.c >", 0, 0, -1 },
	{ "<.a@b.c>", 0, 0, -1 },
	{ "<a.@b.c>", 0, 0, -1 },
	{ "<a..b@b.c>", 0, 0, -1 },
	{ "<a b@c>", 0, 0, -1 },
	{ "<a@b c>", 0, 0, -1 },
	{ "<a\x01@c>", 0, 0, -1 },
	{ "<a\x7f@c>", 0, 0, -1 },
	{ "<a\0b@c>", 7, 0, -1 },
	{ "<a@b\x7f>", 0, 0, -1 },
	{ "<\"ab@c>", 0, 0, 0 },
	{ "<\"a\"b@c>", 0, 0, -1 },
	{ "<\"a\"\"b\"@c>", 0, 0, -1 },
	{ "<\"a\x01\"@c>", 0, 0, -1 },
	{ "<\"a\\\x01\"@c>", 0, 0, -1 },
	{ "<\"a\x0d\x0a\"@c>", 0, 0, -1 },
	{ "<user>", 0, 0, -1 },
	{ "<user>", 0, PM, -1 },
	{ "<\"postmaster\">", 0, PM, -1 },
	{ "<Postmaster>", 0, 0, -1 },
	{ "<a@>", 0, 0, -1 },
	{ "<@b.c>", 0, 0, -1 },
	{ "<a@.b>", 0, 0, -1 },
	{ "<a@b..c>", 0, 0, -1 },
	{ "<a@b.c.>", 0, 0, -1 },
	{ "<a@-b.c>", 0, 0, -1 },
	{ "<a@b-.c>", 0, 0, -1 },
	{ "<a@b.c->", 0, 0, -1 },
	{ "<a@b_c.d>", 0, 0, -1 },
	{ "<a@b@c>", 0, 0, -1 },
	{ "<a@b,c>", 0, 0, -1 },
	{ "<a@[1.2.3]>", 0, 0, -1 },
	{ "<a@[1.2.3.256]>", 0, 0, -1 },
	{ "<a@[01.2.3.4]>", 0, 0, -1 },
	{ "<a@[IPv6:1::2::3]>", 0, 0, -1 },
	{ "<a@[IPv6:1.2.3.4]>", 0, 0, -1 },
	{ "<a@[x-foo:bar]>", 0, 0, -1 },
	{ "<a@[]>", 0, 0, -1 },
	{ "<a@[1.2.3.4>", 0, 0, 0 },
	{ "<a@[1.2.3.4]x>", 0, 0, -1 },
	{ "<a@[1.2.3.4].c>", 0, 0, -1 },
	{ "<a@[ 1.2.3.4]>", 0, 0, -1 },
	{ "<a@[1.2[3].4]>", 0, 0, -1 },
	{ "<a@[1.2.3\\.4]>", 0, 0, -1 },
	{ "<@a,b:c@d>", 0, 0, -1 },
	{ "<@a;b@c>", 0, 0, -1 },
	{ "<@-a:b@c>", 0, 0, -1 },
	{ "<@a:>", 0, 0, -1 },
	{ "<@[192.0.2.1]:a@b>", 0, 0, -1 },
	{ "<@:a@b>", 0, 0, -1 },
	{ "<pel\xc3\xa9@example.com>", 0, 0, -1 },
	{ "<a@ex\xc3\xa4mple.com>", 0, 0, -1 },
	{ "<\"\xc3\xa9\"@example.com>", 0, 0, -1 },
	{ "<a\xc0\x80@b>", 0, U8, -1 },
	{ "<a\xed\xa0\x80@b>", 0, U8, -1 },
	{ "<a\xff@b>", 0, U8, -1 },
	{ "<a\xc3@b>", 0, U8, -1 },
	{ "<a@b\xf5\x80\x80\x80>", 0, U8, -1 },
	{ "<a@b\xf4\x90\x80\x80>", 0, U8, -1 },
	{ "<a@\xe2\x80>", 0, U8, -1 },
	{ "<\"\\\xc3\xa9\"@b>", 0, U8, -1 },
	{ "a@b>", 0, NOBR, -1 },
	{ "a@b,", 0, NOBR, -1 },
	{ "a@b.", 0, NOBR, -1 },
	{ "\"a@b", 0, NOBR, -1 },
	{ "a@[1.2.3.4", 0, NOBR, -1 },
	{ "user", 0, NOBR, -1 },
};

static bool addr_is_zero(const struct addr *a)
{
	return a->local == NULL && a->domain == NULL && !a->null_path &&
		!a->domain_literal && !a->utf8;
}

/* Parse from a heap copy of exactly len bytes, so a read past the end is
 * caught by the sanitizers. */
static int parse_exact(const char *s, size_t len, unsigned flags, struct addr *a,
		       size_t *consumed, const char **error)
{
	char *copy = xmalloc(len);
	int ret;

	memcpy(copy, s, len);
	ret = addr_parse_path(copy, len, flags, a, consumed, error);
	free(copy);
	return ret;
}

static void check_good(const struct good_case *c, const struct addr *a)
{
	CHECK_STR(a->local, c->local);
	CHECK_STR(a->domain, c->domain);
	CHECK_INT(a->domain_literal, c->literal);
	CHECK_INT(a->utf8, c->utf8);
	CHECK_INT(a->null_path, c->null_path);
}

static void test_addr_good_whole(void)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *c = &good_cases[i];
		const char *error = NULL;
		struct addr a;
		size_t consumed;
		int ret = parse_exact(c->in, strlen(c->in), c->flags, &a, &consumed, &error);

		CHECK_INT(ret, 1);
		if (ret != 1) {
			test_check_str(__FILE__, __LINE__, "failed input", c->in, error);
			continue;
		}
		CHECK_INT(consumed, strlen(c->in));
		check_good(c, &a);
		addr_free(&a);
		CHECK(addr_is_zero(&a));
	}
}

static void test_addr_bad_whole(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->in);
		const char *error = NULL;
		struct addr a;
		size_t consumed = 99;
		int ret = parse_exact(c->in, len, c->flags, &a, &consumed, &error);

		if (ret != c->ret)
			test_check_str(__FILE__, __LINE__, "bad input result", c->in,
				       c->ret < 0 ? "-1" : "0");
		CHECK(error != NULL && error[0] != '\0');
		CHECK(addr_is_zero(&a));
		CHECK_INT(consumed, 0);
		if (ret == 1)
			addr_free(&a);
	}
}

/* Every prefix of a good path is incomplete; once the path is whole the
 * result no longer changes, however much of the parameters follows. */
static void test_addr_trickle(void)
{
	static const char params[] = " SIZE=1000 BODY=8BITMIME";

	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *c = &good_cases[i];
		size_t plen = strlen(c->in);
		char *line;
		struct addr whole, a;
		const char *error;
		size_t consumed;

		if (c->in[0] != '<')
			continue;
		line = xasprintf("%s%s", c->in, params);
		CHECK_INT(addr_parse_path(c->in, plen, c->flags, &whole, &consumed, &error), 1);
		for (size_t k = 0; k <= strlen(line); k++) {
			int ret = parse_exact(line, k, c->flags, &a, &consumed, &error);

			if (k < plen) {
				if (ret != 0)
					test_check_mem(__FILE__, __LINE__, "prefix not incomplete",
						       line, k, error, strlen(error));
				CHECK(addr_is_zero(&a));
				continue;
			}
			CHECK_INT(ret, 1);
			CHECK_INT(consumed, plen);
			if (ret == 1) {
				CHECK(addr_equal(&a, &whole));
				addr_free(&a);
			}
		}
		addr_free(&whole);
		free(line);
	}
}

/* addr_to_string gives the canonical form, which parses back to the same
 * parts, both as a path and as a bare mailbox. */
static void test_addr_round_trip(void)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case *c = &good_cases[i];
		unsigned flags = c->flags & ~(unsigned)ADDR_ALLOW_NO_BRACKETS;
		struct addr a, b;
		const char *error;
		size_t consumed;
		char *s, *path;

		if (addr_parse_path(c->in, strlen(c->in), c->flags, &a, &consumed, &error) != 1) {
			CHECK(!"parse failed");
			continue;
		}
		s = addr_to_string(&a);
		if (c->canonical != NULL)
			CHECK_STR(s, c->canonical);
		path = xasprintf("<%s>", s);
		CHECK_INT(addr_parse_path(path, strlen(path), flags, &b, &consumed, &error), 1);
		CHECK(b.local != NULL && addr_equal(&a, &b));
		addr_free(&b);
		if (a.domain != NULL) {
			CHECK_INT(addr_parse_mailbox(s, flags, &b, &error), 0);
			CHECK(b.local != NULL && addr_equal(&a, &b));
			addr_free(&b);
		}
		free(path);
		free(s);
		addr_free(&a);
	}
}

static void test_addr_case(void)
{
	struct addr a;
	const char *error;
	size_t consumed;

	CHECK_INT(addr_parse_path("<MiXeD.Case@ExAmPlE.CoM>", 24, 0, &a, &consumed, &error), 1);
	CHECK_STR(a.local, "MiXeD.Case");
	CHECK_STR(a.domain, "example.com");
	addr_free(&a);
	CHECK(addr_domain_equal("Example.COM", "example.com"));
	CHECK(addr_domain_equal("", ""));
	CHECK(!addr_domain_equal("example.com", "example.org"));
	CHECK(!addr_domain_equal("example.com", "example.co"));
	CHECK(!addr_domain_equal("a", "ab"));
	/* U-labels are compared byte for byte: no Unicode case folding. */
	CHECK(!addr_domain_equal("ex\xc3\x84mple.com", "ex\xc3\xa4mple.com"));
	CHECK(addr_domain_equal("EX\xc3\x84MPLE.com", "ex\xc3\x84mple.COM"));
}

static void test_addr_equal(void)
{
	struct addr a = { .local = (char *)"u", .domain = (char *)"x.org" };
	struct addr b = a;

	CHECK(addr_equal(&a, &b));
	b.local = (char *)"U";
	CHECK(!addr_equal(&a, &b));
	b.local = a.local;
	b.domain = (char *)"y.org";
	CHECK(!addr_equal(&a, &b));
	b.domain = NULL;
	CHECK(!addr_equal(&a, &b));
	CHECK(!addr_equal(&b, &a));
	b.domain = a.domain;
	b.utf8 = true;
	CHECK(!addr_equal(&a, &b));
	b.utf8 = false;
	b.domain_literal = true;
	CHECK(!addr_equal(&a, &b));
	b.domain_literal = false;
	b.null_path = true;
	CHECK(!addr_equal(&a, &b));
}

static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static int parse_str(const char *s, unsigned flags, const char **error)
{
	struct addr a;
	size_t consumed;
	int ret = addr_parse_path(s, strlen(s), flags, &a, &consumed, error);

	if (ret == 1) {
		CHECK_INT(consumed, strlen(s));
		addr_free(&a);
	}
	return ret;
}

static void test_addr_limits(void)
{
	char *l64 = repeat('l', 64), *l65 = repeat('l', 65);
	char *d63 = repeat('d', 63), *d64 = repeat('d', 64);
	const char *error;
	char *s;

	s = xasprintf("<%s@x.org>", l64);
	CHECK_INT(parse_str(s, 0, &error), 1);
	free(s);
	s = xasprintf("<%s@x.org>", l65);
	CHECK_INT(parse_str(s, 0, &error), -1);
	CHECK_STR(error, "local part too long");
	free(s);
	/* The quotes count towards the limit as sent. */
	s = xasprintf("<\"%s\"@x.org>", l64 + 2);
	CHECK_INT(parse_str(s, 0, &error), 1);
	free(s);
	s = xasprintf("<\"%s\"@x.org>", l64 + 1);
	CHECK_INT(parse_str(s, 0, &error), -1);
	free(s);
	s = xasprintf("<a@%s.org>", d63);
	CHECK_INT(parse_str(s, 0, &error), 1);
	free(s);
	s = xasprintf("<a@%s.org>", d64);
	CHECK_INT(parse_str(s, 0, &error), -1);
	CHECK_STR(error, "domain label too long");
	free(s);
	/* 256 octets of path is the most; a 257th fails even if the line goes on. */
	s = xasprintf("<a@%s.%s.%s.%.60s>", d63, d63, d63, d63);
	CHECK_INT(strlen(s), 256);
	CHECK_INT(parse_str(s, 0, &error), 1);
	free(s);
	s = xasprintf("<a@%s.%s.%s.%.61s> SIZE=1", d63, d63, d63, d63);
	CHECK_INT(parse_str(s, 0, &error), -1);
	CHECK_STR(error, "address too long");
	free(s);
	s = xasprintf("<a@%s.%s.%s.%s.%s", d63, d63, d63, d63, d63);
	CHECK_INT(parse_str(s, 0, &error), -1);
	CHECK_STR(error, "address too long");
	free(s);
	/* A source route counts towards the path. */
	s = xasprintf("<@%s.%s:a@%s.%.60s>", d63, d63, d63, d63);
	CHECK_INT(parse_str(s, 0, &error), -1);
	free(s);
	/* Without brackets the mailbox still has to fit in a path. */
	s = xasprintf("a@%s.%s.%s.%.61s", d63, d63, d63, d63);
	CHECK_INT(parse_str(s, NOBR, &error), -1);
	free(s);
	s = xasprintf("a@%s.%s.%s.%.60s", d63, d63, d63, d63);
	CHECK_INT(parse_str(s, NOBR, &error), 1);
	free(s);
	free(l64);
	free(l65);
	free(d63);
	free(d64);
}

static void test_addr_params_follow(void)
{
	struct addr a;
	const char *error;
	size_t consumed;

	CHECK_INT(addr_parse_path("<a@b.c> SIZE=10", 15, 0, &a, &consumed, &error), 1);
	CHECK_INT(consumed, 7);
	addr_free(&a);
	CHECK_INT(addr_parse_path("<> BODY=8BITMIME", 16, NUL, &a, &consumed, &error), 1);
	CHECK_INT(consumed, 2);
	CHECK(a.null_path);
	addr_free(&a);
	CHECK_INT(addr_parse_path("a@B.c SIZE=10", 13, NOBR, &a, &consumed, &error), 1);
	CHECK_INT(consumed, 5);
	CHECK_STR(a.domain, "b.c");
	addr_free(&a);
	CHECK_INT(addr_parse_path("<a@b.c>SIZE=10", 14, 0, &a, &consumed, &error), -1);
	CHECK_STR(error, "unexpected text after address");
	/* The length given is honoured: nothing after it is looked at. */
	CHECK_INT(addr_parse_path("<a@b.c>x", 7, 0, &a, &consumed, &error), 1);
	addr_free(&a);
}

static void test_addr_mailbox(void)
{
	static const char *const bad[] = {
		"", "user", "user@", "@example.com", "<user@example.com>", "user@example.com>",
		" user@example.com", "user@example.com ", "user@example.com\n", "a@b..c",
		"pel\xc3\xa9@example.com", "\"a@b", "a@[1.2.3.4", "postmaster",
	};
	struct addr a;
	const char *error;

	CHECK_INT(addr_parse_mailbox("Info@Example.COM", 0, &a, &error), 0);
	CHECK_STR(a.local, "Info");
	CHECK_STR(a.domain, "example.com");
	addr_free(&a);
	CHECK_INT(addr_parse_mailbox("\"a b\"@[IPv6:::1]", 0, &a, &error), 0);
	CHECK_STR(a.local, "a b");
	CHECK_STR(a.domain, "[IPv6:::1]");
	CHECK(a.domain_literal);
	addr_free(&a);
	CHECK_INT(addr_parse_mailbox("pel\xc3\xa9@example.com", U8, &a, &error), 0);
	CHECK(a.utf8);
	addr_free(&a);
	CHECK_INT(addr_parse_mailbox("postmaster", PM, &a, &error), 0);
	CHECK(a.domain == NULL);
	addr_free(&a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (addr_parse_mailbox(bad[i], 0, &a, &error) != -1)
			test_check_str(__FILE__, __LINE__, "bad mailbox accepted", bad[i], NULL);
		CHECK(error != NULL && addr_is_zero(&a));
	}
}

static void test_addr_errors(void)
{
	static const struct { const char *in; unsigned flags; const char *error; } cases[] = {
		{ "<>", 0, "null address not allowed here" },
		{ "a@b", 0, "address must be enclosed in <>" },
		{ "<user>", 0, "address has no domain" },
		{ "<a..b@c>", 0, "local part has two dots in a row" },
		{ "<a@b.>", 0, "domain ends with a dot" },
		{ "<a@b..c>", 0, "empty label in domain" },
		{ "<a@-b>", 0, "domain label starts with a hyphen" },
		{ "<a@b->", 0, "domain label ends with a hyphen" },
		{ "<\xc3\xa9@b>", 0, "non-ASCII address without SMTPUTF8" },
		{ "<\xc3\x28@b>", U8, "invalid UTF-8 in address" },
		{ "<a@[1.2.3.999]>", 0, "invalid IPv4 address literal" },
		{ "<a@[IPv6:zz]>", 0, "invalid IPv6 address literal" },
		{ "<\"a>", 0, "unterminated quoted string" },
	};
	const char *error;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		error = NULL;
		CHECK(parse_str(cases[i].in, cases[i].flags, &error) != 1);
		CHECK_STR(error, cases[i].error);
	}
}

static void test_addr_to_string(void)
{
	struct addr a = { .local = (char *)"a\"b c\\", .domain = (char *)"x.org" };
	char *s = addr_to_string(&a);

	CHECK_STR(s, "\"a\\\"b c\\\\\"@x.org");
	free(s);
	a.local = (char *)"first.last";
	a.domain = NULL;
	s = addr_to_string(&a);
	CHECK_STR(s, "first.last");
	free(s);
	a.local = (char *)"trailing.";
	s = addr_to_string(&a);
	CHECK_STR(s, "\"trailing.\"");
	free(s);
}

static void test_addr_split_detail(void)
{
	static const struct { const char *local, *delims, *base, *detail; int ret; } cases[] = {
		{ "user+tag", "+", "user", "tag", 1 },
		{ "user-tag+x", "+-", "user", "tag+x", 1 },
		{ "user+", "+", "user", "", 1 },
		{ "user", "+", "user", NULL, 0 },
		{ "+tag", "+", "+tag", NULL, 0 },
		{ "user+tag", "", "user+tag", NULL, 0 },
		{ "user+tag", NULL, "user+tag", NULL, 0 },
		{ "", "+", "", NULL, 0 },
		{ "a\xc3\xa9+b", "+\xc3", "a\xc3\xa9", "b", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *base, *detail;

		CHECK_INT(addr_split_detail(cases[i].local, cases[i].delims, &base, &detail),
			  cases[i].ret);
		CHECK_STR(base, cases[i].base);
		CHECK_STR(detail, cases[i].detail);
		free(base);
		free(detail);
	}
}

int main(void)
{
	test_run("addr good paths whole", test_addr_good_whole);
	test_run("addr bad paths whole", test_addr_bad_whole);
	test_run("addr paths trickled", test_addr_trickle);
	test_run("addr to_string round trip", test_addr_round_trip);
	test_run("addr case folding", test_addr_case);
	test_run("addr equality", test_addr_equal);
	test_run("addr length limits", test_addr_limits);
	test_run("addr parameters after the path", test_addr_params_follow);
	test_run("addr bare mailbox", test_addr_mailbox);
	test_run("addr error reasons", test_addr_errors);
	test_run("addr to_string quoting", test_addr_to_string);
	test_run("addr split detail", test_addr_split_detail);
	return test_done();
}
