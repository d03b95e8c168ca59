#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "hash.h"
#include "imap-args.h"
#include "mailbox-private.h"
#include "xalloc.h"

/* Opening, syncing and counting a folder: the view a session keeps of it
 * (docs/storage.md, "The mailbox layer"). */

const struct dotlock_settings mbox_lock_set = {
	DOTLOCK_DEFAULT_TIMEOUT_MSECS, DOTLOCK_DEFAULT_STALE_SECS
};

/* How long a directory's or file's mtime must lie in the past before an
 * unchanged mtime is taken to mean "unchanged" (see mbox_sync). */
#define MBOX_RACY_SECS 2

bool mbox_name_valid(const char *name)
{
	size_t len = strlen(name), level = 0;

	if (strcmp(name, "INBOX") == 0)
		return true;
	/* One directory name with its leading '.': at most 255 bytes. */
	if (len == 0 || len > IMAP_MAILBOX_MAX_LEN || strcasecmp(name, "INBOX") == 0)
		return false;
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			/* Empty levels cover ".x", "x.", "a..b" and so "..". */
			if (level == 0)
				return false;
			level = 0;
			continue;
		}
		if (c < 0x20 || c >= 0x7f || c == '/')
			return false;
		level++;
	}
	return true;
}

/* IMAP flag bit -> Maildir flag bit, in step. */
static const struct {
	unsigned imap;
	unsigned maildir;
} mbox_flag_map[] = {
	{ IMAP_FLAG_SEEN, MAILDIR_FLAG_SEEN },
	{ IMAP_FLAG_ANSWERED, MAILDIR_FLAG_REPLIED },
	{ IMAP_FLAG_FLAGGED, MAILDIR_FLAG_FLAGGED },
	{ IMAP_FLAG_DELETED, MAILDIR_FLAG_TRASHED },
	{ IMAP_FLAG_DRAFT, MAILDIR_FLAG_DRAFT },
};

unsigned mbox_flags_from_maildir(const struct maildir_flags *mf)
{
	unsigned flags = 0;

	for (size_t i = 0; i < sizeof(mbox_flag_map) / sizeof(mbox_flag_map[0]); i++) {
		if (mf->flags & mbox_flag_map[i].maildir)
			flags |= mbox_flag_map[i].imap;
	}
	return flags;
}

void mbox_flags_to_maildir(unsigned imap_flags, uint32_t keywords, struct maildir_flags *mf)
{
	/* P (passed) has no IMAP flag: it stays as it was. */
	mf->flags &= MAILDIR_FLAG_PASSED;
	for (size_t i = 0; i < sizeof(mbox_flag_map) / sizeof(mbox_flag_map[0]); i++) {
		if (imap_flags & mbox_flag_map[i].imap)
			mf->flags |= mbox_flag_map[i].maildir;
	}
	mf->keywords = keywords;
}

const char *mbox_file_info(const char *file)
{
	const char *name = strrchr(file, '/'), *info;

	name = name == NULL ? file : name + 1;
	info = strstr(name, ":2,");
	return info == NULL ? "" : info + 3;
}

uint64_t mbox_vsize(const char *data, size_t len)
{
	uint64_t vsize = len;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			vsize++;
	}
	return vsize;
}

/* ---- modification sequences in dovecot-uidlist ---- */

static bool mbox_is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The flag letters as the F field keeps them: letters only (the field
 * may hold no spaces). */
static void mbox_letters(const char *info, struct buf *out)
{
	for (; *info != '\0'; info++) {
		if (mbox_is_letter(*info))
			buf_append_char(out, *info);
	}
}

/* The F field against the letters of the file name, compared in place:
 * every record is checked at every sync under the lock. */
static bool mbox_rec_flags_differ(const struct maildir_uidlist_rec *rec)
{
	size_t len, k = 0;
	const char *was = maildir_uidlist_rec_ext(rec, MBOX_EXT_FLAGS, &len);

	if (was == NULL)
		return true;
	for (const char *info = mbox_file_info(rec->file); *info != '\0'; info++) {
		if (!mbox_is_letter(*info))
			continue;
		if (k == len || was[k] != *info)
			return true;
		k++;
	}
	return k != len;
}

