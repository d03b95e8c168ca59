#ifndef MR_AUTHD_PASSWORD_H
#define MR_AUTHD_PASSWORD_H

/* Password schemes in the "{SCHEME}hash" convention that hosting databases
 * and directories already hold (Dovecot, PostfixAdmin, OpenLDAP):
 * SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, MD5-CRYPT, CRYPT (any crypt(3)
 * form), ARGON2I, ARGON2ID, SSHA512, SSHA, PLAIN. A stored value without a
 * prefix is read in the caller's default scheme; one starting with '$' is
 * taken as crypt(3), which is what PostfixAdmin writes. */

#include <stddef.h>

struct password_scheme;

/* The scheme named by "{NAME}" at the start of stored (or default_scheme
 * when there is none), and where its hash text starts. NULL when the
 * scheme is unknown. */
const struct password_scheme *password_scheme_of(const char *stored,
						 const char *default_scheme,
						 const char **hash_r);
const struct password_scheme *password_scheme_find(const char *name);
const char *password_scheme_name(const struct password_scheme *scheme);

/* 1 when plain matches stored, 0 when it does not, -1 when stored cannot be
 * checked (unknown scheme, malformed hash) with the reason in error_r.
 * Comparison time does not depend on where the hashes differ. */
int password_verify(const char *stored, const char *plain,
		    const char *default_scheme, const char **error_r);

/* A new "{NAME}hash" with a fresh random salt; *hash_r is the caller's to
 * free. -1 when the scheme is unknown or cannot generate hashes. */
int password_hash(const char *scheme_name, const char *plain, char **hash_r,
		  const char **error_r);

/* The i-th scheme password_hash() can generate (for --help); NULL past
 * the last. */
const char *password_scheme_generatable(size_t i);

#endif
