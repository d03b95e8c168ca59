#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "xalloc.h"

/* Counters at one point of the message: the byte offset, the LFs before
 * it and how many of those had no CR. Spans are differences of two. */
struct mime_pos {
	uint64_t offset;
	uint64_t lines;
	uint64_t bare;
};

/* One open part: in its header, or in its body (then a multipart has its
 * boundary and a message/rfc822 has its child frame above it). */
struct mime_frame {
	struct mime_part *part;
	struct mime_part *last_child;
	struct mime_pos start;      /* of the header, then of the body */
	struct mime_pos child_end;  /* where its last child ended */
	char *boundary;
	size_t boundary_len;
	bool in_header;
	bool closed;                /* closing boundary seen: the epilogue */
};

/* Of each line only this much is kept: enough to recognise "--boundary--". */
#define MIME_LINE_PREFIX (MIME_BOUNDARY_MAX + 4)

struct mime_parser {
	struct mime_limits lim;
	struct mime_part *root;
	struct mime_frame *frames;
	unsigned int nframes;
	unsigned int nparts;
	struct mime_pos pos;        /* after every byte fed */
	struct mime_pos prev_eol;   /* where the previous line's end began */
	struct mime_pos line_start; /* where the current line began */
	bool prev_boundary;         /* the previous line was a boundary line */
	char prefix[MIME_LINE_PREFIX];
	size_t prefix_len;
	uint64_t line_len;
	bool last_cr, cr_before_lf;
	struct buf header;          /* the open header block, bounded */
	bool header_overflow;
};

static const struct mime_limits mime_default_limits = {
	MIME_MAX_DEPTH, MIME_MAX_PARTS, MIME_MAX_HEADER_SIZE, MIME_MAX_HEADER_FIELDS,
};

static struct mime_span mime_span_between(const struct mime_pos *a, const struct mime_pos *b)
{
	struct mime_span s;

	s.offset = a->offset;
	s.size = b->offset - a->offset;
	s.vsize = s.size + (b->bare - a->bare);
	s.lines = b->lines - a->lines;
	return s;
}

void mime_part_type(const struct mime_part *part, const char **type_r, const char **subtype_r)
{
	const struct mime_part *parent = part->parent;

	if (part->type != NULL) {
		*type_r = part->type;
		*subtype_r = part->subtype;
	} else if (parent != NULL && (parent->flags & MIME_PART_MULTIPART) != 0 &&
		   mime_part_is(parent, "multipart", "digest")) {
		*type_r = "message";
		*subtype_r = "rfc822";
	} else {
		*type_r = "text";
		*subtype_r = "plain";
	}
}

bool mime_part_is(const struct mime_part *part, const char *type, const char *subtype)
{
	const char *t, *s;

	mime_part_type(part, &t, &s);
	return strcasecmp(t, type) == 0 && (subtype == NULL || strcasecmp(s, subtype) == 0);
}

unsigned int mime_part_count(const struct mime_part *root)
{
	unsigned int n = 1;

	for (const struct mime_part *c = root->children; c != NULL; c = c->next)
		n += mime_part_count(c);
	return n;
}

/* ------------------------------------------------------------ header fields */

static void mime_set_once(char **dst, const struct mime_header_field *f)
{
	if (*dst == NULL)
		*dst = mime_header_value_dup(f->value, f->value_len);
}

