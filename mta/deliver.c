/* Local delivery of queued messages: load the file (worker), resolve each
 * pending recipient through authd (loop), write the Maildir copies and
 * the new queue state (worker), then log and reply (loop). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd-client.h"
#include "deliver.h"
#include "log.h"
#include "xalloc.h"

struct deliver_lookup {
	struct deliver_job *job;
	size_t index;		/* recipient (rcpt lookups) or target (user lookups) */
};

static void deliver_resolved(struct deliver_job *job);

void deliver_set(struct deliver_outcome *o, enum deliver_result result, unsigned code,
		 const char *enh, const char *text)
{
	o->result = result;
	o->code = code;
	snprintf(o->enh, sizeof(o->enh), "%s", enh);
	free(o->text);
	o->text = xstrdup(text);
}

static void deliver_job_free(struct deliver_job *job)
{
	for (size_t i = 0; i < job->qf.nrcpts && job->rcpts != NULL; i++)
		free(job->rcpts[i].text);
	for (size_t i = 0; i < job->ntargets; i++) {
		struct deliver_target *t = &job->targets[i];

		free(t->addr);
		free(t->maildir);
		free(t->detail);
		free(t->folder);
		free(t->out.text);
	}
	free(job->targets);
	free(job->rcpts);
	queue_file_free(&job->qf);
	if (job->fd >= 0)
		close(job->fd);
	free(job->headers);
	free(job->load_error);
	free(job->path);
	free(job);
}

/* ---- load ---- */

static void deliver_load_work(uv_work_t *work)
{
	struct deliver_job *job = work->data;
	const char *error = NULL;
	int ret = queue_file_load(job->path, &job->qf, false, &error);

	if (ret == 0) {
		job->gone = true;
	} else if (ret < 0 || strcmp(job->qf.id, job->id) != 0) {
		char *to = queue_path(job->q, QUEUE_CORRUPT, job->id);

		job->corrupt = true;
		job->load_error = xstrdup(ret < 0 ? error : "id does not match the file name");
		rename(job->path, to);
		free(to);
	} else if ((job->fd = open(job->path, O_RDONLY | O_CLOEXEC)) < 0) {
		job->gone = true;
	} else {
		deliver_local_read_headers(job);
	}
}

static struct deliver_target *deliver_target_add(struct deliver_job *job, size_t rcpt,
						 const char *addr)
{
	struct deliver_target *t;

	job->targets = xreallocarray(job->targets, job->ntargets + 1, sizeof(*job->targets));
	t = &job->targets[job->ntargets++];
	memset(t, 0, sizeof(*t));
	t->rcpt = rcpt;
	t->addr = xstrdup(addr);
	return t;
}

static void deliver_lookup_done(struct deliver_job *job)
{
	if (--job->lookups == 0)
		deliver_resolved(job);
}

static void deliver_user_cb(void *ctx, const struct authd_user_answer *a)
{
	struct deliver_lookup *lk = ctx;
	struct deliver_job *job = lk->job;
	struct deliver_target *t = &job->targets[lk->index];

	if (a->status == AUTHD_CLIENT_TEMPFAIL) {
		deliver_set(&t->out, DELIVER_TEMP, 451, "4.3.0",
			    a->reason != NULL ? a->reason : "authd unavailable");
	} else if (a->status == AUTHD_CLIENT_OK) {
		t->quota_bytes = a->quota_bytes;
		t->quota_messages = a->quota_messages;
		if (a->state != NULL && strcmp(a->state, "active") != 0)
			deliver_set(&t->out, DELIVER_PERM, 550, "5.2.1", "mailbox disabled");
	}
	free(lk);
	deliver_lookup_done(job);
}

static void deliver_rcpt_targets(struct deliver_job *job, size_t i,
				 const struct authd_rcpt_answer *a)
{
	bool mailbox = a->kind != NULL && strcmp(a->kind, "mailbox") == 0;

	for (size_t k = 0; k < a->ntargets; k++) {
		const struct authd_rcpt_target *at = &a->targets[k];
		struct deliver_target *t;

		if (at->remote != NULL) {
			deliver_target_add(job, i, at->remote)->remote = true;
			continue;
		}
		if (at->local == NULL || at->maildir == NULL ||
		    queue_file_is_done(&job->qf, i, at->local))
			continue;
		t = deliver_target_add(job, i, at->local);
		t->maildir = xstrdup(at->maildir);
		t->detail = mailbox && a->detail != NULL ? xstrdup(a->detail) : NULL;

		struct deliver_lookup *lk = xcalloc(1, sizeof(*lk));
		lk->job = job;
		lk->index = job->ntargets - 1;
		job->lookups++;
		authd_client_user(job->q->authd, at->local, deliver_user_cb, lk);
	}
}

