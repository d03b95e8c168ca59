#ifndef MR_MTA_SMTP_MSG_H
#define MR_MTA_SMTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* The message as it streams into the queue: our Received: line first,
 * the client's header section collected (bounded) so that From: can be
 * checked and Message-ID:/Date: added when missing, then the body written
 * through as it arrives. Line ends are stored as CRLF. */

enum smtp_msg_status {
	SMTP_MSG_OK,
	SMTP_MSG_TOO_BIG,     /* over message_size_limit: 552 5.3.4 */
	SMTP_MSG_BARE_NL,     /* a bare CR or LF: 550 5.5.2 */
	SMTP_MSG_LONG_LINE,   /* a line over the reader's bound: 500 5.5.2 */
	SMTP_MSG_IO,          /* the queue failed: 451 4.3.0 */
};

struct smtp_msg;

/* received: the whole Received: field without its final CRLF. */
struct smtp_msg *smtp_msg_new(struct queue_msg *qm, uint64_t limit, const char *received,
			      bool add_ids, const char *hostname);
/* Submission masquerading: in the From:, Sender: and Reply-To: fields, an
 * address in a subdomain of one of these domains is written with the
 * domain itself (x@host.example.com -> x@example.com). smtp_msg_from()
 * still gives the field as the client wrote it, for the ownership check. */
void smtp_msg_masquerade(struct smtp_msg *m, const char *const *domains, size_t count);
/* One DATA line, dot-unstuffed, without its CRLF. */
void smtp_msg_line(struct smtp_msg *m, const char *data, size_t len);
/* BDAT bytes, exactly as sent. */
void smtp_msg_bytes(struct smtp_msg *m, const char *data, size_t len);
void smtp_msg_fail(struct smtp_msg *m, enum smtp_msg_status status);
/* The end of the message: write what is still held back. */
enum smtp_msg_status smtp_msg_finish(struct smtp_msg *m);
enum smtp_msg_status smtp_msg_status(const struct smtp_msg *m);
/* The From: field's value, unfolded; NULL when there was none. */
const char *smtp_msg_from(const struct smtp_msg *m);
/* Hand the queue message over (for commit) and free the rest. */
struct queue_msg *smtp_msg_release(struct smtp_msg *m);
/* Abort the queue message and free everything. */
void smtp_msg_abort(struct smtp_msg *m);

/* The addresses of a From: value ("A <a@b>, c@d"): up to max, as
 * strings the caller frees. Returns the count. */
size_t smtp_msg_from_addrs(const char *value, char **addrs, size_t max);

#endif