void mbox_rec_set_modseq(struct maildir_uidlist_rec *rec, uint64_t modseq)
{
	struct buf v;

	buf_init(&v, BUF_NO_LIMIT);
	buf_printf(&v, "%llu", (unsigned long long)modseq);
	maildir_uidlist_rec_ext_set(rec, MBOX_EXT_MODSEQ, buf_cstr(&v));
	buf_reset(&v);
	if (rec->file != NULL)
		mbox_letters(mbox_file_info(rec->file), &v);
	maildir_uidlist_rec_ext_set(rec, MBOX_EXT_FLAGS, buf_cstr(&v));
	buf_free(&v);
}

uint64_t mbox_list_highest_modseq(const struct maildir_uidlist *list)
{
	uint64_t highest = 1, v;

	if (maildir_uidlist_hdr_ext_u64(list, MBOX_EXT_MODSEQ, &v) > 0 && v > highest)
		highest = v;
	for (size_t i = 0; i < list->count; i++) {
		if (maildir_uidlist_rec_ext_u64(&list->recs[i], MBOX_EXT_MODSEQ, &v) > 0 &&
		    v > highest)
			highest = v;
	}
	return highest;
}

void mbox_list_set_highest_modseq(struct maildir_uidlist *list, uint64_t modseq)
{
	char v[24];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)modseq);
	maildir_uidlist_hdr_ext_set(list, MBOX_EXT_MODSEQ, v);
}

int mbox_uidlist_refresh(const char *maildir, struct maildir_uidlist *list, bool *changed_r,
			 const char **error_r)
{
	uint64_t highest, hdr = 0;
	bool bump;

	if (maildir_uidlist_refresh_locked(maildir, list, changed_r, error_r) < 0)
		return -1;
	highest = mbox_list_highest_modseq(list);
	/* New records, records whose flags another program changed (Dovecot,
	 * a mail reader on the files) and expunges all get one new modseq. */
	bump = list->dropped > 0;
	for (size_t i = 0; i < list->count && !bump; i++)
		bump = mbox_rec_flags_differ(&list->recs[i]);
	if (bump) {
		highest++;
		for (size_t i = 0; i < list->count; i++) {
			if (mbox_rec_flags_differ(&list->recs[i]))
				mbox_rec_set_modseq(&list->recs[i], highest);
		}
	}
	if (maildir_uidlist_hdr_ext_u64(list, MBOX_EXT_MODSEQ, &hdr) <= 0 || hdr != highest) {
		if (bump || list->count > 0)
			*changed_r = true;
		mbox_list_set_highest_modseq(list, highest);
	}
	if (bump)
		*changed_r = true;
	return 0;
}

int mbox_uidlist_finish(const char *maildir, struct dotlock **lock, struct maildir_uidlist *list,
			bool changed, const char **error_r)
{
	const char *release_error;
	int ret = 0;

	if (changed)
		ret = maildir_uidlist_write(maildir, list, error_r);
	if (maildir_uidlist_unlock(lock, &release_error) < 0 && ret == 0) {
		*error_r = release_error;
		ret = -1;
	}
	return ret;
}

static int mbox_uidlist_sync(const char *maildir, struct maildir_uidlist *list,
			     const char **error_r)
{
	struct dotlock *lock;
	bool changed = false;
	int ret;

	/* First without the lock: the uidlist is only ever replaced whole
	 * (rename), so this reads one consistent version. When it holds a
	 * record for every file, a file for every record and the flag
	 * letters every record's modseq was given for, a sync under the lock
	 * would find nothing to write and end with this same list. Anything
	 * else (a new file, an expunge, a writer half-way) and it is done
	 * again under the lock. Most syncs of a busy mailbox, and all of
	 * them of one nobody changes, so never create a lock file. */
	if (mbox_uidlist_refresh(maildir, list, &changed, error_r) == 0 && !changed)
		return 0;
	changed = false;
	if (maildir_uidlist_lock(maildir, &mbox_lock_set, &lock, error_r) < 0)
		return -1;
	ret = mbox_uidlist_refresh(maildir, list, &changed, error_r);
	if (mbox_uidlist_finish(maildir, &lock, list, ret == 0 && changed, error_r) < 0)
		ret = -1;
	return ret;
}

