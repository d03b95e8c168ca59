#include <string.h>

#include "backend-ldap-filter.h"
#include "test.h"

static const char *escaped(const char *value, size_t len)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 1024);
	CHECK_INT(authd_ldap_filter_escape(&b, value, len), 0);
	return buf_cstr(&b);
}

static const char *expand(const char *tmpl, const char *key, const char *user)
{
	static struct buf b;
	struct authd_ldap_filter_args args = { .key = key, .user = user };
	const char *error = NULL;

	buf_free(&b);
	buf_init(&b, AUTHD_LDAP_FILTER_MAX);
	if (authd_ldap_filter_expand(&b, tmpl, &args, &error) < 0)
		return error;
	return buf_cstr(&b);
}

static void test_escape_specials(void)
{
	CHECK_STR(escaped("demo@example.test", 17), "demo@example.test");
	CHECK_STR(escaped("*", 1), "\\2a");
	CHECK_STR(escaped("(", 1), "\\28");
	CHECK_STR(escaped(")", 1), "\\29");
	CHECK_STR(escaped("\\", 1), "\\5c");
	CHECK_STR(escaped("a\0b", 3), "a\\00b");
	CHECK_STR(escaped("\r\n\t\x7f", 4), "\\0d\\0a\\09\\7f");
	/* Already-escaped text is escaped again: the backslash is literal. */
	CHECK_STR(escaped("\\2a", 3), "\\5c2a");
	/* UTF-8 passes through as it is (RFC 4515 allows it unescaped). */
	CHECK_STR(escaped("j\xc3\xbcrgen", 7), "j\xc3\xbcrgen");
}

static void test_escape_injection(void)
{
	CHECK_STR(expand("(&(objectClass=mailroomUser)(mail=%s))", "*)(uid=*", "*)(uid=*"),
		  "(&(objectClass=mailroomUser)(mail=\\2a\\29\\28uid=\\2a))");
	CHECK_STR(expand("(mail=%s)", "*", "*"), "(mail=\\2a)");
	CHECK_STR(expand("(mail=%s)", "a)(mail=*", "a)(mail=*"), "(mail=a\\29\\28mail=\\2a)");
	CHECK_STR(expand("(mail=%s)", "x\\29", "x\\29"), "(mail=x\\5c29)");
}

static void test_escape_limit(void)
{
	struct buf b;

	buf_init(&b, 5);
	buf_append_str(&b, "ab");
	/* "*" needs three bytes: two would fit, so nothing is appended. */
	CHECK_INT(authd_ldap_filter_escape(&b, "c*", 2), -1);
	CHECK_STR(buf_cstr(&b), "ab");
	CHECK_INT(authd_ldap_filter_escape(&b, "cd", 2), 0);
	CHECK_STR(buf_cstr(&b), "abcd");
	buf_free(&b);
}

static void test_expand_placeholders(void)
{
	CHECK_STR(expand("(&(uid=%l)(dc=%d)(mail=%u)(x=%s))", "key", "demo@example.test"),
		  "(&(uid=demo)(dc=example.test)(mail=demo@example.test)(x=key))");
	/* A catch-all key has an empty local part. */
	CHECK_STR(expand("(&(l=%l)(d=%d))", "@catchall.test", "@catchall.test"),
		  "(&(l=)(d=catchall.test))");
	/* A domain lookup passes the bare domain as the user. */
	CHECK_STR(expand("(&(l=%l)(d=%d))", "example.test", "example.test"),
		  "(&(l=)(d=example.test))");
	/* The last '@' splits, so a quoted local part with '@' stays whole. */
	CHECK_STR(expand("(&(l=%l)(d=%d))", "x", "\"a@b\"@example.test"),
		  "(&(l=\"a@b\")(d=example.test))");
	CHECK_STR(expand("(&(a=100%%)(mail=*@%d))", "k", "u@Example.test"),
		  "(&(a=100%)(mail=*@Example.test))");
	/* The sender grant: %u the login, %s the sender, escaped alike. */
	CHECK_STR(expand("(&(mail=%u)(allowed=%s))", "@catch*", "demo@example.test"),
		  "(&(mail=demo@example.test)(allowed=@catch\\2a))");
	CHECK_STR(expand("(mail=%s)", NULL, NULL), "(mail=)");
}

static void test_expand_too_long(void)
{
	static char key[AUTHD_LDAP_FILTER_MAX];

	/* Escaping triples the size, so this passes the limit only escaped. */
	memset(key, '*', AUTHD_LDAP_FILTER_MAX / 2);
	key[AUTHD_LDAP_FILTER_MAX / 2] = '\0';
	CHECK_STR(expand("(mail=%s)", key, key), "filter too long");
	memset(key, 'a', AUTHD_LDAP_FILTER_MAX / 2);
	CHECK(strlen(expand("(mail=%s)", key, key)) == AUTHD_LDAP_FILTER_MAX / 2 + 7);
}

static void test_check_templates(void)
{
	const char *error = NULL;

	CHECK_INT(authd_ldap_filter_check("(&(objectClass=x)(mail=%s))", &error), 0);
	CHECK_INT(authd_ldap_filter_check("(mail=%x)", &error), -1);
	CHECK_STR(error, "unknown placeholder (known: %s %u %l %d %%)");
	CHECK_INT(authd_ldap_filter_check("(mail=%", &error), -1);
	CHECK_INT(authd_ldap_filter_check("(mail=%s", &error), -1);
	CHECK_STR(error, "unbalanced '('");
	CHECK_INT(authd_ldap_filter_check("(mail=%s))(", &error), -1);
	CHECK_STR(error, "unbalanced ')'");
	CHECK_INT(authd_ldap_filter_check("mail=%s", &error), -1);
	CHECK_STR(error, "a filter starts with '('");
	CHECK_INT(authd_ldap_filter_check("", &error), -1);
	/* A malformed template is refused at expansion too. */
	CHECK_STR(expand("(mail=%q)", "a", "a"), "unknown placeholder (known: %s %u %l %d %%)");
}

int main(void)
{
	test_run("escape special characters", test_escape_specials);
	test_run("injection-shaped values stay one value", test_escape_injection);
	test_run("escape respects the buffer limit", test_escape_limit);
	test_run("expand placeholders", test_expand_placeholders);
	test_run("expand refuses an oversized filter", test_expand_too_long);
	test_run("check templates", test_check_templates);
	return test_done();
}
