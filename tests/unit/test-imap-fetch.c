#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-bodystructure.h"
#include "imap-args.h"
#include "imap-msg-private.h"
#include "imap-msg-test.h"
#include "mime-corpus.h"

/* The FETCH reply for items on t. */
static char *fetch(struct imt_msg *t, const char *items_text, bool uid_cmd, bool add_flags,
		   size_t *len_r)
{
	struct imap_fetch_items items;
	struct buf out;

	imt_fetch_items(&items, items_text);
	buf_init(&out, BUF_NO_LIMIT);
	imap_fetch_write(&out, &items, &t->m, uid_cmd, add_flags);
	imap_fetch_items_free(&items);
	CHECK(imt_reply_ok(out.data, out.len, strchr(items_text, '<') == NULL));
	if (len_r != NULL)
		*len_r = out.len;
	return buf_steal(&out);
}

/* The reply for one item of a message given as text. */
static void check_fetch(const char *msg, const char *items, const char *want)
{
	struct imt_msg t;
	char *got;
	size_t len;

	imt_msg_init(&t, 1, 7, msg, strlen(msg));
	got = fetch(&t, items, false, false, &len);
	CHECK_MEM(got, len, want, strlen(want));
	free(got);
	imap_msg_clear(&t.m);
}

/* "* 1 FETCH (name {n}\r\ncontent)\r\n" */
static char *literal_reply(const char *name, const char *content, size_t len, size_t *len_r)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	buf_printf(&b, "* 1 FETCH (%s {%zu}\r\n", name, len);
	buf_append(&b, content, len);
	buf_append_str(&b, ")\r\n");
	*len_r = b.len;
	return buf_steal(&b);
}

static void check_literal(const char *msg, const char *items, const char *name,
			  const char *content)
{
	size_t len;
	char *want = literal_reply(name, content, strlen(content), &len);

	check_fetch(msg, items, want);
	free(want);
}

static void test_flags_and_meta(void)
{
	struct imt_msg t;
	char *got;

	imt_msg_init(&t, 3, 42, NULL, 0);
	t.msg.flags = IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED;
	t.msg.keywords = 0x7;   /* 'c' has no name in dovecot-keywords */
	t.msg.recent = true;
	t.msg.internaldate = 1704103200;   /* 2024-01-01 10:00:00 UTC */
	t.msg.size = 100;
	t.msg.vsize = 120;
	got = fetch(&t, "(UID FLAGS INTERNALDATE RFC822.SIZE)", false, false, NULL);
	CHECK_STR(got, "* 3 FETCH (UID 42 FLAGS (\\Flagged \\Seen \\Recent $Important Work) "
		  "INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" RFC822.SIZE 120)\r\n");
	free(got);
	/* UID FETCH always says UID, first; STORE's \Seen adds FLAGS. */
	got = fetch(&t, "RFC822.SIZE", true, true, NULL);
	CHECK_STR(got, "* 3 FETCH (UID 42 FLAGS (\\Flagged \\Seen \\Recent $Important Work) "
		  "RFC822.SIZE 120)\r\n");
	free(got);
	t.msg.flags = IMAP_FLAG_ANSWERED | IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT;
	t.msg.keywords = 0;
	t.msg.recent = false;
	got = fetch(&t, "FLAGS", false, false, NULL);
	CHECK_STR(got, "* 3 FETCH (FLAGS (\\Answered \\Deleted \\Draft))\r\n");
	free(got);
	t.msg.flags = 0;
	t.m.keywords = NULL;
	t.msg.keywords = 1;
	got = fetch(&t, "FLAGS", false, false, NULL);
	CHECK_STR(got, "* 3 FETCH (FLAGS ())\r\n");
	free(got);
}

