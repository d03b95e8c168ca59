/* The POP3/POP2 command line parser (through the line reader the session
 * uses, fed whole, a byte at a time and split at every position) and the
 * RETR/TOP output filter (fed whole and a byte at a time). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "linereader.h"
#include "pop3-parse.h"
#include "test.h"

#define LINE_MAX_TEST 1024

/* One line of transcript per command: "NAME argc [arg|arg] <rest>" or
 * "ERR text" or "TOOLONG". */
static void describe(const struct lr_line *line, struct buf *out)
{
	struct pop3_command cmd;
	const char *error;

	if (pop3_parse_line(line->data, line->len, line->flags, &cmd, &error) < 0) {
		buf_printf(out, "ERR %s\n", error);
		return;
	}
	if (cmd.argc == POP3_ARGC_BAD) {
		buf_printf(out, "%s bad <%s>\n", cmd.name, cmd.rest);
		return;
	}
	buf_printf(out, "%s %zu", cmd.name, cmd.argc);
	for (size_t i = 0; i < cmd.argc; i++)
		buf_printf(out, "%s%s", i == 0 ? " [" : "|", cmd.args[i]);
	buf_printf(out, "%s <%s>\n", cmd.argc > 0 ? "]" : "", cmd.rest);
}

static char *drive(const char *stream, size_t len, size_t piece, size_t split)
{
	struct linereader lr;
	struct lr_line line;
	struct buf out;
	size_t off = 0;

	linereader_init(&lr, LINE_MAX_TEST, LR_EOL_LF);
	buf_init(&out, BUF_NO_LIMIT);
	while (off < len) {
		size_t n = piece != 0 ? piece : (off < split ? split - off : len - off);
		enum lr_result r;

		if (n > len - off)
			n = len - off;
		linereader_feed(&lr, stream + off, n);
		off += n;
		while ((r = linereader_next(&lr, &line)) != LR_NEED_MORE) {
			if (r == LR_TOO_LONG)
				buf_append_str(&out, "TOOLONG\n");
			else if (r == LR_LINE)
				describe(&line, &out);
		}
	}
	linereader_free(&lr);
	return buf_steal(&out);
}

static void check_feeds_len(const char *stream, size_t len, const char *want)
{
	char *got = drive(stream, len, 0, len);

	CHECK_STR(got, want);
	free(got);
	got = drive(stream, len, 1, 0);
	CHECK_STR(got, want);
	free(got);
	for (size_t split = 1; split < len; split++) {
		got = drive(stream, len, 0, split);
		if (strcmp(got, want) != 0) {
			CHECK_STR(got, want);
			free(got);
			break;
		}
		free(got);
	}
}

static void check_feeds(const char *stream, const char *want)
{
	check_feeds_len(stream, strlen(stream), want);
}

static void test_commands(void)
{
	check_feeds("STAT\r\n", "STAT 0 <>\n");
	check_feeds("stat\r\nList 1\r\nuidl\r\n", "STAT 0 <>\nLIST 1 [1] <1>\nUIDL 0 <>\n");
	check_feeds("TOP 1 10\r\n", "TOP 2 [1|10] <1 10>\n");
	check_feeds("USER demo@example.test\r\n",
		    "USER 1 [demo@example.test] <demo@example.test>\n");
	/* PASS keeps its spaces in rest (RFC 1939 7) */
	check_feeds("PASS a secret  phrase \r\n", "PASS bad <a secret  phrase >\n");
	check_feeds("PASS one two\r\n", "PASS 2 [one|two] <one two>\n");
	check_feeds("AUTH PLAIN AGRlbW8AZGVtbw==\r\n",
		    "AUTH 2 [PLAIN|AGRlbW8AZGVtbw==] <PLAIN AGRlbW8AZGVtbw==>\n");
	check_feeds("CAPA\nQUIT\n", "CAPA 0 <>\nQUIT 0 <>\n");  /* bare LF ends a line too */
	/* POP2 */
	check_feeds("HELO user pass\r\nFOLD INBOX\r\nREAD 3\r\nACKS\r\n",
		    "HELO 2 [user|pass] <user pass>\nFOLD 1 [INBOX] <INBOX>\nREAD 1 [3] <3>\n"
		    "ACKS 0 <>\n");
}

