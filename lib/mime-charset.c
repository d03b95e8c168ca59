#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime-charset.h"

#define MIME_REPLACEMENT "\xEF\xBF\xBD"

/* Windows-1252 0x80..0x9F; 0 where the code page leaves a hole. */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

static int mime_put_utf8(struct buf *out, uint32_t cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		s[0] = (char)(0xF0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		s[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(out, s, n);
}

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static size_t mime_utf8_seq(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

bool mime_utf8_valid(const void *data, size_t len)
{
	const unsigned char *s = data;

	for (size_t i = 0; i < len;) {
		size_t n = mime_utf8_seq(s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* UTF-8 with every invalid byte replaced; valid runs are appended whole. */
static int mime_utf8_copy(const unsigned char *s, size_t len, struct buf *out)
{
	size_t run = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t n = s[i] < 0x80 ? 1 : mime_utf8_seq(s + i, len - i);

		if (n > 0) {
			i += n;
			continue;
		}
		if (buf_append(out, s + run, i - run) < 0 ||
		    buf_append_str(out, MIME_REPLACEMENT) < 0)
			return -1;
		run = ++i;
	}
	return buf_append(out, s + run, len - run);
}

enum mime_single_byte { MIME_LATIN1, MIME_LATIN9, MIME_CP1252 };

static uint32_t mime_single_byte_cp(enum mime_single_byte cs, unsigned char c)
{
	if (cs == MIME_CP1252 && c >= 0x80 && c < 0xA0)
		return cp1252_high[c - 0x80] != 0 ? cp1252_high[c - 0x80] : 0xFFFD;
	if (cs == MIME_LATIN9) {
		switch (c) {
		case 0xA4: return 0x20AC;
		case 0xA6: return 0x0160;
		case 0xA8: return 0x0161;
		case 0xB4: return 0x017D;
		case 0xB8: return 0x017E;
		case 0xBC: return 0x0152;
		case 0xBD: return 0x0153;
		case 0xBE: return 0x0178;
		default: break;
		}
	}
	return c;
}

static int mime_single_byte_copy(enum mime_single_byte cs, const unsigned char *s, size_t len,
				 struct buf *out)
{
	struct buf tmp;

	/* Gathered in a small buffer, appended a block at a time. */
	buf_init(&tmp, BUF_NO_LIMIT);
	for (size_t i = 0; i < len; i++) {
		mime_put_utf8(&tmp, mime_single_byte_cp(cs, s[i]));
		if (tmp.len >= 4096 || i + 1 == len) {
			if (buf_append(out, tmp.data, tmp.len) < 0) {
				buf_free(&tmp);
				return -1;
			}
			buf_reset(&tmp);
		}
	}
	buf_free(&tmp);
	return 0;
}

/* glibc's iconv, replacing what it cannot convert one byte at a time. */
static int mime_iconv_copy(iconv_t cd, const char *s, size_t len, struct buf *out)
{
	char tmp[1024];
	char *in = (char *)s;
	size_t left = len;

	while (left > 0) {
		char *o = tmp;
		size_t room = sizeof(tmp);
		size_t r = iconv(cd, &in, &left, &o, &room);

		if (buf_append(out, tmp, (size_t)(o - tmp)) < 0)
			return -1;
		if (r == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL (a cut sequence): skip one byte. */
			if (buf_append_str(out, MIME_REPLACEMENT) < 0)
				return -1;
			in++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	return 0;
}

int mime_charset_to_utf8(const char *charset, const void *in, size_t len, struct buf *out)
{
	const unsigned char *s = in;
	iconv_t cd;
	int ret;

	if (charset == NULL || strcasecmp(charset, "utf-8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0 || strcasecmp(charset, "utf8") == 0)
		return mime_utf8_copy(s, len, out);
	if (strcasecmp(charset, "iso-8859-1") == 0 || strcasecmp(charset, "latin1") == 0)
		return mime_single_byte_copy(MIME_LATIN1, s, len, out);
	if (strcasecmp(charset, "iso-8859-15") == 0)
		return mime_single_byte_copy(MIME_LATIN9, s, len, out);
	if (strcasecmp(charset, "windows-1252") == 0 || strcasecmp(charset, "cp1252") == 0)
		return mime_single_byte_copy(MIME_CP1252, s, len, out);
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		if (mime_utf8_valid(s, len))
			return buf_append(out, s, len);
		return mime_single_byte_copy(MIME_LATIN1, s, len, out);
	}
	ret = mime_iconv_copy(cd, (const char *)s, len, out);
	iconv_close(cd);
	return ret;
}
