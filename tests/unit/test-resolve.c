/* Recipient resolution, domain checks and sender ownership over the real
 * passwd-file backend and the fixture in tests/data/authd. */
#include <stdlib.h>
#include <string.h>

#include "authd-fixture.h"
#include "resolve.h"
#include "test.h"

static struct fixture fx;
static char relay_cfg[] = "configured-relay.test";
static char *relay_list[] = { relay_cfg };
static struct resolve_settings set = {
	.delimiters = "+",
	.max_depth = 3,
	.relay_domains = relay_list,
	.nrelay_domains = 1,
};

/* The answer as one string: "<status> <kind> [detail] target..." with
 * local targets as "L:addr:maildir" and remote ones as "R:addr". */
static char *rcpt(const char *addr)
{
	static const char *const kinds[] = { "mailbox", "alias", "relay" };
	struct resolve_result r;
	char out[2048];
	size_t len;

	resolve_rcpt(&fx.db, &set, addr, &r);
	switch (r.status) {
	case RESOLVE_UNKNOWN: strcpy(out, "unknown"); break;
	case RESOLVE_TEMPFAIL: snprintf(out, sizeof(out), "tempfail %s", r.reason); break;
	case RESOLVE_FAIL: snprintf(out, sizeof(out), "fail %s", r.reason); break;
	case RESOLVE_OK:
		snprintf(out, sizeof(out), "ok %s", kinds[r.kind]);
		if (r.detail != NULL)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), " +%s", r.detail);
		for (size_t i = 0; i < r.count; i++) {
			len = strlen(out);
			if (r.targets[i].maildir != NULL)
				snprintf(out + len, sizeof(out) - len, " L:%s:%s", r.targets[i].addr,
					 r.targets[i].maildir);
			else
				snprintf(out + len, sizeof(out) - len, " R:%s", r.targets[i].addr);
		}
		break;
	}
	resolve_result_free(&r);
	return strdup(out);
}

#define CHECK_RCPT(addr, want) do { \
	char *got_ = rcpt(addr); \
	CHECK_STR(got_, want); \
	free(got_); \
} while (0)

static void test_mailbox(void)
{
	CHECK_RCPT("demo@example.test", "ok mailbox L:demo@example.test:example.test/demo/");
	CHECK_RCPT("nobody@example.test", "unknown");
	/* disabled, or not receiving mail */
	CHECK_RCPT("off@example.test", "unknown");
	CHECK_RCPT("nodeliver@example.test", "unknown");
	CHECK_RCPT("u@offdom.test", "unknown");
	/* a PostfixAdmin self-row ("a@d: a@d") names just the mailbox */
	CHECK_RCPT("self@example.test", "ok mailbox L:self@example.test:example.test/self/");
	CHECK_RCPT("self+tag@example.test",
		   "ok mailbox +tag L:self@example.test:example.test/self/");
	CHECK_RCPT("selfoff@example.test", "unknown");
}

