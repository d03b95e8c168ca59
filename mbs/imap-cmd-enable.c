/* ENABLE (RFC 5161) with UTF8=ACCEPT (RFC 6855). */
#include <strings.h>

#include "imap-commands.h"

void imap_cmd_enable(struct imap_client *c, struct imap_command *cmd)
{
	bool utf8 = false;

	if (cmd->count == 0) {
		imap_client_bad(c, "ENABLE needs at least one capability");
		return;
	}
	for (size_t i = 0; i < cmd->count; i++) {
		const char *cap = imap_arg_atom(&cmd->args[i]);

		if (cap == NULL) {
			imap_client_bad(c, "ENABLE takes capability names (atoms)");
			return;
		}
		/* unknown capabilities are ignored (RFC 5161 3.1) */
		if (strcasecmp(cap, "UTF8=ACCEPT") == 0)
			utf8 = true;
	}
	if (utf8 && c->state == IMAP_ST_SELECTED) {
		/* RFC 6855 3: only in the authenticated state, so that a
		 * mailbox is never seen in both encodings */
		imap_client_bad(c, "ENABLE UTF8=ACCEPT is only valid before SELECT");
		return;
	}
	if (utf8 && (c->enabled & IMAP_ENABLED_UTF8) == 0) {
		c->enabled |= IMAP_ENABLED_UTF8;
		imap_parser_set_utf8(c->parser, true);
		imap_client_untagged(c, "ENABLED UTF8=ACCEPT");
	} else {
		imap_client_untagged(c, "ENABLED");
	}
	imap_client_tagged(c, "OK", "Enabled.");
}
