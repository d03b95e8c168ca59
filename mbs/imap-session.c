/* The IMAP session: connection life, reading commands through the parser
 * (literals, limits), dispatch through imap_commands[] with state checks,
 * replies, worker jobs, and the untagged updates before a tagged OK. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-commands.h"
#include "imap-msg.h"
#include "imap-session-private.h"
#include "log.h"
#include "xalloc.h"

/* What the line reader keeps of one line at most; imap_max_line (at most
 * this) is checked by the session. Longer lines are dropped unread. */
#define IMAP_READ_LINE_MAX (1024 * 1024)

const struct cfg *imap_client_cfg(const struct imap_client *c)
{
	return daemon_cfg(daemon_of_conn(c->conn));
}

const char *imap_client_rip(const struct imap_client *c, char *buf)
{
	const struct netaddr *a = conn_remote(c->conn);

	if (a->family == AF_UNSPEC)
		return "-";
	return netaddr_str(a, buf);
}

void imap_client_set_timeout(struct imap_client *c)
{
	const struct cfg *cfg = imap_client_cfg(c);

	/* RFC 3501 5.4: the autologout timer after authentication is at
	 * least 30 minutes (imap_idle_timeout); before it, the daemon's
	 * idle_timeout. */
	conn_set_timeout(c->conn, CONN_TIMEOUT_IDLE,
			 c->state & IMAP_ST_AUTHED ? cfg_time(cfg, "imap_idle_timeout")
			 : cfg_time(cfg, "idle_timeout"));
}

/* ---------------------------------------------------------------- output */

void imap_client_write(struct imap_client *c, const void *data, size_t len)
{
	if (c->gone)
		return;
	conn_write(c->conn, data, len);
}

static void imap_vline(struct imap_client *c, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void imap_vline(struct imap_client *c, const char *prefix, const char *fmt, va_list ap)
{
	struct buf b;

	if (c->gone)
		return;
	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, prefix);
	buf_vprintf(&b, fmt, ap);
	buf_append_str(&b, "\r\n");
	conn_write(c->conn, b.data, b.len);
	buf_free(&b);
}

void imap_client_untagged(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vline(c, "* ", fmt, ap);
	va_end(ap);
}

static void imap_client_line(struct imap_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void imap_client_line(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	imap_vline(c, "", fmt, ap);
	va_end(ap);
}

static void imap_streams_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->nstreams; i++)
		buf_free(&s->streams[i]);
	free(s->streams);
	s->streams = NULL;
	s->nstreams = 0;
}

struct buf *imap_client_literal(struct imap_client *c, size_t i)
{
	struct imap_session *s = imap_session_of(c);

	return i < s->nstreams ? &s->streams[i] : NULL;
}

size_t imap_client_literal_count(const struct imap_client *c)
{
	const struct imap_session *s = c->session_private;

	return s->nstreams;
}

static void imap_bye_close(struct imap_client *c, const char *text, const char *reason)
{
	if (c->gone || conn_is_closing(c->conn))
		return;
	imap_client_untagged(c, "BYE %s", text);
	conn_close(c->conn, reason);
}

/* The running command is over: read the next one. */
static void imap_command_end(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	imap_command_free(&c->cmd);
	c->def = NULL;
	s->line_fn = NULL;
	imap_streams_free(s);
	if (c->gone)
		return;
	if (c->state == IMAP_ST_LOGOUT) {
		conn_close(c->conn, "logout");
		return;
	}
	imap_client_watch_update(c);   /* after SELECT, CLOSE, UNSELECT */
	imap_client_set_timeout(c);
	if (!s->in_dispatch)
		conn_resume(c->conn);
}

