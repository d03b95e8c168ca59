#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "dotlock.h"
#include "fdio.h"
#include "maildir.h"
#include "xalloc.h"

/* System flag letters in ASCII order, matching enum maildir_flag bits. */
static const char maildir_flag_letters[] = "DFPRST";

static int maildir_mkdir(const char *path, const char **error_r)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		*error_r = "cannot create a Maildir directory";
		return -1;
	}
	return 0;
}

int maildir_create(const char *path, const char **error_r)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	int ret;

	if (maildir_mkdir(path, error_r) < 0)
		return -1;
	ret = 0;
	for (size_t i = 0; i < 3 && ret == 0; i++) {
		char *sub = xasprintf("%s/%s", path, subdirs[i]);

		ret = maildir_mkdir(sub, error_r);
		free(sub);
	}
	return ret;
}

int maildir_folder_name_valid(const char *name)
{
	size_t len = strlen(name);

	/* With its leading '.', one directory name: at most 255 bytes. */
	if (len == 0 || len > 254 || name[0] == '.' || name[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == '/' || (c == '.' && name[i + 1] == '.'))
			return 0;
	}
	return 1;
}

int maildir_folder_create(const char *root, const char *name, const char **error_r)
{
	char *path, *marker;
	int fd, ret = -1;

	if (!maildir_folder_name_valid(name)) {
		*error_r = "invalid folder name";
		return -1;
	}
	path = xasprintf("%s/.%s", root, name);
	marker = xasprintf("%s/maildirfolder", path);
	if (maildir_create(path, error_r) == 0) {
		fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			*error_r = "cannot create the maildirfolder file";
		else
			ret = close(fd) == 0 ? 0 : -1;
	}
	free(marker);
	free(path);
	return ret;
}

void maildir_host_escape(struct buf *out, const char *host)
{
	for (; *host != '\0'; host++) {
		if (*host == '/')
			buf_append_str(out, "\\057");
		else if (*host == ':')
			buf_append_str(out, "\\072");
		else
			buf_append_char(out, *host);
	}
}

void maildir_name_unique(struct buf *out)
{
	/* Q counts names made in this process, so two in one microsecond
	 * still differ; atomic, as mbs makes names from several threads. */
	static atomic_uint counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	buf_printf(out, "%lld.M%ldP%ldQ%u.", (long long)tv.tv_sec, (long)tv.tv_usec,
		   (long)getpid(), atomic_fetch_add(&counter, 1) + 1);
	maildir_host_escape(out, dotlock_hostname());
}

static int maildir_parse_u64(const char *p, const char *end, uint64_t *r)
{
	uint64_t v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*r = v;
	return 0;
}

/* The ",S=" and ",W=" fields of a base name; other fields are ignored. */
static int maildir_name_fields(const char *name, size_t base_len, struct maildir_name *r)
{
	const char *p = memchr(name, ',', base_len), *end = name + base_len;

	while (p != NULL) {
		const char *next = memchr(p + 1, ',', (size_t)(end - p - 1));
		const char *fend = next == NULL ? end : next;

		if (fend - p >= 3 && p[2] == '=' && (p[1] == 'S' || p[1] == 'W')) {
			bool s = p[1] == 'S';

			if (maildir_parse_u64(p + 3, fend, s ? &r->size : &r->vsize) < 0)
				return -1;
			if (s)
				r->has_size = true;
			else
				r->has_vsize = true;
		}
		p = next;
	}
	return 0;
}

int maildir_name_parse(const char *name, struct maildir_name *r)
{
	const char *colon = strchr(name, ':');

	memset(r, 0, sizeof(*r));
	if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
	    strlen(name) > MAILDIR_NAME_MAX)
		return -1;
	r->base_len = colon == NULL ? strlen(name) : (size_t)(colon - name);
	if (r->base_len == 0)
		return -1;
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		r->has_info = true;
		maildir_flags_parse(colon + 3, &r->flags);
	}
	return maildir_name_fields(name, r->base_len, r);
}

void maildir_flags_parse(const char *letters, struct maildir_flags *r)
{
	r->flags = 0;
	r->keywords = 0;
	for (; *letters != '\0'; letters++) {
		const char *f = strchr(maildir_flag_letters, *letters);

		if (*letters >= 'a' && *letters <= 'z')
			r->keywords |= 1u << (*letters - 'a');
		else if (f != NULL)
			r->flags |= 1u << (f - maildir_flag_letters);
	}
}

