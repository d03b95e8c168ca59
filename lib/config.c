#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "xalloc.h"

/* Messages quote a file name and a whole line at most, so this is enough. */
#define CFG_ERROR_MAX (64 * 1024)
#define CFG_READ_CHUNK 4096

struct cfg_val {
	char *str;      /* scalar value as written, unquoted */
	long long num;  /* INT, SIZE, TIME; BOOL 0/1; ENUM index */
	char **items;   /* CFG_LIST */
	size_t n_items;
};

struct cfg {
	const struct cfg_def *table;
	size_t count;
	struct cfg_val *vals;
	struct buf error;
};

/* Where a key was set during one load, one entry per file: a scalar set
 * twice in one file is an error, and the first list line replaces the old
 * list. */
struct cfg_seen {
	const char *file; /* for messages */
	const char *id;   /* real path: two names for one file are one file */
	unsigned line;
	struct cfg_seen *next;
};

struct cfg_file {
	struct cfg_load *ld;
	const char *name;
	const char *id;
	const struct cfg_file *parent;
	unsigned depth;
	unsigned line_no;
	struct buf line;
};

struct cfg_load {
	struct cfg *cfg;
	struct cfg_val *stage; /* the new values; replace cfg->vals on success */
	struct cfg_seen **seen; /* per key, a list */
	char **names;          /* file names and ids, alive until the load ends */
	size_t n_names;
	size_t total;
	bool failed;           /* set by the public calls only */
	struct cfg_file top;
};

struct cfg_unit {
	const char *letters; /* accepted suffixes; the first is printed */
	long long mult;
};

static const struct cfg_unit cfg_size_units[] = {
	{ "kK", 1LL << 10 }, { "Mm", 1LL << 20 }, { "Gg", 1LL << 30 }, { "Tt", 1LL << 40 },
};
static const struct cfg_unit cfg_time_units[] = {
	{ "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
};

static const struct {
	const char *word;
	bool value;
} cfg_bool_words[] = {
	{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
	{ "on", true }, { "off", false }, { "1", true }, { "0", false },
};

static const char *const cfg_type_names[] = {
	[CFG_STR] = "string", [CFG_INT] = "integer", [CFG_BOOL] = "boolean",
	[CFG_SIZE] = "size", [CFG_TIME] = "time", [CFG_ENUM] = "enum",
	[CFG_LIST] = "list",
};

static void __attribute__((noreturn, format(printf, 1, 2)))
cfg_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fatal: config: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* Append a reason to err; always -1 so callers can return it. */
static int __attribute__((format(printf, 2, 3)))
cfg_fail(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return -1;
}

static bool cfg_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---------------------------------------------------------------- values */

static int cfg_find(const struct cfg_def *table, size_t count, const char *key, size_t len)
{
	for (size_t i = 0; i < count; i++) {
		if (strncmp(table[i].name, key, len) == 0 && table[i].name[len] == '\0')
			return (int)i;
	}
	return -1;
}

static bool cfg_bounded(const struct cfg_def *d)
{
	return (d->type == CFG_INT || d->type == CFG_SIZE || d->type == CFG_TIME) &&
	       (d->min != 0 || d->max != 0);
}

/* n with the largest suffix that divides it, so ranges read "1M", "30m". */
static void cfg_format_num(const struct cfg_def *d, long long n, char *out, size_t size)
{
	const struct cfg_unit *units = d->type == CFG_SIZE ? cfg_size_units : cfg_time_units;
	size_t i = d->type == CFG_INT ? 0 : 4;

	while (i > 0 && (n == 0 || n % units[i - 1].mult != 0))
		i--;
	if (i == 0 || units[i - 1].mult == 1)
		snprintf(out, size, "%lld", n);
	else
		snprintf(out, size, "%lld%c", n / units[i - 1].mult, units[i - 1].letters[0]);
}

static int cfg_parse_int(const char *text, long long *num_r, struct buf *err)
{
	char *end;

	if (!(text[0] == '-' || text[0] == '+' || (text[0] >= '0' && text[0] <= '9')))
		return cfg_fail(err, "'%s' is not a number", text);
	errno = 0;
	*num_r = strtoll(text, &end, 10);
	if (*end != '\0' || end == text || !(end[-1] >= '0' && end[-1] <= '9'))
		return cfg_fail(err, "'%s' is not a number", text);
	if (errno == ERANGE)
		return cfg_fail(err, "'%s' is too large", text);
	return 0;
}

/* Digits and an optional one-letter unit; overflow is an error. */
static int cfg_parse_scaled(const char *text, const struct cfg_unit *units,
			    const char *what, long long *num_r, struct buf *err)
{
	const char *p = text;
	long long n = 0, mult = 1;

	if (!(*p >= '0' && *p <= '9'))
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (LLONG_MAX - (*p - '0')) / 10)
			return cfg_fail(err, "%s '%s' is too large", what, text);
		n = n * 10 + (*p - '0');
	}
	if (*p != '\0') {
		size_t i;

		for (i = 0; i < 4 && strchr(units[i].letters, *p) == NULL; i++)
			;
		if (i == 4 || p[1] != '\0')
			goto bad;
		mult = units[i].mult;
	}
	if (n > LLONG_MAX / mult)
		return cfg_fail(err, "%s '%s' is too large", what, text);
	*num_r = n * mult;
	return 0;
bad:
	return cfg_fail(err, "bad %s '%s' (a number with an optional %s suffix)", what, text,
			units == cfg_size_units ? "k, M, G or T" : "s, m, h or d");
}

