/* The queue: configuration, ids, receiving a message into incoming/
 * (docs/queue.md). Commit is in queue-commit.c, scanning and retry in
 * queue-scan.c, delivery in deliver*.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue-private.h"
#include "xalloc.h"

const struct cfg_def queue_defs[] = {
	{ "queue_directory", CFG_STR, "/var/spool/mailroom",
	  "the per-host queue: incoming/ active/ deferred/ corrupt/ below it", 0, 0, NULL, NULL },
	{ "queue_min_free_space", CFG_SIZE, "0",
	  "refuse new messages (452 4.3.1) when the queue's file system has less free", 0, 0,
	  NULL, NULL },
	{ "queue_retry_min", CFG_TIME, "5m", "first retry delay after a temporary failure",
	  1, 86400, NULL, NULL },
	{ "queue_retry_max", CFG_TIME, "1h", "longest retry delay (the delay doubles up to it)",
	  1, 7 * 86400, NULL, NULL },
	{ "queue_lifetime", CFG_TIME, "5d", "bounce what is still undelivered after this long",
	  1, 365 * 86400, NULL, NULL },
	{ "queue_syncfs_batch", CFG_INT, "8",
	  "commit batches of at least this many messages use one syncfs, not one fsync each",
	  1, 100000, NULL, NULL },
	{ "delivery_concurrency", CFG_INT, "20", "messages in local delivery at once",
	  1, 1000, NULL, NULL },
	{ "deliver_plus_to_folder", CFG_BOOL, "yes",
	  "user+Folder@domain goes into the Maildir++ folder Folder when it exists", 0, 0,
	  NULL, NULL },
	{ "quota_full_action", CFG_ENUM, "bounce",
	  "a mailbox over quota: bounce (5.2.2) or defer and retry (4.2.2)", 0, 0,
	  "bounce|defer", NULL },
	{ "delivery_hold", CFG_BOOL, "no",
	  "accept and keep messages without delivering them (storage maintenance); LMTP still delivers",
	  0, 0, NULL, NULL },
	{ "deliver_max_received", CFG_INT, "50",
	  "bounce a message with more Received: headers than this (a mail loop)", 1, 1000,
	  NULL, NULL },
};
const size_t queue_defs_count = sizeof(queue_defs) / sizeof(queue_defs[0]);

const char *const queue_subdir_names[] = {
	[QUEUE_INCOMING] = "incoming", [QUEUE_ACTIVE] = "active",
	[QUEUE_DEFERRED] = "deferred", [QUEUE_CORRUPT] = "corrupt",
};

char *queue_path(const struct queue *q, enum queue_subdir dir, const char *id)
{
	if (id == NULL)
		return xasprintf("%s/%s", q->set.dir, queue_subdir_names[dir]);
	return xasprintf("%s/%s/%s", q->set.dir, queue_subdir_names[dir], id);
}

static void queue_base36(char *out, size_t width, uint64_t v)
{
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	for (size_t i = width; i > 0; i--) {
		out[i - 1] = digits[v % 36];
		v /= 36;
	}
}

/* Seconds (7), microseconds (4), a counter (2), random (3): sortable by
 * arrival, unique within the process, and unlikely to meet a previous
 * run's ids; creation with O_EXCL catches the rest. */
void queue_id_new(struct queue *q, char id[QUEUE_ID_LEN + 1])
{
	struct timespec ts;
	uint32_t rnd = (uint32_t)random();

	clock_gettime(CLOCK_REALTIME, &ts);
	queue_base36(id, 7, (uint64_t)ts.tv_sec);
	queue_base36(id + 7, 4, (uint64_t)ts.tv_nsec / 1000);
	queue_base36(id + 11, 2, q->id_counter++ % (36 * 36));
	queue_base36(id + 13, 3, rnd % (36 * 36 * 36));
	id[QUEUE_ID_LEN] = '\0';
}

void queue_log_addr(struct buf *out, const char *key, const char *addr)
{
	bool plain = true;

	for (const unsigned char *p = (const unsigned char *)addr; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			plain = false;
	}
	buf_printf(out, "%s=<", key);
	if (plain)
		buf_append_str(out, addr);
	else
		log_escape(out, addr);
	buf_append_char(out, '>');
}

