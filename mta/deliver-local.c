/* One local target: loop checks, Maildir++ folder for +detail, quota, and
 * the copy through lib/maildir's writer with Return-Path and Delivered-To
 * on top. Runs on a worker thread. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "maildir.h"
#include "maildir-quota.h"
#include "xalloc.h"

#define DELIVER_HEADERS_MAX (256 * 1024)

/* The header section (up to the empty line), for Delivered-To and
 * Received: checks; a longer one is looked at only in part. */
void deliver_local_read_headers(struct deliver_job *job)
{
	size_t want = job->qf.msg_size < DELIVER_HEADERS_MAX ? (size_t)job->qf.msg_size :
		      DELIVER_HEADERS_MAX;
	char *h = xmalloc(want + 1);
	ssize_t n = pread(job->fd, h, want, (off_t)job->qf.msg_offset);
	char *end;

	h[n > 0 ? n : 0] = '\0';
	if ((end = strstr(h, "\r\n\r\n")) != NULL)
		end[2] = '\0';
	job->headers = h;
	for (const char *line = h; line != NULL && *line != '\0';) {
		if (strncasecmp(line, "Received:", 9) == 0)
			job->received++;
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
}

/* 1 when a Delivered-To: header names addr. */
static int deliver_delivered_to(const char *headers, const char *addr)
{
	size_t alen = strlen(addr);

	for (const char *line = headers; line != NULL && *line != '\0';) {
		if (strncasecmp(line, "Delivered-To:", 13) == 0) {
			const char *v = line + 13;

			v += strspn(v, " \t");
			if (*v == '<')
				v++;
			if (strncasecmp(v, addr, alen) == 0 && strchr(">\r\n \t", v[alen]) != NULL)
				return 1;
		}
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	return 0;
}

/* The Maildir++ folder whose name matches detail without regard to case;
 * NULL when there is none. */
static char *deliver_find_folder(const char *maildir, const char *detail)
{
	DIR *d = opendir(maildir);
	struct dirent *de;
	char *found = NULL;

	if (d == NULL)
		return NULL;
	while (found == NULL && (de = readdir(d)) != NULL) {
		struct stat st;
		char *path;

		if (de->d_name[0] != '.' || strcasecmp(de->d_name + 1, detail) != 0 ||
		    maildir_folder_name_valid(de->d_name + 1) != 1)
			continue;
		path = xasprintf("%s/%s", maildir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			found = xstrdup(de->d_name + 1);
		free(path);
	}
	closedir(d);
	return found;
}

/* The directories above a first-time Maildir (<mail_root>/<domain>/). */
static void deliver_mkdir_parents(const char *maildir)
{
	char *path = xstrdup(maildir);

	for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (p[1] != '\0')
			mkdir(path, 0700);
		*p = '/';
	}
	free(path);
}

static int deliver_quota_check(struct deliver_job *job, struct deliver_target *t,
			       uint64_t size)
{
	struct maildir_quota_limits limits = { t->quota_bytes, t->quota_messages };
	struct maildir_quota qt;
	const char *error;

	if (limits.bytes == 0 && limits.count == 0)
		return 0;
	if (maildir_quota_get(t->maildir, &limits, &qt, &error) < 0)
		return 0;	/* an unreadable maildirsize does not stop mail */
	if (maildir_quota_fits(&qt, size, 1))
		return 0;
	if (job->q->set.quota_action == QUEUE_QUOTA_DEFER)
		deliver_set(&t->out, DELIVER_TEMP, 452, "4.2.2", "mailbox full");
	else
		deliver_set(&t->out, DELIVER_PERM, 552, "5.2.2", "mailbox full");
	return -1;
}

static int deliver_copy(struct deliver_job *job, struct maildir_writer *w, const char **error_r)
{
	char chunk[65536];
	uint64_t off = job->qf.msg_offset, left = job->qf.msg_size;

	while (left > 0) {
		ssize_t n = pread(job->fd, chunk, left < sizeof(chunk) ? (size_t)left : sizeof(chunk),
				  (off_t)off);

		if (n <= 0) {
			*error_r = n < 0 ? strerror(errno) : "queue file shorter than recorded";
			return -1;
		}
		if (maildir_writer_write(w, chunk, (size_t)n, error_r) < 0)
			return -1;
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	return 0;
}

static int deliver_write(struct deliver_job *job, struct deliver_target *t, const char *dir,
			 const char *prefix, size_t prefix_len)
{
	struct maildir_writer *w = NULL;
	const char *name, *error = "write failed";
	int ret = -1;

	if (maildir_writer_open(dir, &w, &error) == 0 &&
	    maildir_writer_write(w, prefix, prefix_len, &error) == 0 &&
	    deliver_copy(job, w, &error) == 0 &&
	    maildir_writer_finish(w, NULL, &name, &error) == 0)
		ret = 0;
	if (ret < 0) {
		bool no_space = w != NULL && maildir_writer_no_space(w);
		char *text = xasprintf("maildir %s: %s", dir, error);

		deliver_set(&t->out, DELIVER_TEMP, no_space ? 452 : 451,
			    no_space ? "4.3.1" : "4.3.0", text);
		free(text);
	}
	maildir_writer_free(&w);
	return ret;
}

void deliver_local(struct deliver_job *job, struct deliver_target *t)
{
	const char *error;
	char *dir, *prefix;
	uint64_t size;

	if (t->out.result != DELIVER_WAIT)
		return;
	if (deliver_delivered_to(job->headers, t->addr)) {
		deliver_set(&t->out, DELIVER_PERM, 554, "5.4.6",
			    "mail forwarding loop: Delivered-To already names this recipient");
		return;
	}
	if (job->received > job->q->set.max_received) {
		deliver_set(&t->out, DELIVER_PERM, 554, "5.4.6",
			    "too many hops: too many Received: headers");
		return;
	}
	deliver_mkdir_parents(t->maildir);
	if (maildir_create(t->maildir, &error) < 0) {
		char *text = xasprintf("maildir %s: %s", t->maildir, error);

		deliver_set(&t->out, DELIVER_TEMP, 451, "4.3.0", text);
		free(text);
		return;
	}
	if (job->q->set.plus_to_folder && t->detail != NULL)
		t->folder = deliver_find_folder(t->maildir, t->detail);
	prefix = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", job->qf.sender, t->addr);
	size = strlen(prefix) + job->qf.msg_size;
	if (deliver_quota_check(job, t, size) == 0) {
		dir = t->folder != NULL ? xasprintf("%s/.%s", t->maildir, t->folder) :
		      xstrdup(t->maildir);
		if (deliver_write(job, t, dir, prefix, strlen(prefix)) == 0) {
			char *text = t->folder != NULL ?
				     xasprintf("delivered to maildir folder %s", t->folder) :
				     xstrdup("delivered to maildir");

			maildir_quota_update(t->maildir, (int64_t)size, 1, &error);
			deliver_set(&t->out, DELIVER_OK, 250, "2.0.0", text);
			free(text);
		}
		free(dir);
	}
	free(prefix);
}