void imap_client_tagged_now(struct imap_client *c, const char *status, const char *text)
{
	struct buf b;

	/* imap_max_bad_commands counts BADs in a row: a command that works
	 * (OK or NO) starts it again, as in Dovecot, so a session of days
	 * is not closed for the stray BADs it gathered on the way */
	if (strcmp(status, "BAD") != 0)
		c->bad_commands = 0;
	if (!c->gone && c->cmd != NULL) {
		buf_init(&b, BUF_NO_LIMIT);
		buf_printf(&b, "%s %s %s\r\n", c->cmd->tag, status, text);
		conn_write(c->conn, b.data, b.len);
		buf_free(&b);
	}
	imap_command_end(c);
}

static bool imap_sync_needed(struct imap_client *c);

static void imap_tagged_after_sync(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);
	char *status = s->pending_status, *text = s->pending_text;

	s->pending_status = s->pending_text = NULL;
	imap_client_tagged_now(c, status, text);
	free(status);
	free(text);
}

void imap_client_tagged(struct imap_client *c, const char *status, const char *fmt, ...)
{
	struct imap_session *s = imap_session_of(c);
	struct buf b;
	va_list ap;

	buf_init(&b, BUF_NO_LIMIT);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* RFC 3501 7: the server may send mailbox changes with any response;
	 * before the OK of a command they keep the client's view current. */
	if (!c->gone && strcmp(status, "OK") == 0 && c->state == IMAP_ST_SELECTED &&
	    c->box != NULL && imap_sync_needed(c)) {
		s->pending_status = xstrdup(status);
		s->pending_text = buf_steal(&b);
		imap_client_sync(c, imap_tagged_after_sync);
		return;
	}
	imap_client_tagged_now(c, status, buf_cstr(&b));
	buf_free(&b);
}

static void imap_count_bad(struct imap_client *c)
{
	unsigned max = (unsigned)cfg_int(imap_client_cfg(c), "imap_max_bad_commands");

	if (++c->bad_commands >= max) {
		log_info(conn_sid(c->conn), "imap: too many bad commands count=%u", c->bad_commands);
		imap_bye_close(c, "Too many invalid commands", "too many bad commands");
	}
}

void imap_client_bad(struct imap_client *c, const char *text)
{
	imap_client_tagged_now(c, "BAD", text);
	imap_count_bad(c);
}

/* ---------------------------------------------------------------- workers */

struct imap_job {
	uv_work_t req;
	struct imap_client *c;
	void (*work)(void *ctx);
	void (*done)(struct imap_client *c, void *ctx);
	void *ctx;
};

static void imap_client_free(struct imap_client *c);

static void imap_job_work(uv_work_t *req)
{
	struct imap_job *j = req->data;

	j->work(j->ctx);
}

static void imap_job_done(uv_work_t *req, int status)
{
	struct imap_job *j = req->data;
	struct imap_client *c = j->c;
	struct imap_session *s = imap_session_of(c);

	(void)status;
	/* Still counted while done runs: a write failing in it closes the
	 * connection, and the client must outlive this callback. */
	j->done(c, j->ctx);
	free(j);
	s->jobs--;
	if (c->gone && s->jobs == 0)
		imap_client_free(c);
}

void imap_client_work(struct imap_client *c, void (*work)(void *ctx),
		      void (*done)(struct imap_client *c, void *ctx), void *ctx)
{
	struct imap_session *s = imap_session_of(c);
	struct imap_job *j = xcalloc(1, sizeof(*j));

	j->c = c;
	j->work = work;
	j->done = done;
	j->ctx = ctx;
	j->req.data = j;
	s->jobs++;
	if (uv_queue_work(c->mbs->loop, &j->req, imap_job_work, imap_job_done) != 0) {
		/* cannot happen with a valid loop; run it here rather than lose it */
		j->work(ctx);
		imap_job_done(&j->req, 0);
	}
}

/* ---------------------------------------------------------------- output */

void imap_client_when_writable(struct imap_client *c,
			       void (*done)(struct imap_client *c, void *ctx), void *ctx)
{
	struct imap_session *s = imap_session_of(c);

	if (c->gone || !conn_write_blocked(c->conn)) {
		done(c, ctx);
		return;
	}
	s->writable_fn = done;
	s->writable_ctx = ctx;
	s->jobs++;
}

