#ifndef MR_MBS_IMAP_MSGSET_H
#define MR_MBS_IMAP_MSGSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-seqset.h"
#include "mailbox.h"

struct buf;

/* What the message commands (FETCH, STORE, SEARCH, COPY, MOVE, UID
 * EXPUNGE) share: turning a sequence or UID set into indexes of the
 * selected view. Call on the loop thread only while no worker job is out
 * (the view is then stable), or on the command's worker. */

/* Parse `arg` as a sequence set (uid false) or a UID set and resolve it
 * against the view: ascending 0-based indexes into box->msgs (allocated,
 * possibly none). A sequence number past the last message is an error
 * (RFC 3501 6.4.1: BAD); UIDs that no message has are left out, and "n:*"
 * always holds the highest UID (RFC 3501 6.4.8). -1 with error_r on a
 * syntax error. */
int imap_msgset_resolve(const struct mbox *box, const char *arg, bool uid, size_t **idx_r,
			size_t *n_r, const char **error_r);

/* The index of the message with `uid` in the view, or box->count. */
size_t imap_msgset_find_uid(const struct mbox *box, uint32_t uid);

/* Append a UID list as a uid-set ("4:6,9"); the list is ascending. -1 when
 * out's limit is reached. */
int imap_msgset_uids_format(const uint32_t *uids, size_t n, struct buf *out);

#endif
