#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#include "buf.h"
#include "tls.h"
#include "xalloc.h"

struct tls_named {
	char *name; /* lower case; may start with "*." */
	SSL_CTX *ctx;
};

struct tls_store {
	int refs;
	SSL_CTX *def;
	struct tls_named *named;
	size_t count;
};

static int tls_ex_index = -1;
static char tls_error_text[256];

const char *tls_last_error(void)
{
	unsigned long e = ERR_get_error();
	unsigned long next;

	/* The last error queued is usually the most specific one. */
	while ((next = ERR_get_error()) != 0)
		e = next;
	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, tls_error_text, sizeof(tls_error_text));
	return tls_error_text;
}

int tls_version_parse(const char *name)
{
	if (strcmp(name, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(name, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	return -1;
}

static void tls_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			int idx, long argl, void *argp)
{
	if (ptr != NULL)
		tls_store_unref(ptr);
}

static int tls_init_once(void)
{
	if (tls_ex_index < 0)
		tls_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, tls_ex_free);
	return tls_ex_index;
}

static SSL_CTX *tls_named_lookup(const struct tls_store *st, const char *name)
{
	for (size_t i = 0; i < st->count; i++)
		if (strcasecmp(st->named[i].name, name) == 0)
			return st->named[i].ctx;
	return NULL;
}

/* Exact name first, then "*.parent" for one leftmost label. */
static SSL_CTX *tls_store_select(const struct tls_store *st, const char *name)
{
	SSL_CTX *ctx = tls_named_lookup(st, name);
	const char *dot;
	char wild[300];

	if (ctx != NULL)
		return ctx;
	dot = strchr(name, '.');
	if (dot == NULL || dot[1] == '\0')
		return NULL;
	if ((size_t)snprintf(wild, sizeof(wild), "*%s", dot) >= sizeof(wild))
		return NULL;
	return tls_named_lookup(st, wild);
}

static int tls_servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_store *st = SSL_get_ex_data(ssl, tls_ex_index);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	SSL_CTX *ctx;

	if (st == NULL || name == NULL)
		return SSL_TLSEXT_ERR_OK;
	ctx = tls_store_select(st, name);
	/* No match: the default certificate, as clients without SNI get. */
	if (ctx != NULL && SSL_set_SSL_CTX(ssl, ctx) == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

static int tls_ctx_settings(SSL_CTX *ctx, const struct tls_settings *s,
			    const char **error_r)
{
	int min = tls_version_parse(s->min_version != NULL ? s->min_version : "TLSv1.2");

	if (min < 0) {
		*error_r = "tls_min_version must be TLSv1.2 or TLSv1.3";
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
			    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* RELEASE_BUFFERS: the record buffers (about 34 KiB a connection)
	 * are freed whenever nothing is pending, so an idle connection (IMAP
	 * IDLE, a mail client left open) holds none. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (s->ciphers != NULL && *s->ciphers != '\0' &&
	    SSL_CTX_set_cipher_list(ctx, s->ciphers) != 1) {
		*error_r = "tls_ciphers: no usable cipher";
		return -1;
	}
	if (s->ciphersuites != NULL && *s->ciphersuites != '\0' &&
	    SSL_CTX_set_ciphersuites(ctx, s->ciphersuites) != 1) {
		*error_r = "tls_ciphersuites: no usable suite";
		return -1;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_servername_cb);
	return 0;
}

static SSL_CTX *tls_ctx_new(const struct tls_settings *s, const char *cert,
			    const char *key, const char **error_r)
{
	static char err[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = tls_last_error();
		return NULL;
	}
	if (tls_ctx_settings(ctx, s, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, sizeof(err), "%s: %s", cert, tls_last_error());
		*error_r = err;
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool tls_pem_name(const char *file, char *name, size_t size)
{
	size_t len = strlen(file);

	if (file[0] == '.' || len <= 4 || len - 4 >= size ||
	    strcmp(file + len - 4, ".pem") != 0)
		return false;
	for (size_t i = 0; i < len - 4; i++)
		name[i] = (char)tolower((unsigned char)file[i]);
	name[len - 4] = '\0';
	return true;
}

static int tls_store_add_file(struct tls_store *st, const struct tls_settings *s,
			      const char *file, const char **error_r)
{
	char name[256];
	char *path;
	SSL_CTX *ctx;

	if (!tls_pem_name(file, name, sizeof(name)))
		return 0;
	path = xasprintf("%s/%s", s->cert_dir, file);
	ctx = tls_ctx_new(s, path, path, error_r);
	free(path);
	if (ctx == NULL)
		return -1;
	st->named = xreallocarray(st->named, st->count + 1, sizeof(*st->named));
	st->named[st->count].name = xstrdup(name);
	st->named[st->count].ctx = ctx;
	st->count++;
	return 0;
}

static int tls_store_load_dir(struct tls_store *st, const struct tls_settings *s,
			      const char **error_r)
{
	static char err[512];
	DIR *dir = opendir(s->cert_dir);
	struct dirent *de;
	int ret = 0;

	if (dir == NULL) {
		snprintf(err, sizeof(err), "tls_cert_dir %s: %s", s->cert_dir, strerror(errno));
		*error_r = err;
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL)
		ret = tls_store_add_file(st, s, de->d_name, error_r);
	closedir(dir);
	return ret;
}

int tls_store_load(const struct tls_settings *s, struct tls_store **store_r,
		   const char **error_r)
{
	struct tls_store *st;
	const char *key = s->key != NULL && *s->key != '\0' ? s->key : s->cert;

	*store_r = NULL;
	if (s->cert == NULL || *s->cert == '\0')
		return 0;
	if (tls_init_once() < 0) {
		*error_r = tls_last_error();
		return -1;
	}
	st = xcalloc(1, sizeof(*st));
	st->refs = 1;
	st->def = tls_ctx_new(s, s->cert, key, error_r);
	if (st->def == NULL ||
	    (s->cert_dir != NULL && *s->cert_dir != '\0' &&
	     tls_store_load_dir(st, s, error_r) < 0)) {
		tls_store_unref(st);
		return -1;
	}
	*store_r = st;
	return 0;
}

void tls_store_ref(struct tls_store *st)
{
	st->refs++;
}

void tls_store_unref(struct tls_store *st)
{
	if (--st->refs > 0)
		return;
	for (size_t i = 0; i < st->count; i++) {
		SSL_CTX_free(st->named[i].ctx);
		free(st->named[i].name);
	}
	free(st->named);
	SSL_CTX_free(st->def);
	free(st);
}

size_t tls_store_count(const struct tls_store *st)
{
	return st->count;
}

SSL *tls_store_new_ssl(struct tls_store *st)
{
	SSL *ssl = SSL_new(st->def);

	if (ssl == NULL)
		return NULL;
	tls_store_ref(st);
	SSL_set_ex_data(ssl, tls_ex_index, st);
	SSL_set_accept_state(ssl);
	return ssl;
}

const char *tls_ssl_version(const SSL *ssl)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return "";
	return SSL_get_version(ssl);
}

const char *tls_ssl_cipher(const SSL *ssl)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl))
		return "";
	return SSL_get_cipher_name(ssl);
}

const char *tls_ssl_sni(const SSL *ssl)
{
	const char *name;

	if (ssl == NULL)
		return "";
	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	return name != NULL ? name : "";
}

void tls_ssl_describe(const SSL *ssl, struct buf *out)
{
	if (ssl == NULL || !SSL_is_init_finished(ssl)) {
		buf_append_str(out, "no");
		return;
	}
	buf_printf(out, "%s:%s", tls_ssl_version(ssl), tls_ssl_cipher(ssl));
}
