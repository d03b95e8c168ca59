/* The lookup protocol for mta and mbs (docs/authd.md): pipelined,
 * tab-separated requests tagged with ids; every backend question runs on a
 * worker, so answers come back in the order they finish. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "core.h"
#include "log.h"
#include "names.h"
#include "proto-lookup.h"
#include "services.h"
#include "xalloc.h"

struct lookup_session {
	struct conn *conn;           /* NULL once closed */
	struct authd *a;
	unsigned inflight;
	bool paused;
};

struct lookup_job {
	struct lookup_session *s;
	struct lookup_request req;
	struct buf reply;            /* without the id */
};

static void lookup_session_release(struct lookup_session *s)
{
	if (s->conn == NULL && s->inflight == 0)
		free(s);
}

static void lookup_reply(struct conn *c, const char *id, const char *rest)
{
	conn_printf(c, "%s\t%s\n", *id != '\0' ? id : "*", rest);
}

/* ------------------------------------------------------------ commands */

static void lookup_tempfail(struct buf *out, const char *why)
{
	buf_append_str(out, "TEMPFAIL");
	authd_field_add(out, why != NULL ? why : "backend unavailable");
}

/* Answer TEMPFAIL or NOTFOUND; false for OK, which the caller spells
 * out. */
static bool lookup_not_ok(struct buf *out, enum authd_status st, const char *err)
{
	if (st == AUTHD_TEMPFAIL)
		lookup_tempfail(out, err);
	else if (st == AUTHD_NOTFOUND)
		buf_append_str(out, "NOTFOUND");
	return st != AUTHD_OK;
}

static void lookup_services(struct buf *out, unsigned services)
{
	static const char *const names[] = { "smtp", "imap", "pop3", "deliver" };
	struct buf list;

	buf_init(&list, BUF_NO_LIMIT);
	for (size_t i = 0; i < 4; i++)
		if ((services & (1u << i)) != 0)
			buf_printf(&list, "%s%s", list.len > 0 ? "," : "", names[i]);
	buf_append_str(out, "\tservices=");
	authd_field_escape(out, buf_cstr(&list));
	buf_free(&list);
}

static void lookup_maildir(struct buf *out, struct authd_env *e, const char *maildir)
{
	const char *root = authd_env_mail_root(e);
	char *full;

	if (maildir[0] == '/' || *root == '\0')
		full = xstrdup(maildir);
	else
		full = xasprintf("%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", maildir);
	buf_append_str(out, "\tmaildir=");
	authd_field_escape(out, full);
	free(full);
}

static void lookup_user(struct authd_env *e, struct authd_db *db, const char *addr,
			struct buf *out)
{
	struct authd_user u;
	const char *err = NULL;
	enum authd_status st = authd_db_user(db, addr, &u, &err);

	if (lookup_not_ok(out, st, err))
		return;
	buf_append_str(out, "OK\tuser=");
	authd_field_escape(out, u.user);
	lookup_maildir(out, e, u.maildir);
	buf_printf(out, "\tquota_bytes=%" PRIu64 "\tquota_messages=%" PRIu64,
		   u.quota_bytes, u.quota_messages);
	lookup_services(out, u.services);
	buf_printf(out, "\tstatus=%s", !u.active ? "disabled" :
		   !u.domain_active ? "domain-disabled" : "active");
	authd_user_free(&u);
}

static void lookup_rcpt(struct authd_env *e, struct authd_db *db, const char *addr,
			struct buf *out)
{
	static const char *const kinds[] = { "mailbox", "alias", "relay" };
	struct resolve_result r;

	switch (resolve_rcpt(db, authd_env_resolve(e), addr, &r)) {
	case RESOLVE_TEMPFAIL: lookup_tempfail(out, r.reason); break;
	case RESOLVE_UNKNOWN: buf_append_str(out, "NOTFOUND"); break;
	case RESOLVE_FAIL:
		buf_append_str(out, "FAIL");
		authd_field_add(out, r.reason);
		break;
	case RESOLVE_OK:
		buf_printf(out, "OK\tkind=%s", kinds[r.kind]);
		if (r.detail != NULL) {
			buf_append_str(out, "\tdetail=");
			authd_field_escape(out, r.detail);
		}
		for (size_t i = 0; i < r.count; i++) {
			buf_append_str(out, r.targets[i].maildir != NULL ? "\tlocal=" : "\tremote=");
			authd_field_escape(out, r.targets[i].addr);
			if (r.targets[i].maildir != NULL)
				lookup_maildir(out, e, r.targets[i].maildir);
		}
		break;
	}
	resolve_result_free(&r);
}

static void lookup_domain(struct authd_env *e, struct authd_db *db, const char *domain,
			  struct buf *out)
{
	struct authd_domain d;
	const char *err = NULL;
	enum authd_status st = resolve_domain(db, authd_env_resolve(e), domain, &d, &err);

	if (lookup_not_ok(out, st, err))
		return;
	buf_printf(out, "OK\ttype=%s\tstatus=%s",
		   d.relay ? "relay" : d.alias_target != NULL ? "alias" : "hosted",
		   d.active ? "active" : "inactive");
	if (d.alias_target != NULL) {
		buf_append_str(out, "\ttarget=");
		authd_field_escape(out, d.alias_target);
	}
	authd_domain_free(&d);
}

static void lookup_sender(struct authd_env *e, struct authd_db *db, const char *login,
			  const char *sender, struct buf *out)
{
	const char *err = NULL;
	enum authd_status st = resolve_sender(db, authd_env_resolve(e), login, sender, &err);

	if (!lookup_not_ok(out, st, err))
		buf_append_str(out, "OK");
}

