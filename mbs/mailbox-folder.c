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
#include "mailbox-private.h"
#include "maildir-quota.h"
#include "xalloc.h"

/* Folders of a Maildir++ store, laid out as Dovecot does by default:
 * "A.B" is the directory "<root>/.A.B" with a maildirfolder file; parents
 * need no directory of their own. */

/* RFC 6154 special uses, by the names Dovecot's default configuration and
 * clients use; mbox_user_init creates them. */
static const struct {
	const char *name;
	unsigned flag;
} mbox_special[] = {
	{ "Sent", MBOX_FOLDER_SENT },
	{ "Drafts", MBOX_FOLDER_DRAFTS },
	{ "Trash", MBOX_FOLDER_TRASH },
	{ "Junk", MBOX_FOLDER_JUNK },
	{ "Archive", MBOX_FOLDER_ARCHIVE },
};
#define MBOX_SPECIAL_COUNT (sizeof(mbox_special) / sizeof(mbox_special[0]))

/* Directories being deleted are first renamed to this prefix, which is no
 * valid folder name, so nobody lists or opens them meanwhile. */
#define MBOX_TRASH_PREFIX "..deleted."
#define MBOX_CREATE_PREFIX "..creating."
/* A DELETE or CREATE cut short by a crash leaves its directory behind;
 * one this old is no longer in anybody's hands (another host may be
 * working on a newer one) and is removed when the root is next read. */
#define MBOX_LEFTOVER_AGE (60 * 60)

char *mbox_folder_path(const struct mbox_user *u, const char *name, const char **error_r)
{
	if (!mbox_name_valid(name)) {
		*error_r = "invalid mailbox name";
		return NULL;
	}
	if (strcmp(name, "INBOX") == 0)
		return xstrdup(u->root);
	return xasprintf("%s/.%s", u->root, name);
}

/* ---- name lists ---- */

struct mbox_names {
	char **v;
	size_t count;
};

static void mbox_names_add(struct mbox_names *n, const char *name)
{
	n->v = xreallocarray(n->v, n->count + 1, sizeof(*n->v));
	n->v[n->count++] = xstrdup(name);
}

static bool mbox_names_has(const struct mbox_names *n, const char *name)
{
	for (size_t i = 0; i < n->count; i++) {
		if (strcmp(n->v[i], name) == 0)
			return true;
	}
	return false;
}

