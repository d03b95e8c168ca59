#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-bodystructure.h"
#include "imap-msg-private.h"
#include "mime-header.h"

/* FETCH (RFC 3501 6.4.5) rendered for one message, the reply grammar of
 * 7.4.2. What needs no message data (FLAGS, UID, INTERNALDATE, a known
 * RFC822.SIZE) never touches it; sections of the top-level message
 * (BODY[], HEADER, HEADER.FIELDS, TEXT and the RFC822 forms) only look for
 * the end of the header; ENVELOPE parses the header block alone; only part
 * numbers, BODY and BODYSTRUCTURE parse the MIME structure. */

#define FETCH_NEEDS_DATA (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY | IMAP_FETCH_BODYSTRUCTURE | \
			  IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT)

bool imap_fetch_needs_data(const struct imap_fetch_items *items, const struct mbox_msg *msg)
{
	if ((items->attrs & FETCH_NEEDS_DATA) != 0 || items->body_count > 0)
		return true;
	return (items->attrs & IMAP_FETCH_RFC822_SIZE) != 0 && !imap_msg_vsize_known(msg);
}

bool imap_fetch_sets_seen(const struct imap_fetch_items *items)
{
	if ((items->attrs & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT)) != 0)
		return true;
	for (size_t i = 0; i < items->body_count; i++) {
		if (!items->bodies[i].peek)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ FLAGS, dates */

void imap_flags_write(struct buf *out, const struct mbox_msg *msg,
		      const struct maildir_keywords *keywords)
{
	static const struct {
		unsigned flag;
		const char *name;
	} system_flags[] = {
		{ IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" },
		{ IMAP_FLAG_DELETED, "\\Deleted" },
		{ IMAP_FLAG_SEEN, "\\Seen" },
		{ IMAP_FLAG_DRAFT, "\\Draft" },
	};
	bool first = true;

	/* In Dovecot's order, so replies compare byte for byte. */
	buf_append_char(out, '(');
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
		if ((msg->flags & system_flags[i].flag) != 0) {
			buf_printf(out, "%s%s", first ? "" : " ", system_flags[i].name);
			first = false;
		}
	}
	if (msg->recent) {
		buf_append_str(out, first ? "\\Recent" : " \\Recent");
		first = false;
	}
	/* A letter without a name in dovecot-keywords is not shown, as
	 * Dovecot does. */
	for (unsigned i = 0; i < MAILDIR_KEYWORDS_MAX && keywords != NULL; i++) {
		if ((msg->keywords & (UINT32_C(1) << i)) != 0 && keywords->names[i] != NULL) {
			buf_printf(out, "%s%s", first ? "" : " ", keywords->names[i]);
			first = false;
		}
	}
	buf_append_char(out, ')');
}

/* "dd-Mon-yyyy hh:mm:ss +zzzz" in the server's time zone. */
static void fetch_internaldate_write(struct buf *out, time_t t)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;
	long off;

	if (localtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	off = tm.tm_gmtoff / 60;
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02ld%02ld\"", tm.tm_mday,
		   months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		   off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

/* ---------------------------------------------------------------- literals */

struct fetch_window {
	uint64_t skip;    /* bytes of the sent form to leave out first */
	uint64_t left;    /* bytes still to send */
};

static void fetch_take(struct buf *out, struct fetch_window *w, const char *s, size_t n)
{
	if (w->skip >= n) {
		w->skip -= n;
		return;
	}
	s += w->skip;
	n -= (size_t)w->skip;
	w->skip = 0;
	if (n > w->left)
		n = (size_t)w->left;
	buf_append(out, s, n);
	w->left -= n;
}

/* data[0..len) as IMAP sends it: a bare LF as CRLF, NUL as 0x80 (a
 * literal cannot hold NUL; Dovecot sends the same), cut to the window. */
static void fetch_sent_form_append(struct buf *out, const char *data, size_t len,
				   struct fetch_window *w)
{
	size_t i = 0;

	while (i < len && w->left > 0) {
		size_t j = i;

		while (j < len && data[j] != '\n' && data[j] != '\0')
			j++;
		fetch_take(out, w, data + i, j - i);
		if (j == len)
			break;
		if (data[j] == '\0')
			fetch_take(out, w, "\x80", 1);
		else if (j > 0 && data[j - 1] == '\r')
			fetch_take(out, w, "\n", 1);
		else
			fetch_take(out, w, "\r\n", 2);
		i = j + 1;
	}
}

/* " {n}\r\n" and the bytes of data[0..len) in their sent form, or the
 * <origin.count> window of them (RFC 3501 6.4.5: a start past the end
 * gives an empty string). */
static void fetch_literal_write(struct buf *out, const char *data, size_t len,
				const struct imap_fetch_body *body)
{
	uint64_t vsize = imap_vsize(data, len);
	struct fetch_window w = { 0, vsize };

	if (body != NULL && body->partial) {
		w.skip = body->origin < vsize ? body->origin : vsize;
		w.left = vsize - w.skip;
		if (w.left > body->count)
			w.left = body->count;
	}
	buf_printf(out, " {%" PRIu64 "}\r\n", w.left);
	fetch_sent_form_append(out, data, len, &w);
}

/* ---------------------------------------------------------------- sections */

static bool fetch_field_listed(const struct imap_fetch_body *body,
			       const struct mime_header_field *f)
{
	for (size_t i = 0; i < body->field_count; i++) {
		if (mime_header_name_is(f, body->fields[i]))
			return true;
	}
	return false;
}

/* HEADER.FIELDS (.NOT) of a header block: the fields kept, as written
 * with their folding, then the blank line (always: RFC 3501 asks for the
 * header's end even when no field is kept). */
static void fetch_header_filter(struct buf *dst, const char *hdr, size_t len,
				const struct imap_fetch_body *body)
{
	bool want = body->kind == IMAP_SECTION_HEADER_FIELDS;
	struct mime_header_iter it;
	struct mime_header_field f;

	mime_header_iter_init(&it, hdr, len);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (fetch_field_listed(body, &f) != want)
			continue;
		/* The field runs from its name to the end of its last line. */
		buf_append(dst, f.name, (size_t)(it.p - f.name));
		if (it.p[-1] != '\n')
			buf_append_str(dst, "\r\n");
	}
	buf_append_str(dst, "\r\n");
}

static const char *const section_keywords[] = {
	[IMAP_SECTION_FULL] = "",
	[IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER",
	[IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

/* The byte range a section names: part numbers need the MIME tree, the
 * message's own header and text do not. false: nothing (a part that does
 * not exist). */
static bool fetch_section_range(struct imap_msg *m, const struct imap_fetch_body *body,
				size_t *offset_r, size_t *size_r)
{
	size_t len, hdr;
	struct imap_section sec;
	struct buf spec;
	const char *error;
	int ret;

	(void)imap_msg_data(m, &len);
	if (body->part_count == 0) {
		hdr = imap_msg_header_size(m);
		*offset_r = body->kind == IMAP_SECTION_TEXT ? hdr : 0;
		*size_r = body->kind == IMAP_SECTION_FULL ? len :
			body->kind == IMAP_SECTION_TEXT ? len - hdr : hdr;
		return true;
	}
	buf_init(&spec, BUF_NO_LIMIT);
	for (size_t i = 0; i < body->part_count; i++)
		buf_printf(&spec, "%s%" PRIu32, i > 0 ? "." : "", body->parts[i]);
	if (body->kind != IMAP_SECTION_FULL)
		buf_printf(&spec, ".%s", section_keywords[body->kind]);
	ret = imap_section_find(imap_msg_mime(m), buf_cstr(&spec), &sec, &error);
	buf_free(&spec);
	if (ret < 0 || sec.part == NULL || sec.offset > len || sec.size > len - sec.offset)
		return false;
	*offset_r = (size_t)sec.offset;
	*size_r = (size_t)sec.size;
	return true;
}

/* "BODY[section]<origin> {n}\r\n..." */
static void fetch_body_write(struct buf *out, struct imap_msg *m,
			     const struct imap_fetch_body *body)
{
	size_t len, offset = 0, size = 0;
	const char *data = imap_msg_data(m, &len);

	buf_printf(out, "BODY[%s]", body->section);
	if (body->partial)
		buf_printf(out, "<%" PRIu32 ">", body->origin);
	if (!fetch_section_range(m, body, &offset, &size)) {
		buf_append_str(out, " {0}\r\n");
		return;
	}
	if (body->kind == IMAP_SECTION_HEADER_FIELDS ||
	    body->kind == IMAP_SECTION_HEADER_FIELDS_NOT) {
		struct buf fields;

		buf_init(&fields, BUF_NO_LIMIT);
		fetch_header_filter(&fields, data + offset, size, body);
		fetch_literal_write(out, fields.data, fields.len, body);
		buf_free(&fields);
		return;
	}
	fetch_literal_write(out, data + offset, size, body);
}

/* ---------------------------------------------------------------- the reply */

struct fetch_reply {
	struct buf *out;
	bool first;
};

static void fetch_item(struct fetch_reply *r, const char *name)
{
	if (!r->first)
		buf_append_char(r->out, ' ');
	r->first = false;
	buf_append_str(r->out, name);
}

static void fetch_envelope_write(struct buf *out, struct imap_msg *m)
{
	struct mime_part *hdr;
	size_t len;
	const char *data = imap_msg_data(m, &len);

	if (m->mime != NULL) {
		imap_envelope_write(out, m->mime->envelope);
		return;
	}
	/* The header block alone gives the same envelope. */
	hdr = mime_parse(data, imap_msg_header_size(m), NULL);
	imap_envelope_write(out, hdr->envelope);
	mime_part_free(&hdr);
}

/* RFC822, RFC822.HEADER and RFC822.TEXT: the message's own sections. */
static void fetch_rfc822_write(struct fetch_reply *r, struct imap_msg *m, const char *name,
			       enum imap_section_kind kind)
{
	struct imap_fetch_body body;
	size_t len, offset = 0, size = 0;
	const char *data = imap_msg_data(m, &len);

	memset(&body, 0, sizeof(body));
	body.kind = kind;
	fetch_item(r, name);
	(void)fetch_section_range(m, &body, &offset, &size);
	fetch_literal_write(r->out, data + offset, size, NULL);
}

void imap_fetch_write(struct buf *out, const struct imap_fetch_items *items, struct imap_msg *m,
		      bool uid_cmd, bool add_flags)
{
	struct fetch_reply r = { out, true };
	unsigned attrs = items->attrs;

	buf_printf(out, "* %" PRIu32 " FETCH (", m->seq);
	if (uid_cmd || (attrs & IMAP_FETCH_UID) != 0) {
		fetch_item(&r, "UID");
		buf_printf(out, " %" PRIu32, m->msg->uid);
	}
	if (add_flags || (attrs & IMAP_FETCH_FLAGS) != 0) {
		fetch_item(&r, "FLAGS ");
		imap_flags_write(out, m->msg, m->keywords);
	}
	if ((attrs & IMAP_FETCH_INTERNALDATE) != 0) {
		fetch_item(&r, "INTERNALDATE ");
		fetch_internaldate_write(out, m->msg->internaldate);
	}
	if ((attrs & IMAP_FETCH_RFC822_SIZE) != 0) {
		fetch_item(&r, "RFC822.SIZE");
		buf_printf(out, " %" PRIu64, imap_msg_vsize(m));
	}
	if ((attrs & IMAP_FETCH_ENVELOPE) != 0) {
		fetch_item(&r, "ENVELOPE ");
		fetch_envelope_write(out, m);
	}
	if ((attrs & IMAP_FETCH_BODY) != 0) {
		fetch_item(&r, "BODY ");
		imap_bodystructure_write(out, imap_msg_mime(m), false);
	}
	if ((attrs & IMAP_FETCH_BODYSTRUCTURE) != 0) {
		fetch_item(&r, "BODYSTRUCTURE ");
		imap_bodystructure_write(out, imap_msg_mime(m), true);
	}
	if ((attrs & IMAP_FETCH_RFC822_HEADER) != 0)
		fetch_rfc822_write(&r, m, "RFC822.HEADER", IMAP_SECTION_HEADER);
	if ((attrs & IMAP_FETCH_RFC822_TEXT) != 0)
		fetch_rfc822_write(&r, m, "RFC822.TEXT", IMAP_SECTION_TEXT);
	if ((attrs & IMAP_FETCH_RFC822) != 0)
		fetch_rfc822_write(&r, m, "RFC822", IMAP_SECTION_FULL);
	for (size_t i = 0; i < items->body_count; i++) {
		fetch_item(&r, "");
		fetch_body_write(out, m, &items->bodies[i]);
	}
	buf_append_str(out, ")\r\n");
}
