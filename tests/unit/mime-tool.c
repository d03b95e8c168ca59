/* Print what Mailroom's MIME code makes of a message file, one item a
 * line, so tests/integration/test_mime_dovecot.py can set it beside
 * doveadm's answer for the same file:
 *
 *	mime-tool body|bodystructure|envelope|section SPEC FILE
 *
 * The file is read and fed to the parser in pieces of 4 KiB. "section"
 * prints "offset size vsize" of the range. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "imap-bodystructure.h"
#include "mime.h"

static struct mime_part *mime_tool_parse(const char *path)
{
	struct mime_parser *p;
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	p = mime_parser_new(NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mime_parser_feed(p, chunk, n);
	fclose(f);
	return mime_parser_finish(&p);
}

int main(int argc, char **argv)
{
	struct mime_part *root;
	struct buf out;
	struct imap_section sec;
	const char *error;
	const char *item = argc > 1 ? argv[1] : "";
	bool section = strcmp(item, "section") == 0;

	if (argc != (section ? 4 : 3)) {
		fprintf(stderr, "usage: mime-tool body|bodystructure|envelope|section SPEC FILE\n");
		return 2;
	}
	root = mime_tool_parse(argv[argc - 1]);
	if (root == NULL)
		return 1;
	buf_init(&out, BUF_NO_LIMIT);
	if (strcmp(item, "body") == 0 || strcmp(item, "bodystructure") == 0)
		imap_bodystructure_write(&out, root, strcmp(item, "bodystructure") == 0);
	else if (strcmp(item, "envelope") == 0)
		imap_envelope_write(&out, root->envelope);
	else if (section) {
		if (imap_section_find(root, argv[2], &sec, &error) < 0) {
			fprintf(stderr, "mime-tool: %s\n", error);
			mime_part_free(&root);
			return 1;
		}
		buf_printf(&out, "%" PRIu64 " %" PRIu64 " %" PRIu64, sec.offset, sec.size, sec.vsize);
	} else {
		fprintf(stderr, "mime-tool: unknown item %s\n", item);
		mime_part_free(&root);
		return 2;
	}
	fwrite(out.data, 1, out.len, stdout);
	fputc('\n', stdout);
	buf_free(&out);
	mime_part_free(&root);
	return 0;
}
