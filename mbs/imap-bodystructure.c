#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-bodystructure.h"
#include "mime-address.h"
#include "xalloc.h"

/* ---------------------------------------------------------------- strings */

void imap_nstring_write(struct buf *out, const char *s)
{
	unsigned int escapes = 0;
	bool literal = false;

	if (s == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	for (const char *c = s; *c != '\0' && !literal; c++) {
		if (*c == '"' || *c == '\\')
			literal = ++escapes > 4;
		else if (*c == '\r' || *c == '\n' || (unsigned char)*c >= 0x80)
			literal = true;
	}
	if (literal) {
		size_t n = 0;

		for (const char *c = s; *c != '\0'; c++)
			n += *c != '\r' && *c != '\n';
		buf_printf(out, "{%zu}\r\n", n);
		for (const char *c = s; *c != '\0'; c++) {
			if (*c != '\r' && *c != '\n')
				buf_append_char(out, *c);
		}
		return;
	}
	buf_append_char(out, '"');
	for (const char *c = s; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, *c);
	}
	buf_append_char(out, '"');
}

static bool imap_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A Subject or a display name, tidied for reading as Dovecot sends them:
 * CR, LF and TAB as spaces, runs of white space as one, none at the ends.
 * A value that needs none of that and holds no '"', '\\' or 8-bit byte
 * is sent quoted as it is; any other as a literal of the tidied text (""
 * when nothing is left). */
