/* imap-load: an IMAP and POP3 load generator for bench/mbs.py.
 *
 * One process, one epoll loop, many sessions, optional TLS (OpenSSL on
 * non-blocking sockets).  Three modes:
 *
 *   mix    each session logs in, SELECTs INBOX, FETCHes the headers of the
 *          last 20 messages, then runs --cycles rounds of: FETCH two whole
 *          messages, STORE a flag, APPEND a message, mark it \Deleted,
 *          EXPUNGE; then LOGOUT and connects again.  Per command: count,
 *          errors, latency percentiles.
 *   login  connect, LOGIN, LOGOUT, again: the login rate alone.
 *   pop3   each session logs in (USER/PASS), STATs, RETRs every message,
 *          QUITs (nothing deleted) and connects again.  Messages/s, bytes/s.
 *   idle   --connections sessions log in, SELECT INBOX and enter IDLE (or
 *          stop after LOGIN or SELECT: --idle-level); when
 *          all are there (or failed) "ready OK FAILED" is printed and the
 *          sessions are held until a line or EOF on stdin or --hold seconds,
 *          then DONE and LOGOUT (or just closed: --close-idle).  The caller measures memory meanwhile.
 *
 * Every mode is bounded by --seconds (or --hold) and by --max-ops; a last
 * grace period ends whatever is still open.  Results are one JSON object
 * on stdout, with the process's own CPU time so that a caller can tell
 * whether the generator was the bottleneck.  Loopback only: --host must be
 * a numeric 127.x.x.x or ::1 address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_USERS 100000
#define MAX_SESSIONS 200000
#define GRACE_SECONDS 15.0
#define IN_MAX (8u << 20)	/* one line or a whole reply never needs more */
#define HIST_BUCKETS 1200	/* 1 us * 1.02^1200: far beyond any timeout */
#define HIST_BASE 1.02

enum cmd {
	C_CONNECT, C_LOGIN, C_SELECT, C_FETCH_HDR, C_FETCH_BODY, C_STORE, C_APPEND,
	C_EXPUNGE, C_LOGOUT, C_IDLE, C_STAT, C_RETR, C_QUIT, C_COUNT
};
static const char *const cmd_names[C_COUNT] = {
	"connect", "login", "select", "fetch_headers", "fetch_body", "store", "append",
	"expunge", "logout", "idle", "stat", "retr", "quit"
};

enum mode { M_MIX, M_LOGIN, M_POP3, M_IDLE };

struct stat_cmd {
	uint64_t count, errors;
	double sum, max;
	uint32_t hist[HIST_BUCKETS];
};

struct sess {
	int fd;
	SSL *ssl;
	int user;
	enum cmd cmd;		/* the command in flight */
	double t0;		/* when it was sent */
	bool handshaking, want_write, closing, idle_ready, done;
	bool last_ok;		/* the last tagged reply was OK */
	bool give_up;		/* no new connection after this one */
	char *in;
	size_t inlen, incap;
	size_t literal_left;	/* reply bytes still to skip (IMAP literal) */
	bool multiline;		/* POP3: reading a multi-line reply */
	char *out;
	size_t outlen, outoff, outcap;
	const char *append_msg;	/* sent after the "+" continuation */
	unsigned tagn;
	unsigned gen;		/* counts connections: a reply handler may reconnect */
	uint32_t exists, base, appenduid, cycle, next_msg, nmsgs;
	int fetches;
};

static struct {
	enum mode mode;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	bool tls;
	SSL_CTX *ctx;
	char **user, **pass;
	int nusers;
	int sessions, cycles, append_size, max_open;
	double seconds, hold;
	uint64_t max_ops, ops;
	int ep;
	double start, deadline;
	bool stopping;
	struct stat_cmd st[C_COUNT];
	uint64_t bytes_in, messages, message_bytes, closed_early;
	char first_error[256];
	uint64_t nerrors;
	char *append_body;
	int open_now, ready, failed, started;
	enum cmd idle_level;	/* idle mode holds sessions after this command */
	bool close_idle;	/* end held sessions by closing, not DONE + LOGOUT */
	unsigned seed;
} g;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("imap-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
		die("out of memory");
	return p;
}

