/* The passwd-file backend: its parser fed whole and a byte at a time,
 * malformed lines, lookups, and re-reading a changed file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd-fixture.h"
#include "backend-passwd-file.h"
#include "core.h"
#include "test.h"

static const char users_text[] =
	"# comment\n"
	"\n"
	"a@Example.TEST:{PLAIN}pw:1000:1000:Ann:/home/a:/bin/sh:quota_bytes=10 quota_messages=2 services=imap,deliver userdb_foo=bar\r\n"
	"b@example.test:{PLAIN}pw\n"
	"c@example.test:{PLAIN}pw::::::maildir=custom/c/ active=no\n"
	"nopass@example.test:\n"
	"  spaced@example.test:{PLAIN}pw  \n"
	"bad-no-colon\n"
	"notanaddress:{PLAIN}x\n"
	"q@example.test:x::::::quota_bytes=lots\n"
	"s@example.test:x::::::services=imap,fax\n"
	"u@example.test:x:abc\n"
	"e@example.test:x::::::novalue\n"
	"b@example.test:{PLAIN}again\n"
	"@example.test:x\n"
	"nul@example.test:x\0y\n"
	"last@example.test:{PLAIN}pw";

static const unsigned users_malformed = 9;

static struct pwf_table *load(enum pwf_kind kind, const char *text, size_t len,
			      size_t step, unsigned *malformed_r)
{
	struct pwf_table *t = pwf_table_new();
	struct pwf_load *ld = pwf_load_begin(t, kind, "test");

	for (size_t i = 0; i < len; i += step)
		pwf_load_feed(ld, text + i, len - i < step ? len - i : step);
	*malformed_r = pwf_load_end(ld);
	return t;
}

static void check_users(const struct pwf_table *t)
{
	struct authd_user u;

	CHECK_INT(pwf_table_user(t, "a@example.test", &u), AUTHD_OK);
	CHECK_STR(u.user, "a@example.test");
	CHECK_STR(u.password, "{PLAIN}pw");
	CHECK_STR(u.maildir, "/home/a/");
	CHECK_INT(u.quota_bytes, 10);
	CHECK_INT(u.quota_messages, 2);
	CHECK_INT(u.services, AUTHD_SVC_IMAP | AUTHD_SVC_DELIVER);
	CHECK(u.active && u.domain_active);
	authd_user_free(&u);

	CHECK_INT(pwf_table_user(t, "b@example.test", &u), AUTHD_OK);
	CHECK_STR(u.password, "{PLAIN}pw"); /* the duplicate was skipped */
	CHECK_STR(u.maildir, "example.test/b/");
	CHECK_INT(u.services, AUTHD_SVC_ALL);
	authd_user_free(&u);

	CHECK_INT(pwf_table_user(t, "c@example.test", &u), AUTHD_OK);
	CHECK_STR(u.maildir, "custom/c/");
	CHECK(!u.active);
	authd_user_free(&u);

	CHECK_INT(pwf_table_user(t, "nopass@example.test", &u), AUTHD_OK);
	CHECK(u.password == NULL);
	authd_user_free(&u);

	CHECK_INT(pwf_table_user(t, "spaced@example.test", &u), AUTHD_OK);
	authd_user_free(&u);
	CHECK_INT(pwf_table_user(t, "last@example.test", &u), AUTHD_OK);
	authd_user_free(&u);
	CHECK_INT(pwf_table_user(t, "q@example.test", &u), AUTHD_NOTFOUND);
	CHECK_INT(pwf_table_user(t, "nul@example.test", &u), AUTHD_NOTFOUND);
	/* The local part's case does not matter; the answer names the
	 * address as stored. */
	CHECK_INT(pwf_table_user(t, "A@example.test", &u), AUTHD_OK);
	CHECK_STR(u.user, "a@example.test");
	authd_user_free(&u);
}

static void test_users_whole(void)
{
	unsigned bad;
	struct pwf_table *t = load(PWF_USERS, users_text, sizeof(users_text) - 1,
				   sizeof(users_text), &bad);

	CHECK_INT(bad, users_malformed);
	check_users(t);
	pwf_table_free(t);
}

static void test_users_trickle(void)
{
	unsigned bad;
	struct pwf_table *t = load(PWF_USERS, users_text, sizeof(users_text) - 1, 1, &bad);

	CHECK_INT(bad, users_malformed);
	check_users(t);
	pwf_table_free(t);
}

static void test_too_long(void)
{
	size_t len = PWF_LINE_MAX + 100;
	char *text = malloc(len + 64);
	struct authd_user u;
	unsigned bad;
	struct pwf_table *t;

	memset(text, 'x', len);
	strcpy(text + len, "\nok@example.test:{PLAIN}pw\n");
	t = load(PWF_USERS, text, strlen(text), 1000, &bad);
	CHECK_INT(bad, 1);
	CHECK_INT(pwf_table_user(t, "ok@example.test", &u), AUTHD_OK);
	authd_user_free(&u);
	pwf_table_free(t);
	free(text);
}