static void mime_content_field(struct mime_part *part, const struct mime_header_field *f)
{
	if (mime_header_name_is(f, "Content-Type")) {
		if (part->type != NULL || (part->flags & MIME_PART_BAD_CONTENT_TYPE) != 0)
			return;
		if (mime_content_type_parse(f->value, f->value_len, &part->type, &part->subtype,
					    &part->params) < 0)
			part->flags |= MIME_PART_BAD_CONTENT_TYPE;
	} else if (mime_header_name_is(f, "Content-Transfer-Encoding")) {
		if (part->encoding == NULL)
			part->encoding = mime_header_token(f->value, f->value_len);
	} else if (mime_header_name_is(f, "Content-Disposition")) {
		if (part->disposition == NULL)
			(void)mime_disposition_parse(f->value, f->value_len, &part->disposition,
						     &part->disposition_params);
	} else if (mime_header_name_is(f, "Content-ID"))
		mime_set_once(&part->id, f);
	else if (mime_header_name_is(f, "Content-Description"))
		mime_set_once(&part->description, f);
	else if (mime_header_name_is(f, "Content-MD5"))
		mime_set_once(&part->md5, f);
	else if (mime_header_name_is(f, "Content-Language"))
		mime_set_once(&part->language, f);
	else if (mime_header_name_is(f, "Content-Location"))
		mime_set_once(&part->location, f);
}

static void mime_envelope_field(struct mime_envelope *env, const struct mime_header_field *f)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "Date", offsetof(struct mime_envelope, date) },
		{ "Subject", offsetof(struct mime_envelope, subject) },
		{ "From", offsetof(struct mime_envelope, from) },
		{ "Sender", offsetof(struct mime_envelope, sender) },
		{ "Reply-To", offsetof(struct mime_envelope, reply_to) },
		{ "To", offsetof(struct mime_envelope, to) },
		{ "Cc", offsetof(struct mime_envelope, cc) },
		{ "Bcc", offsetof(struct mime_envelope, bcc) },
		{ "In-Reply-To", offsetof(struct mime_envelope, in_reply_to) },
		{ "Message-ID", offsetof(struct mime_envelope, message_id) },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (mime_header_name_is(f, fields[i].name)) {
			mime_set_once((char **)((char *)env + fields[i].off), f);
			return;
		}
	}
}

/* The header block of the top frame is complete (len bytes of it count). */
static void mime_header_done(struct mime_parser *p, struct mime_part *part, uint64_t len)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	unsigned int nfields = 0;
	bool is_message = part->parent == NULL || (part->parent->flags & MIME_PART_MESSAGE) != 0;

	if (is_message)
		part->envelope = xcalloc(1, sizeof(*part->envelope));
	if (len < p->header.len)
		buf_truncate(&p->header, (size_t)len);
	if (p->header_overflow)
		part->flags |= MIME_PART_HEADER_TRUNCATED;
	mime_header_iter_init(&it, p->header.data, p->header.len);
	while (mime_header_iter_next(&it, &f) > 0) {
		if (++nfields > p->lim.max_header_fields) {
			part->flags |= MIME_PART_HEADER_TRUNCATED;
			break;
		}
		if (f.name_len > 8 && strncasecmp(f.name, "Content-", 8) == 0)
			mime_content_field(part, &f);
		else if (is_message)
			mime_envelope_field(part->envelope, &f);
	}
	buf_reset(&p->header);
}

/* ------------------------------------------------------------- part tree */

static void mime_flatten(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	mime_params_free(&part->params);
	part->type = xstrdup("text");
	part->subtype = xstrdup("plain");
	part->flags |= MIME_PART_FLATTENED;
}

static void mime_push(struct mime_parser *p, struct mime_part *parent)
{
	struct mime_frame *pf = &p->frames[p->nframes - 1];
	struct mime_frame *f = &p->frames[p->nframes++];
	struct mime_part *part = xcalloc(1, sizeof(*part));

	part->parent = parent;
	part->depth = parent->depth + 1;
	if (pf->last_child == NULL)
		parent->children = part;
	else
		pf->last_child->next = part;
	pf->last_child = part;
	p->nparts++;
	memset(f, 0, sizeof(*f));
	f->part = part;
	f->start = p->pos;
	f->in_header = true;
	buf_reset(&p->header);
	p->header_overflow = false;
}

