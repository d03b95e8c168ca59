#ifndef MR_MBS_IMAP_LIST_H
#define MR_MBS_IMAP_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "imap-parser.h"
#include "mailbox.h"

struct buf;

/* LIST and LSUB without I/O: their arguments (RFC 3501 6.3.8-9, the
 * extended syntax of RFC 5258 with RFC 5819 STATUS and RFC 6154
 * SPECIAL-USE options), pattern matching, and the untagged replies for a
 * folder list that the mailbox layer gave. STATUS items are here too, as
 * STATUS and LIST-STATUS share them, and the other pure pieces of the
 * folder commands: mailbox name arguments, refusal codes, special-use
 * attributes, the QUOTA reply. */

enum imap_list_select {
	IMAP_LIST_SEL_SUBSCRIBED = 0x01,
	IMAP_LIST_SEL_REMOTE = 0x02,
	IMAP_LIST_SEL_RECURSIVEMATCH = 0x04,
	IMAP_LIST_SEL_SPECIALUSE = 0x08,
};

enum imap_list_return {
	IMAP_LIST_RET_SUBSCRIBED = 0x01,
	IMAP_LIST_RET_CHILDREN = 0x02,
	IMAP_LIST_RET_SPECIALUSE = 0x04,
	IMAP_LIST_RET_STATUS = 0x08,
};

/* STATUS data items, replied in this order (RFC 3501 6.3.10). */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 0x01,
	IMAP_STATUS_RECENT = 0x02,
	IMAP_STATUS_UIDNEXT = 0x04,
	IMAP_STATUS_UIDVALIDITY = 0x08,
	IMAP_STATUS_UNSEEN = 0x10,
	IMAP_STATUS_SIZE = 0x20,          /* RFC 8438 STATUS=SIZE */
};

/* Longest pattern accepted (reference included), in bytes of UTF-8. */
#define IMAP_LIST_MAX_PATTERN 1024
#define IMAP_LIST_MAX_PATTERNS 64

struct imap_list_args {
	bool lsub;
	unsigned select;          /* enum imap_list_select */
	unsigned ret;             /* enum imap_list_return */
	unsigned status_items;    /* with IMAP_LIST_RET_STATUS */
	/* Reference and pattern joined, UTF-8 with "INBOX" upper-cased, for
	 * imap_list_match(). */
	char **patterns;
	size_t pattern_count;
	/* LIST "" "": the client asks for the hierarchy delimiter only. */
	bool delimiter_query;
};

/* The arguments after LIST or LSUB. `utf8`: UTF8=ACCEPT is enabled, names
 * are UTF-8 rather than modified UTF-7. -1 with *error_r: reply BAD. */
int imap_list_args_parse(const struct imap_arg *args, size_t count, bool lsub, bool utf8,
			 struct imap_list_args *a_r, const char **error_r);
void imap_list_args_free(struct imap_list_args *a);

/* A STATUS item list "(MESSAGES UNSEEN)": enum imap_status_item bits.
 * -1 with *error_r on an empty list or an unknown item. */
int imap_status_items_parse(const struct imap_arg *list, unsigned *items_r,
			    const char **error_r);
/* "* STATUS <name> (<items>)\r\n". */
void imap_status_format(struct buf *out, const char *stored_name, bool utf8, unsigned items,
			const struct mbox_status *st);

/* Does `name` (UTF-8) match `pattern`? "*" matches anything, "%" anything
 * but the hierarchy delimiter. Linear in name times pattern. */
bool imap_list_match(const char *pattern, const char *name);

/* A stored (mUTF-7) mailbox name as the client sees it, appended as an
 * atom when it can be one, else a quoted string; UTF-8 when `utf8`. */
void imap_list_append_name(struct buf *out, const char *stored, bool utf8);

/* The untagged LIST or LSUB replies (and STATUS replies for RETURN
 * STATUS, from `status`, which returns 1 with *st_r filled or 0 to leave
 * the mailbox out) for the folders `all` (mbox_folder_list(u, false)) and
 * `subs` (mbox_folder_list(u, true); may be empty when neither LSUB nor a
 * SUBSCRIBED option is used). */
void imap_list_build(const struct imap_list_args *a, const struct mbox_folder_list *all,
		     const struct mbox_folder_list *subs, bool utf8,
		     int (*status)(void *ctx, const char *stored_name, struct mbox_status *st_r),
		     void *status_ctx, struct buf *out);

/* A mailbox name argument (astring) in its stored form (allocated):
 * 1; 0 with *error_r when it is no valid name (reply NO); -1 when the
 * argument is no astring (reply BAD). */
int imap_mailbox_arg(const struct imap_arg *arg, bool utf8, char **stored_r,
		     const char **error_r);

/* The response code that fits a refusal text of the mailbox layer
 * ("[ALREADYEXISTS] ", "[NONEXISTENT] ", ...; "" when none, or when the
 * text has its own). */
const char *imap_mbox_error_code(const char *text);

/* RFC 6154 attributes and the folder names that carry them (special use
 * goes by the name, as in the mailbox layer). */
/* "\Sent" (any case) -> MBOX_FOLDER_SENT...; 0 when unknown. */
unsigned imap_special_use_parse(const char *attr);
/* MBOX_FOLDER_SENT... -> "\\Sent"...; NULL for another bit. */
const char *imap_special_use_name(unsigned flag);
/* The special-use flag of a stored name, 0 for none. */
unsigned imap_special_use_of_name(const char *stored);

/* RFC 9208 5.1 "* QUOTA "" (STORAGE <KiB used> <KiB limit> MESSAGE <used>
 * <limit>)\r\n", listing only the resources with a limit. */
void imap_quota_format(struct buf *out, const struct maildir_quota *q);

/* Whether the folder lists must include the subscriptions. */
static inline bool imap_list_needs_subs(const struct imap_list_args *a)
{
	return a->lsub || (a->select & IMAP_LIST_SEL_SUBSCRIBED) != 0;
}

#endif
