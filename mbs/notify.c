/* Change notification for open folders: one inotify instance per process,
 * one shared watch per folder, polling as the fallback, and periodic
 * revalidation for changes inotify cannot see (other hosts). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "xalloc.h"

#define NOTIFY_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
		     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

static const char *const notify_subdirs[2] = { "new", "cur" };

struct mbs_notify_watch {
	struct notify_dir *dir;
	mbs_notify_cb *cb;
	void *ctx;
	struct mbs_notify_watch *prev, *next;
};

struct notify_dir {
	struct mbs_notify *n;
	char *path;
	struct notify_dir *prev, *next;
	struct mbs_notify_watch *watches;
	int wd[2];               /* -1: none */
	bool inotify;            /* both watches in place */
	bool adding;             /* the add job is out */
	bool fire;               /* fire at the next coalesce tick */
	uint64_t gen;            /* grows with every change seen */
	/* polling */
	bool have_mtime;
	struct timespec mtime[2];
	unsigned stats_out;
};

struct mbs_notify {
	uv_loop_t *loop;
	struct mbs_notify_settings set;
	int fd;                  /* inotify, -1: none */
	uv_poll_t poll;
	uv_timer_t coalesce_timer, poll_timer, revalidate_timer;
	struct notify_dir *dirs;
	unsigned ndirs, ninotify;
	unsigned handles_open;
};

static unsigned notify_coalesce_ms(const struct mbs_notify *n)
{
	return n->set.coalesce_ms != 0 ? n->set.coalesce_ms : 20;
}

/* ---------------------------------------------------------------- firing */

static void notify_coalesce_cb(uv_timer_t *t)
{
	struct mbs_notify *n = t->data;
	struct notify_dir *d, *dnext;

	for (d = n->dirs; d != NULL; d = dnext) {
		struct mbs_notify_watch *w, *wnext;

		dnext = d->next;
		if (!d->fire)
			continue;
		d->fire = false;
		for (w = d->watches; w != NULL; w = wnext) {
			wnext = w->next;
			w->cb(w->ctx);
		}
	}
}

static void notify_fire(struct notify_dir *d)
{
	struct mbs_notify *n = d->n;

	d->gen++;
	d->fire = true;
	if (!uv_is_active((uv_handle_t *)&n->coalesce_timer))
		uv_timer_start(&n->coalesce_timer, notify_coalesce_cb, notify_coalesce_ms(n), 0);
}

/* ---------------------------------------------------------------- dirs */

static bool notify_dir_polled(const struct notify_dir *d)
{
	return !d->inotify;
}

static void notify_poll_cb(uv_timer_t *t);

static void notify_update_poll_timer(struct mbs_notify *n)
{
	bool any = false;

	for (struct notify_dir *d = n->dirs; d != NULL && !any; d = d->next)
		any = notify_dir_polled(d);
	if (any && !uv_is_active((uv_handle_t *)&n->poll_timer))
		uv_timer_start(&n->poll_timer, notify_poll_cb, n->set.poll_ms, n->set.poll_ms);
	else if (!any)
		uv_timer_stop(&n->poll_timer);
}

static void notify_rm_watches(struct notify_dir *d)
{
	struct mbs_notify *n = d->n;

	for (int i = 0; i < 2; i++) {
		if (d->wd[i] >= 0 && n->fd >= 0)
			inotify_rm_watch(n->fd, d->wd[i]);
		d->wd[i] = -1;
	}
	if (d->inotify)
		n->ninotify--;
	d->inotify = false;
}

/* A dir without watches goes once no job or stat refers to it. */
static void notify_dir_release(struct notify_dir *d)
{
	struct mbs_notify *n = d->n;

	if (d->watches != NULL || d->adding || d->stats_out > 0)
		return;
	notify_rm_watches(d);
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		n->dirs = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	n->ndirs--;
	free(d->path);
	free(d);
	notify_update_poll_timer(n);
}

struct notify_add_job {
	uv_work_t req;
	struct notify_dir *dir;
	int fd;
	char *paths[2];
	int wd[2];
	int err;
};

static void notify_add_work(uv_work_t *req)
{
	struct notify_add_job *j = req->data;

	for (int i = 0; i < 2; i++) {
		j->wd[i] = inotify_add_watch(j->fd, j->paths[i], NOTIFY_MASK);
		if (j->wd[i] < 0) {
			j->err = errno;
			break;
		}
	}
}

static void notify_add_done(uv_work_t *req, int status)
{
	struct notify_add_job *j = req->data;
	struct notify_dir *d = j->dir;
	struct mbs_notify *n = d->n;

	(void)status;
	d->adding = false;
	d->wd[0] = j->wd[0];
	d->wd[1] = j->err == 0 ? j->wd[1] : -1;
	if (j->err != 0) {
		if (d->wd[0] >= 0)
			inotify_rm_watch(n->fd, d->wd[0]);
		d->wd[0] = d->wd[1] = -1;
		log_warn(NULL, "notify: inotify watch failed, polling path=%s error=\"%s\"", d->path,
			 strerror(j->err));
	} else {
		d->inotify = true;
		n->ninotify++;
	}
	for (int i = 0; i < 2; i++)
		free(j->paths[i]);
	free(j);
	if (d->watches == NULL) {
		notify_dir_release(d);
		return;
	}
	notify_update_poll_timer(n);
	/* what changed before the watch was in place */
	notify_fire(d);
}