static void mbox_names_free(struct mbox_names *n)
{
	for (size_t i = 0; i < n->count; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->count = 0;
}

/* "A.B" is below "A" (and "A" is its parent prefix). */
static bool mbox_name_below(const char *name, const char *parent)
{
	size_t len = strlen(parent);

	return strncmp(name, parent, len) == 0 && name[len] == '.';
}

static int mbox_remove_tree(const char *path, int depth, int64_t *bytes, int64_t *count);

static bool mbox_is_leftover(const char *name, const struct stat *st)
{
	return (strncmp(name, MBOX_TRASH_PREFIX, strlen(MBOX_TRASH_PREFIX)) == 0 ||
		strncmp(name, MBOX_CREATE_PREFIX, strlen(MBOX_CREATE_PREFIX)) == 0) &&
	       S_ISDIR(st->st_mode) && st->st_mtime + MBOX_LEFTOVER_AGE < time(NULL);
}

/* Remove leftovers found by mbox_folder_dirs; messages still in them
 * leave the quota (the DELETE that was cut short never got that far). */
static void mbox_sweep_leftovers(const char *root, struct mbox_names *left)
{
	int64_t bytes = 0, count = 0;
	const char *error;

	for (size_t i = 0; i < left->count; i++) {
		char *path = xasprintf("%s/%s", root, left->v[i]);
		struct buf mine;

		/* claimed by a rename, so two sessions never sweep one tree */
		buf_init(&mine, BUF_NO_LIMIT);
		buf_printf(&mine, "%s/" MBOX_TRASH_PREFIX, root);
		maildir_name_unique(&mine);
		if (rename(path, buf_cstr(&mine)) == 0 &&
		    mbox_remove_tree(buf_cstr(&mine), 0, &bytes, &count) == 0)
			(void)rmdir(buf_cstr(&mine));
		buf_free(&mine);
		free(path);
	}
	if (count > 0)
		(void)maildir_quota_update(root, -bytes, -count, &error);
}

/* The folder directories under root (not INBOX). *noselect_r (may be
 * NULL) gets, per name, whether the directory lacks cur/. Leftovers of a
 * crashed DELETE or CREATE seen on the way are swept. */
static int mbox_folder_dirs(const char *root, struct mbox_names *n, bool **noselect_r,
			    const char **error_r)
{
	DIR *dir = opendir(root);
	struct dirent *d;
	bool *noselect = NULL;
	struct mbox_names left;

	memset(n, 0, sizeof(*n));
	memset(&left, 0, sizeof(left));
	if (dir == NULL) {
		if (errno == ENOENT) {
			if (noselect_r != NULL)
				*noselect_r = NULL;
			return 0;
		}
		*error_r = "cannot read the mail directory";
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		const char *name = d->d_name + 1;
		struct stat st;
		char *path;

		if (d->d_name[0] == '.' && d->d_name[1] == '.' && d->d_name[2] != '\0') {
			path = xasprintf("%s/%s", root, d->d_name);
			if (lstat(path, &st) == 0 && mbox_is_leftover(d->d_name, &st))
				mbox_names_add(&left, d->d_name);
			free(path);
			continue;
		}
		if (d->d_name[0] != '.' || !mbox_name_valid(name) || strcmp(name, "INBOX") == 0)
			continue;
		path = xasprintf("%s/%s", root, d->d_name);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		mbox_names_add(n, name);
		if (noselect_r != NULL) {
			char *cur = xasprintf("%s/cur", path);

			noselect = xreallocarray(noselect, n->count, sizeof(*noselect));
			noselect[n->count - 1] = stat(cur, &st) < 0 || !S_ISDIR(st.st_mode);
			free(cur);
		}
		free(path);
	}
	closedir(dir);
	mbox_sweep_leftovers(root, &left);
	mbox_names_free(&left);
	if (noselect_r != NULL)
		*noselect_r = noselect;
	return 0;
}

/* ---- subscriptions ---- */

/* Dovecot's subscriptions file: "V\t2\n\n", then one name per line with
 * its levels separated by TAB (so the file does not depend on the
 * separator). A file without the header is version 1: names as they are. */
static void mbox_subs_parse(const char *data, size_t len, struct mbox_names *n)
{
	const char *p = data, *end = data + len;
	bool v2 = len >= 4 && memcmp(data, "V\t2\n", 4) == 0;

	if (v2)
		p += 4;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)((nl == NULL ? end : nl) - p);
		char *name = xstrndup(p, l);

		if (v2) {
			for (char *c = name; *c != '\0'; c++) {
				if (*c == '\t')
					*c = '.';
			}
		}
		if (mbox_name_valid(name) && !mbox_names_has(n, name))
			mbox_names_add(n, name);
		free(name);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static int mbox_subs_read(const struct mbox_user *u, struct mbox_names *n, const char **error_r)
{
	char *path = xasprintf("%s/subscriptions", u->root);
	struct buf data;
	int ret;

	memset(n, 0, sizeof(*n));
	buf_init(&data, 4 * 1024 * 1024);
	ret = maildir_file_read(path, &data, error_r);
	if (ret > 0)
		mbox_subs_parse(data.data, data.len, n);
	buf_free(&data);
	free(path);
	return ret < 0 ? -1 : 0;
}

static int mbox_subs_write(const struct mbox_user *u, const struct mbox_names *n,
			   const char **error_r)
{
	struct buf out;
	int ret;

	buf_init(&out, BUF_NO_LIMIT);
	buf_append_str(&out, "V\t2\n\n");
	for (size_t i = 0; i < n->count; i++) {
		for (const char *c = n->v[i]; *c != '\0'; c++)
			buf_append_char(&out, *c == '.' ? '\t' : *c);
		buf_append_char(&out, '\n');
	}
	ret = maildir_file_replace(u->root, "subscriptions", out.data, out.len, error_r);
	buf_free(&out);
	return ret;
}

enum mbox_subs_op { MBOX_SUBS_ADD, MBOX_SUBS_REMOVE, MBOX_SUBS_RENAME };

/* Change the subscriptions under subscriptions.lock, re-reading first so
 * that two sessions changing them at once both count. RENAME moves name
 * and its children to `to`. */
static int mbox_subs_change(const struct mbox_user *u, enum mbox_subs_op op,
			    const char *const *names, size_t count, const char *to,
			    const char **error_r)
{
	char *path = xasprintf("%s/subscriptions", u->root);
	struct mbox_names n, out = { NULL, 0 };
	struct dotlock *lock;
	const char *release_error;
	bool changed = false;
	int ret;

	ret = dotlock_create(path, &mbox_lock_set, &lock, error_r);
	free(path);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "the subscriptions file is locked by someone else";
		return -1;
	}
	ret = mbox_subs_read(u, &n, error_r);
	for (size_t i = 0; ret == 0 && i < n.count; i++) {
		bool drop = false;

		for (size_t j = 0; j < count && !drop; j++) {
			if (op == MBOX_SUBS_REMOVE)
				drop = strcmp(n.v[i], names[j]) == 0;
			else if (op == MBOX_SUBS_RENAME &&
				 (strcmp(n.v[i], names[j]) == 0 || mbox_name_below(n.v[i], names[j]))) {
				char *moved = xasprintf("%s%s", to, n.v[i] + strlen(names[j]));

				if (mbox_name_valid(moved) && !mbox_names_has(&out, moved))
					mbox_names_add(&out, moved);
				free(moved);
				drop = true;
			}
		}
		if (drop)
			changed = true;
		else if (!mbox_names_has(&out, n.v[i]))
			mbox_names_add(&out, n.v[i]);
	}
	for (size_t j = 0; ret == 0 && op == MBOX_SUBS_ADD && j < count; j++) {
		if (!mbox_names_has(&out, names[j])) {
			mbox_names_add(&out, names[j]);
			changed = true;
		}
	}
	if (ret == 0 && changed)
		ret = mbox_subs_write(u, &out, error_r);
	mbox_names_free(&n);
	mbox_names_free(&out);
	if (dotlock_release(&lock, &release_error) <= 0 && ret == 0) {
		*error_r = release_error;
		ret = -1;
	}
	return ret;
}