static void imap_writable_fire(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);
	void (*fn)(struct imap_client *c, void *ctx) = s->writable_fn;

	if (fn == NULL)
		return;
	s->writable_fn = NULL;
	fn(c, s->writable_ctx);
	s->jobs--;   /* after fn: see imap_job_done */
}

static void imap_on_writable(void *session, struct conn *conn)
{
	struct imap_session *s = session;

	(void)conn;
	if (s != NULL && !s->c->gone) {
		struct imap_client *c = s->c;

		imap_writable_fire(c);
		if (c->gone && s->jobs == 0)
			imap_client_free(c);
	}
}

/* ---------------------------------------------------------------- sync */

static void imap_box_changed(void *ctx)
{
	struct imap_client *c = ctx;

	if (c->idling && !c->gone)
		imap_idle_changed(c);
}

void imap_client_watch_update(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	/* a new view of the same folder may sit at the old one's address */
	if (s->watch_box == c->box && (c->box == NULL || (s->watch_path != NULL &&
							  strcmp(s->watch_path, c->box->path) == 0)))
		return;
	mbs_notify_remove(&s->watch);
	free(s->watch_path);
	s->watch_path = NULL;
	s->watch_box = c->box;
	s->synced_valid = false;
	if (c->box != NULL && c->mbs->notify != NULL && !c->gone) {
		s->watch_path = xstrdup(c->box->path);
		s->watch = mbs_notify_add(c->mbs->notify, c->box->path, imap_box_changed, c);
	}
}

/* Whether the sync before a tagged OK can find anything. With an inotify
 * watch on the folder, the events of every change made on this host
 * before now are read here; none since the last full sync, no
 * revalidation tick (changes from other hosts) and no expunge held back:
 * the view is current, and the worker round trip (uidlist lock,
 * directory scans) is saved. */
static bool imap_sync_needed(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	imap_client_watch_update(c);
	if (s->watch == NULL || !s->synced_valid || !mbs_notify_watch_inotify(s->watch) ||
	    !mbs_notify_drain(c->mbs->notify))
		return true;
	if (mbs_notify_generation(s->watch) != s->synced_gen)
		return true;
	for (size_t i = 0; i < c->box->count; i++)
		if (c->box->msgs[i].expunged)
			return true;
	return false;
}

struct imap_sync {
	struct mbox *box;
	uint64_t gen;               /* the watch's generation when it started */
	bool expunge_ok;
	int ret;
	const char *error;
	struct mbox_changes ch;
	void (*done)(struct imap_client *c);
};

static void imap_sync_work(void *ctx)
{
	struct imap_sync *y = ctx;

	y->ret = mbox_sync(y->box, y->expunge_ok, &y->ch, &y->error);
}

static void imap_sync_done(struct imap_client *c, void *ctx)
{
	struct imap_sync *y = ctx;

	if (!c->gone) {
		struct imap_session *s = imap_session_of(c);

		if (y->ret < 0) {
			log_error(conn_sid(c->conn), "imap: sync failed user=<%s> folder=%s error=\"%s\"",
				  c->user != NULL ? c->user : "", y->box->name,
				  y->error != NULL ? y->error : "");
		} else {
			imap_client_send_changes(c, &y->ch);
			/* a sync that had to keep expunges back leaves work */
			if (y->box == c->box && s->watch_box == c->box && s->watch != NULL) {
				s->synced_gen = y->gen;
				s->synced_valid = y->expunge_ok;
			}
		}
	}
	mbox_changes_free(&y->ch);
	if (!c->gone)
		y->done(c);
	free(y);
}

