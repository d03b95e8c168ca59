#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap-args.h"
#include "imap-msg-private.h"
#include "imap-msg-test.h"
#include "mime-corpus.h"

static const struct imap_search_ctx ctx10 = { 10, 500 };

/* Does criteria match t? needs_data must say yes exactly when the bytes
 * matter: with data_known false, the message's bytes are hidden while
 * needs_data says no. */
static bool search_t(struct imt_msg *t, const char *criteria)
{
	struct imap_search_program prog;
	const char *data = t->m.data;
	bool match;

	imt_search_program(&prog, criteria);
	if (!imap_search_needs_data(&prog, &t->msg))
		t->m.data = NULL;
	match = imap_search_match(&prog, &t->m, &ctx10);
	t->m.data = data;
	imap_search_program_free(&prog);
	return match;
}

/* Does criteria match the message text msg? */
static bool search(const char *msg, const char *criteria)
{
	struct imt_msg t;
	bool match;

	imt_msg_init(&t, 1, 1, msg, strlen(msg));
	match = search_t(&t, criteria);
	imap_msg_clear(&t.m);
	return match;
}

static bool needs_data(const char *criteria, uint64_t size, uint64_t vsize)
{
	struct imap_search_program prog;
	struct mbox_msg msg;
	bool ret;

	memset(&msg, 0, sizeof(msg));
	msg.size = size;
	msg.vsize = vsize;
	imt_search_program(&prog, criteria);
	ret = imap_search_needs_data(&prog, &msg);
	imap_search_program_free(&prog);
	return ret;
}

static void test_needs_data(void)
{
	CHECK(!needs_data("ALL", 10, 12));
	CHECK(!needs_data("SEEN NOT FLAGGED OR DRAFT RECENT", 10, 12));
	CHECK(!needs_data("KEYWORD a UNKEYWORD b 1:5 UID 3:*", 10, 12));
	CHECK(!needs_data("BEFORE 1-Jan-2024 ON 2-Feb-2020 SINCE 3-Mar-2021", 10, 12));
	CHECK(!needs_data("LARGER 5 SMALLER 100", 10, 12));
	CHECK(needs_data("LARGER 5", 10, 0));
	CHECK(!needs_data("LARGER 5", 0, 0));
	CHECK(needs_data("SENTBEFORE 1-Jan-2024", 10, 12));
	CHECK(needs_data("NOT SENTON 1-Jan-2024", 10, 12));
	CHECK(needs_data("HEADER X-A \"\"", 10, 12));
	CHECK(needs_data("FROM a", 10, 12));
	CHECK(needs_data("OR SEEN SUBJECT a", 10, 12));
	CHECK(needs_data("BODY a", 10, 12));
	CHECK(needs_data("(SEEN (TEXT a))", 10, 12));
}

static void test_flags_and_sets(void)
{
	struct imt_msg t;

	imt_msg_init(&t, 4, 120, NULL, 0);
	t.msg.flags = IMAP_FLAG_SEEN | IMAP_FLAG_DRAFT;
	t.msg.keywords = (1u << 1) | (1u << 2);   /* Work, and 'c' without a name */
	t.msg.size = 1000;
	t.msg.vsize = 1020;
	CHECK(search_t(&t, "ALL"));
	CHECK(search_t(&t, "SEEN"));
	CHECK(search_t(&t, "DRAFT SEEN"));
	CHECK(!search_t(&t, "FLAGGED"));
	CHECK(search_t(&t, "UNFLAGGED UNANSWERED UNDELETED"));
	CHECK(!search_t(&t, "UNSEEN"));
	CHECK(search_t(&t, "OR FLAGGED DRAFT"));
	CHECK(!search_t(&t, "OR FLAGGED DELETED"));
	CHECK(search_t(&t, "NOT NOT SEEN"));
	CHECK(search_t(&t, "(SEEN (DRAFT (NOT DELETED)))"));
	CHECK(!search_t(&t, "(SEEN (DRAFT (DELETED)))"));
	CHECK(!search_t(&t, "RECENT"));
	CHECK(search_t(&t, "OLD"));
	CHECK(!search_t(&t, "NEW"));
	t.msg.recent = true;
	t.msg.flags = 0;
	CHECK(search_t(&t, "RECENT"));
	CHECK(search_t(&t, "NEW"));
	CHECK(!search_t(&t, "OLD"));
	/* Keywords by name, without case; a name not in dovecot-keywords and
	 * a letter without a name match nothing. */
	CHECK(search_t(&t, "KEYWORD Work"));
	CHECK(search_t(&t, "KEYWORD work"));
	CHECK(!search_t(&t, "KEYWORD $Important"));
	CHECK(search_t(&t, "UNKEYWORD $Important"));
	CHECK(!search_t(&t, "KEYWORD nosuch"));
	CHECK(!search_t(&t, "KEYWORD c"));
	/* Sequence numbers and UIDs; "*" is the highest of each. */
	CHECK(search_t(&t, "4"));
	CHECK(search_t(&t, "1:3,4"));
	CHECK(search_t(&t, "5:3"));
	CHECK(!search_t(&t, "1:3,5:*"));
	CHECK(!search_t(&t, "*"));
	CHECK(search_t(&t, "UID 120"));
	CHECK(search_t(&t, "UID 1:200"));
	CHECK(!search_t(&t, "UID 121:*"));
	CHECK(search_t(&t, "NOT UID 121:*"));
	t.msg.uid = 500;
	CHECK(search_t(&t, "UID *"));
	CHECK(search_t(&t, "UID 600:*"));
	/* Sizes are RFC822.SIZE: the vsize. */
	CHECK(search_t(&t, "LARGER 1019"));
	CHECK(!search_t(&t, "LARGER 1020"));
	CHECK(search_t(&t, "SMALLER 1021"));
	CHECK(!search_t(&t, "SMALLER 1020"));
	CHECK(search_t(&t, "LARGER 0 SMALLER 99999999999"));
}

