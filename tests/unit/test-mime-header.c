#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime-address.h"
#include "mime-charset.h"
#include "mime-header.h"
#include "test.h"
#include "xalloc.h"

static void test_header_iter_folding(void)
{
	const char *h = "Subject: one\r\n two\r\nX-Empty:\r\nbroken line\r\n"
			"To : a@b\n\tc@d\nFrom:x\n\nBody: not a field\n";
	struct mime_header_iter it;
	struct mime_header_field f;
	char *v;

	mime_header_iter_init(&it, h, strlen(h));
	CHECK_INT(mime_header_iter_next(&it, &f), 1);
	CHECK(mime_header_name_is(&f, "SUBJECT"));
	CHECK_MEM(f.value, f.value_len, "one\r\n two", 9);
	v = mime_header_unfold(f.value, f.value_len);
	CHECK_STR(v, "one two");
	free(v);
	CHECK_INT(mime_header_iter_next(&it, &f), 1);
	CHECK(mime_header_name_is(&f, "x-empty"));
	CHECK_INT(f.value_len, 0);
	/* "broken line" has no colon: skipped. */
	CHECK_INT(mime_header_iter_next(&it, &f), 1);
	CHECK(mime_header_name_is(&f, "to"));
	CHECK_MEM(f.value, f.value_len, "a@b\n\tc@d", 8);
	CHECK_INT(mime_header_iter_next(&it, &f), 1);
	CHECK(mime_header_name_is(&f, "from"));
	CHECK_INT(mime_header_iter_next(&it, &f), 0);
	CHECK_INT(mime_header_find(h, strlen(h), "x-EMPTY", &f), 1);
	CHECK_INT(mime_header_find(h, strlen(h), "Body", &f), 0);
	CHECK_INT(mime_header_find(h, strlen(h), "Subj", &f), 0);
}

static char *decode(const char *s)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(mime_header_decode(s, strlen(s), &b), 0);
	CHECK(mime_utf8_valid(b.data, b.len));
	return buf_steal(&b);
}

static void check_decode(const char *in, const char *want)
{
	char *got = decode(in);

	CHECK_STR(got, want);
	free(got);
}

