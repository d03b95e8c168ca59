#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "dotlock.h"
#include "maildir.h"
#include "maildir-uidlist.h"
#include "xalloc.h"

struct maildir_uidlist_parser {
	struct maildir_uidlist *list;
	struct buf line;
	bool header_done, header_bad, overlong;
	uint32_t last_uid;
	const char *error;
};

void maildir_uidlist_init(struct maildir_uidlist *list)
{
	memset(list, 0, sizeof(*list));
}

void maildir_uidlist_free(struct maildir_uidlist *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->recs[i].ext);
		free(list->recs[i].base);
		free(list->recs[i].file);
	}
	free(list->recs);
	free(list->guid);
	free(list->extra_header);
	maildir_uidlist_init(list);
}

static struct maildir_uidlist_rec *maildir_uidlist_append(struct maildir_uidlist *list)
{
	struct maildir_uidlist_rec *rec;

	if (list->count == list->alloc) {
		list->alloc = list->alloc == 0 ? 16 : list->alloc * 2;
		list->recs = xreallocarray(list->recs, list->alloc, sizeof(*list->recs));
	}
	rec = &list->recs[list->count++];
	memset(rec, 0, sizeof(*rec));
	return rec;
}

/* A decimal number that fits in 32 bits, not 0; -1 otherwise. */
static int maildir_uidlist_u32(const char *s, size_t len, uint32_t *r)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v >= UINT32_MAX)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

static int maildir_uidlist_header(struct maildir_uidlist *list, char *line, const char **error_r)
{
	struct buf extra;
	bool have_v = false, have_n = false;
	char *save = NULL, *field;

	if (strncmp(line, "3 ", 2) != 0) {
		*error_r = "unsupported dovecot-uidlist version";
		return -1;
	}
	buf_init(&extra, MAILDIR_UIDLIST_LINE_MAX);
	for (field = strtok_r(line + 2, " ", &save); field != NULL; field = strtok_r(NULL, " ", &save)) {
		if (field[0] == 'V' && !have_v)
			have_v = maildir_uidlist_u32(field + 1, strlen(field + 1), &list->uidvalidity) == 0;
		else if (field[0] == 'N' && !have_n)
			have_n = maildir_uidlist_u32(field + 1, strlen(field + 1), &list->next_uid) == 0;
		else if (field[0] == 'G' && list->guid == NULL && field[1] != '\0')
			list->guid = xstrdup(field + 1);
		else
			buf_printf(&extra, "%s%s", extra.len > 0 ? " " : "", field);
	}
	if (extra.len > 0)
		list->extra_header = buf_steal(&extra);
	buf_free(&extra);
	if (!have_v || !have_n) {
		*error_r = "dovecot-uidlist header lacks a valid V or N field";
		return -1;
	}
	return 0;
}

/* "<uid> [ext fields] :<name>"; 0 when kept, -1 when skipped. */
static int maildir_uidlist_record(struct maildir_uidlist_parser *p, const char *line)
{
	const char *sp = strchr(line, ' '), *colon, *base;
	struct maildir_uidlist_rec *rec;
	size_t base_len;
	uint32_t uid;

	if (sp == NULL || maildir_uidlist_u32(line, (size_t)(sp - line), &uid) < 0 ||
	    uid <= p->last_uid)
		return -1;
	colon = strstr(sp, " :");
	if (colon == NULL)
		return -1;
	base = colon + 2;
	/* Older files may hold full names with the flags: keep the base. */
	base_len = strcspn(base, ":");
	if (base_len == 0 || base[0] == '.' || memchr(base, '/', base_len) != NULL)
		return -1;
	rec = maildir_uidlist_append(p->list);
	rec->uid = uid;
	rec->base = xstrndup(base, base_len);
	while (*sp == ' ')
		sp++;
	if (sp < colon)
		rec->ext = xstrndup(sp, (size_t)(colon - sp));
	p->last_uid = uid;
	if (uid >= p->list->next_uid)
		p->list->next_uid = uid + 1;
	return 0;
}

static bool maildir_uidlist_has_ctl(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return true;
	}
	return false;
}

