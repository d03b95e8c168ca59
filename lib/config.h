#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Configuration: each daemon declares one table of its parameters, every
 * one with a type, a default and a one-line meaning; `--print-defaults`
 * prints the table as a config file, and etc/ samples are checked against
 * it. A config file is "key = value" lines, '#' comments, and
 * "include PATH" (relative to the including file; globs allowed). Unknown
 * keys, bad values and out-of-range numbers are errors "file:line: reason"
 * that stop start-up. */

enum cfg_type {
	CFG_STR,
	CFG_INT,   /* signed decimal within [min, max] */
	CFG_BOOL,  /* yes|no|true|false|on|off|1|0 */
	CFG_SIZE,  /* bytes, with optional k, M, G suffix (1024-based) */
	CFG_TIME,  /* seconds, with optional s, m, h, d suffix */
	CFG_ENUM,  /* one of the words in `choices` ("a|b|c") */
	CFG_LIST,  /* may repeat: every line adds one value (e.g. listen) */
};

struct cfg_def {
	const char *name;
	enum cfg_type type;
	const char *def;      /* default as written in a file; NULL = empty */
	const char *help;     /* one line */
	long long min, max;   /* CFG_INT, CFG_SIZE, CFG_TIME; both 0 = no bound */
	const char *choices;  /* CFG_ENUM */
	/* Extra check; 0 ok, -1 with *error_r set. May be NULL. */
	int (*validate)(const char *value, const char **error_r);
};

struct cfg;

struct cfg *cfg_new(const struct cfg_def *table, size_t count);
void cfg_free(struct cfg *cfg);

/* Read a file. On error returns -1 with error_r "file:line: reason" (owned
 * by cfg, valid until the next call) and leaves cfg as before the call. */
int cfg_load_file(struct cfg *cfg, const char *path, const char **error_r);
/* One setting, as from a command line "-o key=value". */
int cfg_set(struct cfg *cfg, const char *key, const char *value, const char **error_r);

/* Typed getters; asking for a name not in the table, or with the wrong
 * type, is a programming error and aborts. */
const char *cfg_str(const struct cfg *cfg, const char *name);
long long cfg_int(const struct cfg *cfg, const char *name);
bool cfg_bool(const struct cfg *cfg, const char *name);
uint64_t cfg_size(const struct cfg *cfg, const char *name);
unsigned cfg_time(const struct cfg *cfg, const char *name);
size_t cfg_list_count(const struct cfg *cfg, const char *name);
const char *cfg_list_get(const struct cfg *cfg, const char *name, size_t i);

/* Every parameter as "# help\nname = default\n" lines, in table order. */
void cfg_print_defaults(const struct cfg_def *table, size_t count, FILE *out);

#endif
