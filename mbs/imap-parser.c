#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap-parser.h"
#include "imap-utf7.h"
#include "xalloc.h"

enum parser_state {
	ST_START,          /* the next line starts a command */
	ST_ARGS,           /* the next line continues a command after a literal */
	ST_LITERAL_WAIT,   /* a literal was announced: keep, stream or reject */
	ST_LITERAL_DATA,   /* reading a kept literal */
	ST_SKIP_DATA,      /* dropping a bad command's literal */
	ST_DISCARD,        /* the next line is the rest of a bad command */
	ST_DONE,           /* a command waits for imap_parser_take_command() */
};

struct imap_parser {
	struct imap_parser_limits lim;
	bool utf8;
	enum parser_state state;
	struct imap_command *cmd;
	struct imap_arg root;      /* the top-level arguments while parsing */
	struct imap_arg **stack;   /* open lists; stack[0] is &root */
	size_t depth;
	size_t nargs, total;
	bool need_sep;             /* an argument just ended */
	bool after_sp;             /* a separating SP was just read */
	bool after_open;           /* a "(" was just read */
	uint64_t lit_size;
	bool lit_sync;
	size_t lit_index;          /* the kept literal in stack[depth] */
	uint64_t lit_got;
	const char *lit_error;     /* a kept literal held a NUL byte */
	uint64_t skip_left;
	bool skip_pending;
	struct imap_parse_error err;
	char *err_tag;
};

void imap_parser_default_limits(struct imap_parser_limits *limits_r)
{
	limits_r->max_depth = 16;
	limits_r->max_args = 4096;
	limits_r->max_command = 1024 * 1024;
	limits_r->max_literal = 64 * 1024;
	limits_r->literal_minus = false;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	if (limits != NULL)
		p->lim = *limits;
	else
		imap_parser_default_limits(&p->lim);
	p->stack = xcalloc(p->lim.max_depth + 1, sizeof(*p->stack));
	p->stack[0] = &p->root;
	p->root.type = IMAP_ARG_LIST;
	return p;
}

static void args_free(struct imap_arg *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (list[i].type == IMAP_ARG_LIST)
			args_free(list[i].list, list[i].count);
		free(list[i].str);
	}
	free(list);
}

void imap_command_free(struct imap_command **cmdp)
{
	struct imap_command *cmd = *cmdp;

	if (cmd == NULL)
		return;
	args_free(cmd->args, cmd->count);
	free(cmd->tag);
	free(cmd->name);
	free(cmd);
	*cmdp = NULL;
}

/* Forget the command in progress (not the last error). */
static void parser_clear(struct imap_parser *p)
{
	args_free(p->root.list, p->root.count);
	p->root.list = NULL;
	p->root.count = 0;
	imap_command_free(&p->cmd);
	p->depth = 0;
	p->nargs = p->total = 0;
	p->need_sep = p->after_sp = p->after_open = false;
	p->lit_error = NULL;
	p->state = ST_START;
}

void imap_parser_reset(struct imap_parser *p)
{
	parser_clear(p);
	p->skip_pending = false;
	p->skip_left = 0;
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	parser_clear(p);
	free(p->err_tag);
	free(p->stack);
	free(p);
	*pp = NULL;
}

void imap_parser_set_utf8(struct imap_parser *p, bool on)
{
	p->utf8 = on;
}

/* "{digits[+]}" exactly; -1 when `s` is not that. *overflow_r is set when
 * the digits do not fit 64 bits. */
static int literal_spec_parse(const char *s, size_t len, uint64_t *size_r, bool *sync_r,
			      bool *overflow_r)
{
	uint64_t n = 0;
	size_t i = 1;

	*overflow_r = false;
	if (len < 3 || s[0] != '{' || s[len - 1] != '}')
		return -1;
	for (; i < len - 1 && s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			*overflow_r = true;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 1)
		return -1;
	*sync_r = true;
	if (s[i] == '+') {
		*sync_r = false;
		i++;
	}
	if (i != len - 1)
		return -1;
	*size_r = n;
	return 0;
}

/* Does a bad command's line end by announcing a non-synchronising
 * literal? Those bytes come regardless and must never be read as commands. */
