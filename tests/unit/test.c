#include <stdio.h>
#include <string.h>

#include "test.h"

int test_failed_checks;
static int test_count;

void test_report(const char *name, bool ok)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++test_count, name);
	fflush(stdout);
}

void test_run(const char *name, void (*fn)(void))
{
	int before = test_failed_checks;

	fn();
	test_report(name, test_failed_checks == before);
}

void test_skip(const char *name, const char *reason)
{
	printf("ok %d - %s # SKIP %s\n", ++test_count, name, reason);
	fflush(stdout);
}

int test_done(void)
{
	printf("1..%d\n", test_count);
	return 0;
}

void test_check_failed(const char *file, int line, const char *what)
{
	test_failed_checks++;
	printf("# %s:%d: check failed: %s\n", file, line, what);
}

void test_check_str(const char *file, int line, const char *expr,
		    const char *got, const char *want)
{
	if (got == want || (got != NULL && want != NULL && strcmp(got, want) == 0))
		return;
	test_failed_checks++;
	printf("# %s:%d: %s is \"%s\", want \"%s\"\n", file, line, expr,
	       got != NULL ? got : "(null)", want != NULL ? want : "(null)");
}

static void test_print_mem(const char *label, const void *p, size_t len)
{
	const unsigned char *s = p;

	printf("#   %s (%zu): \"", label, len);
	for (size_t i = 0; i < len && i < 200; i++)
		printf(s[i] >= ' ' && s[i] < 0x7f && s[i] != '"' ? "%c" : "\\x%02x", s[i]);
	printf("%s\"\n", len > 200 ? "..." : "");
}

void test_check_mem(const char *file, int line, const char *expr,
		    const void *got, size_t got_len, const void *want, size_t want_len)
{
	if (got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0))
		return;
	test_failed_checks++;
	printf("# %s:%d: %s differs\n", file, line, expr);
	test_print_mem("got", got, got_len);
	test_print_mem("want", want, want_len);
}

void test_check_int(const char *file, int line, const char *expr,
		    long long got, long long want)
{
	if (got == want)
		return;
	test_failed_checks++;
	printf("# %s:%d: %s is %lld, want %lld\n", file, line, expr, got, want);
}
