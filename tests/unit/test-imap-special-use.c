#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "imap-special-use.h"
#include "maildir.h"
#include "test.h"
#include "xalloc.h"

/* CREATE-SPECIAL-USE's file: set, look up, rename with children, drop,
 * and what is written. */

static char test_dir[] = "/tmp/test-imap-special-use.XXXXXX";

static char *file_text(void)
{
	char *path = xasprintf("%s/" IMAP_SPECIAL_USE_FILE, test_dir);
	struct buf b;
	const char *error;

	buf_init(&b, BUF_NO_LIMIT);
	if (maildir_file_read(path, &b, &error) <= 0)
		buf_append_str(&b, "(none)");
	free(path);
	return buf_steal(&b);
}

#define CHECK_FILE(want) do { \
	char *text_ = file_text(); \
	CHECK_STR(text_, want); \
	free(text_); \
} while (0)

static unsigned lookup(const char *name)
{
	struct imap_special_use_map map;
	const char *error;
	unsigned flags;

	CHECK_INT(imap_special_use_read(test_dir, &map, &error), 0);
	flags = imap_special_use_lookup(&map, name);
	imap_special_use_map_free(&map);
	return flags;
}

static void test_set_rename_drop(void)
{
	const char *error;

	CHECK_INT(lookup("x"), 0);
	CHECK_FILE("(none)");
	/* no file: a rename writes nothing */
	CHECK_INT(imap_special_use_rename(test_dir, "a", "b", &error), 0);
	CHECK_FILE("(none)");
	CHECK_INT(imap_special_use_set(test_dir, "Sent Items", MBOX_FOLDER_SENT, &error), 0);
	CHECK_INT(imap_special_use_set(test_dir, "Box.Old", MBOX_FOLDER_ARCHIVE | MBOX_FOLDER_JUNK,
				       &error), 0);
	CHECK_INT(imap_special_use_set(test_dir, "Box", MBOX_FOLDER_TRASH, &error), 0);
	CHECK_INT(imap_special_use_set(test_dir, "Boxer", MBOX_FOLDER_DRAFTS, &error), 0);
	CHECK_FILE("Sent Items\t\\Sent\nBox.Old\t\\Junk \\Archive\nBox\t\\Trash\nBoxer\t\\Drafts\n");
	CHECK_INT(lookup("Sent Items"), MBOX_FOLDER_SENT);
	CHECK_INT(lookup("Box.Old"), MBOX_FOLDER_ARCHIVE | MBOX_FOLDER_JUNK);
	/* children move along, a name that only starts alike does not;
	 * what the new names held before is dropped */
	CHECK_INT(imap_special_use_set(test_dir, "Crate.Old", MBOX_FOLDER_SENT, &error), 0);
	CHECK_INT(imap_special_use_rename(test_dir, "Box", "Crate", &error), 0);
	CHECK_FILE("Sent Items\t\\Sent\nCrate.Old\t\\Junk \\Archive\nCrate\t\\Trash\n"
		   "Boxer\t\\Drafts\n");
	CHECK_INT(imap_special_use_set(test_dir, "Crate", 0, &error), 0);
	CHECK_FILE("Sent Items\t\\Sent\nCrate.Old\t\\Junk \\Archive\nBoxer\t\\Drafts\n");
	/* INBOX's children stay when INBOX is renamed */
	CHECK_INT(imap_special_use_set(test_dir, "INBOX.Kid", MBOX_FOLDER_TRASH, &error), 0);
	CHECK_INT(imap_special_use_rename(test_dir, "INBOX", "Old", &error), 0);
	CHECK_INT(lookup("INBOX.Kid"), MBOX_FOLDER_TRASH);
	CHECK_INT(lookup("Old.Kid"), 0);
}

static void test_parse_and_apply(void)
{
	struct imap_special_use_map map;
	struct mbox_folder folders[] = {
		{ (char *)"INBOX", 0 },
		{ (char *)"Kept", MBOX_FOLDER_CHILDREN },
		{ (char *)"Parent", MBOX_FOLDER_NOSELECT },
		{ (char *)"Ghost", MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_NONEXISTENT },
	};
	struct mbox_folder_list list = { folders, 4 };
	const char *error;

	/* malformed and unknown lines are dropped */
	static const char text[] = "Kept\t\\Sent \\Bogus\nnotab\n\tnoname\nParent\t\\Trash\n"
				   "Ghost\t\\Junk\nOnlyBogus\t\\All\nLast\t\\archive";

	CHECK_INT(maildir_file_replace(test_dir, IMAP_SPECIAL_USE_FILE, text, strlen(text),
				       &error), 0);
	CHECK_INT(imap_special_use_read(test_dir, &map, &error), 0);
	CHECK_INT(map.count, 4);
	CHECK_INT(imap_special_use_lookup(&map, "Last"), MBOX_FOLDER_ARCHIVE);
	imap_special_use_apply(&map, &list);
	CHECK_INT(folders[0].flags, 0);
	CHECK_INT(folders[1].flags, MBOX_FOLDER_CHILDREN | MBOX_FOLDER_SENT);
	/* neither a \Noselect level nor a subscription without folder */
	CHECK_INT(folders[2].flags, MBOX_FOLDER_NOSELECT);
	CHECK_INT(folders[3].flags, MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_NONEXISTENT);
	imap_special_use_map_free(&map);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

int main(void)
{
	const char *error;

	if (mkdtemp(test_dir) == NULL || maildir_create(test_dir, &error) < 0)
		return 1;
	test_run("special-use file: set, rename with children, drop", test_set_rename_drop);
	test_run("special-use file: parsing and applying to a folder list", test_parse_and_apply);
	nftw(test_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
