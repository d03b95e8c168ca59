#include <string.h>
#include <stdlib.h>

#include "buf.h"
#include "fields.h"
#include "xalloc.h"

void authd_field_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\t': buf_append_str(out, "\\t"); break;
		case '\n': buf_append_str(out, "\\n"); break;
		case '\r': buf_append_str(out, "\\r"); break;
		case '\\': buf_append_str(out, "\\\\"); break;
		default: buf_append_char(out, *s); break;
		}
	}
}

void authd_field_add(struct buf *out, const char *s)
{
	buf_append_char(out, '\t');
	authd_field_escape(out, s);
}

/* One field of len bytes, unescaped; NULL on a bad escape. */
static char *fields_unescape(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			goto bad;
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (++i == len)
			goto bad;
		switch (s[i]) {
		case 't': *o++ = '\t'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case '\\': *o++ = '\\'; break;
		default: goto bad;
		}
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

int authd_fields_split(const char *s, size_t len, size_t max_fields,
		       struct authd_fields *f, const char **error_r)
{
	size_t start = 0;

	f->items = NULL;
	f->count = 0;
	for (size_t i = 0; i <= len; i++) {
		char *one;

		if (i < len && s[i] != '\t')
			continue;
		if (f->count == max_fields) {
			*error_r = "too many fields";
			goto fail;
		}
		if ((one = fields_unescape(s + start, i - start)) == NULL) {
			*error_r = "bad escape or NUL byte in a field";
			goto fail;
		}
		f->items = xreallocarray(f->items, f->count + 1, sizeof(*f->items));
		f->items[f->count++] = one;
		start = i + 1;
	}
	return 0;
fail:
	authd_fields_free(f);
	return -1;
}

void authd_fields_free(struct authd_fields *f)
{
	for (size_t i = 0; i < f->count; i++)
		free(f->items[i]);
	free(f->items);
	f->items = NULL;
	f->count = 0;
}
