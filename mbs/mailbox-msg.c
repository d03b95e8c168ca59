#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "imap-args.h"
#include "mailbox-private.h"
#include "maildir-quota.h"
#include "xalloc.h"

/* Reading, flagging and expunging the messages of an open view. */

/* Renames between two dotlock_touch() calls while the uidlist lock is
 * held, so a STORE on a huge folder never looks stale to others. */
#define MBOX_TOUCH_EVERY 512

static struct mbox_msg *mbox_msg_get(struct mbox *box, size_t i, const char **error_r)
{
	if (i >= box->count) {
		*error_r = "no such message";
		return NULL;
	}
	return &box->msgs[i];
}

/* Open the message's file, following it when another writer renamed it
 * (found again by its base name). 1 open, 0 expunged, -1 error. */
static int mbox_msg_fd(struct mbox *box, size_t i, int *fd_r, const char **error_r)
{
	struct mbox_msg *msg = &box->msgs[i];

	if (msg->expunged)
		return 0;
	for (int tries = 0; tries < 3; tries++) {
		char *path = xasprintf("%s/%s", box->path, msg->file);
		const char *name = strchr(msg->file, '/') + 1;
		char *base, *found;
		int fd = open(path, O_RDONLY | O_CLOEXEC), r;

		free(path);
		if (fd >= 0) {
			*fd_r = fd;
			return 1;
		}
		if (errno != ENOENT) {
			*error_r = "cannot open the message";
			return -1;
		}
		base = xstrndup(name, strcspn(name, ":"));
		r = mbox_locate(box->path, base, &found, error_r);
		free(base);
		if (r <= 0)
			return r;
		mbox_view_private(box);
		msg = &box->msgs[i];
		free(msg->file);
		msg->file = found;
	}
	return 0;
}

int mbox_msg_open(struct mbox *box, size_t i, int *fd_r, const char **error_r)
{
	struct mbox_msg *msg = mbox_msg_get(box, i, error_r);

	return msg == NULL ? -1 : mbox_msg_fd(box, i, fd_r, error_r);
}

int mbox_msg_read(struct mbox *box, size_t i, struct buf *out, const char **error_r)
{
	struct mbox_msg *msg = mbox_msg_get(box, i, error_r);
	size_t start = out->len;
	char chunk[65536];
	ssize_t n;
	int fd, ret;

	if (msg == NULL)
		return -1;
	ret = mbox_msg_fd(box, i, &fd, error_r);
	if (ret <= 0)
		return ret;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = "cannot read the message";
			ret = -1;
			break;
		}
		if (buf_append(out, chunk, (size_t)n) < 0) {
			*error_r = "the message is too large";
			ret = -1;
			break;
		}
	}
	close(fd);
	if (ret < 0) {
		buf_truncate(out, start);
		return -1;
	}
	if (box->msgs[i].vsize == 0)
		mbox_msg_set_vsize(box, i, mbox_vsize(out->data + start, out->len - start));
	return 1;
}

/* ---- keywords ---- */

static int mbox_keyword_find(const struct maildir_keywords *kw, const char *name)
{
	/* RFC 3501 2.3.2: flag names are not case-sensitive. */
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0)
			return i;
	}
	return -1;
}

int mbox_keywords_assign(const char *maildir, struct maildir_keywords *kw,
			 const char *const *names, size_t count, uint32_t *keywords_r,
			 size_t *dropped_r, const char **error_r)
{
	*keywords_r = 0;
	*dropped_r = 0;
	if (count == 0)
		return 0;
	if (maildir_keywords_read(maildir, kw, error_r) < 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		int idx = mbox_keyword_find(kw, names[i]);

		if (idx < 0) {
			int r = maildir_keywords_assign(maildir, names[i], kw, &idx, error_r);

			if (r < 0)
				return -1;
			if (r == 0) {
				(*dropped_r)++;
				continue;
			}
		}
		*keywords_r |= 1u << idx;
	}
	return 0;
}

/* ---- STORE ---- */

static int mbox_keywords_count(const struct maildir_keywords *kw)
{
	int n = 0;

	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		n += kw->names[i] != NULL;
	return n;
}

static struct maildir_uidlist_rec *mbox_rec_by_uid(struct maildir_uidlist *list, uint32_t uid)
{
	return (struct maildir_uidlist_rec *)maildir_uidlist_lookup(list, uid);
}

/* Give one message its new flags, computed from the flags its file has
 * now (not what the view saw), so a change another session made
 * meanwhile is kept. 1 changed, 0 nothing to change or gone, -1 error. */
