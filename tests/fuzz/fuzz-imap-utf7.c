/* fuzz-deps: mbs/imap-utf7.c lib/buf.c lib/xalloc.c */
/* libFuzzer target for modified UTF-7. Round trips: a name that decodes
 * re-encodes to exactly the same bytes (one wire form per name), and any
 * valid UTF-8 encodes to a valid name that decodes back to it. */
#include <string.h>

#include "../../mbs/imap-utf7.h"
#include "buf.h"
#include "xalloc.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct buf a, b;
	const char *error = NULL;

	buf_init(&a, BUF_NO_LIMIT);
	buf_init(&b, BUF_NO_LIMIT);
	if (imap_utf7_to_utf8(s, &a, &error) == 0) {
		FUZZ_ASSERT(imap_utf8_validate(buf_cstr(&a), a.len) == 0);
		FUZZ_ASSERT(imap_utf8_to_utf7(buf_cstr(&a), &b, &error) == 0);
		FUZZ_ASSERT(strcmp(buf_cstr(&b), s) == 0);
		FUZZ_ASSERT(imap_utf7_is_valid(s));
	} else {
		FUZZ_ASSERT(error != NULL && !imap_utf7_is_valid(s));
	}
	buf_reset(&a);
	buf_reset(&b);
	error = NULL;
	if (imap_utf8_validate(s, strlen(s)) == 0) {
		FUZZ_ASSERT(imap_utf8_to_utf7(s, &a, &error) == 0);
		for (size_t i = 0; i < a.len; i++)
			FUZZ_ASSERT(a.data[i] >= 0x20 && a.data[i] <= 0x7e);
		FUZZ_ASSERT(imap_utf7_to_utf8(buf_cstr(&a), &b, &error) == 0);
		FUZZ_ASSERT(strcmp(buf_cstr(&b), s) == 0);
	} else {
		FUZZ_ASSERT(imap_utf8_to_utf7(s, &a, &error) < 0);
	}
	buf_free(&a);
	buf_free(&b);
	free(s);
	return 0;
}
