#include <string.h>

#include "linereader.h"

void linereader_init(struct linereader *lr, size_t max_line, enum lr_eol eol)
{
	memset(lr, 0, sizeof(*lr));
	/* Bounded by the over-long line logic, not by the buffer. */
	buf_init(&lr->in, BUF_NO_LIMIT);
	lr->max_line = max_line;
	lr->eol = eol;
}

void linereader_free(struct linereader *lr)
{
	buf_free(&lr->in);
	lr->pos = 0;
	lr->scanned = 0;
}

void linereader_set_eol(struct linereader *lr, enum lr_eol eol)
{
	lr->eol = eol;
	/* A bare LF already scanned past may end a line now. */
	lr->scanned = 0;
}

size_t linereader_pending(const struct linereader *lr)
{
	return lr->in.len - lr->pos;
}

/* Index of the first LF in p[from, n) that ends a line in the current
 * mode, or n; cr_r tells whether a CR came just before it. prev_cr: the
 * byte before p (not in this buffer) was a CR. */
static size_t lr_scan_eol(const struct linereader *lr, const char *p, size_t from,
			  size_t n, bool prev_cr, bool *cr_r)
{
	size_t i = from;

	while (i < n) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t at;

		if (lf == NULL)
			break;
		at = (size_t)(lf - p);
		*cr_r = at > 0 ? p[at - 1] == '\r' : prev_cr;
		if (*cr_r || lr->eol == LR_EOL_LF)
			return at;
		i = at + 1;
	}
	return n;
}

/* Drop bytes of the over-long line being skipped, up to and including its
 * terminator. Returns how many of the n bytes at p were dropped. */
static size_t lr_skip(struct linereader *lr, const char *p, size_t n)
{
	bool cr;
	size_t at = lr_scan_eol(lr, p, 0, n, lr->skip_cr, &cr);

	if (at < n) {
		lr->skipping = false;
		lr->skip_cr = false;
		return at + 1;
	}
	if (n > 0)
		lr->skip_cr = p[n - 1] == '\r';
	return n;
}

/* The unread partial line is over-long: drop it, skip up to its end and
 * owe the caller one LR_TOO_LONG. */
static void lr_start_skip(struct linereader *lr)
{
	lr->skip_cr = lr->in.data[lr->in.len - 1] == '\r';
	lr->pos = lr->in.len;
	lr->scanned = 0;
	lr->skipping = true;
	lr->too_long_owed = true;
}

/* Find the end of the next unread line: its content is len_r bytes from
 * pos and its terminator ends end_r bytes from pos. Remembers how far it
 * searched in vain so a trickled line is scanned once. */
static bool lr_find_eol(struct linereader *lr, size_t *len_r, size_t *end_r,
			bool *bare_lf_r)
{
	size_t avail = lr->in.len - lr->pos;
	const char *base;
	size_t at;
	bool cr;

	if (avail == 0)
		return false;
	base = lr->in.data + lr->pos;
	at = lr_scan_eol(lr, base, lr->scanned, avail, false, &cr);
	if (at == avail) {
		lr->scanned = avail;
		return false;
	}
	*len_r = cr ? at - 1 : at;
	*end_r = at + 1;
	*bare_lf_r = !cr;
	return true;
}

/* Whether the unread bytes, holding no line end, already pass max_line.
 * A final CR may still be the start of the CRLF, so it does not count. */
static bool lr_partial_too_long(const struct linereader *lr)
{
	size_t avail = lr->in.len - lr->pos;

	if (avail <= lr->max_line)
		return false;
	if (avail > lr->max_line + 1)
		return true;
	return lr->in.data[lr->in.len - 1] != '\r';
}

static unsigned lr_line_flags(const char *p, size_t len)
{
	unsigned flags = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n')
			flags |= LR_F_BARE_LF;
		else if (p[i] == '\r')
			flags |= LR_F_BARE_CR;
		else if (p[i] == '\0')
			flags |= LR_F_NUL;
	}
	return flags;
}

