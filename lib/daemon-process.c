#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "dotlock.h"

static int daemon_ready_fd = -1;
static char daemon_err[512];

/* "<what> <arg>: <strerror(errno)>" */
static const char *daemon_errorf(const char *what, const char *arg)
{
	snprintf(daemon_err, sizeof(daemon_err), "%s %s: %s", what, arg, strerror(errno));
	return daemon_err;
}

/* ----------------------------------------------------------- pid file */

static long daemon_pidfile_read(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	text[n] = '\0';
	pid = strtol(text, &end, 10);
	if (end == text || (*end != '\n' && *end != '\0') || pid <= 0)
		return 0;
	return pid;
}

int daemon_pidfile_claim(const char *path, const char **error_r)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	long pid;
	char text[32];
	int len;

	if (fd < 0) {
		*error_r = daemon_errorf("pid file", path);
		return -1;
	}
	pid = daemon_pidfile_read(fd);
	if (pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
		snprintf(daemon_err, sizeof(daemon_err),
			 "pid file %s: process %ld is running", path, pid);
		*error_r = daemon_err;
		close(fd);
		return -1;
	}
	/* Stale or empty: ours now. */
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		*error_r = daemon_errorf("pid file", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

void daemon_pidfile_release(const char *path)
{
	int fd;

	if (path == NULL || *path == '\0' || unlink(path) == 0)
		return;
	/* An empty pid file reads as stale to the next start. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		close(fd);
}

/* --------------------------------------------------------- privileges */

int daemon_lookup_user(const char *user, const char *group, int *uid_r, int *gid_r,
		       const char **error_r)
{
	struct passwd *pw;
	struct group *gr;

	*uid_r = *gid_r = -1;
	if (user != NULL && *user != '\0') {
		pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(daemon_err, sizeof(daemon_err), "user %s: no such user", user);
			*error_r = daemon_err;
			return -1;
		}
		*uid_r = (int)pw->pw_uid;
		*gid_r = (int)pw->pw_gid;
	}
	if (group != NULL && *group != '\0') {
		gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(daemon_err, sizeof(daemon_err), "group %s: no such group", group);
			*error_r = daemon_err;
			return -1;
		}
		*gid_r = (int)gr->gr_gid;
	}
	return 0;
}

static int daemon_check_unprivileged(int uid, int gid, const char **error_r)
{
	if (uid >= 0 && (uid_t)uid != geteuid()) {
		*error_r = "user= names another user: starting as that user needs root";
		return -1;
	}
	if (gid >= 0 && (gid_t)gid != getegid()) {
		*error_r = "group= names another group: switching to it needs root";
		return -1;
	}
	return 0;
}

int daemon_drop_privileges(const char *user, const char *group, const char **error_r)
{
	int uid, gid;

	if (daemon_lookup_user(user, group, &uid, &gid, error_r) < 0)
		return -1;
	if (geteuid() != 0)
		return daemon_check_unprivileged(uid, gid, error_r);
	if (uid < 0) {
		if (gid >= 0) {
			*error_r = "group= without user=";
			return -1;
		}
		return 0; /* explicitly configured to stay root */
	}
	if (initgroups(user, (gid_t)gid) < 0 || setgid((gid_t)gid) < 0 ||
	    setuid((uid_t)uid) < 0) {
		*error_r = daemon_errorf("dropping privileges to", user);
		return -1;
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		*error_r = "privileges could be regained after dropping them";
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------- background */

/* The parent's side: relay the child's verdict. */
static void daemon_parent_wait(int fd, pid_t child)
{
	char msg[600];
	ssize_t n, got = 0;
	int status;

	while (got < (ssize_t)sizeof(msg) - 1 &&
	       (n = read(fd, msg + got, sizeof(msg) - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += n;
	}
	msg[got] = '\0';
	if (got > 0 && strcmp(msg, "OK") == 0)
		_exit(0);
	if (got > 0)
		fprintf(stderr, "%s\n", msg);
	else if (waitpid(child, &status, 0) == child && WIFEXITED(status))
		_exit(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
	_exit(1);
}

void daemon_background(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		daemon_parent_wait(fds[0], pid);
	}
	close(fds[0]);
	daemon_ready_fd = fds[1];
	setsid();
}

static void daemon_null_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

void daemon_ready(const char *error)
{
	const char *msg = error != NULL ? error : "OK";
	ssize_t ignored;

	if (daemon_ready_fd < 0) {
		if (error != NULL)
			fprintf(stderr, "%s\n", error);
		return;
	}
	ignored = write(daemon_ready_fd, msg, strlen(msg));
	(void)ignored;
	close(daemon_ready_fd);
	daemon_ready_fd = -1;
	if (error == NULL)
		daemon_null_stdio();
}

void daemon_hostname(const struct cfg *cfg, char *out, size_t size)
{
	const char *h = cfg_str(cfg, "hostname");

	snprintf(out, size, "%s", *h != '\0' ? h : dotlock_hostname());
}
