#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Configuration: each daemon declares one table of its parameters, every
 * one with a type, a default and a one-line meaning; `--print-defaults`
 * prints the table as a config file, and etc/ samples are checked against
 * it (scripts/check-sample-config). Unknown keys, bad values and
 * out-of-range numbers are errors "file:line: reason" that stop start-up.
 *
 * File format, one setting per line:
 *   key = value        whitespace around key and value is trimmed
 *   key = "  value "   double quotes keep outer spaces; \" and \\ inside
 *   # comment          only where '#' is the first non-blank character,
 *                      so a value may contain '#'
 *   include PATH       PATH relative to the including file's directory;
 *                      a glob pattern includes every match in sorted order
 *   include_try PATH   the same, but a missing file (or no match) is fine
 * A line is at most CFG_LINE_MAX bytes of valid UTF-8 without control
 * characters (tab excepted; a trailing CR is ignored). Includes nest at
 * most CFG_INCLUDE_DEPTH deep and may not loop. A scalar key set twice in
 * the same file is an error (a later file may override an earlier one). */

#define CFG_LINE_MAX 8192
#define CFG_INCLUDE_DEPTH 8
/* All files of one load together, so a runaway include cannot eat memory. */
#define CFG_LOAD_MAX (16 * 1024 * 1024)

enum cfg_type {
	CFG_STR,
	CFG_INT,   /* signed decimal within [min, max] */
	CFG_BOOL,  /* yes|no|true|false|on|off|1|0 */
	CFG_SIZE,  /* bytes, with optional k, M, G, T suffix (1024-based) */
	CFG_TIME,  /* seconds, with optional s, m, h, d suffix; < 2^32 */
	CFG_ENUM,  /* one of the words in `choices` ("a|b|c") */
	/* May repeat: every line in a file adds one value (e.g. listen). The
	 * first line for the key in one cfg_load_file() replaces the list it
	 * had before (the defaults, say); "key =" with an empty value adds
	 * nothing, so it alone empties the list. `def` holds the default
	 * values separated by " ; " (space, semicolon, space). */
	CFG_LIST,
};

struct cfg_def {
	const char *name;
	enum cfg_type type;
	const char *def;      /* default, unquoted (lists: " ; " between values); NULL = empty */
	const char *help;     /* one line */
	long long min, max;   /* CFG_INT, CFG_SIZE, CFG_TIME; both 0 = no bound */
	const char *choices;  /* CFG_ENUM */
	/* Extra check after the type check (on each value of a list); 0 ok,
	 * -1 with *error_r set. May be NULL. */
	int (*validate)(const char *value, const char **error_r);
};

struct cfg;

/* The table must outlive the cfg. Every default is checked here: a default
 * that does not pass its own type check is a programming error and aborts. */
struct cfg *cfg_new(const struct cfg_def *table, size_t count);
void cfg_free(struct cfg *cfg);

/* Read a file. On error returns -1 with error_r "file:line: reason" (just
 * "path: strerror" when the file itself cannot be opened; owned by cfg,
 * valid until the next call) and leaves cfg as before the call. */
int cfg_load_file(struct cfg *cfg, const char *path, const char **error_r);

/* The same, for text that arrives in pieces (a pipe; tests feed it a byte
 * at a time). `name` stands for the file in messages and relative
 * includes. feed() returns -1 once an error has been found (and ignores
 * further input); end() applies the load when there was none, frees ld
 * and returns what cfg_load_file() would have. */
struct cfg_load;
struct cfg_load *cfg_load_begin(struct cfg *cfg, const char *name);
int cfg_load_feed(struct cfg_load *ld, const void *data, size_t len);
int cfg_load_end(struct cfg_load *ld, const char **error_r);

/* One setting, as from a command line "-o key=value", checked like a file
 * line; errors read "-o key: reason". For a CFG_LIST, value replaces the
 * whole list and holds its values separated by " ; " as `def` does. */
int cfg_set(struct cfg *cfg, const char *key, const char *value, const char **error_r);

/* Typed getters; asking for a name not in the table, or with the wrong
 * type, is a programming error and aborts. cfg_str() serves CFG_STR and
 * CFG_ENUM and never returns NULL (an empty value is ""). */
const char *cfg_str(const struct cfg *cfg, const char *name);
long long cfg_int(const struct cfg *cfg, const char *name);
bool cfg_bool(const struct cfg *cfg, const char *name);
uint64_t cfg_size(const struct cfg *cfg, const char *name);
unsigned cfg_time(const struct cfg *cfg, const char *name);
/* CFG_ENUM: index of the value among `choices` (0 for the first word). */
unsigned cfg_enum(const struct cfg *cfg, const char *name);
size_t cfg_list_count(const struct cfg *cfg, const char *name);
const char *cfg_list_get(const struct cfg *cfg, const char *name, size_t i);

/* The whole table as a valid config file, in table order: per parameter a
 * "# help" line, "# one of: a, b, c" for enums, "# range: min..max" for
 * bounded numbers, then "name = default" (one line per list value; an
 * empty default as "name ="), with a blank line between parameters.
 * Loading the output gives back exactly the defaults. */
void cfg_print_defaults(const struct cfg_def *table, size_t count, FILE *out);

#endif
