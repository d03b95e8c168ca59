/* fuzz-deps: lib/addr.c lib/xalloc.c lib/buf.c */
/* Parse the input as a path under every flag combination and as a bare
 * mailbox; whatever parses must come back from addr_to_string() in a form
 * that parses to the very same parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical form re-parsed as a path, and as a mailbox when it has a
 * domain, must give the same parts. */
static void fuzz_round_trip(const struct addr *a, unsigned flags)
{
	struct addr b;
	const char *error;
	size_t consumed;
	char *s = addr_to_string(a);
	char *path = xasprintf("<%s>", s);

	flags &= ~(unsigned)ADDR_ALLOW_NO_BRACKETS;
	if (addr_parse_path(path, strlen(path), flags, &b, &consumed, &error) != 1 ||
	    consumed != strlen(path) || !addr_equal(a, &b))
		abort();
	addr_free(&b);
	if (a->domain != NULL) {
		if (addr_parse_mailbox(s, flags, &b, &error) != 0 || !addr_equal(a, &b))
			abort();
		addr_free(&b);
	}
	free(path);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so that a read past the end is caught. */
	char *in = xmalloc(size), *str;
	struct addr a;
	const char *error;
	size_t consumed;

	memcpy(in, data, size);
	for (unsigned flags = 0; flags < 16; flags++) {
		int ret = addr_parse_path(in, size, flags, &a, &consumed, &error);

		if (ret != 1) {
			if (error == NULL || a.local != NULL || a.domain != NULL)
				abort();
			continue;
		}
		if (consumed == 0 || consumed > size || consumed > ADDR_PATH_MAX ||
		    (consumed < size && in[consumed] != ' '))
			abort();
		fuzz_round_trip(&a, flags);
		addr_free(&a);
	}
	free(in);

	str = xstrndup((const char *)data, size);
	for (unsigned flags = 0; flags < 16; flags++) {
		if (addr_parse_mailbox(str, flags, &a, &error) == 0) {
			fuzz_round_trip(&a, flags);
			addr_free(&a);
		}
	}
	free(str);
	return 0;
}
