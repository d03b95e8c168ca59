/* POP3 and POP2 command lines, and the stored message -> multi-line reply
 * filter. */
#include <string.h>

#include "buf.h"
#include "linereader.h"
#include "pop3-parse.h"

int pop3_parse_line(const char *line, size_t len, unsigned lr_flags,
		    struct pop3_command *cmd_r, const char **error_r)
{
	size_t i = 0, n = 0, restlen;
	char *p;

	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->rest = "";
	if (lr_flags & (LR_F_NUL | LR_F_BARE_CR) || memchr(line, '\0', len) != NULL) {
		*error_r = "Invalid characters in the command line";
		return -1;
	}
	/* RFC 1939 3: a keyword of 3 or 4 characters, case-insensitive. */
	while (i < len && line[i] != ' ') {
		char c = line[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z' || n == POP3_NAME_MAX) {
			*error_r = "Unknown command";
			return -1;
		}
		cmd_r->name[n++] = c;
		i++;
	}
	if (n < 3) {
		*error_r = "Unknown command";
		return -1;
	}
	cmd_r->name[n] = '\0';
	if (i == len)
		return 1;
	cmd_r->rest = line + i + 1;
	restlen = len - i - 1;
	for (size_t k = 0; k < restlen; k++) {
		unsigned char c = (unsigned char)cmd_r->rest[k];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "Invalid characters in the command line";
			return -1;
		}
	}
	if (restlen == 0 || restlen > POP3_CMD_LINE_MAX - 2 - n - 1) {
		/* "CMD " with nothing after it, or too long to be arguments */
		cmd_r->argc = POP3_ARGC_BAD;
		return 1;
	}
	/* Arguments are separated by single spaces (RFC 1939 3). */
	memcpy(cmd_r->argbuf, cmd_r->rest, restlen);
	cmd_r->argbuf[restlen] = '\0';
	p = cmd_r->argbuf;
	for (;;) {
		char *end = strchr(p, ' ');

		if (end == p || *p == '\0' || cmd_r->argc == POP3_ARGS_MAX) {
			cmd_r->argc = POP3_ARGC_BAD;
			memset(cmd_r->args, 0, sizeof(cmd_r->args));
			break;
		}
		cmd_r->args[cmd_r->argc++] = p;
		if (end == NULL)
			break;
		*end = '\0';
		p = end + 1;
	}
	return 1;
}

bool pop3_parse_number(const char *arg, uint32_t min, uint32_t max, uint32_t *n_r)
{
	uint64_t v = 0;
	size_t i = 0;

	if (arg == NULL || arg[0] < '0' || arg[0] > '9')
		return false;
	if (arg[0] == '0' && arg[1] >= '0' && arg[1] <= '9')
		return false;
	for (; arg[i] >= '0' && arg[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(arg[i] - '0');
		if (v > max)
			return false;
	}
	if (arg[i] != '\0')
		return false;
	if (v < min)
		return false;
	*n_r = (uint32_t)v;
	return true;
}

/* ---- stored message -> multi-line reply ---- */

void pop3_stuff_init(struct pop3_stuff *st, bool limited, uint64_t body_lines)
{
	memset(st, 0, sizeof(*st));
	st->line_start = true;
	st->line_empty = true;
	st->limited = limited;
	st->body_lines_left = body_lines;
	/* TOP n with n = 0 still gives the header and the blank line. */
}

/* A line ended (its LF was just written). */
static void pop3_stuff_eol(struct pop3_stuff *st)
{
	if (!st->in_body) {
		if (st->line_empty) {
			st->in_body = true;
			if (st->limited && st->body_lines_left == 0)
				st->done = true;
		}
	} else if (st->limited && --st->body_lines_left == 0) {
		st->done = true;
	}
	st->line_start = true;
	st->line_empty = true;
}

bool pop3_stuff_feed(struct pop3_stuff *st, const char *data, size_t len, struct buf *out)
{
	const char *lf, *cr;
	size_t i = 0, span;

	while (i < len && !st->done) {
		char c = data[i];

		if (st->line_start && c == '.' && !st->raw)
			buf_append_char(out, '.');   /* RFC 1939 3: byte-stuff */
		if (c == '\n') {
			if (!st->prev_cr)
				buf_append_char(out, '\r');
			buf_append_char(out, '\n');
			st->prev_cr = false;
			i++;
			pop3_stuff_eol(st);
			continue;
		}
		/* A CR that turns out not to end the line makes it non-empty. */
		if (st->prev_cr || c != '\r')
			st->line_empty = false;
		st->line_start = false;
		if (c == '\r') {
			buf_append_char(out, c);
			st->prev_cr = true;
			i++;
			continue;
		}
		st->prev_cr = false;
		/* The plain bytes up to the next CR or LF go in one piece. */
		lf = memchr(data + i + 1, '\n', len - i - 1);
		span = lf != NULL ? (size_t)(lf - data) : len;
		cr = memchr(data + i + 1, '\r', span - i - 1);
		if (cr != NULL)
			span = (size_t)(cr - data);
		buf_append(out, data + i, span - i);
		i = span;
	}
	return st->done;
}

void pop3_stuff_end(struct pop3_stuff *st, struct buf *out)
{
	if (!st->line_start) {
		/* The message did not end its last line: end it here. A CR
		 * already written is completed by the LF alone. */
		if (!st->prev_cr)
			buf_append_char(out, '\r');
		buf_append_char(out, '\n');
	}
	buf_append_str(out, ".\r\n");
	st->done = true;
}

uint64_t pop3_crlf_size(const char *data, size_t len, bool *prev_cr)
{
	const char *p = data, *end = data + len, *lf;
	uint64_t size = len;

	/* From LF to LF with memchr: a byte loop here was a tenth of a
	 * POP3 login's time on a Maildir without ,W= sizes. */
	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (!(lf == data ? *prev_cr : lf[-1] == '\r'))
			size++;
		p = lf + 1;
	}
	if (len > 0)
		*prev_cr = data[len - 1] == '\r';
	return size;
}
