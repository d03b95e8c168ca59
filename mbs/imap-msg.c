#include <string.h>

#include "imap-msg-private.h"

void imap_msg_clear(struct imap_msg *m)
{
	mime_part_free(&m->mime);
}

const char *imap_msg_data(const struct imap_msg *m, size_t *len_r)
{
	if (m->data == NULL) {
		*len_r = 0;
		return "";
	}
	*len_r = m->len;
	return m->data;
}

const struct mime_part *imap_msg_mime(struct imap_msg *m)
{
	size_t len;
	const char *data = imap_msg_data(m, &len);

	if (m->mime == NULL)
		m->mime = mime_parse(data, len, NULL);
	return m->mime;
}

size_t imap_msg_header_size(const struct imap_msg *m)
{
	size_t len;
	const char *data = imap_msg_data(m, &len), *p = data, *end = data + len;

	if (m->mime != NULL)
		return (size_t)m->mime->header.size;
	/* The first empty line, LF or CRLF ended, as lib/mime.c finds it. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		if (nl == p || (nl == p + 1 && *p == '\r'))
			return (size_t)(nl + 1 - data);
		p = nl + 1;
	}
	return len;
}

uint64_t imap_vsize(const char *data, size_t len)
{
	uint64_t vsize = len;
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		if (nl == data || nl[-1] != '\r')
			vsize++;
		p = nl + 1;
	}
	return vsize;
}

bool imap_msg_vsize_known(const struct mbox_msg *msg)
{
	return msg->vsize != 0 || msg->size == 0;
}

uint64_t imap_msg_vsize(const struct imap_msg *m)
{
	if (m->data != NULL)
		return imap_vsize(m->data, m->len);
	return imap_msg_vsize_known(m->msg) ? m->msg->vsize : m->msg->size;
}
