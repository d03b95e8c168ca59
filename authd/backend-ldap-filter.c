#include <string.h>

#include "backend-ldap-filter.h"

/* Bytes that end or change an assertion value, plus control characters,
 * which no address holds and which make log lines ambiguous. */
static int filter_needs_escape(unsigned char c)
{
	return c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f;
}

int authd_ldap_filter_escape(struct buf *out, const char *value, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = out->len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		char esc[3] = { '\\', hex[c >> 4], hex[c & 0x0f] };
		int rc = filter_needs_escape(c) ? buf_append(out, esc, sizeof(esc))
						: buf_append_char(out, (char)c);

		if (rc < 0) {
			buf_truncate(out, start);
			return -1;
		}
	}
	return 0;
}

int authd_ldap_filter_check(const char *tmpl, const char **error_r)
{
	int depth = 0;

	if (tmpl[0] != '(') {
		*error_r = "a filter starts with '('";
		return -1;
	}
	for (const char *p = tmpl; *p != '\0'; p++) {
		if (*p == '%') {
			p++;
			if (*p == '\0' || strchr("suld%", *p) == NULL) {
				*error_r = "unknown placeholder (known: %s %u %l %d %%)";
				return -1;
			}
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth < 0) {
			*error_r = "unbalanced ')'";
			return -1;
		}
	}
	if (depth != 0) {
		*error_r = "unbalanced '('";
		return -1;
	}
	return 0;
}

/* The value a placeholder stands for, as a byte range. */
static void filter_arg(char ph, const struct authd_ldap_filter_args *args,
		       const char **value_r, size_t *len_r)
{
	const char *user = args->user != NULL ? args->user : "";
	const char *at = strrchr(user, '@');

	switch (ph) {
	case 's':
		*value_r = args->key != NULL ? args->key : "";
		*len_r = strlen(*value_r);
		break;
	case 'u':
		*value_r = user;
		*len_r = strlen(user);
		break;
	case 'l':
		*value_r = user;
		*len_r = at != NULL ? (size_t)(at - user) : 0;
		break;
	default: /* 'd' */
		*value_r = at != NULL ? at + 1 : user;
		*len_r = strlen(*value_r);
		break;
	}
}

int authd_ldap_filter_expand(struct buf *out, const char *tmpl,
			     const struct authd_ldap_filter_args *args,
			     const char **error_r)
{
	const char *value;
	size_t len;
	int rc = 0;

	if (authd_ldap_filter_check(tmpl, error_r) < 0)
		return -1;
	buf_reset(out);
	out->limit = AUTHD_LDAP_FILTER_MAX;
	for (const char *p = tmpl; *p != '\0' && rc == 0; p++) {
		if (*p != '%') {
			rc = buf_append_char(out, *p);
			continue;
		}
		p++;
		if (*p == '%') {
			rc = buf_append_char(out, '%');
			continue;
		}
		filter_arg(*p, args, &value, &len);
		rc = authd_ldap_filter_escape(out, value, len);
	}
	if (rc < 0) {
		*error_r = "filter too long";
		return -1;
	}
	return 0;
}