int mbox_subscribe(const struct mbox_user *u, const char *name, bool on, const char **error_r)
{
	/* RFC 3501 6.3.6: a name may be subscribed without a folder. */
	if (!mbox_name_valid(name)) {
		*error_r = "invalid mailbox name";
		return 0;
	}
	return mbox_subs_change(u, on ? MBOX_SUBS_ADD : MBOX_SUBS_REMOVE, &name, 1, NULL,
				error_r) < 0 ? -1 : 1;
}

/* ---- listing ---- */

static int mbox_folder_cmp(const void *a, const void *b)
{
	const struct mbox_folder *fa = a, *fb = b;
	bool ia = strcmp(fa->name, "INBOX") == 0, ib = strcmp(fb->name, "INBOX") == 0;

	if (ia || ib)
		return ib - ia;
	return strcmp(fa->name, fb->name);
}

static void mbox_list_add(struct mbox_folder_list *list, const char *name, unsigned flags)
{
	list->v = xreallocarray(list->v, list->count + 1, sizeof(*list->v));
	list->v[list->count].name = xstrdup(name);
	list->v[list->count].flags = flags;
	list->count++;
}

static struct mbox_folder *mbox_list_find(struct mbox_folder_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->v[i].name, name) == 0)
			return &list->v[i];
	}
	return NULL;
}

/* Every folder, implied parents as \Noselect, with CHILDREN and special
 * use flags. */
