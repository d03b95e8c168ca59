#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "test.h"
#include "xalloc.h"

static int reject_bad(const char *value, const char **error_r)
{
	if (strcmp(value, "bad") == 0) {
		*error_r = "'bad' is not allowed here";
		return -1;
	}
	return 0;
}

static const struct cfg_def table[] = {
	{ .name = "name", .type = CFG_STR, .def = "default name", .help = "A name." },
	{ .name = "empty", .type = CFG_STR, .def = NULL, .help = "Empty by default." },
	{ .name = "odd", .type = CFG_STR, .def = "  spaced \"q\" \\ ", .help = "Needs quotes." },
	{ .name = "checked", .type = CFG_STR, .def = "ok", .validate = reject_bad,
	  .help = "Has its own check." },
	{ .name = "count", .type = CFG_INT, .def = "5", .min = -10, .max = 100,
	  .help = "Bounded number." },
	{ .name = "big", .type = CFG_INT, .def = "0", .help = "Unbounded number." },
	{ .name = "flag", .type = CFG_BOOL, .def = "no", .help = "A switch." },
	{ .name = "limit", .type = CFG_SIZE, .def = "1M", .help = "Unbounded size." },
	{ .name = "small", .type = CFG_SIZE, .def = "4k", .min = 1024, .max = 1 << 20,
	  .help = "Bounded size." },
	{ .name = "timeout", .type = CFG_TIME, .def = "30s", .help = "Unbounded time." },
	{ .name = "short", .type = CFG_TIME, .def = "1m", .min = 1, .max = 3600,
	  .help = "Bounded time." },
	{ .name = "mode", .type = CFG_ENUM, .def = "fast", .choices = "fast|safe|slow",
	  .help = "How to go." },
	{ .name = "listen", .type = CFG_LIST, .def = "a:1 ; b:2", .help = "Addresses." },
	{ .name = "nets", .type = CFG_LIST, .def = NULL, .validate = reject_bad,
	  .help = "Empty list by default." },
};

#define COUNT (sizeof(table) / sizeof(table[0]))

static char tdir[] = "/tmp/mr-test-config-XXXXXX";

/* ---------------------------------------------------------------- helpers */

static char *tpath(const char *rel)
{
	return xasprintf("%s/%s", tdir, rel);
}

static void put_mem(const char *rel, const char *data, size_t len)
{
	char *path = tpath(rel);
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f != NULL) {
		CHECK_INT(fwrite(data, 1, len, f), len);
		fclose(f);
	}
	free(path);
}

static void put(const char *rel, const char *text)
{
	put_mem(rel, text, strlen(text));
}

static void mkd(const char *rel)
{
	char *path = tpath(rel);

	CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);
	free(path);
}

/* err with the temp directory taken out, so expectations read "main.conf:1: ..." */
static char *rel(const char *err)
{
	struct buf b;
	size_t n = strlen(tdir);

	buf_init(&b, BUF_NO_LIMIT);
	while (err != NULL && *err != '\0') {
		if (strncmp(err, tdir, n) == 0 && err[n] == '/') {
			err += n + 1;
		} else {
			buf_append_char(&b, *err);
			err++;
		}
	}
	return buf_steal(&b);
}

static void check_err(const char *file, int line, const char *err, const char *want)
{
	char *got = rel(err);

	test_check_str(file, line, "error", got, want);
	free(got);
}

#define CHECK_ERR(err, want) check_err(__FILE__, __LINE__, (err), (want))

/* Load `len` bytes as tdir/rel_name, from the file and again fed one byte
 * at a time; both ways must agree. Returns the result of the file load,
 * leaving its error (relative) in *err_r (to free). */
static int load_mem(struct cfg *cfg, const char *rel_name, const char *text, size_t len,
		    char **err_r)
{
	struct cfg *trickle = cfg_new(table, COUNT);
	char *path = tpath(rel_name);
	const char *err1, *err2;
	struct cfg_load *ld;
	int r1, r2;

	put_mem(rel_name, text, len);
	r1 = cfg_load_file(cfg, path, &err1);
	*err_r = rel(err1);
	ld = cfg_load_begin(trickle, path);
	for (size_t i = 0; i < len; i++)
		cfg_load_feed(ld, text + i, 1);
	r2 = cfg_load_end(ld, &err2);
	CHECK_INT(r2, r1);
	if (r1 < 0 && r2 < 0)
		CHECK_ERR(err2, *err_r);
	cfg_free(trickle);
	free(path);
	return r1;
}

static int load(struct cfg *cfg, const char *text, char **err_r)
{
	return load_mem(cfg, "main.conf", text, strlen(text), err_r);
}

static void check_ok(const char *file, int line, struct cfg *cfg, const char *text)
{
	char *err;

	if (load(cfg, text, &err) < 0)
		test_check_str(file, line, text, err, "(success)");
	free(err);
}

/* text must fail with error want, whole and trickled, on a fresh cfg. */
static void check_bad_mem(const char *file, int line, const char *text, size_t len,
			  const char *want)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *err;

	if (load_mem(cfg, "main.conf", text, len, &err) == 0)
		test_check_failed(file, line, "load succeeded");
	else
		test_check_str(file, line, text, err, want);
	free(err);
	cfg_free(cfg);
}