/* ---- finding a renamed message ---- */

static int mbox_locate_once(const char *maildir, const char *base, char **file_r,
			    const char **error_r)
{
	static const char *const subs[] = { "new", "cur" };
	size_t base_len = strlen(base);

	for (size_t s = 0; s < 2; s++) {
		char *path = xasprintf("%s/%s", maildir, subs[s]);
		DIR *dir = opendir(path);
		struct dirent *d;

		free(path);
		if (dir == NULL) {
			*error_r = "cannot open new/ or cur/";
			return -1;
		}
		while ((d = readdir(dir)) != NULL) {
			if (strncmp(d->d_name, base, base_len) == 0 &&
			    (d->d_name[base_len] == '\0' || d->d_name[base_len] == ':')) {
				*file_r = xasprintf("%s/%s", subs[s], d->d_name);
				closedir(dir);
				return 1;
			}
		}
		closedir(dir);
	}
	return 0;
}

int mbox_locate(const char *maildir, const char *base, char **file_r, const char **error_r)
{
	int ret = mbox_locate_once(maildir, base, file_r, error_r);

	if (ret == 0)
		ret = mbox_locate_once(maildir, base, file_r, error_r);
	return ret;
}

/* ---- change stamps ---- */

static const char *const mbox_stamp_names[MBOX_STAMP_COUNT] = {
	"new", "cur", "dovecot-uidlist", "dovecot-keywords"
};

/* open() + fstat() rather than stat(): an NFS client revalidates its
 * cached attributes on open (close-to-open consistency), so a change
 * made on another host is seen. */
static void mbox_stamp_take(const char *maildir, int which, struct mbox_stamp *st_r)
{
	char *path = xasprintf("%s/%s", maildir, mbox_stamp_names[which]);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	free(path);
	memset(st_r, 0, sizeof(*st_r));
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		st_r->exists = true;
		st_r->dev = st.st_dev;
		st_r->ino = st.st_ino;
		st_r->size = st.st_size;
		st_r->mtime = st.st_mtim;
	}
	close(fd);
}

