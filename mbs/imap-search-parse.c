#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-search-parse.h"
#include "imap-utf7.h"
#include "mime-charset.h"
#include "xalloc.h"

enum key_kind {
	K_ALL, K_FLAG, K_UNFLAG, K_RECENT, K_NEW, K_OLD, K_KEYWORD, K_UNKEYWORD,
	K_DATE, K_SENTDATE, K_SIZE, K_HEADER_NAMED, K_HEADER, K_BODY, K_TEXT,
	K_NOT, K_OR, K_UID,
};

static const struct search_key {
	const char *name;
	enum key_kind kind;
	unsigned value;   /* flag bit or enum imap_search_op */
} search_keys[] = {
	{ "ALL", K_ALL, 0 },
	{ "ANSWERED", K_FLAG, IMAP_FLAG_ANSWERED },
	{ "DELETED", K_FLAG, IMAP_FLAG_DELETED },
	{ "DRAFT", K_FLAG, IMAP_FLAG_DRAFT },
	{ "FLAGGED", K_FLAG, IMAP_FLAG_FLAGGED },
	{ "SEEN", K_FLAG, IMAP_FLAG_SEEN },
	{ "UNANSWERED", K_UNFLAG, IMAP_FLAG_ANSWERED },
	{ "UNDELETED", K_UNFLAG, IMAP_FLAG_DELETED },
	{ "UNDRAFT", K_UNFLAG, IMAP_FLAG_DRAFT },
	{ "UNFLAGGED", K_UNFLAG, IMAP_FLAG_FLAGGED },
	{ "UNSEEN", K_UNFLAG, IMAP_FLAG_SEEN },
	{ "RECENT", K_RECENT, 0 },
	{ "NEW", K_NEW, 0 },
	{ "OLD", K_OLD, 0 },
	{ "KEYWORD", K_KEYWORD, 0 },
	{ "UNKEYWORD", K_UNKEYWORD, 0 },
	{ "BEFORE", K_DATE, IMAP_SEARCH_BEFORE },
	{ "ON", K_DATE, IMAP_SEARCH_ON },
	{ "SINCE", K_DATE, IMAP_SEARCH_SINCE },
	{ "SENTBEFORE", K_SENTDATE, IMAP_SEARCH_BEFORE },
	{ "SENTON", K_SENTDATE, IMAP_SEARCH_ON },
	{ "SENTSINCE", K_SENTDATE, IMAP_SEARCH_SINCE },
	{ "LARGER", K_SIZE, IMAP_SEARCH_LARGER },
	{ "SMALLER", K_SIZE, IMAP_SEARCH_SMALLER },
	{ "BCC", K_HEADER_NAMED, 0 },
	{ "CC", K_HEADER_NAMED, 0 },
	{ "FROM", K_HEADER_NAMED, 0 },
	{ "SUBJECT", K_HEADER_NAMED, 0 },
	{ "TO", K_HEADER_NAMED, 0 },
	{ "HEADER", K_HEADER, 0 },
	{ "BODY", K_BODY, 0 },
	{ "TEXT", K_TEXT, 0 },
	{ "NOT", K_NOT, 0 },
	{ "OR", K_OR, 0 },
	{ "UID", K_UID, 0 },
};

struct search_cursor {
	const struct imap_arg *args;
	size_t count, pos;
	const char *error;
	const char *charset;   /* CHARSET other than UTF-8 and US-ASCII, else NULL */
};

static void node_free(struct imap_search_node *node)
{
	while (node != NULL) {
		struct imap_search_node *next = node->next;

		node_free(node->child);
		free(node->header);
		free(node->value);
		imap_seqset_free(&node->set);
		free(node);
		node = next;
	}
}

void imap_search_program_free(struct imap_search_program *prog)
{
	node_free(prog->root);
	prog->root = NULL;
}

static struct imap_search_node *node_new(enum imap_search_type type)
{
	struct imap_search_node *node = xcalloc(1, sizeof(*node));

	node->type = type;
	return node;
}

static struct imap_search_node *node_not(struct imap_search_node *child)
{
	struct imap_search_node *node = node_new(IMAP_SEARCH_NOT);

	node->child = child;
	return node;
}

static struct imap_search_node *node_flag(unsigned flag)
{
	struct imap_search_node *node = node_new(IMAP_SEARCH_FLAG);

	node->flag = flag;
	return node;
}

static const struct imap_arg *next_arg(struct search_cursor *cur, const char *missing)
{
	if (cur->pos >= cur->count) {
		cur->error = missing;
		return NULL;
	}
	return &cur->args[cur->pos++];
}

/* An astring argument: UTF-8, or text in the CHARSET given, which
 * becomes UTF-8 here (bytes it does not have become U+FFFD). */