#define CHECK_OK(cfg, text) check_ok(__FILE__, __LINE__, (cfg), (text))
#define CHECK_BAD(text, want) check_bad_mem(__FILE__, __LINE__, (text), strlen(text), (want))
#define CHECK_BAD_MEM(text, want) \
	check_bad_mem(__FILE__, __LINE__, (text), sizeof(text) - 1, (want))

/* Every value of a equals that of b. */
static void check_same(const struct cfg *a, const struct cfg *b)
{
	for (size_t i = 0; i < COUNT; i++) {
		const char *n = table[i].name;

		switch (table[i].type) {
		case CFG_STR:
		case CFG_ENUM:
			CHECK_STR(cfg_str(a, n), cfg_str(b, n));
			break;
		case CFG_INT:
			CHECK_INT(cfg_int(a, n), cfg_int(b, n));
			break;
		case CFG_BOOL:
			CHECK_INT(cfg_bool(a, n), cfg_bool(b, n));
			break;
		case CFG_SIZE:
			CHECK_INT(cfg_size(a, n), cfg_size(b, n));
			break;
		case CFG_TIME:
			CHECK_INT(cfg_time(a, n), cfg_time(b, n));
			break;
		case CFG_LIST:
			CHECK_INT(cfg_list_count(a, n), cfg_list_count(b, n));
			for (size_t k = 0; k < cfg_list_count(a, n) && k < cfg_list_count(b, n); k++)
				CHECK_STR(cfg_list_get(a, n, k), cfg_list_get(b, n, k));
			break;
		}
	}
}

/* ---------------------------------------------------------------- tests */

static void test_defaults(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_STR(cfg_str(cfg, "name"), "default name");
	CHECK_STR(cfg_str(cfg, "empty"), "");
	CHECK_STR(cfg_str(cfg, "odd"), "  spaced \"q\" \\ ");
	CHECK_INT(cfg_int(cfg, "count"), 5);
	CHECK_INT(cfg_bool(cfg, "flag"), false);
	CHECK_INT(cfg_size(cfg, "limit"), 1 << 20);
	CHECK_INT(cfg_size(cfg, "small"), 4096);
	CHECK_INT(cfg_time(cfg, "timeout"), 30);
	CHECK_INT(cfg_time(cfg, "short"), 60);
	CHECK_STR(cfg_str(cfg, "mode"), "fast");
	CHECK_INT(cfg_enum(cfg, "mode"), 0);
	CHECK_INT(cfg_list_count(cfg, "listen"), 2);
	CHECK_STR(cfg_list_get(cfg, "listen", 0), "a:1");
	CHECK_STR(cfg_list_get(cfg, "listen", 1), "b:2");
	CHECK_INT(cfg_list_count(cfg, "nets"), 0);
	cfg_free(cfg);
}

static void test_strings_comments_quotes(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_OK(cfg, "# a comment\n\n   \t# indented comment\n"
		      "  name   =   hello # not a comment  \n"
		      "empty=\"  keep  \"\n"
		      "odd = \"a\\\"b\\\\c\"\t\n"
		      "checked = \"\"\n");
	CHECK_STR(cfg_str(cfg, "name"), "hello # not a comment");
	CHECK_STR(cfg_str(cfg, "empty"), "  keep  ");
	CHECK_STR(cfg_str(cfg, "odd"), "a\"b\\c");
	CHECK_STR(cfg_str(cfg, "checked"), "");
	/* CRLF line ends, no final newline, UTF-8, a quote inside a bare value */
	CHECK_OK(cfg, "name = gr\xc3\xbc\xc3\x9f\xf0\x9f\x93\xac\r\nempty = say \"hi\"\r\nodd =");
	CHECK_STR(cfg_str(cfg, "name"), "gr\xc3\xbc\xc3\x9f\xf0\x9f\x93\xac");
	CHECK_STR(cfg_str(cfg, "empty"), "say \"hi\"");
	CHECK_STR(cfg_str(cfg, "odd"), "");
	CHECK_OK(cfg, "");
	CHECK_STR(cfg_str(cfg, "name"), "gr\xc3\xbc\xc3\x9f\xf0\x9f\x93\xac");
	cfg_free(cfg);

	CHECK_BAD("name = \"abc\n", "main.conf:1: name: missing closing quote");
	CHECK_BAD("\nname = \"abc\" d\n", "main.conf:2: name: text after the closing quote");
	CHECK_BAD("name = \"a\\n\"\n", "main.conf:1: name: bad escape in quotes (only \\\" and \\\\)");
	CHECK_BAD("name = \"a\\\"\n", "main.conf:1: name: missing closing quote");
	CHECK_BAD("checked = bad\n", "main.conf:1: checked: 'bad' is not allowed here");
}

