#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "xalloc.h"

struct dotlock {
	char *lock_path;
	dev_t dev;
	ino_t ino;
	/* With the inode number, which a new file can reuse at once, the
	 * change time tells our lock file from a later one. */
	struct timespec ctime;
};

/* What we saw of someone else's lock: it is stale only if it stays the
 * same file with the same mtime and size between two looks. */
struct dotlock_seen {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

const char *dotlock_hostname(void)
{
	static char host[256];

	if (host[0] == '\0') {
		if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	return host;
}

static uint64_t dotlock_now_msecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *dotlock_temp_path(const char *lock_path)
{
	const char *slash = strrchr(lock_path, '/');
	int dirlen = slash == NULL ? 0 : (int)(slash - lock_path + 1);
	uint64_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)dotlock_now_msecs() ^ ((uint64_t)getpid() << 32);
	return xasprintf("%.*s.temp.%s.%ld.%016llx", dirlen, lock_path,
			 dotlock_hostname(), (long)getpid(), (unsigned long long)rnd);
}

static int dotlock_write_temp(const char *temp, const char **error_r)
{
	char content[300];
	int fd, len;

	fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create the temporary lock file";
		return -1;
	}
	len = snprintf(content, sizeof(content), "%ld:%s", (long)getpid(), dotlock_hostname());
	if (write(fd, content, (size_t)len) != len) {
		close(fd);
		unlink(temp);
		*error_r = "cannot write the temporary lock file";
		return -1;
	}
	if (close(fd) < 0) {
		unlink(temp);
		*error_r = "cannot write the temporary lock file";
		return -1;
	}
	return 0;
}

static int dotlock_record(struct dotlock *lock)
{
	struct stat st;

	if (stat(lock->lock_path, &st) < 0 || st.st_ino != lock->ino)
		return -1;
	lock->ctime = st.st_ctim;
	return 0;
}

/* One attempt: 1 locked, 0 exists, -1 error. The link count decides, not
 * link()'s result, which an NFS retransmission can turn into EEXIST. */
static int dotlock_try(struct dotlock *lock, const char *temp, const char **error_r)
{
	struct stat st;
	int ret = 0;

	if (dotlock_write_temp(temp, error_r) < 0)
		return -1;
	if (link(temp, lock->lock_path) < 0 && errno != EEXIST) {
		*error_r = "cannot link the lock file";
		ret = -1;
	} else if (stat(temp, &st) < 0) {
		*error_r = "cannot stat the temporary lock file";
		ret = -1;
	} else if (st.st_nlink == 2) {
		lock->dev = st.st_dev;
		lock->ino = st.st_ino;
		ret = 1;
	}
	unlink(temp);
	/* Unlinking the temp changed the lock's ctime: record it after. */
	if (ret == 1 && dotlock_record(lock) < 0) {
		*error_r = "cannot stat the lock file";
		ret = -1;
	}
	return ret;
}