static void deliver_rcpt_cb(void *ctx, const struct authd_rcpt_answer *a)
{
	struct deliver_lookup *lk = ctx;
	struct deliver_job *job = lk->job;
	struct deliver_outcome *o = &job->rcpts[lk->index];
	const char *reason = a->reason != NULL ? a->reason : "";

	switch (a->status) {
	case AUTHD_CLIENT_OK:
		deliver_set(o, DELIVER_OK, 250, "2.0.0", "resolved");
		deliver_rcpt_targets(job, lk->index, a);
		break;
	case AUTHD_CLIENT_NOTFOUND:
		deliver_set(o, DELIVER_PERM, 550, "5.1.1", "unknown user");
		break;
	case AUTHD_CLIENT_FAIL:
		deliver_set(o, DELIVER_PERM, 550, "5.4.6", *reason ? reason : "alias loop");
		break;
	case AUTHD_CLIENT_TEMPFAIL:
		deliver_set(o, DELIVER_TEMP, 451, "4.3.0",
			    *reason ? reason : "authd unavailable");
		break;
	}
	free(lk);
	deliver_lookup_done(job);
}

static void deliver_load_done(uv_work_t *work, int status)
{
	struct deliver_job *job = work->data;
	struct queue *q = job->q;

	(void)status;
	if (job->gone || job->corrupt || q->closing) {
		if (job->corrupt)
			log_error(job->id, "queue: corrupt queue file moved to corrupt/: %s",
				  job->load_error);
		for (size_t i = 0; job->rcpt_cb != NULL && i < job->lmtp_nrcpts; i++)
			job->rcpt_cb(job->ctx, i, 451, "4.3.0", "queue file lost");
		if (job->rcpt_cb != NULL)
			job->rcpt_cb(job->ctx, QUEUE_RCPT_DONE, 0, NULL, NULL);
		deliver_job_free(job);
		queue_delivery_done(q);
		queue_unref(q);
		return;
	}
	job->nrcpts_before = job->qf.nrcpts;
	job->rcpts = xcalloc(job->qf.nrcpts, sizeof(*job->rcpts));
	job->qf.attempts++;
	job->lookups = 1;	/* held until every request is out */
	for (size_t i = 0; i < job->qf.nrcpts; i++) {
		struct deliver_lookup *lk;

		if (job->qf.rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		lk = xcalloc(1, sizeof(*lk));
		lk->job = job;
		lk->index = i;
		job->lookups++;
		authd_client_rcpt(q->authd, job->qf.rcpts[i].addr, deliver_rcpt_cb, lk);
	}
	deliver_lookup_done(job);
}

void deliver_start(struct queue *q, const char *id, enum queue_subdir dir,
		   queue_rcpt_cb *rcpt_cb, void *ctx, size_t nrcpts)
{
	struct deliver_job *job = xcalloc(1, sizeof(*job));

	job->q = q;
	snprintf(job->id, sizeof(job->id), "%s", id);
	job->dir = dir;
	job->path = queue_path(q, dir, id);
	job->fd = -1;
	job->rcpt_cb = rcpt_cb;
	job->ctx = ctx;
	job->lmtp_nrcpts = nrcpts;
	queue_file_init(&job->qf);
	job->work.data = job;
	q->running++;
	queue_ref(q);
	uv_queue_work(q->loop, &job->work, deliver_load_work, deliver_load_done);
}

/* ---- deliver and record (worker) ---- */

/* A recipient's outcome from its lookup and its targets: any temporary
 * failure keeps it pending (the targets done are remembered), else any
 * permanent one bounces it. */
static void deliver_rcpt_outcome(struct deliver_job *job, size_t i)
{
	struct deliver_outcome *o = &job->rcpts[i];
	const struct deliver_target *worst = NULL;

	if (o->result != DELIVER_OK)
		return;
	for (size_t k = 0; k < job->ntargets; k++) {
		const struct deliver_target *t = &job->targets[k];

		if (t->rcpt != i || t->remote)
			continue;
		if (t->out.result == DELIVER_TEMP ||
		    (t->out.result == DELIVER_PERM &&
		     (worst == NULL || worst->out.result != DELIVER_TEMP)))
			worst = t;
	}
	if (worst != NULL)
		deliver_set(o, worst->out.result, worst->out.code, worst->out.enh,
			    worst->out.text);
}

static void deliver_record(struct deliver_job *job, bool *bounced_now)
{
	struct queue_file *qf = &job->qf;
	bool expired = job->now - qf->arrival > (int64_t)job->q->set.lifetime;

	for (size_t i = 0; i < job->nrcpts_before; i++) {
		struct queue_file_rcpt *r = &qf->rcpts[i];
		struct deliver_outcome *o = &job->rcpts[i];
		char diag[512];

		if (r->state == QUEUE_RCPT_REMOTE)
			deliver_set(o, DELIVER_TEMP, 451, "4.4.1",
				    "remote delivery not available yet");
		else if (r->state != QUEUE_RCPT_PENDING)
			continue;
		deliver_rcpt_outcome(job, i);
		if (o->result == DELIVER_TEMP && (expired || job->rcpt_cb != NULL)) {
			if (expired) {
				char *text = xasprintf("delivery time expired: %s", o->text);

				deliver_set(o, DELIVER_PERM, 550, "5.4.7", text);
				free(text);
			}
			r->state = QUEUE_RCPT_BOUNCED;
			bounced_now[i] = job->rcpt_cb == NULL;
		} else if (o->result == DELIVER_PERM) {
			r->state = QUEUE_RCPT_BOUNCED;
			bounced_now[i] = job->rcpt_cb == NULL;
		} else if (o->result == DELIVER_OK) {
			r->state = QUEUE_RCPT_SENT;
		}
		snprintf(diag, sizeof(diag), "%s %s", o->enh, o->text);
		queue_file_set_diag(r, diag);
	}
	for (size_t k = 0; k < job->ntargets; k++) {
		const struct deliver_target *t = &job->targets[k];

		if (t->remote && job->rcpts[t->rcpt].result != DELIVER_PERM) {
			const struct queue_file_rcpt *orig = &qf->rcpts[t->rcpt];
			struct queue_file_rcpt *r = queue_file_add_rcpt(
				qf, t->addr, orig->notify,
				orig->orcpt != NULL ? orig->orcpt : orig->addr);

			r->state = QUEUE_RCPT_REMOTE;
			queue_file_set_diag(r, "4.4.1 remote delivery not available yet");
		} else if (!t->remote && t->out.result == DELIVER_OK) {
			queue_file_add_done(qf, t->rcpt, t->addr);
		}
	}
}

static bool deliver_has_work_left(const struct queue_file *qf)
{
	for (size_t i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].state == QUEUE_RCPT_PENDING ||
		    qf->rcpts[i].state == QUEUE_RCPT_REMOTE)
			return true;
	}
	return false;
}