static void test_malformed_lines(void)
{
	CHECK_BAD("nope = 1\n", "main.conf:1: unknown key 'nope'");
	CHECK_BAD("Name = x\n", "main.conf:1: unknown key 'Name'");
	CHECK_BAD("# ok\nname\n", "main.conf:2: missing '=' after 'name'");
	CHECK_BAD("name x = 1\n", "main.conf:1: missing '=' after 'name'");
	CHECK_BAD(" = 1\n", "main.conf:1: missing key before '='");
	CHECK_BAD("include\n", "main.conf:1: missing '=' after 'include'");
	CHECK_BAD("name = a\x01z\n", "main.conf:1: control character 0x01 in line");
	CHECK_BAD("name = a\rz\n", "main.conf:1: control character 0x0d in line");
	CHECK_BAD("# \x7f\n", "main.conf:1: control character 0x7f in line");
	CHECK_BAD_MEM("name = a\0z\n", "main.conf:1: NUL byte in line");
	CHECK_BAD_MEM("# fine\n#\0\n", "main.conf:2: NUL byte in line");
	CHECK_BAD("name = \xc3\x28\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("name = \xc0\xaf\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("name = \xe0\x80\xaf\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("name = \xed\xa0\x80\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("name = \xf4\x90\x80\x80\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("name = \xe2\x82\n", "main.conf:1: invalid UTF-8 in line");
	CHECK_BAD("# \xff comment\n", "main.conf:1: invalid UTF-8 in line");
}

static void test_line_length(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *line = xmalloc(CFG_LINE_MAX + 3);
	char *err;

	/* exactly CFG_LINE_MAX bytes before the newline: fine */
	memset(line, 'x', CFG_LINE_MAX + 2);
	memcpy(line, "name = ", 7);
	line[CFG_LINE_MAX] = '\n';
	line[CFG_LINE_MAX + 1] = '\0';
	CHECK_INT(load(cfg, line, &err), 0);
	free(err);
	CHECK_INT(strlen(cfg_str(cfg, "name")), CFG_LINE_MAX - 7);
	/* a CR before the newline counts as a byte of the line */
	line[CFG_LINE_MAX - 1] = '\r';
	CHECK_INT(load(cfg, line, &err), 0);
	free(err);
	CHECK_INT(strlen(cfg_str(cfg, "name")), CFG_LINE_MAX - 8);
	memcpy(line + CFG_LINE_MAX, "\r\n", 3);
	line[CFG_LINE_MAX - 1] = 'x';
	CHECK_BAD(line, "main.conf:1: line longer than 8192 bytes");
	/* one more byte: an error, not a shorter value */
	line[CFG_LINE_MAX] = 'x';
	line[CFG_LINE_MAX + 1] = '\n';
	line[CFG_LINE_MAX + 2] = '\0';
	CHECK_BAD(line, "main.conf:1: line longer than 8192 bytes");
	/* also without a newline, and as the last line */
	line[CFG_LINE_MAX + 1] = '\0';
	CHECK_BAD(line, "main.conf:1: line longer than 8192 bytes");
	free(line);
	cfg_free(cfg);
}

static void test_int(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_OK(cfg, "count = -10\nbig = -9223372036854775808\n");
	CHECK_INT(cfg_int(cfg, "count"), -10);
	CHECK_INT(cfg_int(cfg, "big"), -9223372036854775807LL - 1);
	CHECK_OK(cfg, "count = +100\nbig = 9223372036854775807\n");
	CHECK_INT(cfg_int(cfg, "count"), 100);
	CHECK_INT(cfg_int(cfg, "big"), 9223372036854775807LL);
	cfg_free(cfg);

	CHECK_BAD("count = 101\n", "main.conf:1: count: 101 is out of range -10..100");
	CHECK_BAD("count = -11\n", "main.conf:1: count: -11 is out of range -10..100");
	CHECK_BAD("count = abc\n", "main.conf:1: count: 'abc' is not a number");
	CHECK_BAD("count = 12x\n", "main.conf:1: count: '12x' is not a number");
	CHECK_BAD("count = 1.5\n", "main.conf:1: count: '1.5' is not a number");
	CHECK_BAD("count = -\n", "main.conf:1: count: '-' is not a number");
	CHECK_BAD("count =\n", "main.conf:1: count: '' is not a number");
	CHECK_BAD("count = \" 5\"\n", "main.conf:1: count: ' 5' is not a number");
	CHECK_BAD("big = 9223372036854775808\n",
		  "main.conf:1: big: '9223372036854775808' is too large");
}

static void test_bool(void)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No", "OFF" };
	struct cfg *cfg = cfg_new(table, COUNT);
	const char *err;

	for (size_t i = 0; i < 6; i++) {
		CHECK_INT(cfg_set(cfg, "flag", yes[i], &err), 0);
		CHECK_INT(cfg_bool(cfg, "flag"), true);
		CHECK_INT(cfg_set(cfg, "flag", no[i], &err), 0);
		CHECK_INT(cfg_bool(cfg, "flag"), false);
	}
	CHECK_OK(cfg, "flag = on\n");
	CHECK_INT(cfg_bool(cfg, "flag"), true);
	cfg_free(cfg);
	CHECK_BAD("flag = maybe\n",
		  "main.conf:1: flag: 'maybe' is not a boolean (yes, no, true, false, on, off, 1, 0)");
	CHECK_BAD("flag = 2\n",
		  "main.conf:1: flag: '2' is not a boolean (yes, no, true, false, on, off, 1, 0)");
}

static void check_size(const char *text, long long want)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	const char *err;

	CHECK_INT(cfg_set(cfg, "limit", text, &err), 0);
	CHECK_INT(cfg_size(cfg, "limit"), want);
	cfg_free(cfg);
}

static void test_size(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	check_size("0", 0);
	check_size("10", 10);
	check_size("4k", 4096);
	check_size("4K", 4096);
	check_size("2M", 2 << 20);
	check_size("2m", 2 << 20);
	check_size("3G", 3LL << 30);
	check_size("1T", 1LL << 40);
	check_size("8388607T", 8388607LL << 40);
	check_size("9223372036854775807", 9223372036854775807LL);
	CHECK_OK(cfg, "small = 1k\nlimit = 5M\n");
	CHECK_INT(cfg_size(cfg, "small"), 1024);
	CHECK_INT(cfg_size(cfg, "limit"), 5 << 20);
	CHECK_OK(cfg, "small = 1M\n");
	CHECK_INT(cfg_size(cfg, "small"), 1 << 20);
	cfg_free(cfg);

	CHECK_BAD("limit = 10X\n",
		  "main.conf:1: limit: bad size '10X' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = k\n",
		  "main.conf:1: limit: bad size 'k' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = -1\n",
		  "main.conf:1: limit: bad size '-1' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = 1kk\n",
		  "main.conf:1: limit: bad size '1kk' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = 1 k\n",
		  "main.conf:1: limit: bad size '1 k' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = 1s\n",
		  "main.conf:1: limit: bad size '1s' (a number with an optional k, M, G or T suffix)");
	CHECK_BAD("limit = 8388608T\n", "main.conf:1: limit: size '8388608T' is too large");
	CHECK_BAD("limit = 9223372036854775808\n",
		  "main.conf:1: limit: size '9223372036854775808' is too large");
	CHECK_BAD("limit = 99999999999999999999999k\n",
		  "main.conf:1: limit: size '99999999999999999999999k' is too large");
	CHECK_BAD("small = 1023\n", "main.conf:1: small: 1023 is out of range 1k..1M");
	CHECK_BAD("small = 1025k\n", "main.conf:1: small: 1049600 is out of range 1k..1M");
}

static void test_time(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_OK(cfg, "timeout = 45\nshort = 1h\n");
	CHECK_INT(cfg_time(cfg, "timeout"), 45);
	CHECK_INT(cfg_time(cfg, "short"), 3600);
	CHECK_OK(cfg, "timeout = 5m\nshort = 1s\n");
	CHECK_INT(cfg_time(cfg, "timeout"), 300);
	CHECK_INT(cfg_time(cfg, "short"), 1);
	CHECK_OK(cfg, "timeout = 2d\n");
	CHECK_INT(cfg_time(cfg, "timeout"), 2 * 86400);
	CHECK_OK(cfg, "timeout = 4294967295\n");
	CHECK_INT(cfg_time(cfg, "timeout"), 4294967295U);
	cfg_free(cfg);

	CHECK_BAD("timeout = 5w\n",
		  "main.conf:1: timeout: bad time '5w' (a number with an optional s, m, h or d suffix)");
	CHECK_BAD("timeout = 5M\n",
		  "main.conf:1: timeout: bad time '5M' (a number with an optional s, m, h or d suffix)");
	CHECK_BAD("timeout = h\n",
		  "main.conf:1: timeout: bad time 'h' (a number with an optional s, m, h or d suffix)");
	CHECK_BAD("timeout = 4294967296\n", "main.conf:1: timeout: time 4294967296 is too large");
	CHECK_BAD("timeout = 49711d\n", "main.conf:1: timeout: time 4295030400 is too large");
	CHECK_BAD("timeout = 999999999999999999999s\n",
		  "main.conf:1: timeout: time '999999999999999999999s' is too large");
	CHECK_BAD("short = 0\n", "main.conf:1: short: 0 is out of range 1..1h");
	CHECK_BAD("short = 61m\n", "main.conf:1: short: 3660 is out of range 1..1h");
}

static void test_enum(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_OK(cfg, "mode = safe\n");
	CHECK_STR(cfg_str(cfg, "mode"), "safe");
	CHECK_INT(cfg_enum(cfg, "mode"), 1);
	CHECK_OK(cfg, "mode = slow\n");
	CHECK_INT(cfg_enum(cfg, "mode"), 2);
	cfg_free(cfg);
	CHECK_BAD("mode = Safe\n", "main.conf:1: mode: 'Safe' is not one of: fast, safe, slow");
	CHECK_BAD("mode = fas\n", "main.conf:1: mode: 'fas' is not one of: fast, safe, slow");
	CHECK_BAD("mode = fast|safe\n",
		  "main.conf:1: mode: 'fast|safe' is not one of: fast, safe, slow");
	CHECK_BAD("mode =\n", "main.conf:1: mode: '' is not one of: fast, safe, slow");
}

static void check_list(const char *file, int line, const struct cfg *cfg, const char *name,
		       const char *want)
{
	struct buf got;

	buf_init(&got, BUF_NO_LIMIT);
	for (size_t i = 0; i < cfg_list_count(cfg, name); i++)
		buf_printf(&got, "%s%s", i > 0 ? " ; " : "", cfg_list_get(cfg, name, i));
	test_check_str(file, line, name, buf_cstr(&got), want);
	buf_free(&got);
}

#define CHECK_LIST(cfg, name, want) check_list(__FILE__, __LINE__, (cfg), (name), (want))

static void test_list(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	/* the first line replaces the defaults, the next ones append */
	CHECK_OK(cfg, "listen = x:1\nname = n\nlisten = y:2\nlisten = \" z \"\n");
	CHECK_LIST(cfg, "listen", "x:1 ; y:2 ;  z ");
	/* a second load replaces what the first one set */
	CHECK_OK(cfg, "listen = q:3\n");
	CHECK_LIST(cfg, "listen", "q:3");
	/* a load that does not mention the key leaves it alone */
	CHECK_OK(cfg, "name = other\n");
	CHECK_LIST(cfg, "listen", "q:3");
	/* an empty value adds nothing, so alone it empties the list */
	CHECK_OK(cfg, "listen =\n");
	CHECK_INT(cfg_list_count(cfg, "listen"), 0);
	CHECK_OK(cfg, "listen =\nlisten = r:4\nlisten =\n");
	CHECK_LIST(cfg, "listen", "r:4");
	CHECK_OK(cfg, "nets = 10.0.0.0/8\nnets = ::1/128\n");
	CHECK_LIST(cfg, "nets", "10.0.0.0/8 ; ::1/128");
	cfg_free(cfg);
	CHECK_BAD("nets = good\nnets = bad\n", "main.conf:2: nets: 'bad' is not allowed here");
}

static void test_duplicates(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);

	CHECK_BAD("count = 1\nname = a\ncount = 2\n",
		  "main.conf:3: count: key set twice (first at main.conf:1)");
	CHECK_BAD("flag = yes\nflag = yes\n",
		  "main.conf:2: flag: key set twice (first at main.conf:1)");
	/* in another file a later setting overrides an earlier one */
	put("over.conf", "count = 2\n");
	CHECK_OK(cfg, "count = 1\ninclude over.conf\n");
	CHECK_INT(cfg_int(cfg, "count"), 2);
	CHECK_OK(cfg, "include over.conf\ncount = 3\n");
	CHECK_INT(cfg_int(cfg, "count"), 3);
	/* ...but the main file may still not set it twice around the include */
	CHECK_BAD("count = 1\ninclude over.conf\ncount = 3\n",
		  "main.conf:3: count: key set twice (first at main.conf:1)");
	cfg_free(cfg);
}

