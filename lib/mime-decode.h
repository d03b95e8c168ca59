#ifndef MR_MIME_DECODE_H
#define MR_MIME_DECODE_H

#include <stddef.h>

#include "mime.h"

struct buf;

/* Bodies as their readers see them: Content-Transfer-Encoding undone
 * (RFC 2045 section 6) and, for text, the charset converted to UTF-8.
 *
 * Decoding never fails on malformed input (mail is full of it):
 * - base64: characters outside the alphabet (line ends, spaces, junk) are
 *   skipped; "=" ends the current group, whose whole bytes are kept, and
 *   decoding goes on after it (concatenated encodings); a dangling single
 *   character at the end is dropped.
 * - quoted-printable: "=XX" with hex digits in either case is a byte,
 *   "=" followed by optional blanks and a line end is a soft line break,
 *   blanks before a line end are dropped (RFC 2045 6.7 rule 3); an "="
 *   followed by anything else is kept as written. Line ends stay as written
 *   (CRLF or LF).
 * - 7bit, 8bit, binary, an absent or unknown encoding: bytes pass through.
 * The decoder is streaming: pieces of any size give the same result as the
 * whole. */

enum mime_cte {
	MIME_CTE_IDENTITY,    /* 7bit, 8bit, binary, none, unknown */
	MIME_CTE_BASE64,
	MIME_CTE_QP,
};

/* The encoding a Content-Transfer-Encoding token names (any case); NULL
 * or unknown tokens pass through. */
enum mime_cte mime_cte_parse(const char *encoding);

/* Longest run of undecided quoted-printable bytes ("=" and blanks that may
 * turn out to be a soft line break or trailing white space) held back;
 * longer runs are written as they are. */
#define MIME_DECODE_PENDING_MAX 80

struct mime_decoder {
	enum mime_cte cte;
	/* base64: bits of the group being read, and how many characters */
	unsigned int bits, nchars;
	/* quoted-printable: bytes not yet decided */
	char pending[MIME_DECODE_PENDING_MAX];
	size_t pending_len;
};

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte);
/* Append what data[0..len) decodes to. -1 only when out's limit is
 * reached (out then holds part of the result). */
int mime_decoder_feed(struct mime_decoder *d, const void *data, size_t len, struct buf *out);
/* The end of the input: whatever was held back. */
int mime_decoder_finish(struct mime_decoder *d, struct buf *out);
/* The whole input at once. */
int mime_decode(enum mime_cte cte, const void *data, size_t len, struct buf *out);

/* The body of part (bytes msg[0..msg_len) hold the message its spans point
 * into) as UTF-8: transfer-decoded, then converted from its charset
 * parameter (none: US-ASCII, read as UTF-8; bytes that do not convert
 * become U+FFFD, see mime-charset.h). Meant for the leaves that hold
 * text; any part's body span is read the same way. -1 only when out's
 * limit is reached. */
int mime_part_text(const struct mime_part *part, const char *msg, size_t msg_len,
		   struct buf *out);

#endif
