#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "buf.h"
#include "mime-charset.h"
#include "mime-header.h"
#include "xalloc.h"

/* Bounds on one structured value: a header's own size bounds them too. */
#define MIME_PARAMS_MAX 64
/* RFC 2047 allows 75 bytes; longer ones are tolerated up to this. The
 * bound keeps decoding linear in the value's size when it holds many
 * "=?" that never close. */
#define MIME_ENCODED_WORD_MAX 1024

void mime_header_iter_init(struct mime_header_iter *it, const char *data, size_t len)
{
	if (data == NULL)
		data = "";
	it->p = data;
	it->end = data + len;
}

/* End of the line at p (just past its LF, or the end of the data). */
static const char *mime_line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl == NULL ? end : nl + 1;
}

static bool mime_line_blank(const char *p, const char *end)
{
	return p < end && (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n')));
}

int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *field_r)
{
	while (it->p < it->end && !mime_line_blank(it->p, it->end)) {
		const char *line = it->p, *colon, *v, *end = mime_line_end(line, it->end);

		/* The field goes on over its continuation lines. */
		while (end < it->end && (*end == ' ' || *end == '\t'))
			end = mime_line_end(end, it->end);
		it->p = end;
		colon = memchr(line, ':', (size_t)(end - line));
		if (colon == NULL || colon == line || *line == ' ' || *line == '\t')
			continue;
		field_r->name = line;
		field_r->name_len = (size_t)(colon - line);
		/* "Name :" (obsolete syntax) keeps the name without the blanks. */
		while (field_r->name_len > 0 && (line[field_r->name_len - 1] == ' ' ||
						 line[field_r->name_len - 1] == '\t'))
			field_r->name_len--;
		if (field_r->name_len == 0 || memchr(line, ' ', field_r->name_len) != NULL)
			continue;
		v = colon + 1;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		/* Drop the line end of the last line. */
		if (end > v && end[-1] == '\n')
			end--;
		if (end > v && end[-1] == '\r')
			end--;
		field_r->value = v;
		field_r->value_len = (size_t)(end - v);
		return 1;
	}
	return 0;
}

bool mime_header_name_is(const struct mime_header_field *field, const char *name)
{
	return strlen(name) == field->name_len &&
	       strncasecmp(field->name, name, field->name_len) == 0;
}

int mime_header_find(const char *data, size_t len, const char *name,
		     struct mime_header_field *field_r)
{
	struct mime_header_iter it;

	mime_header_iter_init(&it, data, len);
	while (mime_header_iter_next(&it, field_r) > 0) {
		if (mime_header_name_is(field_r, name))
			return 1;
	}
	return 0;
}

static char *mime_header_copy(const char *value, size_t len, bool unfold)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; i < len; i++) {
		if (unfold && (value[i] == '\r' || value[i] == '\n'))
			continue;
		if (value[i] == '\0')
			buf_append_str(&b, "\xEF\xBF\xBD");
		else
			buf_append_char(&b, value[i]);
	}
	return buf_steal(&b);
}

char *mime_header_value_dup(const char *value, size_t len)
{
	return mime_header_copy(value, len, false);
}

char *mime_header_unfold(const char *value, size_t len)
{
	return mime_header_copy(value, len, true);
}

/* ---------------------------------------------------------------- RFC 2047 */

static int mime_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Q encoding (RFC 2047 4.2): "_" is a space, "=XX" a byte. */
static void mime_q_decode(const char *s, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int h, l;

		if (s[i] == '_')
			buf_append_char(out, ' ');
		else if (s[i] == '=' && i + 2 < len && (h = mime_hex(s[i + 1])) >= 0 &&
			 (l = mime_hex(s[i + 2])) >= 0) {
			buf_append_char(out, (char)(h * 16 + l));
			i += 2;
		} else
			buf_append_char(out, s[i]);
	}
}