bool queue_errno_no_space(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/* ---- life cycle ---- */

static int queue_settings_load(struct queue_settings *s, const struct cfg *cfg)
{
	char host[256];

	s->dir = xstrdup(cfg_str(cfg, "queue_directory"));
	s->min_free = cfg_size(cfg, "queue_min_free_space");
	s->retry_min = cfg_time(cfg, "queue_retry_min");
	s->retry_max = cfg_time(cfg, "queue_retry_max");
	if (s->retry_max < s->retry_min)
		s->retry_max = s->retry_min;
	s->lifetime = cfg_time(cfg, "queue_lifetime");
	s->syncfs_batch = (unsigned)cfg_int(cfg, "queue_syncfs_batch");
	s->concurrency = (unsigned)cfg_int(cfg, "delivery_concurrency");
	s->plus_to_folder = cfg_bool(cfg, "deliver_plus_to_folder");
	s->quota_action = cfg_enum(cfg, "quota_full_action") == 0 ? QUEUE_QUOTA_BOUNCE :
			  QUEUE_QUOTA_DEFER;
	s->max_received = (unsigned)cfg_int(cfg, "deliver_max_received");
	s->hold = cfg_bool(cfg, "delivery_hold");
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	s->hostname = xstrdup(host);
	return 0;
}

static int queue_mkdirs(const struct queue *q, const char **error_r)
{
	static char error[512];

	if (mkdir(q->set.dir, 0700) < 0 && errno != EEXIST) {
		snprintf(error, sizeof(error), "mkdir %s: %s", q->set.dir, strerror(errno));
		*error_r = error;
		return -1;
	}
	for (int d = QUEUE_INCOMING; d <= QUEUE_CORRUPT; d++) {
		char *path = queue_path(q, d, NULL);
		int ret = mkdir(path, 0700);

		if (ret < 0 && errno != EEXIST) {
			snprintf(error, sizeof(error), "mkdir %s: %s", path, strerror(errno));
			free(path);
			*error_r = error;
			return -1;
		}
		free(path);
	}
	return 0;
}

struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, struct authd_client *authd,
			const char **error_r)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	struct timespec ts;

	q->loop = loop;
	q->authd = authd;
	q->refs = 1;
	q->commit_tail = &q->commit_head;
	q->ready_tail = &q->ready_head;
	queue_settings_load(&q->set, cfg);
	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)ts.tv_nsec ^ (unsigned)getpid());
	if (queue_mkdirs(q, error_r) < 0) {
		free(q->set.dir);
		free(q->set.hostname);
		free(q);
		return NULL;
	}
	queue_tick_start(q);
	queue_scan_start(q);
	return q;
}

void queue_ref(struct queue *q)
{
	q->refs++;
}

void queue_unref(struct queue *q)
{
	if (--q->refs > 0)
		return;
	while (q->ready_head != NULL) {
		struct queue_entry *e = q->ready_head;

		q->ready_head = e->next;
		free(e);
	}
	while (q->deferred != NULL) {
		struct queue_entry *e = q->deferred;

		q->deferred = e->next;
		free(e);
	}
	free(q->set.dir);
	free(q->set.hostname);
	free(q);
}

static void queue_tick_closed(uv_handle_t *handle)
{
	queue_unref(handle->data);
}

void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	q->closing = true;
	uv_close((uv_handle_t *)&q->tick, queue_tick_closed);
	queue_unref(q);
}

/* ---- receiving ---- */

static int queue_space_ok(const struct queue *q)
{
	struct statvfs st;

	if (q->set.min_free == 0 || statvfs(q->set.dir, &st) < 0)
		return 1;
	return (uint64_t)st.f_bavail * st.f_frsize >= q->set.min_free;
}

static void queue_file_from_env(struct queue_file *qf, const char *id,
				const struct queue_envelope *env)
{
	queue_file_init(qf);
	qf->id = xstrdup(id);
	qf->arrival = time(NULL);
	qf->sender = xstrdup(env->sender);
	qf->ret = env->ret != NULL ? xstrdup(env->ret) : NULL;
	qf->envid = env->envid != NULL ? xstrdup(env->envid) : NULL;
	qf->smtputf8 = env->smtputf8;
	qf->body_8bit = env->body_8bit;
	qf->helo = env->helo != NULL ? xstrdup(env->helo) : NULL;
	qf->client = env->client_addr != NULL ? xstrdup(env->client_addr) : NULL;
	qf->auth = env->auth_user != NULL ? xstrdup(env->auth_user) : NULL;
	qf->proto = env->protocol != NULL ? xstrdup(env->protocol) : NULL;
	qf->sid = env->session_id != NULL ? xstrdup(env->session_id) : NULL;
	for (size_t i = 0; i < env->nrcpts; i++)
		queue_file_add_rcpt(qf, env->rcpts[i].addr, env->rcpts[i].notify,
				    env->rcpts[i].orcpt);
}