static void deliver_finish_work(uv_work_t *work)
{
	struct deliver_job *job = work->data;
	struct queue_file *qf = &job->qf;
	bool *bounced_now = xcalloc(qf->nrcpts + 1, sizeof(*bounced_now));

	for (size_t k = 0; k < job->ntargets; k++) {
		struct deliver_target *t = &job->targets[k];

		if (!t->remote && t->out.result == DELIVER_WAIT &&
		    job->rcpts[t->rcpt].result == DELIVER_OK)
			deliver_local(job, t);
	}
	deliver_record(job, bounced_now);
	/* The bounce is durable before the original goes: a crash between
	 * the two can only duplicate it, never lose it. */
	if (bounce_write(job, bounced_now) < 0)
		job->finish_errno = errno;
	free(bounced_now);
	if (deliver_has_work_left(qf)) {
		char *dst = queue_path(job->q, QUEUE_DEFERRED, job->id);

		struct queue_piece msg = { NULL, qf->msg_size, job->fd, qf->msg_offset };

		qf->next_retry = job->now + queue_retry_delay(job->q, qf->attempts);
		if (queue_file_write_durable(job->q, qf, &msg, 1, dst, &job->finish_errno) == 0) {
			job->kept = true;
			if (job->dir != QUEUE_DEFERRED)
				unlink(job->path);
		}
		free(dst);
	} else if (unlink(job->path) < 0 && errno != ENOENT) {
		job->finish_errno = errno;
	}
}

/* ---- report (loop) ---- */

