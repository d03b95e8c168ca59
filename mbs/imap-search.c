#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "imap-msg-private.h"
#include "mime-address.h"
#include "mime-decode.h"
#include "mime-header.h"

/* SEARCH (RFC 3501 6.4.4) on one message. Keys that need no message data
 * are tried before header keys, and those before BODY and TEXT, so an AND
 * that a flag already fails never decodes a body. Text is matched the way
 * Dovecot matches it: header values with their encoded-words decoded and
 * folding removed (FROM, TO, CC, BCC also against the addresses written
 * out plainly, SUBJECT also with runs of white space as one space), bodies of
 * the text and message leaves transfer-decoded and converted to UTF-8,
 * each part on its own (a match never spans two parts). Matching is by
 * substring after imap_utf8_fold() on both sides. */

/* ------------------------------------------------------------- case folding */

/* Simple one-to-one folding to lower case: ASCII, Latin-1 Supplement,
 * Latin Extended-A, the basic Greek and Cyrillic alphabets. Nothing is
 * decomposed (a precomposed letter does not match a base letter with a
 * combining accent) and nothing expands ("ß" stays one letter). */
static uint32_t fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c < 0x100)
		return c >= 0xC0 && c <= 0xDE && c != 0xD7 ? c + 32 : c;
	if (c <= 0x17F) {
		if (c == 0x130)
			return 'i';
		if (c == 0x131 || c == 0x138 || c == 0x149)
			return c;
		if (c == 0x178)
			return 0xFF;
		if (c == 0x17F)
			return 's';
		if ((c >= 0x139 && c <= 0x148) || c >= 0x179)
			return (c & 1) != 0 ? c + 1 : c;
		return (c & 1) != 0 ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
		return c + 32;
	if (c == 0x3C2)
		return 0x3C3;
	if (c >= 0x410 && c <= 0x42F)
		return c + 32;
	if (c >= 0x400 && c <= 0x40F)
		return c + 80;
	return c;
}

/* The code point of a two-byte UTF-8 sequence at s (the only ones
 * fold_cp changes beside ASCII), or 0 with *n_r = 1 when it is not one. */
static uint32_t fold_decode(const unsigned char *s, size_t len, size_t *n_r)
{
	*n_r = 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF && len >= 2 && (s[1] & 0xC0) == 0x80) {
		*n_r = 2;
		return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	}
	return 0;
}

void imap_utf8_fold(struct buf *out, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char tmp[1024];
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		size_t used;
		uint32_t c;

		if (n + 4 > sizeof(tmp)) {
			buf_append(out, tmp, n);
			n = 0;
		}
		if (s[i] < 0x80) {
			tmp[n++] = (unsigned char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
			i++;
			continue;
		}
		c = fold_decode(s + i, len - i, &used);
		if (c == 0) {
			/* Longer sequences and stray bytes: copied as
			 * they are. */
			tmp[n++] = s[i++];
			continue;
		}
		c = fold_cp(c);
		if (c < 0x80) {
			tmp[n++] = (unsigned char)c;
		} else {
			tmp[n++] = (unsigned char)(0xC0 | (c >> 6));
			tmp[n++] = (unsigned char)(0x80 | (c & 0x3F));
		}
		i += used;
	}
	buf_append(out, tmp, n);
}

/* ------------------------------------------------------------ the state */

struct search_state {
	struct imap_msg *m;
	const struct imap_search_ctx *ctx;
	const char *data;
	size_t len;
	size_t header_size;      /* SIZE_MAX until needed */
	/* Folded text of the message's parts, each followed by a NUL so no
	 * match spans two (a needle never holds NUL): the text leaves alone
	 * for BODY; every header and text leaf for TEXT. */
	struct buf body, text;
	bool have_body, have_text;
};

static bool search_contains(const struct buf *hay, const struct buf *needle)
{
	if (needle->len == 0)
		return true;
	if (hay->len < needle->len)
		return false;
	return memmem(hay->data, hay->len, needle->data, needle->len) != NULL;
}

static void search_needle(struct buf *needle, const char *value)
{
	buf_init(needle, BUF_NO_LIMIT);
	imap_utf8_fold(needle, value, strlen(value));
}

/* ------------------------------------------------------------------ dates */

static const char *const month_names[12] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
};

static const char *date_skip_cfws(const char *p, const char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			break;
	}
	return p;
}

static const char *date_number(const char *p, const char *end, int max_digits, int *n_r,
			       int *digits_r)
{
	int n = 0, d = 0;

	for (; p < end && d < max_digits && *p >= '0' && *p <= '9'; p++, d++)
		n = n * 10 + (*p - '0');
	*n_r = n;
	*digits_r = d;
	return p;
}