static int mbox_store_one(struct mbox *box, struct maildir_uidlist_rec *rec,
			  enum mbox_store_mode mode, unsigned flags, uint32_t keywords,
			  const char **error_r)
{
	for (int tries = 0; tries < 3; tries++) {
		const char *name = strchr(rec->file, '/') + 1;
		struct maildir_name parsed;
		struct maildir_flags mf;
		unsigned now, want;
		uint32_t kw_want;
		char *moved;
		int r;

		if (maildir_name_parse(name, &parsed) < 0)
			memset(&parsed, 0, sizeof(parsed));
		now = mbox_flags_from_maildir(&parsed.flags);
		switch (mode) {
		case MBOX_STORE_ADD:
			want = now | flags;
			kw_want = parsed.flags.keywords | keywords;
			break;
		case MBOX_STORE_REMOVE:
			want = now & ~flags;
			kw_want = parsed.flags.keywords & ~keywords;
			break;
		default:
			want = flags;
			kw_want = keywords;
			break;
		}
		if (want == now && kw_want == parsed.flags.keywords)
			return 0;
		mf = parsed.flags;
		mbox_flags_to_maildir(want, kw_want, &mf);
		r = maildir_set_flags(box->path, rec->file, &mf, &moved, error_r);
		if (r < 0)
			return -1;
		if (r > 0) {
			free(rec->file);
			rec->file = moved;
			return 1;
		}
		/* Renamed by a writer that does not take our lock (Dovecot, a
		 * mail reader working on the files): find it again. */
		r = mbox_locate(box->path, rec->base, &moved, error_r);
		if (r <= 0)
			return r;
		free(rec->file);
		rec->file = moved;
	}
	*error_r = "the message keeps being renamed";
	return -1;
}

/* The view's copy of a record after our own change. */
static void mbox_msg_update(struct mbox_msg *msg, const struct maildir_uidlist_rec *rec,
			    uint64_t modseq)
{
	const char *name = strchr(rec->file, '/') + 1;
	struct maildir_name parsed;

	if (maildir_name_parse(name, &parsed) == 0) {
		msg->flags = mbox_flags_from_maildir(&parsed.flags);
		msg->keywords = parsed.flags.keywords;
	}
	free(msg->file);
	msg->file = xstrdup(rec->file);
	msg->modseq = modseq;
}

int mbox_store(struct mbox *box, const size_t *idx, size_t n, enum mbox_store_mode mode,
	       unsigned flags, const char *const *keywords, size_t keyword_count,
	       const char **error_r)
{
	struct maildir_uidlist list;
	struct dotlock *lock;
	uint32_t kw = 0;
	size_t dropped = 0;
	bool changed = false, *touched;
	uint64_t modseq;
	int ret = 0;

	if (box->readonly) {
		*error_r = "the mailbox is read-only";
		return -1;
	}
	mbox_view_private(box);
	if (mode == MBOX_STORE_REMOVE) {
		/* A keyword without a letter is on no message. */
		if (maildir_keywords_read(box->path, &box->keywords, error_r) < 0)
			return -1;
		for (size_t i = 0; i < keyword_count; i++) {
			int k = mbox_keyword_find(&box->keywords, keywords[i]);

			if (k >= 0)
				kw |= 1u << k;
		}
	} else {
		int before = mbox_keywords_count(&box->keywords);

		if (mbox_keywords_assign(box->path, &box->keywords, keywords, keyword_count,
					 &kw, &dropped, error_r) < 0)
			return -1;
		if (mbox_keywords_count(&box->keywords) != before)
			box->internal->keywords_pending = true;
	}
	if (dropped > 0) {
		*error_r = "[LIMIT] Too many keywords in this mailbox (at most 26)";
		return 0;
	}
	maildir_uidlist_init(&list);
	if (maildir_uidlist_lock(box->path, &mbox_lock_set, &lock, error_r) < 0)
		return -1;
	if (mbox_uidlist_refresh(box->path, &list, &changed, error_r) < 0) {
		mbox_uidlist_finish(box->path, &lock, &list, false, error_r);
		maildir_uidlist_free(&list);
		return -1;
	}
	modseq = mbox_list_highest_modseq(&list) + 1;
	touched = xcalloc(n + 1, sizeof(*touched));
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct maildir_uidlist_rec *rec;
		int r;

		if (idx[i] >= box->count || box->msgs[idx[i]].expunged)
			continue;
		rec = mbox_rec_by_uid(&list, box->msgs[idx[i]].uid);
		if (rec == NULL)
			continue;	/* expunged meanwhile: skipped */
		r = mbox_store_one(box, rec, mode, flags, kw, error_r);
		if (r < 0)
			ret = -1;
		else if (r > 0) {
			mbox_rec_set_modseq(rec, modseq);
			touched[i] = true;
			changed = true;
		}
		if (i % MBOX_TOUCH_EVERY == MBOX_TOUCH_EVERY - 1)
			(void)dotlock_touch(lock, error_r);
	}
	/* What was renamed is recorded even when a later rename failed. */
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any = any || touched[i];
	if (any)
		mbox_list_set_highest_modseq(&list, modseq);
	if (mbox_uidlist_finish(box->path, &lock, &list, changed, error_r) < 0)
		ret = -1;
	for (size_t i = 0; i < n; i++) {
		const struct maildir_uidlist_rec *rec;

		if (!touched[i])
			continue;
		rec = maildir_uidlist_lookup(&list, box->msgs[idx[i]].uid);
		if (rec != NULL)
			mbox_msg_update(&box->msgs[idx[i]], rec, modseq);
	}
	if (any && modseq > box->highest_modseq)
		box->highest_modseq = modseq;
	free(touched);
	maildir_uidlist_free(&list);
	return ret < 0 ? -1 : 1;
}