void maildir_flags_format(struct buf *out, const struct maildir_flags *flags)
{
	buf_append_str(out, ":2,");
	for (int i = 0; maildir_flag_letters[i] != '\0'; i++) {
		if (flags->flags & (1u << i))
			buf_append_char(out, maildir_flag_letters[i]);
	}
	for (int i = 0; i < 26; i++) {
		if (flags->keywords & (1u << i))
			buf_append_char(out, (char)('a' + i));
	}
}

/* Letters of old_info we do not model (other programs' flags) are kept,
 * placed where ASCII order puts them. */
static void maildir_info_merge(struct buf *out, const char *old_info, const struct maildir_flags *flags)
{
	struct buf known;
	const char *p;

	buf_init(&known, BUF_NO_LIMIT);
	maildir_flags_format(&known, flags);
	buf_append_str(out, ":2,");
	p = known.data + 3;
	for (int c = 0x21; c < 0x7f; c++) {
		bool ours = (c >= 'a' && c <= 'z') || strchr(maildir_flag_letters, c) != NULL;

		if (ours ? strchr(p, c) != NULL : (old_info != NULL && strchr(old_info, c) != NULL))
			buf_append_char(out, (char)c);
	}
	buf_free(&known);
}

int maildir_set_flags(const char *maildir, const char *subdir_name,
		      const struct maildir_flags *flags, char **new_name_r,
		      const char **error_r)
{
	const char *name = strrchr(subdir_name, '/');
	struct maildir_name parsed;
	struct buf target;
	char *from, *to;
	int ret = 1;

	name = name == NULL ? subdir_name : name + 1;
	if (maildir_name_parse(name, &parsed) < 0) {
		*error_r = "not a Maildir message name";
		return -1;
	}
	buf_init(&target, BUF_NO_LIMIT);
	buf_printf(&target, "cur/%.*s", (int)parsed.base_len, name);
	maildir_info_merge(&target, parsed.has_info ? name + parsed.base_len + 3 : NULL, flags);
	from = xasprintf("%s/%s", maildir, subdir_name);
	to = xasprintf("%s/%s", maildir, buf_cstr(&target));
	if (strcmp(from, to) != 0 && rename(from, to) < 0) {
		if (errno == ENOENT) {
			ret = 0;
		} else {
			*error_r = "cannot rename the message";
			ret = -1;
		}
	}
	free(from);
	free(to);
	if (ret == 1)
		*new_name_r = buf_steal(&target);
	buf_free(&target);
	return ret;
}

int maildir_move_to_cur(const char *maildir, const char *subdir_name,
			char **new_name_r, const char **error_r)
{
	const char *name = strrchr(subdir_name, '/');
	struct maildir_name parsed;

	name = name == NULL ? subdir_name : name + 1;
	if (maildir_name_parse(name, &parsed) < 0) {
		*error_r = "not a Maildir message name";
		return -1;
	}
	return maildir_set_flags(maildir, subdir_name, &parsed.flags, new_name_r, error_r);
}

int maildir_fsync_dir(const char *dir, const char **error_r)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		errno = saved;
		*error_r = "cannot fsync the directory";
		return -1;
	}
	close(fd);
	return 0;
}

int maildir_file_read(const char *path, struct buf *out, const char **error_r)
{
	char chunk[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = "cannot open the file";
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			*error_r = "the file is too large";
			return -1;
		}
	}
	close(fd);
	if (n < 0) {
		*error_r = "cannot read the file";
		return -1;
	}
	return 1;
}

int maildir_file_replace(const char *maildir, const char *name, const void *data, size_t len,
			 const char **error_r)
{
	struct buf temp;
	char *final = xasprintf("%s/%s", maildir, name);
	int fd, ret = -1;

	buf_init(&temp, BUF_NO_LIMIT);
	buf_printf(&temp, "%s/tmp/%s.", maildir, name);
	maildir_name_unique(&temp);
	fd = open(buf_cstr(&temp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = "cannot create a temporary file";
	} else if (fd_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		*error_r = "cannot write a temporary file";
		close(fd);
	} else if (close(fd) < 0) {
		*error_r = "cannot write a temporary file";
	} else if (rename(buf_cstr(&temp), final) < 0) {
		*error_r = "cannot rename the temporary file into place";
	} else {
		ret = maildir_fsync_dir(maildir, error_r);
	}
	if (ret < 0 && fd >= 0)
		unlink(buf_cstr(&temp));
	buf_free(&temp);
	free(final);
	return ret;
}
