#ifndef MR_ADDR_H
#define MR_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Mail addresses as SMTP carries them (RFC 5321 4.1.2, RFC 6531 for
 * SMTPUTF8). A parsed address is kept in canonical parts: the local part
 * exactly as the sender meant it (quotes and quoted-pairs removed, case
 * kept), the domain lower-cased in its ASCII letters only (A-labels stay
 * "xn--...", U-labels stay byte for byte). Error texts are short reasons
 * fit for an SMTP 501 reply. */

/* RFC 5321 4.5.3.1 */
#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_LABEL_MAX 63
#define ADDR_PATH_MAX 256
/* A mailbox must fit in a path with its angle brackets. */
#define ADDR_MAILBOX_MAX (ADDR_PATH_MAX - 2)

enum addr_flags {
	/* "<>" is accepted (MAIL FROM reverse-path). */
	ADDR_ALLOW_NULL = 1 << 0,
	/* UTF-8 in local part and domain: the client gave SMTPUTF8. */
	ADDR_ALLOW_UTF8 = 1 << 1,
	/* A path without "<>", as some clients send: "MAIL FROM:user@dom".
	 * The address then ends at a space or at the end of the input. */
	ADDR_ALLOW_NO_BRACKETS = 1 << 2,
	/* "<Postmaster>" without a domain (RCPT TO, RFC 5321 4.5.1). */
	ADDR_ALLOW_POSTMASTER = 1 << 3,
};

/* Owned by the caller; release with addr_free(). domain is NULL for the
 * null path (then local is "") and for a bare "<Postmaster>". A domain
 * literal keeps its brackets: "[192.0.2.1]", "[IPv6:2001:db8::1]". */
struct addr {
	char *local;
	char *domain;
	bool null_path;
	bool domain_literal;
	bool utf8;           /* local part or domain holds non-ASCII */
};

/* Parse a Reverse-path or Forward-path starting at s[0], with an optional
 * source route ("<@a,@b:user@c>") that is checked and dropped. Returns 1
 * and the bytes used in consumed_r (the caller goes on to the ESMTP
 * parameters after a space), 0 when the input ends before the path does
 * (more input could complete it; with a whole command line that is an
 * error too, and error_r says why), -1 when malformed. A path must be
 * followed by a space or the end of the input. addr_r is zeroed on
 * anything but success. */
int addr_parse_path(const char *s, size_t len, unsigned flags,
		    struct addr *addr_r, size_t *consumed_r, const char **error_r);

/* Parse a whole bare "local@domain" (lookups, configuration, admin
 * commands). ADDR_ALLOW_UTF8 and ADDR_ALLOW_POSTMASTER apply. Returns 0 or
 * -1 with error_r. */
int addr_parse_mailbox(const char *s, unsigned flags, struct addr *addr_r,
		       const char **error_r);

void addr_free(struct addr *addr);

/* The RFC 5321 mailbox form "local@domain", quoting the local part only
 * when it is not a valid Dot-string; "" for the null path. The caller
 * adds the angle brackets of a path. Free with free(). */
char *addr_to_string(const struct addr *addr);

/* Two parsed addresses name the same mailbox: the same parts, which are
 * canonical already (local part exact, domain lower-cased). */
bool addr_equal(const struct addr *a, const struct addr *b);

/* Domains compare without regard to ASCII case. */
bool addr_domain_equal(const char *a, const char *b);

/* Split a local part at the first of the recipient delimiter characters
 * (ASCII only): "user+tag" -> "user" and "tag". Returns 1 when split, 0
 * when there is nothing to split (no delimiter, or one only in the first
 * position): then *base_r is a copy of local and *detail_r is NULL.
 * Free both with free(). */
int addr_split_detail(const char *local, const char *delimiters,
		      char **base_r, char **detail_r);

#endif