static int cfg_parse_bool(const char *text, long long *num_r, struct buf *err)
{
	for (size_t i = 0; i < sizeof(cfg_bool_words) / sizeof(cfg_bool_words[0]); i++) {
		if (strcasecmp(text, cfg_bool_words[i].word) == 0) {
			*num_r = cfg_bool_words[i].value;
			return 0;
		}
	}
	return cfg_fail(err, "'%s' is not a boolean (yes, no, true, false, on, off, 1, 0)", text);
}

/* The choices "a|b" as "a, b". */
static void cfg_choices_text(const char *choices, struct buf *out)
{
	for (const char *p = choices; *p != '\0'; p++) {
		if (*p == '|')
			buf_append_str(out, ", ");
		else
			buf_append_char(out, *p);
	}
}

static int cfg_parse_enum(const struct cfg_def *d, const char *text, long long *num_r,
			  struct buf *err)
{
	size_t len = strlen(text);
	long long index = 0;

	for (const char *p = d->choices;; index++) {
		const char *bar = strchr(p, '|');
		size_t wlen = bar != NULL ? (size_t)(bar - p) : strlen(p);

		if (wlen == len && strncmp(p, text, len) == 0) {
			*num_r = index;
			return 0;
		}
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	cfg_fail(err, "'%s' is not one of: ", text);
	cfg_choices_text(d->choices, err);
	return -1;
}

static int cfg_check_range(const struct cfg_def *d, long long n, struct buf *err)
{
	char lo[32], hi[32];

	if (d->type == CFG_TIME && n > (long long)UINT_MAX)
		return cfg_fail(err, "time %lld is too large", n);
	if (!cfg_bounded(d) || (n >= d->min && n <= d->max))
		return 0;
	cfg_format_num(d, d->min, lo, sizeof(lo));
	cfg_format_num(d, d->max, hi, sizeof(hi));
	return cfg_fail(err, "%lld is out of range %s..%s", n, lo, hi);
}

/* Type check, range check and the table's own check for one value. */
static int cfg_check_value(const struct cfg_def *d, const char *text, long long *num_r,
			   struct buf *err)
{
	const char *reason = NULL;
	int ret = 0;

