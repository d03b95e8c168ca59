#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-fetch-parse.h"
#include "xalloc.h"

static const struct {
	const char *name;
	unsigned attrs;
} fetch_simple[] = {
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
}, fetch_macros[] = {
	{ "ALL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
		IMAP_FETCH_ENVELOPE },
	{ "FAST", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE },
	{ "FULL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
		IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY },
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void fetch_body_free(struct imap_fetch_body *body)
{
	for (size_t i = 0; i < body->field_count; i++)
		free(body->fields[i]);
	free(body->fields);
	free(body->section);
}

void imap_fetch_items_free(struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->body_count; i++)
		fetch_body_free(&items->bodies[i]);
	free(items->bodies);
	memset(items, 0, sizeof(*items));
}

/* Does s start with keyword (any case)? Then step over it. */
static bool skip_word(const char **s, const char *keyword)
{
	size_t len = strlen(keyword);

	if (strncasecmp(*s, keyword, len) != 0)
		return false;
	*s += len;
	return true;
}

/* A 32-bit number (nz: at least 1); NULL-safe step over its digits. */
static int number_parse(const char **sp, bool nz, uint32_t *n_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	if (nz && n == 0)
		return -1;
	*n_r = (uint32_t)n;
	*sp = s;
	return 0;
}

/* One header field name inside "(...)": an atom or a quoted string. */
static int field_parse(const char **sp, struct buf *name)
{
	const char *s = *sp;

	buf_reset(name);
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
				s++;
			else if (*s == '\0' || *s == '\\')
				return -1;
			if (buf_append_char(name, *s) < 0)
				return -1;
		}
		s++;
	} else {
		for (; *s != '\0' && strchr(" ()\"]", *s) == NULL; s++)
			if (buf_append_char(name, *s) < 0)
				return -1;
	}
	/* RFC 5322 field-name: printable ASCII but ":". */
	if (name->len == 0)
		return -1;
	for (size_t i = 0; i < name->len; i++)
		if (name->data[i] <= 0x20 || name->data[i] >= 0x7f || name->data[i] == ':')
			return -1;
	*sp = s;
	return 0;
}

/* " (name name ...)" after HEADER.FIELDS(.NOT). */
static int header_list_parse(const char **sp, struct imap_fetch_body *body,
			     const char **error_r)
{
	const char *s = *sp;
	struct buf name;

	if (s[0] != ' ' || s[1] != '(')
		return *error_r = "HEADER.FIELDS needs a list of field names", -1;
	buf_init(&name, 1000);
	for (s += 2;; s++) {
		if (field_parse(&s, &name) < 0) {
			buf_free(&name);
			return *error_r = "Invalid header field name", -1;
		}
		body->fields = xreallocarray(body->fields, body->field_count + 1,
					     sizeof(*body->fields));
		body->fields[body->field_count++] = buf_steal(&name);
		if (*s == ')')
			break;
		if (*s != ' ') {
			buf_free(&name);
			return *error_r = "Invalid header field list", -1;
		}
	}
	buf_free(&name);
	*sp = s + 1;
	return 0;
}

/* section-msgtext or MIME after the part numbers, up to "]". */
static int section_text_parse(const char **sp, struct imap_fetch_body *body,
			      const char **error_r)
{
	if (skip_word(sp, "HEADER.FIELDS.NOT"))
		body->kind = IMAP_SECTION_HEADER_FIELDS_NOT;
	else if (skip_word(sp, "HEADER.FIELDS"))
		body->kind = IMAP_SECTION_HEADER_FIELDS;
	else if (skip_word(sp, "HEADER"))
		body->kind = IMAP_SECTION_HEADER;
	else if (skip_word(sp, "TEXT"))
		body->kind = IMAP_SECTION_TEXT;
	else if (body->part_count > 0 && skip_word(sp, "MIME"))
		body->kind = IMAP_SECTION_MIME;
	else
		return *error_r = strncasecmp(*sp, "MIME", 4) == 0 ?
			"MIME needs a part number" : "Invalid section", -1;
	if (body->kind == IMAP_SECTION_HEADER_FIELDS || body->kind == IMAP_SECTION_HEADER_FIELDS_NOT)
		return header_list_parse(sp, body, error_r);
	return 0;
}

/* section-spec inside "[...]"; *sp starts after "[" and ends after "]". */
static int section_parse(const char **sp, struct imap_fetch_body *body, const char **error_r)
{
	const char *s = *sp;

	while (*s >= '0' && *s <= '9') {
		if (body->part_count >= IMAP_FETCH_MAX_PARTS)
			return *error_r = "Section part number nested too deeply", -1;
		if (number_parse(&s, true, &body->parts[body->part_count++]) < 0)
			return *error_r = "Invalid section part number", -1;
		if (*s != '.')
			break;
		s++;
	}
	body->kind = IMAP_SECTION_FULL;
	/* "1.2]" or "1.2.TEXT]": never "1.]" nor "1TEXT]". */
	if (body->part_count > 0 && (*s == ']') != (s[-1] != '.'))
		return *error_r = "Invalid section", -1;
	if (*s != ']' && section_text_parse(&s, body, error_r) < 0)
		return -1;
	if (*s != ']')
		return *error_r = "Invalid section", -1;
	*sp = s + 1;
	return 0;
}