static int mbox_folder_all(const struct mbox_user *u, struct mbox_folder_list *list,
			   const char **error_r)
{
	struct mbox_names dirs;
	bool *noselect;

	memset(list, 0, sizeof(*list));
	if (mbox_folder_dirs(u->root, &dirs, &noselect, error_r) < 0)
		return -1;
	mbox_list_add(list, "INBOX", 0);
	for (size_t i = 0; i < dirs.count; i++)
		mbox_list_add(list, dirs.v[i], noselect[i] ? MBOX_FOLDER_NOSELECT : 0);
	/* Parents that exist only as a prefix: "A" of "A.B". */
	for (size_t i = 0; i < dirs.count; i++) {
		char *parent = xstrdup(dirs.v[i]);
		char *dot;

		while ((dot = strrchr(parent, '.')) != NULL) {
			*dot = '\0';
			if (mbox_list_find(list, parent) == NULL)
				mbox_list_add(list, parent, MBOX_FOLDER_NOSELECT);
		}
		free(parent);
	}
	for (size_t i = 0; i < list->count; i++) {
		struct mbox_folder *f = &list->v[i];

		for (size_t j = 0; j < list->count; j++) {
			if (mbox_name_below(list->v[j].name, f->name)) {
				f->flags |= MBOX_FOLDER_CHILDREN;
				break;
			}
		}
		for (size_t j = 0; j < MBOX_SPECIAL_COUNT; j++) {
			if (strcmp(f->name, mbox_special[j].name) == 0)
				f->flags |= mbox_special[j].flag;
		}
	}
	mbox_names_free(&dirs);
	free(noselect);
	return 0;
}

int mbox_folder_list(const struct mbox_user *u, bool subscribed_only,
		     struct mbox_folder_list *list_r, const char **error_r)
{
	struct mbox_folder_list all;
	struct mbox_names subs;

	memset(list_r, 0, sizeof(*list_r));
	if (mbox_folder_all(u, &all, error_r) < 0)
		return -1;
	if (mbox_subs_read(u, &subs, error_r) < 0) {
		mbox_folder_list_free(&all);
		return -1;
	}
	for (size_t i = 0; i < all.count; i++) {
		if (mbox_names_has(&subs, all.v[i].name))
			all.v[i].flags |= MBOX_FOLDER_SUBSCRIBED;
	}
	if (subscribed_only) {
		for (size_t i = 0; i < subs.count; i++) {
			struct mbox_folder *f = mbox_list_find(&all, subs.v[i]);

			if (f != NULL)
				mbox_list_add(list_r, f->name, f->flags);
			else
				mbox_list_add(list_r, subs.v[i],
					      MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_NONEXISTENT);
		}
		mbox_folder_list_free(&all);
	} else {
		*list_r = all;
	}
	mbox_names_free(&subs);
	if (list_r->count > 1)
		qsort(list_r->v, list_r->count, sizeof(*list_r->v), mbox_folder_cmp);
	return 0;
}

void mbox_folder_list_free(struct mbox_folder_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->v[i].name);
	free(list->v);
	list->v = NULL;
	list->count = 0;
}

/* ---- create ---- */

/* The next UIDVALIDITY for a new folder, from Dovecot's
 * dovecot-uidvalidity (hex, the next value to use): never lower than the
 * time, never one given before, so a folder deleted and created again in
 * the same second still tells clients that their UIDs are void. */
static uint32_t mbox_next_uidvalidity(const struct mbox_user *u)
{
	char *path = xasprintf("%s/dovecot-uidvalidity", u->root);
	uint32_t now = (uint32_t)time(NULL), next = 0, value;
	struct buf data;
	const char *error;
	char hex[16];

	buf_init(&data, 64);
	if (maildir_file_read(path, &data, &error) > 0)
		next = (uint32_t)strtoul(buf_cstr(&data), NULL, 16);
	buf_free(&data);
	free(path);
	value = next > now ? next : now;
	snprintf(hex, sizeof(hex), "%08x", value + 1);
	(void)maildir_file_replace(u->root, "dovecot-uidvalidity", hex, strlen(hex), &error);
	return value;
}

