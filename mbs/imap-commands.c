/* The IMAP command table: which command runs in which state. */
#include "imap-commands.h"

#define S_ANY IMAP_ST_ANY
#define S_NOAUTH IMAP_ST_NOAUTH
#define S_AUTHED IMAP_ST_AUTHED
#define S_SEL IMAP_ST_SELECTED

const struct imap_cmd_def imap_commands[] = {
	{ "CAPABILITY", S_ANY, 0, imap_cmd_capability },
	{ "NOOP", S_ANY, 0, imap_cmd_noop },
	{ "LOGOUT", S_ANY, 0, imap_cmd_logout },
	{ "ID", S_ANY, 0, imap_cmd_id },
	{ "STARTTLS", S_NOAUTH, 0, imap_cmd_starttls },
	{ "LOGIN", S_NOAUTH, 0, imap_cmd_login },
	{ "AUTHENTICATE", S_NOAUTH, 0, imap_cmd_authenticate },
	{ "ENABLE", S_AUTHED, 0, imap_cmd_enable },
	{ "NAMESPACE", S_AUTHED, 0, imap_cmd_namespace },
	{ "IDLE", S_AUTHED, 0, imap_cmd_idle },
	{ "SELECT", S_AUTHED, 0, imap_cmd_select },
	{ "EXAMINE", S_AUTHED, 0, imap_cmd_examine },
	{ "CREATE", S_AUTHED, 0, imap_cmd_create },
	{ "DELETE", S_AUTHED, 0, imap_cmd_delete },
	{ "RENAME", S_AUTHED, 0, imap_cmd_rename },
	{ "SUBSCRIBE", S_AUTHED, 0, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", S_AUTHED, 0, imap_cmd_unsubscribe },
	{ "LIST", S_AUTHED, 0, imap_cmd_list },
	{ "LSUB", S_AUTHED, 0, imap_cmd_lsub },
	{ "STATUS", S_AUTHED, 0, imap_cmd_status },
	{ "APPEND", S_AUTHED, 0, imap_cmd_append },
	{ "GETQUOTA", S_AUTHED, 0, imap_cmd_getquota },
	{ "GETQUOTAROOT", S_AUTHED, 0, imap_cmd_getquotaroot },
	{ "SETQUOTA", S_AUTHED, 0, imap_cmd_setquota },
	{ "CHECK", S_SEL, 0, imap_cmd_check },
	{ "CLOSE", S_SEL, 0, imap_cmd_close },
	{ "UNSELECT", S_SEL, 0, imap_cmd_unselect },
	{ "EXPUNGE", S_SEL, IMAP_CMD_UID, imap_cmd_expunge },
	{ "FETCH", S_SEL, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_fetch },
	{ "STORE", S_SEL, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_store },
	{ "SEARCH", S_SEL, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE, imap_cmd_search },
	{ "COPY", S_SEL, IMAP_CMD_UID, imap_cmd_copy },
	{ "MOVE", S_SEL, IMAP_CMD_UID, imap_cmd_move },
};
const size_t imap_commands_count = sizeof(imap_commands) / sizeof(imap_commands[0]);
