#ifndef MR_BUF_H
#define MR_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* The one growable byte buffer. Every buffer has an explicit limit: an
 * append that would pass it fails with -1 and leaves the buffer unchanged,
 * so a peer can never make us grow without bound. The content is always
 * followed by a NUL byte (not counted in len) so it can be used as a string. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
};

#define BUF_NO_LIMIT ((size_t)-1)

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);

/* Make room for extra more bytes (and the trailing NUL) now, so that
 * appending that much later does not grow the buffer step by step. 0 on
 * success, -1 when the limit would be passed (buffer unchanged). */
int buf_reserve(struct buf *b, size_t extra);

/* 0 on success, -1 when the limit would be passed (buffer unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Drop the first n bytes (n larger than len empties the buffer). */
void buf_consume(struct buf *b, size_t n);
/* Shorten to len bytes; no-op when already shorter. */
void buf_truncate(struct buf *b, size_t len);
/* NUL-terminated view of the content; never NULL. */
const char *buf_cstr(const struct buf *b);
/* Hand the memory to the caller (NUL-terminated) and reset the buffer. */
char *buf_steal(struct buf *b);

#endif
