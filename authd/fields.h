#ifndef MR_AUTHD_FIELDS_H
#define MR_AUTHD_FIELDS_H

#include <stddef.h>

struct buf;

/* Tab-separated fields with the lookup protocol's escapes: a tab, LF, CR
 * and backslash inside a value travel as \t \n \r \\ so one value never
 * splits a line or a field. Used on the wire (proto-lookup, the admin
 * command) and for values in authd's cache. */

struct authd_fields {
	char **items;   /* unescaped, NUL-terminated */
	size_t count;
};

/* Append s escaped. */
void authd_field_escape(struct buf *out, const char *s);
/* Append "\t" and s escaped. */
void authd_field_add(struct buf *out, const char *s);

/* Split len bytes at tabs and unescape each field. -1 with error_r on a
 * bad escape, a NUL byte, or more than max_fields fields; f is then
 * empty. */
int authd_fields_split(const char *s, size_t len, size_t max_fields,
		       struct authd_fields *f, const char **error_r);
void authd_fields_free(struct authd_fields *f);

#endif
