#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "test.h"

static void test_netaddr_parse_format(void)
{
	static const struct {
		const char *in, *out;
		int family;
	} good[] = {
		{ "192.0.2.1", "192.0.2.1", AF_INET },
		{ "0.0.0.0", "0.0.0.0", AF_INET },
		{ "255.255.255.255", "255.255.255.255", AF_INET },
		{ "2001:db8::1", "2001:db8::1", AF_INET6 },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6 },
		{ "::", "::", AF_INET6 },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1", AF_INET6 },
	};
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
		"abc", "2001:db8:::1", "fe80::1%eth0", "::1/128", "[::1]", "1.2.3.4:25",
	};
	char out[NETADDR_STRLEN];
	struct netaddr a;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK_INT(netaddr_parse(&a, good[i].in), 0);
		CHECK_INT(a.family, good[i].family);
		CHECK_INT(a.port, 0);
		CHECK_STR(netaddr_str(&a, out), good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (netaddr_parse(&a, bad[i]) != -1)
			printf("# accepted \"%s\"\n", bad[i]);
		CHECK_INT(netaddr_parse(&a, bad[i]), -1);
	}
	/* Length-bounded form: the rest of the string is not looked at, and
	 * an embedded NUL cannot hide junk. */
	CHECK_INT(netaddr_parse_n(&a, "10.1.2.3 trailing", 8), 0);
	CHECK_STR(netaddr_str(&a, out), "10.1.2.3");
	CHECK_INT(netaddr_parse_n(&a, "1.2.3.4\0x", 9), -1);
	CHECK_INT(netaddr_parse_n(&a, "", 0), -1);
}

static void test_netaddr_port(void)
{
	uint16_t port = 1;

	CHECK_INT(netaddr_parse_port("0", 1, &port), 0);
	CHECK_INT(port, 0);
	CHECK_INT(netaddr_parse_port("65535", 5, &port), 0);
	CHECK_INT(port, 65535);
	CHECK_INT(netaddr_parse_port("25x", 2, &port), 0);
	CHECK_INT(port, 25);
	CHECK_INT(netaddr_parse_port("65536", 5, &port), -1);
	CHECK_INT(netaddr_parse_port("025", 3, &port), -1);
	CHECK_INT(netaddr_parse_port("-1", 2, &port), -1);
	CHECK_INT(netaddr_parse_port("+1", 2, &port), -1);
	CHECK_INT(netaddr_parse_port("", 0, &port), -1);
	CHECK_INT(netaddr_parse_port("100000", 6, &port), -1);
	CHECK_INT(netaddr_parse_port("2 5", 3, &port), -1);
	CHECK_INT(port, 25);
}

static void test_netaddr_sockaddr(void)
{
	struct sockaddr_storage ss;
	struct netaddr a, b;
	socklen_t len;

	netaddr_parse(&a, "2001:db8::7");
	a.port = 993;
	netaddr_to_sockaddr(&a, &ss, &len);
	CHECK_INT(len, sizeof(struct sockaddr_in6));
	CHECK_INT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 993);
	CHECK_INT(netaddr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	CHECK_INT(b.family, AF_INET6);
	CHECK_INT(b.port, 993);
	CHECK_MEM(b.addr, 16, a.addr, 16);

	netaddr_parse(&a, "192.0.2.9");
	a.port = 25;
	netaddr_to_sockaddr(&a, &ss, &len);
	CHECK_INT(len, sizeof(struct sockaddr_in));
	CHECK_INT(netaddr_from_sockaddr(&b, (struct sockaddr *)&ss), 0);
	CHECK_INT(b.family, AF_INET);
	CHECK_INT(b.port, 25);
	CHECK_MEM(b.addr, 4, a.addr, 4);

	ss.ss_family = AF_UNIX;
	CHECK_INT(netaddr_from_sockaddr(&b, (struct sockaddr *)&ss), -1);
}

static bool match(const char *net, const char *addr)
{
	struct netmask m;
	struct netaddr a;
	const char *error = NULL;

	if (netmask_parse(&m, net, &error) < 0 || netaddr_parse(&a, addr) < 0) {
		printf("# cannot parse %s or %s: %s\n", net, addr, error);
		return false;
	}
	return netmask_match(&m, &a);
}

