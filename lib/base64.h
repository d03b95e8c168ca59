#ifndef MR_BASE64_H
#define MR_BASE64_H

#include <stddef.h>

struct buf;

/* Standard base64 (RFC 4648 section 4, with padding), as SASL exchanges
 * carry it. The decoder is strict: no white space, padding only at the end,
 * the unused bits of the last character zero. A peer that sends anything
 * else gets an error, never a guess. */

/* Append the encoding of data to out; -1 when out's limit is reached. */
int base64_encode(struct buf *out, const void *data, size_t len);
/* Append the decoded bytes of in[0..len) to out; -1 on malformed input or
 * out's limit (out is then as before the call). */
int base64_decode(struct buf *out, const char *in, size_t len);
/* The 6-bit value of one character of the alphabet, -1 for any other
 * character (padding included), for lenient decoders (mime-decode.h). */
int base64_char_value(char c);

#endif
