#ifndef MR_XALLOC_H
#define MR_XALLOC_H

#include <stddef.h>

/* Allocation that never returns NULL: on exhaustion the process logs and
 * aborts, so no caller carries an unchecked NULL path. Sizes are checked for
 * multiplication overflow. */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
