#ifndef MR_LINEREADER_H
#define MR_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Bounded line reader for CRLF protocols (SMTP, LMTP, IMAP, POP3, the
 * authd protocols). Bytes go in with linereader_feed() in whatever pieces
 * the network delivers; linereader_next() hands out complete lines, or
 * byte-counted chunks while a literal (IMAP {n}, SMTP BDAT n) is being read.
 *
 * A line longer than max_line is reported once as LR_TOO_LONG (as soon as
 * that is known, possibly before its end arrives) and its remaining bytes
 * are dropped up to the next line end, so the session can answer with an
 * error and go on. When the caller drains next() after every feed(), memory
 * never grows past max_line plus what one feed() brought. */

enum lr_eol {
	/* Only CRLF ends a line; a bare LF stays inside the line and sets
	 * LR_F_BARE_LF. What SMTP DATA needs so that "<LF>.<CR><LF>" can
	 * never end the data early (SMTP smuggling). */
	LR_EOL_CRLF,
	/* CRLF or a bare LF ends a line (LR_F_BARE_LF tells which). */
	LR_EOL_LF,
};

/* Flags on a returned line. */
#define LR_F_BARE_LF 0x01 /* a LF not preceded by CR: ended the line (LR_EOL_LF) or sits inside it (LR_EOL_CRLF) */
#define LR_F_BARE_CR 0x02 /* a CR not followed by LF inside the line */
#define LR_F_NUL 0x04     /* a NUL byte inside the line */

enum lr_result {
	LR_NEED_MORE = 0, /* feed more bytes */
	LR_LINE,          /* a whole line, terminator removed */
	LR_DATA,          /* a chunk of the current literal */
	LR_TOO_LONG,      /* a line passed max_line; it is being dropped */
};

struct lr_line {
	/* Valid until the next feed() or discard(). A LR_LINE is followed by
	 * a NUL byte (the terminator's place), so it may be used as a string
	 * when LR_F_NUL is not set. */
	const char *data;
	size_t len;
	unsigned flags;
	bool last; /* LR_DATA: this chunk ends the literal */
};

struct linereader {
	struct buf in;
	size_t pos;          /* start of unread bytes in `in` */
	size_t scanned;      /* bytes after pos already searched for a line end */
	size_t max_line;     /* without the terminator */
	enum lr_eol eol;
	bool skipping;       /* dropping the rest of an over-long line */
	bool skip_cr;        /* skipping, and the last dropped byte was CR */
	bool too_long_owed;  /* LR_TOO_LONG not yet returned by next() */
	uint64_t literal_left;
	bool in_literal;
};

void linereader_init(struct linereader *lr, size_t max_line, enum lr_eol eol);
void linereader_free(struct linereader *lr);
void linereader_set_eol(struct linereader *lr, enum lr_eol eol);

/* Append received bytes. Never fails: what cannot be kept is over-long line
 * content, which is dropped and reported through next(). */
void linereader_feed(struct linereader *lr, const void *data, size_t len);

/* The next line or literal chunk, or LR_NEED_MORE. */
enum lr_result linereader_next(struct linereader *lr, struct lr_line *line_r);

/* The next n bytes are a literal: next() returns them as LR_DATA chunks
 * (as they arrive, the final one with last=true), then reads lines again.
 * n == 0 is allowed and yields nothing. Call it right after the line that
 * announced the literal, before the next feed(): feed() may drop an
 * over-long partial line that it believes is not a literal. */
void linereader_expect_literal(struct linereader *lr, uint64_t n);

/* Forget every buffered byte (STARTTLS: what a client pipelined before the
 * TLS handshake must never be read as commands; CVE-2011-0411 class), and
 * any literal or over-long line in progress: reading starts afresh with a
 * line. Returns how many buffered bytes were dropped. */
size_t linereader_discard(struct linereader *lr);

/* Bytes received and not yet returned. */
size_t linereader_pending(const struct linereader *lr);

#endif
