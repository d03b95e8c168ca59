#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime-address.h"
#include "mime-header.h"
#include "xalloc.h"

/* A small lexer over the unfolded value: words (atoms and quoted strings),
 * specials, comments and domain literals. */
enum mime_tok_kind { TOK_END, TOK_ATOM, TOK_QUOTED, TOK_COMMENT, TOK_LITERAL, TOK_SPECIAL };

struct mime_tok {
	enum mime_tok_kind kind;
	char special;
	struct buf text;
};

struct mime_alex {
	const char *p, *end;
	struct mime_address *head, **tail;
	size_t count;
};

static bool mime_atext(unsigned char c)
{
	return c > ' ' && c != 0x7F && strchr("()<>@,;:\\\".[]", c) == NULL;
}

/* Read a delimited run (quoted string, comment, domain literal) after its
 * opening character; nested parentheses count in comments. */
static void mime_alex_delimited(struct mime_alex *lx, char close, bool nest, bool keep_delims,
				struct buf *out)
{
	int depth = 1;

	while (lx->p < lx->end) {
		char c = *lx->p++;

		if (c == '\\' && lx->p < lx->end) {
			buf_append_char(out, *lx->p++);
			continue;
		}
		if (nest && c == '(')
			depth++;
		else if (c == close && --depth == 0)
			break;
		buf_append_char(out, c);
	}
	if (keep_delims)
		buf_append_char(out, close);
}

static void mime_alex_next(struct mime_alex *lx, struct mime_tok *t)
{
	buf_reset(&t->text);
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p >= lx->end) {
		t->kind = TOK_END;
		return;
	}
	char c = *lx->p++;

	if (c == '"') {
		t->kind = TOK_QUOTED;
		mime_alex_delimited(lx, '"', false, false, &t->text);
	} else if (c == '(') {
		t->kind = TOK_COMMENT;
		mime_alex_delimited(lx, ')', true, false, &t->text);
	} else if (c == '[') {
		t->kind = TOK_LITERAL;
		buf_append_char(&t->text, '[');
		mime_alex_delimited(lx, ']', false, true, &t->text);
	} else if (mime_atext((unsigned char)c)) {
		t->kind = TOK_ATOM;
		buf_append_char(&t->text, c);
		while (lx->p < lx->end && mime_atext((unsigned char)*lx->p))
			buf_append_char(&t->text, *lx->p++);
	} else {
		t->kind = TOK_SPECIAL;
		t->special = c;
	}
}

static bool mime_tok_is(const struct mime_tok *t, char special)
{
	return t->kind == TOK_SPECIAL && t->special == special;
}

static void mime_address_add(struct mime_alex *lx, char *name, char *route, char *mailbox,
			     char *host)
{
	struct mime_address *a;

	if (lx->count >= MIME_ADDRESS_MAX) {
		free(name);
		free(route);
		free(mailbox);
		free(host);
		return;
	}
	a = xcalloc(1, sizeof(*a));
	a->name = name;
	a->route = route;
	a->mailbox = mailbox;
	a->host = host;
	*lx->tail = a;
	lx->tail = &a->next;
	lx->count++;
}

static char *mime_buf_take(struct buf *b)
{
	return b->len == 0 ? NULL : buf_steal(b);
}

/* Append a word to a phrase, one space between words. */
static void mime_phrase_add(struct buf *phrase, const struct buf *word)
{
	if (phrase->len > 0)
		buf_append_char(phrase, ' ');
	buf_append(phrase, word->data, word->len);
}

/* Route and addr-spec inside "<...>"; t holds the token after '<'. */
static void mime_angle_addr(struct mime_alex *lx, struct mime_tok *t, char *name)
{
	struct buf route, local, domain;
	struct buf *cur;

	buf_init(&route, BUF_NO_LIMIT);
	buf_init(&local, BUF_NO_LIMIT);
	buf_init(&domain, BUF_NO_LIMIT);
	if (mime_tok_is(t, '@')) {
		/* Obsolete route "@a,@b:" up to its colon. */
		while (t->kind != TOK_END && !mime_tok_is(t, ':') && !mime_tok_is(t, '>')) {
			if (t->kind == TOK_SPECIAL)
				buf_append_char(&route, t->special);
			else if (t->kind != TOK_COMMENT)
				buf_append(&route, t->text.data, t->text.len);
			mime_alex_next(lx, t);
		}
		if (mime_tok_is(t, ':'))
			mime_alex_next(lx, t);
	}
	cur = &local;
	while (t->kind != TOK_END && !mime_tok_is(t, '>')) {
		if (mime_tok_is(t, '@') && cur == &local)
			cur = &domain;
		else if (t->kind == TOK_SPECIAL)
			buf_append_char(cur, t->special);
		else if (t->kind != TOK_COMMENT)
			buf_append(cur, t->text.data, t->text.len);
		mime_alex_next(lx, t);
	}
	if (mime_tok_is(t, '>'))
		mime_alex_next(lx, t);
	mime_address_add(lx, name, mime_buf_take(&route), buf_steal(&local),
			 domain.len > 0 ? buf_steal(&domain) : xstrdup(MIME_ADDRESS_MISSING_DOMAIN));
	buf_free(&route);
	buf_free(&local);
	buf_free(&domain);
}

