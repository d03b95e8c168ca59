#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-search-parse.h"
#include "imap-test-util.h"

static const char *const op_names[] = { "BEFORE", "ON", "SINCE", "LARGER", "SMALLER" };

static void node_dump(const struct imap_search_node *node, struct buf *b)
{
	const struct imap_search_node *c;

	switch (node->type) {
	case IMAP_SEARCH_ALL: buf_append_str(b, "ALL"); return;
	case IMAP_SEARCH_RECENT: buf_append_str(b, "RECENT"); return;
	case IMAP_SEARCH_FLAG: buf_printf(b, "FLAG(%#x)", node->flag); return;
	case IMAP_SEARCH_KEYWORD: buf_printf(b, "KW(%s)", node->value); return;
	case IMAP_SEARCH_BODY: buf_printf(b, "BODY(%s)", node->value); return;
	case IMAP_SEARCH_TEXT: buf_printf(b, "TEXT(%s)", node->value); return;
	case IMAP_SEARCH_HEADER: buf_printf(b, "HDR(%s:%s)", node->header, node->value); return;
	case IMAP_SEARCH_SIZE:
		buf_printf(b, "%s(%llu)", op_names[node->op], (unsigned long long)node->size);
		return;
	case IMAP_SEARCH_DATE:
		buf_printf(b, "%s%s(%04d-%02d-%02d)", node->sent ? "SENT" : "", op_names[node->op],
			   node->date.year, node->date.month, node->date.day);
		return;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		buf_append_str(b, node->type == IMAP_SEARCH_UID ? "UID(" : "SET(");
		imap_seqset_format(&node->set, b);
		buf_append_char(b, ')');
		return;
	case IMAP_SEARCH_AND: buf_append_str(b, "AND("); break;
	case IMAP_SEARCH_OR: buf_append_str(b, "OR("); break;
	case IMAP_SEARCH_NOT: buf_append_str(b, "NOT("); break;
	}
	for (c = node->child; c != NULL; c = c->next) {
		node_dump(c, b);
		if (c->next != NULL)
			buf_append_char(b, ' ');
	}
	buf_append_char(b, ')');
}

static char *search_dump(const struct imap_command *cmd)
{
	struct imap_search_program prog;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (cmd == NULL) {
		buf_append_str(&b, "no command");
	} else if (imap_search_parse(cmd->args, cmd->count, &prog, &error) < 0) {
		buf_printf(&b, "%s %s", prog.badcharset ? "NO" : "BAD", error);
	} else {
		if (prog.charset_given)
			buf_append_str(&b, "charset ");
		node_dump(prog.root, &b);
		imap_search_program_free(&prog);
	}
	return buf_steal(&b);
}

static void check_search(const char *stream, const char *want)
{
	char *got = imap_test_feeds(stream, NULL, false, 0, search_dump);

	CHECK_STR(got, want);
	free(got);
}

#define S(criteria) "a SEARCH " criteria "\r\n"

static void test_search_keys(void)
{
	check_search(S("ALL"), "AND(ALL)");
	check_search(S("answered deleted DRAFT flagged SEEN"),
		     "AND(FLAG(0x2) FLAG(0x8) FLAG(0x10) FLAG(0x4) FLAG(0x1))");
	check_search(S("UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN"),
		     "AND(NOT(FLAG(0x2)) NOT(FLAG(0x8)) NOT(FLAG(0x10)) NOT(FLAG(0x4)) NOT(FLAG(0x1)))");
	check_search(S("NEW OLD RECENT"), "AND(AND(RECENT NOT(FLAG(0x1))) NOT(RECENT) RECENT)");
	check_search(S("KEYWORD $Junk UNKEYWORD x"), "AND(KW($Junk) NOT(KW(x)))");
	check_search(S("BEFORE 1-Feb-2024 ON \"02-Mar-2024\" SINCE 29-Feb-2024"),
		     "AND(BEFORE(2024-02-01) ON(2024-03-02) SINCE(2024-02-29))");
	check_search(S("SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000"),
		     "AND(SENTBEFORE(2000-01-01) SENTON(2000-01-01) SENTSINCE(2000-01-01))");
	check_search(S("LARGER 1000 SMALLER 0"), "AND(LARGER(1000) SMALLER(0))");
	check_search(S("FROM alice TO \"bob smith\" CC c BCC d SUBJECT {5}\r\nhello"),
		     "AND(HDR(FROM:alice) HDR(TO:bob smith) HDR(CC:c) HDR(BCC:d) HDR(SUBJECT:hello))");
	check_search(S("HEADER X-Spam \"\" BODY needle TEXT \"hay stack\""),
		     "AND(HDR(X-Spam:) BODY(needle) TEXT(hay stack))");
	check_search(S("1:3,5 UID 10:* *"), "AND(SET(1:3,5) UID(10:*) SET(*))");
	check_search(S("OR SEEN (FLAGGED FROM x) NOT OR 1 2"),
		     "AND(OR(FLAG(0x1) AND(FLAG(0x4) HDR(FROM:x))) NOT(OR(SET(1) SET(2))))");
	check_search(S("((ALL))"), "AND(AND(AND(ALL)))");
	check_search(S("CHARSET UTF-8 SUBJECT {5+}\r\ncaf\xc3\xa9"), "charset AND(HDR(SUBJECT:caf\xc3\xa9))");
	check_search(S("charset us-ascii ALL"), "charset AND(ALL)");
	/* other charsets: the strings become UTF-8, in groups too */
	check_search(S("CHARSET ISO-8859-1 SUBJECT {4+}\r\ncaf\xe9"),
		     "charset AND(HDR(SUBJECT:caf\xc3\xa9))");
	check_search(S("CHARSET windows-1252 (BODY {3+}\r\n\x80 5 OR TEXT x FROM {1+}\r\n\xe9)"),
		     "charset AND(AND(BODY(\xe2\x82\xac 5) OR(TEXT(x) HDR(FROM:\xc3\xa9))))");
	check_search(S("CHARSET latin1 SUBJECT {2+}\r\n\xe9\xff"),
		     "charset AND(HDR(SUBJECT:\xc3\xa9\xc3\xbf))");
	check_search(S("CHARSET ISO-8859-15 SUBJECT {1+}\r\n\xa4"),
		     "charset AND(HDR(SUBJECT:\xe2\x82\xac))");
	check_search(S("CHARSET ISO-8859-1 ALL"), "charset AND(ALL)");
	check_search(S("SUBJECT NIL"), "AND(HDR(SUBJECT:NIL))");
}

