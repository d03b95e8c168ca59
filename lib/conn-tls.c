#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/buffer.h>
#include <openssl/err.h>

#include "conn-private.h"
#include "tls.h"
#include "xalloc.h"

/* TLS over libuv: OpenSSL reads ciphertext from rbio (filled from socket
 * reads) and writes ciphertext to wbio (drained into socket writes), so
 * the event loop stays in charge of all I/O. */

#define CONN_TLS_CHUNK (16 * 1024)

int conn_tls_begin(struct conn *c, const char **error_r)
{
	if (c->env->tls == NULL) {
		*error_r = "no TLS certificate configured";
		return -1;
	}
	c->ssl = tls_store_new_ssl(c->env->tls);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		*error_r = tls_last_error();
		return -1;
	}
	/* An empty rbio means "wait for more", not end of file. */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	return 0;
}

void conn_tls_free(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl); /* frees both BIOs and the store reference */
	c->ssl = NULL;
	c->rbio = c->wbio = NULL;
}

/* A memory BIO keeps the largest buffer it ever held (the handshake's
 * certificate chain, a large FETCH's records): an empty one that grew
 * past this is replaced by a new one, so an idle connection holds none
 * (about 1.5 KiB a connection after the handshake). */
#define CONN_TLS_BIO_KEEP 2048

static bool conn_tls_bio_big(BIO *bio)
{
	BUF_MEM *bm = NULL;

	if (BIO_ctrl_pending(bio) != 0)
		return false;
	BIO_get_mem_ptr(bio, &bm);
	return bm != NULL && bm->max > CONN_TLS_BIO_KEEP;
}

static void conn_tls_trim(struct conn *c)
{
	BIO *bio;

	if (c->wbio != NULL && conn_tls_bio_big(c->wbio) &&
	    (bio = BIO_new(BIO_s_mem())) != NULL) {
		SSL_set0_wbio(c->ssl, bio);	/* frees the old one */
		c->wbio = bio;
	}
	if (c->rbio != NULL && conn_tls_bio_big(c->rbio) &&
	    (bio = BIO_new(BIO_s_mem())) != NULL) {
		BIO_set_mem_eof_return(bio, -1);
		SSL_set0_rbio(c->ssl, bio);	/* frees the old one */
		c->rbio = bio;
	}
}

void conn_tls_flush(struct conn *c)
{
	char chunk[CONN_TLS_CHUNK];
	int n;

	if (c->wbio == NULL)
		return;
	while ((n = BIO_read(c->wbio, chunk, sizeof(chunk))) > 0)
		conn_raw_write(c, chunk, (size_t)n);
	conn_tls_trim(c);
}

static void conn_tls_fail(struct conn *c, const char *what, int ret)
{
	static char reason[300];
	int err = SSL_get_error(c->ssl, ret);

	snprintf(reason, sizeof(reason), "%s: %s", what,
		 err == SSL_ERROR_SSL ? tls_last_error() : "connection error");
	ERR_clear_error();
	c->tls_failed = true;
	conn_tls_flush(c); /* the alert, if any */
	conn_close(c, reason);
}

static void conn_tls_handshake_done(struct conn *c)
{
	log_debug(c->sid, "tls version=%s cipher=%s sni=%s",
		  tls_ssl_version(c->ssl), tls_ssl_cipher(c->ssl), tls_ssl_sni(c->ssl));
	if (c->stage == CONN_STAGE_HANDSHAKE) {
		conn_become_ready(c);
		return;
	}
	c->stage = CONN_STAGE_READY;
	if (c->svc->on_tls != NULL)
		c->svc->on_tls(c->session, c);
}

/* false when the connection went away or the handshake is still going. */
static bool conn_tls_handshake(struct conn *c)
{
	int ret = SSL_do_handshake(c->ssl);

	if (ret == 1) {
		conn_tls_flush(c);
		conn_tls_handshake_done(c);
		return !c->closing;
	}
	if (SSL_get_error(c->ssl, ret) == SSL_ERROR_WANT_READ) {
		conn_tls_flush(c);
		return false;
	}
	conn_tls_fail(c, "TLS handshake failed", ret);
	return false;
}

static void conn_tls_read_all(struct conn *c)
{
	char plain[CONN_TLS_CHUNK];
	int n, err;

	while (!c->closing) {
		n = SSL_read(c->ssl, plain, sizeof(plain));
		if (n > 0) {
			conn_plain_input(c, plain, (size_t)n);
			continue;
		}
		err = SSL_get_error(c->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_ZERO_RETURN)
			conn_close(c, "client closed");
		else
			conn_tls_fail(c, "TLS read failed", n);
		break;
	}
	conn_tls_flush(c); /* TLS 1.3 may answer key updates */
}

void conn_tls_input(struct conn *c, const char *data, size_t len)
{
	if (BIO_write(c->rbio, data, (int)len) != (int)len) {
		conn_abort(c, "TLS buffer error");
		return;
	}
	if (!SSL_is_init_finished(c->ssl) && !conn_tls_handshake(c))
		return;
	conn_tls_read_all(c);
}

void conn_tls_write(struct conn *c, const void *data, size_t len)
{
	const char *p = data;
	int n;

	if (!SSL_is_init_finished(c->ssl) || c->tls_failed) {
		log_warn(c->sid, "write before TLS handshake dropped len=%zu", len);
		return;
	}
	while (len > 0) {
		n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0) {
			conn_tls_fail(c, "TLS write failed", n);
			return;
		}
		p += n;
		len -= (size_t)n;
	}
	conn_tls_flush(c);
}

/* Best effort close_notify; the peer's answer is not awaited. */
void conn_tls_shutdown(struct conn *c)
{
	if (c->ssl == NULL || c->tls_failed || !SSL_is_init_finished(c->ssl))
		return;
	if (SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
	conn_tls_flush(c);
}
