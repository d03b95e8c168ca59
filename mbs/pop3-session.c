/* The POP3 session: connection life, the command table and dispatch,
 * the worker helper, the session lock refresh. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd-client.h"
#include "buf.h"
#include "log.h"
#include "pop3-session.h"
#include "xalloc.h"

/* What the line reader keeps: SASL responses (RFC 5034 4) may be longer
 * than a command line. */
#define POP3_READ_LINE_MAX 8192

const struct pop3_cmd_def pop3_commands[] = {
	{ "CAPA", POP3_ST_ANY, pop3_cmd_capa },
	{ "QUIT", POP3_ST_ANY, pop3_cmd_quit },
	{ "NOOP", POP3_ST_TRANS, pop3_cmd_noop },
	{ "STLS", POP3_ST_AUTH, pop3_cmd_stls },
	{ "USER", POP3_ST_AUTH, pop3_cmd_user },
	{ "PASS", POP3_ST_AUTH, pop3_cmd_pass },
	{ "AUTH", POP3_ST_AUTH, pop3_cmd_auth },
	{ "STAT", POP3_ST_TRANS, pop3_cmd_stat },
	{ "LIST", POP3_ST_TRANS, pop3_cmd_list },
	{ "RETR", POP3_ST_TRANS, pop3_cmd_retr },
	{ "DELE", POP3_ST_TRANS, pop3_cmd_dele },
	{ "RSET", POP3_ST_TRANS, pop3_cmd_rset },
	{ "TOP", POP3_ST_TRANS, pop3_cmd_top },
	{ "UIDL", POP3_ST_TRANS, pop3_cmd_uidl },
};
const size_t pop3_commands_count = sizeof(pop3_commands) / sizeof(pop3_commands[0]);

const struct cfg *pop3_client_cfg(const struct pop3_client *c)
{
	return daemon_cfg(daemon_of_conn(c->conn));
}

bool pop3_client_plaintext_ok(const struct pop3_client *c)
{
	return conn_is_tls(c->conn) || cfg_bool(pop3_client_cfg(c), "auth_allow_plaintext");
}

static void pop3_client_vline(struct pop3_client *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void pop3_client_vline(struct pop3_client *c, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, 16384);
	buf_vprintf(&b, fmt, ap);
	buf_append_str(&b, "\r\n");
	conn_write(c->conn, b.data, b.len);
	buf_free(&b);
}

void pop3_client_line(struct pop3_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_client_vline(c, fmt, ap);
	va_end(ap);
}

void pop3_client_bad(struct pop3_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_client_vline(c, fmt, ap);
	va_end(ap);
	if (++c->bad_commands >= (unsigned)cfg_int(pop3_client_cfg(c), "pop3_max_bad_commands")) {
		log_info(conn_sid(c->conn), "%s: too many bad commands count=%u",
			 conn_service(c->conn)->name, c->bad_commands);
		pop3_client_line(c, c->pop2 ? "- Too many bad commands" :
				 "-ERR Too many bad commands.");
		conn_close(c->conn, "too many bad commands");
	}
}

static void pop3_client_goodbye(struct pop3_client *c)
{
	if (c->state == POP3_ST_UPDATE || conn_is_closing(c->conn))
		return;   /* QUIT's reply closes it */
	pop3_client_line(c, c->pop2 ? "- Server shutting down" :
			 "-ERR [SYS/TEMP] Server shutting down.");
	conn_close(c->conn, "shutdown");
}

void pop3_client_done(struct pop3_client *c)
{
	c->pending = false;
	if (c->shutdown) {
		pop3_client_goodbye(c);
		return;
	}
	conn_resume(c->conn);
}

void pop3_sessions_shutdown(struct mbs *m)
{
	struct pop3_client *c, *next;

	/* A worker job or a RETR in progress ends first (pop3_client_done);
	 * a login waiting for authd or for the client just goes. */
	for (c = m->pop3_clients; c != NULL; c = next) {
		next = c->next;
		c->shutdown = true;
		if (!c->working && c->retr == NULL)
			pop3_client_goodbye(c);
	}
}

/* ---- worker jobs ---- */

struct pop3_job {
	uv_work_t req;
	struct pop3_client *c;
	void (*work)(void *ctx);
	void (*done)(struct pop3_client *c, void *ctx);
	void *ctx;
};

static void pop3_client_free(struct pop3_client *c);

static void pop3_job_work(uv_work_t *req)
{
	struct pop3_job *job = req->data;

	job->work(job->ctx);
}