/* Move the unread bytes to the front only when the consumed part is at
 * least as large as them or the buffer would have to grow: each byte is
 * moved a bounded number of times, not once per line. */
static void lr_compact(struct linereader *lr, size_t incoming)
{
	size_t unread = lr->in.len - lr->pos;

	if (lr->pos == 0)
		return;
	if (unread == 0) {
		buf_reset(&lr->in);
	} else {
		if (lr->pos < unread && lr->in.len + incoming < lr->in.cap)
			return;
		buf_consume(&lr->in, lr->pos);
	}
	lr->pos = 0;
}

void linereader_feed(struct linereader *lr, const void *data, size_t len)
{
	const char *p = data;
	size_t eol_len, eol_end;
	bool bare;

	if (len == 0)
		return;
	/* While skipping, nothing is buffered: drop straight from the input
	 * so a peer sending megabytes without a newline costs no memory. */
	if (lr->skipping && lr->pos == lr->in.len) {
		size_t n = lr_skip(lr, p, len);

		p += n;
		len -= n;
	}
	if (len == 0)
		return;
	lr_compact(lr, len);
	(void)buf_append(&lr->in, p, len);
	/* Only a partial line with nothing before it may be dropped here: an
	 * unread line before it could still announce a literal. */
	if (!lr->in_literal && !lr->skipping &&
	    !lr_find_eol(lr, &eol_len, &eol_end, &bare) && lr_partial_too_long(lr))
		lr_start_skip(lr);
}

static enum lr_result lr_next_literal(struct linereader *lr, struct lr_line *line_r)
{
	size_t avail = lr->in.len - lr->pos;
	size_t n;

	if (avail == 0)
		return LR_NEED_MORE;
	n = avail < lr->literal_left ? avail : (size_t)lr->literal_left;
	line_r->data = lr->in.data + lr->pos;
	line_r->len = n;
	lr->pos += n;
	lr->literal_left -= n;
	if (lr->literal_left == 0) {
		line_r->last = true;
		lr->in_literal = false;
	}
	return LR_DATA;
}

enum lr_result linereader_next(struct linereader *lr, struct lr_line *line_r)
{
	size_t len, end;
	bool bare;
	char *p;

	memset(line_r, 0, sizeof(*line_r));
	line_r->data = "";
	if (lr->too_long_owed) {
		lr->too_long_owed = false;
		return LR_TOO_LONG;
	}
	if (lr->in_literal)
		return lr_next_literal(lr, line_r);
	if (!lr_find_eol(lr, &len, &end, &bare)) {
		if (!lr_partial_too_long(lr))
			return LR_NEED_MORE;
		lr_start_skip(lr);
		lr->too_long_owed = false;
		return LR_TOO_LONG;
	}
	p = lr->in.data + lr->pos;
	lr->pos += end;
	lr->scanned = 0;
	if (len > lr->max_line)
		return LR_TOO_LONG;
	line_r->flags = lr_line_flags(p, len) | (bare ? LR_F_BARE_LF : 0);
	/* The terminator is consumed: its first byte becomes the NUL. */
	p[len] = '\0';
	line_r->data = p;
	line_r->len = len;
	return LR_LINE;
}

void linereader_expect_literal(struct linereader *lr, uint64_t n)
{
	lr->literal_left = n;
	lr->in_literal = n > 0;
	/* The literal starts at the next unread byte, whatever came before. */
	lr->skipping = false;
	lr->skip_cr = false;
	lr->scanned = 0;
}

size_t linereader_discard(struct linereader *lr)
{
	size_t dropped = lr->in.len - lr->pos;

	buf_reset(&lr->in);
	lr->pos = 0;
	lr->scanned = 0;
	lr->skipping = false;
	lr->skip_cr = false;
	lr->too_long_owed = false;
	lr->in_literal = false;
	lr->literal_left = 0;
	return dropped;
}
