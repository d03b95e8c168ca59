/* fuzz-deps: lib/mime.c lib/mime-header.c lib/mime-address.c lib/mime-charset.c lib/base64.c lib/buf.c lib/xalloc.c lib/log.c mbs/imap-bodystructure.c tests/unit/mime-corpus.c */
/* libFuzzer target for the MIME parser and what is drawn from its tree:
 * whatever the bytes, it does not crash, every range lies within the
 * input, the tree is the same fed whole or in pieces of 1 to 7 bytes
 * (chosen by the first byte), and BODYSTRUCTURE, ENVELOPE and every
 * section resolve. Small limits make the bounds reachable. */
#include <string.h>

#include "buf.h"
#include "../../mbs/imap-bodystructure.h"
#include "../unit/mime-corpus.h"
#include "fuzz.h"

static const struct mime_limits fuzz_limits = { 4, 30, 512, 20 };

static void fuzz_sections(const struct mime_part *root, size_t size)
{
	static const char *const specs[] = {
		"", "1", "2", "1.1", "1.2", "2.1", "1.1.1", "HEADER", "TEXT", "1.MIME",
		"2.HEADER", "2.TEXT", "1.2.MIME", "2.1.HEADER.FIELDS",
	};
	struct imap_section s;
	const char *error;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		FUZZ_ASSERT(imap_section_find(root, specs[i], &s, &error) == 0);
		FUZZ_ASSERT(s.offset + s.size <= size && s.vsize >= s.size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	size_t chunk = size > 0 ? data[0] % 7 + 1 : 1;
	struct mime_part *whole = mime_corpus_parse(msg, size, 0, &fuzz_limits);
	struct mime_part *split = mime_corpus_parse(msg, size, chunk, &fuzz_limits);
	struct buf a, b;

	FUZZ_ASSERT(mime_corpus_spans_ok(whole, size));
	FUZZ_ASSERT(whole->header.size + whole->body.size == size);
	FUZZ_ASSERT(mime_part_count(whole) <= fuzz_limits.max_parts);
	buf_init(&a, BUF_NO_LIMIT);
	buf_init(&b, BUF_NO_LIMIT);
	mime_corpus_dump(&a, whole);
	mime_corpus_dump(&b, split);
	FUZZ_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	buf_reset(&a);
	imap_bodystructure_write(&a, whole, true);
	imap_envelope_write(&a, whole->envelope);
	FUZZ_ASSERT(a.len > 0 && a.data[0] == '(');
	fuzz_sections(whole, size);
	buf_free(&a);
	buf_free(&b);
	mime_part_free(&whole);
	mime_part_free(&split);
	return 0;
}
