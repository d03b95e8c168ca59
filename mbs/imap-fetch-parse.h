#ifndef MR_IMAP_FETCH_PARSE_H
#define MR_IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-parser.h"

/* FETCH's data items (RFC 3501 6.4.5) parsed into what the fetch code
 * needs: a set of simple attributes and a list of body sections. */

enum imap_fetch_attr {
	IMAP_FETCH_FLAGS = 0x001,
	IMAP_FETCH_INTERNALDATE = 0x002,
	IMAP_FETCH_RFC822_SIZE = 0x004,
	IMAP_FETCH_ENVELOPE = 0x008,
	IMAP_FETCH_BODY = 0x010,           /* BODY without a section: the structure */
	IMAP_FETCH_BODYSTRUCTURE = 0x020,
	IMAP_FETCH_UID = 0x040,
	IMAP_FETCH_RFC822 = 0x080,         /* like BODY[], replied as RFC822 */
	IMAP_FETCH_RFC822_HEADER = 0x100,  /* like BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT = 0x200,    /* like BODY[TEXT] */
};

enum imap_section_kind {
	IMAP_SECTION_FULL,        /* BODY[] or BODY[1.2] */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,        /* only after a part number */
};

#define IMAP_FETCH_MAX_PARTS 32

struct imap_fetch_body {
	bool peek;                 /* BODY.PEEK: do not set \Seen */
	uint32_t parts[IMAP_FETCH_MAX_PARTS];
	size_t part_count;
	enum imap_section_kind kind;
	char **fields;             /* HEADER.FIELDS(.NOT) names, as the client wrote them */
	size_t field_count;
	bool partial;              /* <origin.count> */
	uint32_t origin, count;
	/* The section as the reply names it: "1.HEADER.FIELDS (From To)". */
	char *section;
};

struct imap_fetch_items {
	unsigned attrs;            /* enum imap_fetch_attr bits */
	struct imap_fetch_body *bodies;
	size_t body_count;
};

/* The arguments after FETCH's sequence set: one item, a macro (ALL, FAST,
 * FULL) or a parenthesised list of items. Modifiers (RFC 7162's
 * CHANGEDSINCE) are refused for now. */
int imap_fetch_parse(const struct imap_arg *args, size_t count,
		     struct imap_fetch_items *items_r, const char **error_r);
void imap_fetch_items_free(struct imap_fetch_items *items);

#endif