/* One mailbox, or a group when allow_group; t holds its first token and
 * on return the token that ended it (',' ';' or the end). */
static void mime_mailbox(struct mime_alex *lx, struct mime_tok *t, bool allow_group);

static void mime_group(struct mime_alex *lx, struct mime_tok *t, struct buf *phrase)
{
	mime_address_add(lx, NULL, NULL, buf_steal(phrase), NULL);
	mime_alex_next(lx, t);
	while (t->kind != TOK_END && !mime_tok_is(t, ';')) {
		if (mime_tok_is(t, ',')) {
			mime_alex_next(lx, t);
			continue;
		}
		mime_mailbox(lx, t, false);
	}
	if (mime_tok_is(t, ';'))
		mime_alex_next(lx, t);
	mime_address_add(lx, NULL, NULL, NULL, NULL);
}

static void mime_mailbox(struct mime_alex *lx, struct mime_tok *t, bool allow_group)
{
	struct buf phrase, spec, domain, comment;
	bool at = false;

	buf_init(&phrase, BUF_NO_LIMIT);
	buf_init(&spec, BUF_NO_LIMIT);
	buf_init(&domain, BUF_NO_LIMIT);
	buf_init(&comment, BUF_NO_LIMIT);
	/* The phrase (words with single spaces) and the addr-spec (the same
	 * words glued) are gathered together until it is clear which it is. */
	while (t->kind != TOK_END && !mime_tok_is(t, ',') && !mime_tok_is(t, ';')) {
		if (mime_tok_is(t, '<')) {
			mime_alex_next(lx, t);
			mime_angle_addr(lx, t, mime_buf_take(&phrase));
			/* Anything up to the next comma is ignored. */
			while (t->kind != TOK_END && !mime_tok_is(t, ',') && !mime_tok_is(t, ';'))
				mime_alex_next(lx, t);
			goto out;
		}
		if (mime_tok_is(t, ':') && allow_group && !at) {
			mime_group(lx, t, &phrase);
			goto out;
		}
		if (t->kind == TOK_COMMENT) {
			buf_reset(&comment);
			buf_append(&comment, t->text.data, t->text.len);
		} else if (mime_tok_is(t, '@') && !at)
			at = true;
		else if (t->kind == TOK_SPECIAL) {
			buf_append_char(at ? &domain : &spec, t->special);
			if (!at)
				buf_append_char(&phrase, t->special);
		} else {
			buf_append(at ? &domain : &spec, t->text.data, t->text.len);
			if (!at)
				mime_phrase_add(&phrase, &t->text);
		}
		mime_alex_next(lx, t);
	}
	if (spec.len > 0 || at)
		mime_address_add(lx, mime_buf_take(&comment), NULL, buf_steal(&spec),
				 domain.len > 0 ? buf_steal(&domain) :
				 xstrdup(MIME_ADDRESS_MISSING_DOMAIN));
out:
	buf_free(&phrase);
	buf_free(&spec);
	buf_free(&domain);
	buf_free(&comment);
}

struct mime_address *mime_address_parse(const char *value, size_t len)
{
	char *s = mime_header_unfold(value, len);
	struct mime_alex lx = { s, s + strlen(s), NULL, NULL, 0 };
	struct mime_tok t = { .kind = TOK_END };

	lx.tail = &lx.head;
	buf_init(&t.text, BUF_NO_LIMIT);
	mime_alex_next(&lx, &t);
	while (t.kind != TOK_END) {
		if (mime_tok_is(&t, ',') || mime_tok_is(&t, ';')) {
			mime_alex_next(&lx, &t);
			continue;
		}
		mime_mailbox(&lx, &t, true);
	}
	buf_free(&t.text);
	free(s);
	return lx.head;
}

void mime_address_free(struct mime_address **list)
{
	struct mime_address *a = *list, *next;

	for (; a != NULL; a = next) {
		next = a->next;
		free(a->name);
		free(a->route);
		free(a->mailbox);
		free(a->host);
		free(a);
	}
	*list = NULL;
}
