#ifndef MR_IMAP_PARSER_H
#define MR_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The IMAP command parser: no I/O. It is fed what the connection's line
 * reader delivers (whole lines through imap_parser_line(), literal chunks
 * through imap_parser_literal_data()) and turns one command into a tag, a
 * command name and a tree of arguments. The model, the limits and the
 * replies a session sends for each result are in docs/imap-parser.md. */

enum imap_arg_type {
	IMAP_ARG_ATOM,    /* also sequence sets, flags (\Seen), BODY[...]<...> */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,     /* the atom NIL (any case); str still holds its text */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	/* Every type but LIST: the text, NUL-terminated, len bytes. */
	char *str;
	size_t len;
	/* LITERAL handed to the caller (imap_parser_literal_stream()): str is
	 * NULL and len is the announced size. */
	bool streamed;
	/* LIST: the elements. */
	struct imap_arg *list;
	size_t count;
};

struct imap_command {
	char *tag;
	char *name;       /* upper-case; for "UID FETCH" it is "FETCH" */
	bool uid;         /* the command came as "UID <name>" */
	struct imap_arg *args;
	size_t count;
};

struct imap_parser_limits {
	size_t max_depth;       /* nested parentheses */
	size_t max_args;        /* arguments in one command, lists included */
	size_t max_command;     /* bytes of all lines plus kept literals */
	uint64_t max_literal;   /* one literal kept in memory */
	bool literal_minus;     /* LITERAL- (RFC 7888): {n+} only up to 4096 */
};

#define IMAP_LITERAL_MINUS_MAX 4096

/* Defaults: depth 16, 4096 arguments, 1 MiB per command, 64 KiB literals
 * kept in memory, LITERAL+. */
void imap_parser_default_limits(struct imap_parser_limits *limits_r);

enum imap_parse_result {
	IMAP_PARSE_NONE,     /* consumed, nothing to do (rest of a bad command) */
	IMAP_PARSE_COMMAND,  /* a whole command: imap_parser_take_command() */
	IMAP_PARSE_LITERAL,  /* the line announced a literal: keep, stream or reject it */
	IMAP_PARSE_ERROR,    /* the command is bad: reply with imap_parser_error() */
	IMAP_PARSE_SKIP,     /* a bad command's non-synchronising literal follows */
};

struct imap_parse_error {
	const char *tag;     /* NULL when no valid tag was read: reply "* BAD" */
	const char *text;    /* may start with a response code, e.g. "[TOOBIG]" */
	bool no;             /* reply NO rather than BAD */
	/* Close the connection after the reply: a non-synchronising literal
	 * too large to count was announced, so the stream cannot be resynced. */
	bool fatal;
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **p);
/* UTF8=ACCEPT (RFC 6855) is on: quoted strings may carry UTF-8. */
void imap_parser_set_utf8(struct imap_parser *p, bool on);
/* Drop any command in progress (after the line reader's LR_TOO_LONG). */
void imap_parser_reset(struct imap_parser *p);

/* One line, terminator removed. */
enum imap_parse_result imap_parser_line(struct imap_parser *p, const char *data, size_t len);

/* After IMAP_PARSE_LITERAL: the announced literal and the command so far. */
uint64_t imap_parser_literal_size(const struct imap_parser *p);
bool imap_parser_literal_sync(const struct imap_parser *p);
const char *imap_parser_tag(const struct imap_parser *p);
const char *imap_parser_name(const struct imap_parser *p);  /* NULL before the name */
size_t imap_parser_depth(const struct imap_parser *p);
size_t imap_parser_arg_count(const struct imap_parser *p);  /* top-level so far */

/* Read the literal into the command: 0, then the caller sends "+ OK" when
 * it is synchronising, expects `size` bytes and passes them to
 * imap_parser_literal_data(). -1 when it passes the limits: the result is
 * then that of IMAP_PARSE_ERROR (check imap_parser_skip_size()). */
int imap_parser_literal_keep(struct imap_parser *p);
/* The caller reads the literal bytes itself (APPEND's message) and then
 * feeds the next line; the argument is recorded as streamed. */
void imap_parser_literal_stream(struct imap_parser *p);
/* Refuse the literal (APPENDLIMIT, quota): the command fails with `text`
 * (static), as NO when `no`; a non-synchronising literal is skipped. */
void imap_parser_literal_reject(struct imap_parser *p, const char *text, bool no);

/* A chunk of a kept or skipped literal, as the line reader delivers it. */
void imap_parser_literal_data(struct imap_parser *p, const void *data, size_t len);

/* After IMAP_PARSE_ERROR or IMAP_PARSE_SKIP (or a refused literal): true
 * when a non-synchronising literal of *size_r bytes is on its way; expect it
 * and pass it to imap_parser_literal_data(), which drops it. */
bool imap_parser_skip_size(const struct imap_parser *p, uint64_t *size_r);

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p);

/* After IMAP_PARSE_COMMAND: the command, now the caller's. */
struct imap_command *imap_parser_take_command(struct imap_parser *p);
void imap_command_free(struct imap_command **cmd);

/* Accessors for command code: the text of an astring (atom, NIL, quoted or
 * kept literal) or NULL; the text of an atom or NULL. */
const char *imap_arg_astring(const struct imap_arg *arg);
const char *imap_arg_atom(const struct imap_arg *arg);
/* ASCII case-insensitive comparison of an atom with a keyword. */
bool imap_arg_atom_is(const struct imap_arg *arg, const char *keyword);

#endif