	*num_r = 0;
	switch (d->type) {
	case CFG_STR:
	case CFG_LIST:
		break;
	case CFG_INT:
		ret = cfg_parse_int(text, num_r, err);
		break;
	case CFG_BOOL:
		ret = cfg_parse_bool(text, num_r, err);
		break;
	case CFG_SIZE:
		ret = cfg_parse_scaled(text, cfg_size_units, "size", num_r, err);
		break;
	case CFG_TIME:
		ret = cfg_parse_scaled(text, cfg_time_units, "time", num_r, err);
		break;
	case CFG_ENUM:
		ret = cfg_parse_enum(d, text, num_r, err);
		break;
	}
	if (ret == 0)
		ret = cfg_check_range(d, *num_r, err);
	if (ret == 0 && d->validate != NULL && d->validate(text, &reason) < 0)
		ret = cfg_fail(err, "%s", reason != NULL ? reason : "invalid value");
	return ret;
}

static void cfg_val_free(struct cfg_val *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n_items; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static void cfg_val_copy(struct cfg_val *dst, const struct cfg_val *src)
{
	dst->str = src->str != NULL ? xstrdup(src->str) : NULL;
	dst->num = src->num;
	dst->n_items = src->n_items;
	dst->items = xreallocarray(NULL, src->n_items, sizeof(char *));
	for (size_t i = 0; i < src->n_items; i++)
		dst->items[i] = xstrdup(src->items[i]);
}

static void cfg_list_add(struct cfg_val *v, const char *text)
{
	v->items = xreallocarray(v->items, v->n_items + 1, sizeof(char *));
	v->items[v->n_items++] = xstrdup(text);
}

/* Next value of a " ; "-separated list; false at the end. Values are
 * trimmed and empty ones skipped. */
static bool cfg_list_next(const char **pos, char **item_r)
{
	const char *p = *pos;

	while (p != NULL && *p != '\0') {
		const char *sep = strstr(p, " ; ");
		const char *end = sep != NULL ? sep : p + strlen(p);

		*pos = sep != NULL ? sep + 3 : end;
		while (p < end && cfg_is_blank(*p))
			p++;
		while (end > p && cfg_is_blank(end[-1]))
			end--;
		if (end > p) {
			*item_r = xstrndup(p, (size_t)(end - p));
			return true;
		}
		p = *pos;
	}
	return false;
}

/* Set v from text: one value, or a whole " ; "-list for CFG_LIST. v is
 * changed only on success. */
static int cfg_assign(const struct cfg_def *d, struct cfg_val *v, const char *text,
		      struct buf *err)
{
	struct cfg_val nv = { 0 };
	const char *pos = text != NULL ? text : "";
	char *item;

	if (d->type != CFG_LIST) {
		if (cfg_check_value(d, pos, &nv.num, err) < 0)
			return -1;
		nv.str = xstrdup(pos);
	}
	while (d->type == CFG_LIST && cfg_list_next(&pos, &item)) {
		if (cfg_check_value(d, item, &nv.num, err) < 0) {
			free(item);
			cfg_val_free(&nv);
			return -1;
		}
		cfg_list_add(&nv, item);
		free(item);
	}
	cfg_val_free(v);
	*v = nv;
	return 0;
}

static void cfg_check_def(const struct cfg_def *table, size_t i)
{
	const struct cfg_def *d = &table[i];

	if (d->name == NULL || d->name[0] == '\0' || strpbrk(d->name, " \t=#\"") != NULL)
		cfg_die("entry %zu has a bad name", i);
	if (cfg_find(table, i, d->name, strlen(d->name)) >= 0)
		cfg_die("%s is in the table twice", d->name);
	if ((unsigned)d->type > CFG_LIST)
		cfg_die("%s has an unknown type", d->name);
	if (d->type == CFG_ENUM && (d->choices == NULL || d->choices[0] == '\0'))
		cfg_die("%s is an enum without choices", d->name);
	if (cfg_bounded(d) && d->min > d->max)
		cfg_die("%s has min > max", d->name);
}

struct cfg *cfg_new(const struct cfg_def *table, size_t count)
{
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));

	cfg->table = table;
	cfg->count = count;
	cfg->vals = xcalloc(count, sizeof(*cfg->vals));
	buf_init(&cfg->error, CFG_ERROR_MAX);
	for (size_t i = 0; i < count; i++) {
		cfg_check_def(table, i);
		if (cfg_assign(&table[i], &cfg->vals[i], table[i].def, &cfg->error) < 0)
			cfg_die("%s: bad default: %s", table[i].name, buf_cstr(&cfg->error));
	}
	return cfg;
}

static void cfg_vals_free(struct cfg_val *vals, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cfg_val_free(&vals[i]);
	free(vals);
}

void cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	cfg_vals_free(cfg->vals, cfg->count);
	buf_free(&cfg->error);
	free(cfg);
}

/* ---------------------------------------------------------------- lines */

static bool cfg_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static int cfg_check_text(const char *s, size_t len, struct buf *err)
{
	if (memchr(s, '\0', len) != NULL)
		return cfg_fail(err, "NUL byte in line");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return cfg_fail(err, "control character 0x%02x in line", c);
	}
	if (!cfg_utf8_valid((const unsigned char *)s, len))
		return cfg_fail(err, "invalid UTF-8 in line");
	return 0;
}