static void note_trailing_literal(struct imap_parser *p, const char *data, size_t len)
{
	const char *open = len > 0 && data[len - 1] == '}' ? memrchr(data, '{', len) : NULL;
	uint64_t size;
	bool sync, overflow;

	p->skip_pending = false;
	if (open == NULL ||
	    literal_spec_parse(open, len - (size_t)(open - data), &size, &sync, &overflow) < 0 ||
	    sync)
		return;
	if (overflow) {
		p->err.fatal = true;
		return;
	}
	p->skip_pending = true;
	p->skip_left = size;
}

static void set_error(struct imap_parser *p, const char *text, bool no)
{
	free(p->err_tag);
	p->err_tag = p->cmd != NULL && p->cmd->tag != NULL ? xstrdup(p->cmd->tag) : NULL;
	p->err.tag = p->err_tag;
	p->err.text = text;
	p->err.no = no;
	p->err.fatal = false;
}

/* The command is bad: after the reply, drop what still belongs to it. */
static enum imap_parse_result parser_fail(struct imap_parser *p, const char *text, bool no,
					  const char *data, size_t len)
{
	set_error(p, text, no);
	parser_clear(p);
	note_trailing_literal(p, data, len);
	if (p->skip_pending)
		p->state = ST_SKIP_DATA;
	return IMAP_PARSE_ERROR;
}

static struct imap_arg *add_arg(struct imap_parser *p, enum imap_arg_type type,
				const char **error_r)
{
	struct imap_arg *list = p->stack[p->depth], *arg;

	if (p->nargs >= p->lim.max_args) {
		*error_r = "Too many arguments";
		return NULL;
	}
	p->nargs++;
	list->list = xreallocarray(list->list, list->count + 1, sizeof(*list->list));
	arg = &list->list[list->count++];
	memset(arg, 0, sizeof(*arg));
	arg->type = type;
	return arg;
}

static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){\"\\", c) == NULL;
}

/* ASTRING-CHAR except "+" (RFC 3501 tag). */
static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '+' && c != '%' && c != '*';
}

static const char *bad_byte_reason(unsigned char c)
{
	if (c == '\0')
		return "NUL byte in command";
	if (c >= 0x80)
		return "8-bit byte outside a quoted string";
	if (c == ' ')
		return "Unexpected space";
	return "Invalid character in argument";
}

static int parse_atom(struct imap_parser *p, const char *s, size_t len, size_t *pos,
		      const char **error_r)
{
	size_t start = *pos, i = start;
	bool bracket = false;
	struct imap_arg *arg;

	if (s[i] == '\\')
		i++;
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (bracket) {
			/* BODY[HEADER.FIELDS (A B)]: spaces and parentheses are
			 * part of the one fetch item. */
			if (c < 0x20 || c >= 0x7f)
				return *error_r = bad_byte_reason(c), -1;
			if (c == ']')
				bracket = false;
			continue;
		}
		if (c == '[')
			bracket = true;
		else if (!is_atom_char(c))
			break;
	}
	if (bracket)
		return *error_r = "Missing ] in argument", -1;
	if (i == start || (i == start + 1 && s[start] == '\\'))
		return *error_r = bad_byte_reason((unsigned char)s[i < len ? i : start]), -1;
	arg = add_arg(p, IMAP_ARG_ATOM, error_r);
	if (arg == NULL)
		return -1;
	arg->str = xstrndup(s + start, i - start);
	arg->len = i - start;
	if (arg->len == 3 && strcasecmp(arg->str, "NIL") == 0)
		arg->type = IMAP_ARG_NIL;
	*pos = i;
	return 0;
}