static void test_netmask_match(void)
{
	CHECK(match("10.0.0.0/8", "10.1.2.3"));
	CHECK(!match("10.0.0.0/8", "11.0.0.1"));
	CHECK(match("192.0.2.128/25", "192.0.2.200"));
	CHECK(!match("192.0.2.128/25", "192.0.2.100"));
	/* Host bits in the network are cleared. */
	CHECK(match("192.0.2.7/24", "192.0.2.99"));
	/* Host masks, explicit and implied. */
	CHECK(match("192.0.2.7/32", "192.0.2.7"));
	CHECK(!match("192.0.2.7/32", "192.0.2.6"));
	CHECK(match("192.0.2.7", "192.0.2.7"));
	CHECK(!match("192.0.2.7", "192.0.2.8"));
	CHECK(match("::1", "::1"));
	CHECK(match("::1/128", "::1"));
	CHECK(!match("::1/128", "::2"));
	/* /0 */
	CHECK(match("0.0.0.0/0", "203.0.113.5"));
	CHECK(!match("0.0.0.0/0", "2001:db8::1"));
	CHECK(match("::/0", "2001:db8::1"));
	CHECK(match("::/0", "203.0.113.5"));
	CHECK(match("2001:db8::/32", "2001:db8:1::1"));
	CHECK(!match("2001:db8::/32", "2001:db9::1"));
	CHECK(match("2001:db8::/127", "2001:db8::1"));
	CHECK(!match("2001:db8::/127", "2001:db8::2"));
	CHECK(match("2001:db8::/33", "2001:db8:7fff::1"));
	CHECK(!match("2001:db8::/33", "2001:db8:8000::1"));
	/* IPv4-mapped IPv6 meets IPv4 networks, both ways. */
	CHECK(match("10.0.0.0/8", "::ffff:10.9.8.7"));
	CHECK(!match("10.0.0.0/8", "::ffff:11.0.0.1"));
	CHECK(!match("10.0.0.0/8", "::10.9.8.7"));
	CHECK(!match("10.0.0.0/8", "2001:db8::a09:807"));
	CHECK(match("127.0.0.1", "::ffff:127.0.0.1"));
	CHECK(match("::ffff:10.0.0.0/104", "10.200.0.1"));
	CHECK(!match("::ffff:10.0.0.0/104", "11.0.0.1"));
	CHECK(!match("2001:db8::/32", "10.0.0.1"));
}

static void test_netmask_bad(void)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/8x", "10.0.0.0/ 8", "/8", "10.0.0.0/08", "10.0.0.0/8/8",
		"garbage", "", "10.0.0/8", "::/1000", "10.0.0.0/4294967304",
	};
	struct netmask m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;

		CHECK_INT(netmask_parse(&m, bad[i], &error), -1);
		CHECK(error != NULL && strstr(error, bad[i]) != NULL);
	}
}

static void test_netmask_list(void)
{
	struct netmask_list l;
	struct netaddr a;
	const char *error = NULL;

	CHECK_INT(netmask_list_parse(&l, "127.0.0.0/8, ::1  10.0.0.0/8,", &error), 0);
	CHECK_INT(l.count, 3);
	netaddr_parse(&a, "127.0.0.2");
	CHECK(netmask_list_match(&l, &a));
	netaddr_parse(&a, "::1");
	CHECK(netmask_list_match(&l, &a));
	netaddr_parse(&a, "10.3.3.3");
	CHECK(netmask_list_match(&l, &a));
	netaddr_parse(&a, "192.0.2.1");
	CHECK(!netmask_list_match(&l, &a));
	netmask_list_free(&l);
	CHECK_INT(l.count, 0);

	CHECK_INT(netmask_list_parse(&l, "", &error), 0);
	CHECK_INT(l.count, 0);
	CHECK(!netmask_list_match(&l, &a));
	netmask_list_free(&l);
	CHECK_INT(netmask_list_parse(&l, " , \t", &error), 0);
	CHECK_INT(l.count, 0);
	netmask_list_free(&l);

	CHECK_INT(netmask_list_parse(&l, "127.0.0.1, bogus/8 ::1", &error), -1);
	CHECK(strstr(error, "'bogus/8'") != NULL);
	CHECK(l.items == NULL);
	CHECK_INT(l.count, 0);
	CHECK_INT(netmask_list_parse(&l, "::1 10.0.0.0/33", &error), -1);
	CHECK(strstr(error, "prefix") != NULL);
}

static void test_netaddr_hostport(void)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:+25", "127.0.0.1:025", "127.0.0.1:25 ", "::1:25", "[::1]25",
		"[127.0.0.1]:25", "[::1:25", "::1]:25", "host.example:25", "*:", ":25",
		"[]:25", "**:25", "[*]:25", "", "127.0.0.1:2x",
	};
	char out[NETADDR_STRLEN];
	struct netaddr a;
	const char *error = NULL;

	CHECK_INT(netaddr_parse_hostport(&a, "127.0.0.1:25", &error), 0);
	CHECK_INT(a.family, AF_INET);
	CHECK_INT(a.port, 25);
	CHECK_STR(netaddr_str(&a, out), "127.0.0.1");
	CHECK_INT(netaddr_parse_hostport(&a, "[::1]:143", &error), 0);
	CHECK_INT(a.family, AF_INET6);
	CHECK_INT(a.port, 143);
	CHECK_STR(netaddr_str(&a, out), "::1");
	CHECK_INT(netaddr_parse_hostport(&a, "*:65535", &error), 0);
	CHECK(a.family == AF_INET6 || a.family == AF_INET);
	CHECK_INT(a.port, 65535);
	CHECK_STR(netaddr_str(&a, out), a.family == AF_INET6 ? "::" : "0.0.0.0");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (netaddr_parse_hostport(&a, bad[i], &error) != -1)
			printf("# accepted \"%s\"\n", bad[i]);
		CHECK_INT(netaddr_parse_hostport(&a, bad[i], &error), -1);
		CHECK(error != NULL);
	}
}

int main(void)
{
	test_run("netaddr parse and format", test_netaddr_parse_format);
	test_run("netaddr port", test_netaddr_port);
	test_run("netaddr sockaddr round trip", test_netaddr_sockaddr);
	test_run("netmask match", test_netmask_match);
	test_run("netmask malformed", test_netmask_bad);
	test_run("netmask list", test_netmask_list);
	test_run("netaddr host:port", test_netaddr_hostport);
	return test_done();
}
