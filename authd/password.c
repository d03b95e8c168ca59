#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "password.h"
#include "xalloc.h"

#define PW_MAX_DIGEST 64
#define PW_SALT_LEN 16

/* Argon2 cost for new hashes: RFC 9106's second recommended choice,
 * scaled to what an auth daemon can afford per login. */
#define PW_ARGON2_T 3
#define PW_ARGON2_M (64 * 1024)
#define PW_ARGON2_P 1

struct password_scheme {
	const char *name;
	int (*verify)(const struct password_scheme *s, const char *hash,
		      const char *plain, const char **error_r);
	/* NULL: verify only. */
	int (*generate)(const struct password_scheme *s, const char *plain,
			struct buf *out, const char **error_r);
	const char *crypt_prefix; /* crypt(3) schemes: gensalt prefix */
	unsigned long crypt_rounds;
	const char *digest;       /* salted-digest schemes: EVP name */
	argon2_type argon2;
};

static bool pw_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* A {SHA512-CRYPT} value must hold a $6$ hash, and so on; BLF-CRYPT
 * accepts every bcrypt variant ($2a$, $2b$, $2y$). */
static bool pw_crypt_prefix_ok(const struct password_scheme *s, const char *hash)
{
	if (s->crypt_prefix == NULL)
		return true;
	if (strncmp(s->crypt_prefix, "$2", 2) == 0)
		return strncmp(hash, "$2", 2) == 0;
	return strncmp(hash, s->crypt_prefix, strlen(s->crypt_prefix)) == 0;
}

static int pw_crypt_verify(const struct password_scheme *s, const char *hash,
			   const char *plain, const char **error_r)
{
	struct crypt_data data;
	const char *out;

	if (!pw_crypt_prefix_ok(s, hash)) {
		*error_r = "hash does not match its scheme";
		return -1;
	}
	memset(&data, 0, sizeof(data));
	out = crypt_r(plain, hash, &data);
	/* libxcrypt returns a string starting with '*' on a malformed setting. */
	/* A complete hash re-hashes to the same length; a bare setting such
	 * as "$6$salt" or a truncated value never could match. */
	if (out == NULL || out[0] == '*' || strlen(out) != strlen(hash)) {
		*error_r = "malformed crypt hash";
		return -1;
	}
	return CRYPTO_memcmp(out, hash, strlen(hash)) == 0 ? 1 : 0;
}

static int pw_random(void *p, size_t len, const char **error_r)
{
	if (RAND_bytes(p, (int)len) != 1) {
		*error_r = "no random bytes";
		return -1;
	}
	return 0;
}

static int pw_crypt_generate(const struct password_scheme *s, const char *plain,
			     struct buf *out, const char **error_r)
{
	unsigned char rnd[PW_SALT_LEN];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	const char *hash;

