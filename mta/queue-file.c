/* The queue file format: writing and parsing (docs/queue.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "queue-file.h"
#include "xalloc.h"

/* The trailer: "MRQ-END " + up to 20 digits + "\n". */
#define QUEUE_FILE_TAIL_MAX 32

static const char *const queue_rcpt_state_names[] = {
	[QUEUE_RCPT_PENDING] = "pending",
	[QUEUE_RCPT_SENT] = "sent",
	[QUEUE_RCPT_BOUNCED] = "bounced",
	[QUEUE_RCPT_REMOTE] = "remote",
};

const char *queue_rcpt_state_name(enum queue_rcpt_state state)
{
	return queue_rcpt_state_names[state];
}

void queue_file_init(struct queue_file *qf)
{
	memset(qf, 0, sizeof(*qf));
}

void queue_file_free(struct queue_file *qf)
{
	char **strs[] = { &qf->id, &qf->sender, &qf->ret, &qf->envid, &qf->helo,
			  &qf->client, &qf->auth, &qf->proto, &qf->sid };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (size_t i = 0; i < qf->nrcpts; i++) {
		free(qf->rcpts[i].addr);
		free(qf->rcpts[i].orcpt);
		free(qf->rcpts[i].diag);
	}
	free(qf->rcpts);
	for (size_t i = 0; i < qf->ndone; i++)
		free(qf->done[i].target);
	free(qf->done);
	queue_file_init(qf);
}

struct queue_file_rcpt *queue_file_add_rcpt(struct queue_file *qf, const char *addr,
					    unsigned notify, const char *orcpt)
{
	struct queue_file_rcpt *r;

	qf->rcpts = xreallocarray(qf->rcpts, qf->nrcpts + 1, sizeof(*qf->rcpts));
	r = &qf->rcpts[qf->nrcpts++];
	memset(r, 0, sizeof(*r));
	r->addr = xstrdup(addr);
	r->notify = notify;
	r->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	return r;
}

void queue_file_add_done(struct queue_file *qf, size_t rcpt, const char *target)
{
	qf->done = xreallocarray(qf->done, qf->ndone + 1, sizeof(*qf->done));
	qf->done[qf->ndone].rcpt = rcpt;
	qf->done[qf->ndone++].target = xstrdup(target);
}

bool queue_file_is_done(const struct queue_file *qf, size_t rcpt, const char *target)
{
	for (size_t i = 0; i < qf->ndone; i++) {
		if (qf->done[i].rcpt == rcpt && strcasecmp(qf->done[i].target, target) == 0)
			return true;
	}
	return false;
}

void queue_file_set_diag(struct queue_file_rcpt *r, const char *diag)
{
	free(r->diag);
	r->diag = diag != NULL ? xstrdup(diag) : NULL;
}

/* ---- writing ---- */

/* Values are one token: bytes that could split a line or a field are %XX. */
static void queue_file_encode(struct buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%')
			buf_printf(out, "%%%02X", *p);
		else
			buf_append_char(out, (char)*p);
	}
}

static void queue_file_put(struct buf *out, const char *key, const char *value)
{
	if (value == NULL)
		return;
	buf_printf(out, "%s ", key);
	queue_file_encode(out, value);
	buf_append_char(out, '\n');
}

void queue_file_format_header(const struct queue_file *qf, struct buf *out)
{
	buf_printf(out, "%s\n", QUEUE_FILE_MAGIC);
	queue_file_put(out, "id", qf->id);
	buf_printf(out, "arrival %" PRId64 "\nattempts %u\nnext %" PRId64 "\n",
		   qf->arrival, qf->attempts, qf->next_retry);
	queue_file_put(out, "sender", qf->sender);
	queue_file_put(out, "ret", qf->ret);
	queue_file_put(out, "envid", qf->envid);
	if (qf->smtputf8)
		buf_append_str(out, "smtputf8 1\n");
	if (qf->body_8bit)
		buf_append_str(out, "8bitmime 1\n");
	queue_file_put(out, "helo", qf->helo);
	queue_file_put(out, "client", qf->client);
	queue_file_put(out, "auth", qf->auth);
	queue_file_put(out, "proto", qf->proto);
	queue_file_put(out, "sid", qf->sid);
	for (size_t i = 0; i < qf->nrcpts; i++) {
		const struct queue_file_rcpt *r = &qf->rcpts[i];

		buf_printf(out, "rcpt %s %u ", queue_rcpt_state_name(r->state), r->notify);
		queue_file_encode(out, r->addr);
		if (r->orcpt != NULL) {
			buf_append_str(out, " orcpt=");
			queue_file_encode(out, r->orcpt);
		}
		if (r->diag != NULL) {
			buf_append_str(out, " diag=");
			queue_file_encode(out, r->diag);
		}
		buf_append_char(out, '\n');
	}
	for (size_t i = 0; i < qf->ndone; i++) {
		buf_printf(out, "done %zu ", qf->done[i].rcpt);
		queue_file_encode(out, qf->done[i].target);
		buf_append_char(out, '\n');
	}
	buf_append_char(out, '\n');
}