static void imap_human_string_write(struct buf *out, const char *s)
{
	struct buf t;
	bool space = true, tidy = false;

	if (s == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_init(&t, BUF_NO_LIMIT);
	for (const char *c = s; *c != '\0'; c++) {
		if (imap_lwsp(*c)) {
			/* Anything but one space between words changes. */
			tidy |= *c != ' ' || space;
			if (!space)
				buf_append_char(&t, ' ');
			space = true;
		} else {
			tidy |= *c == '"' || *c == '\\' || (unsigned char)*c >= 0x80;
			buf_append_char(&t, *c);
			space = false;
		}
	}
	if (space && t.len > 0) {
		buf_truncate(&t, t.len - 1);
		tidy = true;
	}
	if (t.len == 0)
		buf_append_str(out, "\"\"");
	else if (!tidy)
		buf_printf(out, "\"%s\"", t.data);
	else {
		buf_printf(out, "{%zu}\r\n", t.len);
		buf_append(out, t.data, t.len);
	}
	buf_free(&t);
}

/* ("name" "value" ...) or NIL; text parts without a charset get
 * us-ascii, the RFC 2045 default. */
static void imap_params_write(struct buf *out, const struct mime_params *params,
			      bool add_charset)
{
	if (params->count == 0 && !add_charset) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	for (size_t i = 0; i < params->count; i++) {
		if (i > 0)
			buf_append_char(out, ' ');
		imap_nstring_write(out, params->v[i].name);
		buf_append_char(out, ' ');
		imap_nstring_write(out, params->v[i].value);
	}
	if (add_charset)
		buf_append_str(out, params->count > 0 ? " \"charset\" \"us-ascii\"" :
			       "\"charset\" \"us-ascii\"");
	buf_append_char(out, ')');
}

/* Content-Language "en, de" -> ("en" "de"). */
static void imap_language_write(struct buf *out, const char *language)
{
	char *copy, *tok, *save = NULL;
	bool first = true;

	if (language == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	copy = mime_header_unfold(language, strlen(language));
	buf_append_char(out, '(');
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		if (!first)
			buf_append_char(out, ' ');
		imap_nstring_write(out, tok);
		first = false;
	}
	buf_append_char(out, ')');
	free(copy);
	if (first) {
		/* Nothing but separators. */
		buf_truncate(out, out->len - 2);
		buf_append_str(out, "NIL");
	}
}

static void imap_disposition_write(struct buf *out, const struct mime_part *part)
{
	if (part->disposition == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	imap_nstring_write(out, part->disposition);
	buf_append_char(out, ' ');
	imap_params_write(out, &part->disposition_params, false);
	buf_append_char(out, ')');
}

/* ------------------------------------------------------------- ENVELOPE */

static void imap_addresses_write(struct buf *out, const struct mime_address *list)
{
	if (list == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_char(out, '(');
	for (const struct mime_address *a = list; a != NULL; a = a->next) {
		buf_append_char(out, '(');
		imap_human_string_write(out, a->name);
		buf_append_char(out, ' ');
		imap_nstring_write(out, a->route);
		buf_append_char(out, ' ');
		imap_nstring_write(out, a->mailbox);
		buf_append_char(out, ' ');
		imap_nstring_write(out, a->host);
		buf_append_char(out, ')');
	}
	buf_append_char(out, ')');
}

static struct mime_address *imap_address_field(const char *value)
{
	return value == NULL ? NULL : mime_address_parse(value, strlen(value));
}

void imap_envelope_write(struct buf *out, const struct mime_envelope *env)
{
	struct mime_address *from, *list;
	const char *defaulted[2];

	if (env == NULL) {
		buf_append_str(out, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_append_char(out, '(');
	imap_nstring_write(out, env->date);
	buf_append_char(out, ' ');
	imap_human_string_write(out, env->subject);
	buf_append_char(out, ' ');
	from = imap_address_field(env->from);
	imap_addresses_write(out, from);
	/* RFC 3501: a missing or empty Sender or Reply-To is From. */
	defaulted[0] = env->sender;
	defaulted[1] = env->reply_to;
	for (int i = 0; i < 2; i++) {
		buf_append_char(out, ' ');
		list = imap_address_field(defaulted[i]);
		imap_addresses_write(out, list != NULL ? list : from);
		mime_address_free(&list);
	}
	mime_address_free(&from);
	const char *lists[3] = { env->to, env->cc, env->bcc };

	for (int i = 0; i < 3; i++) {
		buf_append_char(out, ' ');
		list = imap_address_field(lists[i]);
		imap_addresses_write(out, list);
		mime_address_free(&list);
	}
	buf_append_char(out, ' ');
	imap_nstring_write(out, env->in_reply_to);
	buf_append_char(out, ' ');
	imap_nstring_write(out, env->message_id);
	buf_append_char(out, ')');
}

/* ---------------------------------------------------- BODY, BODYSTRUCTURE */

/* What a multipart without children shows: RFC 3501 needs one. */
static void imap_empty_part_write(struct buf *out, bool extended)
{
	buf_append_str(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
	buf_append_str(out, extended ? " NIL NIL NIL NIL)" : ")");
}

static void imap_extension_tail_write(struct buf *out, const struct mime_part *part)
{
	buf_append_char(out, ' ');
	imap_disposition_write(out, part);
	buf_append_char(out, ' ');
	imap_language_write(out, part->language);
	buf_append_char(out, ' ');
	imap_nstring_write(out, part->location);
}

static void imap_multipart_write(struct buf *out, const struct mime_part *part, bool extended)
{
	const char *type, *subtype;

	mime_part_type(part, &type, &subtype);
	if (part->children == NULL)
		imap_empty_part_write(out, extended);
	for (const struct mime_part *c = part->children; c != NULL; c = c->next)
		imap_bodystructure_write(out, c, extended);
	buf_append_char(out, ' ');
	imap_nstring_write(out, subtype);
	if (!extended)
		return;
	buf_append_char(out, ' ');
	imap_params_write(out, &part->params, false);
	imap_extension_tail_write(out, part);
}

static void imap_leaf_write(struct buf *out, const struct mime_part *part, bool extended)
{
	const char *type, *subtype;
	bool text;

	mime_part_type(part, &type, &subtype);
	text = strcasecmp(type, "text") == 0;
	imap_nstring_write(out, type);
	buf_append_char(out, ' ');
	imap_nstring_write(out, subtype);
	buf_append_char(out, ' ');
	imap_params_write(out, &part->params,
			  text && mime_params_get(&part->params, "charset") == NULL);
	buf_append_char(out, ' ');
	imap_nstring_write(out, part->id);
	buf_append_char(out, ' ');
	imap_nstring_write(out, part->description);
	buf_append_char(out, ' ');
	imap_nstring_write(out, part->encoding != NULL ? part->encoding : "7bit");
	buf_printf(out, " %" PRIu64, part->body.vsize);
	if ((part->flags & MIME_PART_MESSAGE) != 0 && part->children != NULL) {
		buf_append_char(out, ' ');
		imap_envelope_write(out, part->children->envelope);
		buf_append_char(out, ' ');
		imap_bodystructure_write(out, part->children, extended);
		buf_printf(out, " %" PRIu64, part->body.lines);
	} else if (text)
		buf_printf(out, " %" PRIu64, part->body.lines);
	if (!extended)
		return;
	buf_append_char(out, ' ');
	imap_nstring_write(out, part->md5);
	imap_extension_tail_write(out, part);
}

void imap_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended)
{
	buf_append_char(out, '(');
	if ((part->flags & MIME_PART_MULTIPART) != 0)
		imap_multipart_write(out, part, extended);
	else
		imap_leaf_write(out, part, extended);
	buf_append_char(out, ')');
}

/* -------------------------------------------------------------- sections */

static void imap_range_set(struct imap_section *s, const struct mime_span *a,
			   const struct mime_span *b)
{
	s->offset = a->offset;
	s->size = a->size + (b != NULL ? b->size : 0);
	s->vsize = a->vsize + (b != NULL ? b->vsize : 0);
}

/* The n-th child of a multipart, counting from 1. */
static const struct mime_part *imap_section_child(const struct mime_part *part, unsigned long n)
{
	const struct mime_part *c;

	for (c = part->children; c != NULL && n > 1; c = c->next)
		n--;
	return c;
}

/* One step of a section path from msg (RFC 3501 6.4.5): a multipart's
 * child, or a non-multipart itself as its part 1 (once: "1.1" of a text
 * part within a multipart is the part, as Dovecot answers, "1.1.1" is
 * nothing). */
static const struct mime_part *imap_section_step(const struct mime_part *msg, unsigned long n,
						 bool *self_r)
{
	if ((msg->flags & MIME_PART_MULTIPART) != 0) {
		*self_r = false;
		return imap_section_child(msg, n);
	}
	if (n != 1 || *self_r)
		return NULL;
	*self_r = true;
	return msg;
}

/* The keyword after the part numbers, in any case. */
static int imap_section_keyword(const char *kw, bool have_path, enum imap_range_kind *kind_r)
{
	if (*kw == '\0')
		*kind_r = IMAP_RANGE_BODY;
	else if (strcasecmp(kw, "HEADER") == 0 || strcasecmp(kw, "HEADER.FIELDS") == 0 ||
		 strcasecmp(kw, "HEADER.FIELDS.NOT") == 0)
		*kind_r = IMAP_RANGE_HEADER;
	else if (strcasecmp(kw, "TEXT") == 0)
		*kind_r = IMAP_RANGE_TEXT;
	else if (strcasecmp(kw, "MIME") == 0 && have_path)
		*kind_r = IMAP_RANGE_MIME;
	else
		return -1;
	return 0;
}

int imap_section_find(const struct mime_part *root, const char *spec,
		      struct imap_section *section_r, const char **error_r)
{
	const struct mime_part *msg = root, *part = root;
	const char *p = spec;
	bool have_path = false, self = false;

	memset(section_r, 0, sizeof(*section_r));
	while (isdigit((unsigned char)*p)) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (n == 0 || *p == '0' || (*end != '.' && *end != '\0')) {
			*error_r = "invalid part number in section";
			return -1;
		}
		/* Going deeper: a message/rfc822 part's numbers count in
		 * its message, any other part's in itself. */
		if (have_path && part != NULL) {
			msg = part;
			if ((part->flags & MIME_PART_MESSAGE) != 0 && part->children != NULL) {
				msg = part->children;
				self = false;
			}
		}
		part = part != NULL ? imap_section_step(msg, n, &self) : NULL;
		have_path = true;
		p = *end == '.' ? end + 1 : end;
		if (*end == '.' && end[1] == '\0') {
			*error_r = "section ends with a dot";
			return -1;
		}
	}
	if (imap_section_keyword(p, have_path, &section_r->kind) < 0) {
		*error_r = "invalid section";
		return -1;
	}
	if (part == NULL)
		return 0;
	section_r->part = part;
	switch (section_r->kind) {
	case IMAP_RANGE_BODY:
		if (have_path)
			imap_range_set(section_r, &part->body, NULL);
		else
			imap_range_set(section_r, &root->header, &root->body);
		break;
	case IMAP_RANGE_MIME:
		imap_range_set(section_r, &part->header, NULL);
		break;
	case IMAP_RANGE_HEADER:
	case IMAP_RANGE_TEXT:
		/* Only a message has a HEADER and a TEXT. */
		if (have_path) {
			if ((part->flags & MIME_PART_MESSAGE) == 0 || part->children == NULL) {
				section_r->part = NULL;
				return 0;
			}
			part = part->children;
			section_r->part = part;
		}
		imap_range_set(section_r, section_r->kind == IMAP_RANGE_HEADER ?
			       &part->header : &part->body, NULL);
		break;
	}
	return 0;
}
