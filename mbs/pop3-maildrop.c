/* The POP3/POP2 maildrop over the mailbox layer (pop3-maildrop.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dotlock.h"
#include "imap-args.h"
#include "maildir.h"
#include "pop3-maildrop.h"
#include "pop3-parse.h"
#include "xalloc.h"

/* The CRLF size of one message, read from its file when the name gives
 * no ,W= (mail written by other programs). 1, 0 expunged meanwhile, -1. */
static int pop3_msg_size(struct mbox *box, size_t i, uint64_t *size_r, const char **error_r)
{
	char chunk[65536];
	uint64_t size = 0;
	bool cr = false;
	ssize_t n;
	int fd, r;

	if (box->msgs[i].vsize != 0) {
		*size_r = box->msgs[i].vsize;
		return 1;
	}
	r = mbox_msg_open(box, i, &fd, error_r);
	if (r <= 0)
		return r;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		size += pop3_crlf_size(chunk, (size_t)n, &cr);
	close(fd);
	if (n < 0) {
		*error_r = "cannot read a message";
		return -1;
	}
	mbox_msg_set_vsize(box, i, size);
	*size_r = size;
	return 1;
}

/* Every message's size; a message expunged by another session meanwhile
 * makes us sync and start again (a few times, as Dovecot does). */
static int pop3_maildrop_sizes(struct pop3_maildrop *md, const char **error_r)
{
	for (int tries = 0; tries < 3; tries++) {
		bool gone = false;

		free(md->msgs);
		md->msgs = xcalloc(md->box->count + 1, sizeof(*md->msgs));
		md->count = md->box->count;
		md->total_size = 0;
		for (size_t i = 0; i < md->count && !gone; i++) {
			int r = pop3_msg_size(md->box, i, &md->msgs[i].size, error_r);

			if (r < 0)
				return -1;
			gone = r == 0;
			md->total_size += md->msgs[i].size;
		}
		if (!gone)
			return 1;
		if (mbox_sync(md->box, true, NULL, error_r) < 0)
			return -1;
	}
	*error_r = "messages keep getting expunged";
	return -1;
}

static int pop3_maildrop_lock(struct mbox_user *u, const struct pop3_maildrop_settings *set,
			      struct dotlock **lock_r, const char **error_r)
{
	struct dotlock_settings ds = { set->lock_timeout_msecs, POP3_LOCK_STALE_SECS };
	char *path = xasprintf("%s/%s", u->root, POP3_LOCK_NAME);
	int r = dotlock_create(path, &ds, lock_r, error_r);

	free(path);
	return r;
}

/* The directories above a first-time Maildir (<mail_root>/<domain>/),
 * as the mta makes them for a first delivery. */
static void pop3_mkdir_parents(const char *maildir)
{
	char *path = xstrdup(maildir);

	for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (p[1] != '\0')
			(void)mkdir(path, 0700);
		*p = '/';
	}
	free(path);
}

int pop3_maildrop_open(struct mbox_user *u, const struct pop3_maildrop_settings *set,
		       struct pop3_maildrop **md_r, const char **error_r)
{
	struct pop3_maildrop *md;
	struct dotlock *lock = NULL;
	struct mbox *box = NULL;
	int r;

	/* A new account has no Maildir until its first delivery. */
	pop3_mkdir_parents(u->root);
	if (maildir_create(u->root, error_r) < 0)
		return -1;
	if (set->lock_session) {
		r = pop3_maildrop_lock(u, set, &lock, error_r);
		if (r <= 0) {
			if (r == 0)
				*error_r = "locked by another POP3 session";
			return r;
		}
	}
	r = mbox_open(u, "INBOX", false, &box, error_r);
	if (r <= 0) {
		const char *e;

		if (lock != NULL)
			(void)dotlock_release(&lock, &e);
		if (r == 0)
			*error_r = "the INBOX cannot be opened";
		return -1;
	}
	md = xcalloc(1, sizeof(*md));
	md->box = box;
	md->lock = lock;
	md->uidvalidity = box->uidvalidity;
	if (pop3_maildrop_sizes(md, error_r) < 0) {
		pop3_maildrop_close(&md);
		return -1;
	}
	*md_r = md;
	return 1;
}

int pop3_maildrop_touch(struct pop3_maildrop *md, const char **error_r)
{
	if (md->lock == NULL)
		return 1;
	return dotlock_touch(md->lock, error_r);
}

void pop3_maildrop_close(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;
	const char *error;

	if (md == NULL)
		return;
	*mdp = NULL;
	if (md->lock != NULL)
		(void)dotlock_release(&md->lock, &error);
	mbox_close(&md->box);
	free(md->msgs);
	free(md);
}

struct pop3_msg *pop3_maildrop_msg(struct pop3_maildrop *md, uint32_t n)
{
	if (n == 0 || n > md->count || md->msgs[n - 1].deleted)
		return NULL;
	return &md->msgs[n - 1];
}

void pop3_maildrop_uidl(const struct pop3_maildrop *md, uint32_t n, char out[POP3_UIDL_LEN + 1])
{
	/* Dovecot's var_expand prints %X in lower case: Debian's dovecot
	 * 2.3 gives "000000016b15e90d" for UID 1, UIDVALIDITY 0x6B15E90D. */
	snprintf(out, POP3_UIDL_LEN + 1, "%08x%08x", (unsigned)md->box->msgs[n - 1].uid,
		 (unsigned)md->uidvalidity);
}

void pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t n)
{
	struct pop3_msg *msg = pop3_maildrop_msg(md, n);

	if (msg == NULL)
		return;
	msg->deleted = true;
	md->deleted_count++;
	md->deleted_size += msg->size;
}

void pop3_maildrop_reset(struct pop3_maildrop *md)
{
	for (size_t i = 0; i < md->count; i++)
		md->msgs[i].deleted = false;
	md->deleted_count = 0;
	md->deleted_size = 0;
}

int pop3_maildrop_open_msg(struct pop3_maildrop *md, uint32_t n, int *fd_r, const char **error_r)
{
	if (n == 0 || n > md->count) {
		*error_r = "no such message";
		return -1;
	}
	return mbox_msg_open(md->box, n - 1, fd_r, error_r);
}

int pop3_maildrop_commit(struct pop3_maildrop *md, bool mark_seen, size_t *removed_r,
			 const char **error_r)
{
	size_t *idx = xcalloc(md->count + 1, sizeof(*idx)), n = 0;
	int ret = 1;

	*removed_r = 0;
	if (mark_seen) {
		for (size_t i = 0; i < md->count; i++) {
			if (md->msgs[i].retrieved && !md->msgs[i].deleted &&
			    !(md->box->msgs[i].flags & IMAP_FLAG_SEEN))
				idx[n++] = i;
		}
		if (n > 0 && mbox_store(md->box, idx, n, MBOX_STORE_ADD, IMAP_FLAG_SEEN,
					NULL, 0, error_r) < 0)
			ret = -1;
	}
	n = 0;
	for (size_t i = 0; i < md->count; i++) {
		if (md->msgs[i].deleted)
			idx[n++] = i;
	}
	if (ret > 0 && n > 0) {
		/* The flag on disk is what EXPUNGE goes by: set it, then
		 * remove exactly these (others' \Deleted are not ours). */
		if (mbox_store(md->box, idx, n, MBOX_STORE_ADD, IMAP_FLAG_DELETED,
			       NULL, 0, error_r) < 0 ||
		    mbox_expunge(md->box, idx, n, NULL, error_r) < 0)
			ret = -1;
		else
			*removed_r = n;
	}
	free(idx);
	return ret;
}
