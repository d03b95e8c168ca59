#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dotlock.h"
#include "imap-args.h"
#include "imap-list.h"
#include "imap-special-use.h"
#include "maildir.h"
#include "xalloc.h"

static const struct dotlock_settings imap_special_use_lock_set = {
	DOTLOCK_DEFAULT_TIMEOUT_MSECS, DOTLOCK_DEFAULT_STALE_SECS
};

static void map_put(struct imap_special_use_map *map, const char *name, size_t len,
		    unsigned flags)
{
	for (size_t i = 0; i < map->count; i++) {
		if (strncmp(map->names[i], name, len) == 0 && map->names[i][len] == '\0') {
			map->flags[i] = flags;
			return;
		}
	}
	map->names = xreallocarray(map->names, map->count + 1, sizeof(*map->names));
	map->flags = xreallocarray(map->flags, map->count + 1, sizeof(*map->flags));
	map->names[map->count] = xstrndup(name, len);
	map->flags[map->count] = flags;
	map->count++;
}

/* Lines that do not parse (or name no attribute we know) are dropped. */
static void map_parse(struct imap_special_use_map *map, const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl == NULL ? end : nl;
		const char *tab = memchr(p, '\t', (size_t)(line_end - p));

		if (tab != NULL && tab > p) {
			char *attrs = xstrndup(tab + 1, (size_t)(line_end - tab - 1));
			unsigned flags = 0;
			char *save = NULL;

			for (char *w = strtok_r(attrs, " ", &save); w != NULL;
			     w = strtok_r(NULL, " ", &save))
				flags |= imap_special_use_parse(w);
			free(attrs);
			if (flags != 0)
				map_put(map, p, (size_t)(tab - p), flags);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

int imap_special_use_read(const char *root, struct imap_special_use_map *map,
			  const char **error_r)
{
	char *path = xasprintf("%s/" IMAP_SPECIAL_USE_FILE, root);
	struct buf data;
	int ret;

	memset(map, 0, sizeof(*map));
	buf_init(&data, 4 * 1024 * 1024);
	ret = maildir_file_read(path, &data, error_r);
	if (ret > 0)
		map_parse(map, data.data, data.len);
	buf_free(&data);
	free(path);
	return ret < 0 ? -1 : 0;
}

void imap_special_use_map_free(struct imap_special_use_map *map)
{
	for (size_t i = 0; i < map->count; i++)
		free(map->names[i]);
	free(map->names);
	free(map->flags);
	memset(map, 0, sizeof(*map));
}

unsigned imap_special_use_lookup(const struct imap_special_use_map *map, const char *name)
{
	for (size_t i = 0; i < map->count; i++) {
		if (strcmp(map->names[i], name) == 0)
			return map->flags[i];
	}
	return 0;
}

void imap_special_use_apply(const struct imap_special_use_map *map,
			    struct mbox_folder_list *list)
{
	if (map->count == 0)
		return;
	for (size_t i = 0; i < list->count; i++) {
		/* a subscription without its folder has no special use */
		if ((list->v[i].flags & (MBOX_FOLDER_NONEXISTENT | MBOX_FOLDER_NOSELECT)) == 0)
			list->v[i].flags |= imap_special_use_lookup(map, list->v[i].name);
	}
}

static int map_write(const char *root, const struct imap_special_use_map *map,
		     const char **error_r)
{
	struct buf out;
	int ret;

	buf_init(&out, BUF_NO_LIMIT);
	for (size_t i = 0; i < map->count; i++) {
		const char *sp = "";

		if (map->flags[i] == 0)
			continue;
		buf_printf(&out, "%s\t", map->names[i]);
		for (unsigned bit = 1; bit != 0 && bit <= map->flags[i]; bit <<= 1) {
			const char *attr = imap_special_use_name(bit);

			if ((map->flags[i] & bit) != 0 && attr != NULL)
				buf_printf(&out, "%s%s", sp, attr), sp = " ";
		}
		buf_append_char(&out, '\n');
	}
	ret = maildir_file_replace(root, IMAP_SPECIAL_USE_FILE, out.data, out.len, error_r);
	buf_free(&out);
	return ret;
}

/* Re-read, change, write, under the file's dotlock: two sessions changing
 * it at once both count. */
static int map_change(const char *root, const char *name, unsigned flags, const char *to,
		      const char **error_r)
{
	char *path = xasprintf("%s/" IMAP_SPECIAL_USE_FILE, root);
	struct imap_special_use_map map;
	struct dotlock *lock;
	const char *release_error;
	bool changed = false;
	int ret;

	ret = dotlock_create(path, &imap_special_use_lock_set, &lock, error_r);
	free(path);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "the special-use file is locked by someone else";
		return -1;
	}
	ret = imap_special_use_read(root, &map, error_r);
	if (ret == 0 && to == NULL) {
		changed = imap_special_use_lookup(&map, name) != flags;
		map_put(&map, name, strlen(name), flags);
	} else if (ret == 0) {
		size_t len = strlen(name), to_len = strlen(to);
		bool inbox = strcmp(name, "INBOX") == 0;

		/* Entries left under the new name by folders gone meanwhile
		 * (deleted by other software) are stale. */
		for (size_t i = 0; i < map.count; i++) {
			const char *n = map.names[i];

			if (strncmp(n, to, to_len) == 0 &&
			    (n[to_len] == '\0' || n[to_len] == IMAP_MAILBOX_SEP) && map.flags[i] != 0) {
				map.flags[i] = 0;
				changed = true;
			}
		}
		for (size_t i = 0; i < map.count; i++) {
			const char *n = map.names[i];

			if (strncmp(n, name, len) != 0 ||
			    (n[len] != '\0' && (inbox || n[len] != IMAP_MAILBOX_SEP)))
				continue;
			char *moved = xasprintf("%s%s", to, n + len);

			free(map.names[i]);
			map.names[i] = moved;
			changed = true;
		}
	}
	if (ret == 0 && changed)
		ret = map_write(root, &map, error_r);
	imap_special_use_map_free(&map);
	if (dotlock_release(&lock, &release_error) <= 0 && ret == 0) {
		*error_r = release_error;
		ret = -1;
	}
	return ret;
}

int imap_special_use_set(const char *root, const char *name, unsigned flags,
			 const char **error_r)
{
	return map_change(root, name, flags, NULL, error_r);
}

int imap_special_use_rename(const char *root, const char *from, const char *to,
			    const char **error_r)
{
	struct imap_special_use_map map;
	size_t count;

	/* no file, no lock: the usual case */
	if (imap_special_use_read(root, &map, error_r) < 0)
		return -1;
	count = map.count;
	imap_special_use_map_free(&map);
	return count == 0 ? 0 : map_change(root, from, 0, to, error_r);
}
