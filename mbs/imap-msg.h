#ifndef MR_MBS_IMAP_MSG_H
#define MR_MBS_IMAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap-fetch-parse.h"
#include "imap-search-parse.h"
#include "mailbox.h"
#include "mime.h"

struct buf;

/* A message as FETCH and SEARCH see it: its place in the view, its
 * metadata and, when the items or keys need them, its bytes and MIME tree.
 * These functions do no I/O: the command loads data (mbox_msg_read) when
 * imap_fetch_needs_data() / imap_search_needs_data() say so. */
struct imap_msg {
	uint32_t seq;
	const struct mbox_msg *msg;
	const struct maildir_keywords *keywords;   /* names of msg->keywords bits */
	const char *data;                          /* NULL: not loaded */
	size_t len;
	struct mime_part *mime;                    /* parsed on first use; imap_msg_clear frees */
};

void imap_msg_clear(struct imap_msg *m);

/* ---- FETCH (RFC 3501 6.4.5, 7.4.2) ---- */

/* Whether the items need msg's bytes (m->data): all but FLAGS, UID,
 * INTERNALDATE and an RFC822.SIZE the mailbox already knows (vsize). */
bool imap_fetch_needs_data(const struct imap_fetch_items *items, const struct mbox_msg *msg);
/* A BODY[...] without PEEK, RFC822 or RFC822.TEXT: the command sets \Seen
 * first (read-write views) and the reply then includes FLAGS. */
bool imap_fetch_sets_seen(const struct imap_fetch_items *items);
/* Append "* <seq> FETCH (...)\r\n". uid_cmd: UID FETCH, which always
 * includes UID. add_flags: include FLAGS though not asked (\Seen was just
 * set). Literals are written as "{n}\r\n" + bytes, sections whole: out
 * must have room for them (a reply cut short by out's limit would not be
 * valid IMAP). docs/imap-fetch-search.md has the rules. */
void imap_fetch_write(struct buf *out, const struct imap_fetch_items *items, struct imap_msg *m,
		      bool uid_cmd, bool add_flags);
/* Append "(\Flagged \Seen kw1 ...)" for msg (with \Recent when set). */
void imap_flags_write(struct buf *out, const struct mbox_msg *msg,
		      const struct maildir_keywords *keywords);

/* ---- SEARCH (RFC 3501 6.4.4) ---- */

struct imap_search_ctx {
	uint32_t max_seq;       /* "*" in sequence sets */
	uint32_t max_uid;       /* "*" in UID sets */
};

/* Whether the keys need msg's bytes: sent dates, HEADER, FROM..., BODY,
 * TEXT, and LARGER/SMALLER when msg's vsize is not known. */
bool imap_search_needs_data(const struct imap_search_program *prog, const struct mbox_msg *msg);
/* Whether m matches. HEADER, BODY and TEXT match case-insensitively on
 * decoded text: encoded-words, base64 and quoted-printable bodies,
 * charsets converted to UTF-8. */
bool imap_search_match(const struct imap_search_program *prog, struct imap_msg *m,
		       const struct imap_search_ctx *ctx);

#endif