/* The pid in "<pid>:<host>" when the host is this one, else 0. */
static pid_t dotlock_local_pid(const char *lock_path)
{
	char content[300], *colon, *end;
	ssize_t n;
	long pid;
	int fd = open(lock_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, content, sizeof(content) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	content[n] = '\0';
	colon = strchr(content, ':');
	if (colon == NULL || strcmp(colon + 1, dotlock_hostname()) != 0)
		return 0;
	*colon = '\0';
	errno = 0;
	pid = strtol(content, &end, 10);
	if (errno != 0 || *end != '\0' || pid <= 0)
		return 0;
	return (pid_t)pid;
}

static bool dotlock_same(const struct dotlock_seen *seen, const struct stat *st)
{
	return seen->valid && seen->dev == st->st_dev && seen->ino == st->st_ino &&
	       seen->size == st->st_size && seen->mtime.tv_sec == st->st_mtim.tv_sec &&
	       seen->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Remove the existing lock if it is abandoned: its holder on this host is
 * gone, or it is older than stale_secs and unchanged since our last look.
 * Age is measured against a file we just wrote, so the NFS server's clock
 * is compared with itself. */
static void dotlock_check_stale(const char *lock_path, const struct dotlock_settings *set,
				time_t server_now, struct dotlock_seen *seen)
{
	struct stat st;
	pid_t pid;
	bool stale = false;

	if (stat(lock_path, &st) < 0)
		return;
	pid = dotlock_local_pid(lock_path);
	if (pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH)
		stale = true;
	else if (set->stale_secs > 0 && dotlock_same(seen, &st) &&
		 server_now - st.st_mtim.tv_sec >= (time_t)set->stale_secs)
		stale = true;
	if (stale) {
		struct stat again;

		/* Only the very file we judged: a fresh lock made meanwhile stays. */
		if (stat(lock_path, &again) == 0 && again.st_ino == st.st_ino &&
		    again.st_mtim.tv_sec == st.st_mtim.tv_sec)
			unlink(lock_path);
		seen->valid = false;
		return;
	}
	if (!dotlock_same(seen, &st)) {
		seen->valid = true;
		seen->dev = st.st_dev;
		seen->ino = st.st_ino;
		seen->size = st.st_size;
		seen->mtime = st.st_mtim;
	}
}

static time_t dotlock_server_time(const char *temp)
{
	struct stat st;
	int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return time(NULL);
	if (fstat(fd, &st) < 0)
		st.st_mtim.tv_sec = time(NULL);
	close(fd);
	unlink(temp);
	return st.st_mtim.tv_sec;
}

static void dotlock_sleep(unsigned int *delay_msecs)
{
	unsigned int jitter = (unsigned int)(dotlock_now_msecs() % (*delay_msecs / 2 + 1));
	struct timespec ts = { 0, (long)(*delay_msecs + jitter) * 1000000L };

	nanosleep(&ts, NULL);
	if (*delay_msecs < 100)
		*delay_msecs *= 2;
}

int dotlock_create(const char *path, const struct dotlock_settings *set,
		   struct dotlock **lock_r, const char **error_r)
{
	struct dotlock *lock = xcalloc(1, sizeof(*lock));
	struct dotlock_seen seen = { .valid = false };
	uint64_t deadline = dotlock_now_msecs() + set->timeout_msecs;
	unsigned int delay = 5;
	char *temp;
	int ret;

	lock->lock_path = xasprintf("%s.lock", path);
	temp = dotlock_temp_path(lock->lock_path);
	for (;;) {
		ret = dotlock_try(lock, temp, error_r);
		if (ret != 0)
			break;
		dotlock_check_stale(lock->lock_path, set, dotlock_server_time(temp), &seen);
		if (dotlock_now_msecs() >= deadline) {
			*error_r = "timed out waiting for the lock";
			break;
		}
		dotlock_sleep(&delay);
	}
	free(temp);
	if (ret == 1) {
		*lock_r = lock;
		return 1;
	}
	free(lock->lock_path);
	free(lock);
	return ret;
}

const char *dotlock_path(const struct dotlock *lock)
{
	return lock->lock_path;
}

int dotlock_is_ours(const struct dotlock *lock)
{
	struct stat st;

	if (stat(lock->lock_path, &st) < 0)
		return 0;
	return st.st_dev == lock->dev && st.st_ino == lock->ino &&
	       st.st_ctim.tv_sec == lock->ctime.tv_sec && st.st_ctim.tv_nsec == lock->ctime.tv_nsec;
}

int dotlock_touch(struct dotlock *lock, const char **error_r)
{
	if (!dotlock_is_ours(lock)) {
		*error_r = "the lock was taken over";
		return 0;
	}
	if (utimensat(AT_FDCWD, lock->lock_path, NULL, 0) < 0) {
		*error_r = "cannot update the lock's mtime";
		return -1;
	}
	if (dotlock_record(lock) < 0) {
		*error_r = "the lock was taken over";
		return 0;
	}
	return 1;
}

int dotlock_release(struct dotlock **lockp, const char **error_r)
{
	struct dotlock *lock = *lockp;
	int ret = 1;

	if (lock == NULL)
		return 0;
	*lockp = NULL;
	if (!dotlock_is_ours(lock)) {
		*error_r = "the lock was taken over";
		ret = 0;
	} else if (unlink(lock->lock_path) < 0 && errno != ENOENT) {
		*error_r = "cannot remove the lock file";
		ret = -1;
	}
	free(lock->lock_path);
	free(lock);
	return ret;
}