static void test_aliases_domains(void)
{
	static const char aliases[] =
		"x@Example.test: a@example.test, B@Remote.TEST\n"
		"@catch.test: a@example.test\n"
		"empty@example.test:\n"
		"noaddr@example.test: not an address!\n"
		"missing colon\n"
		"x@example.test: dup@example.test\n";
	static const char domains[] =
		"Example.TEST\n"
		"alias.test alias-of=example.test\n"
		"relay.test relay\n"
		"off.test inactive\n"
		"bad.test frobnicate\n"
		"both.test relay alias-of=example.test\n"
		"example.test\n";
	struct authd_targets tg;
	struct authd_domain d;
	unsigned bad;
	struct pwf_table *t;

	for (size_t step = 1; step <= sizeof(aliases); step += sizeof(aliases) - 1) {
		t = load(PWF_ALIASES, aliases, sizeof(aliases) - 1, step, &bad);
		CHECK_INT(bad, 4);
		CHECK_INT(pwf_table_alias(t, "x@example.test", &tg), AUTHD_OK);
		CHECK_INT(tg.count, 2);
		if (tg.count == 2)
			CHECK_STR(tg.items[1], "B@remote.test");
		authd_targets_free(&tg);
		CHECK_INT(pwf_table_alias(t, "@catch.test", &tg), AUTHD_OK);
		authd_targets_free(&tg);
		/* domains holding aliases are hosted without a domains file */
		CHECK_INT(pwf_table_domain(t, "catch.test", &d), AUTHD_OK);
		CHECK(d.hosted && d.active);
		authd_domain_free(&d);
		pwf_table_free(t);

		t = load(PWF_DOMAINS, domains, sizeof(domains) - 1, step, &bad);
		CHECK_INT(bad, 3);
		CHECK_INT(pwf_table_domain(t, "alias.test", &d), AUTHD_OK);
		CHECK_STR(d.alias_target, "example.test");
		CHECK(!d.hosted);
		authd_domain_free(&d);
		CHECK_INT(pwf_table_domain(t, "relay.test", &d), AUTHD_OK);
		CHECK(d.relay && !d.hosted);
		authd_domain_free(&d);
		CHECK_INT(pwf_table_domain(t, "off.test", &d), AUTHD_OK);
		CHECK(d.hosted && !d.active);
		authd_domain_free(&d);
		CHECK_INT(pwf_table_domain(t, "bad.test", &d), AUTHD_NOTFOUND);
		CHECK_INT(pwf_table_domain(t, "nowhere.test", &d), AUTHD_NOTFOUND);
		pwf_table_free(t);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

/* A changed file is read again on the next lookup a second later; one
 * that vanishes leaves the tables as they were. */
static void test_reread(void)
{
	char dir[] = "/tmp/mr-pwf-XXXXXX", path[64];
	struct fixture f;
	struct authd_user u;
	const char *err;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/users", dir);
	write_file(path, "a@example.test:{PLAIN}x\n");
	fixture_open(&f, path, "", "");
	CHECK_INT(f.db.ops->user_lookup(f.db.backend, "b@example.test", &u, &err), AUTHD_NOTFOUND);
	write_file(path, "a@example.test:{PLAIN}x\nb@example.test:{PLAIN}y\n");
	sleep(1);
	CHECK_INT(f.db.ops->user_lookup(f.db.backend, "b@example.test", &u, &err), AUTHD_OK);
	authd_user_free(&u);
	unlink(path);
	sleep(1);
	CHECK_INT(f.db.ops->user_lookup(f.db.backend, "b@example.test", &u, &err), AUTHD_OK);
	authd_user_free(&u);
	fixture_close(&f);
	rmdir(dir);
}

static void test_init_fails(void)
{
	struct authd_backend *b;
	struct cfg *cfg;
	const struct cfg_def *defs;
	const char *err = NULL;
	size_t n;

	defs = authd_all_defs(&n);
	cfg = cfg_new(defs, n);
	CHECK(cfg_set(cfg, "passwd_file", "/nonexistent/users", &err) == 0);
	CHECK_INT(authd_backend_passwd_file.init(cfg, &b, &err), -1);
	CHECK(err != NULL && strstr(err, "/nonexistent/users") != NULL);
	cfg_free(cfg);
}

int main(void)
{
	test_run("users, whole", test_users_whole);
	test_run("users, trickle", test_users_trickle);
	test_run("over-long line", test_too_long);
	test_run("aliases and domains", test_aliases_domains);
	test_run("re-read on change", test_reread);
	test_run("missing file at start", test_init_fails);
	return test_done();
}