static void maildir_uidlist_line(struct maildir_uidlist_parser *p)
{
	char *line = p->line.data;
	size_t len = p->line.len;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (maildir_uidlist_has_ctl(line, len)) {
		/* A NUL cuts a C string short, a CR would not survive a rewrite:
		 * the line cannot be trusted. */
		if (!p->header_done)
			p->header_bad = true;
		else
			p->list->skipped_lines++;
	} else if (!p->header_done) {
		p->header_bad = maildir_uidlist_header(p->list, line, &p->error) < 0;
	} else if (len > 0 && maildir_uidlist_record(p, line) < 0) {
		p->list->skipped_lines++;
	}
	p->header_done = true;
	buf_reset(&p->line);
}

struct maildir_uidlist_parser *maildir_uidlist_parser_new(struct maildir_uidlist *list)
{
	struct maildir_uidlist_parser *p = xcalloc(1, sizeof(*p));

	p->list = list;
	buf_init(&p->line, MAILDIR_UIDLIST_LINE_MAX);
	return p;
}

void maildir_uidlist_parser_feed(struct maildir_uidlist_parser *p, const void *data, size_t len)
{
	const char *s = data, *end = s + len;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)((nl == NULL ? end : nl) - s);

		if (!p->overlong && buf_append(&p->line, s, n) < 0)
			p->overlong = true;
		if (nl == NULL)
			break;
		if (p->overlong) {
			if (!p->header_done)
				p->header_bad = true;
			else
				p->list->skipped_lines++;
			p->header_done = true;
			p->overlong = false;
			buf_reset(&p->line);
		} else {
			maildir_uidlist_line(p);
		}
		s = nl + 1;
	}
}

int maildir_uidlist_parser_finish(struct maildir_uidlist_parser **pp, const char **error_r)
{
	struct maildir_uidlist_parser *p = *pp;
	int ret = 0;

	*pp = NULL;
	/* A last line without its newline was cut off by a writer that did
	 * not finish; writers replace by rename, so it is dropped. */
	if (p->line.len > 0 || p->overlong) {
		if (p->header_done)
			p->list->skipped_lines++;
		else
			p->header_bad = true;
	}
	if (!p->header_done || p->header_bad) {
		*error_r = p->error != NULL ? p->error : "dovecot-uidlist has no valid header";
		ret = -1;
	}
	buf_free(&p->line);
	free(p);
	return ret;
}

int maildir_uidlist_parse(struct maildir_uidlist *list, const void *data, size_t len,
			  const char **error_r)
{
	struct maildir_uidlist_parser *p = maildir_uidlist_parser_new(list);

	maildir_uidlist_parser_feed(p, data, len);
	return maildir_uidlist_parser_finish(&p, error_r);
}

/* 1: read, 0: no file, -1: unreadable; *bad_r: read but the header is bad. */
static int maildir_uidlist_load(const char *maildir, struct maildir_uidlist *list,
				bool *bad_r, const char **error_r)
{
	char *path = xasprintf("%s/dovecot-uidlist", maildir);
	struct buf data;
	int ret;

	*bad_r = false;
	buf_init(&data, 256u * 1024 * 1024);
	ret = maildir_file_read(path, &data, error_r);
	if (ret > 0 && maildir_uidlist_parse(list, data.data, data.len, error_r) < 0)
		*bad_r = true;
	buf_free(&data);
	free(path);
	return ret;
}

int maildir_uidlist_read(const char *maildir, struct maildir_uidlist *list,
			 const char **error_r)
{
	bool bad;
	int ret = maildir_uidlist_load(maildir, list, &bad, error_r);

	return bad ? -1 : ret;
}

void maildir_uidlist_format(const struct maildir_uidlist *list, struct buf *out)
{
	buf_printf(out, "3 V%u N%u", list->uidvalidity, list->next_uid);
	if (list->guid != NULL)
		buf_printf(out, " G%s", list->guid);
	if (list->extra_header != NULL)
		buf_printf(out, " %s", list->extra_header);
	buf_append_char(out, '\n');
	for (size_t i = 0; i < list->count; i++) {
		const struct maildir_uidlist_rec *rec = &list->recs[i];

		buf_printf(out, "%u", rec->uid);
		if (rec->ext != NULL)
			buf_printf(out, " %s", rec->ext);
		buf_printf(out, " :%s\n", rec->base);
	}
}