static bool mbox_stamp_equal(const struct mbox_stamp *a, const struct mbox_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* ---- the view ---- */

static void mbox_msg_free(struct mbox_msg *msg)
{
	free(msg->file);
	msg->file = NULL;
}

/* ---- views shared between sessions ----
 *
 * Every session keeps a view of its selected folder; with many sessions
 * on one mailbox (IDLE on INBOX from several devices, or thousands of
 * idle clients) the copies would cost most of a session's memory. After
 * each sync a view whose messages equal the snapshot listed for its
 * folder (same UIDVALIDITY, every field of every message) drops its own
 * array and points at the snapshot's; otherwise its array becomes the
 * listed snapshot (the one listed before lives on, unlisted, while views
 * use it). A snapshot is never written: mbox_view_private() gives a view
 * its own copy before anything changes it. The table is per process and
 * under a mutex (views sync on worker threads); nothing on disk changes,
 * so other processes and hosts see no difference. */

struct mbox_snap {
	struct mbox_snap *next;      /* in its bucket, while listed */
	char *path;
	bool readonly;               /* read-only views (recent from new/) apart */
	uint32_t uidvalidity;
	struct mbox_msg *msgs;
	size_t count;
	unsigned refs;
	bool listed;
};

#define MBOX_SNAP_BUCKETS 1024

static pthread_mutex_t mbox_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mbox_snap *mbox_snap_table[MBOX_SNAP_BUCKETS];

static struct mbox_snap **mbox_snap_bucket(const char *path)
{
	return &mbox_snap_table[hash_str(path) % MBOX_SNAP_BUCKETS];
}

static void mbox_snap_unlist(struct mbox_snap *snap)
{
	struct mbox_snap **p = mbox_snap_bucket(snap->path);

	while (*p != snap)
		p = &(*p)->next;
	*p = snap->next;
	snap->next = NULL;
	snap->listed = false;
}

static void mbox_msgs_free(struct mbox_msg *msgs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		mbox_msg_free(&msgs[i]);
	free(msgs);
}

static void mbox_snap_release(struct mbox_snap *snap)
{
	bool last;

	pthread_mutex_lock(&mbox_snap_lock);
	last = --snap->refs == 0;
	if (last && snap->listed)
		mbox_snap_unlist(snap);
	pthread_mutex_unlock(&mbox_snap_lock);
	if (!last)
		return;
	mbox_msgs_free(snap->msgs, snap->count);
	free(snap->path);
	free(snap);
}

void mbox_view_private(struct mbox *box)
{
	struct mbox_internal *in = box->internal;
	struct mbox_snap *snap = in->snap;
	struct mbox_msg *own;

	if (snap == NULL)
		return;
	own = xreallocarray(NULL, box->count + 1, sizeof(*own));
	for (size_t i = 0; i < box->count; i++) {
		own[i] = snap->msgs[i];
		own[i].file = xstrdup(snap->msgs[i].file);
	}
	box->msgs = own;
	in->capacity = box->count + 1;
	in->snap = NULL;
	if (in->retired != NULL)
		mbox_snap_release(in->retired);
	in->retired = snap;
}

static void mbox_view_retired_free(struct mbox *box)
{
	if (box->internal->retired != NULL)
		mbox_snap_release(box->internal->retired);
	box->internal->retired = NULL;
}

static bool mbox_msgs_equal(const struct mbox_msg *a, const struct mbox_msg *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].uid != b[i].uid || a[i].flags != b[i].flags ||
		    a[i].keywords != b[i].keywords || a[i].recent != b[i].recent ||
		    a[i].expunged != b[i].expunged || a[i].modseq != b[i].modseq ||
		    a[i].size != b[i].size || a[i].vsize != b[i].vsize ||
		    a[i].internaldate != b[i].internaldate || strcmp(a[i].file, b[i].file) != 0)
			return false;
	}
	return true;
}

/* Join the listed snapshot, or list this view's array. */
static void mbox_view_share(struct mbox *box)
{
	struct mbox_internal *in = box->internal;
	struct mbox_snap **bucket, *snap, *joined = NULL;
	struct mbox_msg *drop = NULL;

	if (in->snap != NULL || box->count == 0)
		return;
	pthread_mutex_lock(&mbox_snap_lock);
	bucket = mbox_snap_bucket(box->path);
	for (snap = *bucket; snap != NULL; snap = snap->next) {
		if (snap->readonly == box->readonly && strcmp(snap->path, box->path) == 0)
			break;
	}
	if (snap != NULL && snap->uidvalidity == box->uidvalidity &&
	    snap->count == box->count && mbox_msgs_equal(snap->msgs, box->msgs, box->count)) {
		snap->refs++;
		drop = box->msgs;
		joined = snap;
	} else {
		if (snap != NULL)
			mbox_snap_unlist(snap);
		joined = xcalloc(1, sizeof(*joined));
		joined->path = xstrdup(box->path);
		joined->readonly = box->readonly;
		joined->uidvalidity = box->uidvalidity;
		/* no slack in an array nobody appends to */
		joined->msgs = xreallocarray(box->msgs, box->count, sizeof(*box->msgs));
		joined->count = box->count;
		joined->refs = 1;
		joined->listed = true;
		joined->next = *bucket;
		*bucket = joined;
	}
	pthread_mutex_unlock(&mbox_snap_lock);
	if (drop != NULL)
		mbox_msgs_free(drop, box->count);
	box->msgs = joined->msgs;
	in->snap = joined;
	in->capacity = 0;
}

