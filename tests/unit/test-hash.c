#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "test.h"

/* Reference vectors from the SipHash paper (key 00..0f, message 00..n-1). */
static void test_siphash_vectors(void)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	CHECK(hash_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(hash_siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
	CHECK(hash_siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
	CHECK(hash_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	CHECK(hash_siphash24(key, msg, 63) == 0x958a324ceb064572ULL);
}

static void test_hash_keyed(void)
{
	CHECK(hash_str("user@example.com") == hash_str("user@example.com"));
	CHECK(hash_str("user@example.com") != hash_str("user@example.org"));
	CHECK(hash_bytes("a\0b", 3) != hash_bytes("a\0c", 3));
}

int main(void)
{
	test_run("siphash-2-4 reference vectors", test_siphash_vectors);
	test_run("hash with the process key", test_hash_keyed);
	return test_done();
}
