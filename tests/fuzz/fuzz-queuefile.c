/* fuzz-deps: mta/queue-file.c lib/buf.c lib/xalloc.c lib/log.c */
/* libFuzzer target for the queue file parser: whatever the bytes, it does
 * not crash; fed whole or in two pieces it gives the same verdict; and a
 * file it accepts formats back to an envelope that parses the same. */
#include <string.h>

#include "buf.h"
#include "../../mta/queue-file.h"
#include "fuzz.h"

static int fuzz_parse(struct queue_file *qf, const uint8_t *data, size_t size, size_t split)
{
	struct queue_file_parser *p;
	const char *error = NULL;
	int ret;

	queue_file_init(qf);
	p = queue_file_parser_new(qf, false);
	queue_file_parser_feed(p, data, split);
	queue_file_parser_feed(p, data + split, size - split);
	ret = queue_file_parser_finish(&p, &error);
	FUZZ_ASSERT(ret == 0 || error != NULL);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_file a, b;
	int ra = fuzz_parse(&a, data, size, size);
	int rb = fuzz_parse(&b, data, size, size / 2);

	FUZZ_ASSERT(ra == rb);
	if (ra == 0) {
		struct buf out;
		struct queue_file c;

		FUZZ_ASSERT(a.nrcpts == b.nrcpts && a.msg_size == b.msg_size);
		buf_init(&out, BUF_NO_LIMIT);
		queue_file_format_header(&a, &out);
		buf_append(&out, data + a.msg_offset, (size_t)a.msg_size);
		queue_file_format_trailer(a.msg_size, &out);
		FUZZ_ASSERT(fuzz_parse(&c, (const uint8_t *)out.data, out.len, out.len) == 0);
		FUZZ_ASSERT(c.nrcpts == a.nrcpts && c.ndone == a.ndone);
		FUZZ_ASSERT(strcmp(c.sender, a.sender) == 0 && strcmp(c.id, a.id) == 0);
		for (size_t i = 0; i < a.nrcpts; i++)
			FUZZ_ASSERT(strcmp(c.rcpts[i].addr, a.rcpts[i].addr) == 0 &&
				    c.rcpts[i].state == a.rcpts[i].state);
		queue_file_free(&c);
		buf_free(&out);
	}
	queue_file_free(&a);
	queue_file_free(&b);
	return 0;
}
