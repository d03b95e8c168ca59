#ifndef MR_AUTHD_ADMIN_H
#define MR_AUTHD_ADMIN_H

#include <stddef.h>

/* The `mailroom` admin command: exit statuses and the socket client. */

#define ADMIN_OK 0
#define ADMIN_NO 1          /* not found, failed, refused */
#define ADMIN_USAGE 2
#define ADMIN_TEMPFAIL 75   /* EX_TEMPFAIL: authd down or backend unavailable */

#define ADMIN_TIMEOUT_MS 10000
#define ADMIN_LINE_MAX 65536

struct admin_conn {
	int fd;
	char buf[ADMIN_LINE_MAX];
	size_t len;
};

/* Connect to a UNIX socket; -1 with a message on stderr. */
int admin_connect(struct admin_conn *c, const char *path);
void admin_close(struct admin_conn *c);
int admin_send(struct admin_conn *c, const char *data, size_t len);
/* The next line without its LF (and CR) into line (size ADMIN_LINE_MAX);
 * -1 on timeout, EOF or an over-long line (message on stderr). */
int admin_read_line(struct admin_conn *c, char *line);

/* `mailroom auth test` (admin-auth.c). */
int admin_auth_test(const char *socket_path, const char *service, const char *user,
		    const char *password);

#endif
