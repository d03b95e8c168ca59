/* mbs/notify: one inotify instance, shared watches, polling fallback,
 * revalidation; on a real loop with real directories. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify.h"
#include "test.h"

static char root[64];
static unsigned fired[4];
static uv_loop_t loop;

static void on_change(void *ctx)
{
	fired[(size_t)ctx]++;
}

static char *folder(const char *name)
{
	static char path[4][128];
	static int k;
	char *p = path[k++ % 4];
	char sub[160];

	snprintf(p, 128, "%s/%s", root, name);
	mkdir(p, 0700);
	for (int i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", p, (const char *[]){ "tmp", "new", "cur" }[i]);
		mkdir(sub, 0700);
	}
	return p;
}

static void drop_message(const char *dir, const char *name)
{
	char tmp[256], new[256];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(new, sizeof(new), "%s/new/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "Subject: x\n\nx\n", 14) == 14);
	close(fd);
	CHECK(rename(tmp, new) == 0);
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;   /* only wakes the loop */
}

/* Run the loop until fired[i] reaches want or ms pass (bounded). */
static bool wait_fired(size_t i, unsigned want, unsigned ms)
{
	uint64_t end = uv_now(&loop) + ms;
	uv_timer_t tick;

	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, tick_cb, 10, 10);
	while (fired[i] < want && uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return fired[i] >= want;
}