static void note_error(const char *fmt, ...)
{
	va_list ap;
	g.nerrors++;
	if (g.first_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(g.first_error, sizeof(g.first_error), fmt, ap);
	va_end(ap);
}

static void record(enum cmd c, double secs, bool ok)
{
	struct stat_cmd *s = &g.st[c];
	double us = secs * 1e6;
	int b = us <= 1.0 ? 0 : (int)(log(us) / log(HIST_BASE));

	if (b >= HIST_BUCKETS)
		b = HIST_BUCKETS - 1;
	s->count++;
	if (!ok)
		s->errors++;
	s->sum += secs;
	if (secs > s->max)
		s->max = secs;
	s->hist[b]++;
	g.ops++;
}

/* The upper edge of the bucket holding the p-th percentile, in ms. */
static double percentile(const struct stat_cmd *s, double p)
{
	uint64_t want = (uint64_t)ceil(s->count * p / 100.0), seen = 0;

	if (want == 0)
		want = 1;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= want)
			return pow(HIST_BASE, b + 1) / 1000.0;
	}
	return s->max * 1000.0;
}

/* ---------------------------------------------------------------- output */

static void out_append(struct sess *s, const char *data, size_t n)
{
	if (s->outoff > 0 && s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
	if (s->outlen + n > s->outcap) {
		s->outcap = (s->outlen + n) * 2;
		s->out = xrealloc(s->out, s->outcap);
	}
	memcpy(s->out + s->outlen, data, n);
	s->outlen += n;
}

static void update_events(struct sess *s, bool want_write)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0),
				  .data.ptr = s };
	if (want_write == s->want_write)
		return;
	s->want_write = want_write;
	epoll_ctl(g.ep, EPOLL_CTL_MOD, s->fd, &ev);
}

static void sess_close(struct sess *s);

/* Writes what is queued; false when the session was closed. */
static bool flush(struct sess *s)
{
	while (s->outoff < s->outlen) {
		size_t n = s->outlen - s->outoff;
		ssize_t w;

		if (s->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_write(s->ssl, s->out + s->outoff, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(s->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE) {
					update_events(s, true);
					return true;
				}
				if (e == SSL_ERROR_WANT_READ)
					return true;
				note_error("TLS write failed (%d)", e);
				sess_close(s);
				return false;
			}
			w = r;
		} else {
			w = send(s->fd, s->out + s->outoff, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					update_events(s, true);
					return true;
				}
				note_error("send: %s", strerror(errno));
				sess_close(s);
				return false;
			}
		}
		s->outoff += (size_t)w;
	}
	update_events(s, false);
	return true;
}

static void sendf(struct sess *s, enum cmd c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		die("command too long");
	s->cmd = c;
	s->t0 = now();
	out_append(s, line, (size_t)n);
	flush(s);
}

/* An IMAP command with the next tag. */
static void imap_cmd(struct sess *s, enum cmd c, const char *fmt, ...)
{
	char line[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->tagn++;
	sendf(s, c, "T%u %s\r\n", s->tagn, line);
}

static const char *tls_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_get_error());
	return r != NULL ? r : "?";
}

/* ---------------------------------------------------------------- sessions */

static bool over(void)
{
	return g.stopping || now() >= g.deadline || (g.max_ops && g.ops >= g.max_ops);
}