static void pop3_job_done(uv_work_t *req, int status)
{
	struct pop3_job *job = req->data;
	struct pop3_client *c = job->c;

	(void)status;
	c->working = false;
	/* a write failing in done closes the connection: pop3_on_close
	 * leaves the client to us while in_job_done is set */
	c->in_job_done = true;
	job->done(c, job->ctx);
	c->in_job_done = false;
	free(job);
	if (c->gone && !c->working)
		pop3_client_free(c);
}

void pop3_client_work(struct pop3_client *c, void (*work)(void *ctx),
		      void (*done)(struct pop3_client *c, void *ctx), void *ctx)
{
	struct pop3_job *job = xcalloc(1, sizeof(*job));

	job->req.data = job;
	job->c = c;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	c->working = true;
	if (uv_queue_work(c->loop, &job->req, pop3_job_work, pop3_job_done) != 0) {
		/* cannot happen with a valid loop: run it here, not lose it */
		work(ctx);
		pop3_job_done(&job->req, 0);
	}
}

/* ---- the session lock ---- */

struct pop3_touch {
	struct pop3_maildrop *md;
	int result;
	const char *error;
};

static void pop3_touch_work(void *ctx)
{
	struct pop3_touch *t = ctx;

	t->result = pop3_maildrop_touch(t->md, &t->error);
}

static void pop3_touch_done(struct pop3_client *c, void *ctx)
{
	struct pop3_touch *t = ctx;
	int result = t->result;

	free(t);
	if (c->gone)
		return;
	if (c->shutdown) {
		pop3_client_goodbye(c);
		return;
	}
	conn_resume(c->conn);
	if (result > 0)
		return;
	/* Someone took the lock from us: this session's view may no longer
	 * be the only one (RFC 1939 8: exclusive access). */
	log_warn(conn_sid(c->conn), "%s: session lock lost user=<%s>",
		 conn_service(c->conn)->name, c->user);
	pop3_client_line(c, "-ERR [SYS/TEMP] Couldn't update the POP3 session lock.");
	conn_close(c->conn, "session lock lost");
}

static void pop3_lock_timer_cb(uv_timer_t *t)
{
	struct pop3_client *c = t->data;
	struct pop3_touch *touch;

	/* Busy with a command: the next tick does it (the period is a third
	 * of the stale time). */
	if (c->working || c->retr != NULL || c->md == NULL || c->md->lock == NULL)
		return;
	/* No command is pending now (they all hold a job or a RETR): hold
	 * the next one back until the touch is done, one job at a time. */
	conn_pause(c->conn);
	touch = xcalloc(1, sizeof(*touch));
	touch->md = c->md;
	pop3_client_work(c, pop3_touch_work, pop3_touch_done, touch);
}

void pop3_client_logged_in(struct pop3_client *c)
{
	c->state = POP3_ST_TRANS;
	if (c->md->lock == NULL)
		return;
	uv_timer_start(&c->lock_timer, pop3_lock_timer_cb, POP3_LOCK_STALE_SECS * 1000 / 3,
		       POP3_LOCK_STALE_SECS * 1000 / 3);
}

/* ---- dispatch ---- */

static const struct pop3_cmd_def *pop3_cmd_find(const char *name)
{
	for (size_t i = 0; i < pop3_commands_count; i++)
		if (strcmp(pop3_commands[i].name, name) == 0)
			return &pop3_commands[i];
	return NULL;
}

static void pop3_on_line(void *session, struct conn *conn, const struct lr_line *line)
{
	struct pop3_client *c = session;
	struct pop3_command cmd;
	const struct pop3_cmd_def *def;
	const char *error;

	if (conn_is_closing(conn) || c->state == POP3_ST_UPDATE)
		return;
	if (c->auth_waiting) {
		pop3_auth_line(c, line->data);
		return;
	}
	if (pop3_parse_line(line->data, line->len, line->flags, &cmd, &error) < 0) {
		pop3_client_bad(c, "-ERR %s", error);
		return;
	}
	def = pop3_cmd_find(cmd.name);
	if (def == NULL) {
		pop3_client_bad(c, "-ERR Unknown command: %s", cmd.name);
		return;
	}
	if ((def->states & c->state) == 0) {
		pop3_client_bad(c, c->state == POP3_ST_AUTH ? "-ERR Log in first." :
				"-ERR Not allowed once logged in.");
		return;
	}
	pop3_client_run(c, def->run, &cmd);
}

void pop3_client_run(struct pop3_client *c,
		     bool (*run)(struct pop3_client *c, const struct pop3_command *cmd),
		     const struct pop3_command *cmd)
{
	unsigned bad = c->bad_commands;

	if (!run(c, cmd)) {
		/* a failed login counts when it ends */
		c->pending = true;
		conn_pause(c->conn);
		return;
	}
	/* As Dovecot counts: bad commands in a row; one that is not bad
	 * starts the count again. */
	if (c->bad_commands == bad)
		c->bad_commands = 0;
}