static char *string_arg(struct search_cursor *cur)
{
	const struct imap_arg *arg = next_arg(cur, "Missing SEARCH string");
	const char *s = imap_arg_astring(arg);

	if (arg == NULL)
		return NULL;
	if (s != NULL && cur->charset != NULL) {
		struct buf b;

		buf_init(&b, BUF_NO_LIMIT);
		if (mime_charset_to_utf8(cur->charset, s, arg->len, &b) < 0 ||
		    buf_append_char(&b, '\0') < 0) {
			buf_free(&b);
			cur->error = "SEARCH string cannot be converted";
			return NULL;
		}
		return buf_steal(&b);
	}
	if (s == NULL || imap_utf8_validate(s, arg->len) < 0) {
		cur->error = s == NULL ? "SEARCH string expected" : "SEARCH string is not UTF-8";
		return NULL;
	}
	return xstrdup(s);
}

static int number_arg(struct search_cursor *cur, uint64_t *n_r)
{
	const char *s = imap_arg_atom(next_arg(cur, "Missing SEARCH number"));
	uint64_t n = 0;

	if (s == NULL || *s == '\0')
		return cur->error = cur->error != NULL ? cur->error : "SEARCH number expected", -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_C(1) << 62))
			return cur->error = "Invalid SEARCH number", -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*n_r = n;
	return 0;
}

static int date_arg(struct search_cursor *cur, struct imap_date *date_r)
{
	const struct imap_arg *arg = next_arg(cur, "Missing SEARCH date");

	if (arg == NULL)
		return -1;
	if ((arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_QUOTED) ||
	    imap_date_parse(arg->str, date_r, &cur->error) < 0)
		return cur->error = "Invalid SEARCH date (d-Mon-yyyy)", -1;
	return 0;
}

static int seqset_arg(struct search_cursor *cur, const struct imap_arg *arg,
		      struct imap_search_node *node)
{
	const char *s = imap_arg_atom(arg);

	if (s == NULL) {
		cur->error = cur->error != NULL ? cur->error : "Sequence set expected";
		return -1;
	}
	return imap_seqset_parse(s, 0, &node->set, &cur->error);
}

static struct imap_search_node *parse_key(struct search_cursor *cur, size_t depth);

/* Keys that take arguments other than sub-keys. */
static int key_args_parse(struct search_cursor *cur, const struct search_key *key,
			  struct imap_search_node *node)
{
	switch (key->kind) {
	case K_KEYWORD:
	case K_UNKEYWORD:
		node->value = string_arg(cur);
		return node->value == NULL ? -1 : 0;
	case K_DATE:
	case K_SENTDATE:
		node->op = (enum imap_search_op)key->value;
		node->sent = key->kind == K_SENTDATE;
		return date_arg(cur, &node->date);
	case K_SIZE:
		node->op = (enum imap_search_op)key->value;
		return number_arg(cur, &node->size);
	case K_HEADER_NAMED:
		node->header = xstrdup(key->name);
		node->value = string_arg(cur);
		return node->value == NULL ? -1 : 0;
	case K_HEADER:
		node->header = string_arg(cur);
		if (node->header == NULL)
			return -1;
		node->value = string_arg(cur);
		return node->value == NULL ? -1 : 0;
	case K_BODY:
	case K_TEXT:
		node->value = string_arg(cur);
		return node->value == NULL ? -1 : 0;
	case K_UID:
		return seqset_arg(cur, next_arg(cur, "Missing UID set"), node);
	default:
		return 0;
	}
}

static const enum imap_search_type key_types[] = {
	[K_ALL] = IMAP_SEARCH_ALL, [K_FLAG] = IMAP_SEARCH_FLAG, [K_UNFLAG] = IMAP_SEARCH_FLAG,
	[K_RECENT] = IMAP_SEARCH_RECENT, [K_NEW] = IMAP_SEARCH_RECENT,
	[K_OLD] = IMAP_SEARCH_RECENT, [K_KEYWORD] = IMAP_SEARCH_KEYWORD,
	[K_UNKEYWORD] = IMAP_SEARCH_KEYWORD, [K_DATE] = IMAP_SEARCH_DATE,
	[K_SENTDATE] = IMAP_SEARCH_DATE, [K_SIZE] = IMAP_SEARCH_SIZE,
	[K_HEADER_NAMED] = IMAP_SEARCH_HEADER, [K_HEADER] = IMAP_SEARCH_HEADER,
	[K_BODY] = IMAP_SEARCH_BODY, [K_TEXT] = IMAP_SEARCH_TEXT,
	[K_NOT] = IMAP_SEARCH_NOT, [K_OR] = IMAP_SEARCH_OR, [K_UID] = IMAP_SEARCH_UID,
};

