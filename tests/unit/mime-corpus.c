#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "mime-corpus.h"
#include "xalloc.h"

const char *const mime_corpus_files[] = {
	"simple.eml", "crlf-alternative.eml", "mixed-attach.eml", "nested.eml",
	"rfc822.eml", "rfc2231.eml", "encoded-words.eml", "missing-close.eml",
	"no-boundary-found.eml", "no-boundary-param.eml", "bad-content-type.eml",
	"quoted-boundary.eml", "8bit-headers.eml", "empty-body.eml", "no-headers.eml",
	"unterminated-headers.eml", "groups.eml", "nul-bytes.eml", "bare-cr-mixed-eol.eml",
	"digest.eml", "deep-nesting.eml", "message-no-end.eml", "qp-latin1.eml",
	"base64-utf8.eml", "folded-lf.eml", "no-date.eml", "bad-date.eml", NULL,
};

char *mime_corpus_load(const char *name, size_t *len_r)
{
	const char *top = getenv("top_srcdir");
	char *path = xasprintf("%s/tests/data/mime/%s", top != NULL ? top : ".", name);
	FILE *f = fopen(path, "rb");
	struct buf b;
	char tmp[4096];
	size_t n;

	free(path);
	if (f == NULL)
		return NULL;
	buf_init(&b, BUF_NO_LIMIT);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len_r = b.len;
	return buf_steal(&b);
}

struct mime_part *mime_corpus_parse(const char *data, size_t len, size_t chunk,
				    const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_new(limits);

	if (chunk == 0)
		chunk = len;
	for (size_t off = 0; off < len; off += chunk)
		mime_parser_feed(p, data + off, len - off < chunk ? len - off : chunk);
	return mime_parser_finish(&p);
}

static void mime_dump_str(struct buf *out, const char *label, const char *s)
{
	buf_printf(out, " %s=%s", label, s != NULL ? s : "<nil>");
}

static void mime_dump_params(struct buf *out, const char *label, const struct mime_params *ps)
{
	buf_printf(out, " %s=[", label);
	for (size_t i = 0; i < ps->count; i++)
		buf_printf(out, "%s=%s;", ps->v[i].name, ps->v[i].value);
	buf_append_char(out, ']');
}

static void mime_dump_span(struct buf *out, const char *label, const struct mime_span *s)
{
	buf_printf(out, " %s=%llu+%llu/%llu/%llu", label, (unsigned long long)s->offset,
		   (unsigned long long)s->size, (unsigned long long)s->vsize,
		   (unsigned long long)s->lines);
}

void mime_corpus_dump(struct buf *out, const struct mime_part *part)
{
	const struct mime_envelope *e = part->envelope;

	buf_printf(out, "%*sdepth=%u flags=%#x", (int)part->depth, "", part->depth, part->flags);
	mime_dump_span(out, "hdr", &part->header);
	mime_dump_span(out, "body", &part->body);
	mime_dump_str(out, "type", part->type);
	mime_dump_str(out, "sub", part->subtype);
	mime_dump_params(out, "params", &part->params);
	mime_dump_str(out, "enc", part->encoding);
	mime_dump_str(out, "id", part->id);
	mime_dump_str(out, "desc", part->description);
	mime_dump_str(out, "md5", part->md5);
	mime_dump_str(out, "lang", part->language);
	mime_dump_str(out, "loc", part->location);
	mime_dump_str(out, "disp", part->disposition);
	mime_dump_params(out, "dparams", &part->disposition_params);
	if (e != NULL) {
		mime_dump_str(out, "date", e->date);
		mime_dump_str(out, "subject", e->subject);
		mime_dump_str(out, "from", e->from);
		mime_dump_str(out, "sender", e->sender);
		mime_dump_str(out, "reply-to", e->reply_to);
		mime_dump_str(out, "to", e->to);
		mime_dump_str(out, "cc", e->cc);
		mime_dump_str(out, "bcc", e->bcc);
		mime_dump_str(out, "irt", e->in_reply_to);
		mime_dump_str(out, "mid", e->message_id);
	}
	buf_append_char(out, '\n');
	for (const struct mime_part *c = part->children; c != NULL; c = c->next)
		mime_corpus_dump(out, c);
}

int mime_corpus_spans_ok(const struct mime_part *part, size_t len)
{
	const struct mime_part *parent = part->parent;

	if (part->header.offset + part->header.size != part->body.offset ||
	    part->body.offset + part->body.size > len ||
	    part->header.vsize < part->header.size || part->body.vsize < part->body.size)
		return 0;
	if (parent != NULL && (part->header.offset < parent->body.offset ||
			       part->body.offset + part->body.size >
			       parent->body.offset + parent->body.size))
		return 0;
	for (const struct mime_part *c = part->children; c != NULL; c = c->next) {
		if (!mime_corpus_spans_ok(c, len))
			return 0;
	}
	return 1;
}
