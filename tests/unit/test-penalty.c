#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "penalty.h"
#include "test.h"

static struct netaddr addr(const char *s)
{
	struct netaddr a;

	memset(&a, 0, sizeof(a));
	if (netaddr_parse(&a, s) < 0)
		test_check_failed(__FILE__, __LINE__, s);
	return a;
}

static const struct authd_penalty_settings set = {
	.base_ms = 1000, .max_ms = 15000, .window = 3600, .max_entries = 100,
};

static void test_penalty_doubles_up_to_max(void)
{
	struct authd_penalty *p = authd_penalty_new(&set);
	struct netaddr a = addr("192.0.2.7"), b = addr("192.0.2.8");
	static const unsigned want[] = { 1000, 2000, 4000, 8000, 15000, 15000 };

	CHECK_INT(authd_penalty_delay(p, &a, 0), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_INT(authd_penalty_fail(p, &a, 10), i + 1);
		CHECK_INT(authd_penalty_delay(p, &a, 10), want[i]);
	}
	/* Another address is not affected. */
	CHECK_INT(authd_penalty_delay(p, &b, 10), 0);
	/* A success forgets. */
	authd_penalty_success(p, &a);
	CHECK_INT(authd_penalty_delay(p, &a, 10), 0);
	authd_penalty_free(p);
}

static void test_penalty_window(void)
{
	struct authd_penalty *p = authd_penalty_new(&set);
	struct netaddr a = addr("192.0.2.7");

	authd_penalty_fail(p, &a, 100);
	authd_penalty_fail(p, &a, 200);
	CHECK_INT(authd_penalty_delay(p, &a, 200 + 3599), 2000);
	/* Each failure restarts the window; an hour of quiet forgets. */
	CHECK_INT(authd_penalty_delay(p, &a, 200 + 3600), 0);
	CHECK_INT(authd_penalty_fail(p, &a, 200 + 3600), 1);
	authd_penalty_free(p);
}

static void test_penalty_ipv6_per_48(void)
{
	struct authd_penalty *p = authd_penalty_new(&set);
	struct netaddr a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:ffff::99"),
		       c = addr("2001:db8:2::1");
	char bucket[NETADDR_STRLEN];

	CHECK_STR(authd_penalty_bucket(&a, bucket), "2001:db8:1::/48");
	c = addr("::ffff:192.0.2.9");
	CHECK_STR(authd_penalty_bucket(&c, bucket), "192.0.2.9");
	c = addr("2001:db8:2::1");
	authd_penalty_fail(p, &a, 0);
	authd_penalty_fail(p, &b, 0);
	/* Same /48: one count of two failures. */
	CHECK_INT(authd_penalty_delay(p, &a, 0), 2000);
	CHECK_INT(authd_penalty_delay(p, &c, 0), 0);
	authd_penalty_free(p);
}

static void test_penalty_trusted_exempt(void)
{
	struct netmask_list trusted;
	const char *error = NULL;
	struct authd_penalty_settings s = set;
	struct authd_penalty *p;
	struct netaddr web = addr("10.1.2.3"), mapped = addr("::ffff:10.1.2.4");

	CHECK_INT(netmask_list_parse(&trusted, "10.0.0.0/8, ::1", &error), 0);
	s.trusted = &trusted;
	p = authd_penalty_new(&s);
	CHECK_INT(authd_penalty_fail(p, &web, 0), 0);
	CHECK_INT(authd_penalty_fail(p, &mapped, 0), 0);
	CHECK_INT(authd_penalty_delay(p, &web, 0), 0);
	authd_penalty_free(p);
	netmask_list_free(&trusted);
}

static void test_penalty_bounded(void)
{
	struct authd_penalty_settings s = set;
	struct authd_penalty *p;
	struct netaddr a = addr("198.51.100.1"), other;
	char text[32];

	s.max_entries = 10;
	p = authd_penalty_new(&s);
	authd_penalty_fail(p, &a, 0);
	/* Many other addresses push the oldest quiet one out. */
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "203.0.113.%d", i);
		other = addr(text);
		authd_penalty_fail(p, &other, 1);
	}
	CHECK_INT(authd_penalty_delay(p, &a, 1), 0);
	CHECK_INT(authd_penalty_delay(p, &other, 1), 1000);
	authd_penalty_free(p);
}

int main(void)
{
	test_run("penalty doubles up to the maximum", test_penalty_doubles_up_to_max);
	test_run("penalty forgotten after the window", test_penalty_window);
	test_run("penalty counts IPv6 per /48", test_penalty_ipv6_per_48);
	test_run("penalty exempts trusted networks", test_penalty_trusted_exempt);
	test_run("penalty table is bounded", test_penalty_bounded);
	return test_done();
}
