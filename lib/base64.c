#include <stdbool.h>
#include <stdint.h>

#include "base64.h"
#include "buf.h"

static const char base64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t start = out->len;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		char quad[4];

		if (n > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (n > 2)
			v |= p[i + 2];
		quad[0] = base64_chars[(v >> 18) & 63];
		quad[1] = base64_chars[(v >> 12) & 63];
		quad[2] = n > 1 ? base64_chars[(v >> 6) & 63] : '=';
		quad[3] = n > 2 ? base64_chars[v & 63] : '=';
		if (buf_append(out, quad, 4) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 0;
}

int base64_char_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of four characters; the last group may hold padding. */
static int base64_quad(const char *q, bool last, unsigned char bytes[3], size_t *n_r)
{
	int v[4];
	size_t pad = 0;

	if (q[3] == '=') {
		pad = q[2] == '=' ? 2 : 1;
		if (!last)
			return -1;
	}
	for (size_t i = 0; i < 4 - pad; i++) {
		if ((v[i] = base64_char_value(q[i])) < 0)
			return -1;
	}
	for (size_t i = 4 - pad; i < 4; i++)
		v[i] = 0;
	/* Non-canonical encodings (stray low bits before the padding). */
	if ((pad == 2 && (v[1] & 15) != 0) || (pad == 1 && (v[2] & 3) != 0))
		return -1;
	bytes[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	bytes[1] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
	bytes[2] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	*n_r = 3 - pad;
	return 0;
}

int base64_decode(struct buf *out, const char *in, size_t len)
{
	size_t start = out->len;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		unsigned char bytes[3];
		size_t n;

		if (base64_quad(in + i, i + 4 == len, bytes, &n) < 0 ||
		    buf_append(out, bytes, n) < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 0;
}
