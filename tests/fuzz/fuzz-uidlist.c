/* fuzz-deps: lib/maildir-uidlist.c lib/maildir.c lib/fdio.c lib/dotlock.c lib/buf.c lib/xalloc.c lib/log.c */
/* libFuzzer target for the dovecot-uidlist parser: whatever the bytes, it
 * does not crash, fed whole or in two pieces it gives the same list, and a
 * list it accepts formats to text that parses back to the same list. */
#include <string.h>

#include "buf.h"
#include "maildir-uidlist.h"
#include "fuzz.h"

static int fuzz_parse_split(struct maildir_uidlist *list, const uint8_t *data, size_t size,
			    size_t split)
{
	struct maildir_uidlist_parser *p;
	const char *error = NULL;
	int ret;

	maildir_uidlist_init(list);
	p = maildir_uidlist_parser_new(list);
	maildir_uidlist_parser_feed(p, data, split);
	maildir_uidlist_parser_feed(p, data + split, size - split);
	ret = maildir_uidlist_parser_finish(&p, &error);
	FUZZ_ASSERT(ret == 0 || error != NULL);
	return ret;
}

static void fuzz_same(const struct maildir_uidlist *a, const struct maildir_uidlist *b)
{
	FUZZ_ASSERT(a->uidvalidity == b->uidvalidity && a->next_uid == b->next_uid);
	FUZZ_ASSERT(a->count == b->count);
	for (size_t i = 0; i < a->count; i++) {
		FUZZ_ASSERT(a->recs[i].uid == b->recs[i].uid);
		FUZZ_ASSERT(strcmp(a->recs[i].base, b->recs[i].base) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_uidlist whole, split, again;
	const char *error;
	struct buf out;
	int ret = fuzz_parse_split(&whole, data, size, size);

	FUZZ_ASSERT(fuzz_parse_split(&split, data, size, size / 2) == ret);
	if (ret == 0) {
		fuzz_same(&whole, &split);
		for (size_t i = 0; i < whole.count; i++) {
			FUZZ_ASSERT(whole.recs[i].uid < whole.next_uid);
			FUZZ_ASSERT(i == 0 || whole.recs[i - 1].uid < whole.recs[i].uid);
			FUZZ_ASSERT(maildir_uidlist_lookup(&whole, whole.recs[i].uid) == &whole.recs[i]);
		}
		buf_init(&out, BUF_NO_LIMIT);
		maildir_uidlist_format(&whole, &out);
		maildir_uidlist_init(&again);
		FUZZ_ASSERT(maildir_uidlist_parse(&again, out.data, out.len, &error) == 0);
		FUZZ_ASSERT(again.skipped_lines == 0);
		fuzz_same(&whole, &again);
		maildir_uidlist_free(&again);
		buf_free(&out);
	}
	maildir_uidlist_free(&whole);
	maildir_uidlist_free(&split);
	return 0;
}
