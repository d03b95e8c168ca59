/* A test-only daemon on the skeleton, speaking a tiny line protocol so the
 * integration tests can drive every part of lib/ networking:
 *   ECHO text | STARTTLS | INFO | SLOW n | LITERAL n | BIG n | QUIT */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "tls.h"
#include "xalloc.h"

#define TESTD_MAX_LINE 1000
#define TESTD_BIG_CHUNK (32 * 1024)

struct testd_session {
	struct conn *conn;
	uv_timer_t slow_timer;
	unsigned slow_seconds;
	uint64_t big_left;
	uint64_t literal_len;
	uint32_t literal_sum;
};

static const struct cfg_def testd_defs[] = {
	{ "greeting", CFG_STR, "testd ready", "text after +OK in the greeting", 0, 0, NULL, NULL },
};

/* FNV-1a, 32 bits: simple enough for the tests to recompute. */
static uint32_t testd_fnv(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static bool testd_number(const char *s, uint64_t max, uint64_t *n_r)
{
	char *end;
	unsigned long long n;

	if (*s < '0' || *s > '9')
		return false;
	n = strtoull(s, &end, 10);
	if (*end != '\0' || n > max)
		return false;
	*n_r = n;
	return true;
}

static void *testd_connect(struct conn *c)
{
	struct testd_session *s = xcalloc(1, sizeof(*s));
	const struct cfg *cfg = daemon_cfg(daemon_of_conn(c));

	s->conn = c;
	uv_timer_init(daemon_loop(daemon_of_conn(c)), &s->slow_timer);
	s->slow_timer.data = s;
	conn_printf(c, "+OK %s\r\n", cfg_str(cfg, "greeting"));
	return s;
}

static void testd_session_free(uv_handle_t *h)
{
	free(h->data);
}

static void testd_close(void *session, struct conn *c)
{
	struct testd_session *s = session;

	uv_close((uv_handle_t *)&s->slow_timer, testd_session_free);
}

static void testd_info(struct conn *c)
{
	SSL *ssl = conn_ssl(c);
	char rip[NETADDR_STRLEN] = "unix", lip[NETADDR_STRLEN] = "unix";
	const char *sni = tls_ssl_sni(ssl);

	if (!conn_is_unix(c) || conn_proxied(c)) {
		netaddr_str(conn_remote(c), rip);
		netaddr_str(conn_local(c), lip);
	}
	conn_printf(c, "+OK tls=%s cipher=%s sni=%s rip=%s rport=%u lip=%s lport=%u "
		    "proxied=%s sid=%s\r\n",
		    conn_is_tls(c) ? tls_ssl_version(ssl) : "no",
		    conn_is_tls(c) ? tls_ssl_cipher(ssl) : "-",
		    *sni != '\0' ? sni : "-", rip, conn_remote(c)->port,
		    lip, conn_local(c)->port, conn_proxied(c) ? "yes" : "no", conn_sid(c));
}

static void testd_slow_done(uv_timer_t *t)
{
	struct testd_session *s = t->data;

	conn_printf(s->conn, "+OK slept %u\r\n", s->slow_seconds);
	conn_resume(s->conn);
}

/* Produce BIG output only as fast as the client takes it. */
static void testd_big_more(void *session, struct conn *c)
{
	struct testd_session *s = session;
	char chunk[TESTD_BIG_CHUNK];

	if (s->big_left == 0)
		return;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	while (s->big_left > 0 && !conn_write_blocked(c) && !conn_is_closing(c)) {
		size_t n = s->big_left < sizeof(chunk) ? (size_t)s->big_left : sizeof(chunk);

		conn_write(c, chunk, n);
		s->big_left -= n;
	}
	if (s->big_left == 0)
		conn_resume(c);
}

static void testd_starttls(struct conn *c)
{
	const char *error;

	if (!conn_tls_available(c)) {
		conn_write_str(c, "-ERR TLS not available\r\n");
		return;
	}
	conn_write_str(c, "+OK begin TLS\r\n");
	if (conn_starttls(c, &error) < 0)
		conn_close(c, error);
}

static bool testd_command_arg(struct testd_session *s, struct conn *c,
			      const char *cmd, const char *arg)
{
	uint64_t n;

	if (strcasecmp(cmd, "ECHO") == 0) {
		conn_printf(c, "+OK %s\r\n", arg);
	} else if (strcasecmp(cmd, "SLOW") == 0 && testd_number(arg, 3600, &n)) {
		s->slow_seconds = (unsigned)n;
		conn_pause(c);
		uv_timer_start(&s->slow_timer, testd_slow_done, n * 1000, 0);
	} else if (strcasecmp(cmd, "LITERAL") == 0 && testd_number(arg, UINT32_MAX, &n)) {
		s->literal_len = n;
		s->literal_sum = 2166136261u;
		conn_expect_literal(c, n);
		if (n == 0)
			conn_printf(c, "+OK got 0 bytes sha=%08x\r\n", s->literal_sum);
	} else if (strcasecmp(cmd, "BIG") == 0 && testd_number(arg, UINT64_MAX / 2, &n)) {
		s->big_left = n;
		conn_pause(c);
		testd_big_more(s, c);
	} else {
		return false;
	}
	return true;
}

static void testd_line(void *session, struct conn *c, const struct lr_line *line)
{
	struct testd_session *s = session;
	char *text = xstrndup(line->data, line->len);
	char *sp = strchr(text, ' ');
	bool done = true;

	if (sp != NULL) {
		*sp = '\0';
		done = testd_command_arg(s, c, text, sp + 1);
	} else if (strcasecmp(text, "STARTTLS") == 0) {
		testd_starttls(c);
	} else if (strcasecmp(text, "INFO") == 0) {
		testd_info(c);
	} else if (strcasecmp(text, "QUIT") == 0) {
		conn_write_str(c, "+OK bye\r\n");
		conn_close(c, "quit");
	} else {
		done = false;
	}
	if (!done)
		conn_write_str(c, "-ERR unknown command\r\n");
	free(text);
}

static void testd_data(void *session, struct conn *c, const struct lr_line *chunk)
{
	struct testd_session *s = session;

	s->literal_sum = testd_fnv(s->literal_sum, chunk->data, chunk->len);
	if (chunk->last)
		conn_printf(c, "+OK got %llu bytes sha=%08x\r\n",
			    (unsigned long long)s->literal_len, s->literal_sum);
}

static void testd_too_long(void *session, struct conn *c)
{
	conn_write_str(c, "-ERR line too long\r\n");
}

static void testd_timeout(struct conn *c, enum conn_timeout which)
{
	conn_write_str(c, "-ERR timeout\r\n");
}

static void testd_busy(struct conn *c)
{
	conn_write_str(c, "-ERR too busy\r\n");
}

static const struct conn_service testd_service = {
	.name = "testd",
	.max_line = TESTD_MAX_LINE,
	.eol = LR_EOL_CRLF,
	.on_connect = testd_connect,
	.on_line = testd_line,
	.on_data = testd_data,
	.on_too_long = testd_too_long,
	.on_writable = testd_big_more,
	.on_timeout = testd_timeout,
	.on_busy = testd_busy,
	.on_close = testd_close,
};

static const struct conn_service *const testd_services[] = { &testd_service };

int main(int argc, char **argv)
{
	static const struct daemon_info info = {
		.name = "mailroom-testd",
		.defs = testd_defs,
		.ndefs = sizeof(testd_defs) / sizeof(testd_defs[0]),
		.services = testd_services,
		.nservices = 1,
	};

	return daemon_main(&info, argc, argv);
}
