#ifndef MR_MIME_CHARSET_H
#define MR_MIME_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Text in a declared charset to UTF-8, for searching. UTF-8, US-ASCII,
 * ISO-8859-1, ISO-8859-15 and Windows-1252 are converted here; any other
 * charset goes through iconv. Bytes that do not convert become U+FFFD, so
 * the result is always valid UTF-8. An unknown charset is read like 8-bit
 * header text: UTF-8 when it is valid, else ISO-8859-1. Returns 0, or -1
 * when out's limit is reached. */
int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buf *out);

/* True when data[0..len) is valid UTF-8. */
bool mime_utf8_valid(const void *data, size_t len);

#endif
