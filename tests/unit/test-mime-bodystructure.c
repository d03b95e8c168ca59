#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-bodystructure.h"
#include "mime-corpus.h"
#include "test.h"
#include "xalloc.h"

enum item { BODY, BODYSTRUCTURE, ENVELOPE };

/* The item for a corpus file, fed in chunks of chunk bytes. */
static char *render(const char *name, enum item item, size_t chunk)
{
	size_t len = 0;
	char *data = mime_corpus_load(name, &len);
	struct mime_part *root;
	struct buf out;

	CHECK(data != NULL);
	root = mime_corpus_parse(data != NULL ? data : "", len, chunk, NULL);
	buf_init(&out, BUF_NO_LIMIT);
	if (item == ENVELOPE)
		imap_envelope_write(&out, root->envelope);
	else
		imap_bodystructure_write(&out, root, item == BODYSTRUCTURE);
	mime_part_free(&root);
	free(data);
	return buf_steal(&out);
}

static void check_item(const char *name, enum item item, const char *want)
{
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		char *got = render(name, item, chunk);

		CHECK_STR(got, want);
		free(got);
	}
}

/* The expected strings are what Dovecot 2.3 sends for the same files. */
static void test_bodystructure_single(void)
{
	check_item("simple.eml", BODY,
		   "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 38 2)");
	check_item("simple.eml", BODYSTRUCTURE,
		   "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 38 2 NIL NIL NIL NIL)");
	check_item("simple.eml", ENVELOPE,
		   "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\" "
		   "((\"Alice Example\" NIL \"alice\" \"example.test\")) "
		   "((\"Alice Example\" NIL \"alice\" \"example.test\")) "
		   "((\"Alice Example\" NIL \"alice\" \"example.test\")) "
		   "((NIL NIL \"bob\" \"example.test\")) NIL NIL NIL \"<simple-1@example.test>\")");
	check_item("empty-body.eml", BODYSTRUCTURE,
		   "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)");
	check_item("8bit-headers.eml", BODYSTRUCTURE,
		   "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 31 2 NIL NIL NIL NIL)");
}

static void test_bodystructure_multipart(void)
{
	check_item("crlf-alternative.eml", BODY,
		   "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 30 1)"
		   "(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 16 0) \"alternative\")");
	check_item("mixed-attach.eml", BODYSTRUCTURE,
		   "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 24 1 NIL NIL NIL NIL)"
		   "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<part2@example.test>\" "
		   "\"The report\" \"base64\" 354 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"attachment\" "
		   "(\"filename\" \"report.pdf\" \"size\" \"256\")) (\"en\" \"de\") "
		   "\"http://example.test/report.pdf\")(\"image\" \"png\" NIL NIL NIL \"BASE64\" 14 NIL "
		   "(\"inline\" NIL) NIL NIL) \"mixed\" (\"boundary\" \"mixed42\") NIL (\"en\") NIL)");
	check_item("nested.eml", BODY,
		   "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0)"
		   "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0) \"alternative\")"
		   "((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0)"
		   "(\"image\" \"gif\" NIL \"<x>\" NIL \"base64\" 20) \"related\")"
		   "(\"text\" \"plain\" (\"format\" \"flowed\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0)"
		   " \"mixed\")");
	check_item("rfc2231.eml", BODYSTRUCTURE,
		   "((\"application\" \"octet-stream\" (\"name\" \"very long file name.txt\") NIL NIL "
		   "\"7bit\" 4 NIL (\"attachment\" (\"filename*\" "
		   "\"utf-8''%E2%82%AC%20rates%20and%20fees.txt\")) NIL NIL)(\"text\" \"plain\" "
		   "(\"charset*\" \"us-ascii'en'us-ascii\" \"title*\" \"iso-8859-1'de'M%FCller\" "
		   "\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" "
		   "(\"boundary\" \"b2231\") NIL NIL NIL)");
	/* A multipart without parts shows one empty text part. */
	check_item("no-boundary-param.eml", BODYSTRUCTURE,
		   "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
		   " \"mixed\" NIL NIL NIL NIL)");
	check_item("no-boundary-found.eml", BODY,
		   "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
}

static void test_bodystructure_message(void)
{
	const char *inner_env =
		"(\"Thu, 4 Jan 2024 09:00:00 +0000\" \"inner\" ((\"Carol\" NIL \"carol\" \"example.test\")) "
		"((\"Carol\" NIL \"carol\" \"example.test\")) ((\"Carol\" NIL \"carol\" \"example.test\")) "
		"((NIL NIL \"alice\" \"example.test\")(NIL NIL \"Group\" NIL)(NIL NIL \"dan\" \"example.test\")"
		"(NIL NIL \"eve\" \"example.test\")(NIL NIL NIL NIL)) NIL NIL NIL \"<inner@example.test>\")";
	char *want = xasprintf(
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 1)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 370 %s "
		"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0)"
		"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 0) \"alternative\") 17)"
		" \"mixed\")", inner_env);

	check_item("rfc822.eml", BODY, want);
	free(want);
	check_item("message-no-end.eml", BODYSTRUCTURE,
		   "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 (NIL \"inner only headers\" "
		   "((NIL NIL \"bob\" \"example.test\")) ((NIL NIL \"bob\" \"example.test\")) "
		   "((NIL NIL \"bob\" \"example.test\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
		   "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)");
	check_item("digest.eml", BODY,
		   "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 43 (NIL \"first\" "
		   "((NIL NIL \"x\" \"example.test\")) ((NIL NIL \"x\" \"example.test\")) "
		   "((NIL NIL \"x\" \"example.test\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
		   "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) 3)(\"text\" \"plain\" "
		   "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0) \"digest\")");
}