/* The value of a line (already trimmed): as is, or the inside of double
 * quotes with \" and \\ undone. */
static int cfg_unquote(const char *s, struct buf *out, struct buf *err)
{
	buf_reset(out);
	if (s[0] != '"')
		return buf_append_str(out, s);
	for (const char *p = s + 1; *p != '\0'; p++) {
		if (*p == '"') {
			if (p[1] != '\0')
				return cfg_fail(err, "text after the closing quote");
			return 0;
		}
		if (*p == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return cfg_fail(err, "bad escape in quotes (only \\\" and \\\\)");
			p++;
		}
		buf_append_char(out, *p);
	}
	return cfg_fail(err, "missing closing quote");
}

static const char *cfg_load_keep(struct cfg_load *ld, const char *s)
{
	ld->names = xreallocarray(ld->names, ld->n_names + 1, sizeof(char *));
	ld->names[ld->n_names] = xstrdup(s);
	return ld->names[ld->n_names++];
}

/* Start an error message at f's current line; the reason is appended.
 * Written before a check that may fail, so no reason needs copying. */
static struct buf *cfg_file_error(struct cfg_file *f)
{
	struct buf *err = &f->ld->cfg->error;

	buf_reset(err);
	buf_printf(err, "%s:%u: ", f->name, f->line_no);
	return err;
}

static int cfg_file_setup(struct cfg_file *f, struct cfg_load *ld, const char *name,
			  const struct cfg_file *parent)
{
	char *real = realpath(name, NULL);

	memset(f, 0, sizeof(*f));
	f->ld = ld;
	f->name = cfg_load_keep(ld, name);
	f->id = real != NULL ? cfg_load_keep(ld, real) : f->name;
	free(real);
	f->parent = parent;
	f->depth = parent != NULL ? parent->depth + 1 : 0;
	buf_init(&f->line, CFG_LINE_MAX);
	for (const struct cfg_file *a = parent; a != NULL; a = a->parent) {
		if (strcmp(a->id, f->id) == 0)
			return -1;
	}
	return 0;
}

static int cfg_file_set(struct cfg_file *f, const char *key, size_t keylen, const char *value)
{
	struct cfg_load *ld = f->ld;
	int i = cfg_find(ld->cfg->table, ld->cfg->count, key, keylen);
	const struct cfg_def *d;
	struct cfg_seen *seen;
	long long num;

	if (i < 0)
		return cfg_fail(cfg_file_error(f), "unknown key '%.*s'", (int)keylen, key);
	d = &ld->cfg->table[i];
	for (seen = ld->seen[i]; seen != NULL && strcmp(seen->id, f->id) != 0; seen = seen->next)
		;
	if (d->type != CFG_LIST && seen != NULL)
		return cfg_fail(cfg_file_error(f), "%s: key set twice (first at %s:%u)",
				d->name, seen->file, seen->line);
	num = 0;
	buf_printf(cfg_file_error(f), "%s: ", d->name);
	if (!(d->type == CFG_LIST && value[0] == '\0') &&
	    cfg_check_value(d, value, &num, &ld->cfg->error) < 0)
		return -1;
	if (d->type == CFG_LIST) {
		if (ld->seen[i] == NULL)
			cfg_val_free(&ld->stage[i]);
		if (value[0] != '\0')
			cfg_list_add(&ld->stage[i], value);
	} else {
		free(ld->stage[i].str);
		ld->stage[i].str = xstrdup(value);
		ld->stage[i].num = num;
	}
	if (seen == NULL) {
		seen = xmalloc(sizeof(*seen));
		*seen = (struct cfg_seen){ f->name, f->id, f->line_no, ld->seen[i] };
		ld->seen[i] = seen;
	}
	return 0;
}

static int cfg_file_read_fd(struct cfg_file *f, int fd);
static int cfg_file_finish(struct cfg_file *f);

static int cfg_include_one(struct cfg_file *parent, const char *path, bool try)
{
	struct cfg_file child;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (try && errno == ENOENT)
			return 0;
		return cfg_fail(cfg_file_error(parent), "include %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return cfg_fail(cfg_file_error(parent), "include %s: %s", path, strerror(EISDIR));
	}
	if (cfg_file_setup(&child, parent->ld, path, parent) < 0) {
		close(fd);
		return cfg_fail(cfg_file_error(parent), "include %s: include loop", path);
	}
	ret = cfg_file_read_fd(&child, fd);
	close(fd);
	if (ret == 0)
		ret = cfg_file_finish(&child);
	buf_free(&child.line);
	return ret;
}

