/* ID (RFC 2971): the client's identification is logged, ours is sent. */
#include "buf.h"
#include "imap-commands.h"
#include "imap-id.h"
#include "log.h"

void imap_cmd_id(struct imap_client *c, struct imap_command *cmd)
{
	const char *error;
	struct buf log;

	/* 30 pairs of escaped values fit */
	buf_init(&log, 256 * 1024);
	if (imap_id_parse(cmd->args, cmd->count, &log, &error) < 0) {
		buf_free(&log);
		imap_client_bad(c, error);
		return;
	}
	log_info(conn_sid(c->conn), "imap: id%s", log.len > 0 ? buf_cstr(&log) : " nil");
	buf_free(&log);
	imap_client_untagged(c, "ID (\"name\" \"Mailroom\" \"vendor\" \"Mailroom\" "
			     "\"support-url\" NIL)");
	imap_client_tagged(c, "OK", "ID completed.");
}
