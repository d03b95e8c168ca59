/* Start-up recovery and the retry schedule: incoming/ leftovers are
 * removed (never acknowledged), active/ and deferred/ are read back, and a
 * one-second tick moves deferred messages whose time has come (or all of
 * them after `mailroom queue flush`) to the ready list. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queue-private.h"
#include "xalloc.h"

#define QUEUE_FLUSH_FILE "flush"

struct queue_scan {
	uv_work_t work;
	struct queue *q;
	struct queue_entry *found;	/* active and deferred messages */
	unsigned removed, corrupt;
};

static bool queue_id_valid(const char *name)
{
	size_t len = strlen(name);

	return len == QUEUE_ID_LEN &&
	       strspn(name, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == len;
}

/* Move a file that cannot be parsed out of the way; it is kept for a
 * human to look at. */
static void queue_move_corrupt(const struct queue *q, enum queue_subdir dir, const char *name,
			       const char *why)
{
	char *from = queue_path(q, dir, name);
	char *to = queue_path(q, QUEUE_CORRUPT, name);

	if (rename(from, to) < 0)
		log_error(name, "queue: cannot move %s to corrupt/: %s", from, strerror(errno));
	else
		log_error(name, "queue: corrupt queue file moved to corrupt/: %s", why);
	free(from);
	free(to);
}

static void queue_scan_add(struct queue_scan *s, const char *id, enum queue_subdir dir,
			   int64_t next_retry)
{
	struct queue_entry *e = xcalloc(1, sizeof(*e));

	memcpy(e->id, id, QUEUE_ID_LEN + 1);
	e->dir = dir;
	e->next_retry = next_retry;
	e->next = s->found;
	s->found = e;
}

static bool queue_scan_has(const struct queue_scan *s, const char *id)
{
	for (const struct queue_entry *e = s->found; e != NULL; e = e->next) {
		if (strcmp(e->id, id) == 0)
			return true;
	}
	return false;
}

static void queue_scan_dir(struct queue_scan *s, enum queue_subdir dir)
{
	char *path = queue_path(s->q, dir, NULL);
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		log_error("-", "queue: opendir %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct queue_file qf;
		const char *error = NULL;
		char *file;
		int ret;

		if (de->d_name[0] == '.')
			continue;
		file = queue_path(s->q, dir, de->d_name);
		if (dir == QUEUE_INCOMING) {
			s->removed += unlink(file) == 0;
			free(file);
			continue;
		}
		/* A deferred copy is the newer one (written before the active
		 * name was removed): the active name is stale. */
		if (dir == QUEUE_ACTIVE && queue_scan_has(s, de->d_name)) {
			unlink(file);
			free(file);
			continue;
		}
		queue_file_init(&qf);
		ret = queue_file_load(file, &qf, false, &error);
		if (ret < 0 || !queue_id_valid(de->d_name) || strcmp(qf.id, de->d_name) != 0) {
			queue_move_corrupt(s->q, dir, de->d_name,
					   ret < 0 ? error : "name does not match its id");
			s->corrupt++;
		} else if (ret > 0) {
			queue_scan_add(s, de->d_name, dir, dir == QUEUE_ACTIVE ? 0 : qf.next_retry);
		}
		queue_file_free(&qf);
		free(file);
	}
	closedir(d);
	free(path);
}

static void queue_scan_work(uv_work_t *work)
{
	struct queue_scan *s = work->data;

	queue_scan_dir(s, QUEUE_DEFERRED);
	queue_scan_dir(s, QUEUE_ACTIVE);
}

static bool queue_ready_has(const struct queue *q, const char *id)
{
	for (const struct queue_entry *e = q->ready_head; e != NULL; e = e->next) {
		if (strcmp(e->id, id) == 0)
			return true;
	}
	return false;
}

static void queue_run(struct queue *q);

static void queue_scan_done(uv_work_t *work, int status)
{
	struct queue_scan *s = work->data;
	struct queue *q = s->q;
	unsigned n = 0;

	(void)status;
	while (s->found != NULL) {
		struct queue_entry *e = s->found;

		s->found = e->next;
		/* Committed while the scan ran: already scheduled. */
		if (!q->closing && !queue_ready_has(q, e->id)) {
			queue_schedule(q, e->id, e->dir, e->next_retry);
			n++;
		}
		free(e);
	}
	log_info("-", "queue: scanned %s: %u messages, %u incoming removed, %u corrupt",
		 q->set.dir, n, s->removed, s->corrupt);
	free(s);
	q->scanned = true;
	if (!q->closing) {
		queue_commit_kick(q);
		queue_run(q);
	}
	queue_unref(q);
}

void queue_scan_start(struct queue *q)
{
	struct queue_scan *s = xcalloc(1, sizeof(*s));

	s->q = q;
	/* Before any message can be begun: later, incoming/ holds messages
	 * being received right now. */
	queue_scan_dir(s, QUEUE_INCOMING);
	s->work.data = s;
	queue_ref(q);
	uv_queue_work(q->loop, &s->work, queue_scan_work, queue_scan_done);
}

/* ---- scheduling ---- */

unsigned queue_retry_delay(const struct queue *q, unsigned attempts)
{
	uint64_t delay = q->set.retry_min;

	for (unsigned i = 1; i < attempts && delay < q->set.retry_max; i++)
		delay *= 2;
	return delay > q->set.retry_max ? q->set.retry_max : (unsigned)delay;
}

static void queue_run(struct queue *q)
{
	while (q->scanned && !q->closing && !q->set.hold && q->authd != NULL &&
	       q->ready_head != NULL &&
	       q->running < q->set.concurrency) {
		struct queue_entry *e = q->ready_head;

		q->ready_head = e->next;
		if (q->ready_head == NULL)
			q->ready_tail = &q->ready_head;
		deliver_start(q, e->id, e->dir, NULL, NULL, 0);
		free(e);
	}
}

void queue_schedule(struct queue *q, const char *id, enum queue_subdir dir,
		    int64_t next_retry)
{
	struct queue_entry *e = xcalloc(1, sizeof(*e));

	snprintf(e->id, sizeof(e->id), "%s", id);
	e->dir = dir;
	e->next_retry = next_retry;
	if (next_retry <= time(NULL)) {
		*q->ready_tail = e;
		q->ready_tail = &e->next;
		queue_run(q);
	} else {
		e->next = q->deferred;
		q->deferred = e;
	}
}

/* Every deferred message (or only those due) to the ready list. */
static void queue_release(struct queue *q, bool all)
{
	int64_t now = time(NULL);
	struct queue_entry **pp = &q->deferred;

	while (*pp != NULL) {
		struct queue_entry *e = *pp;

		if (!all && e->next_retry > now) {
			pp = &e->next;
			continue;
		}
		*pp = e->next;
		e->next = NULL;
		*q->ready_tail = e;
		q->ready_tail = &e->next;
	}
	queue_run(q);
}

void queue_flush(struct queue *q)
{
	log_info("-", "queue: flush: retrying every deferred message now");
	queue_release(q, true);
}

static void queue_tick(uv_timer_t *timer)
{
	struct queue *q = timer->data;
	char *flush = xasprintf("%s/%s", q->set.dir, QUEUE_FLUSH_FILE);

	if (unlink(flush) == 0)
		queue_flush(q);
	else
		queue_release(q, false);
	free(flush);
}

void queue_tick_start(struct queue *q)
{
	uv_timer_init(q->loop, &q->tick);
	q->tick.data = q;
	queue_ref(q);
	uv_timer_start(&q->tick, queue_tick, 1000, 1000);
}

void queue_quiesce(struct queue *q)
{
	q->closing = true;
	uv_timer_stop(&q->tick);
}

void queue_delivery_done(struct queue *q)
{
	q->running--;
	q->stats.delivered++;
	queue_run(q);
}
