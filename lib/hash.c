#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t hash_load64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void hash_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

uint64_t hash_siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = hash_load64(key), k1 = hash_load64(key + 8);
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
	};
	uint64_t m, b = (uint64_t)len << 56;
	size_t tail = len & 7;
	uint8_t last[8] = { 0 };

	for (const uint8_t *end = in + (len - tail); in != end; in += 8) {
		m = hash_load64(in);
		v[3] ^= m;
		hash_sipround(v);
		hash_sipround(v);
		v[0] ^= m;
	}
	memcpy(last, in, tail);
	b |= hash_load64(last);
	v[3] ^= b;
	hash_sipround(v);
	hash_sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		hash_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint8_t hash_key[16];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static void hash_key_init(void)
{
	if (getrandom(hash_key, sizeof(hash_key), 0) != (ssize_t)sizeof(hash_key)) {
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

		memcpy(hash_key, &t, sizeof(t));
	}
}

uint64_t hash_bytes(const void *data, size_t len)
{
	pthread_once(&hash_key_once, hash_key_init);
	return hash_siphash24(hash_key, data, len);
}

uint64_t hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}
