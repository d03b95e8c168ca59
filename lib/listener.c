#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "xalloc.h"

#define LISTENER_BACKLOG 511

static int listener_option(struct listener_spec *spec, const char *opt,
			   const char **error_r)
{
	const char *eq = strchr(opt, '=');
	const char *v = eq != NULL ? eq + 1 : "";
	size_t klen = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
	char *end;

	if (klen == 3 && strncmp(opt, "tls", 3) == 0) {
		if (strcmp(v, "implicit") == 0) spec->tls = CONN_TLS_IMPLICIT;
		else if (strcmp(v, "starttls") == 0) spec->tls = CONN_TLS_STARTTLS;
		else if (strcmp(v, "none") == 0) spec->tls = CONN_TLS_NONE;
		else { *error_r = "tls= must be implicit, starttls or none"; return -1; }
	} else if (klen == 14 && strncmp(opt, "proxy_protocol", 14) == 0) {
		if (strcmp(v, "yes") == 0) spec->proxy_protocol = true;
		else if (strcmp(v, "no") == 0) spec->proxy_protocol = false;
		else { *error_r = "proxy_protocol= must be yes or no"; return -1; }
	} else if (klen == 7 && strncmp(opt, "service", 7) == 0 && *v != '\0') {
		free(spec->service);
		spec->service = xstrdup(v);
	} else if (klen == 4 && strncmp(opt, "mode", 4) == 0) {
		errno = 0;
		unsigned long m = strtoul(v, &end, 8);
		if (*v == '\0' || *end != '\0' || errno != 0 || m > 0777) {
			*error_r = "mode= must be octal, at most 0777";
			return -1;
		}
		spec->mode = (unsigned)m;
	} else {
		*error_r = "unknown listener option (tls=, proxy_protocol=, service=, mode=)";
		return -1;
	}
	return 0;
}

static int listener_address(struct listener_spec *spec, const char **error_r)
{
	if (spec->address[0] == '/') {
		if (strlen(spec->address) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*error_r = "UNIX socket path too long";
			return -1;
		}
		spec->is_unix = true;
		return 0;
	}
	return netaddr_parse_hostport(&spec->addr, spec->address, error_r);
}

int listener_spec_parse(const char *s, struct listener_spec *spec_r, const char **error_r)
{
	char *copy = xstrdup(s), *save = NULL, *word;
	int ret = 0;

	memset(spec_r, 0, sizeof(*spec_r));
	spec_r->mode = 0660;
	word = strtok_r(copy, " \t", &save);
	if (word == NULL) {
		*error_r = "empty listener";
		free(copy);
		return -1;
	}
	spec_r->address = xstrdup(word);
	ret = listener_address(spec_r, error_r);
	while (ret == 0 && (word = strtok_r(NULL, " \t", &save)) != NULL)
		ret = listener_option(spec_r, word, error_r);
	free(copy);
	if (ret < 0)
		listener_spec_free(spec_r);
	return ret;
}

void listener_spec_free(struct listener_spec *spec)
{
	free(spec->address);
	free(spec->service);
	spec->address = spec->service = NULL;
}

int listener_spec_validate(const char *value, const char **error_r)
{
	struct listener_spec spec;

	if (listener_spec_parse(value, &spec, error_r) < 0)
		return -1;
	listener_spec_free(&spec);
	return 0;
}

static void listener_on_connection(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	const char *error;

	if (status < 0) {
		log_warn(NULL, "accept failed listen=%s error=%s", l->spec.address,
			 uv_strerror(status));
		return;
	}
	if (conn_accept(server, &l->opts, l->env, &error) == NULL)
		log_warn(NULL, "accept failed listen=%s error=%s", l->spec.address, error);
}

/* A socket file nobody answers on is left over from a crash: replace it. */
static int listener_unix_stale(const char *path, const char **error_r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : (*error_r = strerror(errno), -1);
	if (!S_ISSOCK(st.st_mode)) {
		*error_r = "exists and is not a socket";
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (ret == 0) {
		*error_r = "another process is listening on it";
		return -1;
	}
	unlink(path);
	return 0;
}

static int listener_bind_unix(struct listener *l, uv_loop_t *loop, const char **error_r)
{
	const char *path = l->spec.address;
	int ret;

	if (listener_unix_stale(path, error_r) < 0)
		return -1;
	uv_pipe_init(loop, &l->h.pipe, 0);
	l->bound = true;
	ret = uv_pipe_bind(&l->h.pipe, path);
	if (ret == 0 && chmod(path, l->spec.mode) < 0)
		ret = uv_translate_sys_error(errno);
	if (ret < 0) {
		*error_r = uv_strerror(ret);
		return -1;
	}
	return 0;
}

static int listener_bind_tcp(struct listener *l, uv_loop_t *loop, const char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	netaddr_to_sockaddr(&l->spec.addr, &ss, &len);
	uv_tcp_init(loop, &l->h.tcp);
	l->bound = true;
	ret = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
	if (ret < 0) {
		*error_r = uv_strerror(ret);
		return -1;
	}
	return 0;
}

int listener_bind(struct listener *l, uv_loop_t *loop, const char **error_r)
{
	static char err[512];
	int ret = l->spec.is_unix ? listener_bind_unix(l, loop, error_r) :
		listener_bind_tcp(l, loop, error_r);

	l->h.handle.data = l;
	l->opts.tls = l->spec.tls;
	l->opts.proxy_protocol = l->spec.proxy_protocol;
	l->opts.is_unix = l->spec.is_unix;
	if (ret == 0) {
		ret = uv_listen(&l->h.stream, LISTENER_BACKLOG, listener_on_connection);
		if (ret < 0)
			*error_r = uv_strerror(ret);
	}
	if (ret < 0) {
		snprintf(err, sizeof(err), "listen %s: %s", l->spec.address, *error_r);
		*error_r = err;
		return -1;
	}
	return 0;
}

void listener_close(struct listener *l)
{
	if (!l->bound || l->closing)
		return;
	l->closing = true;
	uv_close(&l->h.handle, NULL);
	if (l->spec.is_unix)
		unlink(l->spec.address);
}
