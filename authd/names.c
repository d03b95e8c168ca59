#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "names.h"
#include "xalloc.h"

char *authd_name_lower(const char *s)
{
	char *out = xstrdup(s);

	for (char *p = out; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return out;
}

const char *authd_name_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* "@domain": a domain alone, checked through a dummy mailbox. */
static int names_catchall(const char *s, char **out_r, const char **error_r)
{
	char *probe = xasprintf("x%s", s);
	struct addr a;
	int ret = addr_parse_mailbox(probe, ADDR_ALLOW_UTF8, &a, error_r);

	free(probe);
	if (ret < 0)
		return -1;
	*out_r = xasprintf("@%s", a.domain);
	addr_free(&a);
	return 0;
}

int authd_name_normalize(const char *name, const char *default_domain, char **out_r,
			 const char **error_r)
{
	size_t len;
	char *s;
	struct addr a;
	int ret;

	while (*name == ' ' || *name == '\t')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	if (len == 0) {
		*error_r = "empty name";
		return -1;
	}
	s = xstrndup(name, len);
	if (s[0] == '@') {
		ret = names_catchall(s, out_r, error_r);
		free(s);
		return ret;
	}
	if (strchr(s, '@') == NULL && default_domain != NULL && *default_domain != '\0') {
		char *full = xasprintf("%s@%s", s, default_domain);

		free(s);
		s = full;
	}
	ret = addr_parse_mailbox(s, ADDR_ALLOW_UTF8, &a, error_r);
	free(s);
	if (ret < 0)
		return -1;
	if (a.domain == NULL || a.domain_literal) {
		addr_free(&a);
		*error_r = "no domain";
		return -1;
	}
	*out_r = addr_to_string(&a);
	addr_free(&a);
	return 0;
}