static void test_malformed(void)
{
	check_feeds("\r\n", "ERR Unknown command\n");
	check_feeds("ST\r\n", "ERR Unknown command\n");
	check_feeds("STATS\r\n", "ERR Unknown command\n");
	check_feeds("ST4T\r\n", "ERR Unknown command\n");
	check_feeds(" STAT\r\n", "ERR Unknown command\n");
	check_feeds("LIST  1\r\n", "LIST bad < 1>\n");
	check_feeds("LIST 1 \r\n", "LIST bad <1 >\n");
	check_feeds("LIST \r\n", "LIST bad <>\n");
	check_feeds("TOP 1 2 3 4 5\r\n", "TOP bad <1 2 3 4 5>\n");
	check_feeds("LIST 1\t2\r\n", "ERR Invalid characters in the command line\n");
	check_feeds("LIST 1\r2\r\n", "ERR Invalid characters in the command line\n");
	check_feeds_len("LIST 1\0002\r\nNOOP\r\n", 16,
			"ERR Invalid characters in the command line\nNOOP 0 <>\n");
	check_feeds("LIST \x7f\r\nNOOP\r\n", "ERR Invalid characters in the command line\nNOOP 0 <>\n");
	/* 8-bit bytes are not keywords */
	check_feeds("ST\xc3\x84T\r\n", "ERR Unknown command\n");
}

static void test_long_lines(void)
{
	struct buf s, want;

	/* An argument text longer than a command line may be: only rest. */
	buf_init(&s, BUF_NO_LIMIT);
	buf_init(&want, BUF_NO_LIMIT);
	buf_append_str(&s, "AUTH ");
	for (int i = 0; i < 300; i++)
		buf_append_char(&s, 'A');
	buf_printf(&want, "AUTH bad <%s>\n", buf_cstr(&s) + 5);
	buf_append_str(&s, "\r\n");
	check_feeds(buf_cstr(&s), buf_cstr(&want));
	/* Past the reader's limit: reported once, the next line is fine. */
	buf_reset(&s);
	for (int i = 0; i < LINE_MAX_TEST + 10; i++)
		buf_append_char(&s, 'X');
	buf_append_str(&s, "\r\nNOOP\r\n");
	check_feeds(buf_cstr(&s), "TOOLONG\nNOOP 0 <>\n");
	buf_free(&s);
	buf_free(&want);
}

static void test_numbers(void)
{
	uint32_t n = 99;

	CHECK(pop3_parse_number("1", 1, 10, &n) && n == 1);
	CHECK(pop3_parse_number("10", 1, 10, &n) && n == 10);
	CHECK(pop3_parse_number("0", 0, 10, &n) && n == 0);
	CHECK(!pop3_parse_number("0", 1, 10, &n));
	CHECK(!pop3_parse_number("11", 1, 10, &n));
	CHECK(!pop3_parse_number("01", 0, 10, &n));
	CHECK(!pop3_parse_number("-1", 0, 10, &n));
	CHECK(!pop3_parse_number("+1", 0, 10, &n));
	CHECK(!pop3_parse_number("1x", 0, 10, &n));
	CHECK(!pop3_parse_number("", 0, 10, &n));
	CHECK(!pop3_parse_number(NULL, 0, 10, &n));
	CHECK(pop3_parse_number("4294967295", 0, UINT32_MAX, &n) && n == UINT32_MAX);
	CHECK(!pop3_parse_number("4294967296", 0, UINT32_MAX, &n));
	CHECK(!pop3_parse_number("99999999999999999999999", 0, UINT32_MAX, &n));
}

/* The filter fed whole and a byte at a time gives want. */
static void check_stuff(const char *msg, bool limited, uint64_t lines, const char *want)
{
	struct pop3_stuff st;
	struct buf out;
	size_t len = strlen(msg);

	buf_init(&out, BUF_NO_LIMIT);
	pop3_stuff_init(&st, limited, lines);
	pop3_stuff_feed(&st, msg, len, &out);
	pop3_stuff_end(&st, &out);
	CHECK_STR(buf_cstr(&out), want);
	buf_reset(&out);
	pop3_stuff_init(&st, limited, lines);
	for (size_t i = 0; i < len; i++)
		if (pop3_stuff_feed(&st, msg + i, 1, &out))
			break;
	pop3_stuff_end(&st, &out);
	CHECK_STR(buf_cstr(&out), want);
	buf_free(&out);
	if (!limited) {
		/* LIST's size is the reply without its ".CRLF" line, for a
		 * message that ends its last line. */
		bool cr = false;
		uint64_t size = 0;

		for (size_t i = 0; i < len; i++)
			size += pop3_crlf_size(msg + i, 1, &cr);
		if (len > 0 && msg[len - 1] == '\n') {
			size_t dots = 0;

			for (size_t i = 0; i < len; i++)
				if (msg[i] == '.' && (i == 0 || msg[i - 1] == '\n'))
					dots++;
			CHECK_INT(size + dots + 3, strlen(want));
		}
	}
}

