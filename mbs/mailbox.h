#ifndef MR_MBS_MAILBOX_H
#define MR_MBS_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "maildir.h"
#include "maildir-quota.h"

struct buf;

/* The mailbox layer: a user's Maildir++ store as IMAP and POP3 see it,
 * on the primitives of lib/maildir*.c and the storage contract in
 * docs/storage.md. Every function blocks on the file system: sessions call
 * them from worker threads, one call at a time per struct mbox. Nothing is
 * cached across calls without revalidation: another mbs process (on this
 * host or another sharing NFS) or the mta may change the store at any
 * moment, and every change here is made so that they can.
 *
 * Mailbox names are the stored form that imap_mailbox_name_check() gives
 * (mUTF-7, "." between levels, "INBOX" upper case); "INBOX" is the
 * Maildir root, "A.B" is the folder directory "<root>/.A.B". */

/* The user's store. */
struct mbox_user {
	char *root;                          /* Maildir root (INBOX), absolute */
	struct maildir_quota_limits quota;   /* from authd; 0: none */
};

/* ---- folders ---- */

enum mbox_folder_flags {
	MBOX_FOLDER_NOSELECT = 0x01,     /* a level that exists only as a parent */
	MBOX_FOLDER_CHILDREN = 0x02,
	MBOX_FOLDER_SUBSCRIBED = 0x04,
	/* Subscribed, but no folder and no children by that name (only with
	 * subscribed_only; RFC 5258 \NonExistent). */
	MBOX_FOLDER_NONEXISTENT = 0x08,
	/* RFC 6154, from the name (Dovecot's default names). */
	MBOX_FOLDER_SENT = 0x10,
	MBOX_FOLDER_DRAFTS = 0x20,
	MBOX_FOLDER_TRASH = 0x40,
	MBOX_FOLDER_JUNK = 0x80,
	MBOX_FOLDER_ARCHIVE = 0x100,
};

struct mbox_folder {
	char *name;          /* stored form, "INBOX" first */
	unsigned flags;      /* enum mbox_folder_flags */
};

struct mbox_folder_list {
	struct mbox_folder *v;   /* INBOX first, then by name */
	size_t count;
};

/* Every folder of the store (and parents implied by deeper folders, as
 * NOSELECT), with subscription and special-use flags. Subscribed names
 * without a folder are listed with `subscribed_only` (LSUB). */
int mbox_folder_list(const struct mbox_user *u, bool subscribed_only,
		     struct mbox_folder_list *list_r, const char **error_r);
void mbox_folder_list_free(struct mbox_folder_list *list);

/* Create the special-use folders (Sent, Drafts, Trash, Junk, Archive) and
 * subscribe them when the store has none of its own yet; INBOX too. */
int mbox_user_init(const struct mbox_user *u, const char **error_r);

/* 1 done, 0 refused (*error_r is the client's text: exists, no such
 * folder, INBOX cannot be deleted...), -1 error. */
int mbox_folder_create(const struct mbox_user *u, const char *name, const char **error_r);
/* RFC 3501 6.3.4: a folder with children is emptied and kept as a
 * \Noselect parent rather than removed. */
int mbox_folder_delete(const struct mbox_user *u, const char *name, const char **error_r);
/* Children move along; renaming INBOX moves its messages into a new
 * folder and leaves INBOX empty (RFC 3501 6.3.5). */
int mbox_folder_rename(const struct mbox_user *u, const char *from, const char *to,
		       const char **error_r);
/* The subscriptions file (Dovecot's format: "V\t2\n\n" then a name per
 * line), written by rename. */
int mbox_subscribe(const struct mbox_user *u, const char *name, bool on, const char **error_r);
/* The Maildir directory of a folder (allocated); NULL with error_r for a
 * name that is not a valid stored name. Never a path outside u->root. */
char *mbox_folder_path(const struct mbox_user *u, const char *name, const char **error_r);

/* ---- an open folder: one session's view ---- */

/* Flags as IMAP knows them: enum imap_system_flag bits (imap-args.h),
 * mapped to and from the Maildir letters S R F T D; keywords are
 * dovecot-keywords letters a-z (bit 0 = 'a'). */
struct mbox_msg {
	uint32_t uid;
	unsigned flags;          /* enum imap_system_flag */
	uint32_t keywords;
	bool recent;             /* this view moved it out of new/ */
	bool expunged;           /* gone from disk, not yet reported */
	uint64_t modseq;         /* last change, see docs/storage.md */
	uint64_t size;           /* bytes on disk */
	uint64_t vsize;          /* with CRLF line ends; 0 until known */
	time_t internaldate;     /* file mtime (APPEND sets it) */
	char *file;              /* "cur/<name>" or "new/<name>" */
};

struct mbox {
	struct mbox_user *user;  /* not owned */
	char *name;              /* stored form */
	char *path;              /* its Maildir directory */
	bool readonly;           /* EXAMINE, POP3 with locks elsewhere */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highest_modseq;
	/* Ascending by UID: msgs[i] has sequence number i + 1. Read-only
	 * outside mbs/mailbox*.c (it may be shared by several views). */
	struct mbox_msg *msgs;
	size_t count;
	struct maildir_keywords keywords;
	struct mbox_internal *internal;   /* private to mbs/mailbox*.c */
};

/* What a sync found since the last one: what a session must tell its
 * client (RFC 3501 7.3.1, 7.4.1). */
