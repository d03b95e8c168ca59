/* fuzz-deps: mbs/imap-parser.c mbs/imap-utf7.c mbs/imap-seqset.c mbs/imap-args.c mbs/imap-fetch-parse.c mbs/imap-search-parse.c mbs/imap-list.c mbs/imap-id.c lib/mime-charset.c lib/linereader.c lib/buf.c lib/xalloc.c lib/log.c */
/* libFuzzer target for the IMAP command parser, driven as a session
 * drives it: byte 0 splits the rest into feeds, byte 1 picks the limits
 * and options, the rest is the client's stream. Announced literals are
 * kept, or streamed for APPEND; commands named FETCH, SEARCH, STORE and
 * SELECT also go through their argument parsers, LIST and LSUB through
 * theirs and the reply builder over a fixed folder list, STATUS through
 * its item list, ID through its check and log line. Every command and error
 * is checked against the grammar's promises. */
#include <string.h>

#include "../../mbs/imap-args.h"
#include "../../mbs/imap-fetch-parse.h"
#include "../../mbs/imap-id.h"
#include "../../mbs/imap-list.h"
#include "../../mbs/imap-parser.h"
#include "../../mbs/imap-search-parse.h"
#include "buf.h"
#include "linereader.h"
#include "xalloc.h"
#include "fuzz.h"

struct fuzz_state {
	struct imap_parser *p;
	struct imap_parser_limits lim;
	struct linereader lr;
	bool streaming;
	uint64_t literal_left;
};

static size_t fuzz_check_args(const struct fuzz_state *st, const struct imap_arg *args,
			      size_t count, size_t depth)
{
	size_t n = count;

	FUZZ_ASSERT(depth <= st->lim.max_depth);
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (a->type == IMAP_ARG_LIST) {
			n += fuzz_check_args(st, a->list, a->count, depth + 1);
			continue;
		}
		if (a->streamed)
			continue;
		FUZZ_ASSERT(a->str != NULL && a->str[a->len] == '\0');
		if (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL)
			FUZZ_ASSERT(a->len > 0 && strlen(a->str) == a->len);
		if (a->type == IMAP_ARG_LITERAL)
			FUZZ_ASSERT(memchr(a->str, '\0', a->len) == NULL);
	}
	return n;
}

/* LIST/LSUB: the arguments, then the replies over a small fixed tree;
 * every reply line is one line. */
static void fuzz_list(const struct imap_command *cmd)
{
	static struct mbox_folder folders[] = {
		{ (char *)"INBOX", MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_CHILDREN },
		{ (char *)"INBOX.x", 0 },
		{ (char *)"A", MBOX_FOLDER_NOSELECT | MBOX_FOLDER_CHILDREN },
		{ (char *)"A.B", MBOX_FOLDER_SUBSCRIBED },
		{ (char *)"Sent", MBOX_FOLDER_SENT },
		{ (char *)"caf&AOk-", 0 },
		{ (char *)"gone.x", MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_NONEXISTENT },
	};
	struct mbox_folder_list all = { folders, 6 }, subs = { folders, 7 };
	bool lsub = strcmp(cmd->name, "LSUB") == 0;
	struct imap_list_args a;
	const char *error = NULL;

	for (int utf8 = 0; utf8 < 2; utf8++) {
		struct buf out;

		if (imap_list_args_parse(cmd->args, cmd->count, lsub, utf8 != 0, &a, &error) < 0) {
			FUZZ_ASSERT(error != NULL);
			continue;
		}
		FUZZ_ASSERT(a.delimiter_query || a.pattern_count > 0);
		buf_init(&out, BUF_NO_LIMIT);
		imap_list_build(&a, &all, &subs, utf8 != 0, NULL, NULL, &out);
		for (size_t i = 0; i < out.len; i++) {
			FUZZ_ASSERT(out.data[i] != '\0');
			if (out.data[i] == '\n')
				FUZZ_ASSERT(i > 0 && out.data[i - 1] == '\r');
		}
		buf_free(&out);
		imap_list_args_free(&a);
	}
}

static void fuzz_arg_parsers(const struct imap_command *cmd)
{
	const char *error = NULL;

	if (strcmp(cmd->name, "FETCH") == 0 && cmd->count >= 1) {
		struct imap_fetch_items items;

		if (imap_fetch_parse(cmd->args + 1, cmd->count - 1, &items, &error) == 0)
			imap_fetch_items_free(&items);
		else
			FUZZ_ASSERT(error != NULL);
	} else if (strcmp(cmd->name, "SEARCH") == 0) {
		struct imap_search_program prog;

		if (imap_search_parse(cmd->args, cmd->count, &prog, &error) == 0)
			imap_search_program_free(&prog);
		else
			FUZZ_ASSERT(error != NULL && (!prog.badcharset || error[0] == '['));
	} else if (strcmp(cmd->name, "ID") == 0) {
		struct buf log;

		buf_init(&log, 256 * 1024);
		if (imap_id_parse(cmd->args, cmd->count, &log, &error) == 0) {
			/* nothing a client sends can break a log line */
			for (size_t i = 0; i < log.len; i++)
				FUZZ_ASSERT((unsigned char)log.data[i] >= 0x20 &&
					    (unsigned char)log.data[i] != 0x7f);
		} else {
			FUZZ_ASSERT(error != NULL);
		}
		buf_free(&log);
	} else if (strcmp(cmd->name, "STORE") == 0 && cmd->count >= 1) {
		struct imap_flags flags;

		if (imap_store_flags_parse(cmd->args, cmd->count, &flags, &error) == 0)
			imap_flags_free(&flags);
	} else if (strcmp(cmd->name, "LIST") == 0 || strcmp(cmd->name, "LSUB") == 0) {
		fuzz_list(cmd);
	} else if (strcmp(cmd->name, "STATUS") == 0 && cmd->count == 2) {
		unsigned items;

		if (imap_status_items_parse(&cmd->args[1], &items, &error) == 0)
			FUZZ_ASSERT(items != 0 && items < 0x40);
	} else if (strcmp(cmd->name, "SELECT") == 0 && cmd->count == 1 &&
		   imap_arg_astring(&cmd->args[0]) != NULL) {
		struct buf out;

		buf_init(&out, 1024);
		if (imap_mailbox_name_check(cmd->args[0].str, 0, &out, &error) == 0)
			FUZZ_ASSERT(strstr(out.data, "..") == NULL && strchr(out.data, '/') == NULL &&
				    out.data[0] != '.');
		buf_free(&out);
	}
}