	if (pw_random(rnd, sizeof(rnd), error_r) < 0)
		return -1;
	if (crypt_gensalt_rn(s->crypt_prefix, s->crypt_rounds, (const char *)rnd,
			     sizeof(rnd), setting, sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt failed";
		return -1;
	}
	memset(&data, 0, sizeof(data));
	hash = crypt_r(plain, setting, &data);
	if (hash == NULL || hash[0] == '*') {
		*error_r = "crypt failed";
		return -1;
	}
	buf_append_str(out, hash);
	return 0;
}

/* {SSHA}/{SSHA512}: base64(digest(password . salt) . salt). */
static int pw_salted_digest(const char *digest, const char *plain,
			    const unsigned char *salt, size_t salt_len,
			    unsigned char *md, unsigned *md_len_r)
{
	const EVP_MD *md_type = EVP_get_digestbyname(digest);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL && md_type != NULL &&
	     EVP_DigestInit_ex(ctx, md_type, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, plain, strlen(plain)) == 1 &&
	     EVP_DigestUpdate(ctx, salt, salt_len) == 1 &&
	     EVP_DigestFinal_ex(ctx, md, md_len_r) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int pw_ssha_verify(const struct password_scheme *s, const char *hash,
			  const char *plain, const char **error_r)
{
	size_t len = strlen(hash), raw_len, pad = 0;
	unsigned char *raw, md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0, want = (unsigned)EVP_MD_get_size(EVP_get_digestbyname(s->digest));
	int ret, n;

	if (len == 0 || len % 4 != 0 || len > 4096) {
		*error_r = "malformed base64 in salted hash";
		return -1;
	}
	raw = xmalloc(len);
	n = EVP_DecodeBlock(raw, (const unsigned char *)hash, (int)len);
	pad = (hash[len - 1] == '=') + (len > 1 && hash[len - 2] == '=');
	if (n < 0 || (size_t)n < pad || (size_t)n - pad <= want) {
		free(raw);
		*error_r = "malformed base64 in salted hash";
		return -1;
	}
	raw_len = (size_t)n - pad;
	if (pw_salted_digest(s->digest, plain, raw + want, raw_len - want, md, &md_len) < 0) {
		free(raw);
		*error_r = "digest failed";
		return -1;
	}
	ret = pw_equal(md, md_len, raw, want) ? 1 : 0;
	OPENSSL_cleanse(raw, len);
	free(raw);
	return ret;
}

static int pw_ssha_generate(const struct password_scheme *s, const char *plain,
			    struct buf *out, const char **error_r)
{
	unsigned char raw[EVP_MAX_MD_SIZE + PW_SALT_LEN];
	unsigned char b64[((sizeof(raw) + 2) / 3) * 4 + 1];
	unsigned md_len = 0;
	int n;

	if (pw_random(raw + PW_MAX_DIGEST, PW_SALT_LEN, error_r) < 0)
		return -1;
	if (pw_salted_digest(s->digest, plain, raw + PW_MAX_DIGEST, PW_SALT_LEN, raw, &md_len) < 0) {
		*error_r = "digest failed";
		return -1;
	}
	memmove(raw + md_len, raw + PW_MAX_DIGEST, PW_SALT_LEN);
	n = EVP_EncodeBlock(b64, raw, (int)(md_len + PW_SALT_LEN));
	buf_append(out, b64, (size_t)n);
	return 0;
}

static int pw_argon2_verify(const struct password_scheme *s, const char *hash,
			    const char *plain, const char **error_r)
{
	int rc = argon2_verify(hash, plain, strlen(plain), s->argon2);

	if (rc == ARGON2_OK)
		return 1;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return 0;
	*error_r = argon2_error_message(rc);
	return -1;
}

static int pw_argon2_generate(const struct password_scheme *s, const char *plain,
			      struct buf *out, const char **error_r)
{
	unsigned char salt[PW_SALT_LEN];
	size_t len = argon2_encodedlen(PW_ARGON2_T, PW_ARGON2_M, PW_ARGON2_P,
				       sizeof(salt), 32, s->argon2);
	char *encoded = xmalloc(len);
	int rc;

	if (pw_random(salt, sizeof(salt), error_r) < 0) {
		free(encoded);
		return -1;
	}
	rc = argon2_hash(PW_ARGON2_T, PW_ARGON2_M, PW_ARGON2_P, plain, strlen(plain),
			 salt, sizeof(salt), NULL, 32, encoded, len, s->argon2,
			 ARGON2_VERSION_NUMBER);
	if (rc != ARGON2_OK) {
		free(encoded);
		*error_r = argon2_error_message(rc);
		return -1;
	}
	buf_append_str(out, encoded);
	free(encoded);
	return 0;
}

static int pw_plain_verify(const struct password_scheme *s, const char *hash,
			   const char *plain, const char **error_r)
{
	return pw_equal(hash, strlen(hash), plain, strlen(plain)) ? 1 : 0;
}

static int pw_plain_generate(const struct password_scheme *s, const char *plain,
			     struct buf *out, const char **error_r)
{
	buf_append_str(out, plain);
	return 0;
}

#define PW_CRYPT(name, prefix, rounds) \
	{ name, pw_crypt_verify, pw_crypt_generate, prefix, rounds, NULL, 0 }

static const struct password_scheme pw_schemes[] = {
	PW_CRYPT("SHA512-CRYPT", "$6$", 0),
	PW_CRYPT("SHA256-CRYPT", "$5$", 0),
	/* $2y$ is what Dovecot and PHP write; libxcrypt reads all 2a/2b/2y. */
	PW_CRYPT("BLF-CRYPT", "$2y$", 10),
	{ "MD5-CRYPT", pw_crypt_verify, NULL, "$1$", 0, NULL, 0 },
	{ "CRYPT", pw_crypt_verify, NULL, NULL, 0, NULL, 0 },
	{ "ARGON2ID", pw_argon2_verify, pw_argon2_generate, NULL, 0, NULL, Argon2_id },
	{ "ARGON2I", pw_argon2_verify, pw_argon2_generate, NULL, 0, NULL, Argon2_i },
	{ "SSHA512", pw_ssha_verify, pw_ssha_generate, NULL, 0, "SHA512", 0 },
	{ "SSHA", pw_ssha_verify, pw_ssha_generate, NULL, 0, "SHA1", 0 },
	{ "PLAIN", pw_plain_verify, pw_plain_generate, NULL, 0, NULL, 0 },
	{ "CLEARTEXT", pw_plain_verify, NULL, NULL, 0, NULL, 0 },
};
#define PW_NSCHEMES (sizeof(pw_schemes) / sizeof(pw_schemes[0]))

const struct password_scheme *password_scheme_find(const char *name)
{
	for (size_t i = 0; i < PW_NSCHEMES; i++)
		if (strcasecmp(pw_schemes[i].name, name) == 0)
			return &pw_schemes[i];
	return NULL;
}

const char *password_scheme_name(const struct password_scheme *scheme)
{
	return scheme->name;
}

const struct password_scheme *password_scheme_of(const char *stored,
						 const char *default_scheme,
						 const char **hash_r)
{
	const char *end;
	char name[32];

	if (stored[0] == '{' && (end = strchr(stored, '}')) != NULL &&
	    (size_t)(end - stored - 1) < sizeof(name)) {
		memcpy(name, stored + 1, (size_t)(end - stored - 1));
		name[end - stored - 1] = '\0';
		*hash_r = end + 1;
		return password_scheme_find(name);
	}
	*hash_r = stored;
	if (stored[0] == '$')
		return password_scheme_find("CRYPT");
	return default_scheme != NULL ? password_scheme_find(default_scheme) : NULL;
}

int password_verify(const char *stored, const char *plain,
		    const char *default_scheme, const char **error_r)
{
	const char *hash;
	const struct password_scheme *s = password_scheme_of(stored, default_scheme, &hash);

	if (s == NULL) {
		*error_r = "unknown password scheme";
		return -1;
	}
	return s->verify(s, hash, plain, error_r);
}

int password_hash(const char *scheme_name, const char *plain, char **hash_r,
		  const char **error_r)
{
	const struct password_scheme *s = password_scheme_find(scheme_name);
	struct buf out;

	if (s == NULL || s->generate == NULL) {
		*error_r = s == NULL ? "unknown password scheme" :
				       "scheme can be verified but not generated";
		return -1;
	}
	buf_init(&out, 4096);
	buf_printf(&out, "{%s}", s->name);
	if (s->generate(s, plain, &out, error_r) < 0) {
		buf_free(&out);
		return -1;
	}
	*hash_r = buf_steal(&out);
	return 0;
}

const char *password_scheme_generatable(size_t i)
{
	for (size_t k = 0; k < PW_NSCHEMES; k++)
		if (pw_schemes[k].generate != NULL && i-- == 0)
			return pw_schemes[k].name;
	return NULL;
}