void mbox_msg_set_vsize(struct mbox *box, size_t i, uint64_t vsize)
{
	if (i >= box->count || box->msgs[i].vsize == vsize)
		return;
	mbox_view_private(box);
	box->msgs[i].vsize = vsize;
}

static struct mbox_msg *mbox_view_append(struct mbox *box)
{
	struct mbox_internal *in = box->internal;
	struct mbox_msg *msg;

	mbox_view_private(box);
	if (box->count == in->capacity) {
		/* An eighth more each time (still amortised linear): every
		 * session holds its own view, so doubling's idle half of a
		 * large mailbox would cost each of them. */
		in->capacity += in->capacity / 8 > 16 ? in->capacity / 8 : 16;
		box->msgs = xreallocarray(box->msgs, in->capacity, sizeof(*box->msgs));
	}
	msg = &box->msgs[box->count++];
	memset(msg, 0, sizeof(*msg));
	return msg;
}

/* Flags, keywords, sizes and modseq from a record and its file name. */
static void mbox_msg_from_rec(struct mbox *box, struct mbox_msg *msg,
			      const struct maildir_uidlist_rec *rec)
{
	const char *name = strchr(rec->file, '/') + 1;
	struct maildir_name parsed;
	uint64_t v;

	if (msg->file == NULL || strcmp(msg->file, rec->file) != 0) {
		free(msg->file);
		msg->file = xstrdup(rec->file);
	}
	if (maildir_name_parse(name, &parsed) < 0)
		memset(&parsed, 0, sizeof(parsed));
	msg->flags = mbox_flags_from_maildir(&parsed.flags);
	msg->keywords = parsed.flags.keywords;
	if (parsed.has_size)
		msg->size = parsed.size;
	if (parsed.has_vsize)
		msg->vsize = parsed.vsize;
	else if (msg->vsize == 0 && maildir_uidlist_rec_ext_u64(rec, 'W', &v) > 0)
		msg->vsize = v;	/* Dovecot's field for names without ,W= */
	if (maildir_uidlist_rec_ext_u64(rec, MBOX_EXT_MODSEQ, &v) > 0)
		msg->modseq = v;
	if (box->readonly)
		msg->recent = strncmp(rec->file, "new/", 4) == 0;
}

/* A message new to the view: its INTERNALDATE (and size when the name
 * lacks ,S=) need a stat(). 0 when the file is gone meanwhile. */
static int mbox_msg_stat(struct mbox *box, struct mbox_msg *msg)
{
	for (int tries = 0; tries < 3; tries++) {
		char *path = xasprintf("%s/%s", box->path, msg->file);
		const char *base = strchr(msg->file, '/') + 1, *error;
		struct stat st;
		char *found, *b;
		int r = stat(path, &st);

		free(path);
		if (r == 0) {
			msg->internaldate = st.st_mtime;
			if (msg->size == 0)
				msg->size = (uint64_t)st.st_size;
			return 1;
		}
		b = xstrndup(base, strcspn(base, ":"));
		r = mbox_locate(box->path, b, &found, &error);
		free(b);
		if (r <= 0)
			return 0;
		free(msg->file);
		msg->file = found;
	}
	return 0;
}