/* A folder built under a name nobody lists, then renamed into place: it
 * appears whole (cur/ new/ tmp/ maildirfolder dovecot-uidlist) or not. */
static int mbox_folder_make(const struct mbox_user *u, const char *name, const char **error_r)
{
	struct buf tmp;
	char *final = xasprintf("%s/.%s", u->root, name), *marker;
	struct maildir_uidlist list;
	int fd, ret = -1;

	buf_init(&tmp, BUF_NO_LIMIT);
	buf_printf(&tmp, "%s/" MBOX_CREATE_PREFIX, u->root);
	maildir_name_unique(&tmp);
	marker = xasprintf("%s/maildirfolder", buf_cstr(&tmp));
	maildir_uidlist_init(&list);
	list.uidvalidity = mbox_next_uidvalidity(u);
	list.next_uid = 1;
	if (maildir_create(buf_cstr(&tmp), error_r) < 0)
		goto out;
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) < 0) {
		*error_r = "cannot create the maildirfolder file";
		goto out;
	}
	if (maildir_uidlist_write(buf_cstr(&tmp), &list, error_r) < 0)
		goto out;
	if (rename(buf_cstr(&tmp), final) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY) {
			*error_r = "Mailbox already exists";
			ret = 0;
		} else {
			*error_r = "cannot create the folder";
		}
		goto out;
	}
	ret = maildir_fsync_dir(u->root, error_r) < 0 ? -1 : 1;
out:
	if (ret <= 0) {
		char *p;

		/* Nothing else is in it. */
		static const char *const parts[] = {
			"cur", "new", "tmp", "maildirfolder", "dovecot-uidlist"
		};
		for (size_t i = 0; i < 5; i++) {
			p = xasprintf("%s/%s", buf_cstr(&tmp), parts[i]);
			if (unlink(p) < 0)
				rmdir(p);
			free(p);
		}
		rmdir(buf_cstr(&tmp));
	}
	maildir_uidlist_free(&list);
	free(marker);
	free(final);
	buf_free(&tmp);
	return ret;
}

static bool mbox_dir_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mbox_folder_create(const struct mbox_user *u, const char *name, const char **error_r)
{
	char *path;
	bool exists;

	if (!mbox_name_valid(name)) {
		*error_r = "Invalid mailbox name";
		return 0;
	}
	if (strcmp(name, "INBOX") == 0) {
		*error_r = "Mailbox already exists";
		return 0;
	}
	path = xasprintf("%s/.%s", u->root, name);
	exists = mbox_dir_exists(path);
	free(path);
	if (exists) {
		*error_r = "Mailbox already exists";
		return 0;
	}
	return mbox_folder_make(u, name, error_r);
}

/* ---- delete ---- */

/* Remove a Maildir folder tree that nobody can reach any more (renamed
 * to MBOX_TRASH_PREFIX); sizes of the messages found are added up for
 * maildirsize. */
static int mbox_remove_tree(const char *path, int depth, int64_t *bytes, int64_t *count)
{
	DIR *dir = opendir(path);
	struct dirent *d;
	int ret = 0;

	if (dir == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dir)) != NULL) {
		char *child;
		struct stat st;

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		child = xasprintf("%s/%s", path, d->d_name);
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode) && depth < 2) {
			if (mbox_remove_tree(child, depth + 1, bytes, count) < 0 || rmdir(child) < 0)
				ret = -1;
		} else {
			const char *parent = strrchr(path, '/');
			bool msg = parent != NULL && depth == 1 &&
				   (strcmp(parent, "/cur") == 0 || strcmp(parent, "/new") == 0);

			/* only what this call removed leaves the quota: another
			 * process may be removing the same tree */
			if (unlink(child) < 0) {
				if (errno != ENOENT)
					ret = -1;
			} else if (msg) {
				*bytes += st.st_size;
				(*count)++;
			}
		}
		free(child);
	}
	closedir(dir);
	return ret;
}

