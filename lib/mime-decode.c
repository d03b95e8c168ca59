#include <string.h>
#include <strings.h>

#include "base64.h"
#include "buf.h"
#include "mime-charset.h"
#include "mime-decode.h"

/* Decoded bytes are gathered here and appended to the caller's buffer a
 * block at a time. */
struct mime_out {
	struct buf *buf;
	unsigned char tmp[4096];
	size_t len;
	int ret;
};

static void mime_out_flush(struct mime_out *o)
{
	if (o->len > 0 && o->ret == 0 && buf_append(o->buf, o->tmp, o->len) < 0)
		o->ret = -1;
	o->len = 0;
}

static void mime_out_byte(struct mime_out *o, unsigned char c)
{
	if (o->len == sizeof(o->tmp))
		mime_out_flush(o);
	o->tmp[o->len++] = c;
}

static void mime_out_bytes(struct mime_out *o, const void *data, size_t len)
{
	if (len > sizeof(o->tmp) - o->len)
		mime_out_flush(o);
	if (len > sizeof(o->tmp)) {
		if (o->ret == 0 && buf_append(o->buf, data, len) < 0)
			o->ret = -1;
		return;
	}
	memcpy(o->tmp + o->len, data, len);
	o->len += len;
}

enum mime_cte mime_cte_parse(const char *encoding)
{
	if (encoding == NULL)
		return MIME_CTE_IDENTITY;
	if (strcasecmp(encoding, "base64") == 0)
		return MIME_CTE_BASE64;
	if (strcasecmp(encoding, "quoted-printable") == 0)
		return MIME_CTE_QP;
	return MIME_CTE_IDENTITY;
}

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

/* ------------------------------------------------------------------ base64 */

/* The whole bytes of a group of nchars characters (2 -> 1, 3 -> 2). */
static void base64_group_end(struct mime_decoder *d, struct mime_out *o)
{
	if (d->nchars >= 2)
		mime_out_byte(o, (unsigned char)(d->bits >> (d->nchars * 6 - 8)));
	if (d->nchars == 3)
		mime_out_byte(o, (unsigned char)(d->bits >> 2));
	d->bits = 0;
	d->nchars = 0;
}

static void base64_feed(struct mime_decoder *d, const char *s, size_t len, struct mime_out *o)
{
	for (size_t i = 0; i < len; i++) {
		int v = base64_char_value(s[i]);

		if (v < 0) {
			/* RFC 2045 6.8: other characters are ignored; "=" ends
			 * the data of its group. */
			if (s[i] == '=')
				base64_group_end(d, o);
			continue;
		}
		d->bits = (d->bits << 6) | (unsigned int)v;
		if (++d->nchars == 4) {
			unsigned char b[3] = {
				(unsigned char)(d->bits >> 16), (unsigned char)(d->bits >> 8),
				(unsigned char)d->bits,
			};

			mime_out_bytes(o, b, 3);
			d->bits = 0;
			d->nchars = 0;
		}
	}
}

/* -------------------------------------------------------- quoted-printable */

static int qp_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool qp_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void qp_pending_flush(struct mime_decoder *d, struct mime_out *o)
{
	mime_out_bytes(o, d->pending, d->pending_len);
	d->pending_len = 0;
}

static void qp_pending_add(struct mime_decoder *d, struct mime_out *o, char c)
{
	if (d->pending_len == sizeof(d->pending))
		qp_pending_flush(d, o);
	d->pending[d->pending_len++] = c;
}

/* One byte after undecided ones: pending is "=", "=X", "=" and blanks
 * (perhaps a CR), or blanks (perhaps a CR). 1 when c was used, 0 when
 * pending was settled and c is still to be read as an ordinary byte. */