/* The day of an RFC 5322 date-time (3.3, with the obsolete forms: no day
 * of week, two- or three-digit years, comments), as written: its zone is
 * not applied, as RFC 3501 asks for SENT* keys. Lenient about what
 * follows the year. 0, or -1 when there is no date. */
static int search_sent_date_parse(const char *s, size_t len, struct imap_date *date_r)
{
	const char *p = s, *end = s + len;
	int digits;

	p = date_skip_cfws(p, end);
	if (p < end && isalpha((unsigned char)*p)) {
		while (p < end && isalpha((unsigned char)*p))
			p++;
		p = date_skip_cfws(p, end);
		if (p < end && *p == ',')
			p = date_skip_cfws(p + 1, end);
	}
	p = date_number(p, end, 2, &date_r->day, &digits);
	if (digits == 0)
		return -1;
	p = date_skip_cfws(p, end);
	if (end - p < 3)
		return -1;
	date_r->month = 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(p, month_names[i], 3) == 0)
			date_r->month = i + 1;
	}
	if (date_r->month == 0)
		return -1;
	for (p += 3; p < end && isalpha((unsigned char)*p); p++)
		;
	p = date_skip_cfws(p, end);
	p = date_number(p, end, 4, &date_r->year, &digits);
	if (digits < 2 || date_r->day < 1 || date_r->day > 31)
		return -1;
	/* RFC 5322 4.3: 00-49 are 2000-2049, 50-99 and three digits 1900+. */
	if (digits == 2)
		date_r->year += date_r->year < 50 ? 2000 : 1900;
	else if (digits == 3)
		date_r->year += 1900;
	return 0;
}

static size_t search_header_size(struct search_state *st)
{
	if (st->header_size == SIZE_MAX)
		st->header_size = imap_msg_header_size(st->m);
	return st->header_size;
}

static int search_date_day(struct search_state *st, const struct imap_search_node *node,
			   int64_t *day_r)
{
	struct imap_date date;

	if (!node->sent) {
		/* INTERNALDATE's day in the server's time zone, as Dovecot
		 * takes it. */
		time_t t = st->m->msg->internaldate;
		struct tm tm;

		if (localtime_r(&t, &tm) == NULL)
			return -1;
		date.year = tm.tm_year + 1900;
		date.month = tm.tm_mon + 1;
		date.day = tm.tm_mday;
	} else {
		struct mime_header_field f;

		/* No Date: or one that does not parse: sent on 1-Jan-1970,
		 * as Dovecot takes it (so SENTBEFORE finds it). */
		if (mime_header_find(st->data, search_header_size(st), "Date", &f) <= 0 ||
		    search_sent_date_parse(f.value, f.value_len, &date) < 0) {
			date.year = 1970;
			date.month = 1;
			date.day = 1;
		}
	}
	*day_r = imap_date_days(&date);
	return 0;
}

static bool search_date_match(struct search_state *st, const struct imap_search_node *node)
{
	int64_t day, want = imap_date_days(&node->date);

	if (search_date_day(st, node, &day) < 0)
		return false;
	switch (node->op) {
	case IMAP_SEARCH_BEFORE:
		return day < want;
	case IMAP_SEARCH_ON:
		return day == want;
	default:
		return day >= want;
	}
}

/* ---------------------------------------------------------------- headers */

/* White space runs as one space, none at the start or the end. */
static void compress_lwsp(struct buf *b)
{
	size_t n = 0;
	bool space = true;

	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!space)
				b->data[n++] = ' ';
			space = true;
		} else {
			b->data[n++] = c;
			space = false;
		}
	}
	if (n > 0 && b->data[n - 1] == ' ')
		n--;
	buf_truncate(b, n);
}

/* The addresses of a From/To/Cc/Bcc value written out plainly:
 * "Name <local@domain>, local@domain, group: ...;", names decoded. */
static void search_addresses(struct buf *out, const char *value, size_t len)
{
	struct mime_address *list = mime_address_parse(value, len);

	for (const struct mime_address *a = list; a != NULL; a = a->next) {
		if (a->mailbox == NULL) {
			buf_append_str(out, ";");
			continue;
		}
		if (out->len > 0 && out->data[out->len - 1] != ' ')
			buf_append_str(out, ", ");
		if (a->host == NULL) {
			buf_printf(out, "%s: ", a->mailbox);
			continue;
		}
		if (a->name != NULL) {
			mime_header_decode(a->name, strlen(a->name), out);
			buf_printf(out, " <%s@%s>", a->mailbox, a->host);
		} else
			buf_printf(out, "%s@%s", a->mailbox, a->host);
	}
	mime_address_free(&list);
}

