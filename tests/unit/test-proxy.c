#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "test.h"
#include "xalloc.h"

static const char client_bytes[] = "EHLO client.example\r\n";

/* Parse a copy of exactly len bytes, so ASan sees any read past them. */
static enum proxy_result parse_exact(const void *data, size_t len, struct proxy_info *info,
				     size_t *consumed, const char **error)
{
	void *copy = xmalloc(len == 0 ? 1 : len);
	enum proxy_result r;

	memcpy(copy, data, len);
	*error = NULL;
	r = proxy_parse(copy, len, info, consumed, error);
	CHECK(proxy_maybe_header(copy, len) == (r != PROXY_ERROR));
	free(copy);
	return r;
}

/* A good header: every prefix needs more, the whole is DONE, and client
 * bytes after it are left alone. */
static void expect_good(const void *hdr, size_t len, struct proxy_info *info)
{
	unsigned char buf[PROXY_V1_MAX + 1024];
	const char *error;
	size_t consumed;

	CHECK(len + sizeof(client_bytes) <= sizeof(buf));
	for (size_t i = 0; i < len; i++) {
		enum proxy_result r = parse_exact(hdr, i, info, &consumed, &error);

		if (r != PROXY_NEED_MORE)
			printf("# prefix of %zu bytes: %d %s\n", i, r, error ? error : "");
		CHECK_INT(r, PROXY_NEED_MORE);
	}
	memcpy(buf, hdr, len);
	memcpy(buf + len, client_bytes, sizeof(client_bytes) - 1);
	for (size_t extra = 0; extra < sizeof(client_bytes); extra += 7) {
		CHECK_INT(parse_exact(buf, len + extra, info, &consumed, &error), PROXY_DONE);
		CHECK_INT(consumed, len);
	}
	CHECK_INT(parse_exact(hdr, len, info, &consumed, &error), PROXY_DONE);
	CHECK(error == NULL);
}

/* A bad header: prefixes need more or fail, once failed they stay failed,
 * and the whole fails with a reason. */
static void expect_bad(const char *name, const void *hdr, size_t len)
{
	struct proxy_info info;
	const char *error;
	size_t consumed;
	bool failed = false;

	for (size_t i = 0; i <= len; i++) {
		enum proxy_result r = parse_exact(hdr, i, &info, &consumed, &error);

		CHECK(r != PROXY_DONE);
		if (failed)
			CHECK_INT(r, PROXY_ERROR);
		failed = r == PROXY_ERROR;
	}
	if (!failed || error == NULL)
		printf("# %s was not refused\n", name);
	CHECK(failed);
	CHECK(error != NULL && *error != '\0');
}

static void expect_bad_str(const char *hdr)
{
	expect_bad(hdr, hdr, strlen(hdr));
}

static void check_addr(const struct netaddr *a, const char *addr, unsigned port)
{
	char out[NETADDR_STRLEN];

	CHECK_STR(netaddr_str(a, out), addr);
	CHECK_INT(a->port, port);
}

static void test_proxy_v1_good(void)
{
	const char *tcp4 = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\r\n";
	const char *tcp6 = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
	const char *longest6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	const char *unknown_max = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct proxy_info info;

	expect_good(tcp4, strlen(tcp4), &info);
	CHECK_INT(info.version, 1);
	CHECK(info.has_addr);
	check_addr(&info.src, "192.0.2.1", 56324);
	check_addr(&info.dst, "198.51.100.2", 25);

	expect_good(tcp6, strlen(tcp6), &info);
	CHECK(info.has_addr);
	CHECK_INT(info.src.family, AF_INET6);
	check_addr(&info.src, "2001:db8::1", 65535);
	check_addr(&info.dst, "2001:db8::2", 0);

	CHECK_INT(strlen(longest6), 104);
	expect_good(longest6, strlen(longest6), &info);
	CHECK(info.has_addr);

	expect_good("PROXY UNKNOWN\r\n", 15, &info);
	CHECK_INT(info.version, 1);
	CHECK(!info.has_addr);
	CHECK_INT(strlen(unknown_max), PROXY_V1_MAX);
	expect_good(unknown_max, PROXY_V1_MAX, &info);
	CHECK(!info.has_addr);
}