static int parse_quoted(struct imap_parser *p, const char *s, size_t len, size_t *pos,
			const char **error_r)
{
	size_t i = *pos + 1, n = 0;
	bool eight_bit = false;
	char *out = xmalloc(len - *pos);
	struct imap_arg *arg;

	for (; i < len && s[i] != '"'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (i + 1 >= len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				free(out);
				return *error_r = "Invalid escape in quoted string", -1;
			}
			c = (unsigned char)s[++i];
		} else if (c == '\0' || c == '\r' || c == '\n') {
			free(out);
			return *error_r = c == '\0' ? "NUL byte in command" :
				"CR or LF in quoted string", -1;
		} else if (c >= 0x80) {
			eight_bit = true;
		}
		out[n++] = (char)c;
	}
	if (i >= len) {
		free(out);
		return *error_r = "Unterminated quoted string", -1;
	}
	if (eight_bit && (!p->utf8 || imap_utf8_validate(out, n) < 0)) {
		free(out);
		return *error_r = p->utf8 ? "Invalid UTF-8 in quoted string" :
			"8-bit byte in quoted string (UTF8=ACCEPT not enabled)", -1;
	}
	out[n] = '\0';
	arg = add_arg(p, IMAP_ARG_QUOTED, error_r);
	if (arg == NULL) {
		free(out);
		return -1;
	}
	arg->str = out;
	arg->len = n;
	*pos = i + 1;
	return 0;
}

/* A literal announcement must end the line. 1: announced. */
static int parse_literal(struct imap_parser *p, const char *s, size_t len, size_t pos,
			 const char **error_r)
{
	bool overflow;

	if (literal_spec_parse(s + pos, len - pos, &p->lit_size, &p->lit_sync, &overflow) < 0)
		return *error_r = memchr(s + pos, '}', len - pos) != NULL &&
			s[len - 1] == '}' ? "Invalid literal size" : "Literal not at end of line", -1;
	if (overflow || p->lit_size > UINT32_MAX)
		return *error_r = "Literal size too large", -1;
	if (!p->lit_sync && p->lim.literal_minus && p->lit_size > IMAP_LITERAL_MINUS_MAX)
		return *error_r = "Non-synchronizing literal over 4096 bytes (LITERAL-)", -1;
	return 1;
}

/* A token where an argument may start. 1: a literal was announced. */
static int parse_arg_start(struct imap_parser *p, const char *s, size_t len, size_t *pos,
			   const char **error_r)
{
	char c = s[*pos];
	struct imap_arg *arg;

	switch (c) {
	case '(':
		if (p->depth >= p->lim.max_depth)
			return *error_r = "Too deeply nested parentheses", -1;
		arg = add_arg(p, IMAP_ARG_LIST, error_r);
		if (arg == NULL)
			return -1;
		p->stack[++p->depth] = arg;
		p->after_open = true;
		(*pos)++;
		return 0;
	case ')':
		if (!p->after_open)
			return *error_r = "Unexpected )", -1;
		p->depth--;
		p->after_open = false;
		p->need_sep = true;
		(*pos)++;
		return 0;
	case '"':
		p->after_open = false;
		p->need_sep = true;
		return parse_quoted(p, s, len, pos, error_r);
	case '{':
		return parse_literal(p, s, len, *pos, error_r);
	case '~':
		if (*pos + 1 < len && s[*pos + 1] == '{')
			return *error_r = "literal8 is not supported (no BINARY)", -1;
		break;
	default:
		break;
	}
	p->after_open = false;
	p->need_sep = true;
	return parse_atom(p, s, len, pos, error_r);
}

/* After an argument: SP, ")" or the end of the line. */
static int parse_separator(struct imap_parser *p, const char *s, size_t *pos,
			   const char **error_r)
{
	if (s[*pos] == ' ') {
		p->need_sep = false;
		p->after_sp = true;
	} else if (s[*pos] == ')') {
		if (p->depth == 0)
			return *error_r = "Unexpected )", -1;
		p->depth--;
	} else {
		unsigned char c = (unsigned char)s[*pos];

		return *error_r = c < 0x20 || c >= 0x7f ? bad_byte_reason(c) :
			"Missing space between arguments", -1;
	}
	(*pos)++;
	return 0;
}

/* The arguments on one line. 1: the line ends in a literal, 0: it ends
 * the command. */