static void test_missing_file(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *path = tpath("does-not-exist.conf");
	const char *err;

	CHECK_INT(cfg_load_file(cfg, path, &err), -1);
	CHECK_ERR(err, "does-not-exist.conf: No such file or directory");
	free(path);
	/* a directory cannot be read */
	CHECK_INT(cfg_load_file(cfg, tdir, &err), -1);
	CHECK(strstr(err, "Is a directory") != NULL);
	CHECK_STR(cfg_str(cfg, "name"), "default name");
	cfg_free(cfg);
}

static void test_include_paths(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *abs = tpath("abs.conf");
	char *text;

	mkd("sub");
	mkd("sub/deeper");
	/* relative to the including file, not to the working directory */
	put("sub/a.conf", "name = from a\ninclude deeper/b.conf\n");
	put("sub/deeper/b.conf", "count = 42\ninclude \"../c.conf\"\n");
	put("sub/c.conf", "listen = c:3\n");
	CHECK_OK(cfg, "include sub/a.conf\nlisten = main:1\n");
	CHECK_STR(cfg_str(cfg, "name"), "from a");
	CHECK_INT(cfg_int(cfg, "count"), 42);
	CHECK_LIST(cfg, "listen", "c:3 ; main:1");
	/* an absolute path */
	put("abs.conf", "big = 7\n");
	text = xasprintf("include %s\n", abs);
	CHECK_OK(cfg, text);
	CHECK_INT(cfg_int(cfg, "big"), 7);
	free(text);
	free(abs);
	/* errors in an included file name that file and line */
	put("sub/broken.conf", "# fine\nflag = perhaps\n");
	CHECK_BAD("name = x\ninclude sub/broken.conf\n",
		  "sub/broken.conf:2: flag: 'perhaps' is not a boolean "
		  "(yes, no, true, false, on, off, 1, 0)");
	CHECK_BAD("include sub/missing.conf\n",
		  "main.conf:1: include sub/missing.conf: No such file or directory");
	CHECK_BAD("include \"\"\n", "main.conf:1: include without a path");
	CHECK_BAD("include \"sub\n", "main.conf:1: missing closing quote");
	CHECK_BAD("include sub\n", "main.conf:1: include sub: Is a directory");
	/* include_try ignores a missing file, but not a broken one */
	CHECK_OK(cfg, "include_try sub/missing.conf\nbig = 8\n");
	CHECK_INT(cfg_int(cfg, "big"), 8);
	CHECK_BAD("include_try sub/broken.conf\n",
		  "sub/broken.conf:2: flag: 'perhaps' is not a boolean "
		  "(yes, no, true, false, on, off, 1, 0)");
	cfg_free(cfg);
}

