#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"
#include "xalloc.h"

struct maildir_writer {
	char *maildir;
	struct buf tmp_path;	/* <maildir>/tmp/<base> while unfinished */
	struct buf final_name;	/* "new/<name>" or "cur/<name>" once finished */
	char *base;
	int fd;
	uint64_t size, vsize;
	bool last_cr;
	bool finished, no_space;
};

static int maildir_writer_fail(struct maildir_writer *w, const char *what, const char **error_r)
{
	if (errno == ENOSPC || errno == EDQUOT)
		w->no_space = true;
	*error_r = what;
	return -1;
}

int maildir_writer_open(const char *maildir, struct maildir_writer **w_r, const char **error_r)
{
	struct maildir_writer *w = xcalloc(1, sizeof(*w));
	struct buf base;

	w->maildir = xstrdup(maildir);
	buf_init(&w->tmp_path, BUF_NO_LIMIT);
	buf_init(&w->final_name, BUF_NO_LIMIT);
	buf_init(&base, BUF_NO_LIMIT);
	maildir_name_unique(&base);
	w->base = buf_steal(&base);
	buf_printf(&w->tmp_path, "%s/tmp/%s", maildir, w->base);
	w->fd = open(buf_cstr(&w->tmp_path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		maildir_writer_fail(w, "cannot create the file in tmp/", error_r);
		w->finished = true;	/* nothing to unlink */
		*w_r = w;
		return -1;
	}
	*w_r = w;
	return 0;
}

/* The virtual size counts each bare LF as CRLF, as IMAP sends it. */
static void maildir_writer_count(struct maildir_writer *w, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && !(i == 0 ? w->last_cr : p[i - 1] == '\r'))
			w->vsize++;
	}
	if (len > 0)
		w->last_cr = p[len - 1] == '\r';
	w->size += len;
	w->vsize += len;
}