static struct notify_dir *notify_dir_get(struct mbs_notify *n, const char *path)
{
	struct notify_dir *d;

	for (d = n->dirs; d != NULL; d = d->next)
		if (strcmp(d->path, path) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->n = n;
	d->path = xstrdup(path);
	d->wd[0] = d->wd[1] = -1;
	d->next = n->dirs;
	if (d->next != NULL)
		d->next->prev = d;
	n->dirs = d;
	n->ndirs++;
	if (n->fd >= 0 && n->set.mode == MBS_NOTIFY_INOTIFY &&
	    (n->set.max_inotify_dirs == 0 || n->ninotify < n->set.max_inotify_dirs)) {
		struct notify_add_job *j = xcalloc(1, sizeof(*j));

		j->req.data = j;
		j->dir = d;
		j->fd = n->fd;
		for (int i = 0; i < 2; i++)
			j->paths[i] = xasprintf("%s/%s", path, notify_subdirs[i]);
		d->adding = true;
		if (uv_queue_work(n->loop, &j->req, notify_add_work, notify_add_done) != 0) {
			notify_add_work(&j->req);
			notify_add_done(&j->req, 0);
		}
	}
	notify_update_poll_timer(n);
	return d;
}

struct mbs_notify_watch *mbs_notify_add(struct mbs_notify *n, const char *path,
					mbs_notify_cb *cb, void *ctx)
{
	struct notify_dir *d = notify_dir_get(n, path);
	struct mbs_notify_watch *w = xcalloc(1, sizeof(*w));

	w->dir = d;
	w->cb = cb;
	w->ctx = ctx;
	w->next = d->watches;
	if (w->next != NULL)
		w->next->prev = w;
	d->watches = w;
	return w;
}

void mbs_notify_remove(struct mbs_notify_watch **wp)
{
	struct mbs_notify_watch *w = *wp;
	struct notify_dir *d;

	if (w == NULL)
		return;
	*wp = NULL;
	d = w->dir;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		d->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	free(w);
	notify_dir_release(d);
}

bool mbs_notify_watch_inotify(const struct mbs_notify_watch *w)
{
	return w->dir->inotify;
}

uint64_t mbs_notify_generation(const struct mbs_notify_watch *w)
{
	return w->dir->gen;
}

void mbs_notify_counts(const struct mbs_notify *n, unsigned *dirs_r, unsigned *polled_r)
{
	*dirs_r = n->ndirs;
	*polled_r = n->ndirs - n->ninotify;
}

/* ---------------------------------------------------------------- inotify */

static struct notify_dir *notify_dir_by_wd(struct mbs_notify *n, int wd, int *idx_r)
{
	for (struct notify_dir *d = n->dirs; d != NULL; d = d->next)
		for (int i = 0; i < 2; i++)
			if (d->wd[i] == wd) {
				*idx_r = i;
				return d;
			}
	return NULL;
}

static void notify_all(struct mbs_notify *n)
{
	for (struct notify_dir *d = n->dirs; d != NULL; d = d->next)
		if (d->watches != NULL)
			notify_fire(d);
}

bool mbs_notify_drain(struct mbs_notify *n)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (n->fd < 0)
		return false;
	/* bounded: the fd is non-blocking and each pass drains what is there */
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t len = read(n->fd, buf, sizeof(buf));

		if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (len <= 0)
			return false;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			struct notify_dir *d;
			int idx;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				notify_all(n);
				continue;
			}
			d = notify_dir_by_wd(n, ev->wd, &idx);
			if (d == NULL)
				continue;
			if (ev->mask & IN_IGNORED) {
				/* the directory went away: poll what is left */
				d->wd[idx] = -1;
				notify_rm_watches(d);
				notify_update_poll_timer(n);
			}
			if (d->watches != NULL)
				notify_fire(d);
		}
	}
	return false;   /* more than the bound: maybe not all read */
}

static void notify_read_cb(uv_poll_t *h, int status, int events)
{
	(void)events;
	if (status >= 0)
		(void)mbs_notify_drain(h->data);
}

/* ---------------------------------------------------------------- polling */

struct notify_stat {
	uv_fs_t req;
	struct notify_dir *dir;
	int idx;
};

static void notify_stat_cb(uv_fs_t *req)
{
	struct notify_stat *st = req->data;
	struct notify_dir *d = st->dir;
	struct timespec mt = { 0, 0 };

	if (req->result == 0) {
		mt.tv_sec = req->statbuf.st_mtim.tv_sec;
		mt.tv_nsec = req->statbuf.st_mtim.tv_nsec;
	}
	uv_fs_req_cleanup(req);
	if (d->have_mtime && (mt.tv_sec != d->mtime[st->idx].tv_sec ||
			      mt.tv_nsec != d->mtime[st->idx].tv_nsec) && d->watches != NULL)
		notify_fire(d);
	d->mtime[st->idx] = mt;
	free(st);
	if (--d->stats_out == 0) {
		if (!d->have_mtime && d->watches != NULL)
			notify_fire(d);   /* the first look: what changed before it */
		d->have_mtime = true;
		notify_dir_release(d);
	}
}