static void test_proxy_v1_bad(void)
{
	char line[200];

	expect_bad_str("GET / HTTP/1.0\r\n");
	expect_bad_str("PROXY\r\n");
	expect_bad_str("proxy TCP4 192.0.2.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\rx\r\n");
	expect_bad_str("PROXY  TCP4 192.0.2.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP4  192.0.2.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25 \r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 56324 25 26\r\n");
	expect_bad_str("PROXY TCP4\r\n");
	expect_bad_str("PROXY \r\n");
	expect_bad_str("PROXY TCP5 192.0.2.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY tcp4 192.0.2.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY UNKNOWNX\r\n");
	expect_bad_str("PROXY TCP4 2001:db8::1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP6 2001:db8::1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP6 192.0.2.1 2001:db8::2 56324 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.256 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.02.1 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2 198.51.100.2 56324 25\r\n");
	expect_bad_str("PROXY TCP6 2001:db8:::1 2001:db8::2 1 2\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 65536 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 -1 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 +25 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 025 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 0x19 25\r\n");
	expect_bad_str("PROXY TCP4 192.0.2.1 198.51.100.2 25 100000\r\n");
	expect_bad("NUL in address", "PROXY TCP4 192.0.2.1\0 198.51.100.2 1 2\r\n", 40);
	/* No CRLF within 107 bytes: refused, even with nothing else wrong. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %0*d\r\n", 92, 0);
	CHECK_INT(strlen(line), PROXY_V1_MAX + 1);
	expect_bad("108-byte line", line, strlen(line));
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY ", 6);
	expect_bad("no CRLF", line, sizeof(line));
}

/* A v2 header: signature, version/command, family, length, body. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body, size_t len)
{
	static const uint8_t sig[12] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
	};

	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	memcpy(out + 16, body, len);
	return 16 + len;
}

static size_t tlv(uint8_t *out, uint8_t type, const void *value, size_t len)
{
	out[0] = type;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	memcpy(out + 3, value, len);
	return 3 + len;
}

static const uint8_t inet_block[12] = {
	192, 0, 2, 1, 198, 51, 100, 2, 0xdc, 0x04, 0x00, 0x19,
};

static const char long_authority[] =
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static void test_proxy_v2_good(void)
{
	static const uint8_t ssl_on[] = { 0x01, 0, 0, 0, 0, 0x21, 0, 3, 'T', 'L', 'S' };
	static const uint8_t ssl_off[] = { 0x00, 0, 0, 0, 1 };
	uint8_t body[600], hdr[700];
	struct proxy_info info;
	size_t n;

	/* INET with authority, SSL (with a sub-TLV), NOOP and an unknown TLV. */
	memcpy(body, inet_block, 12);
	n = 12;
	n += tlv(body + n, 0x04, "", 0);
	n += tlv(body + n, 0x02, "mail.example.com", 16);
	n += tlv(body + n, 0x20, ssl_on, sizeof(ssl_on));
	n += tlv(body + n, 0xe0, "custom", 6);
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_good(hdr, n, &info);
	CHECK_INT(info.version, 2);
	CHECK(info.has_addr);
	check_addr(&info.src, "192.0.2.1", 56324);
	check_addr(&info.dst, "198.51.100.2", 25);
	CHECK_STR(info.authority, "mail.example.com");
	CHECK(info.ssl);

	/* INET6, SSL TLV without the client-SSL bit. */
	memset(body, 0, 36);
	body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = 0xb8, body[15] = 1;
	body[16] = 0x20, body[17] = 0x01, body[18] = 0x0d, body[19] = 0xb8, body[31] = 2;
	body[32] = 0x01, body[33] = 0xbb, body[34] = 0x03, body[35] = 0xe1;
	n = 36 + tlv(body + 36, 0x20, ssl_off, sizeof(ssl_off));
	n = v2(hdr, 0x21, 0x21, body, n);
	expect_good(hdr, n, &info);
	CHECK(info.has_addr);
	check_addr(&info.src, "2001:db8::1", 443);
	check_addr(&info.dst, "2001:db8::2", 993);
	CHECK(!info.ssl);
	CHECK_STR(info.authority, "");

	/* LOCAL (health check): no address, even with a block to skip. */
	n = v2(hdr, 0x20, 0x00, "", 0);
	expect_good(hdr, n, &info);
	CHECK(!info.has_addr);
	n = v2(hdr, 0x20, 0x11, inet_block, 12);
	expect_good(hdr, n, &info);
	CHECK(!info.has_addr);
	CHECK_INT(info.version, 2);

	/* PROXY with UNSPEC: addresses ignored. */
	n = v2(hdr, 0x21, 0x00, "\x01\x02\x03\x04\x05", 5);
	expect_good(hdr, n, &info);
	CHECK(!info.has_addr);

	/* UNIX: no network address, TLVs still read. */
	memset(body, 'u', 216);
	n = 216 + tlv(body + 216, 0x02, "imap.example.net", 16);
	n = v2(hdr, 0x21, 0x31, body, n);
	expect_good(hdr, n, &info);
	CHECK(!info.has_addr);
	CHECK_STR(info.authority, "imap.example.net");

	/* Longest authority that fits. */
	memcpy(body, inet_block, 12);
	n = 12 + tlv(body + 12, 0x02, long_authority, 255);
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_good(hdr, n, &info);
	CHECK_INT(strlen(info.authority), 255);
}