static void test_stuff(void)
{
	check_stuff("", false, 0, ".\r\n");
	check_stuff("A: b\r\n\r\nbody\r\n", false, 0, "A: b\r\n\r\nbody\r\n.\r\n");
	/* LF-only files get CRLF */
	check_stuff("A: b\n\nbody\nmore\n", false, 0, "A: b\r\n\r\nbody\r\nmore\r\n.\r\n");
	/* dot-stuffing at every line start, also the first */
	check_stuff(".x\n..\n.\nend.\n", false, 0, "..x\r\n...\r\n..\r\nend.\r\n.\r\n");
	check_stuff("A: b\r\n\r\n.\r\n", false, 0, "A: b\r\n\r\n..\r\n.\r\n");
	/* no line end at the end of the file */
	check_stuff("A: b\n\nlast", false, 0, "A: b\r\n\r\nlast\r\n.\r\n");
	check_stuff("A: b\n\nlast\r", false, 0, "A: b\r\n\r\nlast\r\n.\r\n");
	/* a bare CR inside a line stays */
	check_stuff("a\rb\n", false, 0, "a\rb\r\n.\r\n");
	/* TOP */
	check_stuff("A: b\nC: d\n\n1\n2\n3\n", true, 0, "A: b\r\nC: d\r\n\r\n.\r\n");
	check_stuff("A: b\nC: d\n\n1\n2\n3\n", true, 2, "A: b\r\nC: d\r\n\r\n1\r\n2\r\n.\r\n");
	check_stuff("A: b\r\n\r\n1\r\n.2\r\n3\r\n", true, 2, "A: b\r\n\r\n1\r\n..2\r\n.\r\n");
	check_stuff("A: b\nC: d\n\n1\n2\n3\n", true, 99,
		    "A: b\r\nC: d\r\n\r\n1\r\n2\r\n3\r\n.\r\n");
	check_stuff("A: b\n\n1\n2", true, 5, "A: b\r\n\r\n1\r\n2\r\n.\r\n");
	/* no body at all */
	check_stuff("A: b\nC: d\n", true, 1, "A: b\r\nC: d\r\n.\r\n");
	/* a line of a lone CR before LF is the blank line; CR CR LF is not */
	check_stuff("A: b\r\r\nx\r\n\r\n1\r\n2\r\n", true, 1, "A: b\r\r\nx\r\n\r\n1\r\n.\r\n");
}

/* POP2's RETR: CRLF line ends, no dot-stuffing, no terminator, exactly
 * the CRLF size. */
static void test_stuff_raw(void)
{
	const char *msg = ".a\n..\nb\r\nend";
	struct pop3_stuff st;
	struct buf out;
	bool cr = false;

	buf_init(&out, BUF_NO_LIMIT);
	pop3_stuff_init(&st, false, 0);
	st.raw = true;
	for (size_t i = 0; i < strlen(msg); i++)
		pop3_stuff_feed(&st, msg + i, 1, &out);
	CHECK_STR(buf_cstr(&out), ".a\r\n..\r\nb\r\nend");
	CHECK_INT(pop3_crlf_size(msg, strlen(msg), &cr), out.len);
	buf_free(&out);
}

int main(void)
{
	test_run("pop3 commands whole and trickled", test_commands);
	test_run("pop3 malformed lines", test_malformed);
	test_run("pop3 long lines", test_long_lines);
	test_run("pop3 numbers", test_numbers);
	test_run("pop3 RETR/TOP output filter", test_stuff);
	test_run("pop2 RETR output filter", test_stuff_raw);
	return test_done();
}