static void deliver_log(struct deliver_job *job, const char *to, const char *orig_to,
			const struct deliver_outcome *o, const char *relay)
{
	struct buf line;
	const char *status = o->result == DELIVER_OK ? "sent" :
			     o->result == DELIVER_TEMP ? "deferred" : "bounced";

	buf_init(&line, BUF_NO_LIMIT);
	queue_log_addr(&line, "to", to);
	if (orig_to != NULL && strcasecmp(orig_to, to) != 0) {
		buf_append_str(&line, ", ");
		queue_log_addr(&line, "orig_to", orig_to);
	}
	buf_printf(&line, ", relay=%s, delay=%lld, attempts=%u, dsn=%s, status=%s, reason=",
		   relay, (long long)(job->now - job->qf.arrival), job->qf.attempts, o->enh,
		   status);
	log_escape(&line, o->text);
	log_info(job->id, "%s", line.data);
	buf_free(&line);
}

static void deliver_report(struct deliver_job *job)
{
	for (size_t k = 0; k < job->ntargets; k++) {
		const struct deliver_target *t = &job->targets[k];
		const struct deliver_outcome *ro = &job->rcpts[t->rcpt];

		if (t->remote)
			continue;
		deliver_log(job, t->addr, job->qf.rcpts[t->rcpt].addr,
			    t->out.result != DELIVER_WAIT ? &t->out : ro, "local");
	}
	for (size_t i = 0; i < job->qf.nrcpts; i++) {
		const struct queue_file_rcpt *r = &job->qf.rcpts[i];
		struct deliver_outcome remote = { DELIVER_TEMP, 451, "4.4.1",
						  (char *)"remote delivery not available yet" };

		if (r->state == QUEUE_RCPT_REMOTE)
			deliver_log(job, r->addr, r->orcpt, &remote, "none");
		else if (i < job->nrcpts_before && job->rcpts[i].result != DELIVER_OK &&
			 job->rcpts[i].result != DELIVER_WAIT) {
			bool had_targets = false;

			for (size_t k = 0; k < job->ntargets; k++)
				had_targets |= job->targets[k].rcpt == i && !job->targets[k].remote;
			if (!had_targets)
				deliver_log(job, r->addr, NULL, &job->rcpts[i], "none");
		}
	}
	if (job->bounce_written)
		log_info(job->id, "sender non-delivery notification: %s", job->bounce_id);
	if (job->finish_errno != 0)
		log_error(job->id, "queue: recording the delivery state failed: %s",
			  strerror(job->finish_errno));
	if (!job->kept && job->finish_errno == 0)
		log_info(job->id, "removed");
}

static void deliver_lmtp_reply(struct deliver_job *job)
{
	for (size_t i = 0; i < job->lmtp_nrcpts && i < job->nrcpts_before; i++) {
		const struct deliver_outcome *o = &job->rcpts[i];
		bool remote_only = o->result == DELIVER_OK;

		for (size_t k = 0; k < job->ntargets; k++)
			remote_only &= job->targets[k].rcpt != i || job->targets[k].remote;
		if (o->result == DELIVER_OK)
			job->rcpt_cb(job->ctx, i, 250, "2.0.0",
				     remote_only ? "queued for remote delivery" : "delivered");
		else
			job->rcpt_cb(job->ctx, i, o->code, o->enh, o->text);
	}
	job->rcpt_cb(job->ctx, QUEUE_RCPT_DONE, 0, NULL, NULL);
}

static void deliver_finish_done(uv_work_t *work, int status)
{
	struct deliver_job *job = work->data;
	struct queue *q = job->q;

	(void)status;
	if (!q->closing) {
		deliver_report(job);
		if (job->rcpt_cb != NULL)
			deliver_lmtp_reply(job);
		if (job->bounce_written)
			queue_schedule(q, job->bounce_id, QUEUE_ACTIVE, 0);
		if (job->kept)
			queue_schedule(q, job->id, QUEUE_DEFERRED, job->qf.next_retry);
		else if (job->finish_errno != 0)
			queue_schedule(q, job->id, job->dir,
				       job->now + queue_retry_delay(q, job->qf.attempts));
	}
	deliver_job_free(job);
	queue_delivery_done(q);
	queue_unref(q);
}

static void deliver_resolved(struct deliver_job *job)
{
	job->now = time(NULL);
	if (job->qf.sender[0] != '\0')
		queue_id_new(job->q, job->bounce_id);
	uv_queue_work(job->q->loop, &job->work, deliver_finish_work, deliver_finish_done);
}
