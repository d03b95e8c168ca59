#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "linereader.h"
#include "test.h"

/* Each case is run through a small driver that writes what next() returns
 * as a transcript: "L<flags>:<line>|", "D:<literal bytes>$|" (consecutive
 * chunks merged), "T|". A line ending in "{N}" announces an N-byte literal,
 * as IMAP does. Control bytes are written as \r \n \0. */
struct lr_case {
	const char *name;
	const char *input;
	size_t input_len; /* 0: strlen(input) */
	size_t max_line;
	enum lr_eol eol;
	const char *want;
};

static void lr_escape(struct buf *out, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r')
			buf_append_str(out, "\\r");
		else if (p[i] == '\n')
			buf_append_str(out, "\\n");
		else if (p[i] == '\0')
			buf_append_str(out, "\\0");
		else
			buf_append_char(out, p[i]);
	}
}

static void lr_maybe_literal(struct linereader *lr, const struct lr_line *line)
{
	const char *open;

	if (line->len < 3 || line->data[line->len - 1] != '}')
		return;
	open = strrchr(line->data, '{');
	if (open != NULL)
		linereader_expect_literal(lr, strtoull(open + 1, NULL, 10));
}

static void lr_drain(struct linereader *lr, struct buf *out, bool *in_data)
{
	struct lr_line line;
	enum lr_result r;

	while ((r = linereader_next(lr, &line)) != LR_NEED_MORE) {
		if (r == LR_TOO_LONG) {
			buf_append_str(out, "T|");
		} else if (r == LR_LINE) {
			/* Invariants of every returned line. */
			CHECK(line.len <= lr->max_line);
			CHECK(line.data[line.len] == '\0');
			buf_printf(out, "L%u:", line.flags);
			lr_escape(out, line.data, line.len);
			buf_append_str(out, "|");
			lr_maybe_literal(lr, &line);
		} else {
			if (!*in_data)
				buf_append_str(out, "D:");
			*in_data = !line.last;
			lr_escape(out, line.data, line.len);
			if (line.last)
				buf_append_str(out, "$|");
		}
	}
}

/* Feed the input in pieces of `step` bytes (0: all at once). */
static char *lr_transcript(const struct lr_case *c, size_t step)
{
	size_t len = c->input_len != 0 ? c->input_len : strlen(c->input);
	struct linereader lr;
	struct buf out;
	bool in_data = false;

	buf_init(&out, BUF_NO_LIMIT);
	linereader_init(&lr, c->max_line, c->eol);
	for (size_t off = 0; off < len;) {
		size_t n = step == 0 || step > len - off ? len - off : step;

		linereader_feed(&lr, c->input + off, n);
		off += n;
		lr_drain(&lr, &out, &in_data);
	}
	linereader_free(&lr);
	return buf_steal(&out);
}

