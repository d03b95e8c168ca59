/* NAMESPACE (RFC 2342): one personal namespace, no prefix, "." as the
 * hierarchy separator (Maildir++ folders ".A.B"), no shared or other
 * users' namespaces. */
#include "imap-args.h"
#include "imap-commands.h"

void imap_cmd_namespace(struct imap_client *c, struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "NAMESPACE takes no arguments");
		return;
	}
	imap_client_untagged(c, "NAMESPACE ((\"\" \"%c\")) NIL NIL", IMAP_MAILBOX_SEP);
	imap_client_tagged(c, "OK", "Namespace completed.");
}
