/* The queue file format: round trip, whole and trickled input, truncated
 * and malformed files. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue.h"
#include "queue-file.h"
#include "test.h"

static const char body[] = "Subject: hi\r\n\r\nline one\r\nMRQ-END 3\r\n";

static void sample(struct queue_file *qf)
{
	struct queue_file_rcpt *r;

	queue_file_init(qf);
	qf->id = strdup("0ABCDEFGHIJKLMNO");
	qf->arrival = 1700000000;
	qf->attempts = 2;
	qf->next_retry = 1700000600;
	qf->sender = strdup("a b%@example.test");
	qf->ret = strdup("HDRS");
	qf->envid = strdup("env=1");
	qf->smtputf8 = true;
	qf->helo = strdup("client.test");
	qf->client = strdup("127.0.0.1");
	qf->proto = strdup("ESMTPS");
	queue_file_add_rcpt(qf, "demo@example.test", QUEUE_NOTIFY_FAILURE, "rfc822;demo@example.test");
	r = queue_file_add_rcpt(qf, "team@example.test", 0, NULL);
	r->state = QUEUE_RCPT_SENT;
	queue_file_set_diag(r, "2.0.0 delivered to maildir");
	r = queue_file_add_rcpt(qf, "friend@remote.test", 0, "team@example.test");
	r->state = QUEUE_RCPT_REMOTE;
	queue_file_add_done(qf, 1, "demo@example.test");
}

static void build(const struct queue_file *qf, const char *msg, size_t len, struct buf *out)
{
	buf_init(out, BUF_NO_LIMIT);
	queue_file_format_header(qf, out);
	buf_append(out, msg, len);
	queue_file_format_trailer(len, out);
}

/* Parse data fed in pieces of step bytes (0: whole). */
static int parse(const char *data, size_t len, size_t step, struct queue_file *qf,
		 const char **error_r)
{
	struct queue_file_parser *p;

	queue_file_init(qf);
	p = queue_file_parser_new(qf, false);
	if (step == 0) {
		queue_file_parser_feed(p, data, len);
	} else {
		for (size_t i = 0; i < len; i += step)
			queue_file_parser_feed(p, data + i, len - i < step ? len - i : step);
	}
	return queue_file_parser_finish(&p, error_r);
}

static void check_same(const struct queue_file *a, const struct queue_file *b)
{
	CHECK_STR(b->id, a->id);
	CHECK_INT(b->arrival, a->arrival);
	CHECK_INT(b->attempts, a->attempts);
	CHECK_INT(b->next_retry, a->next_retry);
	CHECK_STR(b->sender, a->sender);
	CHECK_STR(b->ret, a->ret);
	CHECK_STR(b->envid, a->envid);
	CHECK(b->smtputf8 == a->smtputf8 && b->body_8bit == a->body_8bit);
	CHECK_STR(b->proto, a->proto);
	CHECK(b->auth == NULL);
	CHECK_INT(b->nrcpts, a->nrcpts);
	for (size_t i = 0; i < a->nrcpts && i < b->nrcpts; i++) {
		CHECK_STR(b->rcpts[i].addr, a->rcpts[i].addr);
		CHECK_INT(b->rcpts[i].state, a->rcpts[i].state);
		CHECK_INT(b->rcpts[i].notify, a->rcpts[i].notify);
		CHECK((a->rcpts[i].orcpt == NULL) == (b->rcpts[i].orcpt == NULL));
		CHECK((a->rcpts[i].diag == NULL) == (b->rcpts[i].diag == NULL));
		if (a->rcpts[i].diag != NULL && b->rcpts[i].diag != NULL)
			CHECK_STR(b->rcpts[i].diag, a->rcpts[i].diag);
	}
	CHECK_INT(b->ndone, a->ndone);
	CHECK(queue_file_is_done(b, 1, "DEMO@example.test"));
	CHECK(!queue_file_is_done(b, 0, "demo@example.test"));
}

static void test_round_trip(void)
{
	struct queue_file qf, got;
	struct buf file;
	const char *error = NULL;
	size_t steps[] = { 0, 1, 2, 7, 4096 };

	sample(&qf);
	build(&qf, body, strlen(body), &file);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		CHECK_INT(parse(file.data, file.len, steps[s], &got, &error), 0);
		check_same(&qf, &got);
		CHECK_INT(got.msg_size, strlen(body));
		CHECK_MEM(file.data + got.msg_offset, (size_t)got.msg_size, body, strlen(body));
		queue_file_free(&got);
	}
	buf_free(&file);
	queue_file_free(&qf);
}