static void pop3_on_too_long(void *session, struct conn *conn)
{
	struct pop3_client *c = session;

	(void)conn;
	if (c->auth_waiting) {
		/* An answer to a SASL challenge that long ends the exchange. */
		pop3_auth_abort(c);
		pop3_client_bad(c, "-ERR Input line too long.");
		pop3_client_done(c);
		return;
	}
	pop3_client_bad(c, "-ERR Input line too long.");
}

void pop3_on_writable(void *session, struct conn *conn)
{
	struct pop3_client *c = session;

	(void)conn;
	if (c != NULL && c->retr != NULL)
		pop3_retr_writable(c);
}

struct pop3_client *pop3_client_new(struct conn *conn, size_t size)
{
	struct pop3_client *c = xcalloc(1, size);

	c->conn = conn;
	c->mbs = daemon_context(daemon_of_conn(conn));
	c->loop = daemon_loop(daemon_of_conn(conn));
	c->state = POP3_ST_AUTH;
	uv_timer_init(c->loop, &c->lock_timer);
	c->lock_timer.data = c;
	c->next = c->mbs->pop3_clients;
	if (c->next != NULL)
		c->next->prev = c;
	c->mbs->pop3_clients = c;
	/* RFC 1939 3: an autologout timer of at least 10 minutes. */
	conn_set_timeout(conn, CONN_TIMEOUT_IDLE,
			 cfg_time(pop3_client_cfg(c), "pop3_idle_timeout"));
	return c;
}

static void *pop3_connect(struct conn *conn)
{
	struct pop3_client *c = pop3_client_new(conn, sizeof(*c));

	pop3_client_line(c, "+OK %s Mailroom POP3 ready.", c->mbs->hostname);
	return c;
}

static void pop3_on_tls(void *session, struct conn *conn)
{
	struct pop3_client *c = session;

	(void)conn;
	/* RFC 2595 4: forget what was said before TLS. */
	free(c->user_arg);
	c->user_arg = NULL;
}

static void pop3_on_timeout(struct conn *conn, enum conn_timeout which)
{
	(void)which;
	conn_write_str(conn, "-ERR Disconnected for inactivity.\r\n");
}

static void pop3_on_busy(struct conn *conn)
{
	conn_write_str(conn, "-ERR [SYS/TEMP] Too many connections, try later.\r\n");
}

/* Closing the maildrop releases the session lock: file system work. */
struct pop3_release {
	uv_work_t req;
	struct pop3_maildrop *md;
};

static void pop3_release_work(uv_work_t *req)
{
	struct pop3_release *r = req->data;

	pop3_maildrop_close(&r->md);
}

static void pop3_release_done(uv_work_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void pop3_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void pop3_client_free(struct pop3_client *c)
{
	if (c->md != NULL) {
		struct pop3_release *r = xcalloc(1, sizeof(*r));

		r->req.data = r;
		r->md = c->md;
		c->md = NULL;
		if (uv_queue_work(c->loop, &r->req, pop3_release_work, pop3_release_done) != 0) {
			pop3_release_work(&r->req);
			pop3_release_done(&r->req, 0);
		}
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->mbs->pop3_clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->open_wait);   /* a login waiting for the lock: nothing held */
	free(c->user_arg);
	free(c->auth_mech);
	free(c->user);
	free(c->mbox_user.root);
	/* The timer's close callback frees the session. */
	uv_close((uv_handle_t *)&c->lock_timer, pop3_timer_closed);
}

void pop3_on_close(void *session, struct conn *conn)
{
	struct pop3_client *c = session;

	(void)conn;
	if (c == NULL)
		return;
	if (c->req != NULL)
		authd_client_cancel(c->req);
	c->req = NULL;
	pop3_auth_cancel(c);
	if (c->retr != NULL)
		pop3_retr_abort(c);
	if (c->working || c->in_job_done) {
		c->gone = true;   /* the job's callback frees it */
		return;
	}
	pop3_client_free(c);
}

#define POP3_SERVICE(NAME) { \
	.name = NAME, .max_line = POP3_READ_LINE_MAX, .eol = LR_EOL_LF, \
	.on_connect = pop3_connect, .on_line = pop3_on_line, \
	.on_too_long = pop3_on_too_long, .on_tls = pop3_on_tls, \
	.on_writable = pop3_on_writable, .on_timeout = pop3_on_timeout, \
	.on_busy = pop3_on_busy, .on_close = pop3_on_close }

const struct conn_service pop3_service = POP3_SERVICE("pop3");
const struct conn_service pop3s_service = POP3_SERVICE("pop3s");
