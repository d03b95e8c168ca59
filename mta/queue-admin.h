#ifndef MR_MTA_QUEUE_ADMIN_H
#define MR_MTA_QUEUE_ADMIN_H

/* `mailroom queue list|show ID|flush|delete ID` (docs/queue.md). Reads
 * the queue directory of this host: $MAILROOM_QUEUE_DIRECTORY, else
 * queue_directory from SYSCONFDIR/mailroom/mta.conf, else the default.
 * Exit status as the rest of `mailroom`: 0 ok, 1 not found, 2 usage. */
int queue_admin_main(int argc, char **argv);

#endif