static void test_empty_message(void)
{
	struct queue_file qf, got;
	struct buf file;
	const char *error = NULL;

	sample(&qf);
	build(&qf, "", 0, &file);
	CHECK_INT(parse(file.data, file.len, 1, &got, &error), 0);
	CHECK_INT(got.msg_size, 0);
	queue_file_free(&got);
	buf_free(&file);
	queue_file_free(&qf);
}

/* Every prefix of a good file is refused: nothing truncated is delivered. */
static void test_truncated(void)
{
	struct queue_file qf, got;
	struct buf file;
	const char *error;
	unsigned accepted = 0;

	sample(&qf);
	build(&qf, body, strlen(body), &file);
	for (size_t len = 0; len < file.len; len++) {
		error = NULL;
		if (parse(file.data, len, len % 3 + 1, &got, &error) == 0)
			accepted++;
		else
			CHECK(error != NULL);
		queue_file_free(&got);
	}
	CHECK_INT(accepted, 0);
	buf_free(&file);
	queue_file_free(&qf);
}

static void test_header_only(void)
{
	struct queue_file qf, got;
	struct queue_file_parser *p;
	struct buf file;
	const char *error = NULL;
	int ret = 0;

	sample(&qf);
	build(&qf, body, strlen(body), &file);
	queue_file_init(&got);
	p = queue_file_parser_new(&got, true);
	for (size_t i = 0; i < file.len && ret == 0; i++)
		ret = queue_file_parser_feed(p, file.data + i, 1);
	CHECK_INT(ret, 1);
	CHECK_INT(queue_file_parser_finish(&p, &error), 0);
	CHECK_INT(got.nrcpts, 3);
	CHECK_INT(got.msg_offset, file.len - strlen(body) - strlen("MRQ-END 38\n"));
	queue_file_free(&got);
	buf_free(&file);
	queue_file_free(&qf);
}

static const char *const malformed[] = {
	"",
	"MRQ 2\nid 0ABCDEFGHIJKLMNO\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a@b\n\nMRQ-END 0\n",  /* no rcpt */
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nrcpt pending 0 x@y\n\nMRQ-END 0\n", /* no sender */
	"MRQ 1\nid bad-id\narrival 1\nsender a\nrcpt pending 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival x\nsender a\nrcpt pending 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\narrival 2\nsender a\nrcpt pending 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\nfoo bar\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt weird 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 999 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x%4@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a%00\nrcpt sent 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y bogus=1\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\ndone 5 z@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\r\nrcpt sent 0 x@y\n\nMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\n\nabcMRQ-END 0\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\n\nab\nMRQ-END 5\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\n\nab\nMRQ-END 3",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\n\nab\nMRQ-END -3\n",
	"MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender a\nrcpt sent 0 x@y\n\nab\nMRQ-END 99999999999999999999999\n",
};

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		for (size_t step = 0; step <= 1; step++) {
			struct queue_file got;
			const char *error = NULL;
			int ret = parse(malformed[i], strlen(malformed[i]), step, &got, &error);

			if (ret != -1 || error == NULL)
				printf("# malformed[%zu] step %zu accepted\n", i, step);
			CHECK_INT(ret, -1);
			queue_file_free(&got);
		}
	}
}

static void test_minimal_accepted(void)
{
	static const char ok[] = "MRQ 1\nid 0ABCDEFGHIJKLMNO\narrival 1\nsender \n"
				 "rcpt sent 0 x@y\n\nab\nMRQ-END 3\n";
	struct queue_file got;
	const char *error = NULL;

	CHECK_INT(parse(ok, strlen(ok), 1, &got, &error), 0);
	CHECK_STR(got.sender, "");
	CHECK_INT(got.msg_size, 3);
	queue_file_free(&got);
}

static void test_long_line(void)
{
	struct buf b;
	struct queue_file got;
	const char *error = NULL;

	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, "MRQ 1\nsender ");
	for (int i = 0; i < QUEUE_FILE_LINE_MAX; i++)
		buf_append_char(&b, 'a');
	buf_append_str(&b, "\n");
	CHECK_INT(parse(b.data, b.len, 0, &got, &error), -1);
	CHECK(error != NULL && strstr(error, "too long") != NULL);
	queue_file_free(&got);
	buf_free(&b);
}

int main(void)
{
	test_run("round trip, whole and trickled", test_round_trip);
	test_run("empty message", test_empty_message);
	test_run("every truncation is refused", test_truncated);
	test_run("envelope only", test_header_only);
	test_run("malformed files", test_malformed);
	test_run("minimal file with the null sender", test_minimal_accepted);
	test_run("over-long envelope line", test_long_line);
	return test_done();
}
