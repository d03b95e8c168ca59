/* A test-only stand-in for mta/queue.c, so the SMTP session can be tested
 * before the real queue exists: each committed message becomes one file
 * "<id>" in queue_directory (an envelope block, a blank line, the message),
 * written and fsync'd before the commit callback. Not shipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "queue.h"
#include "xalloc.h"

#include <uv.h>

struct authd_client;

struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, struct authd_client *authd,
			const char **error_r);
void queue_free(struct queue *q);
extern const struct cfg_def queue_defs[];
extern const size_t queue_defs_count;

struct queue {
	uv_loop_t *loop;
	char *dir;
	unsigned long next;
};

struct queue_msg {
	struct queue *q;
	char id[32];
	struct buf data;
	bool failed;
};

struct queue_commit {
	uv_timer_t timer;
	struct queue_msg *msg;
	queue_commit_cb *cb;
	void *ctx;
	enum queue_result result;
};

const struct cfg_def queue_defs[] = {
	{ "queue_directory", CFG_STR, "/var/spool/mailroom", "where queued messages are kept",
	  0, 0, NULL, NULL },
};
const size_t queue_defs_count = 1;

struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, struct authd_client *authd,
			const char **error_r)
{
	struct queue *q = xcalloc(1, sizeof(*q));

	(void)authd;
	(void)error_r;
	q->loop = loop;
	q->dir = xstrdup(cfg_str(cfg, "queue_directory"));
	q->next = (unsigned long)getpid() * 100000;
	return q;
}

void queue_free(struct queue *q)
{
	free(q->dir);
	free(q);
}

struct queue_msg *queue_msg_begin(struct queue *q, const struct queue_envelope *env,
				  const char **error_r)
{
	struct queue_msg *m;
	char full[4096];

	/* a file "full" in the directory stands for a full disk */
	snprintf(full, sizeof(full), "%s/full", q->dir);
	if (access(full, F_OK) == 0) {
		*error_r = "No space left on device";
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->q = q;
	snprintf(m->id, sizeof(m->id), "S%lX", q->next++);
	buf_init(&m->data, BUF_NO_LIMIT);
	buf_printf(&m->data, "sender=%s\n", env->sender);
	for (size_t i = 0; i < env->nrcpts; i++)
		buf_printf(&m->data, "rcpt=%s notify=%u orcpt=%s\n", env->rcpts[i].addr,
			   env->rcpts[i].notify, env->rcpts[i].orcpt != NULL ? env->rcpts[i].orcpt : "");
	buf_printf(&m->data, "ret=%s\nenvid=%s\nsmtputf8=%d\nbody_8bit=%d\nauth_user=%s\n"
		   "protocol=%s\n\n", env->ret != NULL ? env->ret : "",
		   env->envid != NULL ? env->envid : "", env->smtputf8, env->body_8bit,
		   env->auth_user != NULL ? env->auth_user : "", env->protocol);
	return m;
}

int queue_msg_write(struct queue_msg *msg, const void *data, size_t len)
{
	return buf_append(&msg->data, data, len);
}

uint64_t queue_msg_size(const struct queue_msg *msg)
{
	return msg->data.len;
}

const char *queue_msg_id(const struct queue_msg *msg)
{
	return msg->id;
}

static void queue_msg_free(struct queue_msg *msg)
{
	buf_free(&msg->data);
	free(msg);
}

static void queue_commit_closed(uv_handle_t *h)
{
	free(h->data);
}

static void queue_commit_fire(uv_timer_t *t)
{
	struct queue_commit *c = t->data;

	c->cb(c->ctx, c->result, c->msg->id, c->result == QUEUE_OK ? NULL : "write failed");
	queue_msg_free(c->msg);
	uv_close((uv_handle_t *)&c->timer, queue_commit_closed);
}

void queue_msg_commit(struct queue_msg *msg, queue_commit_cb *cb, void *ctx)
{
	struct queue_commit *c = xcalloc(1, sizeof(*c));
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", msg->q->dir, msg->id);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	c->result = fd >= 0 && write(fd, msg->data.data, msg->data.len) == (ssize_t)msg->data.len &&
		fsync(fd) == 0 ? QUEUE_OK : QUEUE_TEMPFAIL;
	if (fd >= 0)
		close(fd);
	c->msg = msg;
	c->cb = cb;
	c->ctx = ctx;
	/* the real queue answers later, from its group commit: so do we */
	uv_timer_init(msg->q->loop, &c->timer);
	c->timer.data = c;
	uv_timer_start(&c->timer, queue_commit_fire, 1, 0);
}

void queue_msg_abort(struct queue_msg *msg)
{
	queue_msg_free(msg);
}
