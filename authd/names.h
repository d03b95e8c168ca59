#ifndef MR_AUTHD_NAMES_H
#define MR_AUTHD_NAMES_H

/* User names and addresses as authd keys them: white space trimmed, a
 * name without '@' completed with default_domain (when not NULL or ""),
 * then parsed as a mailbox (lib/addr.h) so the domain is lower-case and
 * the local part exact. "@domain" (a catch-all key) keeps its form with
 * the domain lower-cased. -1 with error_r when it is no address. */
int authd_name_normalize(const char *name, const char *default_domain, char **out_r,
			 const char **error_r);

/* The domain of a normalized "local@domain" or "@domain" (after the last
 * '@'); "" when there is none. */
const char *authd_name_domain(const char *addr);

/* A copy of s with ASCII letters lower-cased. */
char *authd_name_lower(const char *s);

#endif
