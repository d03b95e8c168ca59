#ifndef MR_MBS_IMAP_SPECIAL_USE_H
#define MR_MBS_IMAP_SPECIAL_USE_H

#include <stddef.h>

#include "mailbox.h"

/* Special uses given by CREATE (RFC 6154 3, CREATE-SPECIAL-USE), on top
 * of those the folder names give (the mailbox layer's Sent, Drafts...).
 * They live in <root>/mailroom-special-use, one line per folder:
 * "<stored name>\t<attribute> [<attribute>...]\n", replaced by rename
 * under its dotlock so that sessions on several hosts can change it.
 * Blocking: call from workers. */

#define IMAP_SPECIAL_USE_FILE "mailroom-special-use"

struct imap_special_use_map {
	char **names;
	unsigned *flags;         /* enum mbox_folder_flags special-use bits */
	size_t count;
};

/* The map (empty when there is no file). 0, or -1 with *error_r. */
int imap_special_use_read(const char *root, struct imap_special_use_map *map_r,
			  const char **error_r);
void imap_special_use_map_free(struct imap_special_use_map *map);
unsigned imap_special_use_lookup(const struct imap_special_use_map *map, const char *name);
/* OR the map's attributes into a folder list from mbox_folder_list(). */
void imap_special_use_apply(const struct imap_special_use_map *map,
			    struct mbox_folder_list *list);

/* Set name's attributes (0: forget the name). */
int imap_special_use_set(const char *root, const char *name, unsigned flags,
			 const char **error_r);
/* After RENAME: the entries of `from` and, unless from is INBOX, of its
 * children move to `to`. */
int imap_special_use_rename(const char *root, const char *from, const char *to,
			    const char **error_r);

#endif