static const struct lr_case lr_cases[] = {
	{ "crlf lines", "HELO a\r\nMAIL FROM:<x>\r\n\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:HELO a|L0:MAIL FROM:<x>|L0:|" },
	{ "smuggle LF . CRLF", "data\r\nx\n.\r\nQUIT\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:data|L1:x\\n.|L0:QUIT|" },
	{ "smuggle CR . CRLF", "x\r.\r\nQUIT\r\n", 0, 16, LR_EOL_CRLF,
	  "L2:x\\r.|L0:QUIT|" },
	{ "smuggle LF . LF", "x\n.\nmore\r\n", 0, 16, LR_EOL_CRLF,
	  "L1:x\\n.\\nmore|" },
	{ "smuggle lone LF . CRLF at start", "\n.\r\n", 0, 16, LR_EOL_CRLF,
	  "L1:\\n.|" },
	{ "real end of data", "x\r\n.\r\n", 0, 16, LR_EOL_CRLF, "L0:x|L0:.|" },
	{ "CR CR LF", "a\r\r\n", 0, 16, LR_EOL_CRLF, "L2:a\\r|" },
	{ "NUL inside", "a\0b\r\n", 5, 16, LR_EOL_CRLF, "L4:a\\0b|" },
	{ "all flags", "\0\n\rx\r\n", 6, 16, LR_EOL_CRLF, "L7:\\0\\n\\rx|" },
	{ "lf mode", "a\nb\r\nc\rd\n", 0, 16, LR_EOL_LF,
	  "L1:a|L0:b|L3:c\\rd|" },
	{ "lf mode dot", "x\n.\n", 0, 16, LR_EOL_LF, "L1:x|L1:.|" },
	{ "too long dropped", "12345678\r\n123456789\r\nok\r\n", 0, 8, LR_EOL_CRLF,
	  "L0:12345678|T|L0:ok|" },
	{ "too long hides bare LF", "abcdef\n.\r\nok\r\n", 0, 4, LR_EOL_CRLF,
	  "T|L0:ok|" },
	{ "too long lf mode", "abcdef\nok\n", 0, 4, LR_EOL_LF, "T|L1:ok|" },
	{ "too long by one", "abc\r\nabcd\r\nx\r\n", 0, 3, LR_EOL_CRLF,
	  "L0:abc|T|L0:x|" },
	{ "too long CR at boundary", "abcd\r\r\nx\r\n", 0, 4, LR_EOL_CRLF,
	  "T|L0:x|" },
	{ "two too long", "aaaaaaa\r\nbbbbbbb\r\nc\r\n", 0, 4, LR_EOL_CRLF,
	  "T|T|L0:c|" },
	{ "max zero", "\r\nx\r\n\r\n", 0, 0, LR_EOL_CRLF, "L0:|T|L0:|" },
	{ "literal with CRLF", "A {5}\r\nab\r\ncB\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:A {5}|D:ab\\r\\nc$|L0:B|" },
	{ "literal zero", "A {0}\r\nB\r\n", 0, 16, LR_EOL_CRLF, "L0:A {0}|L0:B|" },
	{ "literal ends in CR", "A {3}\r\nab\r\nC\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:A {3}|D:ab\\r$|L1:\\nC|" },
	{ "literal longer than max_line", "{10}\r\n0123456789X\r\n", 0, 4,
	  LR_EOL_CRLF, "L0:{10}|D:0123456789$|L0:X|" },
	{ "literal holding a dot line", "{6}\r\n\r\n.\r\n\r\n.\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:{6}|D:\\r\\n.\\r\\n\\r$|L1:\\n.|" },
	{ "two literals", "{1}\r\nx{2}\r\nyzEND\r\n", 0, 16, LR_EOL_CRLF,
	  "L0:{1}|D:x$|L0:{2}|D:yz$|L0:END|" },
};

static void test_lr_cases(void)
{
	for (size_t i = 0; i < sizeof(lr_cases) / sizeof(lr_cases[0]); i++) {
		const struct lr_case *c = &lr_cases[i];
		static const size_t steps[] = { 0, 1, 2, 3, 7 };

		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			char *got = lr_transcript(c, steps[s]);

			if (strcmp(got, c->want) != 0)
				printf("# case \"%s\" fed in steps of %zu\n", c->name, steps[s]);
			CHECK_STR(got, c->want);
			free(got);
		}
	}
}

/* next() must return r and, for a line or chunk, exactly want[0, len). */
static struct lr_line lr_expect(struct linereader *lr, enum lr_result r, const char *want,
				size_t len)
{
	struct lr_line line;

	CHECK_INT(linereader_next(lr, &line), r);
	if (want != NULL)
		CHECK_MEM(line.data, line.len, want, len);
	return line;
}

static void test_lr_partial_pending(void)
{
	struct linereader lr;

	linereader_init(&lr, 64, LR_EOL_CRLF);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	linereader_feed(&lr, "abc\r\nde", 7);
	CHECK_INT(linereader_pending(&lr), 7);
	lr_expect(&lr, LR_LINE, "abc", 3);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	CHECK_INT(linereader_pending(&lr), 2);
	linereader_feed(&lr, "f\r", 2);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	linereader_feed(&lr, "\n", 1);
	lr_expect(&lr, LR_LINE, "def", 3);
	CHECK_INT(linereader_pending(&lr), 0);
	linereader_free(&lr);
}

/* 10 MB without a newline: reported once, memory stays near max_line. */
static void lr_flood(bool drain)
{
	static char chunk[4096];
	struct linereader lr;
	struct lr_line line;
	int too_long = 0;
	enum lr_result r;

	memset(chunk, 'x', sizeof(chunk));
	linereader_init(&lr, 1000, LR_EOL_CRLF);
	for (int i = 0; i < 10 * 256; i++) {
		linereader_feed(&lr, chunk, sizeof(chunk));
		CHECK(lr.in.cap <= 16384);
		while (drain && (r = linereader_next(&lr, &line)) != LR_NEED_MORE) {
			CHECK_INT(r, LR_TOO_LONG);
			too_long++;
		}
	}
	linereader_feed(&lr, "x\nx\r\nHELO\r\n", 11);
	while ((r = linereader_next(&lr, &line)) == LR_TOO_LONG)
		too_long++;
	CHECK_INT(too_long, 1);
	CHECK_INT(r, LR_LINE);
	CHECK_STR(line.data, "HELO");
	CHECK(lr.in.cap <= 16384);
	linereader_free(&lr);
}

