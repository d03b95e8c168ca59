/* Streaming a received message into the queue (see smtp-msg.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "buf.h"
#include "smtp-msg.h"
#include "xalloc.h"

/* The header section we hold back before writing it; a longer one is
 * written as it is, without the From:/Message-ID: work. */
#define SMTP_MSG_HEADER_MAX (256 * 1024)

struct smtp_msg {
	struct queue_msg *qm;
	uint64_t limit, size;
	enum smtp_msg_status status;
	bool in_body;
	bool add_ids, have_msgid, have_date;
	bool in_from;           /* the last header line was From: */
	bool in_masq;           /* ... was a field masquerading rewrites */
	bool masq_quoted;       /* inside a quoted string of that field */
	unsigned masq_comment;  /* depth of (comments) in it */
	char **masq;            /* masquerade domains */
	size_t nmasq;
	char *hostname;
	struct buf header;      /* Received: and the client's header lines */
	struct buf from;        /* unfolded From: value */
	struct buf partial;     /* BDAT: an unfinished header line */
	char prev;              /* BDAT: the byte before this chunk */
};

struct smtp_msg *smtp_msg_new(struct queue_msg *qm, uint64_t limit, const char *received,
			      bool add_ids, const char *hostname)
{
	struct smtp_msg *m = xcalloc(1, sizeof(*m));

	m->qm = qm;
	m->limit = limit;
	m->add_ids = add_ids;
	m->hostname = xstrdup(hostname);
	buf_init(&m->header, SMTP_MSG_HEADER_MAX + 8192);
	buf_init(&m->from, 8192);
	buf_init(&m->partial, SMTP_MSG_HEADER_MAX);
	buf_append_str(&m->header, received);
	buf_append_str(&m->header, "\r\n");
	return m;
}

void smtp_msg_masquerade(struct smtp_msg *m, const char *const *domains, size_t count)
{
	m->masq = xcalloc(count, sizeof(*m->masq));
	for (size_t i = 0; i < count; i++)
		m->masq[i] = xstrdup(domains[i]);
	m->nmasq = count;
}

static bool smtp_msg_domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

/* The masquerade domain that the domain host[0..len) is a subdomain of. */
static const char *smtp_msg_masq_match(const struct smtp_msg *m, const char *host, size_t len)
{
	char name[256];

	if (len >= sizeof(name))
		return NULL;
	for (size_t i = 0; i < m->nmasq; i++) {
		size_t dl = strlen(m->masq[i]);

		if (len > dl + 1 && host[len - dl - 1] == '.') {
			memcpy(name, host + len - dl, dl);
			name[dl] = '\0';
			if (addr_domain_equal(name, m->masq[i]))
				return m->masq[i];
		}
	}
	return NULL;
}

/* Append a line of a masqueraded field with its addresses rewritten. */
static void smtp_msg_masq_append(struct smtp_msg *m, const char *data, size_t len)
{
	size_t i = 0, start = 0;

	while (i < len) {
		size_t h = i + 1, e;
		const char *d;

		/* display names and comments are text, not addresses (RFC 5322 3.2.4, 3.2.2) */
		if (data[i] == '\\' && (m->masq_quoted || m->masq_comment > 0)) {
			i += 2;
			continue;
		}
		if (data[i] == '"' && m->masq_comment == 0)
			m->masq_quoted = !m->masq_quoted;
		else if (data[i] == '(' && !m->masq_quoted)
			m->masq_comment++;
		else if (data[i] == ')' && !m->masq_quoted && m->masq_comment > 0)
			m->masq_comment--;
		if (data[i] != '@' || m->masq_quoted || m->masq_comment > 0) {
			i++;
			continue;
		}
		for (e = h; e < len && smtp_msg_domain_char(data[e]); e++)
			;
		while (e > h && data[e - 1] == '.')
			e--;   /* a sentence's full stop is not part of the domain */
		d = smtp_msg_masq_match(m, data + h, e - h);
		if (d != NULL) {
			buf_append(&m->header, data + start, h - start);
			buf_append_str(&m->header, d);
			start = e;
		}
		i = e > h ? e : h;
	}
	buf_append(&m->header, data + start, len - start);
}

void smtp_msg_fail(struct smtp_msg *m, enum smtp_msg_status status)
{
	if (m->status == SMTP_MSG_OK)
		m->status = status;
}

static void smtp_msg_write(struct smtp_msg *m, const void *data, size_t len)
{
	if (m->status != SMTP_MSG_OK)
		return;
	if (m->size + len > m->limit) {
		m->status = SMTP_MSG_TOO_BIG;
		return;
	}
	m->size += len;
	if (queue_msg_write(m->qm, data, len) < 0)
		m->status = SMTP_MSG_IO;
}

static void smtp_msg_add_ids(struct smtp_msg *m)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	unsigned long long r = ((unsigned long long)rand() << 31) ^ (unsigned long long)rand();

	localtime_r(&now, &tm);
	if (!m->have_date && strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) > 0)
		buf_printf(&m->header, "Date: %s\r\n", date);
	if (!m->have_msgid)
		buf_printf(&m->header, "Message-ID: <%lld.%llx@%s>\r\n", (long long)now, r,
			   m->hostname);
}

/* The header section is complete: write it all. */
static void smtp_msg_end_header(struct smtp_msg *m)
{
	if (m->in_body)
		return;
	m->in_body = true;
	if (m->add_ids)
		smtp_msg_add_ids(m);
	smtp_msg_write(m, m->header.data, m->header.len);
	buf_free(&m->header);
}

static bool smtp_msg_is_field(const char *data, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && data[n] == ':' && strncasecmp(data, name, n) == 0;
}

