#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mailbox-private.h"
#include "maildir-quota.h"
#include "xalloc.h"

/* APPEND and COPY: new files in a folder, durable and with their UIDs
 * before the tagged OK (RFC 4315 APPENDUID / COPYUID). */

int mbox_quota_check(const struct mbox_user *u, uint64_t bytes, uint64_t count,
		     const char **error_r)
{
	struct maildir_quota q;

	if (u->quota.bytes == 0 && u->quota.count == 0)
		return 1;
	if (maildir_quota_get(u->root, &u->quota, &q, error_r) < 0)
		return -1;
	if (!maildir_quota_fits(&q, bytes, count)) {
		/* RFC 9208 4.3 */
		*error_r = "[OVERQUOTA] Quota exceeded (mailbox for user is full)";
		return 0;
	}
	return 1;
}

int mbox_quota(struct mbox_user *u, struct maildir_quota *q_r, const char **error_r)
{
	bool limited = u->quota.bytes != 0 || u->quota.count != 0;

	if (maildir_quota_get(u->root, limited ? &u->quota : NULL, q_r, error_r) < 0)
		return -1;
	/* authd's limits are the ones that hold, not a stale file's. */
	q_r->limits = u->quota;
	return 0;
}

/* The folder's Maildir, or 0 with [TRYCREATE] (RFC 3501 6.3.11). */
static int mbox_target(const struct mbox_user *u, const char *name, char **path_r,
		       const char **error_r)
{
	struct stat st;
	char *path = mbox_folder_path(u, name, error_r), *cur;
	int r;

	if (path == NULL) {
		*error_r = "Invalid mailbox name";
		return 0;
	}
	cur = xasprintf("%s/cur", path);
	r = stat(cur, &st);
	free(cur);
	if (r < 0 || !S_ISDIR(st.st_mode)) {
		free(path);
		*error_r = "[TRYCREATE] Mailbox doesn't exist";
		return 0;
	}
	*path_r = path;
	return 1;
}

/* UIDs for the files just renamed into maildir (base names), under the
 * uidlist lock; 0 for one expunged before it got one. */
static int mbox_assign_uids(const char *maildir, char *const *bases, size_t n,
			    uint32_t *uidvalidity_r, uint32_t *uids, const char **error_r)
{
	struct maildir_uidlist list;
	struct dotlock *lock;
	bool changed = false;
	int ret;

	maildir_uidlist_init(&list);
	if (maildir_uidlist_lock(maildir, &mbox_lock_set, &lock, error_r) < 0)
		return -1;
	ret = mbox_uidlist_refresh(maildir, &list, &changed, error_r);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct maildir_uidlist_rec *rec = maildir_uidlist_find_base(&list, bases[i]);

		uids[i] = rec == NULL ? 0 : rec->uid;
	}
	*uidvalidity_r = list.uidvalidity;
	if (mbox_uidlist_finish(maildir, &lock, &list, ret == 0 && changed, error_r) < 0)
		ret = -1;
	maildir_uidlist_free(&list);
	return ret;
}

/* "cur/<base>:2,..." -> "<base>" */
static char *mbox_base_of(const char *file)
{
	const char *name = strchr(file, '/');

	name = name == NULL ? file : name + 1;
	return xstrndup(name, strcspn(name, ":"));
}

int mbox_append(struct mbox_user *u, const char *name, const void *data, size_t len,
		const struct mbox_append *a, uint32_t *uidvalidity_r, uint32_t *uid_r,
		const char **error_r)
{
	struct maildir_keywords kw;
	struct maildir_save save;
	char *path, *file, *base;
	size_t dropped;
	bool no_space;
	int ret;

	*uid_r = 0;
	ret = mbox_target(u, name, &path, error_r);
	if (ret <= 0)
		return ret;
	ret = mbox_quota_check(u, len, 1, error_r);
	if (ret <= 0) {
		free(path);
		return ret;
	}
	memset(&save, 0, sizeof(save));
	maildir_keywords_init(&kw);
	/* Keywords past the 26 letters are not stored: the message is. */
	if (mbox_keywords_assign(path, &kw, a->keywords, a->keyword_count, &save.flags.keywords,
				 &dropped, error_r) < 0) {
		maildir_keywords_free(&kw);
		free(path);
		return -1;
	}
	maildir_keywords_free(&kw);
	mbox_flags_to_maildir(a->flags, save.flags.keywords, &save.flags);
	/* Without flags into new/, like a delivery (the next read-write
	 * view gets it as \Recent, as Dovecot does); with flags into cur/. */
	save.to_cur = save.flags.flags != 0 || save.flags.keywords != 0;
	save.mtime = a->internaldate;
	if (maildir_deliver(path, data, len, &save, &file, &no_space, error_r) < 0) {
		free(path);
		if (no_space) {
			*error_r = "[OVERQUOTA] Not enough disk space";
			return 0;
		}
		return -1;
	}
	base = mbox_base_of(file);
	ret = mbox_assign_uids(path, &base, 1, uidvalidity_r, uid_r, error_r);
	if (ret == 0)
		(void)maildir_quota_update(u->root, (int64_t)len, 1, error_r);
	free(base);
	free(file);
	free(path);
	return ret < 0 ? -1 : 1;
}

/* ---- COPY ---- */

/* Keyword letters of the source folder -> letters in the target's own
 * dovecot-keywords (assigned as needed; -1: does not fit). */
