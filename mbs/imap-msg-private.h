#ifndef MR_MBS_IMAP_MSG_PRIVATE_H
#define MR_MBS_IMAP_MSG_PRIVATE_H

#include "imap-msg.h"

/* What imap-fetch.c and imap-search.c share about one message. */

/* The message's bytes; an empty message when they were not loaded. */
const char *imap_msg_data(const struct imap_msg *m, size_t *len_r);
/* The MIME tree, parsed on first use and kept in m->mime. */
const struct mime_part *imap_msg_mime(struct imap_msg *m);
/* Bytes of the message header with the blank line that ends it (the whole
 * message when there is none): the root's header span, found without
 * parsing MIME when the tree is not there yet. */
size_t imap_msg_header_size(const struct imap_msg *m);
/* Size with every bare LF counted as CRLF. */
uint64_t imap_vsize(const char *data, size_t len);
/* RFC822.SIZE: counted from the bytes when loaded, else the mailbox's. */
uint64_t imap_msg_vsize(const struct imap_msg *m);
/* Whether the mailbox layer knows msg's RFC822.SIZE without reading it. */
bool imap_msg_vsize_known(const struct mbox_msg *msg);
/* Append s[0..len) folded to lower case for matching without case:
 * ASCII and the simple one-to-one mappings of Latin-1 Supplement, Latin
 * Extended-A, and the basic Greek and Cyrillic letters (imap-search.c). */
void imap_utf8_fold(struct buf *out, const char *s, size_t len);

#endif