static size_t mbox_view_find(const struct mbox *box, uint32_t uid)
{
	size_t lo = 0, hi = box->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (box->msgs[mid].uid == uid)
			return mid;
		if (box->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

static void mbox_u32_push(uint32_t **v, size_t *count, uint32_t x)
{
	*v = xreallocarray(*v, *count + 1, sizeof(**v));
	(*v)[(*count)++] = x;
}

/* Remove the messages marked expunged; their EXPUNGE numbers in send
 * order (RFC 3501 7.4.1: each counts the ones before it as gone). */
static void mbox_view_flush(struct mbox *box, struct mbox_changes *ch)
{
	size_t kept = 0, removed = 0;
	bool any = false;

	for (size_t i = 0; i < box->count && !any; i++)
		any = box->msgs[i].expunged;
	if (!any)
		return;
	mbox_view_private(box);
	for (size_t i = 0; i < box->count; i++) {
		if (box->msgs[i].expunged) {
			if (ch != NULL)
				mbox_u32_push(&ch->expunged, &ch->expunged_count,
					      (uint32_t)(i + 1 - removed));
			removed++;
			mbox_msg_free(&box->msgs[i]);
		} else {
			box->msgs[kept++] = box->msgs[i];
		}
	}
	box->count = kept;
}

/* Move new/ messages into cur/ (read-write views only): the view whose
 * rename succeeds has them as \Recent, so exactly one session does.
 * recent[i] is set for list->recs[i]. */
static void mbox_claim_recent(struct mbox *box, struct maildir_uidlist *list, bool *recent)
{
	for (size_t i = 0; i < list->count; i++) {
		struct maildir_uidlist_rec *rec = &list->recs[i];
		const char *error;
		char *moved;
		int r;

		if (strncmp(rec->file, "new/", 4) != 0)
			continue;
		r = maildir_move_to_cur(box->path, rec->file, &moved, &error);
		if (r > 0) {
			recent[i] = true;
		} else if (r == 0 && mbox_locate(box->path, rec->base, &moved, &error) > 0) {
			/* Another session moved it first: not ours. */
		} else {
			continue;	/* gone, or cannot rename: as it was */
		}
		free(rec->file);
		rec->file = moved;
	}
}

/* Bring the view up to list. Vanished messages are marked expunged. */
static void mbox_view_merge(struct mbox *box, const struct maildir_uidlist *list,
			    const bool *recent, struct mbox_changes *ch,
			    uint32_t **changed_uids, size_t *changed_count)
{
	uint32_t last_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	size_t j = 0, old_count = box->count;

	for (size_t i = 0; i < old_count; i++) {
		struct mbox_msg *msg = &box->msgs[i];

		while (j < list->count && list->recs[j].uid < msg->uid)
			j++;
		if (j == list->count || list->recs[j].uid != msg->uid) {
			msg->expunged = true;
			continue;
		}
		unsigned old_flags = msg->flags;
		uint32_t old_keywords = msg->keywords;

		mbox_msg_from_rec(box, msg, &list->recs[j]);
		if (!msg->expunged && (msg->flags != old_flags || msg->keywords != old_keywords))
			mbox_u32_push(changed_uids, changed_count, msg->uid);
	}
	if (box->internal->last_uid > last_uid)
		last_uid = box->internal->last_uid;
	for (j = 0; j < list->count; j++) {
		const struct maildir_uidlist_rec *rec = &list->recs[j];
		struct mbox_msg *msg;

		if (rec->uid <= last_uid)
			continue;
		msg = mbox_view_append(box);
		msg->uid = rec->uid;
		mbox_msg_from_rec(box, msg, rec);
		if (!box->readonly)
			msg->recent = recent[j];
		if (mbox_msg_stat(box, msg) == 0) {
			/* Expunged since the scan: never shown. */
			mbox_msg_free(msg);
			box->count--;
			continue;
		}
		box->internal->last_uid = rec->uid;
		if (ch != NULL)
			ch->exists_changed = true;
	}
}

static bool mbox_keywords_equal(const struct maildir_keywords *a, const struct maildir_keywords *b)
{
	for (int i = 0; i < MAILDIR_KEYWORDS_MAX; i++) {
		if ((a->names[i] == NULL) != (b->names[i] == NULL) ||
		    (a->names[i] != NULL && strcmp(a->names[i], b->names[i]) != 0))
			return false;
	}
	return true;
}

static int mbox_sync_full(struct mbox *box, struct mbox_changes *ch, const char **error_r)
{
	struct maildir_uidlist list;
	struct maildir_keywords kw;
	uint32_t *changed_uids = NULL;
	size_t changed_count = 0;
	bool *recent;

	maildir_uidlist_init(&list);
	if (mbox_uidlist_sync(box->path, &list, error_r) < 0) {
		maildir_uidlist_free(&list);
		return -1;
	}
	if (box->uidvalidity != 0 && list.uidvalidity != box->uidvalidity) {
		/* The uidlist was lost and rebuilt: every UID the client
		 * holds is void; the session must close the mailbox. */
		maildir_uidlist_free(&list);
		*error_r = "UIDVALIDITY changed";
		return -1;
	}
	box->uidvalidity = list.uidvalidity;
	recent = xcalloc(list.count + 1, sizeof(*recent));
	if (!box->readonly)
		mbox_claim_recent(box, &list, recent);
	mbox_view_merge(box, &list, recent, ch, &changed_uids, &changed_count);
	box->uidnext = list.next_uid;
	box->highest_modseq = mbox_list_highest_modseq(&list);
	free(recent);
	maildir_uidlist_free(&list);

	maildir_keywords_init(&kw);
	if (maildir_keywords_read(box->path, &kw, error_r) >= 0) {
		if (!mbox_keywords_equal(&kw, &box->keywords) && ch != NULL)
			ch->keywords_changed = true;
		maildir_keywords_free(&box->keywords);
		box->keywords = kw;
	}
	if (ch != NULL) {
		ch->flag_changed = changed_uids;
		ch->flag_changed_count = changed_count;
	} else {
		free(changed_uids);
	}
	return 0;
}

/* Turn the UIDs in ch->flag_changed into sequence numbers of the view
 * as it is now (after expunges); vanished ones are left out. */
static void mbox_changes_to_seqs(struct mbox *box, struct mbox_changes *ch)
{
	size_t n = 0;

	for (size_t i = 0; i < ch->flag_changed_count; i++) {
		size_t idx = mbox_view_find(box, ch->flag_changed[i]);

		if (idx != (size_t)-1 && !box->msgs[idx].expunged)
			ch->flag_changed[n++] = (uint32_t)(idx + 1);
	}
	ch->flag_changed_count = n;
	if (n == 0) {
		free(ch->flag_changed);
		ch->flag_changed = NULL;
	}
}

/* mbox_sync is cheap when nothing changed: it compares the mtimes (with
 * nanoseconds), sizes and inodes of new/, cur/, dovecot-uidlist and
 * dovecot-keywords with those seen before the last full sync. Every
 * change to a Maildir changes one of them (a delivery or a move renames
 * into new/ or cur/, a flag change renames in cur/, an expunge unlinks,
 * a UID assignment replaces the uidlist). But a time stamp has a
 * granularity (a second on some file systems and NFS servers): a change
 * made in the same tick as the last one, after we looked, would leave
 * the mtime as it was. So the stamps are trusted only when every mtime
 * was at least MBOX_RACY_SECS older than the moment we took them (the
 * "racy timestamp" rule, as git uses for its index); a later change then
 * necessarily moves the mtime. Otherwise the next sync is a full one. */
int mbox_sync(struct mbox *box, bool expunge_ok, struct mbox_changes *ch,
	      const char **error_r)
{
	struct mbox_internal *in = box->internal;
	struct mbox_stamp now[MBOX_STAMP_COUNT];
	struct timespec t0;
	bool same = in->stamps_valid, racy = false;

	if (ch != NULL)
		memset(ch, 0, sizeof(*ch));
	clock_gettime(CLOCK_REALTIME, &t0);
	for (int i = 0; i < MBOX_STAMP_COUNT; i++) {
		mbox_stamp_take(box->path, i, &now[i]);
		same = same && mbox_stamp_equal(&now[i], &in->stamps[i]);
		if (now[i].exists && now[i].mtime.tv_sec + MBOX_RACY_SECS >= t0.tv_sec)
			racy = true;
	}
	if (!same) {
		mbox_view_private(box);
		if (mbox_sync_full(box, ch, error_r) < 0) {
			in->stamps_valid = false;
			if (ch != NULL)
				mbox_changes_free(ch);
			return -1;
		}
		memcpy(in->stamps, now, sizeof(now));
		in->stamps_valid = !racy;
	}
	if (ch != NULL && in->keywords_pending) {
		ch->keywords_changed = true;
		in->keywords_pending = false;
	}
	if (expunge_ok)
		mbox_view_flush(box, ch);
	if (ch != NULL)
		mbox_changes_to_seqs(box, ch);
	mbox_view_share(box);
	mbox_view_retired_free(box);
	return 0;
}

void mbox_changes_free(struct mbox_changes *ch)
{
	free(ch->expunged);
	free(ch->flag_changed);
	memset(ch, 0, sizeof(*ch));
}

/* ---- open, close, status ---- */

int mbox_open(struct mbox_user *u, const char *name, bool readonly,
	      struct mbox **box_r, const char **error_r)
{
	struct mbox *box;
	struct stat st;
	char *path, *cur;
	int r;

	path = mbox_folder_path(u, name, error_r);
	if (path == NULL)
		return 0;
	cur = xasprintf("%s/cur", path);
	r = stat(cur, &st);
	free(cur);
	if (r < 0 || !S_ISDIR(st.st_mode)) {
		free(path);
		if (r < 0 && errno != ENOENT && errno != ENOTDIR) {
			*error_r = "cannot open the folder";
			return -1;
		}
		*error_r = "no such folder";
		return 0;
	}
	/* A folder made by hand may lack new/ or tmp/. */
	if (!readonly && maildir_create(path, error_r) < 0) {
		free(path);
		return -1;
	}
	box = xcalloc(1, sizeof(*box));
	box->user = u;
	box->name = xstrdup(name);
	box->path = path;
	box->readonly = readonly;
	box->internal = xcalloc(1, sizeof(*box->internal));
	maildir_keywords_init(&box->keywords);
	if (mbox_sync(box, true, NULL, error_r) < 0) {
		mbox_close(&box);
		return -1;
	}
	*box_r = box;
	return 1;
}

void mbox_close(struct mbox **boxp)
{
	struct mbox *box = *boxp;

	if (box == NULL)
		return;
	*boxp = NULL;
	if (box->internal != NULL && box->internal->snap != NULL)
		mbox_snap_release(box->internal->snap);
	else
		mbox_msgs_free(box->msgs, box->count);
	if (box->internal != NULL)
		mbox_view_retired_free(box);
	maildir_keywords_free(&box->keywords);
	free(box->internal);
	free(box->name);
	free(box->path);
	free(box);
}

void mbox_get_status(struct mbox *box, struct mbox_status *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	st_r->messages = (uint32_t)box->count;
	st_r->uidnext = box->uidnext;
	st_r->uidvalidity = box->uidvalidity;
	st_r->highest_modseq = box->highest_modseq;
	for (size_t i = 0; i < box->count; i++) {
		const struct mbox_msg *msg = &box->msgs[i];

		if (msg->recent)
			st_r->recent++;
		if (!(msg->flags & IMAP_FLAG_SEEN)) {
			st_r->unseen++;
			if (st_r->first_unseen == 0)
				st_r->first_unseen = (uint32_t)(i + 1);
		}
		/* The CRLF size; the size on disk for the rare file whose
		 * name and uidlist record do not tell it. */
		st_r->size += msg->vsize != 0 ? msg->vsize : msg->size;
	}
}

int mbox_status(struct mbox_user *u, const char *name, struct mbox_status *st_r,
		const char **error_r)
{
	struct mbox *box;
	int ret = mbox_open(u, name, true, &box, error_r);

	if (ret <= 0)
		return ret;
	mbox_get_status(box, st_r);
	mbox_close(&box);
	return 1;
}