void imap_client_sync(struct imap_client *c, void (*done)(struct imap_client *c))
{
	struct imap_sync *y;

	if (c->box == NULL || c->gone) {
		done(c);
		return;
	}
	imap_client_watch_update(c);
	y = xcalloc(1, sizeof(*y));
	y->box = c->box;
	if (imap_session_of(c)->watch != NULL)
		y->gen = mbs_notify_generation(imap_session_of(c)->watch);
	/* RFC 3501 7.4.1: no EXPUNGE during FETCH, STORE, SEARCH (their UID
	 * forms allow it) */
	y->expunge_ok = c->def == NULL || (c->def->flags & IMAP_CMD_NO_EXPUNGE) == 0 ||
		(c->cmd != NULL && c->cmd->uid);
	y->done = done;
	imap_client_work(c, imap_sync_work, imap_sync_done, y);
}

static void imap_write_flags_list(struct buf *b, const struct mbox *box)
{
	buf_append_str(b, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		if (box->keywords.names[i] != NULL)
			buf_printf(b, " %s", box->keywords.names[i]);
}

void imap_client_send_changes(struct imap_client *c, const struct mbox_changes *ch)
{
	struct mbox *box = c->box;
	struct buf b;

	if (c->gone || box == NULL)
		return;
	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; i < ch->expunged_count; i++)
		buf_printf(&b, "* %u EXPUNGE\r\n", ch->expunged[i]);
	if (ch->keywords_changed) {
		buf_append_str(&b, "* FLAGS (");
		imap_write_flags_list(&b, box);
		buf_append_str(&b, ")\r\n* OK [PERMANENTFLAGS (");
		imap_write_flags_list(&b, box);
		buf_append_str(&b, box->readonly ? ")] Read-only mailbox.\r\n"
			       : " \\*)] Flags permitted.\r\n");
	}
	if (ch->exists_changed) {
		uint32_t recent = 0;

		for (size_t i = 0; i < box->count; i++)
			recent += box->msgs[i].recent;
		buf_printf(&b, "* %zu EXISTS\r\n* %u RECENT\r\n", box->count, recent);
	}
	for (size_t i = 0; i < ch->flag_changed_count; i++) {
		uint32_t seq = ch->flag_changed[i];

		if (seq == 0 || seq > box->count)
			continue;
		buf_printf(&b, "* %u FETCH (FLAGS ", seq);
		imap_flags_write(&b, &box->msgs[seq - 1], &box->keywords);
		buf_append_str(&b, ")\r\n");
	}
	if (b.len > 0)
		conn_write(c->conn, b.data, b.len);
	buf_free(&b);
}

/* ---------------------------------------------------------------- capability */

static bool imap_login_allowed(const struct imap_client *c)
{
	return conn_is_tls(c->conn) || cfg_bool(imap_client_cfg(c), "auth_allow_plaintext");
}