/* The header ended with a blank line: what the body holds. */
static void mime_body_begin(struct mime_parser *p, struct mime_frame *f)
{
	struct mime_part *part = f->part;
	bool room = part->depth < p->lim.max_depth && p->nparts < p->lim.max_parts;

	if (mime_part_is(part, "multipart", NULL)) {
		const char *b = mime_params_get(&part->params, "boundary");

		if (part->depth >= p->lim.max_depth) {
			mime_flatten(part);
			return;
		}
		part->flags |= MIME_PART_MULTIPART;
		if (b != NULL && b[0] != '\0' && strlen(b) <= MIME_BOUNDARY_MAX) {
			f->boundary = xstrdup(b);
			f->boundary_len = strlen(b);
		} else
			part->flags |= MIME_PART_NO_BOUNDARY;
	} else if (mime_part_is(part, "message", "rfc822")) {
		if (!room) {
			mime_flatten(part);
			return;
		}
		part->flags |= MIME_PART_MESSAGE;
		mime_push(p, part);
	}
}

/* Close the top frame at end (clamped to where it started). */
static void mime_pop(struct mime_parser *p, const struct mime_pos *end)
{
	struct mime_frame *f = &p->frames[p->nframes - 1];
	struct mime_part *part = f->part;
	struct mime_pos e = end->offset < f->start.offset ? f->start : *end;

	/* A child cut short right after its boundary line may end past the
	 * line end that would end its parent: the parent keeps it whole. */
	if (!f->in_header && f->child_end.offset > e.offset)
		e = f->child_end;
	if (p->nframes >= 2)
		p->frames[p->nframes - 2].child_end = e;
	if (f->in_header) {
		part->header = mime_span_between(&f->start, &e);
		part->flags |= MIME_PART_HEADER_UNTERMINATED;
		mime_header_done(p, part, part->header.size);
		part->body = mime_span_between(&e, &e);
		/* No body to hold children: a multipart gets none, a message
		 * becomes a leaf. */
		if (mime_part_is(part, "multipart", NULL))
			part->flags |= MIME_PART_MULTIPART;
		else if (mime_part_is(part, "message", "rfc822"))
			mime_flatten(part);
	} else {
		part->body = mime_span_between(&f->start, &e);
		if (f->boundary != NULL && !f->closed)
			part->flags |= MIME_PART_UNCLOSED;
	}
	free(f->boundary);
	p->nframes--;
}

/* ------------------------------------------------------------------ lines */

static void mime_boundary_line(struct mime_parser *p, unsigned int i, bool closing)
{
	struct mime_frame *f;

	/* The line end before a boundary belongs to the boundary, unless it
	 * ended a boundary line itself (then it is the part's, as Dovecot
	 * counts "--inner--" right before "--outer"). */
	while (p->nframes > i + 1)
		mime_pop(p, p->prev_boundary ? &p->line_start : &p->prev_eol);
	f = &p->frames[i];
	if (closing) {
		f->closed = true;
		return;
	}
	if (p->nparts >= p->lim.max_parts) {
		f->part->flags |= MIME_PART_CHILDREN_DROPPED;
		return;
	}
	mime_push(p, f->part);
}

static void mime_line(struct mime_parser *p, uint64_t content_len, bool has_eol)
{
	size_t len = p->prefix_len < content_len ? p->prefix_len : (size_t)content_len;
	const char *line = p->prefix;
	struct mime_frame *top;

	if (len >= 2 && line[0] == '-' && line[1] == '-') {
		/* RFC 2046 5.1.1: the boundary need only start the line. */
		for (unsigned int i = p->nframes; i-- > 0;) {
			struct mime_frame *f = &p->frames[i];
			size_t bl = f->boundary_len;

			if (f->boundary == NULL || f->closed || len - 2 < bl ||
			    memcmp(line + 2, f->boundary, bl) != 0)
				continue;
			mime_boundary_line(p, i, len - 2 - bl >= 2 && line[2 + bl] == '-' &&
					   line[3 + bl] == '-');
			p->prev_boundary = true;
			return;
		}
	}
	p->prev_boundary = false;
	top = &p->frames[p->nframes - 1];
	if (top->in_header && content_len == 0 && has_eol) {
		top->part->header = mime_span_between(&top->start, &p->pos);
		mime_header_done(p, top->part, top->part->header.size);
		top->in_header = false;
		top->start = p->pos;
		mime_body_begin(p, top);
	}
}

