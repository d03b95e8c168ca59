/* Sets of messages for the commands of the selected state. */
#include <stdlib.h>

#include "buf.h"
#include "imap-msgset.h"
#include "xalloc.h"

/* The index of the first message whose UID is at least uid. */
static size_t imap_msgset_lower_bound(const struct mbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t imap_msgset_find_uid(const struct mbox *box, uint32_t uid)
{
	size_t lo = imap_msgset_lower_bound(box, uid);

	return lo < box->count && box->msgs[lo].uid == uid ? lo : box->count;
}

/* Room for the indexes of a resolved set: no more than it holds, nor
 * than the view holds. */
static size_t *imap_msgset_alloc(const struct mbox *box, const struct imap_seqset *set)
{
	uint64_t want = imap_seqset_count(set);
	size_t cap = want < box->count ? (size_t)want : box->count;

	return xreallocarray(NULL, cap + 1, sizeof(size_t));
}

int imap_msgset_resolve(const struct mbox *box, const char *arg, bool uid, size_t **idx_r,
			size_t *n_r, const char **error_r)
{
	struct imap_seqset raw, set;
	size_t *idx = NULL, n = 0;

	if (arg == NULL) {
		*error_r = "Missing sequence set";
		return -1;
	}
	if (imap_seqset_parse(arg, 0, &raw, error_r) < 0)
		return -1;
	if (uid) {
		uint32_t max = box->count > 0 ? box->msgs[box->count - 1].uid : 0;

		imap_seqset_resolve_uid(&raw, max, &set);
		imap_seqset_free(&raw);
		/* Per range, its first message by binary search, then the
		 * view up to its last UID: the work is the matches and a
		 * search per range, not the whole view ("1:4294967295" is one
		 * range; the ranges are ascending and disjoint). */
		idx = imap_msgset_alloc(box, &set);
		for (size_t r = 0; r < set.count; r++) {
			for (size_t i = imap_msgset_lower_bound(box, set.ranges[r].first);
			     i < box->count && box->msgs[i].uid <= set.ranges[r].last; i++)
				idx[n++] = i;
		}
	} else {
		struct imap_seqset_iter iter;
		uint32_t seq;

		if (imap_seqset_resolve_seq(&raw, (uint32_t)box->count, &set, error_r) < 0) {
			imap_seqset_free(&raw);
			return -1;
		}
		imap_seqset_free(&raw);
		idx = imap_msgset_alloc(box, &set);
		imap_seqset_iter_init(&iter, &set);
		while (imap_seqset_iter_next(&iter, &seq))
			idx[n++] = (size_t)seq - 1;
	}
	imap_seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

int imap_msgset_uids_format(const uint32_t *uids, size_t n, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (buf_printf(out, i == 0 ? "%u" : ",%u", uids[i]) < 0)
			return -1;
		if (j > i && buf_printf(out, ":%u", uids[j]) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}