static void test_include_glob(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *err;

	mkd("conf.d");
	/* written in reverse order: loading must sort by name */
	put("conf.d/30-c.conf", "count = 30\nnets = c\n");
	put("conf.d/10-a.conf", "count = 10\nnets = a\n");
	put("conf.d/20-b.conf", "nets = b\n");
	put("conf.d/20-b.conf.off", "count = 99\n");
	CHECK_OK(cfg, "include conf.d/*.conf\n");
	CHECK_INT(cfg_int(cfg, "count"), 30);
	CHECK_LIST(cfg, "nets", "a ; b ; c");
	CHECK_OK(cfg, "include conf.d/[12]?-*.conf\n");
	CHECK_INT(cfg_int(cfg, "count"), 10);
	CHECK_LIST(cfg, "nets", "a ; b");
	CHECK_OK(cfg, "include_try conf.d/*.none\nbig = 1\n");
	CHECK_INT(cfg_int(cfg, "big"), 1);
	/* pattern characters in the including file's directory are not a pattern */
	mkd("we[ir]d*");
	mkd("weid*");
	put("we[ir]d*/part.conf", "big = 2\n");
	put("weid*/part.conf", "big = 3\n");
	CHECK_INT(load_mem(cfg, "we[ir]d*/main.conf", "include p*.conf\n", 16, &err), 0);
	CHECK_INT(cfg_int(cfg, "big"), 2);
	free(err);
	cfg_free(cfg);
	CHECK_BAD("include conf.d/*.none\n", "main.conf:1: include conf.d/*.none: no file matches");
	put("conf.d/40-bad.conf", "mode = fastest\n");
	CHECK_BAD("include conf.d/*.conf\n",
		  "conf.d/40-bad.conf:1: mode: 'fastest' is not one of: fast, safe, slow");
}