static void test_envelope_forms(void)
{
	check_item("groups.eml", ENVELOPE,
		   "(NIL \"Groups and obsolete forms\" ((NIL NIL \"alice\" \"example.test\")) "
		   "((NIL NIL \"alice\" \"example.test\")) ((NIL NIL \"alice\" \"example.test\")) "
		   "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
		   "((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"example.test\")(\"B B\" NIL \"b\" \"example.test\")"
		   "(NIL NIL NIL NIL)(NIL NIL \"c\" \"example.test\")) "
		   "((NIL \"@route.test,@other.test\" \"d\" \"example.test\")(\"Eve\" NIL \"e\" \"example.test\")"
		   "(NIL NIL \"f\" \"[192.0.2.1]\")(NIL NIL \"quoted local\" \"example.test\")"
		   "(NIL NIL \"nohost\" \"MISSING_DOMAIN\")) NIL \"<grp@example.test>   \")");
	/* A folded subject is a literal without its line ends. */
	check_item("encoded-words.eml", ENVELOPE,
		   "(\"Fri, 5 Jan 2024 08:00:00 +0000\" {73}\r\n=?utf-8?q?caf=C3=A9?= "
		   "=?utf-8?q?_au_lait?= and =?iso-8859-15?q?=A4?= done "
		   "((\"=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=\" NIL \"juergen\" \"example.test\")) "
		   "((\"=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=\" NIL \"juergen\" \"example.test\")) "
		   "((\"=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=\" NIL \"juergen\" \"example.test\")) "
		   "((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"pirard\" \"example.test\")) "
		   "((\"=?windows-1252?Q?=80uro_=93quote=94?=\" NIL \"euro\" \"example.test\")) "
		   "NIL NIL NIL)");
	check_item("no-headers.eml", ENVELOPE, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

static void test_nstring(void)
{
	const char *cases[][2] = {
		{ "plain", "\"plain\"" },
		{ "", "\"\"" },
		{ "a \"b\" \\", "\"a \\\"b\\\" \\\\\"" },
		{ "\"\"\"\"\"", "{5}\r\n\"\"\"\"\"" },
		{ "caf\xC3\xA9", "{5}\r\ncaf\xC3\xA9" },
		{ "a\r\n b", "{3}\r\na b" },
	};
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		imap_nstring_write(&b, cases[i][0]);
		CHECK_STR(buf_cstr(&b), cases[i][1]);
	}
	buf_reset(&b);
	imap_nstring_write(&b, NULL);
	CHECK_STR(buf_cstr(&b), "NIL");
	buf_free(&b);
}

static char *section_text(const char *data, const struct mime_part *root, const char *spec)
{
	struct imap_section s;
	const char *error = NULL;

	if (imap_section_find(root, spec, &s, &error) < 0)
		return xasprintf("error: %s", error);
	return xstrndup(data + s.offset, (size_t)s.size);
}

static void check_section(const char *data, const struct mime_part *root, const char *spec,
			  const char *want)
{
	char *got = section_text(data, root, spec);

	CHECK_STR(got, want);
	free(got);
}

static void test_sections(void)
{
	size_t len;
	char *data = mime_corpus_load("rfc822.eml", &len);
	struct mime_part *root = mime_parse(data, len, NULL);
	struct imap_section s;
	const char *error;
	char *whole;

	check_section(data, root, "1", "Forwarded below.\n");
	check_section(data, root, "1.MIME", "Content-Type: text/plain\n\n");
	check_section(data, root, "2.MIME", "Content-Type: message/rfc822\nContent-Disposition: inline\n\n");
	check_section(data, root, "2.1", "inner plain");
	check_section(data, root, "2.2.MIME", "Content-Type: text/html\n\n");
	check_section(data, root, "2.2", "<i>inner html</i>");
	check_section(data, root, "2.TEXT",
		      "--in\nContent-Type: text/plain\n\ninner plain\n--in\nContent-Type: text/html\n\n"
		      "<i>inner html</i>\n--in--\n");
	whole = section_text(data, root, "2.header");
	CHECK(strncmp(whole, "From: Carol <carol@example.test>\n", 33) == 0);
	CHECK(strstr(whole, "boundary=\"in\"\n\n") != NULL);
	free(whole);
	whole = section_text(data, root, "HEADER.FIELDS");
	CHECK(strncmp(whole, "From: alice@example.test\n", 25) == 0);
	free(whole);
	/* "" is the whole message; sizes count CRLF for each bare LF. */
	CHECK_INT(imap_section_find(root, "", &s, &error), 0);
	CHECK_INT(s.offset, 0);
	CHECK_INT(s.size, len);
	CHECK_INT(s.vsize, len + root->header.lines + root->body.lines);
	/* Parts that do not exist give nothing; bad syntax gives an error. */
	CHECK_INT(imap_section_find(root, "3", &s, &error), 0);
	CHECK(s.part == NULL && s.size == 0);
	check_section(data, root, "1.1", "Forwarded below.\n");
	CHECK_INT(imap_section_find(root, "1.2", &s, &error), 0);
	CHECK(s.part == NULL);
	CHECK_INT(imap_section_find(root, "1.1.1", &s, &error), 0);
	CHECK(s.part == NULL);
	check_section(data, root, "2.1.1", "inner plain");
	CHECK_INT(imap_section_find(root, "1.HEADER", &s, &error), 0);
	CHECK(s.part == NULL);
	check_section(data, root, "0", "error: invalid part number in section");
	check_section(data, root, "1.", "error: section ends with a dot");
	check_section(data, root, "MIME", "error: invalid section");
	check_section(data, root, "2.BOGUS", "error: invalid section");
	check_section(data, root, "1x", "error: invalid part number in section");
	mime_part_free(&root);
	free(data);

	data = mime_corpus_load("simple.eml", &len);
	root = mime_parse(data, len, NULL);
	/* A single-part message is its own part 1. */
	check_section(data, root, "1", "Hello Bob,\nthis is a plain message.\n");
	check_section(data, root, "TEXT", "Hello Bob,\nthis is a plain message.\n");
	CHECK_INT(imap_section_find(root, "1.1", &s, &error), 0);
	CHECK(s.part == NULL);
	whole = section_text(data, root, "1.MIME");
	CHECK(strncmp(whole, "From: Alice", 11) == 0);
	free(whole);
	mime_part_free(&root);
	free(data);
}

int main(void)
{
	test_run("BODY/BODYSTRUCTURE of single parts", test_bodystructure_single);
	test_run("BODY/BODYSTRUCTURE of multiparts", test_bodystructure_multipart);
	test_run("BODY/BODYSTRUCTURE of message/rfc822", test_bodystructure_message);
	test_run("ENVELOPE forms", test_envelope_forms);
	test_run("quoted strings and literals", test_nstring);
	test_run("section ranges", test_sections);
	return test_done();
}
