#ifndef MR_MIME_H
#define MR_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime-header.h"

/* A streaming MIME parser (RFC 2045, 2046, 5322): fed a message in chunks
 * of any size, it builds the tree of its parts with their byte ranges and
 * parsed Content-* fields, holding no more than one part's header block
 * (bounded) at a time. It never fails: malformed input (missing or
 * unclosed boundaries, bad Content-Type, headers without an end, NUL
 * bytes, bare LF line ends) still gives a tree whose ranges lie within the
 * message, and the same tree whatever the chunk sizes. docs/mime.md has
 * the model. */

/* A byte range in the message: offset and size as stored; vsize is the
 * size with every bare LF counted as CRLF (what IMAP sends); lines is the
 * number of LFs in the range. */
struct mime_span {
	uint64_t offset;
	uint64_t size;
	uint64_t vsize;
	uint64_t lines;
};

/* The fields of a message header that an IMAP ENVELOPE reports, as
 * written (leading white space dropped, folding and NULs kept); NULL when
 * absent. Kept for the message itself and each message/rfc822 body. */
struct mime_envelope {
	char *date, *subject, *from, *sender, *reply_to, *to, *cc, *bcc;
	char *in_reply_to, *message_id;
};

enum mime_part_flags {
	/* Its children are parts of a multipart body. */
	MIME_PART_MULTIPART = 1 << 0,
	/* Its one child is the message a message/rfc822 body holds. */
	MIME_PART_MESSAGE = 1 << 1,
	/* Content-Type was present but malformed: taken as text/plain. */
	MIME_PART_BAD_CONTENT_TYPE = 1 << 2,
	/* A multipart without a usable boundary parameter. */
	MIME_PART_NO_BOUNDARY = 1 << 3,
	/* A multipart or message/rfc822 past the depth or part-count bound:
	 * kept as a text/plain leaf. */
	MIME_PART_FLATTENED = 1 << 4,
	/* A multipart whose further children were dropped (part-count bound). */
	MIME_PART_CHILDREN_DROPPED = 1 << 5,
	/* The header had no blank line to end it. */
	MIME_PART_HEADER_UNTERMINATED = 1 << 6,
	/* The header was longer than the bound, or had more fields: the rest
	 * was not looked at. */
	MIME_PART_HEADER_TRUNCATED = 1 << 7,
	/* A multipart whose closing boundary never came. */
	MIME_PART_UNCLOSED = 1 << 8,
};

struct mime_part {
	struct mime_part *parent, *children, *next;
	unsigned int depth;         /* 0 for the message itself */
	unsigned int flags;         /* enum mime_part_flags */
	struct mime_span header;    /* with the blank line that ends it */
	struct mime_span body;

	/* Content-Type as written (compare without case); NULL when absent
	 * or malformed, which means text/plain, or message/rfc822 inside a
	 * multipart/digest. */
	char *type, *subtype;
	struct mime_params params;
	/* The other Content-* fields, as written (see mime_envelope). */
	char *encoding, *id, *description, *md5, *language, *location;
	char *disposition;
	struct mime_params disposition_params;
	struct mime_envelope *envelope;  /* message headers only */
};

struct mime_limits {
	unsigned int max_depth;      /* nesting below the message */
	unsigned int max_parts;      /* parts in all, the message included */
	size_t max_header_size;      /* bytes of one header block looked at */
	unsigned int max_header_fields;
};

#define MIME_MAX_DEPTH 20
#define MIME_MAX_PARTS 1000
#define MIME_MAX_HEADER_SIZE (64 * 1024)
#define MIME_MAX_HEADER_FIELDS 1000
/* RFC 2046 allows 70; longer ones are tolerated up to this. */
#define MIME_BOUNDARY_MAX 200

struct mime_parser;

/* limits NULL: the defaults above. */
struct mime_parser *mime_parser_new(const struct mime_limits *limits);
void mime_parser_feed(struct mime_parser *parser, const void *data, size_t len);
/* End of the message: the tree (owned by the caller) and the parser freed. */
struct mime_part *mime_parser_finish(struct mime_parser **parser);
/* The whole message at once. */
struct mime_part *mime_parse(const void *data, size_t len, const struct mime_limits *limits);
void mime_part_free(struct mime_part **root);

/* Case-insensitive type test; subtype NULL matches any. A part without a
 * (valid) Content-Type is text/plain, or message/rfc822 in a digest. */
bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype);
/* The part's type and subtype as written, or the default. */
void mime_part_type(const struct mime_part *part, const char **type_r, const char **subtype_r);
/* Number of parts in the tree. */
unsigned int mime_part_count(const struct mime_part *root);

#endif
