#ifndef MR_IMAP_UTF7_H
#define MR_IMAP_UTF7_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3): printable
 * US-ASCII stands for itself ("&" as "&-"), everything else is UTF-16BE in
 * a modified BASE64 run "&...-" using "," instead of "/".
 *
 * Decoding is strict: only the one encoding an encoder may produce is
 * accepted (no encoded printable ASCII, no two adjacent runs, no non-zero
 * padding bits, no lone surrogates, no raw bytes outside 0x20-0x7e), so a
 * name has exactly one wire form and two spellings can never reach the
 * same folder. */

/* Append the UTF-8 form of `src` (mUTF-7) to `dest`. -1 with error_r on
 * invalid input or when dest's limit is reached (dest then holds a prefix). */
int imap_utf7_to_utf8(const char *src, struct buf *dest, const char **error_r);

/* Append the mUTF-7 form of `src` (UTF-8, validated) to `dest`. */
int imap_utf8_to_utf7(const char *src, struct buf *dest, const char **error_r);

/* true when `src` is valid modified UTF-7. */
bool imap_utf7_is_valid(const char *src);

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF): 0, else -1. Shared by the parser's UTF8=ACCEPT check. */
int imap_utf8_validate(const char *s, size_t len);

/* Decode one UTF-8 sequence at s[0..len): its length, and the code point in
 * *cp_r; -1 when malformed. */
int imap_utf8_decode_one(const char *s, size_t len, unsigned *cp_r);

#endif
