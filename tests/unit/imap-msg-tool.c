/* Test helper, not a test: FETCH and SEARCH (mbs/imap-msg.h) over the
 * messages of a Maildir folder, with lib/ alone standing in for the
 * mailbox layer, so tests/integration/test_fetch_search_dovecot.py can set
 * the replies beside Dovecot's for the same folder.
 *
 *	imap-msg-tool MAILDIR < commands
 *
 * UIDs come from MAILDIR/dovecot-uidlist (read, never written), keyword
 * names from dovecot-keywords, flags from the file names, INTERNALDATE
 * from the files' mtime; no message is \Recent. Each input line is one
 * command, answered as an IMAP server would answer it for the whole folder
 * (sequence numbers in UID order), then a line "." :
 *
 *	FETCH 1:* <items>	"* n FETCH (...)" per message
 *	UID FETCH 1:* <items>
 *	SEARCH <criteria>	"* SEARCH <uid> ..." (UIDs, as UID SEARCH)
 *
 * Arguments are IMAP syntax (UTF-8 allowed in quoted strings, no
 * literals). A message's bytes are read only when imap_fetch_needs_data()
 * or imap_search_needs_data() ask for them; mailbox vsize stays unknown. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-msg.h"
#include "imap-parser.h"
#include "maildir.h"
#include "maildir-uidlist.h"
#include "xalloc.h"

struct tool_box {
	char *dir;
	struct mbox_msg *msgs;
	size_t count;
	struct maildir_keywords keywords;
};

static int tool_fail(const char *what, const char *error)
{
	fprintf(stderr, "imap-msg-tool: %s: %s\n", what, error);
	return 1;
}

struct tool_file {
	char *base;   /* the name up to ':' */
	char *file;   /* "cur/<name>" or "new/<name>" */
};

static int tool_file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tool_file *)a)->base, ((const struct tool_file *)b)->base);
}

/* The files of cur/ and new/, sorted by base name (one scan each). */
static struct tool_file *tool_scan(const char *dir, size_t *count_r)
{
	static const char *const subs[] = { "cur", "new" };
	struct tool_file *files = NULL;
	size_t n = 0, alloc = 0;

	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);
		DIR *d = opendir(path);
		struct dirent *e;

		free(path);
		while (d != NULL && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (n == alloc) {
				alloc = alloc * 2 + 64;
				files = xreallocarray(files, alloc, sizeof(*files));
			}
			files[n].base = xstrndup(e->d_name, strcspn(e->d_name, ":"));
			files[n].file = xasprintf("%s/%s", subs[i], e->d_name);
			n++;
		}
		if (d != NULL)
			closedir(d);
	}
	if (n > 0)
		qsort(files, n, sizeof(*files), tool_file_cmp);
	*count_r = n;
	return files;
}

static unsigned tool_imap_flags(unsigned maildir_flags)
{
	unsigned f = 0;

	f |= (maildir_flags & MAILDIR_FLAG_SEEN) != 0 ? IMAP_FLAG_SEEN : 0;
	f |= (maildir_flags & MAILDIR_FLAG_REPLIED) != 0 ? IMAP_FLAG_ANSWERED : 0;
	f |= (maildir_flags & MAILDIR_FLAG_FLAGGED) != 0 ? IMAP_FLAG_FLAGGED : 0;
	f |= (maildir_flags & MAILDIR_FLAG_TRASHED) != 0 ? IMAP_FLAG_DELETED : 0;
	f |= (maildir_flags & MAILDIR_FLAG_DRAFT) != 0 ? IMAP_FLAG_DRAFT : 0;
	return f;
}

static int tool_load(struct tool_box *box, const char **error_r)
{
	struct maildir_uidlist list;
	struct tool_file *files;
	size_t nfiles;

	maildir_uidlist_init(&list);
	if (maildir_uidlist_read(box->dir, &list, error_r) <= 0) {
		*error_r = *error_r != NULL ? *error_r : "no dovecot-uidlist";
		return -1;
	}
	maildir_keywords_init(&box->keywords);
	if (maildir_keywords_read(box->dir, &box->keywords, error_r) < 0)
		return -1;
	files = tool_scan(box->dir, &nfiles);
	box->msgs = xcalloc(list.count + 1, sizeof(*box->msgs));
	for (size_t i = 0; i < list.count; i++) {
		struct mbox_msg *m = &box->msgs[box->count];
		struct tool_file key = { list.recs[i].base, NULL }, *found;
		char *file, *path;
		const char *slash;
		struct maildir_name name;
		struct stat st;

		found = nfiles == 0 ? NULL : bsearch(&key, files, nfiles, sizeof(*files),
						     tool_file_cmp);
		if (found == NULL)
			continue;
		file = xstrdup(found->file);
		slash = strchr(file, '/');
		path = xasprintf("%s/%s", box->dir, file);
		if (stat(path, &st) < 0 || maildir_name_parse(slash + 1, &name) < 0) {
			free(path);
			free(file);
			continue;
		}
		free(path);
		m->uid = list.recs[i].uid;
		m->flags = tool_imap_flags(name.flags.flags);
		m->keywords = name.flags.keywords;
		m->size = (uint64_t)st.st_size;
		m->internaldate = st.st_mtime;
		m->file = file;
		box->count++;
	}
	maildir_uidlist_free(&list);
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].base);
		free(files[i].file);
	}
	free(files);
	return 0;
}

