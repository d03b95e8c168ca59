#ifndef MR_MBS_NOTIFY_H
#define MR_MBS_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

/* Change notification for open folders, one per process: ONE inotify
 * instance (they are limited per user, 128 by default), one pair of
 * watches (new/ and cur/) per folder directory however many sessions have
 * it open. A folder whose watch cannot be added (no inotify, the watch
 * limit reached, mode "poll") is polled instead: its directories' mtimes
 * are compared every poll interval. Every watch is also fired each
 * revalidate interval whatever the events said, so that changes made on
 * other hosts (NFS, where inotify sees nothing) are found.
 *
 * A callback only says "look again": the session syncs the folder on a
 * worker. Callbacks run on the loop thread; bursts are coalesced. */

struct mbs_notify;
struct mbs_notify_watch;

enum mbs_notify_mode {
	MBS_NOTIFY_INOTIFY,
	MBS_NOTIFY_POLL,
};

struct mbs_notify_settings {
	enum mbs_notify_mode mode;
	unsigned poll_ms;          /* polling period */
	unsigned revalidate_ms;    /* every watch fires this often; 0: never */
	unsigned coalesce_ms;      /* events within this are one call; 0: 20 */
	/* Watches beyond this many folders are polled (tests; 0: no limit
	 * of ours, the kernel's applies). */
	unsigned max_inotify_dirs;
};

typedef void mbs_notify_cb(void *ctx);

struct mbs_notify *mbs_notify_new(uv_loop_t *loop, const struct mbs_notify_settings *set);
/* Every watch must be removed first. Closes the handles (the loop runs
 * their close callbacks). */
void mbs_notify_free(struct mbs_notify *n);
void mbs_notify_set(struct mbs_notify *n, const struct mbs_notify_settings *set);

/* Watch the Maildir folder at path (its new/ and cur/). The inotify watch
 * is added on a worker thread (path lookups may block); until then, and
 * when it fails, the folder is polled. */
struct mbs_notify_watch *mbs_notify_add(struct mbs_notify *n, const char *path,
					mbs_notify_cb *cb, void *ctx);
void mbs_notify_remove(struct mbs_notify_watch **w);

/* Is the folder's watch inotify (not polled)? Then every change made on
 * this host to its new/ and cur/ is seen at once. */
bool mbs_notify_watch_inotify(const struct mbs_notify_watch *w);
/* A counter that grows with every change seen in the folder (event, poll,
 * revalidation tick, the watch coming into place). With an inotify watch,
 * an unchanged value after mbs_notify_drain() means nothing changed on
 * this host since it was read (and no revalidation came due). */
uint64_t mbs_notify_generation(const struct mbs_notify_watch *w);
/* Read the events the kernel has queued now: those of every change made
 * before the call. Non-blocking; callbacks still come coalesced. False
 * when not everything could be read (no inotify, an error, a bound hit). */
bool mbs_notify_drain(struct mbs_notify *n);
/* How many folder directories are watched, and how many polled. */
void mbs_notify_counts(const struct mbs_notify *n, unsigned *dirs_r, unsigned *polled_r);

#endif