static void test_internal_dates(void)
{
	struct imt_msg t;

	imt_msg_init(&t, 1, 1, NULL, 0);
	t.msg.internaldate = 1704153600 - 1;   /* 1-Jan-2024 23:59:59 UTC */
	CHECK(search_t(&t, "ON 1-Jan-2024"));
	CHECK(search_t(&t, "BEFORE 2-Jan-2024"));
	CHECK(!search_t(&t, "BEFORE 1-Jan-2024"));
	CHECK(search_t(&t, "SINCE 1-Jan-2024"));
	CHECK(!search_t(&t, "SINCE 2-Jan-2024"));
	CHECK(search_t(&t, "SINCE 31-Dec-2023 BEFORE 2-Jan-2024 NOT ON 31-Dec-2023"));
	/* The day is taken in the server's time zone. */
	setenv("TZ", "XXX-02", 1);
	tzset();
	CHECK(search_t(&t, "ON 2-Jan-2024"));
	CHECK(!search_t(&t, "ON 1-Jan-2024"));
	setenv("TZ", "UTC", 1);
	tzset();
}

static void test_sent_dates(void)
{
	static const struct {
		const char *date, *on;
	} cases[] = {
		{ "Tue, 5 Mar 2024 10:30:00 +0100", "5-Mar-2024" },
		{ "5 Mar 24 10:30 EST", "5-Mar-2024" },
		{ "Fri, 31 Dec 99 23:59:59 GMT", "31-Dec-1999" },
		{ "Mon, 1 Jan 100 00:00:00 +0000", "1-Jan-2000" },
		{ "(comment) Tue , 05 mar 2024 (x) 10:30 +0000", "5-Mar-2024" },
		/* As written: the zone is not applied (RFC 3501 6.4.4). */
		{ "Mon, 1 Jan 2024 23:30:00 -0800", "1-Jan-2024" },
		{ "Tue, 2 Jan 2024 00:30:00 +1400", "2-Jan-2024" },
		{ "2 February 2024", "2-Feb-2024" },
		/* Unusable: taken as 1-Jan-1970, as Dovecot does. */
		{ "yesterday", "1-Jan-1970" },
		{ "32 Jan 2024 10:00:00 +0000", "1-Jan-1970" },
		{ "1 Foo 2024 10:00:00 +0000", "1-Jan-1970" },
		{ "", "1-Jan-1970" },
	};
	char msg[256], crit[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(msg, sizeof(msg), "Subject: x\r\nDate: %s\r\nDate: 1 Jan 2000\r\n\r\nbody",
			 cases[i].date);
		snprintf(crit, sizeof(crit), "SENTON %s", cases[i].on);
		CHECK(search(msg, crit));
		snprintf(crit, sizeof(crit), "SENTSINCE %s SENTBEFORE 1-Jan-2100", cases[i].on);
		CHECK(search(msg, crit));
		snprintf(crit, sizeof(crit), "SENTBEFORE %s", cases[i].on);
		CHECK(!search(msg, crit));
	}
	CHECK(search("Subject: no date\r\n\r\nx", "SENTBEFORE 2-Jan-1970"));
	CHECK(!search("Subject: no date\r\n\r\nx", "SENTSINCE 2-Jan-1970"));
	/* Only the message's own header counts. */
	CHECK(!search("Subject: x\r\nContent-Type: message/rfc822\r\n\r\n"
		      "Date: 5 Mar 2024 10:00 +0000\r\n\r\nx", "SENTON 5-Mar-2024"));
}