static void test_search_bad(void)
{
	check_search("a SEARCH\r\n", "BAD Missing SEARCH criteria");
	check_search(S("CHARSET X-NO-SUCH-CHARSET ALL"),
		     "NO [BADCHARSET (UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252)] "
		     "Unsupported charset");
	check_search(S("CHARSET KOI8-R ALL"),
		     "NO [BADCHARSET (UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252)] "
		     "Unsupported charset");
	check_search(S("CHARSET \"\" ALL"),
		     "NO [BADCHARSET (UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252)] "
		     "Unsupported charset");
	check_search(S("CHARSET"), "BAD Missing charset");
	check_search(S("CHARSET UTF-8"), "BAD Empty SEARCH criteria");
	check_search(S("BOGUS"), "BAD Unknown SEARCH key");
	check_search(S("\"ALL\""), "BAD SEARCH key expected");
	check_search(S("()"), "BAD Empty SEARCH criteria");
	check_search(S("FROM"), "BAD Missing SEARCH string");
	check_search(S("FROM (x)"), "BAD SEARCH string expected");
	check_search(S("SUBJECT {2}\r\n\xc3("), "BAD SEARCH string is not UTF-8");
	check_search(S("HEADER X-Foo"), "BAD Missing SEARCH string");
	check_search(S("BEFORE"), "BAD Missing SEARCH date");
	check_search(S("BEFORE 2024-01-01"), "BAD Invalid SEARCH date (d-Mon-yyyy)");
	check_search(S("SINCE 30-Feb-2024"), "BAD Invalid SEARCH date (d-Mon-yyyy)");
	check_search(S("ON {10}\r\n1-Jan-2024"), "BAD Invalid SEARCH date (d-Mon-yyyy)");
	check_search(S("LARGER"), "BAD Missing SEARCH number");
	check_search(S("LARGER -1"), "BAD Invalid SEARCH number");
	check_search(S("LARGER 1k"), "BAD Invalid SEARCH number");
	check_search(S("SMALLER 99999999999999999999"), "BAD Invalid SEARCH number");
	check_search(S("LARGER \"5\""), "BAD SEARCH number expected");
	check_search(S("UID"), "BAD Missing UID set");
	check_search(S("UID x"), "BAD Invalid sequence set");
	check_search(S("UID (1)"), "BAD Sequence set expected");
	check_search(S("0:5"), "BAD Sequence numbers start at 1");
	check_search(S("$"), "BAD $ (SEARCHRES) is not supported");
	check_search(S("NOT"), "BAD Missing SEARCH key");
	check_search(S("OR SEEN"), "BAD Missing SEARCH key");
	check_search(S("(SEEN"), "no command");
}

static void test_search_depth(void)
{
	struct buf b;
	char *got;

	/* NOT NOT ... nests one level per key; the bound holds. */
	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, "a SEARCH");
	for (int i = 0; i < IMAP_SEARCH_MAX_DEPTH - 1; i++)
		buf_append_str(&b, " NOT");
	buf_append_str(&b, " ALL\r\n");
	got = imap_test_feeds(b.data, NULL, false, 0, search_dump);
	CHECK(strncmp(got, "AND(NOT(NOT(", 12) == 0);
	free(got);
	buf_truncate(&b, b.len - 6);
	buf_append_str(&b, " NOT ALL\r\n");
	got = imap_test_feeds(b.data, NULL, false, 0, search_dump);
	CHECK_STR(got, "BAD SEARCH criteria nested too deeply");
	free(got);
	buf_free(&b);
}

int main(void)
{
	test_run("search: every RFC 3501 key", test_search_keys);
	test_run("search: malformed criteria", test_search_bad);
	test_run("search: nesting bound", test_search_depth);
	return test_done();
}
