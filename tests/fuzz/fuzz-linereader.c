/* libFuzzer target for the line reader.
 *
 * Input: byte 0 splits the rest into feeds (it never reaches the reader),
 * byte 1 picks max_line and the starting mode, the rest is the stream.
 * Returned lines steer the reader as a session would: a line ending in
 * "{N}" announces a literal, "~" toggles CRLF/LF mode, "!" discards what is
 * buffered (STARTTLS). Every result is checked against the stream itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linereader.h"
#include "xalloc.h"
#include "fuzz.h"

struct fuzz_state {
	struct linereader lr;
	const char *stream; /* every byte fed so far, separators removed */
	size_t fed;         /* bytes of stream fed */
	size_t boundary;    /* a line may start here without a CRLF before it */
	size_t max_feed;
	uint64_t literal_left;
};

/* Where the reader stands in the stream: all fed bytes minus the unread. */
static size_t fuzz_offset(const struct fuzz_state *st)
{
	return st->fed - linereader_pending(&st->lr);
}

static void fuzz_check_flags(const struct fuzz_state *st, const struct lr_line *line,
			     bool bare_end)
{
	unsigned want = bare_end ? LR_F_BARE_LF : 0;

	if (memchr(line->data, '\n', line->len) != NULL)
		want |= LR_F_BARE_LF;
	if (memchr(line->data, '\r', line->len) != NULL)
		want |= LR_F_BARE_CR;
	if (memchr(line->data, '\0', line->len) != NULL)
		want |= LR_F_NUL;
	FUZZ_ASSERT(line->flags == want);
	FUZZ_ASSERT(line->len <= st->lr.max_line);
	FUZZ_ASSERT(line->data[line->len] == '\0');
}

static void fuzz_line(struct fuzz_state *st, const struct lr_line *line)
{
	size_t off = fuzz_offset(st), start;
	bool crlf = st->lr.eol == LR_EOL_CRLF;
	bool bare_end = false;

	if (crlf) {
		/* Only CRLF ends a line: the smuggling defence. */
		FUZZ_ASSERT(off >= line->len + 2);
		FUZZ_ASSERT(memcmp(st->stream + off - 2, "\r\n", 2) == 0);
		start = off - 2 - line->len;
	} else {
		FUZZ_ASSERT(off >= line->len + 1 && st->stream[off - 1] == '\n');
		FUZZ_ASSERT(memchr(line->data, '\n', line->len) == NULL);
		/* An empty line's CR may belong to a literal before it, so
		 * only a non-empty line tells CRLF from bare LF by itself. */
		bare_end = (line->flags & LR_F_BARE_LF) != 0;
		if (line->len > 0)
			FUZZ_ASSERT(bare_end == (st->stream[off - 2] != '\r'));
		FUZZ_ASSERT(bare_end || (off >= line->len + 2 && st->stream[off - 2] == '\r'));
		start = off - 1 - line->len - (bare_end ? 0 : 1);
	}
	FUZZ_ASSERT(memcmp(st->stream + start, line->data, line->len) == 0);
	fuzz_check_flags(st, line, bare_end);
	/* A "." line in CRLF mode needs a real CRLF before it. */
	if (crlf && line->len == 1 && line->data[0] == '.')
		FUZZ_ASSERT(start == st->boundary ||
			    (start >= 2 && memcmp(st->stream + start - 2, "\r\n", 2) == 0));
	if (!crlf)
		st->boundary = off;

	if (line->len == 1 && line->data[0] == '~') {
		linereader_set_eol(&st->lr, crlf ? LR_EOL_LF : LR_EOL_CRLF);
		st->boundary = off;
	} else if (line->len == 1 && line->data[0] == '!') {
		linereader_discard(&st->lr);
		st->boundary = st->fed;
	} else if (line->len >= 3 && line->data[line->len - 1] == '}') {
		const char *open = memrchr(line->data, '{', line->len);

		if (open != NULL) {
			st->literal_left = strtoull(open + 1, NULL, 10) % 100000;
			linereader_expect_literal(&st->lr, st->literal_left);
		}
	}
}

static void fuzz_drain(struct fuzz_state *st)
{
	struct lr_line line;
	enum lr_result r;
	size_t rounds = 0;

	while ((r = linereader_next(&st->lr, &line)) != LR_NEED_MORE) {
		FUZZ_ASSERT(++rounds <= 2 * st->fed + 4);
		if (r == LR_LINE) {
			FUZZ_ASSERT(st->literal_left == 0);
			fuzz_line(st, &line);
		} else if (r == LR_DATA) {
			size_t off = fuzz_offset(st);

			FUZZ_ASSERT(line.len > 0 && line.len <= st->literal_left);
			FUZZ_ASSERT(memcmp(st->stream + off - line.len, line.data, line.len) == 0);
			st->literal_left -= line.len;
			FUZZ_ASSERT(line.last == (st->literal_left == 0));
			if (line.last)
				st->boundary = off;
		} else {
			FUZZ_ASSERT(r == LR_TOO_LONG);
		}
	}
	/* Memory stays near max_line plus one feed. */
	FUZZ_ASSERT(st->lr.in.cap <= 2 * (st->lr.max_line + 2 + st->max_feed) + 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state st;
	char *stream;
	size_t n = 0, feed_start = 0;
	uint8_t sep;

	if (size < 2)
		return 0;
	sep = data[0];
	memset(&st, 0, sizeof(st));
	linereader_init(&st.lr, data[1] & 0x3f, (data[1] & 0x40) ? LR_EOL_LF : LR_EOL_CRLF);
	stream = xmalloc(size);
	st.stream = stream;
	for (size_t i = 2; i <= size; i++) {
		if (i < size && data[i] != sep) {
			stream[n++] = (char)data[i];
			continue;
		}
		if (n - feed_start > st.max_feed)
			st.max_feed = n - feed_start;
		linereader_feed(&st.lr, stream + feed_start, n - feed_start);
		st.fed = n;
		fuzz_drain(&st);
		feed_start = n;
	}
	linereader_free(&st.lr);
	free(stream);
	return 0;
}
