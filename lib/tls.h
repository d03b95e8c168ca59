#ifndef MR_TLS_H
#define MR_TLS_H

#include <openssl/ssl.h>

struct buf;

/* Server-side TLS contexts. A tls_store holds the default context (from
 * tls_cert/tls_key) and one per certificate found in tls_cert_dir; the SNI
 * callback picks among them. A reload builds a whole new store and the
 * daemon swaps it in: new connections use the new one, live ones keep the
 * store they started with (every SSL holds a reference). */

struct tls_settings {
	const char *cert;        /* chain file, leaf first; NULL/"" = no TLS */
	const char *key;         /* private key file (may equal cert) */
	const char *cert_dir;    /* "<name>.pem" files with chain and key */
	const char *min_version; /* "TLSv1.2" or "TLSv1.3" */
	const char *ciphers;     /* TLS 1.2 cipher list; "" = OpenSSL default */
	const char *ciphersuites;/* TLS 1.3 suites; "" = OpenSSL default */
};

struct tls_store;

/* Read every key and certificate now (call before dropping privileges).
 * *store_r is NULL when settings->cert is empty: TLS is off. */
int tls_store_load(const struct tls_settings *settings,
		   struct tls_store **store_r, const char **error_r);
void tls_store_ref(struct tls_store *store);
void tls_store_unref(struct tls_store *store);
/* Certificates loaded from tls_cert_dir. */
size_t tls_store_count(const struct tls_store *store);

/* A server SSL on the default context; it holds a store reference until
 * SSL_free(). */
SSL *tls_store_new_ssl(struct tls_store *store);

/* What was negotiated, for logs and Received: headers; "" before/without. */
const char *tls_ssl_version(const SSL *ssl);
const char *tls_ssl_cipher(const SSL *ssl);
const char *tls_ssl_sni(const SSL *ssl);
/* "TLSv1.3:TLS_AES_256_GCM_SHA384" or "no". */
void tls_ssl_describe(const SSL *ssl, struct buf *out);

/* Text of the newest OpenSSL error, cleared from the queue. */
const char *tls_last_error(void);

/* For config validation: "TLSv1.2" or "TLSv1.3" -> protocol version. */
int tls_version_parse(const char *name);

#endif