int maildir_writer_write(struct maildir_writer *w, const void *data, size_t len,
			 const char **error_r)
{
	const char *p = data;

	if (w->fd < 0) {
		*error_r = "the message file is not open";
		return -1;
	}
	maildir_writer_count(w, p, len);
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return maildir_writer_fail(w, "cannot write the message", error_r);
		if (n == 0) {
			errno = ENOSPC;
			return maildir_writer_fail(w, "cannot write the message", error_r);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int maildir_writer_finish(struct maildir_writer *w, const struct maildir_save *save,
			  const char **name_r, const char **error_r)
{
	bool to_cur = save != NULL && save->to_cur;
	char *target, *dir;
	int ret;

	if (w->fd < 0 || w->finished) {
		*error_r = "the message file is not open";
		return -1;
	}
	if (save != NULL && save->mtime > 0) {
		struct timespec times[2] = { { save->mtime, 0 }, { save->mtime, 0 } };

		if (futimens(w->fd, times) < 0) {
			close(w->fd);
			w->fd = -1;
			return maildir_writer_fail(w, "cannot set the message's time", error_r);
		}
	}
	if (fsync(w->fd) < 0 || close(w->fd) < 0) {
		w->fd = -1;
		return maildir_writer_fail(w, "cannot fsync the message", error_r);
	}
	w->fd = -1;
	buf_printf(&w->final_name, "%s/%s,S=%llu,W=%llu", to_cur ? "cur" : "new", w->base,
		   (unsigned long long)w->size, (unsigned long long)w->vsize);
	if (to_cur)
		maildir_flags_format(&w->final_name, &save->flags);
	target = xasprintf("%s/%s", w->maildir, buf_cstr(&w->final_name));
	dir = xasprintf("%s/%s", w->maildir, to_cur ? "cur" : "new");
	ret = rename(buf_cstr(&w->tmp_path), target);
	if (ret < 0) {
		maildir_writer_fail(w, "cannot rename the message into place", error_r);
	} else {
		w->finished = true;
		/* The rename is durable only once the directory is. */
		ret = maildir_fsync_dir(dir, error_r);
		if (ret < 0) {
			maildir_writer_fail(w, *error_r, error_r);
			unlink(target);
		}
	}
	free(target);
	free(dir);
	if (ret < 0)
		return -1;
	*name_r = buf_cstr(&w->final_name);
	return 0;
}

bool maildir_writer_no_space(const struct maildir_writer *w)
{
	return w->no_space;
}

void maildir_writer_free(struct maildir_writer **wp)
{
	struct maildir_writer *w = *wp;

	if (w == NULL)
		return;
	*wp = NULL;
	if (w->fd >= 0)
		close(w->fd);
	if (!w->finished)
		unlink(buf_cstr(&w->tmp_path));
	buf_free(&w->tmp_path);
	buf_free(&w->final_name);
	free(w->base);
	free(w->maildir);
	free(w);
}

int maildir_deliver(const char *maildir, const void *data, size_t len,
		    const struct maildir_save *save, char **name_r, bool *no_space_r,
		    const char **error_r)
{
	struct maildir_writer *w;
	const char *name;
	int ret;

	ret = maildir_writer_open(maildir, &w, error_r);
	if (ret == 0)
		ret = maildir_writer_write(w, data, len, error_r);
	if (ret == 0)
		ret = maildir_writer_finish(w, save, &name, error_r);
	if (ret == 0)
		*name_r = xstrdup(name);
	*no_space_r = maildir_writer_no_space(w);
	maildir_writer_free(&w);
	return ret;
}

/* Copy src's bytes through a writer (no hard links here). */
static int maildir_copy_bytes(int src_fd, const char *maildir, const struct maildir_save *save,
			      char **name_r, bool *no_space_r, const char **error_r)
{
	struct maildir_writer *w;
	const char *name;
	char chunk[65536];
	ssize_t n;
	int ret = maildir_writer_open(maildir, &w, error_r);

	while (ret == 0 && (n = read(src_fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "cannot read the message to copy";
			ret = -1;
		} else {
			ret = maildir_writer_write(w, chunk, (size_t)n, error_r);
		}
	}
	if (ret == 0)
		ret = maildir_writer_finish(w, save, &name, error_r);
	if (ret == 0)
		*name_r = xstrdup(name);
	*no_space_r = maildir_writer_no_space(w);
	maildir_writer_free(&w);
	return ret;
}

/* ,S= and ,W= of src's name, or its size from fstat (vsize then unknown). */
static void maildir_copy_sizes(const char *src, const struct stat *st, struct buf *out)
{
	const char *name = strrchr(src, '/');
	struct maildir_name parsed;

	name = name == NULL ? src : name + 1;
	if (maildir_name_parse(name, &parsed) == 0 && parsed.has_size) {
		buf_printf(out, ",S=%llu", (unsigned long long)parsed.size);
		if (parsed.has_vsize)
			buf_printf(out, ",W=%llu", (unsigned long long)parsed.vsize);
	} else {
		buf_printf(out, ",S=%llu", (unsigned long long)st->st_size);
	}
}

int maildir_copy(const char *src, const char *maildir, const struct maildir_save *save,
		 char **name_r, bool *no_space_r, const char **error_r)
{
	bool to_cur = save != NULL && save->to_cur;
	struct buf name, tmp, final;
	struct stat st;
	int fd, ret;

	*no_space_r = false;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the message to copy";
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		*error_r = "cannot stat the message to copy";
		return -1;
	}
	buf_init(&name, BUF_NO_LIMIT);
	buf_init(&tmp, BUF_NO_LIMIT);
	buf_init(&final, BUF_NO_LIMIT);
	maildir_name_unique(&name);
	maildir_copy_sizes(src, &st, &name);
	buf_printf(&tmp, "%s/tmp/%s", maildir, buf_cstr(&name));
	buf_printf(&final, "%s/%s", to_cur ? "cur" : "new", buf_cstr(&name));
	if (to_cur)
		maildir_flags_format(&final, &save->flags);
	ret = 1;
	if (link(src, buf_cstr(&tmp)) == 0) {
		char *target = xasprintf("%s/%s", maildir, buf_cstr(&final));
		char *dir = xasprintf("%s/%s", maildir, to_cur ? "cur" : "new");

		if (rename(buf_cstr(&tmp), target) < 0) {
			*error_r = "cannot rename the copy into place";
			unlink(buf_cstr(&tmp));
			ret = -1;
		} else if (maildir_fsync_dir(dir, error_r) < 0) {
			unlink(target);
			ret = -1;
		} else {
			*name_r = buf_steal(&final);
		}
		free(target);
		free(dir);
	} else if (errno == ENOENT && access(src, F_OK) < 0) {
		ret = 0;	/* expunged between open and link */
	} else if (errno == ENOSPC || errno == EDQUOT) {
		*no_space_r = true;
		*error_r = "cannot link the copy";
		ret = -1;
	} else {
		struct maildir_save with_time = { to_cur, { 0, 0 }, st.st_mtime };

		if (save != NULL)
			with_time.flags = save->flags;
		ret = maildir_copy_bytes(fd, maildir, &with_time, name_r, no_space_r, error_r);
		ret = ret < 0 ? -1 : 1;
	}
	close(fd);
	buf_free(&name);
	buf_free(&tmp);
	buf_free(&final);
	return ret;
}
