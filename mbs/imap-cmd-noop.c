/* CAPABILITY, NOOP, LOGOUT (RFC 3501 6.1): valid in every state. */
#include "imap-commands.h"
#include "imap-session-private.h"
#include "log.h"

void imap_cmd_capability(struct imap_client *c, struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "CAPABILITY takes no arguments");
		return;
	}
	imap_client_untagged(c, "CAPABILITY %s", imap_client_capability(c));
	imap_client_tagged(c, "OK", "Capability completed.");
}

/* In the selected state the sync before the tagged OK sends what changed
 * (RFC 3501 6.1.2). */
void imap_cmd_noop(struct imap_client *c, struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "NOOP takes no arguments");
		return;
	}
	imap_client_tagged(c, "OK", "NOOP completed.");
}

void imap_cmd_logout(struct imap_client *c, struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "LOGOUT takes no arguments");
		return;
	}
	log_info(conn_sid(c->conn), "imap: logout user=<%s>", c->user != NULL ? c->user : "");
	imap_client_untagged(c, "BYE Logging out");
	/* the state change first: no mailbox sync before this OK */
	c->state = IMAP_ST_LOGOUT;
	imap_client_tagged(c, "OK", "Logout completed.");
}