/* Only what the build implements is named (RFC 3501 7.2.1). */
const char *imap_client_capability(const struct imap_client *c)
{
	static char out[1024];

	if (c->state == IMAP_ST_NOAUTH) {
		/* no AUTH= before TLS unless configured (RFC 3501 6.2.3) */
		snprintf(out, sizeof(out), "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE%s%s",
			 !conn_is_tls(c->conn) && conn_tls_available(c->conn) ? " STARTTLS" : "",
			 imap_login_allowed(c) ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
		return out;
	}
	snprintf(out, sizeof(out), "IMAP4rev1 LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT MOVE "
		 "CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE "
		 /* RFC 9208 3.1: one QUOTA=RES- per resource */
		 "QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE STATUS=SIZE "
		 /* RFC 4315: APPENDUID, COPYUID and UID EXPUNGE */
		 "UIDPLUS APPENDLIMIT=%llu UTF8=ACCEPT",
		 (unsigned long long)cfg_size(imap_client_cfg(c), "imap_append_limit"));
	return out;
}

/* ---------------------------------------------------------------- dispatch */

static const struct imap_cmd_def *imap_cmd_find(const char *name)
{
	for (size_t i = 0; i < imap_commands_count; i++)
		if (strcmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	return NULL;
}

static const char *imap_state_error(const struct imap_client *c, const struct imap_cmd_def *def)
{
	if (c->state == IMAP_ST_NOAUTH)
		return "Log in first";
	if (def->states == IMAP_ST_NOAUTH)
		return "Already authenticated";
	if (def->states == IMAP_ST_SELECTED)
		return "No mailbox selected";
	return "Command not valid in this state";
}

static void imap_dispatch(struct imap_client *c, struct imap_command *cmd)
{
	struct imap_session *s = imap_session_of(c);
	const struct imap_cmd_def *def = imap_cmd_find(cmd->name);
	const char *error = NULL;

	c->cmd = cmd;
	c->def = NULL;
	if (def == NULL)
		error = "Unknown command";
	else if (cmd->uid && (def->flags & IMAP_CMD_UID) == 0)
		error = "UID with a command that does not take it";
	else if ((def->states & c->state) == 0)
		error = imap_state_error(c, def);
	if (error != NULL) {
		imap_client_bad(c, error);
		return;
	}
	c->def = def;
	s->in_dispatch = true;
	def->run(c, cmd);
	s->in_dispatch = false;
	if (c->gone) {   /* closed while running: imap_on_close left it to us */
		if (s->jobs == 0)
			imap_client_free(c);
		return;
	}
	/* still running (a worker, authd, IDLE): no next command meanwhile */
	if (c->cmd != NULL && !c->gone && !conn_is_closing(c->conn) && s->line_fn == NULL)
		conn_pause(c->conn);
}

static void imap_parse_error(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);
	const struct imap_parse_error *e = imap_parser_error(c->parser);
	uint64_t skip;

	imap_client_line(c, "%s %s %s", e->tag != NULL ? e->tag : "*", e->no ? "NO" : "BAD",
			 e->text);
	if (e->fatal) {
		conn_close(c->conn, "unrecoverable literal");
		return;
	}
	if (imap_parser_skip_size(c->parser, &skip)) {
		conn_expect_literal(c->conn, skip);
		s->lit = skip > 0 ? IMAP_LIT_PARSER : IMAP_LIT_NONE;
	}
	if (!e->no)
		imap_count_bad(c);
}

static bool imap_is_append_message(struct imap_client *c)
{
	const char *name = imap_parser_name(c->parser);

	/* APPEND mailbox [flags] [date] literal: a top-level literal after the
	 * mailbox name */
	return (c->state & IMAP_ST_AUTHED) && name != NULL && strcmp(name, "APPEND") == 0 &&
		imap_parser_depth(c->parser) == 0 && imap_parser_arg_count(c->parser) >= 1;
}

static void imap_literal(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);
	const struct cfg *cfg = imap_client_cfg(c);
	uint64_t size = imap_parser_literal_size(c->parser);
	bool sync = imap_parser_literal_sync(c->parser);

	if (imap_is_append_message(c)) {
		uint64_t held = 0;

		/* one message, or several (MULTIAPPEND) together, up to the limit */
		for (size_t i = 0; i < s->nstreams; i++)
			held += s->streams[i].len;
		if (size > cfg_size(cfg, "imap_append_limit") ||
		    held + size > cfg_size(cfg, "imap_append_limit")) {
			/* RFC 7889 APPENDLIMIT, RFC 4469 TOOBIG */
			imap_parser_literal_reject(c->parser, "[TOOBIG] Message too large", true);
			imap_parse_error(c);
			return;
		}
		imap_parser_literal_stream(c->parser);
		if (imap_parser_tag(c->parser) == NULL) {
			imap_parse_error(c);
			return;
		}
		s->streams = xreallocarray(s->streams, s->nstreams + 1, sizeof(*s->streams));
		buf_init(&s->streams[s->nstreams], (size_t)size);
		s->nstreams++;
		if (sync)
			imap_client_write(c, "+ OK\r\n", 6);
		if (size > 0) {
			conn_expect_literal(c->conn, size);
			s->lit = IMAP_LIT_STREAM;
		}
		return;
	}
	if (imap_parser_literal_keep(c->parser) < 0) {
		imap_parse_error(c);
		return;
	}
	if (sync)
		imap_client_write(c, "+ OK\r\n", 6);
	if (size > 0) {
		conn_expect_literal(c->conn, size);
		s->lit = IMAP_LIT_PARSER;
	}
}

