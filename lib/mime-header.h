#ifndef MR_MIME_HEADER_H
#define MR_MIME_HEADER_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Header blocks of RFC 5322 messages and MIME parts: field iteration,
 * unfolding, structured Content-* values (RFC 2045, RFC 2231) and
 * encoded-words (RFC 2047). Nothing here fails on malformed input: a bad
 * line is skipped, a bad parameter ends the parameter list, an encoded-word
 * that does not decode stays as it was written. */

/* One field as written: the name before the colon, the value after it with
 * the leading white space dropped and its folding (CRLF or LF followed by
 * white space) kept. Pointers into the block. */
struct mime_header_field {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct mime_header_iter {
	const char *p, *end;
};

/* Iterate over the fields of data[0..len); iteration ends at the blank
 * line that ends a header, or at the end of data. A line without a colon
 * (or with a space in its name) is skipped. */
void mime_header_iter_init(struct mime_header_iter *it, const char *data, size_t len);
/* 1 with the next field in field_r, 0 at the end. */
int mime_header_iter_next(struct mime_header_iter *it, struct mime_header_field *field_r);

/* Case-insensitive comparison of the field's name. */
bool mime_header_name_is(const struct mime_header_field *field, const char *name);
/* The first field called name: 1 and field_r, or 0 when there is none. */
int mime_header_find(const char *data, size_t len, const char *name,
		     struct mime_header_field *field_r);

/* The value as written (folding kept), NUL bytes replaced by U+FFFD so
 * it can be a C string: a new string. */
char *mime_header_value_dup(const char *value, size_t len);
/* The value with its folding removed (each CR and LF dropped), NUL bytes
 * replaced by U+FFFD: a new string. */
char *mime_header_unfold(const char *value, size_t len);

/* The value unfolded, its encoded-words decoded and everything converted
 * to UTF-8 (8-bit text outside encoded-words is taken as UTF-8 when valid,
 * else as ISO-8859-1), appended to out. White space between two adjacent
 * encoded-words is dropped (RFC 2047 6.2). -1 only when out's limit is
 * reached. */
int mime_header_decode(const char *value, size_t len, struct buf *out);

/* A parameter of Content-Type or Content-Disposition. RFC 2231 sections
 * ("name*0", "name*1*"...) are joined into one: "name" when the first
 * section is plain, "name*" (value still "charset'lang'%XX..." as
 * written) when it is extended. Names are lower-cased. */
struct mime_param {
	char *name;
	char *value;
};

struct mime_params {
	struct mime_param *v;
	size_t count;
};

void mime_params_free(struct mime_params *params);
/* The value of the parameter called name, or NULL. */
const char *mime_params_get(const struct mime_params *params, const char *name);

/* Parse an (unfolded or folded) Content-Type value "type/subtype; params".
 * Returns 0 with type and subtype as written (case kept), or -1 when the
 * type/subtype itself is malformed (nothing is returned then). Parameters
 * after a malformed one are dropped. */
int mime_content_type_parse(const char *value, size_t len, char **type_r,
			    char **subtype_r, struct mime_params *params_r);
/* Parse a Content-Disposition value "type; params"; -1 when there is no
 * disposition type. */
int mime_disposition_parse(const char *value, size_t len, char **disposition_r,
			   struct mime_params *params_r);
/* The first token of a value with comments and white space skipped (for
 * Content-Transfer-Encoding); NULL when there is none. */
char *mime_header_token(const char *value, size_t len);

#endif
