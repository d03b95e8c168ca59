#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "maildir-quota.h"
#include "xalloc.h"

/* A signed decimal in [s, end); -1 when malformed or out of range. */
static int maildir_quota_i64(const char *s, const char *end, int64_t *r)
{
	bool neg = s < end && *s == '-';
	int64_t v = 0;

	if (neg)
		s++;
	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*r = neg ? -v : v;
	return 0;
}

/* "<n>S,<n>C" in any order, either part optional. */
static int maildir_quota_limits_line(struct maildir_quota_limits *l, const char *s, const char *end)
{
	memset(l, 0, sizeof(*l));
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *fend = comma == NULL ? end : comma;
		int64_t v;

		if (fend - s < 2 || maildir_quota_i64(s, fend - 1, &v) < 0 || v < 0)
			return -1;
		if (fend[-1] == 'S')
			l->bytes = (uint64_t)v;
		else if (fend[-1] == 'C')
			l->count = (uint64_t)v;
		else
			return -1;
		s = comma == NULL ? end : comma + 1;
	}
	return 0;
}

static int maildir_quota_delta_line(struct maildir_quota *q, const char *s, const char *end)
{
	int64_t bytes, count;
	const char *sp;

	while (s < end && *s == ' ')
		s++;
	sp = memchr(s, ' ', (size_t)(end - s));
	if (sp == NULL || maildir_quota_i64(s, sp, &bytes) < 0)
		return -1;
	while (sp < end && *sp == ' ')
		sp++;
	while (end > sp && end[-1] == ' ')
		end--;
	if (maildir_quota_i64(sp, end, &count) < 0)
		return -1;
	if ((bytes > 0 && q->bytes > INT64_MAX - bytes) || (bytes < 0 && q->bytes < INT64_MIN - bytes) ||
	    (count > 0 && q->count > INT64_MAX - count) || (count < 0 && q->count < INT64_MIN - count))
		return -1;
	q->bytes += bytes;
	q->count += count;
	return 0;
}

int maildir_quota_parse(struct maildir_quota *q, const char *data, size_t len,
			const char **error_r)
{
	const char *end = data + len;
	bool first = true;

	memset(q, 0, sizeof(*q));
	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		const char *lend = nl == NULL ? end : nl;

		if (first) {
			if (maildir_quota_limits_line(&q->limits, data, lend) < 0) {
				*error_r = "maildirsize: malformed limits line";
				return -1;
			}
			first = false;
		} else if (nl == NULL || (lend > data && maildir_quota_delta_line(q, data, lend) < 0)) {
			/* A line without its newline is an append cut short. */
			q->skipped_lines++;
		}
		if (nl == NULL)
			break;
		data = nl + 1;
	}
	if (first) {
		*error_r = "maildirsize: empty";
		return -1;
	}
	return 0;
}

/* Add the messages in <dir>/new and <dir>/cur. The size comes from ,S=
 * when the name has it, else from stat(). */
static int maildir_quota_scan_dir(const char *dir, struct maildir_quota *q, const char **error_r)
{
	static const char *const subs[] = { "new", "cur" };

	for (size_t i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *e;

		if (d == NULL) {
			free(path);
			if (errno == ENOENT)
				continue;
			*error_r = "cannot open a Maildir directory";
			return -1;
		}
		while ((e = readdir(d)) != NULL) {
			struct maildir_name n;
			struct stat st;

			if (maildir_name_parse(e->d_name, &n) < 0)
				continue;
			if (!n.has_size) {
				char *file = xasprintf("%s/%s", path, e->d_name);
				int r = stat(file, &st);

				free(file);
				if (r < 0)
					continue;	/* expunged meanwhile */
				n.size = (uint64_t)st.st_size;
			}
			q->bytes += (int64_t)n.size;
			q->count++;
		}
		closedir(d);
		free(path);
	}
	return 0;
}

static int maildir_quota_scan(const char *maildir, struct maildir_quota *q, const char **error_r)
{
	DIR *root;
	struct dirent *e;
	int ret;

	q->bytes = 0;
	q->count = 0;
	if (maildir_quota_scan_dir(maildir, q, error_r) < 0)
		return -1;
	root = opendir(maildir);
	if (root == NULL) {
		*error_r = "cannot open the Maildir";
		return -1;
	}
	ret = 0;
	while (ret == 0 && (e = readdir(root)) != NULL) {
		char *folder;

		if (e->d_name[0] != '.' || !maildir_folder_name_valid(e->d_name + 1))
			continue;
		folder = xasprintf("%s/%s", maildir, e->d_name);
		ret = maildir_quota_scan_dir(folder, q, error_r);
		free(folder);
	}
	closedir(root);
	return ret;
}