static void sess_start(struct sess *s)
{
	int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = s };
	int one = 1;

	if (fd < 0)
		die("socket: %s (raise RLIMIT_NOFILE?)", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&g.addr, g.addrlen) < 0 && errno != EINPROGRESS) {
		note_error("connect: %s", strerror(errno));
		close(fd);
		record(C_CONNECT, 0, false);
		s->done = true;
		g.failed++;
		return;
	}
	s->fd = fd;
	s->gen++;
	s->ssl = NULL;
	s->inlen = s->outlen = s->outoff = 0;
	s->literal_left = 0;
	s->multiline = false;
	s->closing = s->idle_ready = false;
	s->want_write = true;
	s->handshaking = g.tls;
	s->cmd = C_CONNECT;
	s->t0 = now();
	s->tagn = 0;
	s->cycle = 0;
	s->appenduid = 0;
	s->exists = 0;
	s->nmsgs = 0;
	g.open_now++;
	if (g.tls) {
		s->ssl = SSL_new(g.ctx);
		if (s->ssl == NULL)
			die("SSL_new failed");
		SSL_set_fd(s->ssl, fd);
		SSL_set_connect_state(s->ssl);
	}
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void sess_close(struct sess *s)
{
	if (s->fd < 0)
		return;
	epoll_ctl(g.ep, EPOLL_CTL_DEL, s->fd, NULL);
	if (s->ssl != NULL) {
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	close(s->fd);
	s->fd = -1;
	g.open_now--;
	if (!s->closing) {
		g.closed_early++;
		if (s->cmd != C_CONNECT || g.mode == M_IDLE)
			note_error("connection closed by the server during %s", cmd_names[s->cmd]);
		record(s->cmd, now() - s->t0, false);
		if (g.mode == M_IDLE && !s->idle_ready)
			g.failed++;
	}
	if (g.mode == M_IDLE || over())
		s->done = true;
}

/* Parses "[APPENDUID v u]" out of a tagged OK. */
static uint32_t appenduid_of(const char *line)
{
	const char *p = strstr(line, "[APPENDUID ");
	unsigned long v, u;

	if (p == NULL || sscanf(p, "[APPENDUID %lu %lu]", &v, &u) != 2)
		return 0;
	return (uint32_t)u;
}

static void mix_next(struct sess *s)
{
	if (over() && s->cmd != C_LOGOUT) {
		imap_cmd(s, C_LOGOUT, "LOGOUT");
		return;
	}
	switch (s->cmd) {
	case C_CONNECT:
		imap_cmd(s, C_LOGIN, "LOGIN \"%s\" \"%s\"", g.user[s->user], g.pass[s->user]);
		break;
	case C_LOGIN:
		if (!s->last_ok) {
			/* this session ends: a server refusing the login would
			 * otherwise be hammered by reconnections */
			s->give_up = true;
			imap_cmd(s, C_LOGOUT, "LOGOUT");
			break;
		}
		if (g.mode == M_LOGIN)
			imap_cmd(s, C_LOGOUT, "LOGOUT");
		else
			imap_cmd(s, C_SELECT, "SELECT INBOX");
		break;
	case C_SELECT:
		s->base = s->exists;
		if (!s->last_ok) {
			s->give_up = true;
			imap_cmd(s, C_LOGOUT, "LOGOUT");
			break;
		}
		if (s->base == 0) {
			note_error("%s: INBOX is empty", g.user[s->user]);
			s->give_up = true;
			imap_cmd(s, C_LOGOUT, "LOGOUT");
			break;
		}
		imap_cmd(s, C_FETCH_HDR, "FETCH %u:%u (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])",
			 s->base > 20 ? s->base - 19 : 1, s->base);
		s->fetches = 0;
		break;
	case C_FETCH_HDR:
	case C_EXPUNGE:
		if (s->cmd == C_EXPUNGE && ++s->cycle >= (uint32_t)g.cycles) {
			imap_cmd(s, C_LOGOUT, "LOGOUT");
			break;
		}
		s->fetches = 0;
		/* fall through */
	case C_FETCH_BODY:
		if (s->fetches < 2) {
			s->fetches++;
			imap_cmd(s, C_FETCH_BODY, "FETCH %u (BODY.PEEK[])",
				 1 + rand_r(&g.seed) % s->base);
		} else {
			imap_cmd(s, C_STORE, "STORE %u %sFLAGS (\\Flagged)",
				 1 + rand_r(&g.seed) % s->base, s->cycle % 2 ? "-" : "+");
		}
		break;
	case C_STORE: {
		char head[200];
		int n;
		s->tagn++;
		n = snprintf(head, sizeof(head), "T%u APPEND INBOX (\\Seen) {%d}\r\n",
			     s->tagn, g.append_size);
		s->append_msg = g.append_body;
		s->cmd = C_APPEND;
		s->t0 = now();
		out_append(s, head, (size_t)n);
		flush(s);
		break;
	}
	case C_APPEND:
		if (s->appenduid == 0) {
			imap_cmd(s, C_EXPUNGE, "EXPUNGE");
			break;
		}
		/* The message this session appended: UID STORE when the server
		 * said its UID, else the last message (only this session writes
		 * this mailbox, and every cycle expunges what it appended). */
		if (s->appenduid != UINT32_MAX)
			imap_cmd(s, C_STORE, "UID STORE %u +FLAGS.SILENT (\\Deleted)",
				 s->appenduid);
		else
			imap_cmd(s, C_STORE, "STORE %u +FLAGS.SILENT (\\Deleted)", s->base + 1);
		s->appenduid = 0;
		/* this STORE's tagged reply leads to EXPUNGE */
		s->nmsgs = 1;
		break;
	default:
		break;
	}
}

static void mix_tagged(struct sess *s, const char *line, bool ok)
{
	s->last_ok = ok;
	if (s->cmd == C_APPEND)
		s->appenduid = ok ? (appenduid_of(line) ? appenduid_of(line) : UINT32_MAX) : 0;
	if (s->cmd == C_LOGOUT) {
		s->closing = true;
		sess_close(s);
		if (!over() && !s->give_up)
			sess_start(s);
		else
			s->done = true;
		return;
	}
	if (s->cmd == C_STORE && s->nmsgs == 1) {
		s->nmsgs = 0;
		imap_cmd(s, C_EXPUNGE, "EXPUNGE");
		return;
	}
	mix_next(s);
}

static void idle_tagged(struct sess *s, bool ok)
{
	switch (s->cmd) {
	case C_CONNECT:
		imap_cmd(s, C_LOGIN, "LOGIN \"%s\" \"%s\"", g.user[s->user], g.pass[s->user]);
		break;
	case C_LOGIN:
	case C_SELECT:
		if (!ok) {
			g.failed++;
			s->closing = true;
			sess_close(s);
			break;
		}
		if (s->cmd == g.idle_level) {
			/* held here: logged in (or selected) but not idling */
			s->idle_ready = true;
			g.ready++;
		} else if (s->cmd == C_LOGIN) {
			imap_cmd(s, C_SELECT, "SELECT INBOX");
		} else {
			imap_cmd(s, C_IDLE, "IDLE");
		}
		break;
	case C_IDLE:
		imap_cmd(s, C_LOGOUT, "LOGOUT");
		break;
	case C_LOGOUT:
		s->closing = true;
		sess_close(s);
		break;
	default:
		break;
	}
}

static void pop3_next(struct sess *s, const char *line, bool ok)
{
	switch (s->cmd) {
	case C_CONNECT:
		sendf(s, C_LOGIN, "USER %s\r\n", g.user[s->user]);
		s->nmsgs = 0;
		break;
	case C_LOGIN:
		if (s->nmsgs == 0 && ok) {
			s->nmsgs = 1;	/* USER done, PASS next (timed as one login) */
			double t0 = s->t0;
			sendf(s, C_LOGIN, "PASS %s\r\n", g.pass[s->user]);
			s->t0 = t0;
			return;
		}
		record(C_LOGIN, now() - s->t0, ok);
		if (!ok) {
			note_error("%s: %s", g.user[s->user], line);
			sendf(s, C_QUIT, "QUIT\r\n");
			break;
		}
		sendf(s, C_STAT, "STAT\r\n");
		break;
	case C_STAT: {
		unsigned long n = 0, size = 0;
		if (sscanf(line, "+OK %lu %lu", &n, &size) < 1 || n == 0) {
			note_error("%s: STAT: %s", g.user[s->user], line);
			sendf(s, C_QUIT, "QUIT\r\n");
			break;
		}
		s->nmsgs = (uint32_t)n;
		s->next_msg = 1;
		sendf(s, C_RETR, "RETR %u\r\n", s->next_msg);
		break;
	}
	case C_RETR:
		if (!over() && ++s->next_msg <= s->nmsgs) {
			sendf(s, C_RETR, "RETR %u\r\n", s->next_msg);
			break;
		}
		sendf(s, C_QUIT, "QUIT\r\n");
		break;
	case C_QUIT:
		s->closing = true;
		sess_close(s);
		if (!over())
			sess_start(s);
		else
			s->done = true;
		break;
	default:
		break;
	}
}

/* One complete line (CRLF stripped) of a reply. */
static void on_line(struct sess *s, char *line, size_t len)
{
	double dt = now() - s->t0;

	if (g.mode == M_POP3) {
		if (s->multiline) {
			if (len == 1 && line[0] == '.') {
				s->multiline = false;
				g.messages++;
				record(C_RETR, dt, true);
				pop3_next(s, line, true);
			} else {
				g.message_bytes += len + 2 - (line[0] == '.' && len > 1);
			}
			return;
		}
		bool ok = strncmp(line, "+OK", 3) == 0;
		if (!ok && s->cmd != C_LOGIN)
			note_error("%s %s: %.100s", g.user[s->user], cmd_names[s->cmd], line);
		if (s->cmd == C_RETR && ok) {
			s->multiline = true;
			return;
		}
		if (s->cmd == C_CONNECT || s->cmd == C_STAT || s->cmd == C_QUIT ||
		    s->cmd == C_RETR)
			record(s->cmd, dt, ok);
		pop3_next(s, line, ok);
		return;
	}

	/* IMAP: a literal announced at the end of the line follows. */
	if (len > 2 && line[len - 1] == '}') {
		size_t k = len - 1;
		while (k > 0 && line[k - 1] != '{')
			k--;
		if (k > 0)
			s->literal_left = strtoul(line + k, NULL, 10);
	}
	if (line[0] == '*') {
		unsigned long n;
		char word[16];
		if (s->cmd == C_CONNECT) {
			bool ok = strncmp(line, "* OK", 4) == 0;
			record(C_CONNECT, dt, ok);
			if (!ok)
				note_error("greeting: %.100s", line);
			if (g.mode == M_IDLE)
				idle_tagged(s, ok);
			else
				mix_next(s);
			return;
		}
		if (sscanf(line, "* %lu %15s", &n, word) == 2 && strcmp(word, "EXISTS") == 0)
			s->exists = (uint32_t)n;
		return;
	}
	if (line[0] == '+') {
		if (s->cmd == C_APPEND && s->append_msg != NULL) {
			out_append(s, s->append_msg, (size_t)g.append_size);
			out_append(s, "\r\n", 2);
			s->append_msg = NULL;
			flush(s);
		} else if (s->cmd == C_IDLE && !s->idle_ready) {
			s->idle_ready = true;
			record(C_IDLE, dt, true);
			g.ready++;
		}
		return;
	}
	if (line[0] == 'T') {
		char *sp = strchr(line, ' ');
		bool ok = sp != NULL && strncmp(sp + 1, "OK", 2) == 0;
		if (s->cmd != C_IDLE)
			record(s->cmd, dt, ok);
		if (!ok)
			note_error("%s %s: %.150s", g.user[s->user], cmd_names[s->cmd], line);
		if (g.mode == M_IDLE)
			idle_tagged(s, ok);
		else
			mix_tagged(s, line, ok);
	}
}

static void parse_input(struct sess *s)
{
	size_t pos = 0;
	unsigned gen = s->gen;

	while (pos < s->inlen && s->fd >= 0 && s->gen == gen) {
		if (s->literal_left > 0) {
			size_t n = s->inlen - pos < s->literal_left ? s->inlen - pos : s->literal_left;
			s->literal_left -= n;
			pos += n;
			continue;
		}
		char *nl = memchr(s->in + pos, '\n', s->inlen - pos);
		if (nl == NULL)
			break;
		size_t len = (size_t)(nl - (s->in + pos));
		char *line = s->in + pos;
		pos += len + 1;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		on_line(s, line, len);
	}
	if (s->fd < 0 || s->gen != gen) {
		/* closed, or closed and connected again: sess_start emptied
		 * the buffer for the new connection */
		if (s->fd < 0)
			s->inlen = 0;
		return;
	}
	memmove(s->in, s->in + pos, s->inlen - pos);
	s->inlen -= pos;
}

static void on_readable(struct sess *s)
{
	for (;;) {
		ssize_t r;

		if (s->incap - s->inlen < 16384) {
			if (s->incap >= IN_MAX) {
				note_error("reply line over %u bytes", IN_MAX);
				sess_close(s);
				return;
			}
			s->incap = s->incap ? s->incap * 2 : 32768;
			s->in = xrealloc(s->in, s->incap);
		}
		if (s->ssl != NULL) {
			ERR_clear_error();
			int n = SSL_read(s->ssl, s->in + s->inlen, (int)(s->incap - s->inlen - 1));
			if (n <= 0) {
				int e = SSL_get_error(s->ssl, n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				sess_close(s);
				return;
			}
			r = n;
		} else {
			r = recv(s->fd, s->in + s->inlen, s->incap - s->inlen - 1, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (r <= 0) {
				sess_close(s);
				return;
			}
		}
		unsigned gen = s->gen;
		g.bytes_in += (uint64_t)r;
		s->inlen += (size_t)r;
		parse_input(s);
		if (s->fd < 0 || s->gen != gen)
			return;
	}
}

static void on_event(struct sess *s, uint32_t events)
{
	if (s->cmd == C_CONNECT && s->want_write && !s->handshaking && s->ssl == NULL) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			note_error("connect: %s", strerror(err));
			s->closing = true;
			record(C_CONNECT, now() - s->t0, false);
			if (g.mode == M_IDLE)
				g.failed++;
			sess_close(s);
			s->done = true;
			return;
		}
		update_events(s, false);
	}
	if (s->handshaking) {
		ERR_clear_error();
		int r = SSL_do_handshake(s->ssl);
		if (r != 1) {
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ) {
				update_events(s, false);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				update_events(s, true);
				return;
			}
			note_error("TLS handshake failed: %s",
				   tls_reason());
			s->closing = true;
			record(C_CONNECT, now() - s->t0, false);
			if (g.mode == M_IDLE)
				g.failed++;
			sess_close(s);
			s->done = true;
			return;
		}
		s->handshaking = false;
		update_events(s, false);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(s);
	if (s->fd >= 0 && s->outoff < s->outlen)
		flush(s);
}

/* ---------------------------------------------------------------- main */

static void read_users(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	g.user = xrealloc(NULL, sizeof(char *) * MAX_USERS);
	g.pass = xrealloc(NULL, sizeof(char *) * MAX_USERS);
	while (g.nusers < MAX_USERS && fgets(line, sizeof(line), f) != NULL) {
		char u[512], p[512];
		if (sscanf(line, "%511s %511s", u, p) != 2)
			continue;
		g.user[g.nusers] = strdup(u);
		g.pass[g.nusers] = strdup(p);
		g.nusers++;
	}
	fclose(f);
	if (g.nusers == 0)
		die("%s: no \"user password\" lines", path);
}

static void make_append_body(void)
{
	static const char head[] =
		"From: Load Generator <load@bench.test>\r\n"
		"To: Bench User <user@bench.test>\r\n"
		"Subject: appended by imap-load\r\n"
		"Date: Sun, 06 Dec 2026 12:00:00 +0000\r\n"
		"Message-ID: <append@imap-load.bench.test>\r\n"
		"\r\n";
	size_t hl = sizeof(head) - 1;

	if ((size_t)g.append_size < hl + 2)
		g.append_size = (int)hl + 2;
	g.append_body = xrealloc(NULL, (size_t)g.append_size);
	memcpy(g.append_body, head, hl);
	for (size_t i = hl; i < (size_t)g.append_size; i++)
		g.append_body[i] = (i - hl) % 72 == 70 ? '\r' : (i - hl) % 72 == 71 ? '\n' :
				   (char)('a' + (i % 26));
	g.append_body[g.append_size - 2] = '\r';
	g.append_body[g.append_size - 1] = '\n';
}

static void usage(void)
{
	fprintf(stderr,
		"usage: imap-load --port P --users FILE [--mode mix|login|pop3|idle] [--host 127.0.0.1]\n"
		"       [--tls] [--sessions C] [--seconds S] [--max-ops N] [--cycles K]\n"
		"       [--append-size B] [--connections N] [--hold S] [--max-open M] [--seed X]\n"
		"       [--idle-level login|select|idle] [--close-idle]\n");
	exit(2);
}

static void print_json(double elapsed)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"mode\": \"%s\", \"elapsed\": %.4f, \"cpu_user\": %.4f, \"cpu_sys\": %.4f,"
	       " \"sessions\": %d, \"bytes_in\": %llu, \"messages\": %llu,"
	       " \"message_bytes\": %llu, \"errors\": %llu, \"closed_early\": %llu,"
	       " \"ready\": %d, \"failed\": %d, \"max_rss_kib\": %ld, \"first_error\": \"",
	       g.mode == M_MIX ? "mix" : g.mode == M_LOGIN ? "login" : g.mode == M_POP3 ? "pop3" : "idle", elapsed,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, g.sessions,
	       (unsigned long long)g.bytes_in, (unsigned long long)g.messages,
	       (unsigned long long)g.message_bytes, (unsigned long long)g.nerrors,
	       (unsigned long long)g.closed_early, g.ready, g.failed, ru.ru_maxrss);
	for (const char *p = g.first_error; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar((unsigned char)*p < 0x20 ? ' ' : *p);
	}
	printf("\", \"commands\": {");
	bool first = true;
	for (int c = 0; c < C_COUNT; c++) {
		const struct stat_cmd *s = &g.st[c];
		if (s->count == 0)
			continue;
		printf("%s\"%s\": {\"count\": %llu, \"errors\": %llu, \"mean\": %.4f,"
		       " \"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, \"max\": %.4f}",
		       first ? "" : ", ", cmd_names[c], (unsigned long long)s->count,
		       (unsigned long long)s->errors, s->sum / s->count * 1000.0,
		       percentile(s, 50), percentile(s, 90), percentile(s, 99), s->max * 1000.0);
		first = false;
	}
	printf("}}\n");
	fflush(stdout);
}

