/* ID (RFC 2971): the client's identification is logged, ours is sent. */
#include <string.h>

#include "buf.h"
#include "imap-commands.h"
#include "log.h"

/* RFC 2971 3.3: at most 30 pairs, fields up to 30 octets, values up to
 * 1024 octets. */
#define ID_MAX_PAIRS 30
#define ID_MAX_FIELD 30
#define ID_MAX_VALUE 1024

static bool id_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_QUOTED || (a->type == IMAP_ARG_LITERAL && !a->streamed);
}

void imap_cmd_id(struct imap_client *c, struct imap_command *cmd)
{
	const struct imap_arg *list;
	struct buf log;

	if (cmd->count != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
				cmd->args[0].type != IMAP_ARG_LIST)) {
		imap_client_bad(c, "ID needs NIL or a list of field-value pairs");
		return;
	}
	list = &cmd->args[0];
	buf_init(&log, 8192);
	if (list->type == IMAP_ARG_LIST) {
		if (list->count % 2 != 0 || list->count / 2 > ID_MAX_PAIRS) {
			buf_free(&log);
			imap_client_bad(c, "ID needs up to 30 field-value pairs");
			return;
		}
		for (size_t i = 0; i < list->count; i += 2) {
			const struct imap_arg *f = &list->list[i], *v = &list->list[i + 1];

			if (!id_string(f) || f->len > ID_MAX_FIELD ||
			    (v->type != IMAP_ARG_NIL && !id_string(v)) ||
			    (v->type != IMAP_ARG_NIL && v->len > ID_MAX_VALUE)) {
				buf_free(&log);
				imap_client_bad(c, "ID fields are strings up to 30 octets, values strings "
						"up to 1024 octets or NIL");
				return;
			}
			buf_append_char(&log, ' ');
			for (size_t k = 0; k < f->len; k++) {
				char ch = f->str[k];

				/* a key=value log key: letters, digits, '-' and '_' */
				buf_append_char(&log, (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
						ch == '-' || ch == '_' ? ch :
						ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : '_');
			}
			buf_append_char(&log, '=');
			log_escape(&log, v->type == IMAP_ARG_NIL ? "" : v->str);
		}
	}
	log_info(conn_sid(c->conn), "imap: id%s", log.len > 0 ? buf_cstr(&log) : " nil");
	buf_free(&log);
	imap_client_untagged(c, "ID (\"name\" \"Mailroom\" \"vendor\" \"Mailroom\" "
			     "\"support-url\" NIL)");
	imap_client_tagged(c, "OK", "ID completed.");
}