void queue_file_format_trailer(uint64_t size, struct buf *out)
{
	buf_printf(out, "%s%" PRIu64 "\n", QUEUE_FILE_TRAILER, size);
}

/* ---- parsing ---- */

enum queue_file_pstate { QFP_MAGIC, QFP_HEADER, QFP_BODY, QFP_DONE, QFP_ERROR };

struct queue_file_parser {
	struct queue_file *qf;
	enum queue_file_pstate state;
	bool header_only;
	bool have_id, have_arrival, have_sender;
	struct buf line;
	uint64_t offset;	/* bytes consumed so far */
	uint64_t body_len;	/* bytes after the envelope */
	char tail[QUEUE_FILE_TAIL_MAX];
	size_t tail_len;
	const char *error;
};

static int queue_file_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode one token; NULL when a %XX is broken or decodes to NUL. */
static char *queue_file_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		int hi = i + 2 < len ? queue_file_hex(s[i + 1]) : -1;
		int lo = hi >= 0 ? queue_file_hex(s[i + 2]) : -1;

		if (i + 2 >= len || hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int queue_file_number(const char *s, uint64_t max, uint64_t *r)
{
	char *end;

	if (*s < '0' || *s > '9' || strlen(s) > 20)
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*r = v;
	return 0;
}

/* A string field set once; a repeat is malformed. */
static int queue_file_set_str(char **field, const char *value)
{
	if (*field != NULL)
		return -1;
	*field = queue_file_decode(value, strlen(value));
	return *field != NULL ? 0 : -1;
}

static int queue_file_parse_rcpt(struct queue_file *qf, char *value)
{
	char *fields[5];
	size_t n = 0;
	uint64_t notify;
	int state = -1;
	char *addr, *orcpt = NULL, *diag = NULL;
	struct queue_file_rcpt *r;

	for (char *save = NULL, *f = strtok_r(value, " ", &save); f != NULL;
	     f = strtok_r(NULL, " ", &save)) {
		if (n == 5)
			return -1;
		fields[n++] = f;
	}
	if (n < 3 || qf->nrcpts >= QUEUE_FILE_RCPTS_MAX)
		return -1;
	for (int i = 0; i <= QUEUE_RCPT_REMOTE; i++) {
		if (strcmp(fields[0], queue_rcpt_state_names[i]) == 0)
			state = i;
	}
	if (state < 0 || queue_file_number(fields[1], 0xff, &notify) < 0 || fields[2][0] == '\0')
		return -1;
	for (size_t i = 3; i < n; i++) {
		char **dst = strncmp(fields[i], "orcpt=", 6) == 0 ? &orcpt :
			     strncmp(fields[i], "diag=", 5) == 0 ? &diag : NULL;
		if (dst == NULL || queue_file_set_str(dst, strchr(fields[i], '=') + 1) < 0) {
			free(orcpt);
			free(diag);
			return -1;
		}
	}
	if ((addr = queue_file_decode(fields[2], strlen(fields[2]))) == NULL) {
		free(orcpt);
		free(diag);
		return -1;
	}
	r = queue_file_add_rcpt(qf, addr, (unsigned)notify, NULL);
	free(addr);
	r->state = (enum queue_rcpt_state)state;
	r->orcpt = orcpt;
	r->diag = diag;
	return 0;
}

static int queue_file_parse_done(struct queue_file *qf, char *value)
{
	char *sp = strchr(value, ' ');
	uint64_t idx;
	char *target;

	if (sp == NULL || qf->ndone >= QUEUE_FILE_RCPTS_MAX)
		return -1;
	*sp = '\0';
	if (queue_file_number(value, SIZE_MAX, &idx) < 0 || idx >= qf->nrcpts ||
	    sp[1] == '\0' || (target = queue_file_decode(sp + 1, strlen(sp + 1))) == NULL)
		return -1;
	queue_file_add_done(qf, (size_t)idx, target);
	free(target);
	return 0;
}

static int queue_file_parse_int(struct queue_file_parser *p, const char *key,
				const char *value)
{
	struct queue_file *qf = p->qf;
	uint64_t v;

	if (queue_file_number(value, INT64_MAX, &v) < 0)
		return -1;
	if (strcmp(key, "arrival") == 0 && !p->have_arrival) {
		qf->arrival = (int64_t)v;
		p->have_arrival = true;
	} else if (strcmp(key, "attempts") == 0 && v <= 1000000) {
		qf->attempts = (unsigned)v;
	} else if (strcmp(key, "next") == 0) {
		qf->next_retry = (int64_t)v;
	} else if (strcmp(key, "smtputf8") == 0 && v == 1) {
		qf->smtputf8 = true;
	} else if (strcmp(key, "8bitmime") == 0 && v == 1) {
		qf->body_8bit = true;
	} else {
		return -1;
	}
	return 0;
}

static int queue_file_parse_line(struct queue_file_parser *p, char *line)
{
	struct queue_file *qf = p->qf;
	char *value = strchr(line, ' ');
	static const char *const int_keys[] = { "arrival", "attempts", "next", "smtputf8",
						"8bitmime" };
	struct { const char *key; char **field; } strs[] = {
		{ "id", &qf->id }, { "sender", &qf->sender }, { "ret", &qf->ret },
		{ "envid", &qf->envid }, { "helo", &qf->helo }, { "client", &qf->client },
		{ "auth", &qf->auth }, { "proto", &qf->proto }, { "sid", &qf->sid },
	};

	if (value == NULL)
		return -1;
	*value++ = '\0';
	if (strcmp(line, "rcpt") == 0)
		return queue_file_parse_rcpt(qf, value);
	if (strcmp(line, "done") == 0)
		return queue_file_parse_done(qf, value);
	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		if (strcmp(line, int_keys[i]) == 0)
			return queue_file_parse_int(p, line, value);
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(line, strs[i].key) == 0)
			return queue_file_set_str(strs[i].field, value);
	}
	return -1;
}