static void parse_host(const char *host, int port)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&g.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&g.addr;

	memset(&g.addr, 0, sizeof(g.addr));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
			die("%s: loopback addresses only", host);
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		g.addrlen = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			die("%s: loopback addresses only", host);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		g.addrlen = sizeof(*in6);
	} else {
		die("%s: not a numeric address", host);
	}
}

static int int_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		die("%s: %s is not in %ld..%ld", what, s, lo, hi);
	return (int)v;
}

static double num_arg(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi))
		die("%s: %s is not in %g..%g", what, s, lo, hi);
	return v;
}

/* Reads stdin in idle mode: a line or EOF ends the hold. */
static bool stdin_says_stop(void)
{
	char buf[256];
	ssize_t r = read(0, buf, sizeof(buf));
	return r == 0 || (r > 0 && memchr(buf, '\n', (size_t)r) != NULL) ||
	       (r < 0 && errno != EAGAIN && errno != EINTR);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", 1, NULL, 'h'}, {"port", 1, NULL, 'p'}, {"tls", 0, NULL, 't'},
		{"users", 1, NULL, 'u'}, {"mode", 1, NULL, 'm'}, {"sessions", 1, NULL, 's'},
		{"seconds", 1, NULL, 'S'}, {"max-ops", 1, NULL, 'o'}, {"cycles", 1, NULL, 'c'},
		{"append-size", 1, NULL, 'a'}, {"connections", 1, NULL, 'n'},
		{"hold", 1, NULL, 'H'}, {"idle-level", 1, NULL, 'L'},
		{"close-idle", 0, NULL, 'C'}, {"max-open", 1, NULL, 'M'}, {"seed", 1, NULL, 'r'},
		{NULL, 0, NULL, 0}
	};
	const char *host = "127.0.0.1", *users = NULL;
	int port = 0, opt;
	struct sess *ss;

	g.mode = M_MIX;
	g.sessions = 10;
	g.seconds = 10;
	g.hold = 60;
	g.cycles = 5;
	g.append_size = 2048;
	g.max_open = 100;
	g.max_ops = 50000000;
	g.seed = 1;
	g.idle_level = C_IDLE;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = int_arg(optarg, 1, 65535, "--port"); break;
		case 't': g.tls = true; break;
		case 'u': users = optarg; break;
		case 'm':
			if (strcmp(optarg, "mix") == 0)
				g.mode = M_MIX;
			else if (strcmp(optarg, "login") == 0)
				g.mode = M_LOGIN;
			else if (strcmp(optarg, "pop3") == 0)
				g.mode = M_POP3;
			else if (strcmp(optarg, "idle") == 0)
				g.mode = M_IDLE;
			else
				usage();
			break;
		case 's':
		case 'n': g.sessions = int_arg(optarg, 1, MAX_SESSIONS, "--sessions"); break;
		case 'S': g.seconds = num_arg(optarg, 0.1, 3600, "--seconds"); break;
		case 'o': g.max_ops = (uint64_t)int_arg(optarg, 1, 2000000000, "--max-ops"); break;
		case 'c': g.cycles = int_arg(optarg, 1, 100000, "--cycles"); break;
		case 'a': g.append_size = int_arg(optarg, 1, 50 << 20, "--append-size"); break;
		case 'H': g.hold = num_arg(optarg, 0, 3600, "--hold"); break;
		case 'M': g.max_open = int_arg(optarg, 1, 100000, "--max-open"); break;
		case 'L':
			if (strcmp(optarg, "login") == 0)
				g.idle_level = C_LOGIN;
			else if (strcmp(optarg, "select") == 0)
				g.idle_level = C_SELECT;
			else if (strcmp(optarg, "idle") == 0)
				g.idle_level = C_IDLE;
			else
				usage();
			break;
		case 'C': g.close_idle = true; break;
		case 'r': g.seed = (unsigned)int_arg(optarg, 0, 1 << 30, "--seed"); break;
		default: usage();
		}
	}
	if (port == 0 || users == NULL || optind != argc)
		usage();
	parse_host(host, port);
	read_users(users);
	make_append_body();
	signal(SIGPIPE, SIG_IGN);

	/* One descriptor per session, and a few more. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)g.sessions + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)g.sessions + 64 ? rl.rlim_max :
			      (rlim_t)g.sessions + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)g.sessions + 16)
			die("RLIMIT_NOFILE hard limit %llu is too low for %d sessions",
			    (unsigned long long)rl.rlim_max, g.sessions);
	}
	if (g.tls) {
		g.ctx = SSL_CTX_new(TLS_client_method());
		if (g.ctx == NULL)
			die("SSL_CTX_new failed");
		/* Benchmark servers run with throwaway self-signed certificates. */
		SSL_CTX_set_verify(g.ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_mode(g.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	ss = calloc((size_t)g.sessions, sizeof(*ss));
	if (ss == NULL)
		die("out of memory");
	for (int i = 0; i < g.sessions; i++) {
		ss[i].fd = -1;
		ss[i].user = i % g.nusers;
	}
	g.start = now();
	g.deadline = g.start + (g.mode == M_IDLE ? 3600 : g.seconds);

	struct epoll_event evs[256];
	bool announced = false;
	double hold_end = 0, setup_end = g.start + g.seconds;
	int next = 0;

	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	for (;;) {
		double t = now();
		int live;

		/* Idle mode opens connections at most max_open at a time. */
		while (next < g.sessions && !g.stopping &&
		       (g.mode != M_IDLE || g.open_now - g.ready < g.max_open))
			sess_start(&ss[next++]);
		if (g.mode == M_IDLE && !announced &&
		    ((next == g.sessions && g.ready + g.failed >= g.sessions) || t > setup_end)) {
			announced = true;
			printf("ready %d %d %.2f\n", g.ready, g.sessions - g.ready, t - g.start);
			fflush(stdout);
			hold_end = t + g.hold;
		}
		if (g.mode == M_IDLE && announced && !g.stopping &&
		    (t > hold_end || stdin_says_stop())) {
			g.stopping = true;
			g.deadline = t;
			for (int i = 0; i < g.sessions; i++) {
				if (ss[i].fd >= 0 && g.close_idle) {
					ss[i].closing = true;
					sess_close(&ss[i]);
				} else if (ss[i].fd >= 0 && ss[i].idle_ready && ss[i].cmd == C_IDLE) {
					out_append(&ss[i], "DONE\r\n", 6);
					flush(&ss[i]);
				} else if (ss[i].fd >= 0 && ss[i].idle_ready) {
					imap_cmd(&ss[i], C_LOGOUT, "LOGOUT");
				} else if (ss[i].fd >= 0) {
					ss[i].closing = true;
					sess_close(&ss[i]);
				}
			}
		}
		live = g.open_now;
		if (next == g.sessions && live == 0)
			break;
		if (t > g.deadline + GRACE_SECONDS) {
			note_error("%d sessions still open %.0f s after the end", live, GRACE_SECONDS);
			break;
		}
		int n = epoll_wait(g.ep, evs, 256, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct sess *s = evs[i].data.ptr;
			if (s->fd >= 0)
				on_event(s, evs[i].events);
		}
	}
	print_json(now() - g.start);
	return g.nerrors > 0 ? 1 : 0;
}
