#ifndef MR_LOG_H
#define MR_LOG_H

#include <stdbool.h>

struct buf;

/* One line per event: "<level>: <sid>: <event> key=value ...". The sid
 * (session id) ties together every line of one connection or message so
 * `grep SID` shows its whole story; "-" when there is none. Values that
 * could break the line (spaces, quotes, control bytes) go through
 * log_escape(). */
enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

enum log_dest {
	LOG_DEST_STDERR,
	LOG_DEST_SYSLOG,
};

#define LOG_SID_LEN 12 /* 11 characters and the NUL */

void log_open(const char *ident, enum log_dest dest, enum log_level min_level);
void log_set_level(enum log_level min_level);
bool log_enabled(enum log_level level);
/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int log_level_parse(const char *name);
/* "stderr" or "syslog" -> destination; -1 when unknown. */
int log_dest_parse(const char *name);

void log_at(enum log_level level, const char *sid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(sid, ...) log_at(LOG_LEVEL_DEBUG, (sid), __VA_ARGS__)
#define log_info(sid, ...) log_at(LOG_LEVEL_INFO, (sid), __VA_ARGS__)
#define log_warn(sid, ...) log_at(LOG_LEVEL_WARN, (sid), __VA_ARGS__)
#define log_error(sid, ...) log_at(LOG_LEVEL_ERROR, (sid), __VA_ARGS__)

/* A new random session id, LOG_SID_LEN - 1 characters of [0-9A-Z]. */
void log_sid_new(char sid[LOG_SID_LEN]);

/* Append s so it reads as one value: as is when it is plain, else in
 * double quotes with \" \\ and \xNN escapes. Control bytes never reach the
 * log raw, so a peer cannot forge log lines (fail2ban reads them). */
void log_escape(struct buf *out, const char *s);

#endif