static int parse_args(struct imap_parser *p, const char *s, size_t len, size_t pos,
		      const char **error_r)
{
	while (pos < len) {
		int ret;

		if (p->need_sep) {
			ret = parse_separator(p, s, &pos, error_r);
		} else {
			if (p->after_sp && s[pos] == ')')
				return *error_r = "Unexpected space before )", -1;
			p->after_sp = false;
			ret = parse_arg_start(p, s, len, &pos, error_r);
		}
		if (ret != 0)
			return ret;
	}
	if (p->after_sp)
		return *error_r = "Trailing space", -1;
	if (p->depth > 0)
		return *error_r = "Missing )", -1;
	return 0;
}

/* "tag SP name [SP ...]"; the arguments start at *pos. */
static int parse_tag_name(struct imap_parser *p, const char *s, size_t len, size_t *pos,
			  const char **error_r)
{
	size_t i = 0, start;

	while (i < len && is_tag_char((unsigned char)s[i]))
		i++;
	if (i == 0)
		return *error_r = len == 0 ? "Empty command line" : "Missing or invalid tag", -1;
	if (i < len && s[i] != ' ')
		return *error_r = "Invalid character in tag", -1;
	p->cmd = xcalloc(1, sizeof(*p->cmd));
	p->cmd->tag = xstrndup(s, i);
	for (int word = 0; word < 2; word++) {
		if (i >= len || s[i] != ' ')
			return *error_r = word == 0 ? "Missing command name" :
				"Missing command after UID", -1;
		start = ++i;
		while (i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
				   (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			i++;
		if (i == start || (i < len && s[i] != ' '))
			return *error_r = "Invalid command name", -1;
		free(p->cmd->name);
		p->cmd->name = xstrndup(s + start, i - start);
		for (char *c = p->cmd->name; *c != '\0'; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
		if (word == 1 || strcmp(p->cmd->name, "UID") != 0)
			break;
		p->cmd->uid = true;
	}
	p->need_sep = true;
	*pos = i;
	return 0;
}

static enum imap_parse_result parser_finish(struct imap_parser *p)
{
	p->cmd->args = p->root.list;
	p->cmd->count = p->root.count;
	p->root.list = NULL;
	p->root.count = 0;
	p->state = ST_DONE;
	return IMAP_PARSE_COMMAND;
}

enum imap_parse_result imap_parser_line(struct imap_parser *p, const char *data, size_t len)
{
	const char *error = NULL;
	size_t pos = 0;
	int ret;

	if (p->state == ST_DISCARD) {
		parser_clear(p);
		note_trailing_literal(p, data, len);
		if (!p->skip_pending)
			return IMAP_PARSE_NONE;
		p->state = ST_SKIP_DATA;
		return IMAP_PARSE_SKIP;
	}
	if (p->state != ST_ARGS) {
		/* A finished command not taken, or a caller that fed a line
		 * where literal bytes were due: start afresh. */
		parser_clear(p);
		p->skip_pending = false;
	}
	if (p->state == ST_START && parse_tag_name(p, data, len, &pos, &error) < 0)
		return parser_fail(p, error, false, data, len);
	p->total += len + 2;
	if (p->total > p->lim.max_command)
		return parser_fail(p, "Command too long", false, data, len);
	if (p->lit_error != NULL)
		return parser_fail(p, p->lit_error, false, data, len);
	ret = parse_args(p, data, len, pos, &error);
	if (ret < 0)
		return parser_fail(p, error, false, data, len);
	if (ret == 0)
		return parser_finish(p);
	p->state = ST_LITERAL_WAIT;
	return IMAP_PARSE_LITERAL;
}

uint64_t imap_parser_literal_size(const struct imap_parser *p)
{
	return p->lit_size;
}

bool imap_parser_literal_sync(const struct imap_parser *p)
{
	return p->lit_sync;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->cmd != NULL ? p->cmd->tag : NULL;
}

const char *imap_parser_name(const struct imap_parser *p)
{
	return p->cmd != NULL ? p->cmd->name : NULL;
}

size_t imap_parser_depth(const struct imap_parser *p)
{
	return p->depth;
}

size_t imap_parser_arg_count(const struct imap_parser *p)
{
	return p->root.count;
}

/* Refuse the announced literal: a synchronising one is never sent, a
 * non-synchronising one is on its way and is dropped. */
static void literal_refuse(struct imap_parser *p, const char *text, bool no)
{
	bool sync = p->lit_sync;
	uint64_t size = p->lit_size;

	set_error(p, text, no);
	parser_clear(p);
	p->skip_pending = !sync;
	p->skip_left = size;
	if (!sync)
		p->state = size > 0 ? ST_SKIP_DATA : ST_DISCARD;
}

static void literal_done(struct imap_parser *p)
{
	p->state = ST_ARGS;
	p->need_sep = true;
	p->after_open = false;
}

int imap_parser_literal_keep(struct imap_parser *p)
{
	const char *error;
	struct imap_arg *arg;

	if (p->lit_size > p->lim.max_literal) {
		literal_refuse(p, "[TOOBIG] Literal too large", true);
		return -1;
	}
	if (p->total + p->lit_size > p->lim.max_command) {
		literal_refuse(p, "Command too long", false);
		return -1;
	}
	arg = add_arg(p, IMAP_ARG_LITERAL, &error);
	if (arg == NULL) {
		literal_refuse(p, error, false);
		return -1;
	}
	p->total += (size_t)p->lit_size;
	arg->str = xmalloc((size_t)p->lit_size + 1);
	arg->str[p->lit_size] = '\0';
	arg->len = (size_t)p->lit_size;
	p->lit_index = p->stack[p->depth]->count - 1;
	p->lit_got = 0;
	p->state = ST_LITERAL_DATA;
	if (p->lit_size == 0)
		literal_done(p);
	return 0;
}

void imap_parser_literal_stream(struct imap_parser *p)
{
	const char *error;
	struct imap_arg *arg = add_arg(p, IMAP_ARG_LITERAL, &error);

	if (arg == NULL) {
		literal_refuse(p, error, false);
		return;
	}
	arg->streamed = true;
	arg->len = (size_t)p->lit_size;
	literal_done(p);
}

void imap_parser_literal_reject(struct imap_parser *p, const char *text, bool no)
{
	literal_refuse(p, text, no);
}

void imap_parser_literal_data(struct imap_parser *p, const void *data, size_t len)
{
	if (p->state == ST_SKIP_DATA) {
		p->skip_left -= len < p->skip_left ? len : p->skip_left;
		if (p->skip_left == 0) {
			p->skip_pending = false;
			p->state = ST_DISCARD;
		}
		return;
	}
	if (p->state != ST_LITERAL_DATA)
		return;
	struct imap_arg *arg = &p->stack[p->depth]->list[p->lit_index];
	uint64_t left = p->lit_size - p->lit_got;
	size_t n = len < left ? len : (size_t)left;

	if (memchr(data, '\0', n) != NULL)
		p->lit_error = "NUL byte in literal";
	memcpy(arg->str + p->lit_got, data, n);
	p->lit_got += n;
	if (p->lit_got == p->lit_size)
		literal_done(p);
}

bool imap_parser_skip_size(const struct imap_parser *p, uint64_t *size_r)
{
	if (!p->skip_pending)
		return false;
	*size_r = p->skip_left;
	return true;
}

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

struct imap_command *imap_parser_take_command(struct imap_parser *p)
{
	struct imap_command *cmd;

	if (p->state != ST_DONE)
		return NULL;
	cmd = p->cmd;
	p->cmd = NULL;
	parser_clear(p);
	return cmd;
}

const char *imap_arg_astring(const struct imap_arg *arg)
{
	if (arg == NULL || arg->type == IMAP_ARG_LIST || arg->streamed)
		return NULL;
	if (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) {
		/* Flags, wildcards and BODY[...] items are atoms, not astrings. */
		if (arg->str[0] == '\\' || strpbrk(arg->str, "%* ()\"") != NULL)
			return NULL;
	}
	return arg->str;
}

const char *imap_arg_atom(const struct imap_arg *arg)
{
	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL))
		return NULL;
	return arg->str;
}

bool imap_arg_atom_is(const struct imap_arg *arg, const char *keyword)
{
	const char *s = imap_arg_atom(arg);

	return s != NULL && strcasecmp(s, keyword) == 0;
}
