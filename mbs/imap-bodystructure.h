#ifndef MR_IMAP_BODYSTRUCTURE_H
#define MR_IMAP_BODYSTRUCTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "mime.h"

struct buf;

/* The FETCH items that describe a message's structure (RFC 3501 7.4.2):
 * BODY and BODYSTRUCTURE from a lib/mime part tree, ENVELOPE from a
 * message header, and the byte range a BODY[section] names. Strings are
 * written the way Dovecot writes them (docs/mime.md lists where and why
 * Mailroom differs). */

/* Append "(...)" for part: BODY when extended is false, BODYSTRUCTURE
 * when true. Sizes count line ends as CRLF. */
void imap_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended);
/* Append "(date subject from ... message-id)"; env NULL gives all NIL. */
void imap_envelope_write(struct buf *out, const struct mime_envelope *env);
/* Append s as NIL, a quoted string or a literal ("{n}\r\n..."): a
 * literal when s holds 8-bit bytes, CR or LF (which are then dropped), or
 * more than four characters to escape. */
void imap_nstring_write(struct buf *out, const char *s);

enum imap_range_kind {
	IMAP_RANGE_BODY,      /* "" or "1.2": the whole message or a part's body */
	IMAP_RANGE_HEADER,    /* HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT */
	IMAP_RANGE_TEXT,
	IMAP_RANGE_MIME,
};

/* What a section names: a range of the message file (size as stored,
 * vsize with line ends as CRLF) and the part it belongs to. */
struct imap_section {
	enum imap_range_kind kind;
	const struct mime_part *part;
	uint64_t offset, size, vsize;
};

/* Resolve spec, the section text of BODY[...] up to any field list:
 * "", "1", "1.2.3", "HEADER", "TEXT", "2.HEADER", "2.HEADER.FIELDS",
 * "2.HEADER.FIELDS.NOT", "1.MIME" (keywords in any case). 0 and
 * section_r, or -1 with error_r when the syntax is wrong. A well-formed
 * spec that names no part (a number too high) gives an empty range, as
 * RFC 3501 asks for a part that does not exist. */
int imap_section_find(const struct mime_part *root, const char *spec,
		      struct imap_section *section_r, const char **error_r);

#endif
