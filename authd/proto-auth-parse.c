/* Parsing of the Dovecot-compatible auth protocol's lines: no I/O, so it
 * is unit-tested and fuzzed on its own. */
#include <string.h>

#include "buf.h"
#include "proto-auth.h"

/* Undo the \001 escaping in place; the result is never longer. */
static int authproto_unescape(char *s, const char **error_r)
{
	char *out = s;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p != '\001') {
			*out++ = *p;
			continue;
		}
		switch (*++p) {
		case '1': *out++ = '\001'; break;
		case 't': *out++ = '\t'; break;
		case 'r': *out++ = '\r'; break;
		case 'n': *out++ = '\n'; break;
		case '\0':
			*error_r = "escape character at the end of a field";
			return -1;
		case '0':
			*error_r = "escaped NUL in a field";
			return -1;
		default: *out++ = *p; break;
		}
	}
	*out = '\0';
	return 0;
}

int authproto_split(char *line, size_t len, struct authproto_line *l, const char **error_r)
{
	char *field = line;

	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL byte in line";
		return -1;
	}
	line[len] = '\0';
	l->cmd = NULL;
	l->nargs = 0;
	for (;;) {
		char *tab = strchr(field, '\t');

		if (tab != NULL)
			*tab = '\0';
		if (l->cmd == NULL) {
			l->cmd = field;
		} else if (l->nargs == AUTHPROTO_MAX_ARGS) {
			*error_r = "too many fields";
			return -1;
		} else {
			l->args[l->nargs++] = field;
		}
		if (authproto_unescape(field, error_r) < 0)
			return -1;
		if (tab == NULL)
			break;
		field = tab + 1;
	}
	if (*l->cmd == '\0') {
		*error_r = "empty command";
		return -1;
	}
	return 0;
}

int authproto_parse_id(const char *s, uint32_t *id_r)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*id_r = (uint32_t)v;
	return 0;
}

/* Port from "lport=" / "rport=". */
static int authproto_port(const char *s, uint16_t *port_r)
{
	return netaddr_parse_port(s, strlen(s), port_r);
}

/* One optional parameter; unknown ones are ignored. */
static int authproto_auth_param(struct authproto_auth *a, const char *p, uint16_t *lport,
				uint16_t *rport, const char **error_r)
{
	if (strcmp(p, "secured") == 0) {
		a->secured = true;
	} else if (strcmp(p, "valid-client-cert") == 0) {
		a->valid_client_cert = true;
	} else if (strcmp(p, "no-penalty") == 0) {
		a->no_penalty = true;
	} else if (strncmp(p, "service=", 8) == 0) {
		a->service = p + 8;
	} else if (strncmp(p, "resp=", 5) == 0) {
		a->resp = p + 5;
	} else if (strncmp(p, "lip=", 4) == 0) {
		if (netaddr_parse(&a->lip, p + 4) < 0) {
			*error_r = "bad lip";
			return -1;
		}
		a->have_lip = true;
	} else if (strncmp(p, "rip=", 4) == 0) {
		if (netaddr_parse(&a->rip, p + 4) < 0) {
			*error_r = "bad rip";
			return -1;
		}
		a->have_rip = true;
	} else if (strncmp(p, "lport=", 6) == 0) {
		if (authproto_port(p + 6, lport) < 0) {
			*error_r = "bad lport";
			return -1;
		}
	} else if (strncmp(p, "rport=", 6) == 0) {
		if (authproto_port(p + 6, rport) < 0) {
			*error_r = "bad rport";
			return -1;
		}
	}
	return 0;
}

int authproto_parse_auth(const struct authproto_line *l, struct authproto_auth *a,
			 const char **error_r)
{
	uint16_t lport = 0, rport = 0;

	memset(a, 0, sizeof(*a));
	if (l->nargs < 2) {
		*error_r = "AUTH without id and mechanism";
		return -1;
	}
	if (authproto_parse_id(l->args[0], &a->id) < 0) {
		*error_r = "bad request id";
		return -1;
	}
	a->mech = l->args[1];
	if (*a->mech == '\0') {
		*error_r = "empty mechanism";
		return -1;
	}
	for (size_t i = 2; i < l->nargs; i++) {
		if (authproto_auth_param(a, l->args[i], &lport, &rport, error_r) < 0)
			return -1;
	}
	if (a->service == NULL || *a->service == '\0') {
		*error_r = "AUTH without service";
		return -1;
	}
	a->lip.port = a->have_lip ? lport : 0;
	a->rip.port = a->have_rip ? rport : 0;
	return 0;
}

int authproto_escape(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *esc = NULL;

		switch (*s) {
		case '\001': esc = "\0011"; break;
		case '\t': esc = "\001t"; break;
		case '\r': esc = "\001r"; break;
		case '\n': esc = "\001n"; break;
		}
		if ((esc != NULL ? buf_append(out, esc, 2) : buf_append_char(out, *s)) < 0)
			return -1;
	}
	return 0;
}
