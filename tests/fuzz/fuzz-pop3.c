/* fuzz-deps: mbs/pop3-parse.c lib/linereader.c lib/buf.c lib/xalloc.c */
/* libFuzzer target for the POP3/POP2 command line parser, driven as the
 * session drives it (byte 0 splits the rest into feeds of the line
 * reader), and for the RETR/TOP output filter on the same bytes taken as
 * a stored message. Invariants: parsed keywords are 3-4 upper-case
 * letters, arguments are non-empty and space-free; the filter's output
 * has CRLF line ends only, never a line "." before the end, and ends in
 * ".CRLF". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "linereader.h"
#include "../../mbs/pop3-parse.h"

static void fuzz_line(const struct lr_line *line)
{
	struct pop3_command cmd;
	const char *error;
	size_t n;
	uint32_t num;

	if (pop3_parse_line(line->data, line->len, line->flags, &cmd, &error) < 0) {
		FUZZ_ASSERT(error != NULL && *error != '\0');
		return;
	}
	n = strlen(cmd.name);
	FUZZ_ASSERT(n >= 3 && n <= POP3_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(cmd.name[i] >= 'A' && cmd.name[i] <= 'Z');
	if (cmd.argc == POP3_ARGC_BAD)
		return;
	FUZZ_ASSERT(cmd.argc <= POP3_ARGS_MAX);
	for (size_t i = 0; i < cmd.argc; i++) {
		FUZZ_ASSERT(cmd.args[i][0] != '\0' && strchr(cmd.args[i], ' ') == NULL);
		if (pop3_parse_number(cmd.args[i], 0, UINT32_MAX, &num))
			FUZZ_ASSERT(cmd.args[i][0] != '0' || num == 0);
	}
}

static void fuzz_stuff(const uint8_t *data, size_t size, bool limited, uint64_t lines)
{
	struct pop3_stuff st;
	struct buf out;

	buf_init(&out, BUF_NO_LIMIT);
	pop3_stuff_init(&st, limited, lines);
	for (size_t i = 0; i < size; i += 7)
		if (pop3_stuff_feed(&st, (const char *)data + i, size - i < 7 ? size - i : 7, &out))
			break;
	pop3_stuff_end(&st, &out);
	FUZZ_ASSERT(out.len >= 3 && memcmp(out.data + out.len - 3, ".\r\n", 3) == 0);
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '\n')
			FUZZ_ASSERT(i > 0 && out.data[i - 1] == '\r');
		/* a line of just "." can only be the last one */
		if (out.data[i] == '.' && (i == 0 || out.data[i - 1] == '\n') &&
		    i + 2 < out.len && out.data[i + 1] == '\r' && out.data[i + 2] == '\n')
			FUZZ_ASSERT(i + 3 == out.len);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linereader lr;
	struct lr_line line;
	size_t piece, off = 1;

	if (size < 1)
		return 0;
	piece = data[0] == 0 ? size : data[0];
	linereader_init(&lr, 1024, LR_EOL_LF);
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		enum lr_result r;

		linereader_feed(&lr, data + off, n);
		off += n;
		while ((r = linereader_next(&lr, &line)) != LR_NEED_MORE)
			if (r == LR_LINE)
				fuzz_line(&line);
	}
	linereader_free(&lr);
	fuzz_stuff(data + 1, size - 1, false, 0);
	fuzz_stuff(data + 1, size - 1, true, data[0] % 4);
	return 0;
}
