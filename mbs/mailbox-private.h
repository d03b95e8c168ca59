#ifndef MR_MBS_MAILBOX_PRIVATE_H
#define MR_MBS_MAILBOX_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "dotlock.h"
#include "maildir.h"
#include "maildir-uidlist.h"
#include "mailbox.h"

/* What the mailbox*.c files share; not for the IMAP or POP3 code. */

/* dovecot-uidlist fields of our own (docs/storage.md, "Modification
 * sequences"). Dovecot uses S W P O G on records and V N G P in the
 * header, and writes back the fields it does not know. */
#define MBOX_EXT_MODSEQ 'M'       /* record: modseq; header: highest modseq */
#define MBOX_EXT_FLAGS 'F'        /* record: flag letters at that modseq */

/* Changes are noticed through the mtimes of these (see mailbox.c). */
enum {
	MBOX_STAMP_NEW,
	MBOX_STAMP_CUR,
	MBOX_STAMP_UIDLIST,
	MBOX_STAMP_KEYWORDS,
	MBOX_STAMP_COUNT
};

struct mbox_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct mbox_snap;

struct mbox_internal {
	/* box->msgs is this shared snapshot's array (read-only) when not
	 * NULL; see mbox_view_private(). */
	struct mbox_snap *snap;
	/* The snapshot the view left last: kept until the end of the next
	 * mbox_sync, so a pointer into box->msgs taken before a read made
	 * the view private stays valid until then. */
	struct mbox_snap *retired;
	struct mbox_stamp stamps[MBOX_STAMP_COUNT];
	/* The stamps may be trusted to tell "nothing changed". */
	bool stamps_valid;
	size_t capacity;          /* of box->msgs */
	uint32_t last_uid;        /* highest UID the view has held */
	/* STORE added keywords to box->keywords: the next sync reports
	 * keywords_changed (FLAGS) although it finds nothing new. */
	bool keywords_pending;
};

extern const struct dotlock_settings mbox_lock_set;

/* Sessions of one process whose views of a folder hold the same messages
 * share one array of them (an idle session then costs no copy of its
 * mailbox). A shared array is never written: anything that changes
 * box->msgs (a message's file, flags, vsize, the list itself) calls this
 * first, which gives the view its own copy (the shared one stays
 * readable until the view's next mbox_sync). */
void mbox_view_private(struct mbox *box);

/* Stored name checks: "INBOX", or a Maildir++ folder name made of
 * printable ASCII (mUTF-7), levels separated by '.', none empty, none
 * "." or "..", no '/', no control bytes, at most 254 bytes. */
bool mbox_name_valid(const char *name);

/* Flag letters <-> IMAP: S R F T D; P and letters we do not know stay in
 * the Maildir flags untouched. */
unsigned mbox_flags_from_maildir(const struct maildir_flags *mf);
void mbox_flags_to_maildir(unsigned imap_flags, uint32_t keywords, struct maildir_flags *mf);

/* The flag letters of a file name ("" when it has no ":2,"). */
const char *mbox_file_info(const char *file);

/* Under the uidlist lock: re-read, scan, give new files UIDs, keep the
 * modseq fields up to date (a new highest modseq for new records, for
 * records whose flags changed behind our back, and for records dropped).
 * *changed_r: the list must be written. */
int mbox_uidlist_refresh(const char *maildir, struct maildir_uidlist *list, bool *changed_r,
			 const char **error_r);
/* Set a record's modseq and flag letters from its current file. */
void mbox_rec_set_modseq(struct maildir_uidlist_rec *rec, uint64_t modseq);
uint64_t mbox_list_highest_modseq(const struct maildir_uidlist *list);
void mbox_list_set_highest_modseq(struct maildir_uidlist *list, uint64_t modseq);
/* Write when changed, release the lock. */
int mbox_uidlist_finish(const char *maildir, struct dotlock **lock, struct maildir_uidlist *list,
			bool changed, const char **error_r);

/* Find the current file ("new/..." or "cur/...") of the message with this
 * base name: a writer may have renamed it (flag change, new/ -> cur/).
 * Two scans, so a rename during the first cannot hide it. 1 found
 * (*file_r allocated), 0 gone (expunged), -1 error. */
int mbox_locate(const char *maildir, const char *base, char **file_r, const char **error_r);

/* The keyword letters for names in maildir's dovecot-keywords (assigned
 * as needed). Names that no longer fit (26 letters taken) are left out
 * and counted in *dropped_r. */
int mbox_keywords_assign(const char *maildir, struct maildir_keywords *kw,
			 const char *const *names, size_t count, uint32_t *keywords_r,
			 size_t *dropped_r, const char **error_r);

/* Quota of the whole store: 1 fits (or no limits), 0 over ("[OVERQUOTA]"
 * in *error_r), -1 error. */
int mbox_quota_check(const struct mbox_user *u, uint64_t bytes, uint64_t count,
		     const char **error_r);

/* Count LF not preceded by CR, for the CRLF size. */
uint64_t mbox_vsize(const char *data, size_t len);

#endif