static void test_include_loops_depth(void)
{
	char name[32], text[64];

	put("self.conf", "include self.conf\n");
	CHECK_BAD("include self.conf\n", "self.conf:1: include self.conf: include loop");
	CHECK_BAD("include main.conf\n", "main.conf:1: include main.conf: include loop");
	mkd("loop");
	put("loop/a.conf", "name = a\ninclude b.conf\n");
	put("loop/b.conf", "include ../loop/./a.conf\n");
	CHECK_BAD("include loop/a.conf\n",
		  "loop/b.conf:1: include loop/../loop/./a.conf: include loop");
	/* the same file twice in a row is no loop (its scalar keys do clash) */
	put("loop/list.conf", "nets = l\n");
	{
		struct cfg *cfg = cfg_new(table, COUNT);

		CHECK_OK(cfg, "include loop/list.conf\ninclude loop/list.conf\n");
		CHECK_LIST(cfg, "nets", "l ; l");
		cfg_free(cfg);
	}
	/* a chain main -> d1 -> ... -> dN; depth CFG_INCLUDE_DEPTH is allowed */
	mkd("depth");
	for (int i = 1; i <= CFG_INCLUDE_DEPTH + 1; i++) {
		snprintf(name, sizeof(name), "depth/d%d.conf", i);
		snprintf(text, sizeof(text), "include_try d%d.conf\n", i + 1);
		put(name, text);
	}
	{
		struct cfg *cfg = cfg_new(table, COUNT);

		snprintf(name, sizeof(name), "depth/d%d.conf", CFG_INCLUDE_DEPTH);
		put(name, "big = 88\n");
		CHECK_OK(cfg, "include depth/d1.conf\n");
		CHECK_INT(cfg_int(cfg, "big"), 88);
		cfg_free(cfg);
	}
	snprintf(name, sizeof(name), "depth/d%d.conf", CFG_INCLUDE_DEPTH);
	snprintf(text, sizeof(text), "include d%d.conf\n", CFG_INCLUDE_DEPTH + 1);
	put(name, text);
	CHECK_BAD("include depth/d1.conf\n",
		  "depth/d8.conf:1: include depth/d9.conf: nested more than 8 deep");
}

static void test_atomic(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	char *err;

	CHECK_OK(cfg, "count = 7\nlisten = kept:1\nname = kept\n");
	put("late-error.conf", "flag = nope\n");
	CHECK_INT(load(cfg, "count = 9\nlisten = new:1\nname = new\nbig = 3\nbogus = 1\n", &err),
		  -1);
	CHECK_STR(err, "main.conf:5: unknown key 'bogus'");
	free(err);
	CHECK_INT(load(cfg, "count = 9\nlisten = new:1\ninclude late-error.conf\n", &err), -1);
	CHECK_STR(err, "late-error.conf:1: flag: 'nope' is not a boolean "
		       "(yes, no, true, false, on, off, 1, 0)");
	free(err);
	CHECK_INT(cfg_int(cfg, "count"), 7);
	CHECK_INT(cfg_int(cfg, "big"), 0);
	CHECK_INT(cfg_bool(cfg, "flag"), false);
	CHECK_STR(cfg_str(cfg, "name"), "kept");
	CHECK_LIST(cfg, "listen", "kept:1");
	cfg_free(cfg);
}