int maildir_uidlist_write(const char *maildir, const struct maildir_uidlist *list,
			  const char **error_r)
{
	struct buf out;
	int ret;

	buf_init(&out, BUF_NO_LIMIT);
	maildir_uidlist_format(list, &out);
	ret = maildir_file_replace(maildir, "dovecot-uidlist", out.data, out.len, error_r);
	buf_free(&out);
	return ret;
}

const struct maildir_uidlist_rec *
maildir_uidlist_lookup(const struct maildir_uidlist *list, uint32_t uid)
{
	size_t lo = 0, hi = list->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (list->recs[mid].uid == uid)
			return &list->recs[mid];
		if (list->recs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- sync: scan new/ and cur/, give new messages UIDs ---- */

struct maildir_scan {
	char **files;		/* "new/..." or "cur/..." not yet in the list */
	size_t count, alloc;
};

static int maildir_base_cmp(const char *a, const char *b)
{
	size_t la = strcspn(a, ":"), lb = strcspn(b, ":");
	int c = memcmp(a, b, la < lb ? la : lb);

	return c != 0 ? c : (la > lb) - (la < lb);
}

static int maildir_rec_ptr_cmp(const void *a, const void *b)
{
	const struct maildir_uidlist_rec *ra = *(const struct maildir_uidlist_rec *const *)a;
	const struct maildir_uidlist_rec *rb = *(const struct maildir_uidlist_rec *const *)b;

	return maildir_base_cmp(ra->base, rb->base);
}

static int maildir_file_cmp(const void *a, const void *b)
{
	/* Past the "new/" or "cur/": delivery order, as the names start
	 * with the time. */
	return maildir_base_cmp(*(char *const *)a + 4, *(char *const *)b + 4);
}

static struct maildir_uidlist_rec *
maildir_sync_find(struct maildir_uidlist_rec **index, size_t count, const char *name)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = maildir_base_cmp(name, index[mid]->base);

		if (c == 0)
			return index[mid];
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int maildir_sync_dir(const char *maildir, const char *sub,
			    struct maildir_uidlist_rec **index, size_t count,
			    struct maildir_scan *scan, const char **error_r)
{
	char *path = xasprintf("%s/%s", maildir, sub);
	DIR *dir = opendir(path);
	struct dirent *d;

	free(path);
	if (dir == NULL) {
		*error_r = "cannot open new/ or cur/";
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		struct maildir_name parsed;
		struct maildir_uidlist_rec *rec;

		if (maildir_name_parse(d->d_name, &parsed) < 0)
			continue;
		rec = maildir_sync_find(index, count, d->d_name);
		if (rec != NULL && rec->file == NULL) {
			rec->file = xasprintf("%s/%s", sub, d->d_name);
		} else if (rec == NULL) {
			if (scan->count == scan->alloc) {
				scan->alloc = scan->alloc == 0 ? 16 : scan->alloc * 2;
				scan->files = xreallocarray(scan->files, scan->alloc, sizeof(char *));
			}
			scan->files[scan->count++] = xasprintf("%s/%s", sub, d->d_name);
		}
	}
	closedir(dir);
	return 0;
}

/* Records that the scan did not find. A file renamed in cur/ (a flag
 * change by a writer that does not take our lock) while readdir() ran may
 * be returned under neither name (POSIX leaves entries added or removed
 * during a readdir unspecified), so a record is taken for expunged only
 * when a second scan misses it too. */
static size_t maildir_sync_missing(const struct maildir_uidlist *list)
{
	size_t n = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (list->recs[i].file == NULL)
			n++;
	}
	return n;
}

static int maildir_sync_rescan(const char *maildir, struct maildir_uidlist *list,
			       const char **error_r)
{
	static const char *const subs[] = { "new", "cur" };
	struct maildir_uidlist_rec **index = xreallocarray(NULL, list->count + 1, sizeof(*index));
	size_t n = 0;
	int ret = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (list->recs[i].file == NULL)
			index[n++] = &list->recs[i];
	}
	qsort(index, n, sizeof(*index), maildir_rec_ptr_cmp);
	for (size_t s = 0; s < 2 && ret == 0; s++) {
		char *path = xasprintf("%s/%s", maildir, subs[s]);
		DIR *dir = opendir(path);
		struct dirent *d;

		free(path);
		if (dir == NULL) {
			*error_r = "cannot open new/ or cur/";
			ret = -1;
			break;
		}
		while ((d = readdir(dir)) != NULL) {
			struct maildir_uidlist_rec *rec;

			if (d->d_name[0] == '.')
				continue;
			rec = maildir_sync_find(index, n, d->d_name);
			if (rec != NULL && rec->file == NULL)
				rec->file = xasprintf("%s/%s", subs[s], d->d_name);
		}
		closedir(dir);
	}
	free(index);
	return ret;
}