static void test_internaldate_zones(void)
{
	struct imt_msg t;
	char *got;

	imt_msg_init(&t, 1, 1, NULL, 0);
	t.msg.internaldate = 1704103200;
	setenv("TZ", "XXX-01:30", 1);
	tzset();
	got = fetch(&t, "INTERNALDATE", false, false, NULL);
	CHECK_STR(got, "* 1 FETCH (INTERNALDATE \"01-Jan-2024 11:30:00 +0130\")\r\n");
	free(got);
	setenv("TZ", "YYY+05", 1);
	tzset();
	t.msg.internaldate = 1704067200 + 3600;   /* 1 Jan 01:00 UTC */
	got = fetch(&t, "INTERNALDATE", false, false, NULL);
	CHECK_STR(got, "* 1 FETCH (INTERNALDATE \"31-Dec-2023 20:00:00 -0500\")\r\n");
	free(got);
	setenv("TZ", "UTC", 1);
	tzset();
	t.msg.internaldate = 0;
	got = fetch(&t, "INTERNALDATE", false, false, NULL);
	CHECK_STR(got, "* 1 FETCH (INTERNALDATE \"01-Jan-1970 00:00:00 +0000\")\r\n");
	free(got);
}

static bool needs_data(const char *items_text, uint64_t size, uint64_t vsize)
{
	struct imap_fetch_items items;
	struct mbox_msg msg;
	bool ret;

	memset(&msg, 0, sizeof(msg));
	msg.size = size;
	msg.vsize = vsize;
	imt_fetch_items(&items, items_text);
	ret = imap_fetch_needs_data(&items, &msg);
	imap_fetch_items_free(&items);
	return ret;
}

static bool sets_seen(const char *items_text)
{
	struct imap_fetch_items items;
	bool ret;

	imt_fetch_items(&items, items_text);
	ret = imap_fetch_sets_seen(&items);
	imap_fetch_items_free(&items);
	return ret;
}

static void test_needs_data(void)
{
	CHECK(!needs_data("(FLAGS UID INTERNALDATE)", 100, 0));
	CHECK(!needs_data("FAST", 100, 104));
	CHECK(needs_data("FAST", 100, 0));
	CHECK(!needs_data("RFC822.SIZE", 0, 0));
	CHECK(needs_data("ALL", 100, 104));
	CHECK(needs_data("ENVELOPE", 100, 104));
	CHECK(needs_data("BODY", 100, 104));
	CHECK(needs_data("BODYSTRUCTURE", 100, 104));
	CHECK(needs_data("RFC822.HEADER", 100, 104));
	CHECK(needs_data("BODY.PEEK[HEADER.FIELDS (From)]", 100, 104));
	CHECK(needs_data("(FLAGS BODY[1])", 100, 104));

	CHECK(sets_seen("BODY[]"));
	CHECK(sets_seen("BODY[1.MIME]"));
	CHECK(!sets_seen("BODY.PEEK[]"));
	CHECK(sets_seen("(BODY.PEEK[] BODY[TEXT])"));
	CHECK(sets_seen("RFC822"));
	CHECK(sets_seen("RFC822.TEXT"));
	CHECK(!sets_seen("RFC822.HEADER"));
	CHECK(!sets_seen("FULL"));
	CHECK(!sets_seen("BODYSTRUCTURE"));
}

