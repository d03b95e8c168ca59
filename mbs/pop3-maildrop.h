#ifndef MR_MBS_POP3_MAILDROP_H
#define MR_MBS_POP3_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailbox.h"

/* The POP3 (and POP2) maildrop: the user's INBOX as it was at login,
 * RFC 1939 4. The message list, numbers and sizes stay fixed for the
 * session; DELE only marks, and the marks are applied in the UPDATE state
 * (QUIT), durably, through the mailbox layer. A session that ends any
 * other way changes nothing. Functions that touch the file system block:
 * sessions call them on a worker; the others are plain memory. */

/* The session lock, Dovecot's name and place (the Maildir root) so that
 * a Dovecot with pop3_lock_session = yes and Mailroom exclude each other:
 * a link()-based dotlock, safe across hosts on NFS. */
#define POP3_LOCK_NAME "dovecot-pop3-session"   /* + ".lock" */
/* Dovecot's stale timeout for it; we refresh it at half that. */
#define POP3_LOCK_STALE_SECS 300

/* Dovecot's default pop3_uidl_format %08Xu%08Xv: UID and UIDVALIDITY
 * in 16 hex digits, lower case as Dovecot prints them. */
#define POP3_UIDL_LEN 16

struct pop3_maildrop_settings {
	bool lock_session;            /* [IN-USE] for a second session */
	unsigned lock_timeout_msecs;  /* wait this long for the lock */
};

struct pop3_msg {
	uint64_t size;        /* octets in a RETR reply (CRLF line ends) */
	bool deleted;         /* DELE'd in this session */
	bool retrieved;       /* RETR'd in this session: \Seen at QUIT */
};

struct pop3_maildrop {
	struct mbox *box;
	struct dotlock *lock;         /* NULL without lock_session */
	uint32_t uidvalidity;
	size_t count;                 /* box->msgs[i] is message i + 1 */
	struct pop3_msg *msgs;
	uint64_t total_size;
	size_t deleted_count;
	uint64_t deleted_size;
};

/* Lock and open the INBOX of u (created when missing) and learn every
 * message's size. 1 open, 0 locked by another session, -1 error. */
int pop3_maildrop_open(struct mbox_user *u, const struct pop3_maildrop_settings *set,
		       struct pop3_maildrop **md_r, const char **error_r);
/* Keep the session lock from looking stale. 1 done, 0 the lock is no
 * longer ours, -1 error. */
int pop3_maildrop_touch(struct pop3_maildrop *md, const char **error_r);
/* Release the lock and free; nothing is changed in the store. */
void pop3_maildrop_close(struct pop3_maildrop **md);

/* Message number n (1-based) when it exists and is not deleted. */
struct pop3_msg *pop3_maildrop_msg(struct pop3_maildrop *md, uint32_t n);
/* UIDL of message n: POP3_UIDL_LEN characters and a NUL. */
void pop3_maildrop_uidl(const struct pop3_maildrop *md, uint32_t n,
			char out[POP3_UIDL_LEN + 1]);
void pop3_maildrop_delete(struct pop3_maildrop *md, uint32_t n);
/* RSET: unmark every deleted message. */
void pop3_maildrop_reset(struct pop3_maildrop *md);
/* The message's file (it may have been renamed meanwhile by another
 * writer). 1 open, 0 expunged by someone else, -1 error. */
int pop3_maildrop_open_msg(struct pop3_maildrop *md, uint32_t n, int *fd_r,
			   const char **error_r);

/* The UPDATE state (RFC 1939 6): \Seen on the messages retrieved (when
 * mark_seen), then the deleted ones removed, durably. *removed_r: how
 * many were removed (had DELE). 1 done, -1 error (the store keeps the messages
 * whose removal failed). */
int pop3_maildrop_commit(struct pop3_maildrop *md, bool mark_seen, size_t *removed_r,
			 const char **error_r);

#endif