/* A named key; shorthands are expanded here. */
static struct imap_search_node *parse_named(struct search_cursor *cur,
					    const struct search_key *key, size_t depth)
{
	struct imap_search_node *node = node_new(key_types[key->kind]), *and;

	node->flag = key->value;
	if (key->kind == K_NOT || key->kind == K_OR) {
		node->child = parse_key(cur, depth + 1);
		if (node->child != NULL && key->kind == K_OR)
			node->child->next = parse_key(cur, depth + 1);
		if (node->child == NULL || (key->kind == K_OR && node->child->next == NULL))
			goto fail;
		return node;
	}
	if (key_args_parse(cur, key, node) < 0)
		goto fail;
	switch (key->kind) {
	case K_UNFLAG:
	case K_OLD:
	case K_UNKEYWORD:
		return node_not(node);
	case K_NEW:
		and = node_new(IMAP_SEARCH_AND);
		and->child = node;
		node->next = node_not(node_flag(IMAP_FLAG_SEEN));
		return and;
	default:
		return node;
	}
fail:
	node_free(node);
	return NULL;
}

/* Keys until the end of `args` into a new AND node's children. */
static struct imap_search_node *parse_group(struct search_cursor *cur, size_t depth)
{
	struct imap_search_node *and = node_new(IMAP_SEARCH_AND), **tail = &and->child;

	if (cur->pos >= cur->count) {
		cur->error = "Empty SEARCH criteria";
		node_free(and);
		return NULL;
	}
	while (cur->pos < cur->count) {
		*tail = parse_key(cur, depth);
		if (*tail == NULL) {
			node_free(and);
			return NULL;
		}
		tail = &(*tail)->next;
	}
	return and;
}

static struct imap_search_node *parse_key(struct search_cursor *cur, size_t depth)
{
	const struct imap_arg *arg = next_arg(cur, "Missing SEARCH key");
	struct imap_search_node *node;

	if (arg == NULL)
		return NULL;
	if (depth >= IMAP_SEARCH_MAX_DEPTH) {
		cur->error = "SEARCH criteria nested too deeply";
		return NULL;
	}
	if (arg->type == IMAP_ARG_LIST) {
		struct search_cursor sub = { arg->list, arg->count, 0, NULL, cur->charset };

		node = parse_group(&sub, depth + 1);
		cur->error = sub.error;
		return node;
	}
	if (arg->type != IMAP_ARG_ATOM) {
		cur->error = "SEARCH key expected";
		return NULL;
	}
	for (size_t i = 0; i < sizeof(search_keys) / sizeof(search_keys[0]); i++)
		if (strcasecmp(arg->str, search_keys[i].name) == 0)
			return parse_named(cur, &search_keys[i], depth);
	if ((arg->str[0] >= '0' && arg->str[0] <= '9') || arg->str[0] == '*' ||
	    arg->str[0] == '$') {
		node = node_new(IMAP_SEARCH_SEQSET);
		if (seqset_arg(cur, arg, node) < 0) {
			node_free(node);
			return NULL;
		}
		return node;
	}
	cur->error = "Unknown SEARCH key";
	return NULL;
}

#define SEARCH_CHARSETS "UTF-8 US-ASCII ISO-8859-1 ISO-8859-15 WINDOWS-1252"

/* The charsets mime_charset_to_utf8() converts with its own tables.
 * Others would need iconv_open(), which may read gconv modules from disk:
 * not on the loop thread, where SEARCH is parsed. */
static bool search_charset_known(const char *charset)
{
	static const char *const tables[] = {
		"ISO-8859-1", "LATIN1", "ISO-8859-15", "WINDOWS-1252", "CP1252",
	};

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (strcasecmp(charset, tables[i]) == 0)
			return true;
	return false;
}

static int charset_parse(struct search_cursor *cur, struct imap_search_program *prog)
{
	const char *charset;

	if (!imap_arg_atom_is(&cur->args[0], "CHARSET"))
		return 0;
	cur->pos = 1;
	charset = imap_arg_astring(next_arg(cur, "Missing charset"));
	if (charset == NULL) {
		cur->error = cur->error != NULL ? cur->error : "Invalid charset";
		return -1;
	}
	prog->charset_given = true;
	if (strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "US-ASCII") == 0)
		return 0;
	/* Other charsets are a MAY (RFC 3501 6.4.4); clients of the Latin-1
	 * era still send them. Those with a table are taken and their
	 * strings made UTF-8; BADCHARSET lists what is taken (RFC 3501 7.1). */
	if (!search_charset_known(charset)) {
		prog->badcharset = true;
		cur->error = "[BADCHARSET (" SEARCH_CHARSETS ")] Unsupported charset";
		return -1;
	}
	cur->charset = charset;
	return 0;
}

int imap_search_parse(const struct imap_arg *args, size_t count,
		      struct imap_search_program *prog_r, const char **error_r)
{
	struct search_cursor cur = { args, count, 0, NULL, NULL };

	memset(prog_r, 0, sizeof(*prog_r));
	if (count == 0)
		return *error_r = "Missing SEARCH criteria", -1;
	if (charset_parse(&cur, prog_r) == 0)
		prog_r->root = parse_group(&cur, 0);
	if (prog_r->root == NULL) {
		*error_r = cur.error != NULL ? cur.error : "Invalid SEARCH criteria";
		return -1;
	}
	return 0;
}