/* Bare LF and NUL in the file: CRLF and 0x80 on the wire, sizes to match. */
static void test_top_sections(void)
{
	static const char msg[] = "From: a@b\nSubject: Hi\n\nline1\nline2\r\nz\0z\n";
	static const char full[] = "From: a@b\r\nSubject: Hi\r\n\r\nline1\r\nline2\r\nz\x80z\r\n";
	static const char hdr[] = "From: a@b\r\nSubject: Hi\r\n\r\n";
	static const char text[] = "line1\r\nline2\r\nz\x80z\r\n";
	struct imt_msg t;
	char *got, *want;
	size_t len;

	imt_msg_init(&t, 1, 7, msg, sizeof(msg) - 1);
	got = fetch(&t, "(RFC822.SIZE)", false, false, &len);
	CHECK_STR(got, "* 1 FETCH (RFC822.SIZE 45)\r\n");
	CHECK_INT(sizeof(full) - 1, 45);
	free(got);
	static const struct {
		const char *items, *name, *content;
		size_t len;
	} cases[] = {
		{ "BODY.PEEK[]", "BODY[]", full, sizeof(full) - 1 },
		{ "BODY[]", "BODY[]", full, sizeof(full) - 1 },
		{ "RFC822", "RFC822", full, sizeof(full) - 1 },
		{ "BODY.PEEK[HEADER]", "BODY[HEADER]", hdr, sizeof(hdr) - 1 },
		{ "RFC822.HEADER", "RFC822.HEADER", hdr, sizeof(hdr) - 1 },
		{ "BODY.PEEK[TEXT]", "BODY[TEXT]", text, sizeof(text) - 1 },
		{ "RFC822.TEXT", "RFC822.TEXT", text, sizeof(text) - 1 },
		{ "BODY.PEEK[text]", "BODY[TEXT]", text, sizeof(text) - 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t want_len;

		got = fetch(&t, cases[i].items, false, false, &len);
		want = literal_reply(cases[i].name, cases[i].content, cases[i].len, &want_len);
		CHECK_MEM(got, len, want, want_len);
		free(got);
		free(want);
	}
	/* The top-level sections need no MIME parse. */
	CHECK(t.m.mime == NULL);
	imap_msg_clear(&t.m);
}

/* Every <origin.count> window is that slice of the whole sent form. */
static void test_partial_windows(void)
{
	static const char msg[] = "H: v\n\na\r\nb\nc\0\n\n\rd";
	struct imt_msg t;
	char *whole, items[64], name[64];
	size_t whole_len, wlen;
	const char *lit;

	imt_msg_init(&t, 1, 7, msg, sizeof(msg) - 1);
	whole = fetch(&t, "BODY.PEEK[]", false, false, &whole_len);
	lit = strstr(whole, "}\r\n") + 3;
	wlen = whole_len - (size_t)(lit - whole) - 3;
	CHECK_INT(wlen, imap_vsize(msg, sizeof(msg) - 1));
	for (size_t origin = 0; origin <= wlen + 2; origin++) {
		for (size_t count = 1; count <= wlen + 2 - origin; count++) {
			size_t start = origin < wlen ? origin : wlen;
			size_t n = wlen - start < count ? wlen - start : count;
			char *got, *want;
			size_t len, want_len;

			snprintf(items, sizeof(items), "BODY.PEEK[]<%zu.%zu>", origin, count);
			snprintf(name, sizeof(name), "BODY[]<%zu>", origin);
			got = fetch(&t, items, false, false, &len);
			want = literal_reply(name, lit + start, n, &want_len);
			CHECK_MEM(got, len, want, want_len);
			free(got);
			free(want);
		}
	}
	free(whole);
	imap_msg_clear(&t.m);
}

static void test_partial(void)
{
	static const char msg[] = "S: x\n\nab\ncd\n";

	check_literal(msg, "BODY.PEEK[TEXT]<0.3>", "BODY[TEXT]<0>", "ab\r");
	check_literal(msg, "BODY.PEEK[TEXT]<2.2>", "BODY[TEXT]<2>", "\r\n");
	check_literal(msg, "BODY.PEEK[TEXT]<3.2>", "BODY[TEXT]<3>", "\nc");
	check_literal(msg, "BODY.PEEK[TEXT]<7.10>", "BODY[TEXT]<7>", "\n");
	check_literal(msg, "BODY.PEEK[TEXT]<0.100>", "BODY[TEXT]<0>", "ab\r\ncd\r\n");
	/* A start past the end: an empty string (RFC 3501 6.4.5). */
	check_literal(msg, "BODY.PEEK[TEXT]<8.5>", "BODY[TEXT]<8>", "");
	check_literal(msg, "BODY.PEEK[TEXT]<4294967295.1>", "BODY[TEXT]<4294967295>", "");
	check_literal(msg, "BODY.PEEK[HEADER]<1.3>", "BODY[HEADER]<1>", ": x");
}

static void test_header_fields(void)
{
	static const char msg[] =
		"From: a@b\r\nTo: c@d,\r\n e@f\r\nSubject: S\r\nnot a field\r\nX-A: 1\r\n"
		"subject : second\r\n\r\nbody\r\n";

	check_literal(msg, "BODY.PEEK[HEADER.FIELDS (SUBJECT to)]",
		      "BODY[HEADER.FIELDS (SUBJECT to)]",
		      "To: c@d,\r\n e@f\r\nSubject: S\r\nsubject : second\r\n\r\n");
	check_literal(msg, "BODY.PEEK[HEADER.FIELDS.NOT (Subject X-A)]",
		      "BODY[HEADER.FIELDS.NOT (Subject X-A)]",
		      "From: a@b\r\nTo: c@d,\r\n e@f\r\n\r\n");
	/* Nothing kept: still the blank line that ends a header. */
	check_literal(msg, "BODY.PEEK[HEADER.FIELDS (X-None)]", "BODY[HEADER.FIELDS (X-None)]",
		      "\r\n");
	check_literal(msg, "BODY.PEEK[HEADER.FIELDS (\"From\")]<2.6>",
		      "BODY[HEADER.FIELDS (From)]<2>", "om: a@");
	/* LF files and a last field without a line end. */
	check_literal("From: a\nX: y\n\nbody\n", "BODY.PEEK[HEADER.FIELDS (X)]",
		      "BODY[HEADER.FIELDS (X)]", "X: y\r\n\r\n");
	check_literal("From: a\nX: y", "BODY.PEEK[HEADER.FIELDS (X)]",
		      "BODY[HEADER.FIELDS (X)]", "X: y\r\n\r\n");
	check_literal("From: a\nX: y", "BODY.PEEK[HEADER.FIELDS.NOT (From)]",
		      "BODY[HEADER.FIELDS.NOT (From)]", "X: y\r\n\r\n");
	check_literal("", "BODY.PEEK[HEADER.FIELDS (X)]", "BODY[HEADER.FIELDS (X)]", "\r\n");
	check_literal("\r\nbody", "BODY.PEEK[HEADER]", "BODY[HEADER]", "\r\n");
	check_literal("\r\nbody", "BODY.PEEK[TEXT]", "BODY[TEXT]", "body");
	check_literal("no header at all", "BODY.PEEK[TEXT]", "BODY[TEXT]", "");
}

static const char nested[] =
	"From: a@b\n"
	"Content-Type: multipart/mixed; boundary=B\n"
	"\n"
	"--B\n"
	"Content-Type: text/plain\n"
	"\n"
	"part one\n"
	"--B\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Subject: inner\n"
	"Content-Type: multipart/alternative; boundary=C\n"
	"\n"
	"--C\n"
	"\n"
	"inner text\n"
	"--C\n"
	"Content-Type: text/html\n"
	"\n"
	"<p>x</p>\n"
	"--C--\n"
	"--B--\n";

static void test_part_sections(void)
{
	static const char inner_body[] =
		"--C\r\n\r\ninner text\r\n--C\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--C--\r\n";
	static const char inner_hdr[] =
		"Subject: inner\r\nContent-Type: multipart/alternative; boundary=C\r\n\r\n";
	struct buf inner;

	/* The line end after "--C--" stays in part 2: it ended a boundary
	 * line (docs/mime.md). */
	check_literal(nested, "BODY.PEEK[1]", "BODY[1]", "part one");
	check_literal(nested, "BODY.PEEK[1.MIME]", "BODY[1.MIME]", "Content-Type: text/plain\r\n\r\n");
	check_literal(nested, "BODY.PEEK[2.MIME]", "BODY[2.MIME]",
		      "Content-Type: message/rfc822\r\n\r\n");
	check_literal(nested, "BODY.PEEK[2.HEADER]", "BODY[2.HEADER]", inner_hdr);
	check_literal(nested, "BODY.PEEK[2.TEXT]", "BODY[2.TEXT]", inner_body);
	buf_init(&inner, BUF_NO_LIMIT);
	buf_printf(&inner, "%s%s", inner_hdr, inner_body);
	check_literal(nested, "BODY.PEEK[2]", "BODY[2]", buf_cstr(&inner));
	buf_free(&inner);
	check_literal(nested, "BODY.PEEK[2.1]", "BODY[2.1]", "inner text");
	check_literal(nested, "BODY.PEEK[2.2]", "BODY[2.2]", "<p>x</p>");
	check_literal(nested, "BODY.PEEK[2.2.MIME]", "BODY[2.2.MIME]",
		      "Content-Type: text/html\r\n\r\n");
	check_literal(nested, "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]",
		      "BODY[2.HEADER.FIELDS (SUBJECT)]", "Subject: inner\r\n\r\n");
	check_literal(nested, "BODY.PEEK[2.HEADER.FIELDS.NOT (SUBJECT)]",
		      "BODY[2.HEADER.FIELDS.NOT (SUBJECT)]",
		      "Content-Type: multipart/alternative; boundary=C\r\n\r\n");
	check_literal(nested, "BODY.PEEK[2.1]<6.20>", "BODY[2.1]<6>", "text");
	/* Parts that do not exist, and HEADER of a part that holds no
	 * message: empty strings. */
	check_literal(nested, "BODY.PEEK[3]", "BODY[3]", "");
	check_literal(nested, "BODY.PEEK[2.3]", "BODY[2.3]", "");
	check_literal(nested, "BODY.PEEK[1.HEADER]", "BODY[1.HEADER]", "");
	check_literal(nested, "BODY.PEEK[1.HEADER.FIELDS (X)]", "BODY[1.HEADER.FIELDS (X)]", "");
	check_literal(nested, "BODY.PEEK[1.1.1]", "BODY[1.1.1]", "");
	/* A single-part message is its own part 1. */
	check_literal("Subject: x\n\nonly\n", "BODY.PEEK[1]", "BODY[1]", "only\r\n");
	check_literal("Subject: x\n\nonly\n", "BODY.PEEK[1.MIME]", "BODY[1.MIME]",
		      "Subject: x\r\n\r\n");
}

static void test_items_together(void)
{
	struct imt_msg t;
	char *got;
	size_t len;
	const char *p;

	imt_msg_init(&t, 5, 9, nested, sizeof(nested) - 1);
	t.msg.flags = IMAP_FLAG_SEEN;
	got = fetch(&t, "(BODY.PEEK[1] FLAGS BODY BODY.PEEK[2.1] UID ENVELOPE)", false, false,
		    &len);
	p = "* 5 FETCH (UID 9 FLAGS (\\Seen) ENVELOPE (NIL NIL ((NIL NIL \"a\" \"b\")) "
	    "((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) BODY (";
	CHECK(strncmp(got, p, strlen(p)) == 0);
	CHECK(strstr(got, ") BODY[1] {8}\r\npart one BODY[2.1] {10}\r\ninner text)\r\n") != NULL);
	free(got);
	imap_msg_clear(&t.m);
	CHECK(t.m.mime == NULL);
}

/* Items that need the bytes, asked of a message whose bytes are not there
 * (expunged meanwhile): a well-formed reply, as for an empty message. */
static void test_no_data(void)
{
	struct imt_msg t;
	char *got;
	size_t len;

	imt_msg_init(&t, 2, 3, NULL, 0);
	got = fetch(&t, "(ENVELOPE BODYSTRUCTURE BODY.PEEK[] BODY.PEEK[1.MIME] RFC822.TEXT)",
		    false, false, &len);
	CHECK_STR(got, "* 2 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
		  "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
		  "NIL NIL NIL NIL) RFC822.TEXT {0}\r\n BODY[] {0}\r\n BODY[1.MIME] {0}\r\n)\r\n");
	free(got);
	imap_msg_clear(&t.m);
}

/* Over the corpus: ENVELOPE from the header alone equals the full tree's,
 * BODY and BODYSTRUCTURE are the tree's, the header size found without
 * MIME is the tree's, every reply is well formed with exact literals. */
static void test_corpus(void)
{
	for (size_t i = 0; mime_corpus_files[i] != NULL; i++) {
		size_t len = 0;
		char *data = mime_corpus_load(mime_corpus_files[i], &len);
		struct mime_part *root;
		struct imt_msg t;
		struct buf want;
		char *got;

		CHECK(data != NULL);
		if (data == NULL)
			continue;
		root = mime_parse(data, len, NULL);
		imt_msg_init(&t, 1, 1, data, len);
		CHECK_INT(imap_msg_header_size(&t.m), root->header.size);
		buf_init(&want, BUF_NO_LIMIT);
		buf_append_str(&want, "* 1 FETCH (ENVELOPE ");
		imap_envelope_write(&want, root->envelope);
		buf_append_str(&want, " BODY ");
		imap_bodystructure_write(&want, root, false);
		buf_append_str(&want, " BODYSTRUCTURE ");
		imap_bodystructure_write(&want, root, true);
		buf_printf(&want, " BODY[] {%llu}\r\n",
			   (unsigned long long)(root->header.vsize + root->body.vsize));
		got = fetch(&t, "(ENVELOPE)", false, false, NULL);
		CHECK(t.m.mime == NULL);
		CHECK(strncmp(got, want.data, strlen(got) - 3) == 0);
		free(got);
		got = fetch(&t, "(ENVELOPE BODY BODYSTRUCTURE BODY.PEEK[])", false, false, NULL);
		CHECK(strncmp(got, want.data, want.len) == 0);
		free(got);
		got = fetch(&t, "(RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] "
			    "BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[1.MIME] "
			    "BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[2.1.1] "
			    "BODY.PEEK[2.HEADER.FIELDS.NOT (To)] BODY.PEEK[]<5.100>)",
			    false, false, NULL);
		free(got);
		buf_free(&want);
		mime_part_free(&root);
		imap_msg_clear(&t.m);
		free(data);
	}
}

/* A large message: sections come out whole, in time linear in its size
 * (each test above would otherwise show quadratic work only as a slow
 * suite; this one bounds it). */
static void test_large(void)
{
	struct buf msg;
	struct imt_msg t;
	char *got;
	size_t len;
	clock_t start = clock();

	buf_init(&msg, BUF_NO_LIMIT);
	buf_append_str(&msg, "Subject: big\nContent-Type: multipart/mixed; boundary=x\n\n");
	for (int p = 0; p < 50; p++) {
		buf_append_str(&msg, "--x\nContent-Type: text/plain\n\n");
		for (int i = 0; i < 2000; i++)
			buf_append_str(&msg, "a line of text in a large message\n");
	}
	buf_append_str(&msg, "--x--\n");
	imt_msg_init(&t, 1, 1, msg.data, msg.len);
	got = fetch(&t, "(BODY.PEEK[] BODY.PEEK[50] BODY.PEEK[25]<1000.100000> BODYSTRUCTURE)",
		    false, false, &len);
	CHECK(len > msg.len + msg.len / 50);
	free(got);
	CHECK((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
	imap_msg_clear(&t.m);
	buf_free(&msg);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	imt_keywords_init();
	test_run("flags_and_meta", test_flags_and_meta);
	test_run("internaldate_zones", test_internaldate_zones);
	test_run("needs_data", test_needs_data);
	test_run("top_sections", test_top_sections);
	test_run("partial_windows", test_partial_windows);
	test_run("partial", test_partial);
	test_run("header_fields", test_header_fields);
	test_run("part_sections", test_part_sections);
	test_run("items_together", test_items_together);
	test_run("no_data", test_no_data);
	test_run("corpus", test_corpus);
	test_run("large", test_large);
	maildir_keywords_free(&imt_keywords);
	return test_done();
}