static void maildir_quota_format_limits(struct buf *out, const struct maildir_quota_limits *l)
{
	buf_printf(out, "%lluS", (unsigned long long)l->bytes);
	if (l->count > 0)
		buf_printf(out, ",%lluC", (unsigned long long)l->count);
	buf_append_char(out, '\n');
}

int maildir_quota_recalc(const char *maildir, const struct maildir_quota_limits *limits,
			 struct maildir_quota *q_r, const char **error_r)
{
	struct buf out;
	int ret;

	memset(q_r, 0, sizeof(*q_r));
	q_r->limits = *limits;
	if (maildir_quota_scan(maildir, q_r, error_r) < 0)
		return -1;
	buf_init(&out, BUF_NO_LIMIT);
	maildir_quota_format_limits(&out, limits);
	buf_printf(&out, "%lld %lld\n", (long long)q_r->bytes, (long long)q_r->count);
	ret = maildir_file_replace(maildir, "maildirsize", out.data, out.len, error_r);
	buf_free(&out);
	return ret;
}

int maildir_quota_fits(const struct maildir_quota *q, uint64_t bytes, uint64_t count)
{
	int64_t b = q->bytes < 0 ? 0 : q->bytes, c = q->count < 0 ? 0 : q->count;

	if (q->limits.bytes > 0 && (uint64_t)b + bytes > q->limits.bytes)
		return 0;
	if (q->limits.count > 0 && (uint64_t)c + count > q->limits.count)
		return 0;
	return 1;
}

static bool maildir_quota_due(const struct maildir_quota *q, const struct stat *st,
			      const struct maildir_quota_limits *limits)
{
	if (st->st_size > MAILDIR_QUOTA_MAX_FILE_SIZE || q->bytes < 0 || q->count < 0)
		return true;
	if (limits != NULL && (limits->bytes != q->limits.bytes || limits->count != q->limits.count))
		return true;
	return !maildir_quota_fits(q, 0, 0) &&
	       time(NULL) - st->st_mtime > MAILDIR_QUOTA_STALE_SECS;
}

int maildir_quota_get(const char *maildir, const struct maildir_quota_limits *limits,
		      struct maildir_quota *q_r, const char **error_r)
{
	char *path = xasprintf("%s/maildirsize", maildir);
	struct buf data;
	struct stat st;
	int ret;

	memset(q_r, 0, sizeof(*q_r));
	buf_init(&data, 1024 * 1024);
	ret = maildir_file_read(path, &data, error_r);
	if (ret > 0 && (stat(path, &st) < 0 || maildir_quota_parse(q_r, data.data, data.len, error_r) < 0))
		ret = 0;	/* unreadable content: rebuilt below */
	free(path);
	buf_free(&data);
	if (ret < 0)
		return -1;
	if (ret == 0 && limits == NULL) {
		memset(q_r, 0, sizeof(*q_r));
		return maildir_quota_scan(maildir, q_r, error_r);
	}
	if (ret == 0 || maildir_quota_due(q_r, &st, limits)) {
		struct maildir_quota_limits keep = limits != NULL ? *limits : q_r->limits;

		return maildir_quota_recalc(maildir, &keep, q_r, error_r);
	}
	return 0;
}

int maildir_quota_update(const char *maildir, int64_t bytes, int64_t count,
			 const char **error_r)
{
	char *path = xasprintf("%s/maildirsize", maildir);
	char line[64];
	int fd, len, ret = 1;

	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	free(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open maildirsize";
		return -1;
	}
	/* One write() of the whole line: O_APPEND keeps lines from several
	 * writers whole on a local disk. */
	len = snprintf(line, sizeof(line), "%lld %lld\n", (long long)bytes, (long long)count);
	if (write(fd, line, (size_t)len) != len) {
		*error_r = "cannot append to maildirsize";
		ret = -1;
	}
	if (close(fd) < 0 && ret == 1) {
		*error_r = "cannot append to maildirsize";
		ret = -1;
	}
	return ret;
}