static void test_headers(void)
{
	static const char msg[] =
		"From: \"Bob Smith\" <bob@example.test>\r\n"
		"To: =?ISO-8859-1?Q?Andr=E9?= <andre@example.test>, carol@example.test\r\n"
		"Cc: Group: dave@example.test, erin@example.test;\r\n"
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus\r\n"
		"\tK\xc3\xb6ln,   today\r\n"
		"X-Twice: first\r\n"
		"X-Twice: second value\r\n"
		"X-Empty:\r\n"
		"X-Latin1: caf\xe9\r\n"
		"Content-Type: multipart/mixed; boundary=b\r\n"
		"\r\n"
		"--b\r\n"
		"X-Inner: only in a part\r\n"
		"\r\n"
		"text\r\n"
		"--b--\r\n";

	CHECK(search(msg, "FROM bob"));
	CHECK(search(msg, "FROM \"Bob Smith\""));
	CHECK(search(msg, "FROM \"\\\"Bob Smith\\\" <bob@\""));
	/* The addresses written plainly match too. */
	CHECK(search(msg, "FROM \"Bob Smith <bob@example.test>\""));
	CHECK(!search(msg, "FROM alice"));
	CHECK(search(msg, "TO \"andr\xc3\xa9\""));
	CHECK(search(msg, "TO \"Andr\xc3\xa9 <andre@\""));
	CHECK(search(msg, "TO carol@EXAMPLE"));
	CHECK(search(msg, "CC erin"));
	CHECK(search(msg, "CC \"group: dave\""));
	CHECK(search(msg, "CC \"dave@example.test, erin@example.test;\""));
	CHECK(search("Cc: G:a@b.c,\r\n d@e.f;, x@y.z\r\n\r\n", "CC \"g: a@b.c, d@e.f;, x@y.z\""));
	CHECK(!search(msg, "BCC a"));
	CHECK(search(msg, "NOT BCC \"\""));
	/* Encoded-words decoded, folding removed, white space as one. */
	CHECK(search(msg, "SUBJECT \"gr\xc3\xbc\xc3\x9f" "e aus k\xc3\xb6ln, today\""));
	CHECK(search(msg, "HEADER Subject \"aus\tk\xc3\xb6ln\""));
	CHECK(!search(msg, "SUBJECT Gr=C3"));
	CHECK(search(msg, "SUBJECT \"\""));
	CHECK(search(msg, "HEADER X-Twice second"));
	CHECK(search(msg, "HEADER x-twice FIRST"));
	CHECK(search(msg, "HEADER X-Empty \"\""));
	CHECK(!search(msg, "HEADER X-Empty x"));
	CHECK(!search(msg, "HEADER X-Missing \"\""));
	CHECK(search(msg, "HEADER X-Latin1 \"CAF\xc3\x89\""));
	/* HEADER looks at the message's header, not a part's. */
	CHECK(!search(msg, "HEADER X-Inner \"\""));
	CHECK(search(msg, "TEXT \"X-Inner: only\""));
}