int mbox_folder_delete(const struct mbox_user *u, const char *name, const char **error_r)
{
	struct mbox_names dirs;
	struct buf trash;
	char *path;
	bool children = false;
	int64_t bytes = 0, count = 0;
	int ret;

	if (!mbox_name_valid(name)) {
		*error_r = "Invalid mailbox name";
		return 0;
	}
	if (strcmp(name, "INBOX") == 0) {
		*error_r = "INBOX cannot be deleted";
		return 0;
	}
	if (mbox_folder_dirs(u->root, &dirs, NULL, error_r) < 0)
		return -1;
	for (size_t i = 0; i < dirs.count && !children; i++)
		children = mbox_name_below(dirs.v[i], name);
	bool exists = mbox_names_has(&dirs, name);

	mbox_names_free(&dirs);
	if (!exists) {
		/* RFC 3501 6.3.4: a name that is only a parent cannot be
		 * deleted. */
		*error_r = children ? "Mailbox has children, delete them first" :
				      "Mailbox doesn't exist";
		return 0;
	}
	/* Children stay: the name becomes a \Noselect parent, as Maildir++
	 * needs no directory for a parent (RFC 3501 6.3.4). */
	path = xasprintf("%s/.%s", u->root, name);
	buf_init(&trash, BUF_NO_LIMIT);
	buf_printf(&trash, "%s/" MBOX_TRASH_PREFIX, u->root);
	maildir_name_unique(&trash);
	if (rename(path, buf_cstr(&trash)) < 0) {
		ret = errno == ENOENT ? 0 : -1;
		*error_r = ret == 0 ? "Mailbox doesn't exist" : "cannot delete the folder";
	} else {
		if (mbox_remove_tree(buf_cstr(&trash), 0, &bytes, &count) < 0 ||
		    rmdir(buf_cstr(&trash)) < 0)
			ret = -1, *error_r = "cannot remove the folder's files";
		else
			ret = 1;
		if (count > 0)
			(void)maildir_quota_update(u->root, -bytes, -count, error_r);
		if (maildir_fsync_dir(u->root, error_r) < 0)
			ret = -1;
	}
	free(path);
	buf_free(&trash);
	return ret;
}

/* ---- rename ---- */

/* RFC 3501 6.3.5: renaming INBOX moves its messages into a new folder
 * and leaves INBOX, empty, where it was. Keywords go along (the new
 * folder starts with INBOX's dovecot-keywords). */
static int mbox_rename_inbox(const struct mbox_user *u, const char *to, const char **error_r)
{
	static const char *const subs[] = { "new", "cur" };
	char *dst = xasprintf("%s/.%s", u->root, to);
	struct buf kw;
	int ret = mbox_folder_create(u, to, error_r);

	buf_init(&kw, 64 * 1024);
	if (ret > 0) {
		char *kwpath = xasprintf("%s/dovecot-keywords", u->root);

		if (maildir_file_read(kwpath, &kw, error_r) > 0 &&
		    maildir_file_replace(dst, "dovecot-keywords", kw.data, kw.len, error_r) < 0)
			ret = -1;
		free(kwpath);
	}
	for (size_t s = 0; s < 2 && ret > 0; s++) {
		char *from_dir = xasprintf("%s/%s", u->root, subs[s]);
		char *to_dir = xasprintf("%s/%s", dst, subs[s]);
		DIR *dir = opendir(from_dir);
		struct dirent *d;
		struct maildir_name parsed;

		if (dir == NULL) {
			*error_r = "cannot read INBOX";
			ret = -1;
		}
		while (ret > 0 && (d = readdir(dir)) != NULL) {
			char *a, *b;

			if (maildir_name_parse(d->d_name, &parsed) < 0)
				continue;
			a = xasprintf("%s/%s", from_dir, d->d_name);
			b = xasprintf("%s/%s", to_dir, d->d_name);
			/* ENOENT: expunged or renamed meanwhile; it stays. */
			if (rename(a, b) < 0 && errno != ENOENT) {
				*error_r = "cannot move a message out of INBOX";
				ret = -1;
			}
			free(a);
			free(b);
		}
		if (dir != NULL)
			closedir(dir);
		if (ret > 0 && (maildir_fsync_dir(to_dir, error_r) < 0 ||
				maildir_fsync_dir(from_dir, error_r) < 0))
			ret = -1;
		free(from_dir);
		free(to_dir);
	}
	buf_free(&kw);
	free(dst);
	return ret;
}

