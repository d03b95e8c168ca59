#ifndef MR_IMAP_TEST_UTIL_H
#define MR_IMAP_TEST_UTIL_H

/* Drives the IMAP command parser as a session does: bytes go through the
 * line reader in pieces of a chosen size, literals are kept (or, for
 * APPEND, streamed), and every result is written to a transcript, so one
 * input fed whole, trickled and split can be compared. Static: each test
 * program includes it once. */

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-parser.h"
#include "linereader.h"
#include "test.h"
#include "xalloc.h"

struct imap_drive {
	struct imap_parser *p;
	struct linereader lr;
	struct buf log;
	struct imap_command *last;
	uint64_t stream_left;
	bool streaming;
	uint64_t append_limit;      /* 0: none; streamed literals over it are refused */
};

static void imap_test_dump_args(const struct imap_arg *args, size_t count, struct buf *out)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			buf_append_char(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_NIL:
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
			buf_append_char(out, '"');
			for (size_t j = 0; j < a->len; j++) {
				if (a->str[j] == '"' || a->str[j] == '\\')
					buf_append_char(out, '\\');
				buf_append_char(out, a->str[j]);
			}
			buf_append_char(out, '"');
			break;
		case IMAP_ARG_LITERAL:
			if (a->streamed) {
				buf_printf(out, "{%zu*}", a->len);
			} else {
				buf_printf(out, "{%zu}", a->len);
				buf_append(out, a->str, a->len);
			}
			break;
		case IMAP_ARG_LIST:
			buf_append_char(out, '(');
			imap_test_dump_args(a->list, a->count, out);
			buf_append_char(out, ')');
			break;
		}
	}
}

static void imap_test_log_error(struct imap_drive *d)
{
	const struct imap_parse_error *e = imap_parser_error(d->p);
	uint64_t skip;

	buf_printf(&d->log, "ERR %s %s %s%s\n", e->tag != NULL ? e->tag : "*",
		   e->no ? "NO" : "BAD", e->text, e->fatal ? " fatal" : "");
	if (imap_parser_skip_size(d->p, &skip)) {
		buf_printf(&d->log, "SKIP %llu\n", (unsigned long long)skip);
		linereader_expect_literal(&d->lr, skip);
	}
}

static void imap_test_literal(struct imap_drive *d)
{
	uint64_t size = imap_parser_literal_size(d->p);
	bool sync = imap_parser_literal_sync(d->p);
	const char *name = imap_parser_name(d->p);

	buf_printf(&d->log, "LIT %llu%s\n", (unsigned long long)size, sync ? "" : "+");
	if (d->append_limit > 0 && strcmp(name, "APPEND") == 0 && imap_parser_depth(d->p) == 0) {
		if (size > d->append_limit) {
			imap_parser_literal_reject(d->p, "[TOOBIG] Message too large", true);
			imap_test_log_error(d);
			return;
		}
		imap_parser_literal_stream(d->p);
		d->streaming = true;
		d->stream_left = size;
	} else if (imap_parser_literal_keep(d->p) < 0) {
		imap_test_log_error(d);
		return;
	}
	if (sync)
		buf_append_str(&d->log, "+ OK\n");
	linereader_expect_literal(&d->lr, size);
	if (size == 0)
		d->streaming = false;
}

static void imap_test_line(struct imap_drive *d, const struct lr_line *line)
{
	uint64_t skip;

	switch (imap_parser_line(d->p, line->data, line->len)) {
	case IMAP_PARSE_COMMAND:
		imap_command_free(&d->last);
		d->last = imap_parser_take_command(d->p);
		buf_printf(&d->log, "CMD %s %s%s%s", d->last->tag, d->last->uid ? "UID " : "",
			   d->last->name, d->last->count > 0 ? " " : "");
		imap_test_dump_args(d->last->args, d->last->count, &d->log);
		buf_append_char(&d->log, '\n');
		break;
	case IMAP_PARSE_LITERAL:
		imap_test_literal(d);
		break;
	case IMAP_PARSE_ERROR:
		imap_test_log_error(d);
		break;
	case IMAP_PARSE_SKIP:
		CHECK(imap_parser_skip_size(d->p, &skip));
		buf_printf(&d->log, "SKIP %llu\n", (unsigned long long)skip);
		linereader_expect_literal(&d->lr, skip);
		break;
	case IMAP_PARSE_NONE:
		buf_append_str(&d->log, "NONE\n");
		break;
	}
}

static void imap_test_drain(struct imap_drive *d)
{
	struct lr_line line;
	enum lr_result r;

	while ((r = linereader_next(&d->lr, &line)) != LR_NEED_MORE) {
		if (r == LR_LINE) {
			imap_test_line(d, &line);
		} else if (r == LR_DATA) {
			if (!d->streaming)
				imap_parser_literal_data(d->p, line.data, line.len);
			else if (line.last)
				d->streaming = false;
		} else {
			buf_append_str(&d->log, "TOOLONG\n");
			imap_parser_reset(d->p);
		}
	}
}

/* Feed `stream` in pieces of `piece` bytes (0: whole) or, with split > 0,
 * in two pieces cut at `split`. Returns the transcript; *last_r gets the
 * last command (may be NULL). */
static char *imap_test_drive(const char *stream, size_t len, size_t piece, size_t split,
			     const struct imap_parser_limits *limits, bool utf8,
			     uint64_t append_limit, struct imap_command **last_r)
{
	struct imap_drive d;

	memset(&d, 0, sizeof(d));
	d.p = imap_parser_new(limits);
	d.append_limit = append_limit;
	imap_parser_set_utf8(d.p, utf8);
	linereader_init(&d.lr, 8192, LR_EOL_CRLF);
	buf_init(&d.log, BUF_NO_LIMIT);
	if (split > 0)
		piece = split;
	if (piece == 0)
		piece = len > 0 ? len : 1;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < piece ? len - off : piece;

		if (split > 0 && off > 0)
			n = len - off;
		linereader_feed(&d.lr, stream + off, n);
		imap_test_drain(&d);
		off += n;
	}
	linereader_free(&d.lr);
	imap_parser_free(&d.p);
	if (last_r != NULL)
		*last_r = d.last;
	else
		imap_command_free(&d.last);
	return buf_steal(&d.log);
}

/* Every way of feeding `stream` gives the same transcript and the same
 * result of fn on the last command; returns fn's result on the whole feed
 * (or the transcript when fn is NULL). */
static char *imap_test_feeds(const char *stream, const struct imap_parser_limits *limits,
			     bool utf8, uint64_t append_limit,
			     char *(*fn)(const struct imap_command *cmd))
{
	size_t len = strlen(stream);
	struct imap_command *cmd;
	char *want_log = imap_test_drive(stream, len, 0, 0, limits, utf8, append_limit, &cmd);
	char *want = fn != NULL ? fn(cmd) : xstrdup(want_log);
	bool same = true;

	imap_command_free(&cmd);
	for (size_t k = 0; k <= len && same; k++) {
		/* k == 0: one byte at a time; k > 0: two pieces cut at k. */
		char *log = imap_test_drive(stream, len, k == 0 ? 1 : 0, k, limits, utf8,
					    append_limit, &cmd);
		char *got = fn != NULL ? fn(cmd) : NULL;

		same = strcmp(log, want_log) == 0 && (got == NULL || strcmp(got, want) == 0);
		if (!same) {
			CHECK_STR(log, want_log);
			if (got != NULL)
				CHECK_STR(got, want);
		}
		imap_command_free(&cmd);
		free(log);
		free(got);
	}
	free(want_log);
	return want;
}

#endif
