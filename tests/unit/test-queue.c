/* Group commit and start-up recovery of the queue, without delivery
 * (no authd client: messages stay in active/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "queue-private.h"
#include "test.h"

#define NMSGS 20

static char qdir[] = "/tmp/mr-test-queue-XXXXXX";
static unsigned ok_count, durable_count, done_count;

static struct cfg *make_cfg(const char *extra)
{
	struct cfg *cfg = cfg_new(queue_defs, queue_defs_count);
	const char *error;

	CHECK_INT(cfg_set(cfg, "queue_directory", qdir, &error), 0);
	if (extra != NULL)
		CHECK_INT(cfg_set(cfg, "queue_min_free_space", extra, &error), 0);
	return cfg;
}

static void committed(void *ctx, enum queue_result result, const char *qid, const char *error)
{
	char path[512];

	(void)ctx;
	(void)error;
	ok_count += result == QUEUE_OK;
	done_count++;
	snprintf(path, sizeof(path), "%s/active/%s", qdir, qid);
	durable_count += access(path, F_OK) == 0;
}

static struct queue_msg *begin(struct queue *q, const char **error_r)
{
	struct queue_rcpt rcpt = { .addr = "demo@example.test" };
	struct queue_envelope env = { .sender = "a@b.test", .rcpts = &rcpt, .nrcpts = 1 };

	return queue_msg_begin(q, &env, error_r);
}

static unsigned count_files(const char *sub)
{
	char cmd[512];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls %s/%s | wc -l", qdir, sub);
	p = popen(cmd, "r");
	if (p != NULL) {
		if (fscanf(p, "%u", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static void test_group_commit(void)
{
	uv_loop_t loop;
	struct cfg *cfg = make_cfg(NULL);
	const char *error;
	struct queue *q;
	struct queue_msg *msgs[NMSGS];

	uv_loop_init(&loop);
	q = queue_new(&loop, cfg, NULL, &error);
	CHECK(q != NULL);
	for (int i = 0; i < NMSGS; i++) {
		msgs[i] = begin(q, &error);
		CHECK(msgs[i] != NULL);
		CHECK_INT(queue_msg_write(msgs[i], "Subject: x\r\n\r\nhi\r\n", 18), 0);
		CHECK_INT(queue_msg_size(msgs[i]), 18);
	}
	for (int i = 0; i < NMSGS; i++)
		queue_msg_commit(msgs[i], committed, NULL);
	CHECK_INT(ok_count, 0);	/* nothing before durability */
	while (done_count < NMSGS && uv_run(&loop, UV_RUN_ONCE) != 0)
		;
	CHECK_INT(ok_count, NMSGS);
	CHECK_INT(durable_count, NMSGS);
	CHECK_INT(q->stats.committed, NMSGS);
	/* All twenty were waiting for the start-up scan: one batch. */
	CHECK(q->stats.batches >= 1 && q->stats.batches <= 2);
	CHECK_INT(count_files("active"), NMSGS);
	CHECK_INT(count_files("incoming"), 0);
	queue_free(q);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	cfg_free(cfg);
}

static void test_restart_cleans_incoming(void)
{
	uv_loop_t loop;
	struct cfg *cfg = make_cfg(NULL);
	const char *error;
	struct queue *q;
	struct queue_msg *msg;
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/incoming/0LEFTOVER0000000", qdir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL)
		fclose(f);
	uv_loop_init(&loop);
	q = queue_new(&loop, cfg, NULL, &error);
	msg = begin(q, &error);
	queue_msg_abort(msg);	/* an aborted message leaves nothing */
	while (!q->scanned && uv_run(&loop, UV_RUN_ONCE) != 0)
		;
	CHECK_INT(count_files("incoming"), 0);
	CHECK_INT(count_files("active"), NMSGS);
	queue_free(q);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	cfg_free(cfg);
}

static void test_disk_full(void)
{
	uv_loop_t loop;
	struct cfg *cfg = make_cfg("1000T");
	const char *error = NULL;
	struct queue *q;

	uv_loop_init(&loop);
	q = queue_new(&loop, cfg, NULL, &error);
	CHECK(begin(q, &error) == NULL);
	CHECK_STR(error, "disk full");
	queue_free(q);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	cfg_free(cfg);
}

static void test_retry_delay(void)
{
	struct queue q = { .set = { .retry_min = 300, .retry_max = 3600 } };

	CHECK_INT(queue_retry_delay(&q, 1), 300);
	CHECK_INT(queue_retry_delay(&q, 2), 600);
	CHECK_INT(queue_retry_delay(&q, 4), 2400);
	CHECK_INT(queue_retry_delay(&q, 5), 3600);
	CHECK_INT(queue_retry_delay(&q, 1000), 3600);
}

int main(void)
{
	char cmd[128];

	if (mkdtemp(qdir) == NULL)
		return 1;
	test_run("group commit: every callback after its file is durable", test_group_commit);
	test_run("restart removes incoming/, keeps active/", test_restart_cleans_incoming);
	test_run("disk full at begin", test_disk_full);
	test_run("retry backoff", test_retry_delay);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", qdir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
