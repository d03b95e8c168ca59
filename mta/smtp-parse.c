/* SMTP command lines: verb, MAIL/RCPT paths and ESMTP parameters, BDAT. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queue.h"
#include "smtp-parse.h"

int smtp_parse_verb(const char *line, size_t len, char verb_r[SMTP_VERB_MAX + 1],
		    const char **args_r)
{
	size_t i = 0;

	if (memchr(line, '\0', len) != NULL)
		return -1;
	for (; i < len && line[i] != ' '; i++) {
		char c = line[i];

		if (i == SMTP_VERB_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return -1;
		verb_r[i] = (char)(c & ~0x20);
	}
	if (i == 0)
		return -1;
	verb_r[i] = '\0';
	*args_r = i < len ? line + i + 1 : line + len;
	return 0;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool smtp_keyword_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* esmtp-value = 1*(%d33-60 / %d62-126); UTF-8 is not needed in what we read */
static bool smtp_value_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == '=')
			return false;
	return true;
}

static int smtp_number(const char *s, uint64_t *n_r)
{
	uint64_t n = 0;

	if (*s == '\0' || strlen(s) > 19)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*n_r = n;
	return 0;
}

static int smtp_notify(char *value, unsigned *notify_r)
{
	unsigned bits = 0;
	char *save = NULL;

	if (value[strlen(value) - 1] == ',')
		return -1;
	for (char *w = strtok_r(value, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		unsigned bit;

		if (strcasecmp(w, "NEVER") == 0)
			bit = QUEUE_NOTIFY_NEVER;
		else if (strcasecmp(w, "SUCCESS") == 0)
			bit = QUEUE_NOTIFY_SUCCESS;
		else if (strcasecmp(w, "FAILURE") == 0)
			bit = QUEUE_NOTIFY_FAILURE;
		else if (strcasecmp(w, "DELAY") == 0)
			bit = QUEUE_NOTIFY_DELAY;
		else
			return -1;
		if ((bits & bit) != 0)
			return -1;
		bits |= bit;
	}
	/* NEVER stands alone (RFC 3461 4.1) */
	if (bits == 0 || ((bits & QUEUE_NOTIFY_NEVER) != 0 && bits != QUEUE_NOTIFY_NEVER))
		return -1;
	*notify_r = bits;
	return 0;
}

static int smtp_mail_param(const char *key, char *value, struct smtp_params *p)
{
	if (strcasecmp(key, "SIZE") == 0) {
		if (p->has_size || value == NULL || smtp_number(value, &p->size) < 0)
			return SMTP_PE_PARAM_VALUE;
		p->has_size = true;
	} else if (strcasecmp(key, "BODY") == 0) {
		if (p->body != SMTP_BODY_NONE || value == NULL)
			return SMTP_PE_PARAM_VALUE;
		if (strcasecmp(value, "7BIT") == 0)
			p->body = SMTP_BODY_7BIT;
		else if (strcasecmp(value, "8BITMIME") == 0)
			p->body = SMTP_BODY_8BITMIME;
		else
			return SMTP_PE_PARAM_VALUE;
	} else if (strcasecmp(key, "SMTPUTF8") == 0) {
		if (p->smtputf8 || value != NULL)
			return SMTP_PE_PARAM_VALUE;
		p->smtputf8 = true;
	} else if (strcasecmp(key, "RET") == 0) {
		if (p->ret != NULL || value == NULL ||
		    (strcasecmp(value, "FULL") != 0 && strcasecmp(value, "HDRS") != 0))
			return SMTP_PE_PARAM_VALUE;
		p->ret = value;
	} else if (strcasecmp(key, "ENVID") == 0) {
		if (p->envid != NULL || !smtp_value_ok(value) || strlen(value) > 100)
			return SMTP_PE_PARAM_VALUE;
		p->envid = value;
	} else if (strcasecmp(key, "AUTH") == 0) {
		if (p->auth != NULL || !smtp_value_ok(value))
			return SMTP_PE_PARAM_VALUE;
		p->auth = value;
	} else {
		return SMTP_PE_PARAM;
	}
	return 0;
}

static int smtp_rcpt_param(const char *key, char *value, struct smtp_params *p)
{
	if (strcasecmp(key, "NOTIFY") == 0) {
		if (p->notify != 0 || !smtp_value_ok(value) || smtp_notify(value, &p->notify) < 0)
			return SMTP_PE_PARAM_VALUE;
	} else if (strcasecmp(key, "ORCPT") == 0) {
		const char *semi = value != NULL ? strchr(value, ';') : NULL;

		if (p->orcpt != NULL || !smtp_value_ok(value) || semi == NULL ||
		    semi == value || semi[1] == '\0' || strlen(value) > 500)
			return SMTP_PE_PARAM_VALUE;
		p->orcpt = value;
	} else {
		return SMTP_PE_PARAM;
	}
	return 0;
}

typedef int smtp_param_fn(const char *key, char *value, struct smtp_params *p);

/* " KEY[=VALUE]" pairs, each after one space (RFC 5321 4.1.2); the
 * pieces are cut in place, so values stay valid with the line. */
static int smtp_params_parse(char *s, smtp_param_fn *fn, struct smtp_params *p,
			     const char **error_r)
{
	if (*s == '\0')
		return 0;
	if (*s != ' ') {
		*error_r = "Syntax error in parameters";
		return SMTP_PE_PARAM_VALUE;
	}
	for (char *key = s + 1; key != NULL;) {
		char *value = NULL, *eq, *next = strchr(key, ' ');
		int r;

		if (next != NULL)
			*next++ = '\0';
		eq = strchr(key, '=');
		if (eq != NULL) {
			*eq = '\0';
			value = eq + 1;
		}
		if (!smtp_keyword_ok(key)) {
			*error_r = "Syntax error in parameters";
			return SMTP_PE_PARAM_VALUE;
		}
		r = fn(key, value, p);
		if (r < 0) {
			*error_r = r == SMTP_PE_PARAM ? "Unsupported parameter"
				: "Bad parameter value";
			return r;
		}
		key = next;
	}
	return 0;
}

static int smtp_parse_path(char *args, const char *prefix, unsigned flags,
			   struct addr *addr_r, char **rest_r, const char **error_r)
{
	size_t plen = strlen(prefix), consumed;

	if (strncasecmp(args, prefix, plen) != 0) {
		*error_r = "Syntax error";
		return SMTP_PE_SYNTAX;
	}
	args += plen;
	if (*args == ' ')   /* "MAIL FROM: <a@b>": common, harmless */
		args++;
	if (addr_parse_path(args, strlen(args), flags | ADDR_ALLOW_UTF8, addr_r,
			    &consumed, error_r) != 1) {
		if (*error_r == NULL)
			*error_r = "Bad address syntax";
		return SMTP_PE_ADDR;
	}
	*rest_r = args + consumed;
	return 0;
}

int smtp_parse_mail(char *args, struct addr *addr_r, struct smtp_params *params_r,
		    const char **error_r)
{
	char *rest;
	int r;

	memset(params_r, 0, sizeof(*params_r));
	*error_r = NULL;
	r = smtp_parse_path(args, "FROM:", ADDR_ALLOW_NULL, addr_r, &rest, error_r);
	if (r < 0)
		return r;
	r = smtp_params_parse(rest, smtp_mail_param, params_r, error_r);
	if (r == 0 && addr_r->utf8 && !params_r->smtputf8) {
		*error_r = "UTF-8 address without SMTPUTF8";
		r = SMTP_PE_UTF8;
	}
	if (r < 0)
		addr_free(addr_r);
	return r;
}

int smtp_parse_rcpt(char *args, bool smtputf8_txn, struct addr *addr_r,
		    struct smtp_params *params_r, const char **error_r)
{
	char *rest;
	int r;

	memset(params_r, 0, sizeof(*params_r));
	*error_r = NULL;
	r = smtp_parse_path(args, "TO:", ADDR_ALLOW_POSTMASTER, addr_r, &rest, error_r);
	if (r < 0)
		return r;
	r = smtp_params_parse(rest, smtp_rcpt_param, params_r, error_r);
	if (r == 0 && addr_r->utf8 && !smtputf8_txn) {
		*error_r = "UTF-8 address without SMTPUTF8";
		r = SMTP_PE_UTF8;
	}
	if (r < 0)
		addr_free(addr_r);
	return r;
}

int smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r)
{
	char num[21];
	const char *sp = strchr(args, ' ');
	size_t n = sp != NULL ? (size_t)(sp - args) : strlen(args);

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, args, n);
	num[n] = '\0';
	if (smtp_number(num, size_r) < 0)
		return -1;
	*last_r = false;
	if (sp == NULL)
		return 0;
	if (strcasecmp(sp + 1, "LAST") != 0)
		return -1;
	*last_r = true;
	return 0;
}