int mbox_folder_rename(const struct mbox_user *u, const char *from, const char *to,
		       const char **error_r)
{
	struct mbox_names dirs;
	bool from_exists, to_taken = false;
	int ret = 1;

	if (!mbox_name_valid(from) || !mbox_name_valid(to)) {
		*error_r = "Invalid mailbox name";
		return 0;
	}
	if (strcmp(to, "INBOX") == 0 || strcmp(from, to) == 0) {
		*error_r = "Target mailbox already exists";
		return 0;
	}
	if (strcmp(from, "INBOX") == 0)
		return mbox_rename_inbox(u, to, error_r);
	if (mbox_name_below(to, from)) {
		*error_r = "Cannot rename a mailbox into itself";
		return 0;
	}
	if (mbox_folder_dirs(u->root, &dirs, NULL, error_r) < 0)
		return -1;
	from_exists = mbox_names_has(&dirs, from);
	for (size_t i = 0; i < dirs.count; i++) {
		if (strcmp(dirs.v[i], to) == 0 || mbox_name_below(dirs.v[i], to))
			to_taken = true;
		if (mbox_name_below(dirs.v[i], from))
			from_exists = true;
	}
	if (!from_exists || to_taken) {
		mbox_names_free(&dirs);
		*error_r = to_taken ? "Target mailbox already exists" : "Mailbox doesn't exist";
		return 0;
	}
	/* The folder, then each child: "A.x" -> "B.x". */
	for (size_t i = 0; i < dirs.count && ret > 0; i++) {
		if (strcmp(dirs.v[i], from) != 0 && !mbox_name_below(dirs.v[i], from))
			continue;
		char *new_name = xasprintf("%s%s", to, dirs.v[i] + strlen(from));
		char *a = xasprintf("%s/.%s", u->root, dirs.v[i]);
		char *b = xasprintf("%s/.%s", u->root, new_name);

		if (!mbox_name_valid(new_name)) {
			*error_r = "The new name of a child folder is too long";
			ret = 0;
		} else if (rename(a, b) < 0) {
			if (errno == EEXIST || errno == ENOTEMPTY) {
				*error_r = "Target mailbox already exists";
				ret = 0;
			} else if (errno != ENOENT) {
				*error_r = "cannot rename the folder";
				ret = -1;
			}
		}
		free(a);
		free(b);
		free(new_name);
	}
	mbox_names_free(&dirs);
	if (maildir_fsync_dir(u->root, error_r) < 0)
		ret = -1;
	if (ret > 0 && mbox_subs_change(u, MBOX_SUBS_RENAME, &from, 1, to, error_r) < 0)
		ret = -1;
	return ret;
}

/* ---- first login ---- */

int mbox_user_init(const struct mbox_user *u, const char **error_r)
{
	struct mbox_names dirs;
	const char *names[MBOX_SPECIAL_COUNT + 1];
	bool empty;

	if (maildir_create(u->root, error_r) < 0)
		return -1;
	if (mbox_folder_dirs(u->root, &dirs, NULL, error_r) < 0)
		return -1;
	empty = dirs.count == 0;
	mbox_names_free(&dirs);
	if (!empty)
		return 0;
	/* A store without folders: a first login. Clients that ignore
	 * SPECIAL-USE still find these by name, and subscribed. */
	names[0] = "INBOX";
	for (size_t i = 0; i < MBOX_SPECIAL_COUNT; i++) {
		names[i + 1] = mbox_special[i].name;
		if (mbox_folder_create(u, mbox_special[i].name, error_r) < 0)
			return -1;
	}
	return mbox_subs_change(u, MBOX_SUBS_ADD, names, MBOX_SPECIAL_COUNT + 1, NULL, error_r);
}
