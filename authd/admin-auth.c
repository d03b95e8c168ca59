/* `mailroom auth test`: a client of the Dovecot-compatible auth protocol
 * (VERSION / CPID handshake, then one AUTH with PLAIN), as mta and Postfix
 * use it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "admin.h"
#include "buf.h"
#include "fields.h"
#include "xalloc.h"

/* Read the server's handshake up to DONE; it must speak major version 1. */
static int admin_auth_handshake(struct admin_conn *c)
{
	char *line = xmalloc(ADMIN_LINE_MAX);
	bool version_ok = false;
	int ret = -1;

	for (unsigned i = 0; i < 1000; i++) {
		if (admin_read_line(c, line) < 0)
			break;
		if (strncmp(line, "VERSION\t1\t", 10) == 0)
			version_ok = true;
		if (strcmp(line, "DONE") == 0) {
			ret = version_ok ? 0 : -1;
			if (!version_ok)
				fprintf(stderr, "mailroom: auth server speaks no VERSION 1\n");
			break;
		}
	}
	free(line);
	return ret;
}

static char *admin_plain_b64(const char *user, const char *password)
{
	size_t ulen = strlen(user), plen = strlen(password), len = ulen + plen + 2;
	unsigned char *raw = xmalloc(len);
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	raw[0] = '\0';
	memcpy(raw + 1, user, ulen);
	raw[1 + ulen] = '\0';
	memcpy(raw + 2 + ulen, password, plen);
	EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
	memset(raw, 0, len);
	free(raw);
	return out;
}

/* "OK\t1..." 0, "FAIL\t1..." 1, with "temp" 75. */
static int admin_auth_verdict(const char *line)
{
	struct authd_fields f;
	const char *err;
	int ret = ADMIN_TEMPFAIL;

	if (authd_fields_split(line, strlen(line), 64, &f, &err) < 0 || f.count < 2 ||
	    strcmp(f.items[1], "1") != 0) {
		fprintf(stderr, "mailroom: unexpected reply: %s\n", line);
		authd_fields_free(&f);
		return ADMIN_TEMPFAIL;
	}
	if (strcmp(f.items[0], "OK") == 0)
		ret = ADMIN_OK;
	else if (strcmp(f.items[0], "FAIL") == 0)
		ret = ADMIN_NO;
	for (size_t i = 2; i < f.count && ret == ADMIN_NO; i++)
		if (strcmp(f.items[i], "temp") == 0)
			ret = ADMIN_TEMPFAIL;
	printf("%s", ret == ADMIN_OK ? "OK" : ret == ADMIN_NO ? "FAIL" : "TEMPFAIL");
	for (size_t i = 2; i < f.count; i++)
		printf(" %s", f.items[i]);
	printf("\n");
	authd_fields_free(&f);
	return ret;
}

int admin_auth_test(const char *socket_path, const char *service, const char *user,
		    const char *password)
{
	struct admin_conn c;
	struct buf req;
	char *b64, *line;
	int ret = ADMIN_TEMPFAIL;

	if (admin_connect(&c, socket_path) < 0)
		return ADMIN_TEMPFAIL;
	buf_init(&req, BUF_NO_LIMIT);
	buf_printf(&req, "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
	b64 = admin_plain_b64(user, password);
	/* secured: the password crosses only this local socket, and authd
	 * refuses plaintext mechanisms on requests not marked so. */
	buf_printf(&req, "AUTH\t1\tPLAIN\tservice=%s\tsecured\tresp=%s\n", service, b64);
	line = xmalloc(ADMIN_LINE_MAX);
	if (admin_send(&c, req.data, req.len) == 0 && admin_auth_handshake(&c) == 0 &&
	    admin_read_line(&c, line) == 0)
		ret = admin_auth_verdict(line);
	memset(req.data, 0, req.len);
	buf_free(&req);
	free(b64);
	free(line);
	admin_close(&c);
	return ret;
}