/* Drop records whose file is gone; true when any was. */
static bool maildir_sync_drop_gone(struct maildir_uidlist *list)
{
	size_t kept = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (list->recs[i].file != NULL) {
			list->recs[kept++] = list->recs[i];
		} else {
			free(list->recs[i].ext);
			free(list->recs[i].base);
		}
	}
	bool changed = kept != list->count;

	list->count = kept;
	return changed;
}

static void maildir_sync_assign(struct maildir_uidlist *list, struct maildir_scan *scan)
{
	const char *prev = NULL;

	if (scan->count > 0)
		qsort(scan->files, scan->count, sizeof(char *), maildir_file_cmp);
	for (size_t i = 0; i < scan->count; i++) {
		const char *name = scan->files[i] + 4;
		struct maildir_uidlist_rec *rec;

		/* The same base in both new/ and cur/ (a copy, not a move):
		 * one UID for it. */
		if (prev != NULL && maildir_base_cmp(name, prev) == 0) {
			free(scan->files[i]);
			continue;
		}
		rec = maildir_uidlist_append(list);
		rec->uid = list->next_uid++;
		rec->base = xstrndup(name, strcspn(name, ":"));
		rec->file = scan->files[i];
		prev = name;
	}
	free(scan->files);
}

static void maildir_sync_new_list(struct maildir_uidlist *list)
{
	uint8_t raw[16];
	char hex[33];

	maildir_uidlist_free(list);
	list->uidvalidity = (uint32_t)time(NULL);
	list->next_uid = 1;
	if (getrandom(raw, sizeof(raw), 0) == (ssize_t)sizeof(raw)) {
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		list->guid = xstrdup(hex);
	}
}

/* 1: read, 0: no file or its header is lost (start over, as Dovecot
 * does: the new UIDVALIDITY tells clients their cached UIDs are void),
 * -1: the file could not be read (a transient error must not reset UIDs). */
static int maildir_sync_read(const char *maildir, struct maildir_uidlist *list,
			     const char **error_r)
{
	bool bad;
	int ret = maildir_uidlist_load(maildir, list, &bad, error_r);

	if (ret == 0 || bad) {
		maildir_sync_new_list(list);
		ret = 0;
	}
	return ret;
}

int maildir_uidlist_refresh_locked(const char *maildir, struct maildir_uidlist *list,
				   bool *changed_r, const char **error_r)
{
	struct maildir_scan scan = { NULL, 0, 0 };
	struct maildir_uidlist_rec **index;
	bool changed;
	int ret;

	maildir_uidlist_free(list);
	ret = maildir_sync_read(maildir, list, error_r);
	if (ret < 0)
		return -1;
	changed = ret == 0;
	index = xreallocarray(NULL, list->count + 1, sizeof(*index));
	for (size_t i = 0; i < list->count; i++)
		index[i] = &list->recs[i];
	if (list->count > 0)
		qsort(index, list->count, sizeof(*index), maildir_rec_ptr_cmp);
	/* new/ before cur/: a message moving new/ -> cur/ meanwhile is seen
	 * in one of them at least. */
	ret = maildir_sync_dir(maildir, "new", index, list->count, &scan, error_r);
	if (ret == 0)
		ret = maildir_sync_dir(maildir, "cur", index, list->count, &scan, error_r);
	free(index);
	if (ret == 0 && maildir_sync_missing(list) > 0)
		ret = maildir_sync_rescan(maildir, list, error_r);
	if (ret < 0) {
		for (size_t i = 0; i < scan.count; i++)
			free(scan.files[i]);
		free(scan.files);
		return -1;
	}
	size_t before = list->count;

	changed = maildir_sync_drop_gone(list) || changed || scan.count > 0;
	list->dropped = (unsigned int)(before - list->count);
	maildir_sync_assign(list, &scan);
	*changed_r = changed;
	return 0;
}

int maildir_uidlist_lock(const char *maildir, const struct dotlock_settings *set,
			 struct dotlock **lock_r, const char **error_r)
{
	char *path = xasprintf("%s/dovecot-uidlist", maildir);
	int ret;

