#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-seqset.h"
#include "xalloc.h"

void imap_seqset_add(struct imap_seqset *set, uint32_t first, uint32_t last)
{
	set->ranges = xreallocarray(set->ranges, set->count + 1, sizeof(*set->ranges));
	set->ranges[set->count].first = first;
	set->ranges[set->count].last = last;
	set->count++;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = 0;
}

/* seq-number: nz-number or "*". */
static int seq_number_parse(const char **sp, unsigned flags, uint32_t *n_r,
			    const char **error_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (*s == '*') {
		if ((flags & IMAP_SEQSET_NO_STAR) != 0)
			return *error_r = "\"*\" is not allowed in a UID set", -1;
		*n_r = IMAP_SEQ_STAR;
		*sp = s + 1;
		return 0;
	}
	if (*s == '$')
		return *error_r = "$ (SEARCHRES) is not supported", -1;
	if (*s < '1' || *s > '9')
		return *error_r = *s == '0' ? "Sequence numbers start at 1" :
			"Invalid sequence set", -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return *error_r = "Sequence number too large", -1;
	}
	*n_r = (uint32_t)n;
	*sp = s;
	return 0;
}

int imap_seqset_parse(const char *s, unsigned flags, struct imap_seqset *set_r,
		      const char **error_r)
{
	uint32_t first, last;

	memset(set_r, 0, sizeof(*set_r));
	for (;;) {
		if (set_r->count >= IMAP_SEQSET_MAX_RANGES) {
			*error_r = "Too many ranges in sequence set";
			break;
		}
		if (seq_number_parse(&s, flags, &first, error_r) < 0)
			break;
		last = first;
		if (*s == ':') {
			s++;
			if (seq_number_parse(&s, flags, &last, error_r) < 0)
				break;
		}
		imap_seqset_add(set_r, first, last);
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			*error_r = "Invalid sequence set";
			break;
		}
		s++;
	}
	imap_seqset_free(set_r);
	return -1;
}

bool imap_seqset_is_valid(const char *s)
{
	struct imap_seqset set;
	const char *error;

	if (imap_seqset_parse(s, 0, &set, &error) < 0)
		return false;
	imap_seqset_free(&set);
	return true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

void imap_seqset_normalize(struct imap_seqset *set)
{
	size_t out = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];

		if (r->first > r->last) {
			uint32_t tmp = r->first;

			r->first = r->last;
			r->last = tmp;
		}
	}
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges), range_cmp);
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];

		if (out > 0 && (uint64_t)set->ranges[out - 1].last + 1 >= r.first) {
			if (r.last > set->ranges[out - 1].last)
				set->ranges[out - 1].last = r.last;
		} else {
			set->ranges[out++] = r;
		}
	}
	set->count = out;
}

static uint32_t star_value(uint32_t n, uint32_t max)
{
	return n == IMAP_SEQ_STAR ? max : n;
}

int imap_seqset_resolve_seq(const struct imap_seqset *raw, uint32_t max,
			    struct imap_seqset *set_r, const char **error_r)
{
	memset(set_r, 0, sizeof(*set_r));
	if (max == 0)
		return *error_r = "No messages in the mailbox", -1;
	for (size_t i = 0; i < raw->count; i++) {
		uint32_t first = star_value(raw->ranges[i].first, max);
		uint32_t last = star_value(raw->ranges[i].last, max);

		if (first > max || last > max) {
			imap_seqset_free(set_r);
			return *error_r = "Invalid message sequence number", -1;
		}
		imap_seqset_add(set_r, first, last);
	}
	imap_seqset_normalize(set_r);
	return 0;
}

void imap_seqset_resolve_uid(const struct imap_seqset *raw, uint32_t max,
			     struct imap_seqset *set_r)
{
	memset(set_r, 0, sizeof(*set_r));
	for (size_t i = 0; i < raw->count && max > 0; i++) {
		uint32_t first = star_value(raw->ranges[i].first, max);
		uint32_t last = star_value(raw->ranges[i].last, max);
		uint32_t lo = first < last ? first : last;
		uint32_t hi = first < last ? last : first;

		if (lo > max)
			continue;
		imap_seqset_add(set_r, lo, hi > max ? max : hi);
	}
	imap_seqset_normalize(set_r);
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->ranges[mid].first)
			hi = mid;
		else if (n > set->ranges[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool imap_seqset_contains_raw(const struct imap_seqset *raw, uint32_t n, uint32_t star)
{
	for (size_t i = 0; i < raw->count; i++) {
		uint32_t a = star_value(raw->ranges[i].first, star);
		uint32_t b = star_value(raw->ranges[i].last, star);

		if ((n >= a && n <= b) || (n >= b && n <= a))
			return true;
	}
	return false;
}

uint64_t imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;

	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].last - set->ranges[i].first + 1;
	return n;
}

static int format_number(struct buf *out, uint32_t n)
{
	return n == IMAP_SEQ_STAR ? buf_append_char(out, '*') : buf_printf(out, "%u", n);
}

int imap_seqset_format(const struct imap_seqset *set, struct buf *out)
{
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];

		if ((i > 0 && buf_append_char(out, ',') < 0) || format_number(out, r->first) < 0)
			return -1;
		if (r->last != r->first &&
		    (buf_append_char(out, ':') < 0 || format_number(out, r->last) < 0))
			return -1;
	}
	return 0;
}

void imap_seqset_iter_init(struct imap_seqset_iter *iter, const struct imap_seqset *set)
{
	iter->set = set;
	iter->range = 0;
	iter->next = set->count > 0 ? set->ranges[0].first : 0;
}

bool imap_seqset_iter_next(struct imap_seqset_iter *iter, uint32_t *n_r)
{
	const struct imap_seqset *set = iter->set;

	if (iter->range >= set->count)
		return false;
	*n_r = (uint32_t)iter->next;
	if (iter->next < set->ranges[iter->range].last) {
		iter->next++;
	} else if (++iter->range < set->count) {
		iter->next = set->ranges[iter->range].first;
	}
	return true;
}
