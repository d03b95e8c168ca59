/* A test-only front for the queue until mailroom-mta exists: it runs the
 * queue with an authd client and takes messages over a UNIX socket.
 *
 *   queue-tool CONFIG
 *
 * CONFIG holds the queue's keys plus authd_lookup_socket and
 * tool_socket. Per connection, any number of messages:
 *   MAIL sender\n  RCPT addr\n...  DATA len\n<len bytes>
 * answered "250 <qid>\n" once durable or "451 <reason>\n"; LMTP instead of
 * DATA gives one "<i> <code> <enh> <text>\n" per recipient and ".\n". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd-client.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "queue.h"
#include "xalloc.h"

static const struct cfg_def tool_defs[] = {
	{ "authd_lookup_socket", CFG_STR, "", "authd's lookup socket", 0, 0, NULL, NULL },
	{ "tool_socket", CFG_STR, "", "where messages come in", 0, 0, NULL, NULL },
};

struct tool_conn {
	uv_pipe_t pipe;
	struct buf in;
	struct buf sender;
	char **rcpts;
	size_t nrcpts;
	struct queue_rcpt *qr;
	size_t data_left;
	bool lmtp;
	struct queue_msg *msg;
	unsigned busy;		/* commits in flight */
	bool closing;
};

static struct queue *tool_queue;

static void tool_closed(uv_handle_t *h)
{
	struct tool_conn *c = h->data;

	buf_free(&c->in);
	buf_free(&c->sender);
	for (size_t i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	free(c->qr);
	free(c);
}

static void tool_close(struct tool_conn *c)
{
	c->closing = true;
	if (c->msg != NULL) {
		queue_msg_abort(c->msg);
		c->msg = NULL;
	}
	if (c->busy == 0 && !uv_is_closing((uv_handle_t *)&c->pipe))
		uv_close((uv_handle_t *)&c->pipe, tool_closed);
}

static void tool_written(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
	free(req);
}

static void tool_send(struct tool_conn *c, const char *text)
{
	uv_write_t *req = xcalloc(1, sizeof(*req));
	uv_buf_t b = uv_buf_init(xstrdup(text), (unsigned)strlen(text));

	if (c->closing) {
		free(b.base);
		free(req);
		return;
	}
	req->data = b.base;
	uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, tool_written);
}

static void tool_reset(struct tool_conn *c)
{
	for (size_t i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	c->nrcpts = 0;
	buf_reset(&c->sender);
}

static void tool_committed(void *ctx, enum queue_result result, const char *qid,
			   const char *error)
{
	struct tool_conn *c = ctx;
	char line[256];

	snprintf(line, sizeof(line), result == QUEUE_OK ? "250 %s\n" : "451 %s\n",
		 result == QUEUE_OK ? qid : error);
	c->busy--;
	tool_send(c, line);
	if (c->closing)
		tool_close(c);
}

static void tool_rcpt_reply(void *ctx, size_t rcpt, unsigned code, const char *enh,
			    const char *text)
{
	struct tool_conn *c = ctx;
	char line[512];

	if (rcpt == QUEUE_RCPT_DONE) {
		c->busy--;
		tool_send(c, ".\n");
		if (c->closing)
			tool_close(c);
		return;
	}
	snprintf(line, sizeof(line), "%zu %u %s %s\n", rcpt, code, enh, text);
	tool_send(c, line);
}

static void tool_begin(struct tool_conn *c)
{
	struct queue_envelope env = { .helo = "tool", .client_addr = "127.0.0.1",
				      .protocol = c->lmtp ? "LMTP" : "ESMTP" };
	const char *error;

	c->qr = xreallocarray(c->qr, c->nrcpts + 1, sizeof(*c->qr));
	for (size_t i = 0; i < c->nrcpts; i++)
		c->qr[i] = (struct queue_rcpt){ .addr = c->rcpts[i] };
	env.sender = buf_cstr(&c->sender);
	env.rcpts = c->qr;
	env.nrcpts = c->nrcpts;
	c->msg = queue_msg_begin(tool_queue, &env, &error);
	if (c->msg == NULL) {
		char line[256];

		snprintf(line, sizeof(line), "451 %s\n", error);
		tool_send(c, line);
	}
}

static void tool_end_data(struct tool_conn *c)
{
	struct queue_msg *msg = c->msg;

	c->msg = NULL;
	tool_reset(c);
	if (msg == NULL)
		return;
	c->busy++;
	if (c->lmtp)
		queue_msg_deliver(msg, tool_rcpt_reply, c);
	else
		queue_msg_commit(msg, tool_committed, c);
}

static void tool_line(struct tool_conn *c, char *line)
{
	if (strncmp(line, "MAIL ", 5) == 0) {
		tool_reset(c);
		buf_append_str(&c->sender, line + 5);
	} else if (strcmp(line, "MAIL") == 0) {
		tool_reset(c);
	} else if (strncmp(line, "RCPT ", 5) == 0) {
		c->rcpts = xreallocarray(c->rcpts, c->nrcpts + 1, sizeof(*c->rcpts));
		c->rcpts[c->nrcpts++] = xstrdup(line + 5);
	} else if (strncmp(line, "DATA ", 5) == 0 || strncmp(line, "LMTP ", 5) == 0) {
		c->lmtp = line[0] == 'L';
		c->data_left = strtoul(line + 5, NULL, 10);
		tool_begin(c);
		if (c->data_left == 0)
			tool_end_data(c);
	} else {
		tool_send(c, "500 what?\n");
	}
}

static void tool_input(struct tool_conn *c)
{
	while (c->in.len > 0 && !c->closing) {
		if (c->data_left > 0) {
			size_t n = c->in.len < c->data_left ? c->in.len : c->data_left;

			if (c->msg != NULL)
				queue_msg_write(c->msg, c->in.data, n);
			buf_consume(&c->in, n);
			c->data_left -= n;
			if (c->data_left == 0)
				tool_end_data(c);
			continue;
		}
		char *nl = memchr(c->in.data, '\n', c->in.len);
		if (nl == NULL)
			return;
		*nl = '\0';
		char *line = xstrdup(c->in.data);
		buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
		tool_line(c, line);
		free(line);
	}
}

static void tool_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
	(void)h;
	b->base = xmalloc(size);
	b->len = size;
}

