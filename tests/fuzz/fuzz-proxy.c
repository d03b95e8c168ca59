/* libFuzzer target for the PROXY protocol parser: whatever the bytes, the
 * parser stays inside them, and a header it accepts is accepted the same
 * way when the bytes after it are cut off. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "xalloc.h"
#include "fuzz.h"

static bool fuzz_same_addr(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

/* Parse a copy of exactly len bytes, so ASan sees a read past them. */
static enum proxy_result fuzz_parse_copy(const uint8_t *data, size_t len,
					 struct proxy_info *info, size_t *consumed)
{
	uint8_t *copy = xmalloc(len);
	const char *error = NULL;
	enum proxy_result r;

	memcpy(copy, data, len);
	r = proxy_parse(copy, len, info, consumed, &error);
	FUZZ_ASSERT(r != PROXY_ERROR || error != NULL);
	free(copy);
	return r;
}

static void fuzz_check_done(const uint8_t *data, const struct proxy_info *info, size_t consumed)
{
	struct proxy_info again;
	size_t consumed2;

	FUZZ_ASSERT(consumed > 0);
	FUZZ_ASSERT(info->version == 1 || info->version == 2);
	FUZZ_ASSERT(info->version != 1 || consumed <= PROXY_V1_MAX);
	FUZZ_ASSERT(memchr(info->authority, '\0', sizeof(info->authority)) != NULL);
	FUZZ_ASSERT(!info->has_addr || info->src.family == info->dst.family);

	FUZZ_ASSERT(fuzz_parse_copy(data, consumed, &again, &consumed2) == PROXY_DONE);
	FUZZ_ASSERT(consumed2 == consumed);
	FUZZ_ASSERT(again.version == info->version && again.has_addr == info->has_addr);
	FUZZ_ASSERT(again.ssl == info->ssl);
	FUZZ_ASSERT(strcmp(again.authority, info->authority) == 0);
	FUZZ_ASSERT(fuzz_same_addr(&again.src, &info->src));
	FUZZ_ASSERT(fuzz_same_addr(&again.dst, &info->dst));
	/* A header cut short is never accepted or refused early. */
	FUZZ_ASSERT(fuzz_parse_copy(data, consumed - 1, &again, &consumed2) == PROXY_NEED_MORE);
	FUZZ_ASSERT(fuzz_parse_copy(data, consumed / 2, &again, &consumed2) == PROXY_NEED_MORE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info info;
	size_t consumed = 12345;
	const char *error = NULL;
	enum proxy_result r;

	r = proxy_parse(data, size, &info, &consumed, &error);
	FUZZ_ASSERT(consumed <= size);
	FUZZ_ASSERT(proxy_maybe_header(data, size) == (r != PROXY_ERROR));
	switch (r) {
	case PROXY_DONE:
		fuzz_check_done(data, &info, consumed);
		break;
	case PROXY_ERROR:
		FUZZ_ASSERT(error != NULL && *error != '\0');
		FUZZ_ASSERT(consumed == 0);
		break;
	case PROXY_NEED_MORE:
		FUZZ_ASSERT(consumed == 0 && size < PROXY_V2_MAX);
		break;
	}
	return 0;
}
