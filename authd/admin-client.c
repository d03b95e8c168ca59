/* The socket side of the admin command: blocking, bounded in time. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"

int admin_connect(struct admin_conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	c->len = 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "mailroom: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "mailroom: connect %s: %s\n", path, strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

void admin_close(struct admin_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int admin_send(struct admin_conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "mailroom: write: %s\n", strerror(errno));
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Move a whole line out of the buffer, if there is one. */
static int admin_take_line(struct admin_conn *c, char *line)
{
	char *nl = memchr(c->buf, '\n', c->len);
	size_t n;

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - c->buf);
	memcpy(line, c->buf, n);
	line[n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	c->len -= n + 1;
	memmove(c->buf, nl + 1, c->len);
	return 1;
}

int admin_read_line(struct admin_conn *c, char *line)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };

	while (admin_take_line(c, line) == 0) {
		ssize_t n;

		if (c->len == sizeof(c->buf)) {
			fprintf(stderr, "mailroom: reply line too long\n");
			return -1;
		}
		if (poll(&pfd, 1, ADMIN_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "mailroom: no reply from authd\n");
			return -1;
		}
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0) {
			fprintf(stderr, "mailroom: authd closed the connection\n");
			return -1;
		}
		c->len += (size_t)n;
	}
	return 0;
}
