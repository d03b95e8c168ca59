/* Group commit: messages whose commit arrives while a batch is being made
 * durable wait for the next batch, so concurrent sessions share one
 * directory fsync (and, for big batches, one syncfs). No callback runs
 * before its own message is durable. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "maildir.h"
#include "queue-private.h"
#include "xalloc.h"

struct queue_batch {
	uv_work_t work;
	struct queue *q;
	struct queue_msg *msgs;
	unsigned count;
};

void queue_msg_free(struct queue_msg *msg)
{
	if (msg->fd >= 0)
		close(msg->fd);
	buf_free(&msg->wbuf);
	free(msg->path);
	free(msg->sender);
	free(msg);
}

/* Worker thread: data, then names, then the directory. */
static void queue_batch_work(uv_work_t *work)
{
	struct queue_batch *b = work->data;
	const struct queue *q = b->q;
	bool use_syncfs = b->count >= q->set.syncfs_batch;

	if (use_syncfs && syncfs(b->msgs->fd) < 0) {
		for (struct queue_msg *m = b->msgs; m != NULL; m = m->next)
			m->error = errno;
	}
	for (struct queue_msg *m = b->msgs; m != NULL; m = m->next) {
		if (m->error == 0 && !use_syncfs && fdatasync(m->fd) < 0)
			m->error = errno;
		if (m->error == 0) {
			char *active = queue_path(q, QUEUE_ACTIVE, m->id);

			if (rename(m->path, active) < 0)
				m->error = errno;
			else
				m->committed = true;
			free(active);
		}
		if (m->error != 0)
			unlink(m->path);
	}
	char *active_dir = queue_path(q, QUEUE_ACTIVE, NULL);
	const char *error;
	int synced = maildir_fsync_dir(active_dir, &error);

	free(active_dir);
	if (synced < 0) {
		int err = errno;

		/* Not sure the names are durable: take them back rather than
		 * acknowledge; nothing was promised yet. */
		for (struct queue_msg *m = b->msgs; m != NULL; m = m->next) {
			if (m->committed) {
				char *active = queue_path(q, QUEUE_ACTIVE, m->id);

				unlink(active);
				free(active);
				m->committed = false;
				m->error = err;
			}
		}
	}
}


static void queue_msg_committed(struct queue *q, struct queue_msg *m)
{
	struct buf line;

	buf_init(&line, BUF_NO_LIMIT);
	queue_log_addr(&line, "from", m->sender);
	buf_printf(&line, ", size=%llu, nrcpt=%zu (queue active)",
		   (unsigned long long)m->size, m->nrcpts);
	log_info(m->id, "%s", line.data);
	buf_free(&line);
}

static void queue_msg_report(struct queue *q, struct queue_msg *m)
{
	const char *error = m->committed ? NULL :
			    queue_errno_no_space(m->error) ? "disk full" : "queue I/O error";

	if (!m->committed)
		log_error(m->id, "queue: commit failed: %s", strerror(m->error));
	else
		queue_msg_committed(q, m);
	if (m->rcpt_cb != NULL && !m->committed) {
		const char *enh = queue_errno_no_space(m->error) ? "4.3.1" : "4.3.0";

		for (size_t i = 0; i < m->nrcpts; i++)
			m->rcpt_cb(m->ctx, i, 451, enh, error);
		m->rcpt_cb(m->ctx, QUEUE_RCPT_DONE, 0, NULL, NULL);
	} else if (m->rcpt_cb != NULL) {
		deliver_start(q, m->id, QUEUE_ACTIVE, m->rcpt_cb, m->ctx, m->nrcpts);
	} else {
		m->cb(m->ctx, m->committed ? QUEUE_OK : QUEUE_TEMPFAIL, m->id, error);
		if (m->committed)
			queue_schedule(q, m->id, QUEUE_ACTIVE, 0);
	}
}

static void queue_batch_done(uv_work_t *work, int status)
{
	struct queue_batch *b = work->data;
	struct queue *q = b->q;

	(void)status;
	q->commit_busy = false;
	q->stats.batches++;
	while (b->msgs != NULL) {
		struct queue_msg *m = b->msgs;

		b->msgs = m->next;
		if (m->committed)
			q->stats.committed++;
		if (!q->closing)
			queue_msg_report(q, m);
		queue_msg_free(m);
	}
	free(b);
	if (!q->closing)
		queue_commit_kick(q);
	queue_unref(q);
}

/* Start a batch with everything waiting, unless one is on its way. */
void queue_commit_kick(struct queue *q)
{
	struct queue_batch *b;

	/* Before the start-up scan is over, a new file in active/ could be
	 * picked up twice (by the scan and by its commit). */
	if (q->commit_busy || q->commit_head == NULL || !q->scanned)
		return;
	b = xcalloc(1, sizeof(*b));
	b->q = q;
	b->msgs = q->commit_head;
	for (struct queue_msg *m = b->msgs; m != NULL; m = m->next)
		b->count++;
	q->commit_head = NULL;
	q->commit_tail = &q->commit_head;
	b->work.data = b;
	q->commit_busy = true;
	queue_ref(q);
	uv_queue_work(q->loop, &b->work, queue_batch_work, queue_batch_done);
}

void queue_commit_add(struct queue_msg *msg)
{
	struct queue *q = msg->q;

	msg->next = NULL;
	*q->commit_tail = msg;
	q->commit_tail = &msg->next;
	queue_commit_kick(q);
}

static int queue_copy_range(int dst, int src, uint64_t offset, uint64_t size)
{
	char chunk[65536];

	while (size > 0) {
		size_t want = size < sizeof(chunk) ? (size_t)size : sizeof(chunk);
		ssize_t n = pread(src, chunk, want, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (fd_write_all(dst, chunk, (size_t)n) < 0)
			return -1;
		offset += (uint64_t)n;
		size -= (uint64_t)n;
	}
	return 0;
}

static int queue_write_pieces(int fd, const struct queue_piece *pieces, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct queue_piece *p = &pieces[i];

		if (p->fd < 0 ? fd_write_all(fd, p->data, p->len) < 0 :
				queue_copy_range(fd, p->fd, p->offset, p->len) < 0)
			return -1;
	}
	return 0;
}

int queue_file_write_durable(const struct queue *q, const struct queue_file *qf,
			     const struct queue_piece *pieces, size_t npieces,
			     const char *dst_path, int *errno_r)
{
	char *tmp = xasprintf("%s/incoming/%s.%ld.tmp", q->set.dir, qf->id, random());
	struct buf head;
	uint64_t size = 0;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int ret = -1;

	for (size_t i = 0; i < npieces; i++)
		size += pieces[i].len;
	buf_init(&head, BUF_NO_LIMIT);
	if (fd >= 0) {
		queue_file_format_header(qf, &head);
		if (fd_write_all(fd, head.data, head.len) == 0 &&
		    queue_write_pieces(fd, pieces, npieces) == 0) {
			buf_reset(&head);
			queue_file_format_trailer(size, &head);
			if (fd_write_all(fd, head.data, head.len) == 0 && fdatasync(fd) == 0 &&
			    rename(tmp, dst_path) == 0)
				ret = 0;
		}
	}
	*errno_r = ret < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	buf_free(&head);
	free(tmp);
	if (ret == 0) {
		char *dir = xstrdup(dst_path);
		const char *error;

		*strrchr(dir, '/') = '\0';
		if (maildir_fsync_dir(dir, &error) < 0) {
			*errno_r = errno;
			ret = -1;
		}
		free(dir);
	}
	return ret;
}