/* Worker: answer one request into job->reply. */
/* Answer job into job->reply; with cache_only, from fresh cache entries
 * alone (on the loop thread), returning false when the answer needs the
 * backend. */
static bool lookup_answer(struct lookup_job *job, bool cache_only)
{
	struct authd *a = job->s->a;
	struct authd_env *e = authd_env_get(a);
	char **args = job->req.args.items, *key = NULL, *key2 = NULL;
	const char *err;
	struct authd_db db;
	int ok;

	authd_env_db(a, e, &db);
	db.cache_only = cache_only;
	if (job->req.cmd == LOOKUP_DOMAIN) {
		char *probe = xasprintf("@%s", args[0]);

		ok = authd_env_normalize(e, probe, &key, &err) == 0;
		free(probe);
	} else {
		ok = authd_env_normalize(e, args[0], &key, &err) == 0 &&
		     (job->req.cmd != LOOKUP_SENDER ||
		      authd_env_normalize(e, args[1], &key2, &err) == 0);
	}
	/* What is no address cannot be anybody: not found, like any
	 * stranger, whatever characters it carries. */
	if (!ok || (job->req.cmd != LOOKUP_DOMAIN &&
		    (key[0] == '@' || (key2 != NULL && key2[0] == '@'))))
		buf_append_str(&job->reply, "NOTFOUND");
	else if (job->req.cmd == LOOKUP_USER)
		lookup_user(e, &db, key, &job->reply);
	else if (job->req.cmd == LOOKUP_RCPT)
		lookup_rcpt(e, &db, key, &job->reply);
	else if (job->req.cmd == LOOKUP_DOMAIN)
		lookup_domain(e, &db, key + 1, &job->reply);
	else
		lookup_sender(e, &db, key, key2, &job->reply);
	free(key);
	free(key2);
	authd_env_put(a, e);
	if (db.missed)
		buf_reset(&job->reply);
	return !db.missed;
}

static void lookup_work(void *ctx)
{
	lookup_answer(ctx, false);
}

static void lookup_done(void *ctx)
{
	struct lookup_job *job = ctx;
	struct lookup_session *s = job->s;

	s->inflight--;
	if (s->conn != NULL) {
		lookup_reply(s->conn, job->req.id, buf_cstr(&job->reply));
		if (s->paused && s->inflight < LOOKUP_MAX_INFLIGHT / 2) {
			s->paused = false;
			conn_resume(s->conn);
		}
	}
	lookup_request_free(&job->req);
	buf_free(&job->reply);
	free(job);
	lookup_session_release(s);
}

/* ------------------------------------------------------------- session */

static void lookup_inline(struct lookup_session *s, struct conn *c,
			  const struct lookup_request *req)
{
	struct authd_env *e;
	char *key = NULL, *reply;
	const char *err;
	size_t n;

	if (req->cmd == LOOKUP_PING) {
		lookup_reply(c, req->id, "OK");
		return;
	}
	if (req->args.count == 0) {
		n = authd_flush(s->a, NULL);
	} else {
		e = authd_env_get(s->a);
		if (strchr(req->args.items[0], '@') != NULL)
			key = authd_env_normalize(e, req->args.items[0], &key, &err) == 0 ? key : NULL;
		else
			key = authd_name_lower(req->args.items[0]);
		authd_env_put(s->a, e);
		n = key != NULL ? authd_flush(s->a, key) : 0;
	}
	log_info(conn_sid(c), "cache flush key=%s entries=%zu",
		 req->args.count > 0 ? (key != NULL ? key : "-") : "*", n);
	reply = xasprintf("OK\tflushed=%zu", n);
	lookup_reply(c, req->id, reply);
	free(reply);
	free(key);
}

static void lookup_line(void *session, struct conn *c, const struct lr_line *line)
{
	struct lookup_session *s = session;
	struct lookup_job *job;
	struct lookup_request req;
	const char *err;
	char *reply;

	if (lookup_request_parse(line->data, line->len, &req, &err) < 0) {
		reply = xasprintf("ERROR\t%s", err);
		lookup_reply(c, req.id, reply);
		free(reply);
		return;
	}
	if (req.cmd == LOOKUP_PING || req.cmd == LOOKUP_FLUSH) {
		lookup_inline(s, c, &req);
		lookup_request_free(&req);
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->req = req;
	buf_init(&job->reply, BUF_NO_LIMIT);
	s->inflight++;
	/* Most answers are cached: give them at once, without a worker. */
	if (lookup_answer(job, true)) {
		lookup_done(job);
		return;
	}
	if (s->inflight >= LOOKUP_MAX_INFLIGHT && !s->paused) {
		s->paused = true;
		conn_pause(c);
	}
	authd_submit(s->a, lookup_work, lookup_done, job);
}

static void *lookup_connect(struct conn *c)
{
	struct lookup_session *s = xcalloc(1, sizeof(*s));

	s->conn = c;
	s->a = authd_of_conn(c);
	return s;
}

static void lookup_too_long(void *session, struct conn *c)
{
	(void)session;
	lookup_reply(c, "*", "ERROR\tline too long");
}

static void lookup_busy(struct conn *c)
{
	lookup_reply(c, "*", "TEMPFAIL\ttoo many connections");
}

static void lookup_close(void *session, struct conn *c)
{
	struct lookup_session *s = session;

	(void)c;
	s->conn = NULL;
	lookup_session_release(s);
}

const struct conn_service authd_lookup_service = {
	.name = "lookup",
	.max_line = LOOKUP_LINE_MAX,
	.eol = LR_EOL_LF,
	.on_connect = lookup_connect,
	.on_line = lookup_line,
	.on_too_long = lookup_too_long,
	.on_busy = lookup_busy,
	.on_close = lookup_close,
};