static int qp_pending_next(struct mime_decoder *d, struct mime_out *o, char c)
{
	const char *p = d->pending;
	size_t n = d->pending_len;
	bool soft = p[0] == '=';
	int h;

	if (soft && n == 2 && qp_hex(p[1]) >= 0) {
		if ((h = qp_hex(c)) >= 0) {
			mime_out_byte(o, (unsigned char)(qp_hex(p[1]) * 16 + h));
			d->pending_len = 0;
			return 1;
		}
		qp_pending_flush(d, o);
		return 0;
	}
	if (p[n - 1] == '\r') {
		if (c != '\n') {
			qp_pending_flush(d, o);
			return 0;
		}
		/* A soft line break vanishes; blanks before a hard one do. */
		d->pending_len = 0;
		if (!soft)
			mime_out_bytes(o, "\r\n", 2);
		return 1;
	}
	if (c == '\n') {
		d->pending_len = 0;
		if (!soft)
			mime_out_byte(o, '\n');
		return 1;
	}
	if (qp_blank(c) || c == '\r' || (soft && n == 1 && qp_hex(c) >= 0)) {
		qp_pending_add(d, o, c);
		return 1;
	}
	qp_pending_flush(d, o);
	return 0;
}

static void qp_feed(struct mime_decoder *d, const char *s, size_t len, struct mime_out *o)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		if (d->pending_len > 0) {
			i += (size_t)qp_pending_next(d, o, s[i]);
			if (d->pending_len > 0 || i >= len)
				continue;
		}
		/* A run of ordinary bytes; a blank followed by one (not by a
		 * line end or more blanks) is not trailing white space. */
		for (start = i; i < len && s[i] != '='; i++) {
			if (qp_blank(s[i]) && (i + 1 == len || qp_blank(s[i + 1]) ||
					       s[i + 1] == '\r' || s[i + 1] == '\n'))
				break;
		}
		mime_out_bytes(o, s + start, i - start);
		if (i < len)
			d->pending[d->pending_len++] = s[i++];
	}
}

static void qp_finish(struct mime_decoder *d, struct mime_out *o)
{
	const char *p = d->pending;
	size_t n = d->pending_len;

	if (n == 0)
		return;
	/* At the end of the data: "=" and blanks are a soft line break,
	 * blanks alone trailing white space; "=X" and CRs stay. */
	if (p[n - 1] != '\r' && (p[0] != '=' || n == 1 || qp_blank(p[1])))
		d->pending_len = 0;
	qp_pending_flush(d, o);
}

/* ------------------------------------------------------------------ public */

static int mime_decoder_run(struct mime_decoder *d, const void *data, size_t len, bool finish,
			    struct buf *out)
{
	struct mime_out o;

	o.buf = out;
	o.len = 0;
	o.ret = 0;
	switch (d->cte) {
	case MIME_CTE_BASE64:
		base64_feed(d, data, len, &o);
		if (finish)
			base64_group_end(d, &o);
		break;
	case MIME_CTE_QP:
		qp_feed(d, data, len, &o);
		if (finish)
			qp_finish(d, &o);
		break;
	case MIME_CTE_IDENTITY:
		mime_out_bytes(&o, data, len);
		break;
	}
	mime_out_flush(&o);
	return o.ret;
}

int mime_decoder_feed(struct mime_decoder *d, const void *data, size_t len, struct buf *out)
{
	return mime_decoder_run(d, data, len, false, out);
}

int mime_decoder_finish(struct mime_decoder *d, struct buf *out)
{
	return mime_decoder_run(d, "", 0, true, out);
}

int mime_decode(enum mime_cte cte, const void *data, size_t len, struct buf *out)
{
	struct mime_decoder d;

	mime_decoder_init(&d, cte);
	return mime_decoder_run(&d, data, len, true, out);
}

int mime_part_text(const struct mime_part *part, const char *msg, size_t msg_len,
		   struct buf *out)
{
	enum mime_cte cte = mime_cte_parse(part->encoding);
	const char *charset = mime_params_get(&part->params, "charset");
	const char *body = msg + part->body.offset;
	size_t len = (size_t)part->body.size;
	struct buf tmp;
	int ret;

	/* Spans always lie within the message; stay safe if they do not. */
	if (part->body.offset > msg_len)
		return 0;
	if (len > msg_len - part->body.offset)
		len = msg_len - (size_t)part->body.offset;
	if (cte == MIME_CTE_IDENTITY)
		return mime_charset_to_utf8(charset, body, len, out);
	buf_init(&tmp, out->limit);
	ret = mime_decode(cte, body, len, &tmp);
	if (ret == 0 && tmp.len > 0)
		ret = mime_charset_to_utf8(charset, tmp.data, tmp.len, out);
	buf_free(&tmp);
	return ret;
}
