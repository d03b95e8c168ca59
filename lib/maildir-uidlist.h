#ifndef MR_MAILDIR_UIDLIST_H
#define MR_MAILDIR_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct dotlock;
struct dotlock_settings;

/* dovecot-uidlist, version 3: the UIDs that IMAP and POP3 clients cache.
 *
 *	3 V<uidvalidity> N<nextuid> G<guid> [other header fields]
 *	<uid> [extension fields, e.g. W<vsize> S<size> G<guid>] :<base name>
 *
 * A message keeps its UID while it moves new/ -> cur/ or changes flags:
 * it is matched by its base name (the part before ':'). */
struct maildir_uidlist_rec {
	uint32_t uid;
	char *ext;		/* extension fields as read (kept), or NULL */
	char *base;		/* base name as stored */
	char *file;		/* after a sync: "new/..." or "cur/..." where it is now */
};

struct maildir_uidlist {
	uint32_t uidvalidity;
	uint32_t next_uid;
	char *guid;		/* mailbox GUID (hex), or NULL */
	char *extra_header;	/* other header fields, written back as read */
	struct maildir_uidlist_rec *recs;	/* ascending by uid */
	size_t count, alloc;
	unsigned int skipped_lines;	/* malformed record lines dropped */
	unsigned int dropped;		/* records the last refresh dropped: files gone */
};

/* Longest line the parser takes; longer record lines are skipped. */
#define MAILDIR_UIDLIST_LINE_MAX 8192

void maildir_uidlist_init(struct maildir_uidlist *list);
void maildir_uidlist_free(struct maildir_uidlist *list);

/* Incremental parser: feed any pieces, then finish. Malformed record lines
 * (bad UID, UIDs not ascending, no ':') are skipped and counted; a bad
 * header makes finish fail. next_uid is raised above every UID seen so a
 * UID is never handed out twice. */
struct maildir_uidlist_parser;
struct maildir_uidlist_parser *maildir_uidlist_parser_new(struct maildir_uidlist *list);
void maildir_uidlist_parser_feed(struct maildir_uidlist_parser *p, const void *data, size_t len);
/* 0: ok, -1: bad or missing header. Frees the parser. */
int maildir_uidlist_parser_finish(struct maildir_uidlist_parser **p, const char **error_r);
int maildir_uidlist_parse(struct maildir_uidlist *list, const void *data, size_t len,
			  const char **error_r);

/* 1: read, 0: no file, -1: error (unreadable or bad header). */
int maildir_uidlist_read(const char *maildir, struct maildir_uidlist *list,
			 const char **error_r);
void maildir_uidlist_format(const struct maildir_uidlist *list, struct buf *out);
/* Write by rename(); the caller holds dovecot-uidlist.lock. */
int maildir_uidlist_write(const char *maildir, const struct maildir_uidlist *list,
			  const char **error_r);
/* The record with uid, or NULL. */
const struct maildir_uidlist_rec *
maildir_uidlist_lookup(const struct maildir_uidlist *list, uint32_t uid);

/* Bring the uidlist up to date with new/ and cur/: under the dotlock,
 * re-read the file, give new messages UIDs from next_uid (in file name
 * order), drop records whose files are gone, write it back when changed.
 * A Maildir without a uidlist gets UIDVALIDITY = now. On return list
 * holds every message with its uid and current file. 0 ok, -1 error. */
int maildir_uidlist_sync(const char *maildir, const struct dotlock_settings *set,
			 struct maildir_uidlist *list, const char **error_r);

/* The same in steps, for callers that change records under the lock
 * (flags, modification sequences, expunges). lock: 0 locked, -1 error
 * (also when still held by someone else after the timeout). */
int maildir_uidlist_lock(const char *maildir, const struct dotlock_settings *set,
			 struct dotlock **lock_r, const char **error_r);
/* -1 when the lock was no longer ours (taken for stale by someone). */
int maildir_uidlist_unlock(struct dotlock **lock, const char **error_r);
/* With the lock held: what maildir_uidlist_sync does, without writing.
 * A record whose file two scans in a row do not find is dropped.
 * *changed_r: the file must be written (maildir_uidlist_write). */
int maildir_uidlist_refresh_locked(const char *maildir, struct maildir_uidlist *list,
				   bool *changed_r, const char **error_r);
/* Add a record for base (the part before ':') with the next UID. */
struct maildir_uidlist_rec *
maildir_uidlist_add(struct maildir_uidlist *list, const char *base);
/* The record whose base name is base's (before ':'), or NULL. Linear. */
struct maildir_uidlist_rec *
maildir_uidlist_find_base(const struct maildir_uidlist *list, const char *base);

/* Extension fields ("<key><value>", key 'A'-'Z'; Dovecot keeps fields it
 * does not know). The value of key's field (not NUL-terminated, *len_r
 * bytes) or NULL. */
const char *maildir_uidlist_rec_ext(const struct maildir_uidlist_rec *rec, char key,
				    size_t *len_r);
/* 1 and *value_r when key's field is a decimal number, 0 otherwise. */
int maildir_uidlist_rec_ext_u64(const struct maildir_uidlist_rec *rec, char key,
				uint64_t *value_r);
/* Set (value non-NULL, without spaces) or remove key's field. */
void maildir_uidlist_rec_ext_set(struct maildir_uidlist_rec *rec, char key, const char *value);
/* The same for header fields other than V, N and G. */
int maildir_uidlist_hdr_ext_u64(const struct maildir_uidlist *list, char key, uint64_t *value_r);
void maildir_uidlist_hdr_ext_set(struct maildir_uidlist *list, char key, const char *value);

#endif
