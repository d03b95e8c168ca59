#ifndef MR_MBS_IMAP_CMD_FOLDER_H
#define MR_MBS_IMAP_CMD_FOLDER_H

#include <stdbool.h>

#include "imap-session.h"

/* What the folder command files (imap-cmd-select.c, -folder.c, -list.c,
 * -status.c, -append.c, -quota.c) share. */

/* UTF8=ACCEPT is on: names are UTF-8 on the wire. */
bool imap_cmd_utf8(const struct imap_client *c);

/* The stored form of the mailbox name in arg (allocated), or false after
 * replying BAD (no astring) or NO [CANNOT] (no valid name: "..", "/",
 * invalid mUTF-7...). */
bool imap_cmd_mailbox_arg(struct imap_client *c, const struct imap_arg *arg, char **stored_r);

/* The tagged reply for a mailbox-layer call that did not succeed: 0 is a
 * refusal, NO with its text (and a response code that fits); -1 is an
 * error, logged, and NO [SERVERBUG] to the client. */
void imap_cmd_mbox_fail(struct imap_client *c, int ret, const char *error);

/* The selected mailbox is gone (deleted or renamed): back to the
 * authenticated state with an untagged OK [CLOSED] (RFC 7162 3.2.11). */
void imap_cmd_deselect(struct imap_client *c, bool tell);

#endif
