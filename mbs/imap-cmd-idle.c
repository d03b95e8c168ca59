/* IDLE (RFC 2177): the client waits for changes; the selected folder's
 * watch (mbs/notify.h: inotify, polling, revalidation) wakes the session,
 * which syncs on a worker and sends EXISTS, EXPUNGE, FETCH FLAGS at once.
 * "DONE" ends it; the autologout timer (imap_idle_timeout) still runs. */
#include <strings.h>

#include "imap-commands.h"
#include "imap-session-private.h"

static void idle_sync(struct imap_client *c);

static void idle_finish(struct imap_client *c, bool bad)
{
	struct imap_session *s = imap_session_of(c);

	c->idling = false;
	s->idle_done = s->idle_again = false;
	if (bad)
		/* RFC 2177 3: only DONE may follow; anything else ends IDLE */
		imap_client_bad(c, "Expected DONE.");
	else
		imap_client_tagged(c, "OK", "Idle completed.");
}

static void idle_synced(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	s->idle_syncing = false;
	if (s->idle_done) {
		idle_finish(c, s->idle_bad);
		return;
	}
	if (s->idle_again && c->idling) {
		s->idle_again = false;
		idle_sync(c);
	}
}

static void idle_sync(struct imap_client *c)
{
	struct imap_session *s = imap_session_of(c);

	if (s->idle_syncing) {
		s->idle_again = true;
		return;
	}
	s->idle_syncing = true;
	imap_client_sync(c, idle_synced);
}

void imap_idle_changed(struct imap_client *c)
{
	idle_sync(c);
}

static void idle_line(struct imap_client *c, const struct lr_line *line)
{
	struct imap_session *s = imap_session_of(c);
	bool done = line->len == 4 && strncasecmp(line->data, "DONE", 4) == 0;

	imap_client_read_line(c, NULL);
	conn_pause(c->conn);
	if (s->idle_syncing) {
		/* the folder is in a worker's hands: end when it is back */
		s->idle_done = true;
		s->idle_bad = !done;
		return;
	}
	idle_finish(c, !done);
}

void imap_cmd_idle(struct imap_client *c, struct imap_command *cmd)
{
	if (cmd->count != 0) {
		imap_client_bad(c, "IDLE takes no arguments");
		return;
	}
	imap_client_write(c, "+ idling\r\n", 10);
	c->idling = true;
	imap_client_read_line(c, idle_line);
	/* the selected folder's watch (imap_client_watch_update) wakes us;
	 * what changed since the last command is sent now */
	if (c->box != NULL)
		idle_sync(c);
}