/* Create incoming/<id> with O_EXCL, trying fresh ids on a clash. */
static int queue_msg_create(struct queue *q, struct queue_msg *msg)
{
	for (int tries = 0; tries < 10; tries++) {
		queue_id_new(q, msg->id);
		msg->path = queue_path(q, QUEUE_INCOMING, msg->id);
		msg->fd = open(msg->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (msg->fd >= 0)
			return 0;
		free(msg->path);
		msg->path = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static int queue_msg_flush(struct queue_msg *msg)
{
	size_t off = 0;

	while (off < msg->wbuf.len) {
		ssize_t n = write(msg->fd, msg->wbuf.data + off, msg->wbuf.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			msg->error = n < 0 ? errno : EIO;
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&msg->wbuf);
	return 0;
}

/* Nothing half-written stays visible: the file goes as soon as it fails. */
static void queue_msg_discard_file(struct queue_msg *msg)
{
	if (msg->fd >= 0) {
		close(msg->fd);
		msg->fd = -1;
	}
	if (msg->path != NULL)
		unlink(msg->path);
}

struct queue_msg *queue_msg_begin(struct queue *q, const struct queue_envelope *env,
				  const char **error_r)
{
	struct queue_msg *msg;
	struct queue_file qf;
	struct buf line;

	if (q->closing || !queue_space_ok(q)) {
		*error_r = q->closing ? "queue shutting down" : "disk full";
		return NULL;
	}
	msg = xcalloc(1, sizeof(*msg));
	msg->q = q;
	msg->fd = -1;
	buf_init(&msg->wbuf, BUF_NO_LIMIT);
	if (queue_msg_create(q, msg) < 0) {
		*error_r = queue_errno_no_space(errno) ? "disk full" : "cannot create queue file";
		log_error("-", "queue: create in %s/incoming: %s", q->set.dir, strerror(errno));
		queue_msg_free(msg);
		return NULL;
	}
	queue_file_from_env(&qf, msg->id, env);
	queue_file_format_header(&qf, &msg->wbuf);
	queue_file_free(&qf);
	msg->sender = xstrdup(env->sender);
	msg->nrcpts = env->nrcpts;
	if (queue_msg_flush(msg) < 0) {
		*error_r = queue_errno_no_space(msg->error) ? "disk full" : "queue write error";
		queue_msg_discard_file(msg);
		queue_msg_free(msg);
		return NULL;
	}
	buf_init(&line, BUF_NO_LIMIT);
	buf_printf(&line, "%s: client=", msg->id);
	log_escape(&line, env->client_addr != NULL ? env->client_addr : "local");
	if (env->session_id != NULL)
		buf_printf(&line, ", sid=%s", env->session_id);
	if (env->auth_user != NULL) {
		buf_append_str(&line, ", sasl_username=");
		log_escape(&line, env->auth_user);
	}
	log_info(msg->id, "%s", line.data + strlen(msg->id) + 2);
	buf_free(&line);
	return msg;
}

int queue_msg_write(struct queue_msg *msg, const void *data, size_t len)
{
	if (msg->error != 0)
		return -1;
	buf_append(&msg->wbuf, data, len);
	msg->size += len;
	if (msg->wbuf.len >= QUEUE_WRITE_BUF && queue_msg_flush(msg) < 0) {
		queue_msg_discard_file(msg);
		return -1;
	}
	return 0;
}

uint64_t queue_msg_size(const struct queue_msg *msg)
{
	return msg->size;
}

const char *queue_msg_id(const struct queue_msg *msg)
{
	return msg->id;
}

void queue_msg_abort(struct queue_msg *msg)
{
	queue_msg_discard_file(msg);
	queue_msg_free(msg);
}

/* The rest of the message and its trailer; the commit batch then makes
 * it durable. */
static int queue_msg_finish_file(struct queue_msg *msg)
{
	if (msg->error == 0) {
		queue_file_format_trailer(msg->size, &msg->wbuf);
		queue_msg_flush(msg);
	}
	if (msg->error != 0) {
		log_error(msg->id, "queue: write %s: %s", msg->path, strerror(msg->error));
		queue_msg_discard_file(msg);
		return -1;
	}
	return 0;
}

void queue_msg_commit(struct queue_msg *msg, queue_commit_cb *cb, void *ctx)
{
	msg->cb = cb;
	msg->ctx = ctx;
	if (queue_msg_finish_file(msg) < 0) {
		cb(ctx, QUEUE_TEMPFAIL, msg->id,
		   queue_errno_no_space(msg->error) ? "disk full" : "queue write error");
		queue_msg_free(msg);
		return;
	}
	queue_commit_add(msg);
}

void queue_msg_deliver(struct queue_msg *msg, queue_rcpt_cb *cb, void *ctx)
{
	msg->rcpt_cb = cb;
	msg->ctx = ctx;
	if (queue_msg_finish_file(msg) < 0) {
		const char *text = queue_errno_no_space(msg->error) ? "disk full" :
				   "queue write error";
		const char *enh = queue_errno_no_space(msg->error) ? "4.3.1" : "4.3.0";

		for (size_t i = 0; i < msg->nrcpts; i++)
			cb(ctx, i, 451, enh, text);
		cb(ctx, QUEUE_RCPT_DONE, 0, NULL, NULL);
		queue_msg_free(msg);
		return;
	}
	queue_commit_add(msg);
}