/* A field line "Name: value" or a continuation is kept (true); anything
 * else ends the header section and is for the caller to write. */
static bool smtp_msg_header_line(struct smtp_msg *m, const char *data, size_t len)
{
	const char *colon = memchr(data, ':', len);
	bool cont = len > 0 && (data[0] == ' ' || data[0] == '\t');
	bool field = colon != NULL && colon > data && memchr(data, ' ', (size_t)(colon - data)) == NULL;

	if (len == 0 || (!cont && !field) || (cont && m->header.len == 0)) {
		smtp_msg_end_header(m);
		return false;
	}
	if (cont && m->in_from) {
		buf_append(&m->from, data, len);
	} else if (!cont) {
		m->in_from = smtp_msg_is_field(data, len, "From");
		m->in_masq = m->nmasq > 0 && (m->in_from || smtp_msg_is_field(data, len, "Sender") ||
					      smtp_msg_is_field(data, len, "Reply-To"));
		m->masq_quoted = false;
		m->masq_comment = 0;
		if (m->in_from) {
			buf_reset(&m->from);
			buf_append(&m->from, colon + 1, len - (size_t)(colon + 1 - data));
		}
		m->have_msgid |= smtp_msg_is_field(data, len, "Message-ID");
		m->have_date |= smtp_msg_is_field(data, len, "Date");
	}
	if (m->header.len + len + 2 > SMTP_MSG_HEADER_MAX) {
		/* too big to hold: write it as it is */
		smtp_msg_end_header(m);
		return false;
	}
	if (m->in_masq)
		smtp_msg_masq_append(m, data, len);
	else
		buf_append(&m->header, data, len);
	buf_append_str(&m->header, "\r\n");
	return true;
}

void smtp_msg_line(struct smtp_msg *m, const char *data, size_t len)
{
	if (!m->in_body && smtp_msg_header_line(m, data, len))
		return;
	smtp_msg_write(m, data, len);
	smtp_msg_write(m, "\r\n", 2);
}

/* A CR must be followed by LF and a LF preceded by CR, across chunks. */
static bool smtp_msg_bytes_clean(struct smtp_msg *m, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((m->prev == '\r') != (data[i] == '\n'))
			return false;
		m->prev = data[i];
	}
	return true;
}

void smtp_msg_bytes(struct smtp_msg *m, const char *data, size_t len)
{
	if (!smtp_msg_bytes_clean(m, data, len))
		smtp_msg_fail(m, SMTP_MSG_BARE_NL);
	while (!m->in_body && len > 0) {
		const char *lf = memchr(data, '\n', len);
		size_t n = lf != NULL ? (size_t)(lf - data) + 1 : len;

		if (buf_append(&m->partial, data, n) < 0) {
			smtp_msg_end_header(m);
			smtp_msg_write(m, m->partial.data, m->partial.len);
			buf_reset(&m->partial);
			break;
		}
		data += n;
		len -= n;
		if (lf == NULL)
			break;
		/* clean bytes: the line ends in CRLF */
		smtp_msg_line(m, m->partial.data, m->partial.len >= 2 ? m->partial.len - 2 : 0);
		buf_reset(&m->partial);
	}
	if (m->in_body && len > 0)
		smtp_msg_write(m, data, len);
}

enum smtp_msg_status smtp_msg_finish(struct smtp_msg *m)
{
	if (m->prev == '\r')
		smtp_msg_fail(m, SMTP_MSG_BARE_NL);
	smtp_msg_end_header(m);
	if (m->partial.len > 0) {
		/* BDAT data not ending in CRLF: RFC 3030 wants it whole, so end it */
		smtp_msg_write(m, m->partial.data, m->partial.len);
		smtp_msg_write(m, "\r\n", 2);
		buf_reset(&m->partial);
	}
	return m->status;
}

enum smtp_msg_status smtp_msg_status(const struct smtp_msg *m)
{
	return m->status;
}

const char *smtp_msg_from(const struct smtp_msg *m)
{
	return m->from.len > 0 ? buf_cstr(&m->from) : NULL;
}

static void smtp_msg_free(struct smtp_msg *m)
{
	buf_free(&m->header);
	buf_free(&m->from);
	buf_free(&m->partial);
	for (size_t i = 0; i < m->nmasq; i++)
		free(m->masq[i]);
	free(m->masq);
	free(m->hostname);
	free(m);
}

struct queue_msg *smtp_msg_release(struct smtp_msg *m)
{
	struct queue_msg *qm = m->qm;

	smtp_msg_free(m);
	return qm;
}

void smtp_msg_abort(struct smtp_msg *m)
{
	queue_msg_abort(m->qm);
	smtp_msg_free(m);
}

/* Skips quoted strings and comments roughly: enough to find addresses in
 * "Name <a@b>" and "a@b, c@d" forms. */
size_t smtp_msg_from_addrs(const char *value, char **addrs, size_t max)
{
	size_t n = 0;
	const char *p = value;

	while (*p != '\0' && n < max) {
		const char *start, *end;
		bool quoted = false;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		for (end = p; *end != '\0' && (quoted || *end != ','); end++)
			if (*end == '"')
				quoted = !quoted;
		const char *lt = memchr(start, '<', (size_t)(end - start));
		const char *gt = lt != NULL ? memchr(lt, '>', (size_t)(end - lt)) : NULL;

		if (lt != NULL && gt != NULL) {
			addrs[n++] = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		} else {
			const char *e = end;

			while (e > start && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			addrs[n++] = xstrndup(start, (size_t)(e - start));
		}
		p = end;
	}
	return n;
}