static void settle(unsigned ms)
{
	uint64_t end;
	uv_timer_t tick;

	uv_update_time(&loop);
	end = uv_now(&loop) + ms;
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, tick_cb, 10, 10);
	while (uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void reset(void)
{
	memset(fired, 0, sizeof(fired));
}

static void test_inotify_shared_watch(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 60000 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *inbox = folder("inotify");
	struct mbs_notify_watch *a, *b;
	unsigned dirs, polled;

	reset();
	a = mbs_notify_add(n, inbox, on_change, (void *)0);
	b = mbs_notify_add(n, inbox, on_change, (void *)1);
	mbs_notify_counts(n, &dirs, &polled);
	CHECK_INT(dirs, 1);
	/* once the watch is in place each gets one call */
	CHECK(wait_fired(0, 1, 2000));
	CHECK(wait_fired(1, 1, 2000));
	CHECK(mbs_notify_watch_inotify(a));
	mbs_notify_counts(n, &dirs, &polled);
	CHECK_INT(polled, 0);
	settle(50);
	reset();
	drop_message(inbox, "m1");
	CHECK(wait_fired(0, 1, 2000));
	CHECK(wait_fired(1, 1, 2000));
	/* a burst is coalesced */
	settle(50);
	reset();
	for (int i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "b%d", i);
		drop_message(inbox, name);
	}
	CHECK(wait_fired(0, 1, 2000));
	settle(100);
	CHECK(fired[0] <= 3);
	mbs_notify_remove(&a);
	CHECK(a == NULL);
	settle(30);
	reset();
	drop_message(inbox, "m2");
	CHECK(wait_fired(1, 1, 2000));
	CHECK_INT(fired[0], 0);
	mbs_notify_remove(&b);
	mbs_notify_counts(n, &dirs, &polled);
	CHECK_INT(dirs, 0);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_flag_change_and_expunge_seen(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 60000 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *dir = folder("flags");
	char from[256], to[256];
	struct mbs_notify_watch *w;

	drop_message(dir, "f1");
	reset();
	w = mbs_notify_add(n, dir, on_change, (void *)0);
	CHECK(wait_fired(0, 1, 2000));
	settle(50);
	reset();
	snprintf(from, sizeof(from), "%s/new/f1", dir);
	snprintf(to, sizeof(to), "%s/cur/f1:2,S", dir);
	CHECK(rename(from, to) == 0);
	CHECK(wait_fired(0, 1, 2000));
	settle(50);
	reset();
	CHECK(unlink(to) == 0);
	CHECK(wait_fired(0, 1, 2000));
	mbs_notify_remove(&w);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_generation_and_drain(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 60000 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *dir = folder("gen");
	struct mbs_notify_watch *w;
	uint64_t g;

	reset();
	w = mbs_notify_add(n, dir, on_change, (void *)0);
	CHECK(wait_fired(0, 1, 2000));
	CHECK(mbs_notify_watch_inotify(w));
	settle(30);
	CHECK(mbs_notify_drain(n));
	g = mbs_notify_generation(w);
	/* nothing changed: the same value, however often asked */
	CHECK(mbs_notify_drain(n));
	CHECK(mbs_notify_generation(w) == g);
	/* a change made before the drain is seen by it, without the loop */
	drop_message(dir, "g1");
	CHECK(mbs_notify_drain(n));
	CHECK(mbs_notify_generation(w) > g);
	g = mbs_notify_generation(w);
	CHECK(mbs_notify_drain(n));
	CHECK(mbs_notify_generation(w) == g);
	settle(50);
	mbs_notify_remove(&w);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
	/* polling only: a drain never vouches for anything */
	set.mode = MBS_NOTIFY_POLL;
	n = mbs_notify_new(&loop, &set);
	CHECK(!mbs_notify_drain(n));
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_poll_mode(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_POLL, .poll_ms = 50 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *dir = folder("poll");
	struct mbs_notify_watch *w;
	unsigned dirs, polled;

	reset();
	w = mbs_notify_add(n, dir, on_change, (void *)2);
	CHECK(!mbs_notify_watch_inotify(w));
	mbs_notify_counts(n, &dirs, &polled);
	CHECK_INT(polled, 1);
	/* the first look fires once */
	CHECK(wait_fired(2, 1, 2000));
	settle(200);
	CHECK_INT(fired[2], 1);   /* nothing changed: no more calls */
	drop_message(dir, "p1");
	CHECK(wait_fired(2, 2, 2000));
	mbs_notify_remove(&w);
	settle(100);   /* the stats out come back */
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_inotify_limit_falls_back_to_poll(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 50,
					   .max_inotify_dirs = 1 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *one = folder("lim1"), *two = folder("lim2");
	struct mbs_notify_watch *a, *b;
	unsigned dirs, polled;

	reset();
	a = mbs_notify_add(n, one, on_change, (void *)0);
	CHECK(wait_fired(0, 1, 2000));
	b = mbs_notify_add(n, two, on_change, (void *)1);
	CHECK(wait_fired(1, 1, 2000));
	CHECK(mbs_notify_watch_inotify(a));
	CHECK(!mbs_notify_watch_inotify(b));
	mbs_notify_counts(n, &dirs, &polled);
	CHECK_INT(dirs, 2);
	CHECK_INT(polled, 1);
	settle(100);
	reset();
	drop_message(two, "x");
	CHECK(wait_fired(1, 1, 2000));
	CHECK_INT(fired[0], 0);
	mbs_notify_remove(&a);
	mbs_notify_remove(&b);
	settle(100);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_revalidate(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 60000,
					   .revalidate_ms = 100 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char *dir = folder("reval");
	struct mbs_notify_watch *w;

	reset();
	w = mbs_notify_add(n, dir, on_change, (void *)3);
	/* the add's call, then one per interval with nothing changed */
	CHECK(wait_fired(3, 4, 3000));
	mbs_notify_remove(&w);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_missing_directory_polls(void)
{
	struct mbs_notify_settings set = { .mode = MBS_NOTIFY_INOTIFY, .poll_ms = 50 };
	struct mbs_notify *n = mbs_notify_new(&loop, &set);
	char path[128];
	struct mbs_notify_watch *w;

	snprintf(path, sizeof(path), "%s/absent", root);
	reset();
	w = mbs_notify_add(n, path, on_change, (void *)0);
	settle(300);
	CHECK(!mbs_notify_watch_inotify(w));
	mbs_notify_remove(&w);
	settle(100);
	mbs_notify_free(n);
	uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
	char cmd[128];

	snprintf(root, sizeof(root), "/tmp/mr-notify-XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	uv_loop_init(&loop);
	test_run("inotify_shared_watch", test_inotify_shared_watch);
	test_run("flag_change_and_expunge_seen", test_flag_change_and_expunge_seen);
	test_run("generation_and_drain", test_generation_and_drain);
	test_run("poll_mode", test_poll_mode);
	test_run("inotify_limit_falls_back_to_poll", test_inotify_limit_falls_back_to_poll);
	test_run("revalidate", test_revalidate);
	test_run("missing_directory_polls", test_missing_directory_polls);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
