#include <string.h>

#include "buf.h"
#include "imap-utf7.h"

static const char utf7_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int utf7_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(utf7_alphabet, c);
	return p == NULL ? -1 : (int)(p - utf7_alphabet);
}

int imap_utf8_decode_one(const char *s, size_t len, unsigned *cp_r)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned cp, min;
	int n;

	if (len == 0)
		return -1;
	if (u[0] < 0x80) {
		*cp_r = u[0];
		return 1;
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		n = 2, cp = u[0] & 0x1f, min = 0x80;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		n = 3, cp = u[0] & 0x0f, min = 0x800;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		n = 4, cp = u[0] & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (len < (size_t)n)
		return -1;
	for (int i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (u[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return n;
}

int imap_utf8_validate(const char *s, size_t len)
{
	unsigned cp;
	size_t i = 0;

	while (i < len) {
		int n = imap_utf8_decode_one(s + i, len - i, &cp);

		if (n < 0)
			return -1;
		i += (size_t)n;
	}
	return 0;
}

static int utf8_put(struct buf *dest, unsigned cp)
{
	char out[4];
	size_t n;

	if (cp < 0x80) {
		out[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6)), n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12)), n = 3;
	} else {
		out[0] = (char)(0xf0 | (cp >> 18)), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		out[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return buf_append(dest, out, n);
}

/* Decode one "&...-" run starting after the '&'; *pos ends after the '-'. */
static int utf7_decode_run(const char *src, size_t *pos, struct buf *dest,
			   const char **error_r)
{
	unsigned bits = 0, nbits = 0, high = 0;
	size_t i = *pos;
	int v;

	for (; (v = utf7_value(src[i])) >= 0; i++) {
		bits = ((bits << 6) | (unsigned)v) & 0x3fffff;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		unsigned unit = (bits >> nbits) & 0xffff;

		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return *error_r = "mUTF-7: lone high surrogate", -1;
			unit = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
			continue;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return *error_r = "mUTF-7: lone low surrogate", -1;
		} else if (unit == 0) {
			return *error_r = "mUTF-7: NUL character", -1;
		} else if (unit >= 0x20 && unit <= 0x7e) {
			return *error_r = "mUTF-7: printable ASCII must not be encoded", -1;
		}
		if (utf8_put(dest, unit) < 0)
			return *error_r = "mUTF-7: name too long", -1;
	}
	if (src[i] != '-')
		return *error_r = "mUTF-7: unterminated or invalid BASE64 run", -1;
	if (i == *pos)
		return *error_r = "mUTF-7: empty BASE64 run", -1;
	if (high != 0)
		return *error_r = "mUTF-7: lone high surrogate", -1;
	if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
		return *error_r = "mUTF-7: bad BASE64 padding", -1;
	*pos = i + 1;
	return 0;
}

int imap_utf7_to_utf8(const char *src, struct buf *dest, const char **error_r)
{
	size_t i = 0;

	while (src[i] != '\0') {
		unsigned char c = (unsigned char)src[i];

		if (c < 0x20 || c > 0x7e)
			return *error_r = "mUTF-7: byte outside printable ASCII", -1;
		if (c != '&') {
			if (buf_append_char(dest, (char)c) < 0)
				return *error_r = "mUTF-7: name too long", -1;
			i++;
			continue;
		}
		if (src[i + 1] == '-') {
			if (buf_append_char(dest, '&') < 0)
				return *error_r = "mUTF-7: name too long", -1;
			i += 2;
			continue;
		}
		i++;
		if (utf7_decode_run(src, &i, dest, error_r) < 0)
			return -1;
		/* An encoder joins neighbouring runs into one. */
		if (src[i] == '&' && src[i + 1] != '-')
			return *error_r = "mUTF-7: adjacent BASE64 runs", -1;
	}
	return 0;
}

bool imap_utf7_is_valid(const char *src)
{
	struct buf tmp;
	const char *error;
	int ret;

	buf_init(&tmp, BUF_NO_LIMIT);
	ret = imap_utf7_to_utf8(src, &tmp, &error);
	buf_free(&tmp);
	return ret == 0;
}

static int utf7_put_sextets(struct buf *dest, unsigned *bits, unsigned *nbits)
{
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_append_char(dest, utf7_alphabet[(*bits >> *nbits) & 0x3f]) < 0)
			return -1;
	}
	return 0;
}

/* Encode the non-printable run src[*pos..] up to the next printable
 * ASCII byte as one "&...-" run. */
static int utf7_encode_run(const char *src, size_t *pos, struct buf *dest,
			   const char **error_r)
{
	size_t len = strlen(src), i = *pos;
	unsigned bits = 0, nbits = 0, cp;

	if (buf_append_char(dest, '&') < 0)
		return *error_r = "mUTF-7: name too long", -1;
	while (i < len && !((unsigned char)src[i] >= 0x20 && (unsigned char)src[i] <= 0x7e)) {
		int n = imap_utf8_decode_one(src + i, len - i, &cp);
		unsigned units[2], count = 1;

		if (n < 0)
			return *error_r = "invalid UTF-8", -1;
		i += (size_t)n;
		units[0] = cp;
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			count = 2;
		}
		for (unsigned u = 0; u < count; u++) {
			bits = ((bits << 16) | units[u]) & 0x3fffff;
			nbits += 16;
			if (utf7_put_sextets(dest, &bits, &nbits) < 0)
				return *error_r = "mUTF-7: name too long", -1;
		}
	}
	if (nbits > 0 && buf_append_char(dest, utf7_alphabet[(bits << (6 - nbits)) & 0x3f]) < 0)
		return *error_r = "mUTF-7: name too long", -1;
	if (buf_append_char(dest, '-') < 0)
		return *error_r = "mUTF-7: name too long", -1;
	*pos = i;
	return 0;
}

int imap_utf8_to_utf7(const char *src, struct buf *dest, const char **error_r)
{
	size_t i = 0;

	while (src[i] != '\0') {
		unsigned char c = (unsigned char)src[i];
		int ret;

		if (c >= 0x20 && c <= 0x7e) {
			ret = c == '&' ? buf_append_str(dest, "&-") : buf_append_char(dest, (char)c);
			if (ret < 0)
				return *error_r = "mUTF-7: name too long", -1;
			i++;
			continue;
		}
		if (utf7_encode_run(src, &i, dest, error_r) < 0)
			return -1;
	}
	return 0;
}
