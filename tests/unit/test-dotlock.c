#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "xalloc.h"
#include "test.h"

static char test_dir[] = "/tmp/test-dotlock.XXXXXX";

static char *test_path(const char *name)
{
	return xasprintf("%s/%s", test_dir, name);
}

static void test_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	fputs(content, f);
	fclose(f);
}

static long test_msecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_dotlock_basic(void)
{
	struct dotlock_settings set = { 0, 60 };
	struct dotlock *a, *b;
	char *path = test_path("basic"), *lock = test_path("basic.lock"), content[300];
	const char *error;
	FILE *f;

	CHECK_INT(dotlock_create(path, &set, &a, &error), 1);
	CHECK_STR(dotlock_path(a), lock);
	f = fopen(lock, "r");
	CHECK(f != NULL);
	CHECK(fgets(content, sizeof(content), f) != NULL);
	fclose(f);
	char *want = xasprintf("%ld:%s", (long)getpid(), dotlock_hostname());
	CHECK_STR(content, want);
	free(want);
	/* A second try from the same process is refused (no recursion), and
	 * our own pid is never taken for a dead holder. */
	CHECK_INT(dotlock_create(path, &set, &b, &error), 0);
	CHECK_INT(dotlock_touch(a, &error), 1);
	CHECK_INT(dotlock_release(&a, &error), 1);
	CHECK(a == NULL);
	CHECK(access(lock, F_OK) < 0);
	CHECK_INT(dotlock_create(path, &set, &b, &error), 1);
	CHECK_INT(dotlock_release(&b, &error), 1);
	free(path);
	free(lock);
}

/* Children add to a counter under the lock; any overlap loses updates. */
static void test_dotlock_child(const char *path, const char *counter, int rounds)
{
	struct dotlock_settings set = { 20000, 60 };
	struct dotlock *lock;
	const char *error;

	for (int i = 0; i < rounds; i++) {
		char buf[32] = "";
		FILE *f;

		if (dotlock_create(path, &set, &lock, &error) != 1)
			_exit(2);
		f = fopen(counter, "r");
		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
		usleep(200);
		snprintf(buf, sizeof(buf), "%d", atoi(buf) + 1);
		test_write_file(counter, buf);
		if (dotlock_release(&lock, &error) != 1)
			_exit(3);
	}
	_exit(0);
}

static void test_dotlock_contention(void)
{
	char *path = test_path("shared"), *counter = test_path("counter"), buf[32] = "";
	pid_t pids[4];
	int status;
	FILE *f;

	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			test_dotlock_child(path, counter, 25);
	}
	for (int i = 0; i < 4; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	f = fopen(counter, "r");
	CHECK(f != NULL && fgets(buf, sizeof(buf), f) != NULL);
	if (f != NULL)
		fclose(f);
	CHECK_STR(buf, "100");
	free(path);
	free(counter);
}

static void test_dotlock_dead_holder(void)
{
	struct dotlock_settings set = { 5000, 0 };
	char *path = test_path("dead"), *lock = test_path("dead.lock"), *content;
	struct dotlock *l;
	const char *error;
	pid_t pid = fork();
	long start;

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	content = xasprintf("%ld:%s", (long)pid, dotlock_hostname());
	test_write_file(lock, content);
	/* Removed at once, not after stale_secs (which is off here). */
	start = test_msecs();
	CHECK_INT(dotlock_create(path, &set, &l, &error), 1);
	CHECK(test_msecs() - start < 1000);
	CHECK_INT(dotlock_release(&l, &error), 1);
	free(content);
	free(path);
	free(lock);
}

static void test_dotlock_stale_and_timeout(void)
{
	struct dotlock_settings set = { 300, 10 };
	char *path = test_path("old"), *lock = test_path("old.lock");
	struct timespec times[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	struct dotlock *l;
	const char *error;
	long start;

	/* A fresh lock from another host: wait the whole timeout, fail. */
	test_write_file(lock, "1:other.host.example");
	start = test_msecs();
	CHECK_INT(dotlock_create(path, &set, &l, &error), 0);
	CHECK(test_msecs() - start >= 300);
	CHECK(test_msecs() - start < 2000);
	CHECK(access(lock, F_OK) == 0);
	/* The same lock an hour old and unchanged: removed. */
	CHECK(utimensat(AT_FDCWD, lock, times, 0) == 0);
	set.timeout_msecs = 3000;
	CHECK_INT(dotlock_create(path, &set, &l, &error), 1);
	CHECK_INT(dotlock_is_ours(l), 1);
	CHECK_INT(dotlock_release(&l, &error), 1);
	free(path);
	free(lock);
}

static void test_dotlock_release_not_ours(void)
{
	struct dotlock_settings set = { 0, 0 };
	char *path = test_path("taken"), *lock = test_path("taken.lock");
	struct dotlock *l;
	const char *error;

	CHECK_INT(dotlock_create(path, &set, &l, &error), 1);
	/* Someone judged it stale and made their own. */
	CHECK(unlink(lock) == 0);
	test_write_file(lock, "1:other.host.example");
	CHECK_INT(dotlock_is_ours(l), 0);
	CHECK_INT(dotlock_touch(l, &error), 0);
	CHECK_INT(dotlock_release(&l, &error), 0);
	CHECK(access(lock, F_OK) == 0);
	unlink(lock);
	free(path);
	free(lock);
}

int main(void)
{
	if (mkdtemp(test_dir) == NULL)
		return 1;
	test_run("dotlock create, content, release", test_dotlock_basic);
	test_run("dotlock four processes contend", test_dotlock_contention);
	test_run("dotlock of a dead local holder is removed at once", test_dotlock_dead_holder);
	test_run("dotlock times out, then recovers a stale lock", test_dotlock_stale_and_timeout);
	test_run("dotlock release leaves a lock that is not ours", test_dotlock_release_not_ours);
	char *rm = xasprintf("rm -rf %s", test_dir);
	int rm_status = system(rm);

	free(rm);
	return rm_status == 0 ? test_done() : 1;
}
