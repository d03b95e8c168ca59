#include <string.h>

#include "listener.h"
#include "test.h"

static void test_tcp_defaults(void)
{
	struct listener_spec s;
	const char *error = NULL;

	CHECK_INT(listener_spec_parse("127.0.0.1:25", &s, &error), 0);
	CHECK(!s.is_unix);
	CHECK_INT(s.addr.family, AF_INET);
	CHECK_INT(s.addr.port, 25);
	CHECK_INT(s.tls, CONN_TLS_NONE);
	CHECK(!s.proxy_protocol);
	CHECK(s.service == NULL);
	CHECK_STR(s.address, "127.0.0.1:25");
	listener_spec_free(&s);
}

static void test_all_options(void)
{
	struct listener_spec s;
	const char *error = NULL;

	CHECK_INT(listener_spec_parse("[::1]:993 \ttls=implicit proxy_protocol=yes service=imap",
				      &s, &error), 0);
	CHECK_INT(s.addr.family, AF_INET6);
	CHECK_INT(s.addr.port, 993);
	CHECK_INT(s.tls, CONN_TLS_IMPLICIT);
	CHECK(s.proxy_protocol);
	CHECK_STR(s.service, "imap");
	listener_spec_free(&s);

	CHECK_INT(listener_spec_parse("*:587 tls=starttls proxy_protocol=no tls=none", &s, &error), 0);
	CHECK_INT(s.tls, CONN_TLS_NONE); /* the last one wins */
	CHECK(!s.proxy_protocol);
	listener_spec_free(&s);
}

static void test_unix(void)
{
	struct listener_spec s;
	const char *error = NULL;

	CHECK_INT(listener_spec_parse("/run/mailroom/auth mode=0600 service=lookup", &s, &error), 0);
	CHECK(s.is_unix);
	CHECK_STR(s.address, "/run/mailroom/auth");
	CHECK_INT(s.mode, 0600);
	listener_spec_free(&s);

	CHECK_INT(listener_spec_parse("/run/x", &s, &error), 0);
	CHECK_INT(s.mode, 0660);
	listener_spec_free(&s);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "   ", "127.0.0.1", "127.0.0.1:99999", "host-without-port",
		"127.0.0.1:25 tls=maybe", "127.0.0.1:25 tls", "127.0.0.1:25 proxy_protocol=1",
		"127.0.0.1:25 service=", "127.0.0.1:25 colour=blue", "/x mode=0999",
		"/x mode=", "/x mode=17777", "relative/path",
	};
	struct listener_spec s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *error = NULL;

		if (listener_spec_parse(bad[i], &s, &error) != -1 || error == NULL)
			test_check_failed(__FILE__, __LINE__, bad[i]);
		CHECK_INT(listener_spec_validate(bad[i], &error), -1);
	}
}

static void test_long_unix_path(void)
{
	char path[200];
	const char *error = NULL;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CHECK_INT(listener_spec_validate(path, &error), -1);
	CHECK_STR(error, "UNIX socket path too long");
}

int main(void)
{
	test_run("tcp defaults", test_tcp_defaults);
	test_run("all options", test_all_options);
	test_run("unix socket", test_unix);
	test_run("malformed specs", test_malformed);
	test_run("long unix path", test_long_unix_path);
	return test_done();
}