static void fuzz_expect_skip(struct fuzz_state *st)
{
	uint64_t skip;

	/* The parser itself drops a skipped literal's bytes. */
	if (imap_parser_skip_size(st->p, &skip)) {
		linereader_expect_literal(&st->lr, skip);
		st->literal_left = skip;
	}
}

static void fuzz_literal(struct fuzz_state *st)
{
	uint64_t size = imap_parser_literal_size(st->p);
	const char *name = imap_parser_name(st->p);

	FUZZ_ASSERT(name != NULL && imap_parser_tag(st->p) != NULL);
	FUZZ_ASSERT(size <= UINT32_MAX);
	FUZZ_ASSERT(imap_parser_literal_sync(st->p) || !st->lim.literal_minus ||
		    size <= IMAP_LITERAL_MINUS_MAX);
	if (strcmp(name, "APPEND") == 0 && imap_parser_depth(st->p) == 0) {
		imap_parser_literal_stream(st->p);
		st->streaming = size > 0;
	} else if (imap_parser_literal_keep(st->p) < 0) {
		FUZZ_ASSERT(imap_parser_error(st->p)->text != NULL);
		fuzz_expect_skip(st);
		return;
	}
	st->literal_left = size;
	linereader_expect_literal(&st->lr, size);
}

static void fuzz_line(struct fuzz_state *st, const struct lr_line *line)
{
	struct imap_command *cmd;
	const struct imap_parse_error *err;

	switch (imap_parser_line(st->p, line->data, line->len)) {
	case IMAP_PARSE_COMMAND:
		cmd = imap_parser_take_command(st->p);
		FUZZ_ASSERT(cmd != NULL && cmd->tag[0] != '\0' && cmd->name[0] != '\0');
		FUZZ_ASSERT(strpbrk(cmd->tag, " +(){%*\"\\") == NULL);
		FUZZ_ASSERT(fuzz_check_args(st, cmd->args, cmd->count, 0) <= st->lim.max_args);
		fuzz_arg_parsers(cmd);
		imap_command_free(&cmd);
		break;
	case IMAP_PARSE_LITERAL:
		fuzz_literal(st);
		break;
	case IMAP_PARSE_ERROR:
		err = imap_parser_error(st->p);
		FUZZ_ASSERT(err->text != NULL && err->text[0] != '\0');
		fuzz_expect_skip(st);
		break;
	case IMAP_PARSE_SKIP:
		fuzz_expect_skip(st);
		break;
	case IMAP_PARSE_NONE:
		break;
	}
}

static void fuzz_drain(struct fuzz_state *st)
{
	struct lr_line line;
	enum lr_result r;

	while ((r = linereader_next(&st->lr, &line)) != LR_NEED_MORE) {
		if (r == LR_LINE) {
			fuzz_line(st, &line);
		} else if (r == LR_DATA) {
			FUZZ_ASSERT(line.len <= st->literal_left);
			st->literal_left -= line.len;
			if (!st->streaming)
				imap_parser_literal_data(st->p, line.data, line.len);
			if (line.last)
				st->streaming = false;
		} else {
			imap_parser_reset(st->p);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_state st;
	size_t start = 2;
	uint8_t sep;

	if (size < 2)
		return 0;
	memset(&st, 0, sizeof(st));
	sep = data[0];
	imap_parser_default_limits(&st.lim);
	st.lim.max_depth = 1 + (data[1] & 0x07);
	st.lim.max_literal = (data[1] & 0x08) ? 16 : 100000;
	st.lim.literal_minus = (data[1] & 0x10) != 0;
	st.lim.max_args = (data[1] & 0x20) ? 8 : 4096;
	st.p = imap_parser_new(&st.lim);
	imap_parser_set_utf8(st.p, (data[1] & 0x40) != 0);
	linereader_init(&st.lr, (data[1] & 0x80) ? 64 : 8192, LR_EOL_CRLF);
	for (size_t i = 2; i <= size; i++) {
		if (i < size && data[i] != sep)
			continue;
		linereader_feed(&st.lr, data + start, i - start);
		fuzz_drain(&st);
		start = i + 1;
	}
	linereader_free(&st.lr);
	imap_parser_free(&st.p);
	return 0;
}