static void test_alias(void)
{
	CHECK_RCPT("info@example.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("team@example.test",
		   "ok alias L:demo@example.test:example.test/demo/ "
		   "L:other@other.test:other.test/other/ R:friend@remote.test");
	/* the mailbox's own row: a copy stays, one goes on */
	CHECK_RCPT("pfa@example.test",
		   "ok alias L:pfa@example.test:example.test/pfa/ R:friend@remote.test");
	/* a target that names no mailbox is dropped; none left is unknown */
	CHECK_RCPT("half@example.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("dangling@example.test", "unknown");
}

static void test_catchall(void)
{
	/* only when neither a mailbox nor an alias has the exact address */
	CHECK_RCPT("real@catch.test", "ok mailbox L:real@catch.test:catch.test/real/");
	CHECK_RCPT("al@catch.test", "ok alias L:real@catch.test:catch.test/real/");
	CHECK_RCPT("anything@catch.test",
		   "ok alias L:postmaster@catch.test:catch.test/postmaster/");
	/* "@domain" as a catch-all target keeps the local part */
	CHECK_RCPT("info@redirect.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("nobody@redirect.test", "unknown");
	/* no catch-all in example.test */
	CHECK_RCPT("whoever@example.test", "unknown");
}

static void test_alias_domain(void)
{
	CHECK_RCPT("demo@alias.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("info@alias.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("nobody@alias.test", "unknown");
	CHECK_RCPT("toalias@example.test", "ok alias L:demo@example.test:example.test/demo/");
	/* a disabled alias domain receives nothing */
	CHECK_RCPT("demo@offalias.test", "unknown");
}

static void test_chains(void)
{
	CHECK_RCPT("chain1@example.test", "ok alias L:demo@example.test:example.test/demo/");
	CHECK_RCPT("deep1@example.test", "fail alias chain too deep at demo@example.test");
	CHECK_RCPT("loop1@example.test", "fail alias loop at loop1@example.test");
}

static void test_delimiter(void)
{
	CHECK_RCPT("demo+news@example.test",
		   "ok mailbox +news L:demo@example.test:example.test/demo/");
	CHECK_RCPT("info+x@example.test", "ok alias +x L:demo@example.test:example.test/demo/");
	CHECK_RCPT("nobody+x@example.test", "unknown");
	/* the catch-all comes after the stripped address */
	CHECK_RCPT("real+x@catch.test", "ok mailbox +x L:real@catch.test:catch.test/real/");
	CHECK_RCPT("zz+x@catch.test", "ok alias L:postmaster@catch.test:catch.test/postmaster/");
	/* a leading delimiter is no delimiter */
	CHECK_RCPT("+demo@example.test", "unknown");
}

static void test_domains(void)
{
	struct authd_domain d;
	const char *err;

	CHECK_RCPT("x@nowhere.test", "unknown");
	CHECK_RCPT("x@relay.test", "ok relay R:x@relay.test");
	CHECK_RCPT("x@configured-relay.test", "ok relay R:x@configured-relay.test");

	CHECK_INT(resolve_domain(&fx.db, &set, "example.test", &d, &err), AUTHD_OK);
	CHECK(d.hosted && d.active && !d.relay && d.alias_target == NULL);
	authd_domain_free(&d);
	CHECK_INT(resolve_domain(&fx.db, &set, "alias.test", &d, &err), AUTHD_OK);
	CHECK_STR(d.alias_target, "example.test");
	authd_domain_free(&d);
	CHECK_INT(resolve_domain(&fx.db, &set, "relay.test", &d, &err), AUTHD_OK);
	CHECK(d.relay && !d.hosted);
	authd_domain_free(&d);
	CHECK_INT(resolve_domain(&fx.db, &set, "configured-relay.test", &d, &err), AUTHD_OK);
	CHECK(d.relay);
	authd_domain_free(&d);
	CHECK_INT(resolve_domain(&fx.db, &set, "offdom.test", &d, &err), AUTHD_OK);
	CHECK(d.hosted && !d.active);
	authd_domain_free(&d);
	CHECK_INT(resolve_domain(&fx.db, &set, "nowhere.test", &d, &err), AUTHD_NOTFOUND);
}

static void test_sender(void)
{
	const char *err;
	const char *login = "demo@example.test";

	CHECK_INT(resolve_sender(&fx.db, &set, login, login, &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "info@example.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "team@example.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "chain1@example.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "demo@alias.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "info@alias.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "demo+x@example.test", &err), AUTHD_OK);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "other@other.test", &err), AUTHD_NOTFOUND);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "pfa@example.test", &err), AUTHD_NOTFOUND);
	CHECK_INT(resolve_sender(&fx.db, &set, "other@other.test", "demo@example.test", &err),
		  AUTHD_NOTFOUND);
	CHECK_INT(resolve_sender(&fx.db, &set, "other@other.test", "team@example.test", &err),
		  AUTHD_OK);
	/* a catch-all grants no sending */
	CHECK_INT(resolve_sender(&fx.db, &set, "postmaster@catch.test", "x@catch.test", &err),
		  AUTHD_NOTFOUND);
	CHECK_INT(resolve_sender(&fx.db, &set, login, "demo@offalias.test", &err),
		  AUTHD_NOTFOUND);
}

/* A second pass answers from the cache and must say the same. */
static void test_cached_again(void)
{
	CHECK(authd_cache_count(fx.cache) > 0);
	test_alias();
	test_chains();
}

int main(void)
{
	fixture_open(&fx, NULL, NULL, NULL);
	test_run("mailbox", test_mailbox);
	test_run("alias", test_alias);
	test_run("catch-all", test_catchall);
	test_run("alias domain", test_alias_domain);
	test_run("chains, loops, depth", test_chains);
	test_run("recipient delimiter", test_delimiter);
	test_run("domains", test_domains);
	test_run("sender ownership", test_sender);
	test_run("cached answers", test_cached_again);
	fixture_close(&fx);
	return test_done();
}
