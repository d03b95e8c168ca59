#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "test.h"

/* RFC 4648 section 10 vectors, and SASL PLAIN's NUL-separated form. */
static const struct {
	const char *plain;
	size_t len;
	const char *enc;
} vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg==" },
	{ "fo", 2, "Zm8=" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg==" },
	{ "fooba", 5, "Zm9vYmE=" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\0demo@example.test\0demo", 23, "AGRlbW9AZXhhbXBsZS50ZXN0AGRlbW8=" },
	{ "\xff\xfe\xfd", 3, "//79" },
};

static void test_base64_vectors(void)
{
	struct buf b;

	buf_init(&b, 1024);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		buf_reset(&b);
		CHECK_INT(base64_encode(&b, vectors[i].plain, vectors[i].len), 0);
		CHECK_STR(buf_cstr(&b), vectors[i].enc);
		buf_reset(&b);
		CHECK_INT(base64_decode(&b, vectors[i].enc, strlen(vectors[i].enc)), 0);
		CHECK_MEM(b.data != NULL ? b.data : "", b.len, vectors[i].plain, vectors[i].len);
	}
	buf_free(&b);
}

static void test_base64_malformed(void)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm 9v",
		"Zm9v!A==", "Zh==", "Zm9=", "Zm-_", "=Zm9", "Zg=a",
	};
	struct buf b;

	buf_init(&b, 1024);
	buf_append_str(&b, "keep");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (base64_decode(&b, bad[i], strlen(bad[i])) != -1)
			printf("# accepted \"%s\"\n", bad[i]);
		CHECK_INT(base64_decode(&b, bad[i], strlen(bad[i])), -1);
		/* A failed decode leaves what was there. */
		CHECK_STR(buf_cstr(&b), "keep");
	}
	buf_free(&b);
}

static void test_base64_limit(void)
{
	struct buf b;

	buf_init(&b, 5);
	CHECK_INT(base64_encode(&b, "foobar", 6), -1);
	CHECK_INT(b.len, 0);
	CHECK_INT(base64_decode(&b, "Zm9vYmFy", 8), -1);
	CHECK_INT(b.len, 0);
	CHECK_INT(base64_decode(&b, "Zm9vYg==", 8), 0);
	CHECK_STR(buf_cstr(&b), "foob");
	buf_free(&b);
}

/* Every length of a byte pattern round-trips. */
static void test_base64_roundtrip(void)
{
	unsigned char data[64];
	struct buf enc, dec;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	buf_init(&enc, 1024);
	buf_init(&dec, 1024);
	for (size_t n = 0; n <= sizeof(data); n++) {
		buf_reset(&enc);
		buf_reset(&dec);
		CHECK_INT(base64_encode(&enc, data, n), 0);
		CHECK_INT(enc.len, (n + 2) / 3 * 4);
		CHECK_INT(base64_decode(&dec, enc.data != NULL ? enc.data : "", enc.len), 0);
		CHECK_MEM(dec.data != NULL ? dec.data : "", dec.len, data, n);
	}
	buf_free(&enc);
	buf_free(&dec);
}

int main(void)
{
	test_run("base64 RFC 4648 vectors", test_base64_vectors);
	test_run("base64 malformed input", test_base64_malformed);
	test_run("base64 buffer limit", test_base64_limit);
	test_run("base64 round trip", test_base64_roundtrip);
	return test_done();
}
