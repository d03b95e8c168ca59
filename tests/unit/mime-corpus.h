#ifndef MR_MIME_CORPUS_H
#define MR_MIME_CORPUS_H

#include <stddef.h>

#include "mime.h"

struct buf;

/* The sample messages under tests/data/mime/, for the MIME tests. */
extern const char *const mime_corpus_files[];

/* Read tests/data/mime/NAME (from $top_srcdir, else "."); NULL when it
 * cannot be read. The caller frees it. */
char *mime_corpus_load(const char *name, size_t *len_r);
/* Parse data fed in chunks of chunk bytes (0: all at once). */
struct mime_part *mime_corpus_parse(const char *data, size_t len, size_t chunk,
				    const struct mime_limits *limits);
/* Every field of the tree as text, for comparing two trees. */
void mime_corpus_dump(struct buf *out, const struct mime_part *part);
/* 1 when every span lies within len bytes and inside its parent's body,
 * each header right before its body. */
int mime_corpus_spans_ok(const struct mime_part *part, size_t len);

#endif