static void imap_parse_result(struct imap_client *c, enum imap_parse_result r)
{
	struct imap_session *s = imap_session_of(c);
	uint64_t skip;

	switch (r) {
	case IMAP_PARSE_NONE:
		break;
	case IMAP_PARSE_COMMAND:
		imap_dispatch(c, imap_parser_take_command(c->parser));
		break;
	case IMAP_PARSE_LITERAL:
		imap_literal(c);
		break;
	case IMAP_PARSE_ERROR:
		imap_parse_error(c);
		break;
	case IMAP_PARSE_SKIP:
		if (imap_parser_skip_size(c->parser, &skip) && skip > 0) {
			conn_expect_literal(c->conn, skip);
			s->lit = IMAP_LIT_PARSER;
		}
		break;
	}
}

static void imap_on_line(void *session, struct conn *conn, const struct lr_line *line)
{
	struct imap_session *s = session;
	struct imap_client *c = s->c;

	if (conn_is_closing(conn) || c->gone)
		return;
	if (s->line_fn != NULL) {
		s->line_fn(c, line);
		return;
	}
	if (c->cmd != NULL)
		return;   /* cannot happen: reading is paused while a command runs */
	if (line->len > cfg_size(imap_client_cfg(c), "imap_max_line")) {
		imap_parser_reset(c->parser);
		imap_client_untagged(c, "BAD Command line too long");
		imap_count_bad(c);
		return;
	}
	imap_parse_result(c, imap_parser_line(c->parser, line->data, line->len));
}

static void imap_on_data(void *session, struct conn *conn, const struct lr_line *chunk)
{
	struct imap_session *s = session;
	struct imap_client *c = s->c;

	(void)conn;
	if (s->lit == IMAP_LIT_STREAM && s->nstreams > 0) {
		if (buf_append(&s->streams[s->nstreams - 1], chunk->data, chunk->len) < 0)
			log_error(conn_sid(c->conn), "imap: literal larger than announced");
	} else if (s->lit == IMAP_LIT_PARSER) {
		imap_parser_literal_data(c->parser, chunk->data, chunk->len);
	}
	if (chunk->last)
		s->lit = IMAP_LIT_NONE;
}

static void imap_on_too_long(void *session, struct conn *conn)
{
	struct imap_session *s = session;
	struct imap_client *c = s->c;

	(void)conn;
	if (s->line_fn != NULL) {
		/* an AUTHENTICATE response or IDLE's DONE that long is neither:
		 * the command's reader refuses it as invalid and ends */
		static const struct lr_line invalid = { .data = "", .len = 0, .flags = LR_F_NUL };

		s->line_fn(c, &invalid);
		return;
	}
	imap_parser_reset(c->parser);
	imap_client_untagged(c, "BAD Command line too long");
	imap_count_bad(c);
}

void imap_client_read_line(struct imap_client *c, imap_line_fn *fn)
{
	struct imap_session *s = imap_session_of(c);

	s->line_fn = fn;
	if (fn != NULL && !s->in_dispatch)
		conn_resume(c->conn);
}

/* ---------------------------------------------------------------- life */

static void imap_parser_setup(struct imap_client *c)
{
	const struct cfg *cfg = imap_client_cfg(c);
	struct imap_parser_limits lim;

	imap_parser_default_limits(&lim);
	lim.max_literal = cfg_size(cfg, "imap_max_literal");
	if (lim.max_command < lim.max_literal + cfg_size(cfg, "imap_max_line"))
		lim.max_command = (size_t)(lim.max_literal + cfg_size(cfg, "imap_max_line"));
	c->parser = imap_parser_new(&lim);
}

