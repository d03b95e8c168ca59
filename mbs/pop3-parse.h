#ifndef MR_MBS_POP3_PARSE_H
#define MR_MBS_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* POP3 (RFC 1939, 2449) and POP2 (RFC 937) command lines, and the filter
 * that turns a stored message into a multi-line reply (dot-stuffing, CRLF
 * line ends, TOP's line limit). Pure functions: no I/O. */

/* RFC 2449 4: a command line is at most 255 octets with its CRLF; SASL
 * responses (RFC 5034 4) may be longer, up to what the session reads. */
#define POP3_CMD_LINE_MAX 255
/* Keywords are 3 or 4 characters (RFC 1939 3); POP2's are 4. */
#define POP3_NAME_MAX 4
/* RFC 2449 4: an argument is at most 40 octets. */
#define POP3_ARG_MAX 40
#define POP3_ARGS_MAX 4

struct pop3_command {
	char name[POP3_NAME_MAX + 1];     /* upper case */
	/* Everything after the keyword and its one space, verbatim (PASS
	 * may contain spaces, RFC 1939 7); "" when none. Points into the
	 * parsed line. */
	const char *rest;
	/* rest split at single spaces (copies in argbuf). argc is
	 * POP3_ARGC_BAD when rest cannot be split: empty arguments (two
	 * spaces, a trailing space), more than POP3_ARGS_MAX of them, or
	 * rest longer than a command line may be. */
	const char *args[POP3_ARGS_MAX];
	size_t argc;
	char argbuf[POP3_CMD_LINE_MAX + 1];
};

#define POP3_ARGC_BAD ((size_t)-1)

/* Parse one line (without its line end). 1 parsed, -1 malformed with
 * *error_r the text for "-ERR ". lr_flags are the line reader's flags
 * for the line, read with LR_EOL_LF (a NUL or a bare CR inside is
 * malformed). */
int pop3_parse_line(const char *line, size_t len, unsigned lr_flags,
		    struct pop3_command *cmd_r, const char **error_r);

/* A message number or line count: decimal digits only, no sign, no
 * leading zeros beyond "0", within [min, max]. */
bool pop3_parse_number(const char *arg, uint32_t min, uint32_t max, uint32_t *n_r);

/* The stored message -> reply filter. Feed the file's bytes in any
 * pieces; output is dot-stuffed (RFC 1939 3), every line ends in CRLF
 * (a bare LF gets its CR; other bytes are kept), and with a line limit
 * only the header, the blank line and that many body lines are given
 * (TOP, RFC 1939 7). pop3_stuff_end() ends the last line when the
 * message did not, and adds the terminating ".CRLF". */
struct pop3_stuff {
	bool line_start;
	bool prev_cr;
	bool in_body;
	bool line_empty;         /* nothing but a CR so far on this line */
	bool limited;
	bool done;               /* the line limit was reached */
	bool raw;                /* POP2: CRLF line ends only, no dot-stuffing */
	uint64_t body_lines_left;
};

void pop3_stuff_init(struct pop3_stuff *st, bool limited, uint64_t body_lines);
/* Returns true once the filter wants no more input (TOP limit reached). */
bool pop3_stuff_feed(struct pop3_stuff *st, const char *data, size_t len, struct buf *out);
void pop3_stuff_end(struct pop3_stuff *st, struct buf *out);

/* The size a message has in a RETR reply without its terminating line:
 * stored size plus one CR for every LF without one (the "virtual size"
 * Dovecot reports in LIST). Feed pieces; prev_cr carries between them. */
uint64_t pop3_crlf_size(const char *data, size_t len, bool *prev_cr);

#endif