static void test_header_encoded_words(void)
{
	check_decode("=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@x>", "J\xC3\xBCrgen M\xC3\xBCller <j@x>");
	check_decode("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard");
	check_decode("=?windows-1252?Q?=80uro_=93q=94?=", "\xE2\x82\xACuro \xE2\x80\x9Cq\xE2\x80\x9D");
	check_decode("=?iso-8859-15?q?=A4?=", "\xE2\x82\xAC");
	/* White space between two encoded-words goes; around text it stays. */
	check_decode("=?utf-8?q?caf=C3=A9?= \r\n =?utf-8?q?_au_lait?= and x",
		     "caf\xC3\xA9 au lait and x");
	check_decode("a =?us-ascii?q?b?=  c", "a b  c");
	/* RFC 2231 language suffix, unpadded base64. */
	check_decode("=?utf-8*en?b?aGk?=", "hi");
	/* Through iconv: KOI8-R. */
	check_decode("=?koi8-r?b?8NLJ18XU?=", "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
	/* Malformed words stay as written. */
	check_decode("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	check_decode("=?utf-8?q?no end", "=?utf-8?q?no end");
	check_decode("=??q?x?=", "=??q?x?=");
	check_decode("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?=");
	/* Raw 8-bit: UTF-8 kept, anything else read as ISO-8859-1. */
	check_decode("Gr\xC3\xBC\xC3\x9F" "e", "Gr\xC3\xBC\xC3\x9F" "e");
	check_decode("caf\xE9", "caf\xC3\xA9");
	/* Bytes that are invalid in the declared charset become U+FFFD. */
	check_decode("=?utf-8?q?a=FFb?=", "a\xEF\xBF\xBD" "b");
	check_decode("=?unknown-cs?q?x=C3=A9?=", "x\xC3\xA9");
}

static void test_header_content_type(void)
{
	char *type = NULL, *sub = NULL;
	struct mime_params ps = { 0 };
	const char *v = "Text/HTML (comment) ; Charset=\"utf-8\"; name=\"a \\\"b\\\";c\";;"
			"  format = flowed ; broken";

	CHECK_INT(mime_content_type_parse(v, strlen(v), &type, &sub, &ps), 0);
	CHECK_STR(type, "Text");
	CHECK_STR(sub, "HTML");
	CHECK_INT(ps.count, 3);
	CHECK_STR(ps.v[0].name, "charset");
	CHECK_STR(mime_params_get(&ps, "charset"), "utf-8");
	CHECK_STR(mime_params_get(&ps, "name"), "a \"b\";c");
	CHECK_STR(mime_params_get(&ps, "format"), "flowed");
	free(type);
	free(sub);
	mime_params_free(&ps);

	v = "multipart/mixed;\r\n boundary*1=\"b\"; boundary*0=a; x*0*=utf-8''%41; x*1=B; y*=us-ascii''z;"
	    " gap*0=1; gap*2=3";
	CHECK_INT(mime_content_type_parse(v, strlen(v), &type, &sub, &ps), 0);
	CHECK_STR(mime_params_get(&ps, "boundary"), "ab");
	CHECK_STR(mime_params_get(&ps, "x*"), "utf-8''%41B");
	CHECK_STR(mime_params_get(&ps, "y*"), "us-ascii''z");
	/* Sections stop at the first missing number. */
	CHECK_STR(mime_params_get(&ps, "gap"), "1");
	CHECK_STR(ps.v[0].name, "boundary");
	free(type);
	free(sub);
	mime_params_free(&ps);

	CHECK_INT(mime_content_type_parse("text", 4, &type, &sub, &ps), -1);
	CHECK_INT(mime_content_type_parse("text/", 5, &type, &sub, &ps), -1);
	CHECK_INT(mime_content_type_parse("/plain", 6, &type, &sub, &ps), -1);
	CHECK_INT(mime_content_type_parse("", 0, &type, &sub, &ps), -1);

	CHECK_INT(mime_disposition_parse("attachment; filename=\"x y\"", 26, &type, &ps), 0);
	CHECK_STR(type, "attachment");
	CHECK_STR(mime_params_get(&ps, "filename"), "x y");
	free(type);
	mime_params_free(&ps);
	CHECK_INT(mime_disposition_parse(" ; x=y", 6, &type, &ps), -1);
	type = mime_header_token(" (c) base64 (d)", 15);
	CHECK_STR(type, "base64");
	free(type);
	CHECK(mime_header_token(" (only a comment)", 17) == NULL);
}

/* One line per address: name|route|mailbox|host, "-" for NULL. */
static char *addresses(const char *value)
{
	struct mime_address *list = mime_address_parse(value, strlen(value));
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	for (struct mime_address *a = list; a != NULL; a = a->next)
		buf_printf(&b, "%s|%s|%s|%s\n", a->name ? a->name : "-", a->route ? a->route : "-",
			   a->mailbox ? a->mailbox : "-", a->host ? a->host : "-");
	mime_address_free(&list);
	return buf_steal(&b);
}

static void check_addresses(const char *value, const char *want)
{
	char *got = addresses(value);

	CHECK_STR(got, want);
	free(got);
}

static void test_header_addresses(void)
{
	check_addresses("Alice Example <alice@example.test>", "Alice Example|-|alice|example.test\n");
	check_addresses("\"Doe, Jane\" <jane@x>, carol@y",
			"Doe, Jane|-|jane|x\n-|-|carol|y\n");
	check_addresses("Dave (the boss) <dave@x>", "Dave|-|dave|x\n");
	check_addresses("(c) e@x (Eve)", "Eve|-|e|x\n");
	check_addresses("Team: a@x, \"B B\" <b@y>;, c@z",
			"-|-|Team|-\n-|-|a|x\nB B|-|b|y\n-|-|-|-\n-|-|c|z\n");
	check_addresses("undisclosed-recipients:;", "-|-|undisclosed-recipients|-\n-|-|-|-\n");
	check_addresses("<@r.test,@o.test:d@x>", "-|@r.test,@o.test|d|x\n");
	check_addresses("f@[192.0.2.1], \"quoted local\"@x, nohost",
			"-|-|f|[192.0.2.1]\n-|-|quoted local|x\n-|-|nohost|MISSING_DOMAIN\n");
	check_addresses("first.last@sub.example.test", "-|-|first.last|sub.example.test\n");
	check_addresses("J. Q. Public <jqp@x>", "J. Q. Public|-|jqp|x\n");
	check_addresses("=?utf-8?q?J=C3=BC?= <j@x>", "=?utf-8?q?J=C3=BC?=|-|j|x\n");
	check_addresses("\r\n  a@x,\r\n b@y", "-|-|a|x\n-|-|b|y\n");
	check_addresses("", "");
	check_addresses(" , ;; ", "");
	/* Unterminated forms end at the end of the value. */
	check_addresses("\"open <a@x>", "-|-|open <a@x>|MISSING_DOMAIN\n");
	check_addresses("Name <a@x", "Name|-|a|x\n");
	check_addresses("G: a@x", "-|-|G|-\n-|-|a|x\n-|-|-|-\n");
}

static void test_charsets(void)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	CHECK_INT(mime_charset_to_utf8("ISO-8859-1", "\xE9\xFF", 2, &b), 0);
	CHECK_STR(buf_cstr(&b), "\xC3\xA9\xC3\xBF");
	buf_reset(&b);
	CHECK_INT(mime_charset_to_utf8("windows-1252", "\x80\x81\x9F", 3, &b), 0);
	CHECK_STR(buf_cstr(&b), "\xE2\x82\xAC\xEF\xBF\xBD\xC5\xB8");
	buf_reset(&b);
	CHECK_INT(mime_charset_to_utf8("us-ascii", "a\xC3\xA9\xC3", 4, &b), 0);
	CHECK_STR(buf_cstr(&b), "a\xC3\xA9\xEF\xBF\xBD");
	buf_reset(&b);
	/* A truncated sequence through iconv. */
	CHECK_INT(mime_charset_to_utf8("UTF-16LE", "a\0b", 3, &b), 0);
	CHECK_STR(buf_cstr(&b), "a\xEF\xBF\xBD");
	buf_free(&b);
	CHECK(mime_utf8_valid("\xF0\x9F\x98\x80", 4));
	CHECK(!mime_utf8_valid("\xED\xA0\x80", 3));
	CHECK(!mime_utf8_valid("\xC0\xAF", 2));
	buf_init(&b, 3);
	CHECK_INT(mime_charset_to_utf8("iso-8859-1", "\xE9\xE9", 2, &b), -1);
	buf_free(&b);
}

/* Every header parser fed every prefix of a tricky value: no crash, and
 * the result stays valid UTF-8. */
static void test_header_prefixes(void)
{
	const char *v = "\"A \\\"q\\\" (x)\" <@r:a@[1.2]>, G: =?utf-8?b?w6k?= b@c;, (";
	size_t n = strlen(v);

	for (size_t i = 0; i <= n; i++) {
		struct mime_address *list = mime_address_parse(v, i);
		struct mime_params ps = { 0 };
		char *t, *s;
		struct buf b;

		mime_address_free(&list);
		if (mime_content_type_parse(v, i, &t, &s, &ps) == 0) {
			free(t);
			free(s);
			mime_params_free(&ps);
		}
		buf_init(&b, BUF_NO_LIMIT);
		mime_header_decode(v, i, &b);
		CHECK(mime_utf8_valid(b.data, b.len));
		buf_free(&b);
	}
}

int main(void)
{
	test_run("header iteration and folding", test_header_iter_folding);
	test_run("header RFC 2047 encoded-words", test_header_encoded_words);
	test_run("header Content-Type and RFC 2231", test_header_content_type);
	test_run("header address lists", test_header_addresses);
	test_run("charset conversion", test_charsets);
	test_run("header parsers on every prefix", test_header_prefixes);
	return test_done();
}