static void *imap_connect(struct conn *conn)
{
	struct imap_client *c = xcalloc(1, sizeof(*c));
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct mbs *m = daemon_context(daemon_of_conn(conn));

	c->conn = conn;
	c->mbs = m;
	c->state = IMAP_ST_NOAUTH;
	c->session_private = s;
	s->c = c;
	s->next = m->imap_sessions;
	if (s->next != NULL)
		s->next->prev = s;
	m->imap_sessions = s;
	imap_parser_setup(c);
	imap_client_set_timeout(c);
	if (daemon_stopping(daemon_of_conn(conn))) {
		imap_bye_close(c, "Server shutting down", "shutdown");
		return s;
	}
	imap_client_untagged(c, "OK [CAPABILITY %s] %s Mailroom IMAP ready.",
			     imap_client_capability(c), m->hostname);
	return s;
}

static void imap_on_tls(void *session, struct conn *conn)
{
	struct imap_session *s = session;

	(void)conn;
	/* RFC 3501 6.2.1: nothing learnt before TLS is kept; the parser
	 * starts over (lib/conn dropped the pipelined bytes) */
	imap_parser_reset(s->c->parser);
	s->lit = IMAP_LIT_NONE;
}

static void imap_on_timeout(struct conn *conn, enum conn_timeout which)
{
	conn_write_str(conn, which == CONN_TIMEOUT_SESSION
		       ? "* BYE Session time limit reached, please reconnect\r\n"
		       : "* BYE Autologout; idle for too long\r\n");
}

static void imap_on_busy(struct conn *conn)
{
	conn_write_str(conn, "* BYE Too many connections, try later\r\n");
}

static void imap_client_free(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	imap_streams_free(s);
	imap_command_free(&c->cmd);
	imap_parser_free(&c->parser);
	if (c->box != NULL)
		mbox_close(&c->box);
	free(c->mbox_user.root);
	free(c->user);
	free(s->pending_status);
	free(s->pending_text);
	free(s->watch_path);
	free(s->auth_mech);
	free(s->auth_login);
	free(s);
	free(c);
}

static void imap_on_close(void *session, struct conn *conn)
{
	struct imap_session *s = session;
	struct imap_client *c;

	(void)conn;
	if (s == NULL)
		return;
	c = s->c;
	c->gone = true;
	if (s->auth_req != NULL)
		authd_client_cancel(s->auth_req);
	if (s->user_req != NULL)
		authd_client_cancel(s->user_req);
	s->auth_req = s->user_req = NULL;
	mbs_notify_remove(&s->watch);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else if (c->mbs->imap_sessions == s)
		c->mbs->imap_sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	imap_writable_fire(c);   /* with c->gone: the waiting command cleans up */
	if (s->jobs == 0 && !s->in_dispatch)
		imap_client_free(c);
}

void imap_sessions_shutdown(struct mbs *m)
{
	struct imap_session *s = m->imap_sessions, *next;

	/* Every session goes now, a running command too: the authd client
	 * is freed next, and a worker job still out finds c->gone. */
	for (; s != NULL; s = next) {
		next = s->next;
		imap_bye_close(s->c, "Server shutting down", "shutdown");
	}
}

#define IMAP_SERVICE(NAME) { \
	.name = NAME, .max_line = IMAP_READ_LINE_MAX, .eol = LR_EOL_LF, \
	.on_connect = imap_connect, .on_line = imap_on_line, .on_data = imap_on_data, \
	.on_too_long = imap_on_too_long, .on_tls = imap_on_tls, \
	.on_timeout = imap_on_timeout, .on_busy = imap_on_busy, .on_close = imap_on_close, \
	.on_writable = imap_on_writable }

const struct conn_service imap_service = IMAP_SERVICE("imap");
const struct conn_service imaps_service = IMAP_SERVICE("imaps");