/* Bad fixed fields, each on an INET address block of len bytes. */
static const struct {
	const char *name;
	uint8_t ver_cmd, fam;
	size_t len;
} bad_fixed[] = {
	{ "version 1", 0x11, 0x11, 12 },
	{ "version 3", 0x31, 0x11, 12 },
	{ "command 2", 0x22, 0x11, 12 },
	{ "command 15", 0x2f, 0x11, 12 },
	{ "family 4", 0x21, 0x41, 12 },
	{ "transport 3", 0x21, 0x13, 12 },
	{ "UDP", 0x21, 0x12, 12 },
	{ "INET with UNSPEC transport", 0x21, 0x10, 12 },
	{ "INET length 11", 0x21, 0x11, 11 },
	{ "INET6 length 12", 0x21, 0x21, 12 },
};

static void test_proxy_v2_bad(void)
{
	uint8_t body[600], hdr[700];
	size_t n;

	n = v2(hdr, 0x21, 0x11, inet_block, 12);
	hdr[4] = 0x01;
	expect_bad("bad signature", hdr, n);
	expect_bad("v2 signature prefix", "\r\n\r\nx", 5);

	for (size_t i = 0; i < sizeof(bad_fixed) / sizeof(bad_fixed[0]); i++) {
		n = v2(hdr, bad_fixed[i].ver_cmd, bad_fixed[i].fam, inet_block, bad_fixed[i].len);
		expect_bad(bad_fixed[i].name, hdr, n);
	}
	memset(body, 0, sizeof(body));
	n = v2(hdr, 0x21, 0x31, body, 215);
	expect_bad("UNIX length 215", hdr, n);

	memcpy(body, inet_block, 12);
	memcpy(body + 12, "\x02\x00", 2);
	n = v2(hdr, 0x21, 0x11, body, 14);
	expect_bad("TLV header cut", hdr, n);
	n = 12 + tlv(body + 12, 0x02, "mail.", 5);
	body[12 + 2] = 6;
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_bad("TLV value past the end", hdr, n);
	n = 12 + tlv(body + 12, 0xe1, "x", 1);
	n += tlv(body + n, 0x02, "host", 4) - 1;
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_bad("second TLV cut", hdr, n);

	n = 12 + tlv(body + 12, 0x02, long_authority, 256);
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_bad("authority of 256 bytes", hdr, n);
	n = 12 + tlv(body + 12, 0x02, "mail\0evil", 9);
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_bad("authority with NUL", hdr, n);
	n = 12 + tlv(body + 12, 0x20, "\x01\x00\x00\x00", 4);
	n = v2(hdr, 0x21, 0x11, body, n);
	expect_bad("SSL TLV of 4 bytes", hdr, n);
}

/* Junk is refused as soon as it cannot be a header, not at full length. */
static void test_proxy_early_reject(void)
{
	uint8_t hdr[64];
	struct proxy_info info;
	const char *error;
	size_t consumed;

	CHECK(proxy_maybe_header("", 0));
	CHECK(proxy_maybe_header("PRO", 3));
	CHECK(proxy_maybe_header("\r\n\r\n\0", 5));
	CHECK(!proxy_maybe_header("EHLO", 4));
	CHECK(!proxy_maybe_header("PROXZ", 5));
	CHECK(!proxy_maybe_header("\x16\x03\x01", 3));
	CHECK_INT(proxy_parse("", 0, &info, &consumed, &error), PROXY_NEED_MORE);

	/* Wrong version is known at byte 13 of a 28-byte header. */
	v2(hdr, 0x11, 0x11, inet_block, 12);
	CHECK(!proxy_maybe_header(hdr, 13));
	/* An INET header that announces too few address bytes, at byte 16. */
	v2(hdr, 0x21, 0x11, inet_block, 4);
	CHECK(proxy_maybe_header(hdr, 15));
	CHECK(!proxy_maybe_header(hdr, 16));
	CHECK_INT(proxy_parse(hdr, 16, &info, &consumed, &error), PROXY_ERROR);
	CHECK(strstr(error, "length") != NULL);
}

int main(void)
{
	test_run("proxy v1 good headers", test_proxy_v1_good);
	test_run("proxy v1 malformed", test_proxy_v1_bad);
	test_run("proxy v2 good headers", test_proxy_v2_good);
	test_run("proxy v2 malformed", test_proxy_v2_bad);
	test_run("proxy early rejection", test_proxy_early_reject);
	return test_done();
}
