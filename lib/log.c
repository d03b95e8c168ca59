#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const char *log_ident = "mailroom";
static enum log_dest log_dest = LOG_DEST_STDERR;
static enum log_level log_min = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_ERROR] = "error",
};

void log_open(const char *ident, enum log_dest dest, enum log_level min_level)
{
	log_ident = ident;
	log_dest = dest;
	log_min = min_level;
	if (dest == LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level min_level)
{
	log_min = min_level;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names); i++)
		if (strcmp(name, log_level_names[i]) == 0)
			return (int)i;
	return -1;
}

int log_dest_parse(const char *name)
{
	if (strcmp(name, "stderr") == 0)
		return LOG_DEST_STDERR;
	if (strcmp(name, "syslog") == 0)
		return LOG_DEST_SYSLOG;
	return -1;
}

static int log_syslog_priority(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return LOG_DEBUG;
	case LOG_LEVEL_INFO: return LOG_INFO;
	case LOG_LEVEL_WARN: return LOG_WARNING;
	case LOG_LEVEL_ERROR: return LOG_ERR;
	}
	return LOG_ERR;
}

void log_at(enum log_level level, const char *sid, const char *fmt, ...)
{
	char line[4096];
	size_t off = 0;
	int n;
	va_list ap;

	if (level < log_min)
		return;
	if (log_dest == LOG_DEST_STDERR) {
		struct timeval tv;
		struct tm tm;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + off, sizeof(line) - off, ".%03ldZ %s[%ld]: ",
			     (long)tv.tv_usec / 1000, log_ident, (long)getpid());
		off += n > 0 ? (size_t)n : 0;
	}
	n = snprintf(line + off, sizeof(line) - off, "%s: %s: ",
		     log_level_names[level], sid != NULL ? sid : "-");
	off += n > 0 ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
	va_end(ap);
	off += n > 0 ? (size_t)n : 0;
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2; /* truncated: still one line */
	/* A format argument must not be able to split the line. */
	for (size_t i = 0; i < off; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';

	if (log_dest == LOG_DEST_SYSLOG) {
		line[off] = '\0';
		syslog(log_syslog_priority(level), "%s", line);
		return;
	}
	line[off++] = '\n';
	/* One write per line keeps lines whole across threads and processes. */
	while (write(STDERR_FILENO, line, off) < 0 && errno == EINTR)
		;
}

void log_sid_new(char sid[LOG_SID_LEN])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	unsigned char rnd[LOG_SID_LEN - 1];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)((ts.tv_nsec >> (i * 3)) ^ getpid() ^ (i * 131));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		sid[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	sid[LOG_SID_LEN - 1] = '\0';
}

static bool log_plain(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c == 0x7f)
			return false;
	}
	return true;
}

void log_escape(struct buf *out, const char *s)
{
	if (log_plain(s)) {
		buf_append_str(out, s);
		return;
	}
	buf_append_char(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < ' ' || c == 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_append_char(out, (char)c);
	}
	buf_append_char(out, '"');
}