static int queue_file_parser_fail(struct queue_file_parser *p, const char *error)
{
	p->state = QFP_ERROR;
	p->error = error;
	return -1;
}

/* The envelope is over: check what it must hold. */
static int queue_file_header_end(struct queue_file_parser *p)
{
	const struct queue_file *qf = p->qf;

	if (qf->id == NULL || !p->have_arrival || qf->sender == NULL)
		return queue_file_parser_fail(p, "envelope lacks id, arrival or sender");
	if (qf->nrcpts == 0)
		return queue_file_parser_fail(p, "envelope has no recipient");
	if (strspn(qf->id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(qf->id) ||
	    strlen(qf->id) < 8 || strlen(qf->id) > 32)
		return queue_file_parser_fail(p, "bad queue id");
	p->qf->msg_offset = p->offset;
	p->state = p->header_only ? QFP_DONE : QFP_BODY;
	return p->header_only ? 1 : 0;
}

static int queue_file_line_done(struct queue_file_parser *p)
{
	char *line = p->line.data;

	if (memchr(line, '\0', p->line.len) != NULL || memchr(line, '\r', p->line.len) != NULL)
		return queue_file_parser_fail(p, "control byte in the envelope");
	if (p->state == QFP_MAGIC) {
		if (strcmp(line, QUEUE_FILE_MAGIC) != 0)
			return queue_file_parser_fail(p, "not a queue file (bad magic line)");
		p->state = QFP_HEADER;
	} else if (p->line.len == 0) {
		buf_reset(&p->line);
		return queue_file_header_end(p);
	} else if (queue_file_parse_line(p, line) < 0) {
		return queue_file_parser_fail(p, "malformed envelope line");
	}
	buf_reset(&p->line);
	return 0;
}

static void queue_file_tail_add(struct queue_file_parser *p, const char *data, size_t len)
{
	if (len >= QUEUE_FILE_TAIL_MAX) {
		memcpy(p->tail, data + len - QUEUE_FILE_TAIL_MAX, QUEUE_FILE_TAIL_MAX);
		p->tail_len = QUEUE_FILE_TAIL_MAX;
		return;
	}
	if (p->tail_len + len > QUEUE_FILE_TAIL_MAX) {
		size_t drop = p->tail_len + len - QUEUE_FILE_TAIL_MAX;

		memmove(p->tail, p->tail + drop, p->tail_len - drop);
		p->tail_len -= drop;
	}
	memcpy(p->tail + p->tail_len, data, len);
	p->tail_len += len;
}

struct queue_file_parser *queue_file_parser_new(struct queue_file *qf, bool header_only)
{
	struct queue_file_parser *p = xcalloc(1, sizeof(*p));

	p->qf = qf;
	p->header_only = header_only;
	buf_init(&p->line, QUEUE_FILE_LINE_MAX);
	return p;
}

int queue_file_parser_feed(struct queue_file_parser *p, const void *data, size_t len)
{
	const char *d = data;

	while (len > 0) {
		if (p->state == QFP_ERROR)
			return -1;
		if (p->state == QFP_DONE)
			return 1;
		if (p->state == QFP_BODY) {
			queue_file_tail_add(p, d, len);
			p->body_len += len;
			p->offset += len;
			return 0;
		}
		const char *nl = memchr(d, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - d) : len;

		if (buf_append(&p->line, d, n) < 0 || p->offset + n >= QUEUE_FILE_HEADER_MAX)
			return queue_file_parser_fail(p, "envelope line or block too long");
		p->offset += n;
		d += n;
		len -= n;
		if (nl != NULL) {
			p->offset++;
			d++;
			len--;
			int ret = queue_file_line_done(p);
			if (ret != 0)
				return ret;
		}
	}
	return p->state == QFP_ERROR ? -1 : p->state == QFP_DONE ? 1 : 0;
}

/* The body ends with the trailer line; everything before it is message. */
static int queue_file_check_trailer(struct queue_file_parser *p)
{
	size_t tlen = strlen(QUEUE_FILE_TRAILER);
	size_t start;
	uint64_t size;
	char digits[QUEUE_FILE_TAIL_MAX];

	if (p->tail_len < tlen + 2 || p->tail[p->tail_len - 1] != '\n')
		return queue_file_parser_fail(p, "truncated: no trailer");
	start = p->tail_len - 1;
	while (start > 0 && p->tail[start - 1] != '\n')
		start--;
	if (p->tail_len - start < tlen + 2 || memcmp(p->tail + start, QUEUE_FILE_TRAILER, tlen) != 0)
		return queue_file_parser_fail(p, "truncated: no trailer");
	memcpy(digits, p->tail + start + tlen, p->tail_len - 1 - start - tlen);
	digits[p->tail_len - 1 - start - tlen] = '\0';
	if (queue_file_number(digits, UINT64_MAX, &size) < 0 ||
	    size != p->body_len - (p->tail_len - start))
		return queue_file_parser_fail(p, "truncated: size does not match the trailer");
	if (start == 0 && p->body_len > p->tail_len)
		return queue_file_parser_fail(p, "trailer is not on a line of its own");
	p->qf->msg_size = size;
	return 0;
}

int queue_file_parser_finish(struct queue_file_parser **pp, const char **error_r)
{
	struct queue_file_parser *p = *pp;
	int ret = 0;

	*pp = NULL;
	if (p->state == QFP_BODY)
		ret = queue_file_check_trailer(p);
	else if (p->state == QFP_MAGIC || p->state == QFP_HEADER)
		ret = queue_file_parser_fail(p, "truncated envelope");
	if (p->state == QFP_ERROR) {
		*error_r = p->error;
		ret = -1;
	}
	buf_free(&p->line);
	free(p);
	return ret;
}

int queue_file_load(const char *path, struct queue_file *qf, bool header_only,
		    const char **error_r)
{
	struct queue_file_parser *p;
	char chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	p = queue_file_parser_new(qf, header_only);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (queue_file_parser_feed(p, chunk, (size_t)n) != 0)
			break;
	}
	if (n < 0) {
		const char *ignored;

		*error_r = strerror(errno);
		queue_file_parser_finish(&p, &ignored);
		close(fd);
		return -1;
	}
	close(fd);
	return queue_file_parser_finish(&p, error_r) < 0 ? -1 : 1;
}
