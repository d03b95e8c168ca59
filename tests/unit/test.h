#ifndef MR_TEST_H
#define MR_TEST_H

/* A minimal unit-test harness that speaks TAP, so `make check` (through
 * automake's tap-driver) and scripts/test count every case.
 *
 *	static void test_x(void) { CHECK(1 + 1 == 2); }
 *	int main(void) { test_run("x", test_x); return test_done(); }
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern int test_failed_checks;

void test_run(const char *name, void (*fn)(void));
/* Report a case without running a function ("ok" or "not ok"). */
void test_report(const char *name, bool ok);
void test_skip(const char *name, const char *reason);
/* Print the plan; returns the exit status (0: TAP lines carry failures). */
int test_done(void);

void test_check_failed(const char *file, int line, const char *what);
void test_check_str(const char *file, int line, const char *expr,
		    const char *got, const char *want);
void test_check_mem(const char *file, int line, const char *expr,
		    const void *got, size_t got_len, const void *want, size_t want_len);
void test_check_int(const char *file, int line, const char *expr,
		    long long got, long long want);

#define CHECK(cond) \
	do { if (!(cond)) test_check_failed(__FILE__, __LINE__, #cond); } while (0)
#define CHECK_STR(got, want) test_check_str(__FILE__, __LINE__, #got, (got), (want))
#define CHECK_MEM(got, got_len, want, want_len) \
	test_check_mem(__FILE__, __LINE__, #got, (got), (got_len), (want), (want_len))
#define CHECK_INT(got, want) \
	test_check_int(__FILE__, __LINE__, #got, (long long)(got), (long long)(want))

#endif