static void test_set(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	const char *err;

	CHECK_INT(cfg_set(cfg, "count", "12", &err), 0);
	CHECK(err == NULL);
	CHECK_INT(cfg_int(cfg, "count"), 12);
	CHECK_INT(cfg_set(cfg, "name", " raw \"value\" ", &err), 0);
	CHECK_STR(cfg_str(cfg, "name"), " raw \"value\" ");
	CHECK_INT(cfg_set(cfg, "count", "1000", &err), -1);
	CHECK_STR(err, "-o count: 1000 is out of range -10..100");
	CHECK_INT(cfg_set(cfg, "count", "x", &err), -1);
	CHECK_STR(err, "-o count: 'x' is not a number");
	CHECK_INT(cfg_int(cfg, "count"), 12);
	CHECK_INT(cfg_set(cfg, "nope", "1", &err), -1);
	CHECK_STR(err, "-o nope: unknown key");
	CHECK_INT(cfg_set(cfg, "name", "a\nb", &err), -1);
	CHECK_STR(err, "-o name: control character 0x0a in line");
	CHECK_INT(cfg_set(cfg, "name", "\xff", &err), -1);
	CHECK_STR(err, "-o name: invalid UTF-8 in line");
	CHECK_INT(cfg_set(cfg, "checked", "bad", &err), -1);
	CHECK_STR(err, "-o checked: 'bad' is not allowed here");
	/* lists: the value replaces the list, " ; " separates values */
	CHECK_INT(cfg_set(cfg, "listen", "p:1 ; q:2", &err), 0);
	CHECK_LIST(cfg, "listen", "p:1 ; q:2");
	CHECK_INT(cfg_set(cfg, "listen", "r:3", &err), 0);
	CHECK_LIST(cfg, "listen", "r:3");
	CHECK_INT(cfg_set(cfg, "nets", "ok ; bad", &err), -1);
	CHECK_STR(err, "-o nets: 'bad' is not allowed here");
	CHECK_INT(cfg_list_count(cfg, "nets"), 0);
	CHECK_INT(cfg_set(cfg, "listen", "", &err), 0);
	CHECK_INT(cfg_list_count(cfg, "listen"), 0);
	/* a file load after -o still works on the current values */
	CHECK_OK(cfg, "big = 4\n");
	CHECK_INT(cfg_int(cfg, "count"), 12);
	cfg_free(cfg);
}

static char *print_defaults(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f != NULL);
	cfg_print_defaults(table, COUNT, f);
	fclose(f);
	return text;
}

static void test_print_defaults(void)
{
	struct cfg *fresh = cfg_new(table, COUNT), *cfg = cfg_new(table, COUNT);
	char *text = print_defaults();
	const char *err;

	CHECK(strncmp(text, "# A name.\nname = default name\n\n# Empty by default.\nempty =\n\n",
		      strlen("# A name.\nname = default name\n\n# Empty by default.\nempty =\n\n")) == 0);
	CHECK(strstr(text, "\nodd = \"  spaced \\\"q\\\" \\\\ \"\n") != NULL);
	CHECK(strstr(text, "\n# Bounded number.\n# range: -10..100\ncount = 5\n\n") != NULL);
	CHECK(strstr(text, "\n# Unbounded number.\nbig = 0\n\n") != NULL);
	CHECK(strstr(text, "\n# range: 1k..1M\nsmall = 4k\n") != NULL);
	CHECK(strstr(text, "\n# range: 1..1h\nshort = 1m\n") != NULL);
	CHECK(strstr(text, "\n# How to go.\n# one of: fast, safe, slow\nmode = fast\n") != NULL);
	CHECK(strstr(text, "\nlisten = a:1\nlisten = b:2\n\n") != NULL);
	CHECK(strstr(text, "\n# Empty list by default.\nnets =\n") != NULL);
	CHECK(text[strlen(text) - 1] == '\n' && text[strlen(text) - 2] != '\n');

	/* change every value, then loading the printed defaults undoes it all */
	CHECK_INT(cfg_set(cfg, "name", "n", &err), 0);
	CHECK_INT(cfg_set(cfg, "empty", "e", &err), 0);
	CHECK_INT(cfg_set(cfg, "odd", "o", &err), 0);
	CHECK_INT(cfg_set(cfg, "checked", "c", &err), 0);
	CHECK_INT(cfg_set(cfg, "count", "6", &err), 0);
	CHECK_INT(cfg_set(cfg, "big", "1", &err), 0);
	CHECK_INT(cfg_set(cfg, "flag", "yes", &err), 0);
	CHECK_INT(cfg_set(cfg, "limit", "2M", &err), 0);
	CHECK_INT(cfg_set(cfg, "small", "8k", &err), 0);
	CHECK_INT(cfg_set(cfg, "timeout", "31", &err), 0);
	CHECK_INT(cfg_set(cfg, "short", "2m", &err), 0);
	CHECK_INT(cfg_set(cfg, "mode", "slow", &err), 0);
	CHECK_INT(cfg_set(cfg, "listen", "z:9", &err), 0);
	CHECK_INT(cfg_set(cfg, "nets", "n1 ; n2", &err), 0);
	CHECK_OK(cfg, text);
	check_same(cfg, fresh);
	free(text);
	cfg_free(cfg);
	cfg_free(fresh);
}

/* A whole file with every feature, loaded from disk and fed byte by byte
 * (load_mem does both and compares results); the values must also match. */