/* What is folded: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic. */
static void test_case_folding(void)
{
	static const struct {
		const char *text, *key;
		bool match;
	} cases[] = {
		{ "Hello World", "hELLO wORLD", true },
		{ "\xc3\x84rger \xc3\xa9t\xc3\xa9", "\xc3\xa4RGER \xc3\x89T\xc3\x89", true },
		{ "\xc3\x9e\xc3\xbe", "\xc3\xbe\xc3\x9e", true },
		{ "\xc3\x97", "\xc3\xb7", false },   /* multiplication and division signs */
		{ "\xc5\x81\xc3\x93" "D\xc5\xb9", "\xc5\x82\xc3\xb3" "d\xc5\xba", true },
		{ "\xc5\xb8", "\xc3\xbf", true },
		{ "\xce\xa3\xce\x99\xce\xa3", "\xcf\x83\xce\xb9\xcf\x82", true },
		{ "\xd0\x81\xd0\x96", "\xd1\x91\xd0\xb6", true },
		{ "Stra\xc3\x9f" "e", "STRASSE", false },
		{ "caf\xc3\xa9", "cafe\xcc\x81", false },
		{ "\xe2\x82\xac" "10", "\xe2\x82\xac" "10", true },
	};
	char msg[256], crit[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(msg, sizeof(msg), "Subject: %s\r\nContent-Type: text/plain; "
			 "charset=utf-8\r\n\r\n-- %s --\r\n", cases[i].text, cases[i].text);
		snprintf(crit, sizeof(crit), "SUBJECT \"%s\"", cases[i].key);
		CHECK(search(msg, crit) == cases[i].match);
		snprintf(crit, sizeof(crit), "BODY \"%s\"", cases[i].key);
		CHECK(search(msg, crit) == cases[i].match);
	}
}

static const char multi[] =
	"From: a@example.test\r\n"
	"Subject: parts\r\n"
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	"\r\n"
	"preamble words\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=FC=DFe aus K=F6ln, sch=F6n=\r\n"
	"e Stra=DFe.\r\n"
	"--b\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PHA+Q2Fmw6kgY3LDqG1lPC9wPg==\r\n"
	"--b\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"c2VjcmV0d29yZA==\r\n"
	"--b\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner subject\r\n"
	"\r\n"
	"inner body words\r\n"
	"--b--\r\n"
	"epilogue words\r\n";

static void test_body_text(void)
{
	CHECK(search(multi, "BODY \"gr\xc3\xbc\xc3\x9f" "e aus k\xc3\xb6ln\""));
	CHECK(search(multi, "BODY \"sch\xc3\xb6ne stra\xc3\x9f" "e\""));
	CHECK(!search(multi, "BODY =FC"));
	CHECK(search(multi, "BODY \"caf\xc3\xa9 cr\xc3\xa8me\""));
	CHECK(search(multi, "BODY \"<p>caf\""));
	CHECK(!search(multi, "BODY PHA"));
	/* Not text: neither an attachment, nor preamble and epilogue. */
	CHECK(!search(multi, "BODY secretword"));
	CHECK(!search(multi, "TEXT secretword"));
	CHECK(!search(multi, "BODY preamble"));
	CHECK(!search(multi, "BODY epilogue"));
	/* A message/rfc822 part: its text is body, its header is not. */
	CHECK(search(multi, "BODY \"inner body\""));
	CHECK(!search(multi, "BODY \"inner subject\""));
	CHECK(search(multi, "TEXT \"inner subject\""));
	/* TEXT: every header (names too) and the body text. */
	CHECK(search(multi, "TEXT \"subject: parts\""));
	CHECK(search(multi, "TEXT \"content-transfer-encoding: quoted\""));
	CHECK(search(multi, "TEXT \"inner body\""));
	CHECK(!search(multi, "SUBJECT inner"));
	/* A match never spans two parts. */
	CHECK(!search(multi, "BODY \"stra\xc3\x9f" "e.<p>\""));
	CHECK(search(multi, "BODY \"stra\xc3\x9f" "e.\""));
	CHECK(search(multi, "BODY \"\""));
	CHECK(search(multi, "TEXT \"\""));
	/* Without MIME: the whole body is text/plain. */
	CHECK(search("Subject: s\n\nplain =41 body\n", "BODY \"=41 body\""));
	CHECK(!search("Subject: s\n\nplain body\n", "BODY subject"));
	CHECK(search("Subject: s\n\nplain body\n", "TEXT subject"));
	CHECK(search("Subject: s\n\nplain body\n", "TEXT \"subject: s\""));
	CHECK(search("", "NOT BODY x NOT TEXT x"));
}

/* Keys that need no data are tried first: a failed flag leaves the MIME
 * tree unparsed and the bodies undecoded. */
static void test_cost_order(void)
{
	struct imt_msg t;

	imt_msg_init(&t, 1, 1, multi, strlen(multi));
	CHECK(!search_t(&t, "BODY secretword FLAGGED"));
	CHECK(t.m.mime == NULL);
	CHECK(!search_t(&t, "OR BODY x SUBJECT x DELETED"));
	CHECK(t.m.mime == NULL);
	CHECK(search_t(&t, "OR BODY x ALL"));
	CHECK(t.m.mime == NULL);
	CHECK(search_t(&t, "SUBJECT parts"));
	CHECK(t.m.mime == NULL);
	CHECK(search_t(&t, "BODY inner"));
	CHECK(t.m.mime != NULL);
	imap_msg_clear(&t.m);
	CHECK(t.m.mime == NULL);
}