static void tool_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct tool_conn *c = s->data;

	if (n < 0) {
		tool_close(c);
	} else if (n > 0) {
		buf_append(&c->in, b->base, (size_t)n);
		tool_input(c);
	}
	free(b->base);
}

static void tool_accept(uv_stream_t *server, int status)
{
	struct tool_conn *c;

	if (status < 0)
		return;
	c = xcalloc(1, sizeof(*c));
	buf_init(&c->in, BUF_NO_LIMIT);
	buf_init(&c->sender, 4096);
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		uv_close((uv_handle_t *)&c->pipe, tool_closed);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, tool_alloc, tool_read);
}

static void tool_stop(uv_signal_t *sig, int signum)
{
	(void)signum;
	uv_stop(sig->loop);
}

int main(int argc, char **argv)
{
	size_t n = queue_defs_count + 2;
	struct cfg_def *table = xcalloc(n, sizeof(*table));
	struct authd_client_settings aset = { 0 };
	struct authd_client *authd;
	uv_loop_t *loop = uv_default_loop();
	uv_pipe_t server;
	uv_signal_t sig;
	struct cfg *cfg;
	const char *error;

	if (argc != 2) {
		fprintf(stderr, "usage: queue-tool CONFIG\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_open("queue-tool", LOG_DEST_STDERR, LOG_LEVEL_DEBUG);
	memcpy(table, queue_defs, queue_defs_count * sizeof(*table));
	memcpy(table + queue_defs_count, tool_defs, sizeof(tool_defs));
	cfg = cfg_new(table, n);
	if (cfg_load_file(cfg, argv[1], &error) < 0) {
		fprintf(stderr, "queue-tool: %s\n", error);
		return 1;
	}
	aset.lookup_socket = cfg_str(cfg, "authd_lookup_socket");
	aset.timeout_ms = 2000;
	authd = authd_client_new(loop, &aset);
	if ((tool_queue = queue_new(loop, cfg, authd, &error)) == NULL) {
		fprintf(stderr, "queue-tool: %s\n", error);
		return 1;
	}
	unlink(cfg_str(cfg, "tool_socket"));
	uv_pipe_init(loop, &server, 0);
	if (uv_pipe_bind(&server, cfg_str(cfg, "tool_socket")) < 0 ||
	    uv_listen((uv_stream_t *)&server, 128, tool_accept) < 0) {
		fprintf(stderr, "queue-tool: cannot listen\n");
		return 1;
	}
	uv_signal_init(loop, &sig);
	uv_signal_start(&sig, tool_stop, SIGTERM);
	log_info("-", "queue-tool: started");
	uv_run(loop, UV_RUN_DEFAULT);
	queue_free(tool_queue);
	uv_close((uv_handle_t *)&server, NULL);
	uv_close((uv_handle_t *)&sig, NULL);
	authd_client_free(authd);
	uv_run(loop, UV_RUN_DEFAULT);
	cfg_free(cfg);
	free(table);
	return 0;
}
