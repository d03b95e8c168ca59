/* The `mailroom queue` subcommands: read the queue directory directly;
 * flush asks the running mta through a control file it polls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue-admin.h"
#include "queue-file.h"
#include "xalloc.h"

#define QUEUE_ADMIN_DEFAULT_DIR "/var/spool/mailroom"
#define QUEUE_ADMIN_CONFIG SYSCONFDIR "/mailroom/mta.conf"

static const char *const queue_admin_dirs[] = { "active", "deferred", "corrupt" };

/* queue_directory as mta.conf sets it (only that line is read, so the
 * admin command does not need the daemon's whole table). */
static char *queue_admin_dir(void)
{
	const char *env = getenv("MAILROOM_QUEUE_DIRECTORY");
	char line[4096];
	char *found = NULL;
	FILE *f;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if ((f = fopen(QUEUE_ADMIN_CONFIG, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = line + strspn(line, " \t");

			if (strncmp(p, "queue_directory", 15) != 0)
				continue;
			p += 15 + strspn(p + 15, " \t");
			if (*p != '=')
				continue;
			p++;
			p += strspn(p, " \t\"");
			p[strcspn(p, "\"\r\n")] = '\0';
			free(found);
			found = xstrdup(p);
		}
		fclose(f);
	}
	return found != NULL ? found : xstrdup(QUEUE_ADMIN_DEFAULT_DIR);
}

static bool queue_admin_id_ok(const char *id)
{
	return *id != '\0' && strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(id);
}

static void queue_admin_print(const char *state, const struct queue_file *qf)
{
	char when[32];
	time_t t = (time_t)qf->arrival;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-16s %-8s %10llu %s <%s>\n", qf->id, state, (unsigned long long)qf->msg_size,
	       when, qf->sender);
	for (size_t i = 0; i < qf->nrcpts; i++) {
		const struct queue_file_rcpt *r = &qf->rcpts[i];

		printf("    %-8s <%s>%s%s\n", queue_rcpt_state_name(r->state), r->addr,
		       r->diag != NULL ? " " : "", r->diag != NULL ? r->diag : "");
	}
}

static int queue_admin_list(const char *dir)
{
	unsigned count = 0;

	for (size_t d = 0; d < sizeof(queue_admin_dirs) / sizeof(queue_admin_dirs[0]); d++) {
		char *path = xasprintf("%s/%s", dir, queue_admin_dirs[d]);
		DIR *dh = opendir(path);
		struct dirent *de;

		while (dh != NULL && (de = readdir(dh)) != NULL) {
			struct queue_file qf;
			const char *error = "gone";
			char *file;

			if (de->d_name[0] == '.')
				continue;
			file = xasprintf("%s/%s", path, de->d_name);
			queue_file_init(&qf);
			if (queue_file_load(file, &qf, false, &error) > 0)
				queue_admin_print(queue_admin_dirs[d], &qf);
			else
				printf("%-16s %-8s (unreadable: %s)\n", de->d_name,
				       queue_admin_dirs[d], error);
			queue_file_free(&qf);
			free(file);
			count++;
		}
		if (dh != NULL)
			closedir(dh);
		free(path);
	}
	printf("-- %u message%s\n", count, count == 1 ? "" : "s");
	return 0;
}

/* The file of id in active/, deferred/ or corrupt/, or NULL. */
static char *queue_admin_find(const char *dir, const char *id)
{
	for (size_t d = 0; d < sizeof(queue_admin_dirs) / sizeof(queue_admin_dirs[0]); d++) {
		char *file = xasprintf("%s/%s/%s", dir, queue_admin_dirs[d], id);

		if (access(file, F_OK) == 0)
			return file;
		free(file);
	}
	return NULL;
}

static int queue_admin_show(const char *dir, const char *id)
{
	char *file = queue_admin_id_ok(id) ? queue_admin_find(dir, id) : NULL;
	struct queue_file qf;
	const char *error = "gone";
	int fd, ret = 1;

	if (file == NULL) {
		fprintf(stderr, "mailroom: %s: no such queued message\n", id);
		return 1;
	}
	queue_file_init(&qf);
	if (queue_file_load(file, &qf, false, &error) <= 0) {
		fprintf(stderr, "mailroom: %s: %s\n", file, error);
	} else if ((fd = open(file, O_RDONLY)) >= 0) {
		char chunk[65536];
		uint64_t off = qf.msg_offset, left = qf.msg_size;
		ssize_t n = 1;

		queue_admin_print(strstr(file, "/deferred/") ? "deferred" : "active", &qf);
		printf("\n");
		fflush(stdout);
		while (left > 0 && n > 0) {
			n = pread(fd, chunk, left < sizeof(chunk) ? (size_t)left : sizeof(chunk),
				  (off_t)off);
			if (n > 0 && fwrite(chunk, 1, (size_t)n, stdout) != (size_t)n)
				break;
			off += n > 0 ? (uint64_t)n : 0;
			left -= n > 0 ? (uint64_t)n : 0;
		}
		close(fd);
		ret = left == 0 ? 0 : 1;
	}
	queue_file_free(&qf);
	free(file);
	return ret;
}

static int queue_admin_delete(const char *dir, const char *id)
{
	char *file = queue_admin_id_ok(id) ? queue_admin_find(dir, id) : NULL;
	int ret = 1;

	if (file == NULL)
		fprintf(stderr, "mailroom: %s: no such queued message\n", id);
	else if (unlink(file) < 0)
		fprintf(stderr, "mailroom: %s: %s\n", file, strerror(errno));
	else {
		printf("%s: deleted\n", id);
		ret = 0;
	}
	free(file);
	return ret;
}

static int queue_admin_flush(const char *dir)
{
	char *file = xasprintf("%s/flush", dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		fprintf(stderr, "mailroom: %s: %s\n", file, strerror(errno));
		free(file);
		return 75;
	}
	close(fd);
	free(file);
	printf("flush requested: the running mta retries every deferred message\n");
	return 0;
}

int queue_admin_main(int argc, char **argv)
{
	char *dir = queue_admin_dir();
	int ret = 2;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		ret = queue_admin_list(dir);
	else if (argc == 2 && strcmp(argv[0], "show") == 0)
		ret = queue_admin_show(dir, argv[1]);
	else if (argc == 1 && strcmp(argv[0], "flush") == 0)
		ret = queue_admin_flush(dir);
	else if (argc == 2 && strcmp(argv[0], "delete") == 0)
		ret = queue_admin_delete(dir, argv[1]);
	else
		fprintf(stderr, "usage: mailroom queue list|show ID|flush|delete ID\n");
	free(dir);
	return ret;
}