static bool search_t_file(const char *name, const char *criteria)
{
	size_t len = 0;
	char *data = mime_corpus_load(name, &len);
	struct imt_msg t;
	bool match;

	CHECK(data != NULL);
	imt_msg_init(&t, 1, 1, data, len);
	match = data != NULL && search_t(&t, criteria);
	imap_msg_clear(&t.m);
	free(data);
	return match;
}

/* Every sample: the searches run and agree with themselves. */
static void test_corpus(void)
{
	for (size_t i = 0; mime_corpus_files[i] != NULL; i++) {
		size_t len = 0;
		char *data = mime_corpus_load(mime_corpus_files[i], &len);
		struct imt_msg t;

		CHECK(data != NULL);
		if (data == NULL)
			continue;
		imt_msg_init(&t, 1, 1, data, len);
		CHECK(search_t(&t, "TEXT \"\" BODY \"\""));
		CHECK(search_t(&t, "OR TEXT zzqqy NOT TEXT zzqqy"));
		CHECK(search_t(&t, "OR BODY a NOT BODY a"));
		CHECK(search_t(&t, "OR FROM example.test NOT FROM example.test"));
		/* What BODY finds, TEXT finds too. */
		CHECK(search_t(&t, "OR NOT BODY e TEXT e"));
		imap_msg_clear(&t.m);
		free(data);
	}
	CHECK(search_t_file("simple.eml", "SUBJECT hello BODY \"plain message\" FROM alice"));
	CHECK(search_t_file("8bit-headers.eml", "FROM \"j\xc3\xbcrgen\" SUBJECT \"k\xc3\xb6ln\""));
	CHECK(search_t_file("encoded-words.eml", "SUBJECT \"caf\xc3\xa9 au lait and \xe2\x82\xac done\""));
	CHECK(search_t_file("rfc822.eml", "TEXT \"subject: inner\" NOT BODY \"subject: inner\" "
			    "BODY \"inner html\" SUBJECT \"fwd: inner\""));
}

/* Big messages: decoding and matching are linear in the size. */
static void test_large(void)
{
	struct buf msg;
	clock_t start = clock();

	buf_init(&msg, BUF_NO_LIMIT);
	/* Content-* first: the MIME parser reads only the first 64 KiB of
	 * a header. */
	buf_append_str(&msg, "Content-Type: text/plain; charset=utf-8\r\n"
		       "Content-Transfer-Encoding: base64\r\nTo: ");
	for (int i = 0; i < 20000; i++)
		buf_printf(&msg, "%s=?a?q?x user%d@example.test", i > 0 ? ",\r\n " : "", i);
	buf_append_str(&msg, "\r\nSubject: ");
	for (int i = 0; i < 50000; i++)
		buf_append_str(&msg, "=?utf-8?q?x");
	buf_append_str(&msg, "\r\n\r\n");
	for (int i = 0; i < 60000; i++)
		buf_append_str(&msg, "QSBsaW5lIG9mIHRleHQgaW4gYSBsYXJnZSBtZXNzYWdl\r\n");
	buf_append_str(&msg, "bmVlZGxl\r\n");
	CHECK(search(msg.data, "BODY needle"));
	CHECK(search(msg.data, "TO user19999@example SUBJECT \"=?utf-8?q?x\""));
	CHECK(search(msg.data, "TEXT needle TEXT user7"));
	CHECK(!search(msg.data, "TEXT nothere"));
	CHECK((double)(clock() - start) / CLOCKS_PER_SEC < 5.0);
	buf_free(&msg);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	imt_keywords_init();
	test_run("needs_data", test_needs_data);
	test_run("flags_and_sets", test_flags_and_sets);
	test_run("internal_dates", test_internal_dates);
	test_run("sent_dates", test_sent_dates);
	test_run("headers", test_headers);
	test_run("case_folding", test_case_folding);
	test_run("body_text", test_body_text);
	test_run("cost_order", test_cost_order);
	test_run("corpus", test_corpus);
	test_run("large", test_large);
	maildir_keywords_free(&imt_keywords);
	return test_done();
}