static const char *const section_names[] = {
	[IMAP_SECTION_FULL] = "",
	[IMAP_SECTION_HEADER] = "HEADER",
	[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
	[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[IMAP_SECTION_TEXT] = "TEXT",
	[IMAP_SECTION_MIME] = "MIME",
};

/* A field name as an astring: an atom when every byte is an ATOM-CHAR (or
 * "]", allowed in ASTRING-CHAR but it would end the section here), else
 * quoted (RFC 3501 9: "{", "(", "%" and the like are atom-specials). */
static void field_format(struct buf *out, const char *name)
{
	if (name[strcspn(name, "(){ %*\\\"]")] == '\0') {
		buf_append(out, name, strlen(name));
		return;
	}
	buf_append_char(out, '"');
	for (; *name != '\0'; name++) {
		if (*name == '"' || *name == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, *name);
	}
	buf_append_char(out, '"');
}

/* The section as the reply names it. */
static char *section_format(const struct imap_fetch_body *body)
{
	struct buf out;

	buf_init(&out, BUF_NO_LIMIT);
	for (size_t i = 0; i < body->part_count; i++)
		buf_printf(&out, "%s%u", i > 0 ? "." : "", body->parts[i]);
	if (body->kind != IMAP_SECTION_FULL)
		buf_printf(&out, "%s%s", body->part_count > 0 ? "." : "",
			   section_names[body->kind]);
	for (size_t i = 0; i < body->field_count; i++) {
		buf_append(&out, i == 0 ? " (" : " ", i == 0 ? 2 : 1);
		field_format(&out, body->fields[i]);
	}
	if (body->field_count > 0)
		buf_append_char(&out, ')');
	return buf_steal(&out);
}

/* BODY[...]<...> or BODY.PEEK[...]<...>; s is past "BODY". */
static int fetch_body_parse(const char *s, struct imap_fetch_items *items,
			    const char **error_r)
{
	struct imap_fetch_body body;

	memset(&body, 0, sizeof(body));
	body.peek = skip_word(&s, ".PEEK");
	if (*s != '[' ) {
		*error_r = "Unknown FETCH item";
		return -1;
	}
	s++;
	if (section_parse(&s, &body, error_r) < 0)
		goto fail;
	if (*s == '<') {
		s++;
		body.partial = true;
		if (number_parse(&s, false, &body.origin) < 0 || *s++ != '.' ||
		    number_parse(&s, true, &body.count) < 0 || *s++ != '>') {
			*error_r = "Invalid partial <origin.count>";
			goto fail;
		}
	}
	if (*s != '\0') {
		*error_r = "Unexpected text after section";
		goto fail;
	}
	body.section = section_format(&body);
	items->bodies = xreallocarray(items->bodies, items->body_count + 1,
				      sizeof(*items->bodies));
	items->bodies[items->body_count++] = body;
	return 0;
fail:
	fetch_body_free(&body);
	return -1;
}

static int fetch_item_parse(const struct imap_arg *arg, struct imap_fetch_items *items,
			    const char **error_r)
{
	const char *s = imap_arg_atom(arg);

	if (s == NULL || arg->type == IMAP_ARG_NIL)
		return *error_r = "FETCH items are atoms", -1;
	for (size_t i = 0; i < N_ELEMENTS(fetch_simple); i++) {
		if (strcasecmp(s, fetch_simple[i].name) == 0) {
			items->attrs |= fetch_simple[i].attrs;
			return 0;
		}
	}
	if (strncasecmp(s, "BODY", 4) == 0 && (s[4] == '[' || s[4] == '.'))
		return fetch_body_parse(s + 4, items, error_r);
	return *error_r = "Unknown FETCH item", -1;
}

int imap_fetch_parse(const struct imap_arg *args, size_t count,
		     struct imap_fetch_items *items_r, const char **error_r)
{
	const struct imap_arg *list = args;
	size_t n = 1;

	memset(items_r, 0, sizeof(*items_r));
	if (count == 0)
		return *error_r = "Missing FETCH items", -1;
	if (count > 1)
		return *error_r = args[1].type == IMAP_ARG_LIST ?
			"FETCH modifiers are not supported" : "Unexpected argument after FETCH items", -1;
	if (args->type == IMAP_ARG_LIST) {
		list = args->list;
		n = args->count;
		if (n == 0)
			return *error_r = "Empty FETCH item list", -1;
	} else {
		for (size_t i = 0; i < N_ELEMENTS(fetch_macros); i++) {
			if (imap_arg_atom_is(args, fetch_macros[i].name)) {
				items_r->attrs = fetch_macros[i].attrs;
				return 0;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (fetch_item_parse(&list[i], items_r, error_r) < 0) {
			imap_fetch_items_free(items_r);
			return -1;
		}
	}
	return 0;
}