static bool search_is_address_field(const char *name)
{
	return strcasecmp(name, "From") == 0 || strcasecmp(name, "To") == 0 ||
	       strcasecmp(name, "Cc") == 0 || strcasecmp(name, "Bcc") == 0;
}

/* Does this field's decoded value hold the needle? */
static bool search_field_match(const struct imap_search_node *node,
			       const struct mime_header_field *f, const struct buf *needle)
{
	struct buf value, folded;
	bool found;

	buf_init(&value, BUF_NO_LIMIT);
	buf_init(&folded, BUF_NO_LIMIT);
	mime_header_decode(f->value, f->value_len, &value);
	imap_utf8_fold(&folded, value.data, value.len);
	found = search_contains(&folded, needle);
	if (!found && strcasecmp(node->header, "Subject") == 0) {
		buf_reset(&folded);
		compress_lwsp(&value);
		imap_utf8_fold(&folded, value.data, value.len);
		found = search_contains(&folded, needle);
	}
	if (!found && search_is_address_field(node->header)) {
		buf_reset(&value);
		buf_reset(&folded);
		search_addresses(&value, f->value, f->value_len);
		imap_utf8_fold(&folded, value.data, value.len);
		found = search_contains(&folded, needle);
	}
	buf_free(&value);
	buf_free(&folded);
	return found;
}

/* HEADER name value: any field of that name in the message's own header;
 * an empty value asks only that the field be there. */
static bool search_header_match(struct search_state *st, const struct imap_search_node *node)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	struct buf needle;
	bool found = false;

	search_needle(&needle, node->value);
	mime_header_iter_init(&it, st->data, search_header_size(st));
	while (!found && mime_header_iter_next(&it, &f) > 0) {
		if (mime_header_name_is(&f, node->header))
			found = node->value[0] == '\0' || search_field_match(node, &f, &needle);
	}
	buf_free(&needle);
	return found;
}

/* ------------------------------------------------------------- BODY, TEXT */

/* Leaves whose body is searched: text and message (a message/rfc822
 * that holds a message is searched through it), as Dovecot does. */
static bool search_part_is_text(const struct mime_part *part)
{
	if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0)
		return false;
	return mime_part_is(part, "text", NULL) || mime_part_is(part, "message", NULL);
}

/* "Name: value\r\n" for each field of a part's header, values decoded. */
static void search_part_header_text(struct search_state *st, const struct mime_part *part,
				    struct buf *raw)
{
	struct mime_header_iter it;
	struct mime_header_field f;

	mime_header_iter_init(&it, st->data + part->header.offset, (size_t)part->header.size);
	while (mime_header_iter_next(&it, &f) > 0) {
		buf_append(raw, f.name, f.name_len);
		buf_append_str(raw, ": ");
		mime_header_decode(f.value, f.value_len, raw);
		buf_append_str(raw, "\r\n");
	}
	buf_append_str(raw, "\r\n");
}

/* Every part in order: its header (with_headers) and its text, folded. */
static void search_parts_text(struct search_state *st, const struct mime_part *part,
			      bool with_headers, struct buf *dst, struct buf *raw)
{
	for (; part != NULL; part = part->next) {
		buf_reset(raw);
		if (with_headers)
			search_part_header_text(st, part, raw);
		if (search_part_is_text(part))
			mime_part_text(part, st->data, st->len, raw);
		if (raw->len > 0) {
			imap_utf8_fold(dst, raw->data, raw->len);
			buf_append_char(dst, '\0');
		}
		search_parts_text(st, part->children, with_headers, dst, raw);
	}
}

static const struct buf *search_text(struct search_state *st, bool with_headers)
{
	struct buf *dst = with_headers ? &st->text : &st->body;
	bool *have = with_headers ? &st->have_text : &st->have_body;
	struct buf raw;

	if (!*have) {
		buf_init(&raw, BUF_NO_LIMIT);
		search_parts_text(st, imap_msg_mime(st->m), with_headers, dst, &raw);
		buf_free(&raw);
		*have = true;
	}
	return dst;
}

static bool search_text_match(struct search_state *st, const struct imap_search_node *node)
{
	struct buf needle;
	bool found;

	search_needle(&needle, node->value);
	found = search_contains(search_text(st, node->type == IMAP_SEARCH_TEXT), &needle);
	buf_free(&needle);
	return found;
}

/* ---------------------------------------------------------------- the tree */