/* B encoding: base64, tolerating missing padding. */
static int mime_b_decode(const char *s, size_t len, struct buf *out)
{
	char tmp[80];
	size_t n = len;

	if (len % 4 == 1 || len > sizeof(tmp) - 4)
		return base64_decode(out, s, len);
	memcpy(tmp, s, len);
	while (n % 4 != 0)
		tmp[n++] = '=';
	return base64_decode(out, tmp, n);
}

/* Decode one encoded-word "=?charset?enc?text?=" at s; 1 with its length
 * in used_r, 0 when s does not start one. */
static int mime_encoded_word(const char *s, size_t len, struct buf *out, size_t *used_r)
{
	const char *cs, *q1, *q2, *q3;
	struct buf raw;
	char *charset, *star;
	int ret = 0;

	if (len < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	/* An encoded-word holds no white space (the check below) and has a
	 * bounded length: look no further. */
	if (len > MIME_ENCODED_WORD_MAX)
		len = MIME_ENCODED_WORD_MAX;
	for (size_t i = 2; i < len; i++) {
		if (s[i] == ' ' || s[i] == '\t') {
			len = i;
			break;
		}
	}
	cs = s + 2;
	q1 = memchr(cs, '?', len - 2);
	if (q1 == NULL || q1 == cs || q1 + 2 >= s + len || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	q3 = q2 + 1;
	while (q3 + 1 < s + len && !(q3[0] == '?' && q3[1] == '='))
		q3++;
	if (q3 + 1 >= s + len || memchr(s, ' ', (size_t)(q3 - s)) != NULL)
		return 0;
	buf_init(&raw, 4096);
	if (q1[1] == 'Q' || q1[1] == 'q') {
		mime_q_decode(q2 + 1, (size_t)(q3 - q2 - 1), &raw);
		ret = 1;
	} else if ((q1[1] == 'B' || q1[1] == 'b') &&
		   mime_b_decode(q2 + 1, (size_t)(q3 - q2 - 1), &raw) == 0)
		ret = 1;
	if (ret == 1) {
		charset = xstrndup(cs, (size_t)(q1 - cs));
		/* RFC 2231 section 5: "charset*language". */
		star = strchr(charset, '*');
		if (star != NULL)
			*star = '\0';
		mime_charset_to_utf8(charset, raw.data, raw.len, out);
		free(charset);
		*used_r = (size_t)(q3 + 2 - s);
	}
	buf_free(&raw);
	return ret;
}

static bool mime_is_encoded_word(const char *s, size_t len)
{
	struct buf probe;
	size_t used;
	int ret;

	buf_init(&probe, BUF_NO_LIMIT);
	ret = mime_encoded_word(s, len, &probe, &used);
	buf_free(&probe);
	return ret > 0;
}

/* Text outside encoded-words: UTF-8 when valid, else ISO-8859-1. */
static void mime_raw_text(const char *s, size_t len, struct buf *out)
{
	mime_charset_to_utf8(mime_utf8_valid(s, len) ? "utf-8" : "iso-8859-1", s, len, out);
}

int mime_header_decode(const char *value, size_t len, struct buf *out)
{
	char *s = mime_header_unfold(value, len);
	size_t n = strlen(s), i = 0;
	bool prev_word = false;
	struct buf tmp;
	int ret;

	/* Decode into an unlimited buffer, then append within out's limit. */
	buf_init(&tmp, BUF_NO_LIMIT);
	while (i < n) {
		size_t used, start = i;

		if (s[i] == '=' && mime_encoded_word(s + i, n - i, &tmp, &used) > 0) {
			i += used;
			prev_word = true;
			continue;
		}
		if (s[i] == ' ' || s[i] == '\t') {
			while (i < n && (s[i] == ' ' || s[i] == '\t'))
				i++;
			if (!prev_word || i >= n || !mime_is_encoded_word(s + i, n - i))
				buf_append(&tmp, s + start, i - start);
			continue;
		}
		for (i++; i < n && s[i] != ' ' && s[i] != '\t'; i++) {
			if (s[i] == '=' && i + 1 < n && s[i + 1] == '?')
				break;
		}
		mime_raw_text(s + start, i - start, &tmp);
		prev_word = false;
	}
	free(s);
	ret = buf_append(out, tmp.data, tmp.len);
	buf_free(&tmp);
	return ret;
}

/* ------------------------------------------------------- structured values */

static bool mime_tspecial(unsigned char c)
{
	return c <= ' ' || c == 0x7F || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

struct mime_lex {
	const char *p, *end;
};

/* Skip white space, line ends and (nested) comments. */
static void mime_lex_cfws(struct mime_lex *lx)
{
	int depth = 0;

	while (lx->p < lx->end) {
		char c = *lx->p;

		if (depth > 0 && c == '\\' && lx->p + 1 < lx->end) {
			lx->p += 2;
			continue;
		}
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return;
		lx->p++;
	}
}

static char *mime_lex_token(struct mime_lex *lx)
{
	const char *start = lx->p;

	while (lx->p < lx->end && !mime_tspecial((unsigned char)*lx->p))
		lx->p++;
	return lx->p == start ? NULL : xstrndup(start, (size_t)(lx->p - start));
}

/* A quoted-string without its quotes and quoted-pairs; NULL when s does
 * not start with one. An unterminated one runs to the end. */
static char *mime_lex_quoted(struct mime_lex *lx)
{
	struct buf b;

	if (lx->p >= lx->end || *lx->p != '"')
		return NULL;
	buf_init(&b, BUF_NO_LIMIT);
	for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		else if (*lx->p == '\r' || *lx->p == '\n')
			continue;
		buf_append_char(&b, *lx->p);
	}
	if (lx->p < lx->end)
		lx->p++;
	return buf_steal(&b);
}

void mime_params_free(struct mime_params *params)
{
	for (size_t i = 0; i < params->count; i++) {
		free(params->v[i].name);
		free(params->v[i].value);
	}
	free(params->v);
	params->v = NULL;
	params->count = 0;
}

const char *mime_params_get(const struct mime_params *params, const char *name)
{
	for (size_t i = 0; i < params->count; i++) {
		if (strcmp(params->v[i].name, name) == 0)
			return params->v[i].value;
	}
	return NULL;
}

/* "name*N" or "name*N*": the section number, or -1 for any other name. */
static long mime_param_section(const char *name, size_t *base_len_r, bool *extended_r)
{
	const char *star = strchr(name, '*');
	char *end;
	long n;

	if (star == NULL || !isdigit((unsigned char)star[1]))
		return -1;
	n = strtol(star + 1, &end, 10);
	if (n < 0 || n >= MIME_PARAMS_MAX || (*end != '\0' && strcmp(end, "*") != 0))
		return -1;
	if (star[1] == '0' && n != 0)
		return -1;
	*base_len_r = (size_t)(star - name);
	*extended_r = *end == '*';
	return n;
}

/* Join the RFC 2231 sections of one parameter, from section 0 (at z)
 * upwards while they are all there; the sections used are taken out. */
static void mime_params_join_one(struct mime_params *in, size_t z, struct mime_params *out)
{
	size_t base_len, blen;
	bool extended, ext;
	char *base;
	struct buf value;

	(void)mime_param_section(in->v[z].name, &base_len, &extended);
	base = xstrndup(in->v[z].name, base_len);
	buf_init(&value, BUF_NO_LIMIT);
	for (long want = 0, found = 1; found; want++) {
		found = 0;
		for (size_t j = 0; j < in->count && !found; j++) {
			if (in->v[j].name == NULL ||
			    mime_param_section(in->v[j].name, &blen, &ext) != want ||
			    blen != base_len || strncmp(in->v[j].name, base, base_len) != 0)
				continue;
			buf_append_str(&value, in->v[j].value);
			free(in->v[j].name);
			in->v[j].name = NULL;
			found = 1;
		}
	}
	out->v[out->count].name = xasprintf("%s%s", base, extended ? "*" : "");
	out->v[out->count].value = buf_steal(&value);
	out->count++;
	free(base);
}

/* Section 0 of the sectioned parameter at i, or -1 when there is none. */
static long mime_params_section0(const struct mime_params *params, size_t i)
{
	size_t base_len, blen;
	bool ext;

	if (mime_param_section(params->v[i].name, &base_len, &ext) < 0)
		return -1;
	for (size_t j = 0; j < params->count; j++) {
		if (params->v[j].name != NULL &&
		    mime_param_section(params->v[j].name, &blen, &ext) == 0 && blen == base_len &&
		    strncmp(params->v[j].name, params->v[i].name, base_len) == 0)
			return (long)j;
	}
	return -1;
}

static void mime_params_join(struct mime_params *params)
{
	struct mime_params out = { xcalloc(params->count + 1, sizeof(*out.v)), 0 };

	for (size_t i = 0; i < params->count; i++) {
		long z;

		if (params->v[i].name == NULL)
			continue;
		z = mime_params_section0(params, i);
		if (z >= 0)
			mime_params_join_one(params, (size_t)z, &out);
		else {
			out.v[out.count].name = xstrdup(params->v[i].name);
			out.v[out.count].value = xstrdup(params->v[i].value);
			out.count++;
		}
	}
	mime_params_free(params);
	*params = out;
}

static void mime_params_parse(struct mime_lex *lx, struct mime_params *params)
{
	params->v = xcalloc(MIME_PARAMS_MAX, sizeof(*params->v));
	params->count = 0;
	while (params->count < MIME_PARAMS_MAX) {
		char *name, *value;

		mime_lex_cfws(lx);
		if (lx->p >= lx->end || *lx->p != ';')
			break;
		lx->p++;
		mime_lex_cfws(lx);
		name = mime_lex_token(lx);
		if (name == NULL) {
			if (lx->p < lx->end && *lx->p == ';')
				continue;
			break;
		}
		mime_lex_cfws(lx);
		if (lx->p >= lx->end || *lx->p != '=') {
			free(name);
			break;
		}
		lx->p++;
		mime_lex_cfws(lx);
		value = lx->p < lx->end && *lx->p == '"' ? mime_lex_quoted(lx) : mime_lex_token(lx);
		if (value == NULL)
			value = xstrdup("");
		for (char *c = name; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		params->v[params->count].name = name;
		params->v[params->count].value = value;
		params->count++;
	}
	mime_params_join(params);
}

int mime_content_type_parse(const char *value, size_t len, char **type_r,
			    char **subtype_r, struct mime_params *params_r)
{
	struct mime_lex lx = { value, value + len };
	char *type, *subtype;

	mime_lex_cfws(&lx);
	type = mime_lex_token(&lx);
	mime_lex_cfws(&lx);
	if (type == NULL || lx.p >= lx.end || *lx.p != '/') {
		free(type);
		return -1;
	}
	lx.p++;
	mime_lex_cfws(&lx);
	subtype = mime_lex_token(&lx);
	if (subtype == NULL) {
		free(type);
		return -1;
	}
	mime_params_parse(&lx, params_r);
	*type_r = type;
	*subtype_r = subtype;
	return 0;
}

int mime_disposition_parse(const char *value, size_t len, char **disposition_r,
			   struct mime_params *params_r)
{
	struct mime_lex lx = { value, value + len };
	char *disposition;

	mime_lex_cfws(&lx);
	disposition = mime_lex_token(&lx);
	if (disposition == NULL)
		return -1;
	mime_params_parse(&lx, params_r);
	*disposition_r = disposition;
	return 0;
}

char *mime_header_token(const char *value, size_t len)
{
	struct mime_lex lx = { value, value + len };

	mime_lex_cfws(&lx);
	return mime_lex_token(&lx);
}