/* ---- EXPUNGE ---- */

static void mbox_list_remove(struct maildir_uidlist *list, const bool *gone)
{
	size_t kept = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (!gone[i]) {
			list->recs[kept++] = list->recs[i];
		} else {
			free(list->recs[i].ext);
			free(list->recs[i].base);
			free(list->recs[i].file);
		}
	}
	list->count = kept;
}

/* Unlink one message if its file (followed through renames) still has
 * \Deleted. 1 removed (*size_r), 0 not (flag cleared meanwhile, or gone
 * already), -1 error. */
static int mbox_expunge_one(struct mbox *box, struct maildir_uidlist_rec *rec, uint64_t *size_r,
			    const char **error_r)
{
	for (int tries = 0; tries < 3; tries++) {
		const char *name = strchr(rec->file, '/') + 1;
		struct maildir_name parsed;
		char *path, *found;
		int r;

		if (maildir_name_parse(name, &parsed) < 0 ||
		    !(parsed.flags.flags & MAILDIR_FLAG_TRASHED))
			return 0;
		path = xasprintf("%s/%s", box->path, rec->file);
		r = unlink(path);
		if (r < 0 && errno == ENOENT) {
			free(path);
			r = mbox_locate(box->path, rec->base, &found, error_r);
			if (r <= 0)
				return r;
			free(rec->file);
			rec->file = found;
			continue;
		}
		if (r < 0) {
			free(path);
			*error_r = "cannot remove the message";
			return -1;
		}
		free(path);
		*size_r = parsed.has_size ? parsed.size : 0;
		return 1;
	}
	return 0;
}

static bool mbox_expunge_wanted(const struct mbox *box, const size_t *idx, size_t n, size_t i)
{
	/* The flags on disk decide (mbox_expunge_one), not the view's: a
	 * \Deleted set by another session counts, one it cleared does not. */
	if (box->msgs[i].expunged)
		return false;
	if (idx == NULL)
		return true;
	for (size_t k = 0; k < n; k++) {
		if (idx[k] == i)
			return true;
	}
	return false;
}

int mbox_expunge(struct mbox *box, const size_t *idx, size_t n, struct mbox_changes *ch,
		 const char **error_r)
{
	struct maildir_uidlist list;
	struct dotlock *lock;
	bool changed = false, *gone, from_new = false, from_cur = false;
	int64_t bytes = 0, count = 0;
	int ret = 0;

	if (ch != NULL)
		memset(ch, 0, sizeof(*ch));
	if (box->readonly) {
		*error_r = "the mailbox is read-only";
		return -1;
	}
	maildir_uidlist_init(&list);
	if (maildir_uidlist_lock(box->path, &mbox_lock_set, &lock, error_r) < 0)
		return -1;
	if (mbox_uidlist_refresh(box->path, &list, &changed, error_r) < 0) {
		mbox_uidlist_finish(box->path, &lock, &list, false, error_r);
		maildir_uidlist_free(&list);
		return -1;
	}
	gone = xcalloc(list.count + 1, sizeof(*gone));
	for (size_t i = 0; i < box->count && ret == 0; i++) {
		struct maildir_uidlist_rec *rec;
		uint64_t size = 0;
		int r;

		if (!mbox_expunge_wanted(box, idx, n, i))
			continue;
		rec = mbox_rec_by_uid(&list, box->msgs[i].uid);
		if (rec == NULL)
			continue;
		r = mbox_expunge_one(box, rec, &size, error_r);
		if (r < 0) {
			ret = -1;
		} else if (r > 0) {
			if (strncmp(rec->file, "new/", 4) == 0)
				from_new = true;
			else
				from_cur = true;
			gone[rec - list.recs] = true;
			bytes += (int64_t)(size != 0 ? size : box->msgs[i].size);
			count++;
		}
		if (count % MBOX_TOUCH_EVERY == MBOX_TOUCH_EVERY - 1)
			(void)dotlock_touch(lock, error_r);
	}
	if (count > 0) {
		/* Durable before the tagged OK: the directories we removed
		 * from (an fsync costs a disk flush even on a clean one). */
		char *cur = xasprintf("%s/cur", box->path), *new_dir = xasprintf("%s/new", box->path);

		if ((from_cur && maildir_fsync_dir(cur, error_r) < 0) ||
		    (from_new && maildir_fsync_dir(new_dir, error_r) < 0))
			ret = -1;
		free(cur);
		free(new_dir);
		mbox_list_remove(&list, gone);
		mbox_list_set_highest_modseq(&list, mbox_list_highest_modseq(&list) + 1);
		changed = true;
	}
	if (mbox_uidlist_finish(box->path, &lock, &list, changed, error_r) < 0)
		ret = -1;
	free(gone);
	maildir_uidlist_free(&list);
	if (count > 0) {
		const char *qerror;

		(void)maildir_quota_update(box->user->root, -bytes, -count, &qerror);
	}
	if (ret < 0 || mbox_sync(box, true, ch, error_r) < 0)
		return -1;
	return 1;
}
