#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password.h"
#include "test.h"

/* Reference hashes of "secret" made by independent tools: openssl passwd
 * (-6, -5, -1), htpasswd -B, the argon2 command line, and Python's hashlib
 * for the salted SHA forms. */
static const struct {
	const char *stored;
} good[] = {
	{ "{SHA512-CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG." },
	{ "{SHA256-CRYPT}$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM." },
	{ "{MD5-CRYPT}$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1" },
	{ "{BLF-CRYPT}$2y$05$y3vhxKuoK6OawKSUzrYwOu1l5/gl.J5GPdtfHdVl01XBEUaljnpbS" },
	{ "{CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG." },
	/* PostfixAdmin stores crypt hashes with no prefix. */
	{ "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1" },
	{ "{ARGON2ID}$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMjM0$DQ9uPWsMpKhK5tEbzhihzWe4QLNYasLuSijyuEBRw+E" },
	{ "{ARGON2I}$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMjM0$jcqmMnACzjVoeatxdd9UOAIVlvI7CLlrgelSM+JOtQo" },
	{ "{SSHA512}KO8EsMPQTwZrxxbOkDAOOXEeVCc2grMQg1pnZwZhC1bBQLby8zCmFn7qTZRvoTd+yQdROQQNYHWpTUST4zjTdQECAwQFBgcI" },
	{ "{SSHA}lHFzXul4wnzRItssVcTnvXWRjNgBAgMEBQYHCA==" },
	{ "{PLAIN}secret" },
	{ "{plain}secret" },
};

static void test_password_reference_hashes(void)
{
	const char *error = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int ok = password_verify(good[i].stored, "secret", NULL, &error);
		int bad = password_verify(good[i].stored, "Secret", NULL, &error);

		if (ok != 1 || bad != 0)
			printf("# %s: right=%d wrong=%d\n", good[i].stored, ok, bad);
		CHECK_INT(ok, 1);
		CHECK_INT(bad, 0);
		CHECK_INT(password_verify(good[i].stored, "", NULL, &error), 0);
	}
}

static void test_password_default_scheme(void)
{
	const char *error = NULL;

	CHECK_INT(password_verify("secret", "secret", "PLAIN", &error), 1);
	CHECK_INT(password_verify("secret", "secret", NULL, &error), -1);
	CHECK_STR(error, "unknown password scheme");
	/* An explicit prefix wins over the default. */
	CHECK_INT(password_verify("{SSHA}lHFzXul4wnzRItssVcTnvXWRjNgBAgMEBQYHCA==",
				  "secret", "PLAIN", &error), 1);
}

static void test_password_malformed(void)
{
	static const char *const bad[] = {
		"{NOSUCH}abc",
		"{SHA512-CRYPT}$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
		"{BLF-CRYPT}$6$abcdefgh$x",
		"{SHA512-CRYPT}",
		"{SHA512-CRYPT}$6$",
		"{SSHA}",
		"{SSHA}not base64!",
		"{SSHA}AAAA",  /* shorter than a digest */
		"{SSHA512}lHFzXul4wnzRItssVcTnvXWRjNgBAgMEBQYHCA==", /* a SHA1-sized value */
		"{ARGON2ID}$argon2id$v=19$m=1024",
		"{ARGON2ID}$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHQxMjM0$jcqmMnACzjVoeatxdd9UOAIVlvI7CLlrgelSM+JOtQo",
		"{CRYPT}*",
		"{unterminated",
	};
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		int r = password_verify(bad[i], "secret", NULL, &error);
		if (r != -1)
			printf("# %s gave %d\n", bad[i], r);
		CHECK_INT(r, -1);
		CHECK(error != NULL);
	}
}

static void test_password_generate(void)
{
	const char *name, *error = NULL;
	char *a, *b;

	for (size_t i = 0; (name = password_scheme_generatable(i)) != NULL; i++) {
		CHECK_INT(password_hash(name, "pässword", &a, &error), 0);
		CHECK_INT(password_hash(name, "pässword", &b, &error), 0);
		CHECK(strncmp(a, "{", 1) == 0 && strstr(a, name) == a + 1);
		CHECK_INT(password_verify(a, "pässword", NULL, &error), 1);
		CHECK_INT(password_verify(a, "password", NULL, &error), 0);
		/* Fresh salt each time, except for PLAIN. */
		if (strcmp(name, "PLAIN") != 0)
			CHECK(strcmp(a, b) != 0);
		free(a);
		free(b);
	}
	CHECK_INT(password_hash("MD5-CRYPT", "x", &a, &error), -1);
	CHECK_INT(password_hash("NOSUCH", "x", &a, &error), -1);
	CHECK(password_scheme_generatable(0) != NULL);
}

int main(void)
{
	test_run("password reference hashes verify", test_password_reference_hashes);
	test_run("password default scheme", test_password_default_scheme);
	test_run("password malformed stored values", test_password_malformed);
	test_run("password generate and verify round trip", test_password_generate);
	return test_done();
}
