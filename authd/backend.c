#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "xalloc.h"

void authd_user_free(struct authd_user *u)
{
	if (u == NULL)
		return;
	free(u->user);
	if (u->password != NULL)
		memset(u->password, 0, strlen(u->password));
	free(u->password);
	free(u->maildir);
	memset(u, 0, sizeof(*u));
}

void authd_domain_free(struct authd_domain *d)
{
	if (d == NULL)
		return;
	free(d->alias_target);
	memset(d, 0, sizeof(*d));
}

void authd_targets_add(struct authd_targets *t, const char *addr)
{
	t->items = xreallocarray(t->items, t->count + 1, sizeof(*t->items));
	t->items[t->count++] = xstrdup(addr);
}

void authd_targets_add_list(struct authd_targets *t, const char *list)
{
	static const char sep[] = ", \t\r\n";

	for (const char *p = list + strspn(list, sep); *p != '\0'; p += strspn(p, sep)) {
		size_t len = strcspn(p, sep);
		char *one = xstrndup(p, len);

		authd_targets_add(t, one);
		free(one);
		p += len;
	}
}

void authd_targets_free(struct authd_targets *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->items[i]);
	free(t->items);
	t->items = NULL;
	t->count = 0;
}