static int cfg_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* PATH of an include line, made relative to f's directory. With a
 * pattern, that directory's own name is escaped so only PATH is globbed. */
static void cfg_include_path(const struct cfg_file *f, const char *path, bool pattern,
			     struct buf *out)
{
	const char *slash = strrchr(f->name, '/');

	if (path[0] != '/' && slash != NULL) {
		for (const char *p = f->name; p <= slash; p++) {
			if (pattern && strchr("*?[\\", *p) != NULL)
				buf_append_char(out, '\\');
			buf_append_char(out, *p);
		}
	}
	buf_append_str(out, path);
}

static int cfg_include(struct cfg_file *f, const char *arg, bool try)
{
	struct buf arg_value, path;
	bool pattern;
	glob_t g;
	int ret, rc;

	buf_init(&arg_value, CFG_LINE_MAX);
	if (cfg_unquote(arg, &arg_value, cfg_file_error(f)) < 0 ||
	    (arg_value.len == 0 && cfg_fail(cfg_file_error(f), "include without a path") < 0)) {
		buf_free(&arg_value);
		return -1;
	}
	pattern = strpbrk(arg_value.data, "*?[") != NULL;
	buf_init(&path, BUF_NO_LIMIT);
	cfg_include_path(f, arg_value.data, pattern, &path);
	buf_free(&arg_value);
	if (f->depth >= CFG_INCLUDE_DEPTH) {
		ret = cfg_fail(cfg_file_error(f), "include %s: nested more than %d deep",
			       path.data, CFG_INCLUDE_DEPTH);
	} else if (!pattern) {
		ret = cfg_include_one(f, path.data, try);
	} else if ((rc = glob(path.data, GLOB_NOSORT, NULL, &g)) != 0) {
		ret = rc == GLOB_NOMATCH && try ? 0 :
			cfg_fail(cfg_file_error(f), "include %s: %s", path.data,
				 rc == GLOB_NOMATCH ? "no file matches" : "cannot expand pattern");
	} else {
		/* strcmp, not the locale's order: the same files load the same way everywhere. */
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cfg_strcmp_p);
		ret = 0;
		for (size_t i = 0; ret == 0 && i < g.gl_pathc; i++)
			ret = cfg_include_one(f, g.gl_pathv[i], try);
		globfree(&g);
	}
	buf_free(&path);
	return ret;
}

static bool cfg_word_is(const char *word, size_t len, const char *s)
{
	return strlen(s) == len && strncmp(word, s, len) == 0;
}

/* One complete line, terminator removed, in f->line. */
static int cfg_file_line(struct cfg_file *f)
{
	char *line = f->line.data;
	size_t len = f->line.len;
	char *p, *key, *end;
	size_t keylen;
	struct buf value;
	int ret;

	if (len == 0)
		return 0;
	if (line[len - 1] == '\r')
		line[--len] = '\0';
	if (cfg_check_text(line, len, cfg_file_error(f)) < 0)
		return -1;
	for (p = line; cfg_is_blank(*p); p++)
		;
	if (*p == '\0' || *p == '#')
		return 0;
	for (key = p; *p != '\0' && !cfg_is_blank(*p) && *p != '='; p++)
		;
	keylen = (size_t)(p - key);
	while (cfg_is_blank(*p))
		p++;
	end = line + len;
	while (end > p && cfg_is_blank(end[-1]))
		*--end = '\0';
	if (*p != '=') {
		if (*p != '\0' && (cfg_word_is(key, keylen, "include") ||
				   cfg_word_is(key, keylen, "include_try")))
			return cfg_include(f, p, keylen == strlen("include_try"));
		return cfg_fail(cfg_file_error(f), "missing '=' after '%.*s'", (int)keylen, key);
	}
	if (keylen == 0)
		return cfg_fail(cfg_file_error(f), "missing key before '='");
	for (p++; cfg_is_blank(*p); p++)
		;
	buf_init(&value, CFG_LINE_MAX);
	buf_printf(cfg_file_error(f), "%.*s: ", (int)keylen, key);
	ret = cfg_unquote(p, &value, &f->ld->cfg->error);
	if (ret == 0)
		ret = cfg_file_set(f, key, keylen, buf_cstr(&value));
	buf_free(&value);
	return ret;
}

