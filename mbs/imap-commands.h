#ifndef MR_MBS_IMAP_COMMANDS_H
#define MR_MBS_IMAP_COMMANDS_H

#include "imap-session.h"

/* Every IMAP command's handler; the table that routes to them is in
 * imap-commands.c. One file per command or small family. */

#define IMAP_CMD(name) void imap_cmd_##name(struct imap_client *c, struct imap_command *cmd)

/* any state: imap-cmd-auth.c, imap-cmd-noop.c, imap-cmd-id.c */
IMAP_CMD(capability);
IMAP_CMD(noop);
IMAP_CMD(logout);
IMAP_CMD(id);
/* not authenticated */
IMAP_CMD(starttls);
IMAP_CMD(login);
IMAP_CMD(authenticate);
/* authenticated: imap-cmd-enable.c, imap-cmd-namespace.c, imap-cmd-idle.c */
IMAP_CMD(enable);
IMAP_CMD(namespace);
IMAP_CMD(idle);
/* folders: imap-cmd-select.c, imap-cmd-folder.c, imap-cmd-list.c,
 * imap-cmd-status.c, imap-cmd-append.c, imap-cmd-quota.c */
IMAP_CMD(select);
IMAP_CMD(examine);
IMAP_CMD(create);
IMAP_CMD(delete);
IMAP_CMD(rename);
IMAP_CMD(subscribe);
IMAP_CMD(unsubscribe);
IMAP_CMD(list);
IMAP_CMD(lsub);
IMAP_CMD(status);
IMAP_CMD(append);
IMAP_CMD(getquota);
IMAP_CMD(getquotaroot);
IMAP_CMD(setquota);
/* selected: imap-cmd-check.c, imap-cmd-close.c, imap-cmd-expunge.c,
 * imap-cmd-fetch.c, imap-cmd-store.c, imap-cmd-search.c, imap-cmd-copy.c */
IMAP_CMD(check);
IMAP_CMD(close);
IMAP_CMD(unselect);
IMAP_CMD(expunge);
IMAP_CMD(fetch);
IMAP_CMD(store);
IMAP_CMD(search);
IMAP_CMD(copy);
IMAP_CMD(move);

#endif
