/* authd_login_verify over the passwd-file fixture: verdicts, the penalty
 * it records, and authd_submit running work off the loop thread. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "test.h"

static struct authd *open_authd(uv_loop_t *loop)
{
	const char *src = getenv("top_srcdir"), *err = NULL;
	static const char *const files[][2] = {
		{ "passwd_file", "users" }, { "passwd_file_aliases", "aliases" },
		{ "passwd_file_domains", "domains" },
	};
	const struct cfg_def *defs;
	struct authd *a;
	struct cfg *cfg;
	size_t n;

	defs = authd_all_defs(&n);
	cfg = cfg_new(defs, n);
	for (size_t i = 0; i < 3; i++) {
		char *p = malloc(4096);

		snprintf(p, 4096, "%s/tests/data/authd/%s", src != NULL ? src : ".", files[i][1]);
		CHECK(cfg_set(cfg, files[i][0], p, &err) == 0);
		free(p);
	}
	CHECK(cfg_set(cfg, "default_domain", "Example.TEST", &err) == 0);
	CHECK(cfg_set(cfg, "penalty_base", "100", &err) == 0);
	a = authd_new(loop, cfg, &err);
	CHECK(a != NULL);
	cfg_free(cfg);
	return a;
}

static enum authd_verdict login(struct authd *a, const char *service, const char *rip,
				const char *user, const char *pw)
{
	struct netaddr addr;
	struct authd_login l = { .service = service, .rip = &addr, .sid = "test" };
	struct authd_user u;
	enum authd_verdict v;

	netaddr_parse(&addr, rip);
	v = authd_login_verify(a, &l, user, pw, &u);
	if (v == AUTHD_LOGIN_OK)
		CHECK(u.user != NULL && strchr(u.user, '@') != NULL);
	else
		CHECK(u.user == NULL);
	authd_user_free(&u);
	return v;
}

static void test_verdicts(void)
{
	uv_loop_t loop;
	struct authd *a;
	struct netaddr rip;

	uv_loop_init(&loop);
	a = open_authd(&loop);
	CHECK_INT(login(a, "imap", "192.0.2.1", "demo@example.test", "secret"), AUTHD_LOGIN_OK);
	/* default_domain, trimmed, domain case-folded */
	CHECK_INT(login(a, "imap", "192.0.2.1", " demo ", "secret"), AUTHD_LOGIN_OK);
	CHECK_INT(login(a, "imap", "192.0.2.1", "demo@EXAMPLE.test", "secret"), AUTHD_LOGIN_OK);
	CHECK_INT(login(a, "imap", "192.0.2.1", "demo@example.test", "Secret"), AUTHD_LOGIN_FAIL);
	CHECK_INT(login(a, "imap", "192.0.2.1", "nobody@example.test", "x"), AUTHD_LOGIN_FAIL);
	CHECK_INT(login(a, "imap", "192.0.2.1", "' OR 1=1 --", "x"), AUTHD_LOGIN_FAIL);
	CHECK_INT(login(a, "imap", "192.0.2.1", "off@example.test", "x"), AUTHD_LOGIN_DISABLED);
	CHECK_INT(login(a, "imap", "192.0.2.1", "off@example.test", "y"), AUTHD_LOGIN_FAIL);
	CHECK_INT(login(a, "smtp", "192.0.2.2", "nodeliver@example.test", "x"),
		  AUTHD_LOGIN_DISABLED);
	CHECK_INT(login(a, "pop3", "192.0.2.2", "nodeliver@example.test", "x"), AUTHD_LOGIN_OK);
	CHECK_INT(login(a, "imap", "192.0.2.1", "u@offdom.test", "x"), AUTHD_LOGIN_DISABLED);
	/* five failures from 192.0.2.1 since its last success */
	netaddr_parse(&rip, "192.0.2.1");
	CHECK(authd_penalty_delay_for(a, &rip) >= 100);
	netaddr_parse(&rip, "192.0.2.99");
	CHECK_INT(authd_penalty_delay_for(a, &rip), 0);
	authd_free(a);
	uv_loop_close(&loop);
}

struct job {
	pthread_t worker;
	bool done;
};

static void job_work(void *ctx)
{
	struct job *j = ctx;

	j->worker = pthread_self();
}

static void job_done(void *ctx)
{
	struct job *j = ctx;

	j->done = true;
}

static void test_submit(void)
{
	uv_loop_t loop;
	struct authd *a;
	struct job j = { 0 };

	uv_loop_init(&loop);
	a = open_authd(&loop);
	authd_submit(a, job_work, job_done, &j);
	CHECK(!j.done);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(j.done);
	CHECK(!pthread_equal(j.worker, pthread_self()));
	authd_free(a);
	uv_loop_close(&loop);
}

int main(void)
{
	test_run("login verdicts and penalty", test_verdicts);
	test_run("work runs on a worker", test_submit);
	return test_done();
}