static int tool_read(const struct tool_box *box, const struct mbox_msg *msg, struct buf *data)
{
	char *path = xasprintf("%s/%s", box->dir, msg->file);
	const char *error;
	int ret = maildir_file_read(path, data, &error);

	free(path);
	return ret > 0 ? 0 : -1;
}

static void tool_msg_init(struct imap_msg *m, const struct tool_box *box, size_t i)
{
	memset(m, 0, sizeof(*m));
	m->seq = (uint32_t)(i + 1);
	m->msg = &box->msgs[i];
	m->keywords = &box->keywords;
}

static void tool_fetch(const struct tool_box *box, const struct imap_command *cmd, struct buf *out)
{
	struct imap_fetch_items items;
	const char *error;
	struct buf data;

	if (cmd->count < 1 || imap_fetch_parse(cmd->args + 1, cmd->count - 1, &items, &error) < 0) {
		if (cmd->count < 1)
			error = "missing sequence set";
		buf_printf(out, "BAD %s\n", error);
		return;
	}
	buf_init(&data, BUF_NO_LIMIT);
	for (size_t i = 0; i < box->count; i++) {
		struct imap_msg m;

		tool_msg_init(&m, box, i);
		buf_reset(&data);
		if (imap_fetch_needs_data(&items, m.msg) && tool_read(box, m.msg, &data) == 0) {
			m.data = data.data;
			m.len = data.len;
		}
		imap_fetch_write(out, &items, &m, cmd->uid, false);
		imap_msg_clear(&m);
	}
	buf_free(&data);
	imap_fetch_items_free(&items);
}

static void tool_search(const struct tool_box *box, const struct imap_command *cmd,
			struct buf *out)
{
	struct imap_search_program prog;
	struct imap_search_ctx ctx;
	const char *error;
	struct buf data;

	if (imap_search_parse(cmd->args, cmd->count, &prog, &error) < 0) {
		buf_printf(out, "%s %s\n", prog.badcharset ? "NO" : "BAD", error);
		return;
	}
	ctx.max_seq = (uint32_t)box->count;
	ctx.max_uid = box->count > 0 ? box->msgs[box->count - 1].uid : 0;
	buf_init(&data, BUF_NO_LIMIT);
	buf_append_str(out, "* SEARCH");
	for (size_t i = 0; i < box->count; i++) {
		struct imap_msg m;

		tool_msg_init(&m, box, i);
		buf_reset(&data);
		if (imap_search_needs_data(&prog, m.msg) && tool_read(box, m.msg, &data) == 0) {
			m.data = data.data;
			m.len = data.len;
		}
		if (imap_search_match(&prog, &m, &ctx))
			buf_printf(out, " %u", m.msg->uid);
		imap_msg_clear(&m);
	}
	buf_append_str(out, "\r\n");
	buf_free(&data);
	imap_search_program_free(&prog);
}

static void tool_command(const struct tool_box *box, const char *line, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(NULL);
	char *full = xasprintf("t %s", line);
	struct imap_command *cmd = NULL;

	imap_parser_set_utf8(p, true);
	if (imap_parser_line(p, full, strlen(full)) == IMAP_PARSE_COMMAND)
		cmd = imap_parser_take_command(p);
	if (cmd == NULL)
		buf_printf(out, "BAD %s\n", imap_parser_error(p)->text);
	else if (strcmp(cmd->name, "FETCH") == 0)
		tool_fetch(box, cmd, out);
	else if (strcmp(cmd->name, "SEARCH") == 0)
		tool_search(box, cmd, out);
	else
		buf_append_str(out, "BAD unknown command\n");
	imap_command_free(&cmd);
	imap_parser_free(&p);
	free(full);
}

int main(int argc, char **argv)
{
	struct tool_box box;
	const char *error = NULL;
	char line[65536];
	struct buf out;

	if (argc != 2) {
		fprintf(stderr, "usage: imap-msg-tool MAILDIR < commands\n");
		return 2;
	}
	memset(&box, 0, sizeof(box));
	box.dir = argv[1];
	if (tool_load(&box, &error) < 0)
		return tool_fail(box.dir, error);
	buf_init(&out, BUF_NO_LIMIT);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		buf_reset(&out);
		tool_command(&box, line, &out);
		fwrite(out.data, 1, out.len, stdout);
		fputs(".\n", stdout);
	}
	buf_free(&out);
	for (size_t i = 0; i < box.count; i++)
		free(box.msgs[i].file);
	free(box.msgs);
	maildir_keywords_free(&box.keywords);
	return 0;
}