static int cfg_file_feed(struct cfg_file *f, const char *data, size_t len)
{
	struct cfg_load *ld = f->ld;

	ld->total += len;
	if (ld->total > CFG_LOAD_MAX)
		return cfg_fail(cfg_file_error(f), "configuration larger than %d bytes", CFG_LOAD_MAX);
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) : len;

		if (buf_append(&f->line, data, n) < 0) {
			f->line_no++;
			return cfg_fail(cfg_file_error(f), "line longer than %d bytes", CFG_LINE_MAX);
		}
		if (nl == NULL)
			break;
		f->line_no++;
		if (cfg_file_line(f) < 0)
			return -1;
		buf_reset(&f->line);
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* A last line without a newline still counts. */
static int cfg_file_finish(struct cfg_file *f)
{
	if (f->line.len == 0)
		return 0;
	f->line_no++;
	return cfg_file_line(f);
}

static int cfg_file_read_fd(struct cfg_file *f, int fd)
{
	char chunk[CFG_READ_CHUNK];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			struct buf *err = &f->ld->cfg->error;

			buf_reset(err);
			return cfg_fail(err, "%s: %s", f->name, strerror(errno));
		}
		if (n == 0)
			return 0;
		if (cfg_file_feed(f, chunk, (size_t)n) < 0)
			return -1;
	}
}

/* ---------------------------------------------------------------- loading */

struct cfg_load *cfg_load_begin(struct cfg *cfg, const char *name)
{
	struct cfg_load *ld = xcalloc(1, sizeof(*ld));

	ld->cfg = cfg;
	ld->stage = xcalloc(cfg->count, sizeof(*ld->stage));
	for (size_t i = 0; i < cfg->count; i++)
		cfg_val_copy(&ld->stage[i], &cfg->vals[i]);
	ld->seen = xcalloc(cfg->count, sizeof(*ld->seen));
	buf_reset(&cfg->error);
	cfg_file_setup(&ld->top, ld, name, NULL);
	return ld;
}

int cfg_load_feed(struct cfg_load *ld, const void *data, size_t len)
{
	if (ld->failed || cfg_file_feed(&ld->top, data, len) < 0) {
		ld->failed = true;
		return -1;
	}
	return 0;
}

static void cfg_load_free(struct cfg_load *ld)
{
	buf_free(&ld->top.line);
	for (size_t i = 0; i < ld->n_names; i++)
		free(ld->names[i]);
	free(ld->names);
	for (size_t i = 0; i < ld->cfg->count; i++) {
		while (ld->seen[i] != NULL) {
			struct cfg_seen *next = ld->seen[i]->next;

			free(ld->seen[i]);
			ld->seen[i] = next;
		}
	}
	free(ld->seen);
	free(ld);
}

int cfg_load_end(struct cfg_load *ld, const char **error_r)
{
	struct cfg *cfg = ld->cfg;
	int ret = ld->failed ? -1 : cfg_file_finish(&ld->top);

	if (ret == 0) {
		cfg_vals_free(cfg->vals, cfg->count);
		cfg->vals = ld->stage;
		*error_r = NULL;
	} else {
		cfg_vals_free(ld->stage, cfg->count);
		*error_r = buf_cstr(&cfg->error);
	}
	cfg_load_free(ld);
	return ret;
}

int cfg_load_file(struct cfg *cfg, const char *path, const char **error_r)
{
	struct cfg_load *ld;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		buf_reset(&cfg->error);
		cfg_fail(&cfg->error, "%s: %s", path, strerror(errno));
		*error_r = buf_cstr(&cfg->error);
		return -1;
	}
	ld = cfg_load_begin(cfg, path);
	if (cfg_file_read_fd(&ld->top, fd) < 0)
		ld->failed = true;
	close(fd);
	return cfg_load_end(ld, error_r);
}

int cfg_set(struct cfg *cfg, const char *key, const char *value, const char **error_r)
{
	int i = cfg_find(cfg->table, cfg->count, key, strlen(key));
	struct buf *err = &cfg->error;

	buf_reset(err);
	if (i < 0) {
		cfg_fail(err, "-o %s: unknown key", key);
		*error_r = buf_cstr(err);
		return -1;
	}
	buf_printf(err, "-o %s: ", key);
	/* Only now: formatting the reason may move the buffer. */
	if (cfg_check_text(value, strlen(value), err) < 0 ||
	    cfg_assign(&cfg->table[i], &cfg->vals[i], value, err) < 0) {
		*error_r = buf_cstr(err);
		return -1;
	}
	buf_reset(err);
	*error_r = NULL;
	return 0;
}

