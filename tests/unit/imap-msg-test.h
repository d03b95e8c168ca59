#ifndef MR_IMAP_MSG_TEST_H
#define MR_IMAP_MSG_TEST_H

/* Shared by the FETCH and SEARCH unit tests: a message as the mailbox
 * layer would hand it over, and the argument parsers driven from a line of
 * IMAP text. Static: each test program includes it once. */

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-msg.h"
#include "imap-parser.h"
#include "test.h"
#include "xalloc.h"

struct imt_msg {
	struct mbox_msg msg;
	struct imap_msg m;
};

static struct maildir_keywords imt_keywords;

/* dovecot-keywords as a test folder would have it. */
static void imt_keywords_init(void)
{
	static const char kw[] = "0 $Important\n1 Work\n3 $Junk\n";

	maildir_keywords_init(&imt_keywords);
	maildir_keywords_parse(&imt_keywords, kw, sizeof(kw) - 1);
}

/* data may be NULL (not loaded); len counts data's bytes. */
static void imt_msg_init(struct imt_msg *t, uint32_t seq, uint32_t uid, const char *data,
			 size_t len)
{
	memset(t, 0, sizeof(*t));
	t->msg.uid = uid;
	t->msg.size = len;
	t->m.seq = seq;
	t->m.msg = &t->msg;
	t->m.keywords = &imt_keywords;
	t->m.data = data;
	t->m.len = len;
}

/* The command "t <line>", parsed with UTF-8 strings allowed; NULL (and a
 * failed check) when it does not parse. */
static struct imap_command *imt_command(const char *line)
{
	struct imap_parser *p = imap_parser_new(NULL);
	char *full = xasprintf("t %s", line);
	struct imap_command *cmd = NULL;

	imap_parser_set_utf8(p, true);
	if (imap_parser_line(p, full, strlen(full)) == IMAP_PARSE_COMMAND)
		cmd = imap_parser_take_command(p);
	CHECK(cmd != NULL);
	imap_parser_free(&p);
	free(full);
	return cmd;
}

/* FETCH's items from text such as "(FLAGS BODY.PEEK[1])". */
static inline void imt_fetch_items(struct imap_fetch_items *items, const char *text)
{
	char *line = xasprintf("FETCH 1 %s", text);
	struct imap_command *cmd = imt_command(line);
	const char *error = NULL;

	memset(items, 0, sizeof(*items));
	if (cmd != NULL)
		CHECK_INT(imap_fetch_parse(cmd->args + 1, cmd->count - 1, items, &error), 0);
	imap_command_free(&cmd);
	free(line);
}

static inline void imt_search_program(struct imap_search_program *prog, const char *text)
{
	char *line = xasprintf("SEARCH %s", text);
	struct imap_command *cmd = imt_command(line);
	const char *error = NULL;

	memset(prog, 0, sizeof(*prog));
	if (cmd != NULL)
		CHECK_INT(imap_search_parse(cmd->args, cmd->count, prog, &error), 0);
	imap_command_free(&cmd);
	free(line);
}

/* Steps over one FETCH reply "* n FETCH (...)\r\n", literals by their
 * announced sizes: 1 when it is well formed and ends exactly at len, with
 * no NUL and (crlf: unless a partial fetch cut one) no bare LF inside a
 * literal; a bare CR may stay. */
static inline int imt_reply_ok(const char *s, size_t len, bool crlf)
{
	size_t i = 0;
	int depth = 0;

	if (len < 4 || strncmp(s, "* ", 2) != 0)
		return 0;
	for (; i < len; i++) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\')
					i++;
			}
		} else if (s[i] == '{') {
			char *end;
			unsigned long long n = strtoull(s + i + 1, &end, 10);

			if (end[0] != '}' || end[1] != '\r' || end[2] != '\n' ||
			    (size_t)(end + 3 - s) + n > len)
				return 0;
			size_t start = (size_t)(end + 3 - s);

			for (size_t j = start; j < start + n; j++) {
				if (s[j] == '\0' ||
				    (crlf && s[j] == '\n' && (j == start || s[j - 1] != '\r')))
					return 0;
			}
			/* The loop's step lands right after the literal. */
			i = start + n - 1;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			if (--depth == 0)
				return i + 3 == len && s[i + 1] == '\r' && s[i + 2] == '\n';
		} else if (s[i] == '\r' || s[i] == '\n') {
			return 0;
		}
	}
	return 0;
}

#endif