enum search_cost {
	SEARCH_COST_META,     /* flags, numbers, sizes, internal date */
	SEARCH_COST_HEADER,
	SEARCH_COST_BODY,
};

static enum search_cost node_cost(const struct imap_search_node *node)
{
	enum search_cost cost = SEARCH_COST_META, c;

	switch (node->type) {
	case IMAP_SEARCH_AND:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_NOT:
		for (const struct imap_search_node *ch = node->child; ch != NULL; ch = ch->next) {
			if ((c = node_cost(ch)) > cost)
				cost = c;
		}
		return cost;
	case IMAP_SEARCH_DATE:
		return node->sent ? SEARCH_COST_HEADER : SEARCH_COST_META;
	case IMAP_SEARCH_HEADER:
		return SEARCH_COST_HEADER;
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return SEARCH_COST_BODY;
	default:
		return SEARCH_COST_META;
	}
}

static bool node_needs_data(const struct imap_search_node *node, const struct mbox_msg *msg)
{
	if (node->type == IMAP_SEARCH_SIZE)
		return !imap_msg_vsize_known(msg);
	if (node_cost(node) != SEARCH_COST_META)
		return true;
	for (const struct imap_search_node *ch = node->child; ch != NULL; ch = ch->next) {
		if (node_needs_data(ch, msg))
			return true;
	}
	return false;
}

bool imap_search_needs_data(const struct imap_search_program *prog, const struct mbox_msg *msg)
{
	return prog->root != NULL && node_needs_data(prog->root, msg);
}

static bool node_match(struct search_state *st, const struct imap_search_node *node);

/* AND stops at the first false child, OR at the first true one; cheap
 * children are tried first. */
static bool node_match_list(struct search_state *st, const struct imap_search_node *node,
			    bool stop_at)
{
	for (enum search_cost cost = SEARCH_COST_META; cost <= SEARCH_COST_BODY; cost++) {
		for (const struct imap_search_node *ch = node->child; ch != NULL; ch = ch->next) {
			if (node_cost(ch) == cost && node_match(st, ch) == stop_at)
				return stop_at;
		}
	}
	return !stop_at;
}

static bool search_keyword_match(struct search_state *st, const char *name)
{
	const struct maildir_keywords *kw = st->m->keywords;

	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX && kw != NULL; i++) {
		/* Keywords compare without case, as flags do in IMAP. */
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0 &&
		    (st->m->msg->keywords & (UINT32_C(1) << i)) != 0)
			return true;
	}
	return false;
}

static bool node_match(struct search_state *st, const struct imap_search_node *node)
{
	const struct mbox_msg *msg = st->m->msg;

	switch (node->type) {
	case IMAP_SEARCH_ALL:
		return true;
	case IMAP_SEARCH_AND:
		return node_match_list(st, node, false);
	case IMAP_SEARCH_OR:
		return node_match_list(st, node, true);
	case IMAP_SEARCH_NOT:
		return node->child == NULL || !node_match(st, node->child);
	case IMAP_SEARCH_SEQSET:
		return imap_seqset_contains_raw(&node->set, st->m->seq, st->ctx->max_seq);
	case IMAP_SEARCH_UID:
		return imap_seqset_contains_raw(&node->set, msg->uid, st->ctx->max_uid);
	case IMAP_SEARCH_FLAG:
		return (msg->flags & node->flag) != 0;
	case IMAP_SEARCH_RECENT:
		return msg->recent;
	case IMAP_SEARCH_KEYWORD:
		return search_keyword_match(st, node->value);
	case IMAP_SEARCH_DATE:
		return search_date_match(st, node);
	case IMAP_SEARCH_SIZE:
		return node->op == IMAP_SEARCH_LARGER ? imap_msg_vsize(st->m) > node->size :
			imap_msg_vsize(st->m) < node->size;
	case IMAP_SEARCH_HEADER:
		return search_header_match(st, node);
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return search_text_match(st, node);
	}
	return false;
}

bool imap_search_match(const struct imap_search_program *prog, struct imap_msg *m,
		       const struct imap_search_ctx *ctx)
{
	struct search_state st;
	bool match;

	if (prog->root == NULL)
		return false;
	memset(&st, 0, sizeof(st));
	st.m = m;
	st.ctx = ctx;
	st.data = imap_msg_data(m, &st.len);
	st.header_size = SIZE_MAX;
	buf_init(&st.body, BUF_NO_LIMIT);
	buf_init(&st.text, BUF_NO_LIMIT);
	match = node_match(&st, prog->root);
	buf_free(&st.body);
	buf_free(&st.text);
	return match;
}
