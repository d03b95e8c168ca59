/* The lookup protocol's request parser, apart from the session so the
 * fuzzer can drive it alone. */
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "proto-lookup.h"

static const struct {
	const char *name;
	enum lookup_cmd cmd;
	size_t min_args, max_args;
} lookup_cmds[] = {
	{ "USER", LOOKUP_USER, 1, 1 },
	{ "RCPT", LOOKUP_RCPT, 1, 1 },
	{ "DOMAIN", LOOKUP_DOMAIN, 1, 1 },
	{ "SENDER", LOOKUP_SENDER, 2, 2 },
	{ "FLUSH", LOOKUP_FLUSH, 0, 1 },
	{ "PING", LOOKUP_PING, 0, 0 },
};

/* Ids are opaque to us but must be safe to echo: 1-32 of [A-Za-z0-9._:-]. */
static bool lookup_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > LOOKUP_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static int lookup_command(struct lookup_request *req, const char *name, size_t nargs,
			  const char **error_r)
{
	for (size_t i = 0; i < sizeof(lookup_cmds) / sizeof(*lookup_cmds); i++) {
		if (strcasecmp(lookup_cmds[i].name, name) != 0)
			continue;
		if (nargs < lookup_cmds[i].min_args || nargs > lookup_cmds[i].max_args) {
			*error_r = "wrong number of fields";
			return -1;
		}
		req->cmd = lookup_cmds[i].cmd;
		return 0;
	}
	*error_r = "unknown command";
	return -1;
}

int lookup_request_parse(const char *line, size_t len, struct lookup_request *req,
			 const char **error_r)
{
	const char *tab = memchr(line, '\t', len);
	size_t idlen = tab != NULL ? (size_t)(tab - line) : len;
	struct authd_fields f;

	memset(req, 0, sizeof(*req));
	if (!lookup_id_valid(line, idlen)) {
		*error_r = "bad request id";
		return -1;
	}
	memcpy(req->id, line, idlen);
	req->id[idlen] = '\0';
	if (tab == NULL) {
		*error_r = "missing command";
		return -1;
	}
	/* A few fields more than any command takes, so lookup_command can
	 * say "wrong number of fields" for them. */
	if (authd_fields_split(tab + 1, len - idlen - 1, 8, &f, error_r) < 0)
		return -1;
	if (lookup_command(req, f.items[0], f.count - 1, error_r) < 0) {
		authd_fields_free(&f);
		return -1;
	}
	for (size_t i = 1; i < f.count; i++) {
		if (*f.items[i] == '\0') {
			*error_r = "empty field";
			authd_fields_free(&f);
			return -1;
		}
	}
	free(f.items[0]);
	memmove(f.items, f.items + 1, (f.count - 1) * sizeof(*f.items));
	f.count--;
	req->args = f;
	return 0;
}

void lookup_request_free(struct lookup_request *req)
{
	authd_fields_free(&req->args);
}