static void test_trickle_equivalence(void)
{
	static const char text[] =
		"# header\r\n"
		"name = \"  with \\\"quotes\\\" # and hash \"\r\n"
		"\t count\t=\t-3\t\n"
		"include_try conf.d/*.nothing\n"
		"listen = t:1\n"
		"listen = t:2\n"
		"mode = safe\n"
		"limit = 3G\n"
		"   # trailing comment without newline";
	struct cfg *cfg = cfg_new(table, COUNT), *trickle = cfg_new(table, COUNT);
	struct cfg_load *ld;
	char *path = tpath("trickle.conf");
	const char *err;

	mkd("conf.d");
	CHECK_OK(cfg, text);
	CHECK_STR(cfg_str(cfg, "name"), "  with \"quotes\" # and hash ");
	CHECK_INT(cfg_int(cfg, "count"), -3);
	CHECK_LIST(cfg, "listen", "t:1 ; t:2");
	CHECK_INT(cfg_size(cfg, "limit"), 3LL << 30);
	ld = cfg_load_begin(trickle, path);
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		CHECK_INT(cfg_load_feed(ld, text + i, 1), 0);
	CHECK_INT(cfg_load_end(ld, &err), 0);
	check_same(trickle, cfg);
	/* after an error feed() refuses more input and end() reports it */
	ld = cfg_load_begin(trickle, path);
	CHECK_INT(cfg_load_feed(ld, "count = 1\nnope = 2\n", 19), -1);
	CHECK_INT(cfg_load_feed(ld, "big = 1\n", 8), -1);
	CHECK_INT(cfg_load_end(ld, &err), -1);
	CHECK_ERR(err, "trickle.conf:2: unknown key 'nope'");
	check_same(trickle, cfg);
	free(path);
	cfg_free(trickle);
	cfg_free(cfg);
}

static void test_load_size_limit(void)
{
	struct cfg *cfg = cfg_new(table, COUNT);
	struct cfg_load *ld = cfg_load_begin(cfg, "big.conf");
	char line[4096];
	const char *err;
	int ret = 0;
	size_t i;

	memset(line, ' ', sizeof(line));
	line[0] = '#';
	line[sizeof(line) - 1] = '\n';
	for (i = 0; ret == 0 && i <= CFG_LOAD_MAX / sizeof(line); i++)
		ret = cfg_load_feed(ld, line, sizeof(line));
	CHECK_INT(ret, -1);
	CHECK_INT(i, CFG_LOAD_MAX / sizeof(line) + 1);
	CHECK_INT(cfg_load_end(ld, &err), -1);
	CHECK_STR(err, "big.conf:4096: configuration larger than 16777216 bytes");
	cfg_free(cfg);
}

/* fn must abort (SIGABRT) in a child process. */
static bool aborts(void (*fn)(struct cfg *))
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct cfg *cfg = cfg_new(table, COUNT);

		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		fn(cfg);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void get_unknown(struct cfg *cfg) { cfg_str(cfg, "nope"); }
static void get_wrong_type(struct cfg *cfg) { cfg_int(cfg, "name"); }
static void get_enum_as_int(struct cfg *cfg) { cfg_int(cfg, "mode"); }
static void get_list_as_str(struct cfg *cfg) { cfg_str(cfg, "listen"); }
static void get_list_past_end(struct cfg *cfg) { cfg_list_get(cfg, "listen", 2); }
static void get_time_as_size(struct cfg *cfg) { cfg_size(cfg, "timeout"); }
static void get_right(struct cfg *cfg) { cfg_time(cfg, "timeout"); }

static void bad_default(struct cfg *cfg)
{
	static const struct cfg_def bad[] = {
		{ .name = "n", .type = CFG_INT, .def = "x", .help = "bad default" },
	};

	cfg_free(cfg_new(bad, 1));
}

static void dup_name(struct cfg *cfg)
{
	static const struct cfg_def bad[] = {
		{ .name = "n", .type = CFG_STR, .help = "one" },
		{ .name = "n", .type = CFG_STR, .help = "two" },
	};

	cfg_free(cfg_new(bad, 2));
}

static void test_programming_errors(void)
{
	CHECK(aborts(get_unknown));
	CHECK(aborts(get_wrong_type));
	CHECK(aborts(get_enum_as_int));
	CHECK(aborts(get_list_as_str));
	CHECK(aborts(get_list_past_end));
	CHECK(aborts(get_time_as_size));
	CHECK(aborts(bad_default));
	CHECK(aborts(dup_name));
	CHECK(!aborts(get_right));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_run("config defaults", test_defaults);
	test_run("config strings, comments and quotes", test_strings_comments_quotes);
	test_run("config malformed lines", test_malformed_lines);
	test_run("config line length", test_line_length);
	test_run("config integers and ranges", test_int);
	test_run("config booleans", test_bool);
	test_run("config sizes, suffixes and overflow", test_size);
	test_run("config times, suffixes and overflow", test_time);
	test_run("config enums", test_enum);
	test_run("config lists replace then append", test_list);
	test_run("config duplicate keys", test_duplicates);
	test_run("config missing or unreadable file", test_missing_file);
	test_run("config include paths and include_try", test_include_paths);
	test_run("config include globs in sorted order", test_include_glob);
	test_run("config include loops and depth", test_include_loops_depth);
	test_run("config failed load changes nothing", test_atomic);
	test_run("config cfg_set", test_set);
	test_run("config print-defaults round trip", test_print_defaults);
	test_run("config trickle equals whole", test_trickle_equivalence);
	test_run("config total size limit", test_load_size_limit);
	test_run("config programming errors abort", test_programming_errors);
	nftw(tdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