/* ---------------------------------------------------------------- getters */

static const struct cfg_val *cfg_get(const struct cfg *cfg, const char *name,
				     enum cfg_type type, enum cfg_type alt)
{
	int i = cfg_find(cfg->table, cfg->count, name, strlen(name));

	if (i < 0)
		cfg_die("no parameter '%s' in the table", name);
	if (cfg->table[i].type != type && cfg->table[i].type != alt)
		cfg_die("parameter '%s' is a %s, read as a %s", name,
			cfg_type_names[cfg->table[i].type], cfg_type_names[type]);
	return &cfg->vals[i];
}

const char *cfg_str(const struct cfg *cfg, const char *name)
{
	return cfg_get(cfg, name, CFG_STR, CFG_ENUM)->str;
}

long long cfg_int(const struct cfg *cfg, const char *name)
{
	return cfg_get(cfg, name, CFG_INT, CFG_INT)->num;
}

bool cfg_bool(const struct cfg *cfg, const char *name)
{
	return cfg_get(cfg, name, CFG_BOOL, CFG_BOOL)->num != 0;
}

uint64_t cfg_size(const struct cfg *cfg, const char *name)
{
	return (uint64_t)cfg_get(cfg, name, CFG_SIZE, CFG_SIZE)->num;
}

unsigned cfg_time(const struct cfg *cfg, const char *name)
{
	return (unsigned)cfg_get(cfg, name, CFG_TIME, CFG_TIME)->num;
}

unsigned cfg_enum(const struct cfg *cfg, const char *name)
{
	return (unsigned)cfg_get(cfg, name, CFG_ENUM, CFG_ENUM)->num;
}

size_t cfg_list_count(const struct cfg *cfg, const char *name)
{
	return cfg_get(cfg, name, CFG_LIST, CFG_LIST)->n_items;
}

const char *cfg_list_get(const struct cfg *cfg, const char *name, size_t i)
{
	const struct cfg_val *v = cfg_get(cfg, name, CFG_LIST, CFG_LIST);

	if (i >= v->n_items)
		cfg_die("list '%s' has %zu values, asked for number %zu", name, v->n_items, i);
	return v->items[i];
}

/* ---------------------------------------------------------------- printing */

/* "name = value", quoted when the value's outer blanks or a leading quote
 * would otherwise be lost on reading. */
static void cfg_print_setting(const char *name, const char *value, FILE *out)
{
	size_t len = strlen(value);

	if (len == 0) {
		fprintf(out, "%s =\n", name);
		return;
	}
	if (!cfg_is_blank(value[0]) && !cfg_is_blank(value[len - 1]) && value[0] != '"') {
		fprintf(out, "%s = %s\n", name, value);
		return;
	}
	fprintf(out, "%s = \"", name);
	for (const char *p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputs("\"\n", out);
}

void cfg_print_defaults(const struct cfg_def *table, size_t count, FILE *out)
{
	for (size_t i = 0; i < count; i++) {
		const struct cfg_def *d = &table[i];
		const char *pos = d->def != NULL ? d->def : "";
		char lo[32], hi[32], *item;
		bool any = false;

		if (i > 0)
			fputc('\n', out);
		fprintf(out, "# %s\n", d->help != NULL ? d->help : d->name);
		if (d->type == CFG_ENUM) {
			struct buf words;

			buf_init(&words, BUF_NO_LIMIT);
			cfg_choices_text(d->choices, &words);
			fprintf(out, "# one of: %s\n", buf_cstr(&words));
			buf_free(&words);
		}
		if (cfg_bounded(d)) {
			cfg_format_num(d, d->min, lo, sizeof(lo));
			cfg_format_num(d, d->max, hi, sizeof(hi));
			fprintf(out, "# range: %s..%s\n", lo, hi);
		}
		if (d->type != CFG_LIST) {
			cfg_print_setting(d->name, pos, out);
			continue;
		}
		while (cfg_list_next(&pos, &item)) {
			cfg_print_setting(d->name, item, out);
			free(item);
			any = true;
		}
		if (!any)
			cfg_print_setting(d->name, "", out);
	}
}