	ret = dotlock_create(path, set, lock_r, error_r);
	free(path);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "dovecot-uidlist is locked by someone else";
		return -1;
	}
	return 0;
}

int maildir_uidlist_unlock(struct dotlock **lock, const char **error_r)
{
	/* 0: someone judged our lock stale and may have written too. */
	return dotlock_release(lock, error_r) <= 0 ? -1 : 0;
}

int maildir_uidlist_sync(const char *maildir, const struct dotlock_settings *set,
			 struct maildir_uidlist *list, const char **error_r)
{
	struct dotlock *lock;
	const char *release_error;
	bool changed;
	int ret;

	if (maildir_uidlist_lock(maildir, set, &lock, error_r) < 0)
		return -1;
	ret = maildir_uidlist_refresh_locked(maildir, list, &changed, error_r);
	if (ret == 0 && changed)
		ret = maildir_uidlist_write(maildir, list, error_r);
	if (maildir_uidlist_unlock(&lock, &release_error) < 0 && ret == 0) {
		*error_r = release_error;
		ret = -1;
	}
	return ret;
}

/* ---- extension fields ---- */

/* The field starting with key in a space-separated list, or NULL. */
static const char *maildir_ext_find(const char *fields, char key, size_t *len_r)
{
	const char *p = fields;

	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, " ");

		if (p[0] == key) {
			*len_r = len;
			return p;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

static int maildir_ext_get_u64(const char *fields, char key, uint64_t *value_r)
{
	size_t len;
	const char *f = maildir_ext_find(fields, key, &len);
	uint64_t v = 0;

	if (f == NULL || len < 2 || len > 21)
		return 0;
	for (size_t i = 1; i < len; i++) {
		uint64_t d = (uint64_t)(f[i] - '0');

		if (f[i] < '0' || f[i] > '9' || v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*value_r = v;
	return 1;
}

/* Replace or add (value non-NULL) or remove key's field; the others keep
 * their order. */
static void maildir_ext_set(char **fields, char key, const char *value)
{
	struct buf out;
	const char *p = *fields;

	buf_init(&out, BUF_NO_LIMIT);
	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, " ");

		if (p[0] != key) {
			if (out.len > 0)
				buf_append_char(&out, ' ');
			buf_append(&out, p, len);
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	if (value != NULL)
		buf_printf(&out, "%s%c%s", out.len > 0 ? " " : "", key, value);
	free(*fields);
	*fields = out.len > 0 ? buf_steal(&out) : NULL;
	buf_free(&out);
}

const char *maildir_uidlist_rec_ext(const struct maildir_uidlist_rec *rec, char key,
				    size_t *len_r)
{
	const char *f = maildir_ext_find(rec->ext, key, len_r);

	if (f != NULL)
		--*len_r;
	return f == NULL ? NULL : f + 1;
}

int maildir_uidlist_rec_ext_u64(const struct maildir_uidlist_rec *rec, char key,
				uint64_t *value_r)
{
	return maildir_ext_get_u64(rec->ext, key, value_r);
}

void maildir_uidlist_rec_ext_set(struct maildir_uidlist_rec *rec, char key, const char *value)
{
	maildir_ext_set(&rec->ext, key, value);
}

int maildir_uidlist_hdr_ext_u64(const struct maildir_uidlist *list, char key, uint64_t *value_r)
{
	return maildir_ext_get_u64(list->extra_header, key, value_r);
}

void maildir_uidlist_hdr_ext_set(struct maildir_uidlist *list, char key, const char *value)
{
	maildir_ext_set(&list->extra_header, key, value);
}

struct maildir_uidlist_rec *
maildir_uidlist_add(struct maildir_uidlist *list, const char *base)
{
	struct maildir_uidlist_rec *rec = maildir_uidlist_append(list);

	rec->uid = list->next_uid++;
	rec->base = xstrndup(base, strcspn(base, ":"));
	return rec;
}

struct maildir_uidlist_rec *
maildir_uidlist_find_base(const struct maildir_uidlist *list, const char *base)
{
	for (size_t i = 0; i < list->count; i++) {
		if (maildir_base_cmp(list->recs[i].base, base) == 0)
			return &list->recs[i];
	}
	return NULL;
}
