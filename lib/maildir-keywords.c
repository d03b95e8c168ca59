#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dotlock.h"
#include "maildir.h"
#include "xalloc.h"

void maildir_keywords_init(struct maildir_keywords *kw)
{
	memset(kw, 0, sizeof(*kw));
}

void maildir_keywords_free(struct maildir_keywords *kw)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		free(kw->names[i]);
	maildir_keywords_init(kw);
}

/* IMAP keywords are atoms: no spaces, controls or specials. */
static bool maildir_keyword_valid(const char *name, size_t len)
{
	if (len == 0 || len > MAILDIR_KEYWORD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static bool maildir_keywords_line(struct maildir_keywords *kw, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	int idx = 0;

	if (sp == NULL || sp == line || sp - line > 2)
		return false;
	for (const char *p = line; p < sp; p++) {
		if (*p < '0' || *p > '9')
			return false;
		idx = idx * 10 + (*p - '0');
	}
	sp++;
	len -= (size_t)(sp - line);
	if (idx >= MAILDIR_KEYWORDS_MAX || kw->names[idx] != NULL || !maildir_keyword_valid(sp, len))
		return false;
	kw->names[idx] = xstrndup(sp, len);
	return true;
}

unsigned int maildir_keywords_parse(struct maildir_keywords *kw, const char *data, size_t len)
{
	const char *end = data + len;
	unsigned int skipped = 0;

	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		size_t n = (size_t)((nl == NULL ? end : nl) - data);

		if (n > 0 && data[n - 1] == '\r')
			n--;
		if (n > 0 && !maildir_keywords_line(kw, data, n))
			skipped++;
		if (nl == NULL)
			break;
		data = nl + 1;
	}
	return skipped;
}

int maildir_keywords_read(const char *maildir, struct maildir_keywords *kw,
			  const char **error_r)
{
	char *path = xasprintf("%s/dovecot-keywords", maildir);
	struct buf data;
	int ret;

	maildir_keywords_free(kw);
	buf_init(&data, 64 * 1024);
	ret = maildir_file_read(path, &data, error_r);
	if (ret > 0)
		maildir_keywords_parse(kw, data.data, data.len);
	buf_free(&data);
	free(path);
	return ret;
}

int maildir_keywords_lookup(const struct maildir_keywords *kw, const char *name)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL && strcmp(kw->names[i], name) == 0)
			return i;
	}
	return -1;
}

static int maildir_keywords_write(const char *maildir, const struct maildir_keywords *kw,
				  const char **error_r)
{
	struct buf out;
	int ret;

	buf_init(&out, BUF_NO_LIMIT);
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL)
			buf_printf(&out, "%d %s\n", i, kw->names[i]);
	}
	ret = maildir_file_replace(maildir, "dovecot-keywords", out.data, out.len, error_r);
	buf_free(&out);
	return ret;
}

static int maildir_keywords_add_locked(const char *maildir, const char *name,
				       struct maildir_keywords *kw, int *index_r,
				       const char **error_r)
{
	int idx;

	if (maildir_keywords_read(maildir, kw, error_r) < 0)
		return -1;
	idx = maildir_keywords_lookup(kw, name);
	if (idx >= 0) {
		*index_r = idx;
		return 1;
	}
	for (idx = 0; idx < MAILDIR_KEYWORDS_MAX && kw->names[idx] != NULL; idx++)
		;
	if (idx == MAILDIR_KEYWORDS_MAX) {
		*error_r = "all 26 keyword letters are in use";
		return 0;
	}
	kw->names[idx] = xstrdup(name);
	if (maildir_keywords_write(maildir, kw, error_r) < 0)
		return -1;
	*index_r = idx;
	return 1;
}

int maildir_keywords_assign(const char *maildir, const char *name,
			    struct maildir_keywords *kw, int *index_r, const char **error_r)
{
	const struct dotlock_settings set = {
		DOTLOCK_DEFAULT_TIMEOUT_MSECS, DOTLOCK_DEFAULT_STALE_SECS
	};
	char *path;
	struct dotlock *lock;
	const char *release_error;
	int ret;

	if (!maildir_keyword_valid(name, strlen(name))) {
		*error_r = "invalid keyword";
		return -1;
	}
	path = xasprintf("%s/dovecot-keywords", maildir);
	ret = dotlock_create(path, &set, &lock, error_r);
	free(path);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "dovecot-keywords is locked by someone else";
		return -1;
	}
	ret = maildir_keywords_add_locked(maildir, name, kw, index_r, error_r);
	if (dotlock_release(&lock, &release_error) <= 0 && ret == 1) {
		*error_r = release_error;
		ret = -1;
	}
	return ret;
}