static void mime_line_done(struct mime_parser *p, bool has_eol)
{
	bool crlf = has_eol && p->cr_before_lf;
	uint64_t eol_len = has_eol ? (crlf ? 2 : 1) : 0;
	struct mime_pos eol = p->pos;

	eol.offset -= eol_len;
	if (has_eol) {
		p->pos.lines++;
		if (!crlf)
			p->pos.bare++;
	}
	mime_line(p, p->line_len - eol_len, has_eol);
	p->prev_eol = eol;
	p->line_start = p->pos;
	p->prefix_len = 0;
	p->line_len = 0;
}

static void mime_take(struct mime_parser *p, const char *s, size_t n, bool ends_line)
{
	size_t room = sizeof(p->prefix) - p->prefix_len;
	struct mime_frame *top = &p->frames[p->nframes - 1];

	memcpy(p->prefix + p->prefix_len, s, n < room ? n : room);
	p->prefix_len += n < room ? n : room;
	if (top->in_header && !p->header_overflow) {
		size_t hroom = p->header.limit - p->header.len;

		buf_append(&p->header, s, n < hroom ? n : hroom);
		p->header_overflow = n > hroom;
	}
	if (ends_line)
		p->cr_before_lf = n >= 2 ? s[n - 2] == '\r' : p->last_cr;
	p->last_cr = s[n - 1] == '\r';
	p->line_len += n;
	p->pos.offset += n;
}

/* --------------------------------------------------------------- public */

struct mime_parser *mime_parser_new(const struct mime_limits *limits)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	p->lim = limits != NULL ? *limits : mime_default_limits;
	if (p->lim.max_parts == 0)
		p->lim.max_parts = 1;
	p->frames = xcalloc(p->lim.max_depth + 1, sizeof(*p->frames));
	p->root = xcalloc(1, sizeof(*p->root));
	p->frames[0].part = p->root;
	p->frames[0].in_header = true;
	p->nframes = 1;
	p->nparts = 1;
	buf_init(&p->header, p->lim.max_header_size);
	return p;
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t len)
{
	const char *s = data;

	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - s) + 1 : len;

		mime_take(p, s, n, nl != NULL);
		if (nl != NULL)
			mime_line_done(p, true);
		s += n;
		len -= n;
	}
}

struct mime_part *mime_parser_finish(struct mime_parser **parser)
{
	struct mime_parser *p = *parser;
	struct mime_part *root = p->root;

	if (p->line_len > 0)
		mime_line_done(p, false);
	while (p->nframes > 0)
		mime_pop(p, &p->pos);
	buf_free(&p->header);
	free(p->frames);
	free(p);
	*parser = NULL;
	return root;
}

struct mime_part *mime_parse(const void *data, size_t len, const struct mime_limits *limits)
{
	struct mime_parser *p = mime_parser_new(limits);

	mime_parser_feed(p, data, len);
	return mime_parser_finish(&p);
}

static void mime_envelope_free(struct mime_envelope *env)
{
	if (env == NULL)
		return;
	free(env->date);
	free(env->subject);
	free(env->from);
	free(env->sender);
	free(env->reply_to);
	free(env->to);
	free(env->cc);
	free(env->bcc);
	free(env->in_reply_to);
	free(env->message_id);
	free(env);
}

void mime_part_free(struct mime_part **root)
{
	struct mime_part *part = *root, *child, *next;

	if (part == NULL)
		return;
	for (child = part->children; child != NULL; child = next) {
		next = child->next;
		mime_part_free(&child);
	}
	free(part->type);
	free(part->subtype);
	mime_params_free(&part->params);
	free(part->encoding);
	free(part->id);
	free(part->description);
	free(part->md5);
	free(part->language);
	free(part->location);
	free(part->disposition);
	mime_params_free(&part->disposition_params);
	mime_envelope_free(part->envelope);
	free(part);
	*root = NULL;
}