static int mbox_copy_keyword_map(struct mbox *box, const char *dst, const size_t *idx, size_t n,
				 int map[MAILDIR_KEYWORDS_MAX], const char **error_r)
{
	struct maildir_keywords kw;
	uint32_t used = 0;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		if (idx[i] < box->count)
			used |= box->msgs[idx[i]].keywords;
	}
	maildir_keywords_init(&kw);
	for (int k = 0; k < MAILDIR_KEYWORDS_MAX && ret == 0; k++) {
		const char *name = box->keywords.names[k];
		uint32_t bit;
		size_t dropped;

		map[k] = -1;
		if (!(used & (1u << k)) || name == NULL)
			continue;
		ret = mbox_keywords_assign(dst, &kw, &name, 1, &bit, &dropped, error_r);
		if (ret == 0 && bit != 0)
			map[k] = __builtin_ctz(bit);
	}
	maildir_keywords_free(&kw);
	return ret;
}

/* Copy one message; its flags come from its file name as it is now.
 * 1 copied (*file_r), 0 expunged meanwhile, -1 error. */
static int mbox_copy_one(struct mbox *box, struct mbox_msg *msg, const char *dst,
			 const int map[MAILDIR_KEYWORDS_MAX], char **file_r, const char **error_r)
{
	for (int tries = 0; tries < 3; tries++) {
		const char *name = strchr(msg->file, '/') + 1;
		struct maildir_name parsed;
		struct maildir_save save;
		char *src, *base, *found;
		bool no_space;
		int r;

		memset(&save, 0, sizeof(save));
		if (maildir_name_parse(name, &parsed) == 0)
			save.flags.flags = parsed.flags.flags;
		for (int k = 0; k < MAILDIR_KEYWORDS_MAX; k++) {
			if ((parsed.flags.keywords & (1u << k)) && map[k] >= 0)
				save.flags.keywords |= 1u << map[k];
		}
		save.to_cur = save.flags.flags != 0 || save.flags.keywords != 0;
		src = xasprintf("%s/%s", box->path, msg->file);
		r = maildir_copy(src, dst, &save, file_r, &no_space, error_r);
		free(src);
		if (r < 0 && no_space)
			*error_r = "[OVERQUOTA] Not enough disk space";
		if (r != 0)
			return r;
		base = mbox_base_of(msg->file);
		r = mbox_locate(box->path, base, &found, error_r);
		free(base);
		if (r <= 0)
			return r;
		free(msg->file);
		msg->file = found;
	}
	return 0;
}

int mbox_copy(struct mbox *box, const size_t *idx, size_t n, const char *name,
	      uint32_t *uidvalidity_r, uint32_t **src_uids_r, uint32_t **dst_uids_r,
	      size_t *n_r, const char **error_r)
{
	int map[MAILDIR_KEYWORDS_MAX];
	char *dst, **bases, **files;
	uint32_t *src_uids, *dst_uids;
	uint64_t bytes = 0;
	size_t done = 0, k;
	int ret;

	*src_uids_r = *dst_uids_r = NULL;
	*n_r = 0;
	mbox_view_private(box);	/* a source renamed meanwhile is followed */
	ret = mbox_target(box->user, name, &dst, error_r);
	if (ret <= 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		if (idx[i] < box->count && !box->msgs[idx[i]].expunged)
			bytes += box->msgs[idx[i]].size;
	}
	ret = mbox_quota_check(box->user, bytes, n, error_r);
	if (ret <= 0 || mbox_copy_keyword_map(box, dst, idx, n, map, error_r) < 0) {
		free(dst);
		return ret <= 0 ? ret : -1;
	}
	bases = xcalloc(n + 1, sizeof(*bases));
	files = xcalloc(n + 1, sizeof(*files));
	src_uids = xcalloc(n + 1, sizeof(*src_uids));
	dst_uids = xcalloc(n + 1, sizeof(*dst_uids));
	bytes = 0;
	ret = 1;
	for (size_t i = 0; i < n && ret > 0; i++) {
		struct mbox_msg *msg;
		int r;

		if (idx[i] >= box->count || box->msgs[idx[i]].expunged)
			continue;
		msg = &box->msgs[idx[i]];
		r = mbox_copy_one(box, msg, dst, map, &files[done], error_r);
		if (r < 0) {
			ret = strncmp(*error_r, "[OVERQUOTA]", 11) == 0 ? 0 : -1;
		} else if (r > 0) {
			bases[done] = mbox_base_of(files[done]);
			src_uids[done++] = msg->uid;
			bytes += msg->size;
		}
	}
	if (ret <= 0) {
		/* RFC 3501 6.4.7: a failed COPY leaves the target as it was. */
		for (size_t i = 0; i < done; i++) {
			char *path = xasprintf("%s/%s", dst, files[i]);

			(void)unlink(path);
			free(path);
		}
		done = 0;
	} else if (done > 0) {
		const char *qerror;

		if (mbox_assign_uids(dst, bases, done, uidvalidity_r, dst_uids, error_r) < 0)
			ret = -1;
		(void)maildir_quota_update(box->user->root, (int64_t)bytes, (int64_t)done, &qerror);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	/* Leave out a copy expunged before it got its UID. */
	k = 0;
	for (size_t i = 0; i < done; i++) {
		if (dst_uids[i] != 0) {
			src_uids[k] = src_uids[i];
			dst_uids[k++] = dst_uids[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		free(bases[i]);
	free(bases);
	free(dst);
	if (ret <= 0) {
		free(src_uids);
		free(dst_uids);
		return ret;
	}
	*src_uids_r = src_uids;
	*dst_uids_r = dst_uids;
	*n_r = k;
	if (done == 0)
		*uidvalidity_r = 0;
	return 1;
}
