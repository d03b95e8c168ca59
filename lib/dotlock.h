#ifndef MR_DOTLOCK_H
#define MR_DOTLOCK_H

#include <stdbool.h>
#include <sys/types.h>

/* Dotlocks that work over NFS: the lock is "<path>.lock", made by writing
 * a unique temporary file next to it and link()ing that to the lock name,
 * then trusting the link count rather than link()'s reply (which NFS can
 * lose). The content is "<pid>:<host>", as Dovecot writes it, so a lock
 * left by either program is understood by the other. */
struct dotlock_settings {
	/* Give up waiting after this long (0: try once). */
	unsigned int timeout_msecs;
	/* A lock whose mtime is this old, and which did not change while we
	 * looked at it, is taken to be abandoned and removed (0: never). */
	unsigned int stale_secs;
};

/* Dovecot's values for dovecot-uidlist.lock: two minutes each. */
#define DOTLOCK_DEFAULT_TIMEOUT_MSECS (120 * 1000)
#define DOTLOCK_DEFAULT_STALE_SECS 120

struct dotlock;

/* Lock path (the lock file is path + ".lock"). 1: locked, *lock_r set;
 * 0: still held by someone else when the timeout passed; -1: error. */
int dotlock_create(const char *path, const struct dotlock_settings *set,
		   struct dotlock **lock_r, const char **error_r);
/* Refresh the lock's mtime so that others do not take it for stale
 * during a long operation. 1: done, 0: the lock is no longer ours. */
int dotlock_touch(struct dotlock *lock, const char **error_r);
/* The lock file's name (path + ".lock"). */
const char *dotlock_path(const struct dotlock *lock);
/* 1: still ours (same inode as when we made it), 0: not. */
int dotlock_is_ours(const struct dotlock *lock);
/* Remove the lock file if it is still ours and free *lock. 1: removed,
 * 0: someone had replaced it (left alone), -1: error. */
int dotlock_release(struct dotlock **lock, const char **error_r);

/* This host's name as gethostname() gives it (cached). */
const char *dotlock_hostname(void);

#endif