static void notify_poll_cb(uv_timer_t *t)
{
	struct mbs_notify *n = t->data;

	for (struct notify_dir *d = n->dirs; d != NULL; d = d->next) {
		if (!notify_dir_polled(d) || d->stats_out > 0 || d->watches == NULL)
			continue;
		/* stat on the threadpool: NFS may block */
		for (int i = 0; i < 2; i++) {
			struct notify_stat *st = xcalloc(1, sizeof(*st));
			char *path = xasprintf("%s/%s", d->path, notify_subdirs[i]);

			st->dir = d;
			st->idx = i;
			st->req.data = st;
			d->stats_out++;
			if (uv_fs_stat(n->loop, &st->req, path, notify_stat_cb) < 0) {
				d->stats_out--;
				free(st);
			}
			free(path);
		}
	}
}

static void notify_revalidate_cb(uv_timer_t *t)
{
	notify_all(t->data);
}

/* ---------------------------------------------------------------- life */

struct mbs_notify *mbs_notify_new(uv_loop_t *loop, const struct mbs_notify_settings *set)
{
	struct mbs_notify *n = xcalloc(1, sizeof(*n));

	n->loop = loop;
	n->set = *set;
	if (n->set.poll_ms == 0)
		n->set.poll_ms = 5000;
	n->fd = -1;
	if (set->mode == MBS_NOTIFY_INOTIFY) {
		n->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (n->fd < 0)
			log_warn(NULL, "notify: no inotify, polling every %ums error=\"%s\"",
				 n->set.poll_ms, strerror(errno));
	}
	uv_timer_init(loop, &n->coalesce_timer);
	uv_timer_init(loop, &n->poll_timer);
	uv_timer_init(loop, &n->revalidate_timer);
	n->coalesce_timer.data = n->poll_timer.data = n->revalidate_timer.data = n;
	n->handles_open = 3;
	/* none of these keeps the loop alive: sessions and listeners do */
	uv_unref((uv_handle_t *)&n->coalesce_timer);
	uv_unref((uv_handle_t *)&n->poll_timer);
	uv_unref((uv_handle_t *)&n->revalidate_timer);
	if (n->fd >= 0) {
		uv_poll_init(loop, &n->poll, n->fd);
		n->poll.data = n;
		uv_poll_start(&n->poll, UV_READABLE, notify_read_cb);
		uv_unref((uv_handle_t *)&n->poll);
		n->handles_open++;
	}
	if (n->set.revalidate_ms > 0)
		uv_timer_start(&n->revalidate_timer, notify_revalidate_cb, n->set.revalidate_ms,
			       n->set.revalidate_ms);
	return n;
}

void mbs_notify_set(struct mbs_notify *n, const struct mbs_notify_settings *set)
{
	unsigned old_poll = n->set.poll_ms, old_reval = n->set.revalidate_ms;
	enum mbs_notify_mode mode = n->set.mode;

	n->set = *set;
	n->set.mode = mode;   /* the inotify instance stays as it is */
	if (n->set.poll_ms == 0)
		n->set.poll_ms = 5000;
	if (n->set.poll_ms != old_poll && uv_is_active((uv_handle_t *)&n->poll_timer)) {
		uv_timer_stop(&n->poll_timer);
		notify_update_poll_timer(n);
	}
	if (n->set.revalidate_ms != old_reval) {
		uv_timer_stop(&n->revalidate_timer);
		if (n->set.revalidate_ms > 0)
			uv_timer_start(&n->revalidate_timer, notify_revalidate_cb,
				       n->set.revalidate_ms, n->set.revalidate_ms);
	}
}

static void notify_handle_closed(uv_handle_t *h)
{
	struct mbs_notify *n = h->data;

	if (--n->handles_open == 0) {
		if (n->fd >= 0)
			close(n->fd);
		free(n);
	}
}

void mbs_notify_free(struct mbs_notify *n)
{
	if (n == NULL)
		return;
	/* Watches are removed first; a dir still listed is one a job or a
	 * stat holds, and those are over once the loop is idle. */
	while (n->dirs != NULL) {
		struct notify_dir *d = n->dirs;

		n->dirs = d->next;
		while (d->watches != NULL) {
			struct mbs_notify_watch *w = d->watches;

			d->watches = w->next;
			free(w);
		}
		free(d->path);
		free(d);
	}
	uv_close((uv_handle_t *)&n->coalesce_timer, notify_handle_closed);
	uv_close((uv_handle_t *)&n->poll_timer, notify_handle_closed);
	uv_close((uv_handle_t *)&n->revalidate_timer, notify_handle_closed);
	if (n->fd >= 0)
		uv_close((uv_handle_t *)&n->poll, notify_handle_closed);
}
