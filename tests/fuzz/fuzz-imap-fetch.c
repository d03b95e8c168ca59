/* fuzz-deps: mbs/imap-msg.c mbs/imap-fetch.c mbs/imap-search.c mbs/imap-bodystructure.c mbs/imap-parser.c mbs/imap-utf7.c mbs/imap-seqset.c mbs/imap-args.c mbs/imap-fetch-parse.c mbs/imap-search-parse.c lib/mime.c lib/mime-header.c lib/mime-address.c lib/mime-charset.c lib/mime-decode.c lib/base64.c lib/buf.c lib/xalloc.c lib/log.c */
/* libFuzzer target for FETCH rendering and SEARCH matching on one message
 * (mbs/imap-msg.h). Byte 0 picks FETCH or SEARCH and the message's flags;
 * the text up to the first LF is the command's arguments, parsed as a
 * session parses them; the rest is the message. Whatever the bytes: no
 * crash, every FETCH reply is well formed with literals of exactly their
 * announced size (no NUL, no bare LF unless a partial fetch cut a CRLF),
 * what needs_data() calls unneeded makes no difference when the bytes are
 * missing, a pre-parsed MIME tree makes none either, and NOT inverts a
 * SEARCH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../mbs/imap-msg-private.h"
#include "../../mbs/imap-parser.h"
#include "buf.h"
#include "xalloc.h"
#include "fuzz.h"

static struct imap_command *fuzz_command(const char *prefix, const char *text, size_t len)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_command *cmd = NULL;
	struct buf line;

	buf_init(&line, BUF_NO_LIMIT);
	buf_append_str(&line, prefix);
	buf_append(&line, text, len);
	imap_parser_set_utf8(p, true);
	if (imap_parser_line(p, line.data, line.len) == IMAP_PARSE_COMMAND)
		cmd = imap_parser_take_command(p);
	imap_parser_free(&p);
	buf_free(&line);
	return cmd;
}

/* "* 1 FETCH (...)\r\n" with every literal's size right. */
static void fuzz_reply_check(const char *s, size_t len, bool partial)
{
	int depth = 0;

	FUZZ_ASSERT(len > 14 && memcmp(s, "* 1 FETCH (", 11) == 0);
	for (size_t i = 10; i < len; i++) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				i += s[i] == '\\';
			FUZZ_ASSERT(i < len);
		} else if (s[i] == '{') {
			char *end;
			unsigned long long n = strtoull(s + i + 1, &end, 10);
			size_t start = (size_t)(end - s) + 3;

			FUZZ_ASSERT(end[0] == '}' && end[1] == '\r' && end[2] == '\n');
			FUZZ_ASSERT(start + n <= len);
			FUZZ_ASSERT(memchr(s + start, '\0', n) == NULL);
			for (size_t j = start; j < start + n && !partial; j++)
				FUZZ_ASSERT(s[j] != '\n' || (j > start && s[j - 1] == '\r'));
			i = start + n - 1;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			FUZZ_ASSERT(depth > 0);
			if (--depth == 0) {
				FUZZ_ASSERT(i + 3 == len && s[i + 1] == '\r' && s[i + 2] == '\n');
				return;
			}
		} else {
			FUZZ_ASSERT(s[i] != '\r' && s[i] != '\n' && s[i] != '\0');
		}
	}
	FUZZ_ASSERT(!"reply not closed");
}

static void fuzz_fetch(const struct imap_command *cmd, struct imap_msg *m)
{
	struct imap_fetch_items items;
	const char *error, *data = m->data;
	struct buf a, b;
	bool partial = false;

	if (imap_fetch_parse(cmd->args, cmd->count, &items, &error) < 0)
		return;
	for (size_t i = 0; i < items.body_count; i++)
		partial |= items.bodies[i].partial;
	buf_init(&a, BUF_NO_LIMIT);
	buf_init(&b, BUF_NO_LIMIT);
	imap_fetch_write(&a, &items, m, true, false);
	fuzz_reply_check(a.data, a.len, partial);
	/* Again with the tree already there (parsed by the first run or
	 * now), or without the bytes when they are not needed. */
	(void)imap_msg_mime(m);
	if (!imap_fetch_needs_data(&items, m->msg))
		m->data = NULL;
	imap_fetch_write(&b, &items, m, true, false);
	m->data = data;
	FUZZ_ASSERT(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	buf_free(&a);
	buf_free(&b);
	imap_fetch_items_free(&items);
}

static void fuzz_search(const struct imap_command *cmd, const char *text, size_t len,
			struct imap_msg *m)
{
	static const struct imap_search_ctx ctx = { 3, 70 };
	struct imap_search_program prog, not_prog;
	struct imap_command *not_cmd;
	const char *error, *data = m->data;
	struct buf wrapped;
	bool match;

	if (imap_search_parse(cmd->args, cmd->count, &prog, &error) < 0)
		return;
	match = imap_search_match(&prog, m, &ctx);
	if (!imap_search_needs_data(&prog, m->msg)) {
		m->data = NULL;
		FUZZ_ASSERT(imap_search_match(&prog, m, &ctx) == match);
		m->data = data;
	}
	/* The text parsed, so its parentheses balance: wrapped, it is the
	 * negation (unless that passes a bound and does not parse). */
	buf_init(&wrapped, BUF_NO_LIMIT);
	buf_append(&wrapped, text, len);
	buf_append_char(&wrapped, ')');
	not_cmd = fuzz_command("t SEARCH NOT (", wrapped.data, wrapped.len);
	buf_free(&wrapped);
	if (not_cmd != NULL &&
	    imap_search_parse(not_cmd->args, not_cmd->count, &not_prog, &error) == 0) {
		FUZZ_ASSERT(imap_search_match(&not_prog, m, &ctx) == !match);
		imap_search_program_free(&not_prog);
	}
	imap_command_free(&not_cmd);
	imap_search_program_free(&prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct maildir_keywords kw = { { "$Important", "Work", NULL, "x" } };
	const char *text = (const char *)data + 1, *nl;
	struct imap_command *cmd;
	struct mbox_msg msg;
	struct imap_msg m;
	size_t text_len;
	bool search;

	if (size < 1)
		return 0;
	nl = memchr(text, '\n', size - 1);
	text_len = nl != NULL ? (size_t)(nl - text) : size - 1;
	search = (data[0] & 1) != 0;
	memset(&msg, 0, sizeof(msg));
	msg.uid = 70;
	msg.flags = (data[0] >> 1) & 0x1f;
	msg.recent = (data[0] & 0x40) != 0;
	msg.keywords = (data[0] & 0x80) != 0 ? 0x9 : 0;
	msg.internaldate = 1700000000;
	memset(&m, 0, sizeof(m));
	m.seq = 1;
	m.msg = &msg;
	m.keywords = &kw;
	if (nl != NULL) {
		m.data = nl + 1;
		m.len = size - 1 - text_len - 1;
	} else {
		m.data = "";
	}
	msg.size = m.len;
	msg.vsize = imap_vsize(m.data, m.len);
	cmd = fuzz_command(search ? "t SEARCH " : "t FETCH ", text, text_len);
	if (cmd != NULL) {
		if (search)
			fuzz_search(cmd, text, text_len, &m);
		else
			fuzz_fetch(cmd, &m);
	}
	imap_command_free(&cmd);
	imap_msg_clear(&m);
	return 0;
}
