#ifndef MR_IMAP_SEARCH_PARSE_H
#define MR_IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-args.h"
#include "imap-parser.h"
#include "imap-seqset.h"

/* SEARCH criteria (RFC 3501 6.4.4) as a tree. The keys that are
 * shorthands become their meaning, so the matcher knows fewer kinds:
 * UNSEEN is NOT(FLAG \Seen), NEW is AND(RECENT, NOT(FLAG \Seen)), OLD is
 * NOT(RECENT), UNKEYWORD k is NOT(KEYWORD k), FROM x is HEADER "FROM" x. */

enum imap_search_type {
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_AND,       /* children: a parenthesised group, the top level */
	IMAP_SEARCH_OR,        /* two children */
	IMAP_SEARCH_NOT,       /* one child */
	IMAP_SEARCH_SEQSET,    /* set: message sequence numbers (raw) */
	IMAP_SEARCH_UID,       /* set: UIDs (raw) */
	IMAP_SEARCH_FLAG,      /* flag: an enum imap_system_flag bit */
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_KEYWORD,   /* value */
	IMAP_SEARCH_DATE,      /* op, date; sent: the Date: header, else INTERNALDATE */
	IMAP_SEARCH_SIZE,      /* op (LARGER/SMALLER), size */
	IMAP_SEARCH_HEADER,    /* header (field name), value (substring; "" matches presence) */
	IMAP_SEARCH_BODY,      /* value */
	IMAP_SEARCH_TEXT,      /* value: header and body */
};

enum imap_search_op {
	IMAP_SEARCH_BEFORE,
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_LARGER,
	IMAP_SEARCH_SMALLER,
};

#define IMAP_SEARCH_MAX_DEPTH 32

struct imap_search_node {
	enum imap_search_type type;
	struct imap_search_node *child;   /* first child */
	struct imap_search_node *next;    /* next sibling */
	unsigned flag;
	enum imap_search_op op;
	bool sent;
	struct imap_date date;
	uint64_t size;
	char *header;
	char *value;                      /* UTF-8 */
	struct imap_seqset set;
};

struct imap_search_program {
	struct imap_search_node *root;    /* an AND of the top-level keys */
	bool charset_given;               /* a CHARSET came first */
	/* Set with -1: the charset is unknown; reply NO with error_r (it
	 * carries [BADCHARSET (<those taken>)]), not BAD. */
	bool badcharset;
};

/* The arguments after SEARCH (after UID SEARCH alike). String arguments
 * must be UTF-8 without CHARSET or with CHARSET UTF-8 or US-ASCII (a
 * subset); with CHARSET ISO-8859-1, ISO-8859-15 or Windows-1252 they are
 * converted to UTF-8 for the matcher. */
int imap_search_parse(const struct imap_arg *args, size_t count,
		      struct imap_search_program *prog_r, const char **error_r);
void imap_search_program_free(struct imap_search_program *prog);

#endif
