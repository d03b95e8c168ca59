#ifndef MR_AUTHD_BACKEND_LDAP_FILTER_H
#define MR_AUTHD_BACKEND_LDAP_FILTER_H

#include <stddef.h>

#include "buf.h"

/* LDAP search filters built from configured templates. Every value a
 * client can influence goes through RFC 4515 escaping, so a user name
 * like `*)(uid=*` stays one literal assertion value.
 *
 * Placeholders in a template:
 *   %s  the key looked up: the address (user, alias), the domain (domain),
 *       the sender (sender grant)
 *   %u  the user's address: the address looked up, or the login of a
 *       sender grant
 *   %l  the local part of %u (empty for "@domain" and domain lookups)
 *   %d  the domain of %u
 *   %%  a literal '%'
 */

#define AUTHD_LDAP_FILTER_MAX 8192

struct authd_ldap_filter_args {
	const char *key;    /* %s */
	const char *user;   /* %u, %l, %d */
};

/* Append value (len bytes, may hold NUL) to out, escaped for use as an
 * assertion value. -1 when out's limit would be passed. */
int authd_ldap_filter_escape(struct buf *out, const char *value, size_t len);

/* 0 when tmpl uses only known placeholders and its parentheses balance;
 * -1 with the reason otherwise (checked once, at start-up). */
int authd_ldap_filter_check(const char *tmpl, const char **error_r);

/* Expand tmpl into out (reset first). -1 with error_r when the result
 * would pass AUTHD_LDAP_FILTER_MAX or tmpl is malformed. */
int authd_ldap_filter_expand(struct buf *out, const char *tmpl,
			     const struct authd_ldap_filter_args *args,
			     const char **error_r);

#endif