static void test_lr_flood(void)
{
	lr_flood(true);
	lr_flood(false);
}

static void test_lr_literal_split(void)
{
	struct linereader lr;

	linereader_init(&lr, 8, LR_EOL_CRLF);
	linereader_feed(&lr, "A {12}\r\nab", 10);
	lr_expect(&lr, LR_LINE, "A {12}", 6);
	linereader_expect_literal(&lr, 12);
	CHECK(!lr_expect(&lr, LR_DATA, "ab", 2).last);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	linereader_feed(&lr, "c\r\nd\n", 5);
	CHECK(!lr_expect(&lr, LR_DATA, "c\r\nd\n", 5).last);
	linereader_feed(&lr, "efghiNEXT\r\n", 11);
	CHECK(lr_expect(&lr, LR_DATA, "efghi", 5).last);
	lr_expect(&lr, LR_LINE, "NEXT", 4);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	linereader_free(&lr);
}

/* Switching to LF mode must look again at a bare LF already scanned. */
static void test_lr_set_eol(void)
{
	struct linereader lr;

	linereader_init(&lr, 64, LR_EOL_CRLF);
	linereader_feed(&lr, "a\nb", 3);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	linereader_set_eol(&lr, LR_EOL_LF);
	CHECK_INT(lr_expect(&lr, LR_LINE, "a", 1).flags, LR_F_BARE_LF);
	linereader_set_eol(&lr, LR_EOL_CRLF);
	linereader_feed(&lr, "\nc\r\n", 4);
	lr_expect(&lr, LR_LINE, "b\nc", 3);
	linereader_free(&lr);
}

/* STARTTLS: commands pipelined before the handshake are thrown away. */
static void test_lr_discard(void)
{
	const char in[] = "STARTTLS\r\nRCPT TO:<evil>\r\n{5}\r\n";
	struct linereader lr;

	linereader_init(&lr, 64, LR_EOL_CRLF);
	linereader_feed(&lr, in, sizeof(in) - 1);
	lr_expect(&lr, LR_LINE, "STARTTLS", 8);
	CHECK_INT(linereader_discard(&lr), sizeof(in) - 1 - 10);
	CHECK_INT(linereader_pending(&lr), 0);
	lr_expect(&lr, LR_NEED_MORE, NULL, 0);
	/* A literal or over-long line in progress is forgotten too. */
	linereader_expect_literal(&lr, 100);
	linereader_feed(&lr, "x", 1);
	CHECK_INT(linereader_discard(&lr), 1);
	linereader_feed(&lr, "EHLO good\r\n", 11);
	lr_expect(&lr, LR_LINE, "EHLO good", 9);
	linereader_free(&lr);
}

/* Lines already buffered are handed out in place: no move per line. */
static void test_lr_no_move_per_line(void)
{
	struct linereader lr;
	struct lr_line line;
	struct buf in;
	const char *prev = NULL, *base;
	int lines = 0;

	buf_init(&in, BUF_NO_LIMIT);
	for (int i = 0; i < 200; i++)
		buf_printf(&in, "line %d\r\n", i);
	linereader_init(&lr, 64, LR_EOL_CRLF);
	linereader_feed(&lr, in.data, in.len);
	base = lr.in.data;
	while (linereader_next(&lr, &line) == LR_LINE) {
		CHECK(line.data > prev);
		CHECK(lr.in.data == base);
		prev = line.data;
		lines++;
	}
	CHECK_INT(lines, 200);
	linereader_free(&lr);
	/* Trickled in odd pieces, the buffer stays small. */
	linereader_init(&lr, 64, LR_EOL_CRLF);
	for (size_t off = 0; off < in.len; off += 7) {
		size_t n = in.len - off < 7 ? in.len - off : 7;

		linereader_feed(&lr, in.data + off, n);
		while (linereader_next(&lr, &line) == LR_LINE)
			lines++;
		CHECK(lr.in.cap <= 256);
	}
	CHECK_INT(lines, 400);
	linereader_free(&lr);
	buf_free(&in);
}

int main(void)
{
	test_run("linereader cases whole and trickled", test_lr_cases);
	test_run("linereader partial line stays pending", test_lr_partial_pending);
	test_run("linereader 10 MB without newline", test_lr_flood);
	test_run("linereader literal split across feeds", test_lr_literal_split);
	test_run("linereader eol switch rescans", test_lr_set_eol);
	test_run("linereader discard for STARTTLS", test_lr_discard);
	test_run("linereader no move per line", test_lr_no_move_per_line);
	return test_done();
}