struct mbox_changes {
	/* Sequence numbers to send as EXPUNGE, in the order to send them
	 * (each one counts the ones before it as gone). */
	uint32_t *expunged;
	size_t expunged_count;
	/* Sequence numbers (after the expunges) whose flags changed. */
	uint32_t *flag_changed;
	size_t flag_changed_count;
	bool exists_changed;     /* send EXISTS (and RECENT) */
	bool keywords_changed;   /* send FLAGS and PERMANENTFLAGS */
};

void mbox_changes_free(struct mbox_changes *ch);

/* Open a folder (sync included). 1 open, 0 no such folder (or \Noselect),
 * -1 error. */
int mbox_open(struct mbox_user *u, const char *name, bool readonly,
	      struct mbox **box_r, const char **error_r);
void mbox_close(struct mbox **box);

/* Bring the view up to date with the disk (uidlist sync, under its
 * dotlock when the uidlist must change; new/ -> cur/ for a read-write
 * view, setting recent). When
 * `expunge_ok` is false (during FETCH, STORE, SEARCH: RFC 3501 7.4.1)
 * vanished messages stay in the view with `expunged` set and are reported
 * by a later sync. ch may be NULL. */
int mbox_sync(struct mbox *box, bool expunge_ok, struct mbox_changes *ch,
	      const char **error_r);

/* Counts for STATUS and SELECT. */
struct mbox_status {
	uint32_t messages, recent, unseen, uidnext, uidvalidity;
	uint32_t first_unseen;   /* sequence number, 0: none */
	uint64_t size;           /* STATUS=SIZE: sum of vsizes */
	uint64_t highest_modseq;
};

void mbox_get_status(struct mbox *box, struct mbox_status *st_r);
/* STATUS without selecting (opens, syncs and closes a read-only view). */
int mbox_status(struct mbox_user *u, const char *name, struct mbox_status *st_r,
		const char **error_r);

/* ---- messages ---- */

/* Read message i (0-based index into msgs) into out (appended; bounded by
 * out's limit). A file renamed meanwhile by another writer is found again
 * by its base name. 1 read, 0 expunged meanwhile, -1 error. Sets
 * msgs[i].vsize when it was unknown. */
int mbox_msg_read(struct mbox *box, size_t i, struct buf *out, const char **error_r);
/* The same as an open file descriptor (for large bodies and POP3 RETR). */
int mbox_msg_open(struct mbox *box, size_t i, int *fd_r, const char **error_r);
/* Record msgs[i].vsize once counted from the text. box->msgs may be
 * shared with other sessions' views of the folder (read-only): set it
 * only through this. */
void mbox_msg_set_vsize(struct mbox *box, size_t i, uint64_t vsize);

enum mbox_store_mode {
	MBOX_STORE_REPLACE,
	MBOX_STORE_ADD,
	MBOX_STORE_REMOVE,
};

/* STORE: change the flags and keywords (names, assigned letters in
 * dovecot-keywords as needed) of the messages whose indexes are in idx.
 * Bumps their modseq. A message expunged meanwhile is skipped. When the
 * 26 keyword letters are used up, the keywords that do not fit are
 * refused: 0 and *error_r. 1 done, -1 error. */
int mbox_store(struct mbox *box, const size_t *idx, size_t n, enum mbox_store_mode mode,
	       unsigned flags, const char *const *keywords, size_t keyword_count,
	       const char **error_r);

/* EXPUNGE: remove the messages with \Deleted (only those whose index is
 * in idx when idx is not NULL: UID EXPUNGE), durably (directory fsync)
 * before returning, updating maildirsize. The flags on disk decide: a
 * \Deleted another session set counts, one it cleared does not. The view
 * is synced afterwards: ch gets the EXPUNGE numbers to send. 1 done, -1
 * error. */
int mbox_expunge(struct mbox *box, const size_t *idx, size_t n, struct mbox_changes *ch,
		 const char **error_r);

/* APPEND into folder `name`: written, fsync'd and renamed into cur/ (with
 * flags) before returning, then given its UID. internaldate 0: now.
 * Quota is checked first: 0 with *error_r "[OVERQUOTA] ..." when it would
 * not fit; 0 with "[TRYCREATE] ..." when the folder does not exist.
 * *uid_r is 0 in the rare case that another session expunged the message
 * before it got its UID. Keywords past the 26 letters are left out. */
struct mbox_append {
	unsigned flags;
	const char *const *keywords;
	size_t keyword_count;
	time_t internaldate;
};

int mbox_append(struct mbox_user *u, const char *name, const void *data, size_t len,
		const struct mbox_append *a, uint32_t *uidvalidity_r, uint32_t *uid_r,
		const char **error_r);

/* COPY (and MOVE's first half): the messages at idx into folder `name`
 * (hard links where possible, copies otherwise), flags kept, durable
 * before returning. src_uids_r/dst_uids_r (allocated, n entries, in
 * order; a message expunged meanwhile is left out and n_r is smaller)
 * give COPYUID. Same refusals as mbox_append; a COPY that fails leaves
 * the target as it was (RFC 3501 6.4.7). */
int mbox_copy(struct mbox *box, const size_t *idx, size_t n, const char *name,
	      uint32_t *uidvalidity_r, uint32_t **src_uids_r, uint32_t **dst_uids_r,
	      size_t *n_r, const char **error_r);

/* Current quota usage and limits (maildirsize, recalculated when due). */
int mbox_quota(struct mbox_user *u, struct maildir_quota *q_r, const char **error_r);

#endif
