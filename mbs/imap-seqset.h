#ifndef MR_IMAP_SEQSET_H
#define MR_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Sequence sets ("1:*", "5,7:9,*") and UID sets. A parsed set is "raw":
 * 0 stands for "*", ranges keep the client's order and direction. Resolving
 * it against the mailbox's highest number gives a normalised set: ranges
 * ascending, disjoint, not adjacent, no "*". */

struct imap_seq_range {
	uint32_t first, last;   /* raw sets: 0 is "*" */
};

struct imap_seqset {
	struct imap_seq_range *ranges;
	size_t count;
};

#define IMAP_SEQ_STAR 0u
/* Bounds the work one command line can cause. */
#define IMAP_SEQSET_MAX_RANGES 65536

enum imap_seqset_flags {
	IMAP_SEQSET_NO_STAR = 0x01,   /* UIDPLUS uid-set: no "*" */
};

/* -1 with error_r on a syntax error; "$" (SEARCHRES) is refused. */
int imap_seqset_parse(const char *s, unsigned flags, struct imap_seqset *set_r,
		      const char **error_r);
/* Syntax check only, for telling a set from a SEARCH key. */
bool imap_seqset_is_valid(const char *s);

/* Message sequence numbers: "*" is `max`, a number past `max` is an error
 * (and so is any set when max is 0). UIDs: "*" is `max`, numbers past it
 * are dropped, "n:*" always holds `max` (RFC 3501 6.4.8). */
int imap_seqset_resolve_seq(const struct imap_seqset *raw, uint32_t max,
			    struct imap_seqset *set_r, const char **error_r);
void imap_seqset_resolve_uid(const struct imap_seqset *raw, uint32_t max,
			     struct imap_seqset *set_r);

/* Membership in a normalised set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Membership in a raw set with "*" standing for `star`. */
bool imap_seqset_contains_raw(const struct imap_seqset *raw, uint32_t n, uint32_t star);
uint64_t imap_seqset_count(const struct imap_seqset *set);

/* Build a set (COPYUID, APPENDUID): add ranges, then normalise. */
void imap_seqset_add(struct imap_seqset *set, uint32_t first, uint32_t last);
void imap_seqset_normalize(struct imap_seqset *set);
/* "1:3,5" (normalised or raw; "*" for 0). -1 when out's limit is reached. */
int imap_seqset_format(const struct imap_seqset *set, struct buf *out);

struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t range;
	uint64_t next;
};

/* Ascending over a normalised set. */
void imap_seqset_iter_init(struct imap_seqset_iter *iter, const struct imap_seqset *set);
bool imap_seqset_iter_next(struct imap_seqset_iter *iter, uint32_t *n_r);

void imap_seqset_free(struct imap_seqset *set);

#endif
