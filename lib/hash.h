#ifndef MR_HASH_H
#define MR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 with a per-process random key: hash tables keyed by what
 * peers send (user names, addresses) cannot be flooded with collisions. */
uint64_t hash_bytes(const void *data, size_t len);
uint64_t hash_str(const char *s);

/* SipHash-2-4 with an explicit 16-byte key (for tests against the
 * reference vectors). */
uint64_t hash_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
