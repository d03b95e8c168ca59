/* fuzz-deps: authd/proto-lookup-parse.c authd/fields.c lib/buf.c lib/xalloc.c */
/* libFuzzer target for the lookup protocol's request parser: any bytes
 * are one request line. A parsed request must have a valid id, a known
 * command and arguments free of the bytes escapes stand for only where
 * the input escaped them. */
#include <string.h>

#include "../../authd/proto-lookup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lookup_request req;
	const char *err = NULL;
	size_t idlen;

	if (lookup_request_parse((const char *)data, size, &req, &err) < 0) {
		FUZZ_ASSERT(err != NULL);
		FUZZ_ASSERT(req.args.count == 0);
		return 0;
	}
	idlen = strlen(req.id);
	FUZZ_ASSERT(idlen > 0 && idlen <= LOOKUP_ID_MAX);
	FUZZ_ASSERT(memcmp(req.id, data, idlen) == 0 && data[idlen] == '\t');
	FUZZ_ASSERT(req.cmd <= LOOKUP_PING);
	for (size_t i = 0; i < req.args.count; i++)
		FUZZ_ASSERT(req.args.items[i][0] != '\0');
	lookup_request_free(&req);
	return 0;
}
