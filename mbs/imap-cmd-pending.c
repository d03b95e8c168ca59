/* Commands whose file is not written yet: a weak handler per command that
 * answers NO [CANNOT]. The command files are linked as objects into the
 * daemon, so their strong definitions replace these at link time, and the
 * CAPABILITY list leaves out what is still pending here. This file goes
 * away once every command exists. */
#include "imap-commands.h"

void imap_cmd_pending_run(struct imap_client *c, struct imap_command *cmd);

void imap_cmd_pending_run(struct imap_client *c, struct imap_command *cmd)
{
	imap_client_tagged(c, "NO", "[CANNOT] %s is not implemented yet", cmd->name);
}

#define PENDING(name) \
	void imap_cmd_##name(struct imap_client *c, struct imap_command *cmd) \
		__attribute__((weak, alias("imap_cmd_pending_run")))

PENDING(select);
PENDING(examine);
PENDING(create);
PENDING(delete);
PENDING(rename);
PENDING(subscribe);
PENDING(unsubscribe);
PENDING(list);
PENDING(lsub);
PENDING(status);
PENDING(append);
PENDING(getquota);
PENDING(getquotaroot);
PENDING(setquota);
PENDING(check);
PENDING(close);
PENDING(unselect);
PENDING(expunge);
PENDING(fetch);
PENDING(store);
PENDING(search);
PENDING(copy);
PENDING(move);
