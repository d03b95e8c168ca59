/* fuzz-deps: authd/proto-auth-parse.c lib/netaddr.c lib/buf.c lib/xalloc.c */
/* libFuzzer target for the auth protocol's line parser: whatever the
 * bytes, splitting stays inside them, AUTH parsing of what splits either
 * fails with a reason or yields a request whose fields are strings of the
 * line, and escaping then splitting a field gives the field back. */
#include <string.h>

#include "../../authd/proto-auth.h"
#include "buf.h"
#include "xalloc.h"
#include "fuzz.h"

static void fuzz_escape_roundtrip(const char *field)
{
	struct authproto_line l;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, "X\t");
	FUZZ_ASSERT(authproto_escape(&b, field) == 0);
	FUZZ_ASSERT(memchr(b.data, '\n', b.len) == NULL);
	FUZZ_ASSERT(strchr(b.data + 2, '\t') == NULL);
	FUZZ_ASSERT(authproto_split(b.data, b.len, &l, &error) == 0);
	FUZZ_ASSERT(l.nargs == 1 && strcmp(l.args[0], field) == 0);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authproto_line l;
	struct authproto_auth a;
	const char *error = NULL;
	char *copy = xmalloc(size + 1);

	memcpy(copy, data, size);
	if (authproto_split(copy, size, &l, &error) < 0) {
		FUZZ_ASSERT(error != NULL);
	} else {
		FUZZ_ASSERT(l.cmd >= copy && l.cmd <= copy + size);
		FUZZ_ASSERT(l.nargs <= AUTHPROTO_MAX_ARGS);
		for (size_t i = 0; i < l.nargs; i++)
			fuzz_escape_roundtrip(l.args[i]);
		error = NULL;
		if (authproto_parse_auth(&l, &a, &error) < 0) {
			FUZZ_ASSERT(error != NULL);
		} else {
			FUZZ_ASSERT(a.mech != NULL && *a.mech != '\0');
			FUZZ_ASSERT(a.service != NULL && *a.service != '\0');
			FUZZ_ASSERT(a.service > copy && a.service <= copy + size);
		}
	}
	free(copy);
	return 0;
}
