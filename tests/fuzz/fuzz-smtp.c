/* fuzz-deps: mta/smtp-parse.c lib/addr.c lib/xalloc.c lib/buf.c */
/* The SMTP command line parser on arbitrary lines: verb split, MAIL and
 * RCPT with their ESMTP parameters, BDAT. Whatever parses must hold
 * together: an address that parses comes back as a string that parses to
 * the same parts, a BDAT size is a number. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../mta/smtp-parse.h"
#include "xalloc.h"

static void fuzz_addr_round_trip(const struct addr *a)
{
	struct addr b;
	const char *error;
	size_t consumed;
	char *s = addr_to_string(a);
	char *path = xasprintf("<%s>", s);
	unsigned flags = ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 | ADDR_ALLOW_POSTMASTER;

	FUZZ_ASSERT(addr_parse_path(path, strlen(path), flags, &b, &consumed, &error) == 1);
	FUZZ_ASSERT(consumed == strlen(path) && addr_equal(a, &b));
	addr_free(&b);
	free(path);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char verb[SMTP_VERB_MAX + 1];
	const char *args;
	struct smtp_params p;
	struct addr a;
	const char *error;
	char *line = xstrndup((const char *)data, size);
	uint64_t n;
	bool last;

	/* lines reach the parser NUL-terminated (lib/linereader.h) */
	if (smtp_parse_verb(line, size, verb, &args) == 0) {
		char *copy = xstrdup(args);

		FUZZ_ASSERT(strlen(verb) > 0 && strlen(verb) <= SMTP_VERB_MAX);
		if (smtp_parse_mail(copy, &a, &p, &error) == 0) {
			fuzz_addr_round_trip(&a);
			addr_free(&a);
		}
		free(copy);
		copy = xstrdup(args);
		if (smtp_parse_rcpt(copy, true, &a, &p, &error) == 0) {
			FUZZ_ASSERT(!a.null_path);
			fuzz_addr_round_trip(&a);
			addr_free(&a);
		}
		free(copy);
		if (smtp_parse_bdat(args, &n, &last) == 0)
			FUZZ_ASSERT(args[0] >= '0' && args[0] <= '9');
	}
	free(line);
	return 0;
}
