#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-list.h"
#include "imap-test-util.h"

/* ---- arguments ---- */

static bool dump_utf8;
static bool dump_lsub;

static char *list_args_dump(const struct imap_command *cmd)
{
	struct imap_list_args a;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (cmd == NULL) {
		buf_append_str(&b, "no command");
	} else if (imap_list_args_parse(cmd->args, cmd->count, dump_lsub, dump_utf8, &a,
					&error) < 0) {
		buf_printf(&b, "ERR %s", error);
	} else {
		buf_printf(&b, "sel=%#x ret=%#x st=%#x%s", a.select, a.ret, a.status_items,
			   a.delimiter_query ? " delim" : "");
		for (size_t i = 0; i < a.pattern_count; i++)
			buf_printf(&b, " [%s]", a.patterns[i]);
		imap_list_args_free(&a);
	}
	return buf_steal(&b);
}

static void check_args(bool lsub, const char *line, const char *want)
{
	char *got;

	dump_lsub = lsub;
	got = imap_test_feeds(line, NULL, dump_utf8, 0, list_args_dump);
	CHECK_STR(got, want);
	free(got);
}

static void test_args(void)
{
	dump_utf8 = false;
	check_args(false, "a LIST \"\" *\r\n", "sel=0 ret=0 st=0 [*]");
	check_args(false, "a LIST \"\" \"\"\r\n", "sel=0 ret=0 st=0 delim");
	check_args(false, "a LIST inbox \"\"\r\n", "sel=0 ret=0 st=0 delim");
	check_args(false, "a LIST \"A.\" %\r\n", "sel=0 ret=0 st=0 [A.%]");
	check_args(false, "a LIST \"\" inbox.%\r\n", "sel=0 ret=0 st=0 [INBOX.%]");
	check_args(false, "a LIST \"\" inboxes\r\n", "sel=0 ret=0 st=0 [inboxes]");
	check_args(false, "a LIST \"\" caf&AOk-*\r\n", "sel=0 ret=0 st=0 [caf\xc3\xa9*]");
	/* not mUTF-7: kept as it is */
	check_args(false, "a LIST \"\" &AOk*\r\n", "sel=0 ret=0 st=0 [&AOk*]");
	check_args(false, "a LIST \"\" {1}\r\n*\r\n", "sel=0 ret=0 st=0 [*]");
	check_args(false, "a LIST (SUBSCRIBED) \"\" *\r\n", "sel=0x1 ret=0x1 st=0 [*]");
	check_args(false, "a LIST (subscribed RECURSIVEMATCH) \"\" %\r\n",
		   "sel=0x5 ret=0x1 st=0 [%]");
	check_args(false, "a LIST (SPECIAL-USE) \"\" *\r\n", "sel=0x8 ret=0x4 st=0 [*]");
	check_args(false, "a LIST (REMOTE) \"\" *\r\n", "sel=0x2 ret=0 st=0 [*]");
	check_args(false, "a LIST () \"\" *\r\n", "sel=0 ret=0 st=0 [*]");
	check_args(false, "a LIST \"\" (INBOX Sent \"x y\")\r\n",
		   "sel=0 ret=0 st=0 [INBOX] [Sent] [x y]");
	check_args(false, "a LIST \"A.\" (b c)\r\n", "sel=0 ret=0 st=0 [A.b] [A.c]");
	check_args(false, "a LIST \"\" * RETURN (CHILDREN SUBSCRIBED special-use)\r\n",
		   "sel=0 ret=0x7 st=0 [*]");
	check_args(false, "a LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN SIZE))\r\n",
		   "sel=0 ret=0x8 st=0x31 [%]");
	check_args(false, "a LIST \"\" % RETURN ()\r\n", "sel=0 ret=0 st=0 [%]");

	check_args(false, "a LIST\r\n", "ERR LIST needs a reference and a pattern");
	check_args(false, "a LIST \"\"\r\n", "ERR LIST needs a reference and a pattern");
	check_args(false, "a LIST (SUBSCRIBED) \"\"\r\n", "ERR LIST needs a reference and a pattern");
	check_args(false, "a LIST (RECURSIVEMATCH) \"\" *\r\n",
		   "ERR RECURSIVEMATCH must not be the only selection option");
	check_args(false, "a LIST (RECURSIVEMATCH REMOTE) \"\" *\r\n",
		   "ERR RECURSIVEMATCH must not be the only selection option");
	check_args(false, "a LIST (FOO) \"\" *\r\n", "ERR Unknown selection option");
	check_args(false, "a LIST ((SUBSCRIBED)) \"\" *\r\n", "ERR Unknown selection option");
	check_args(false, "a LIST \"\" * RETURN (FOO)\r\n", "ERR Unknown return option");
	check_args(false, "a LIST \"\" * RETURN (STATUS)\r\n",
		   "ERR STATUS return option needs a list of items");
	check_args(false, "a LIST \"\" * RETURN (STATUS ())\r\n", "ERR Empty status item list");
	check_args(false, "a LIST \"\" * RETURN (STATUS (FOO))\r\n", "ERR Unknown status item");
	check_args(false, "a LIST \"\" * RETURN (STATUS MESSAGES)\r\n",
		   "ERR Status items must be a parenthesized list");
	check_args(false, "a LIST \"\" * RETURN CHILDREN\r\n", "ERR Expected RETURN (options)");
	check_args(false, "a LIST \"\" * FOO (CHILDREN)\r\n", "ERR Expected RETURN (options)");
	check_args(false, "a LIST \"\" * RETURN (CHILDREN) x\r\n", "ERR Expected RETURN (options)");
	check_args(false, "a LIST \"\" ()\r\n", "ERR Empty pattern list");
	check_args(false, "a LIST \"\" ((x))\r\n", "ERR Invalid pattern");
	check_args(false, "a LIST (x) y\r\n", "ERR Unknown selection option");
	check_args(false, "a LIST () (x) y\r\n", "ERR Invalid reference name");

	check_args(true, "a LSUB \"\" *\r\n", "sel=0 ret=0 st=0 [*]");
	check_args(true, "a LSUB \"\" \"\"\r\n", "sel=0 ret=0 st=0 delim");
	check_args(true, "a LSUB (SUBSCRIBED) \"\" *\r\n", "ERR Invalid reference name");
	check_args(true, "a LSUB \"\" (a b)\r\n", "ERR Invalid pattern");
	check_args(true, "a LSUB \"\" * RETURN (CHILDREN)\r\n", "ERR Too many arguments");
	check_args(true, "a LSUB \"\"\r\n", "ERR LSUB needs a reference and a pattern");

	/* UTF8=ACCEPT: patterns are UTF-8, "&" is itself */
	dump_utf8 = true;
	check_args(false, "a LIST \"\" \"caf\xc3\xa9*\"\r\n", "sel=0 ret=0 st=0 [caf\xc3\xa9*]");
	check_args(false, "a LIST \"\" &AOk-\r\n", "sel=0 ret=0 st=0 [&AOk-]");
	dump_utf8 = false;
}

static void test_long_pattern(void)
{
	struct buf line;
	char *got;

	buf_init(&line, BUF_NO_LIMIT);
	buf_append_str(&line, "a LIST \"\" ");
	for (size_t i = 0; i < IMAP_LIST_MAX_PATTERN + 1; i++)
		buf_append_char(&line, 'x');
	buf_append_str(&line, "\r\n");
	dump_lsub = false;
	got = imap_test_drive(line.data, line.len, 0, 0, NULL, false, 0, NULL);
	free(got);
	{
		struct imap_command *cmd;

		got = imap_test_drive(line.data, line.len, 0, 0, NULL, false, 0, &cmd);
		free(got);
		got = list_args_dump(cmd);
		CHECK_STR(got, "ERR Pattern too long");
		free(got);
		imap_command_free(&cmd);
	}
	buf_free(&line);
}

/* ---- matching ---- */

static void test_match(void)
{
	CHECK(imap_list_match("*", "INBOX"));
	CHECK(imap_list_match("*", "A.B.C"));
	CHECK(imap_list_match("%", "Sent"));
	CHECK(!imap_list_match("%", "A.B"));
	CHECK(imap_list_match("%.%", "A.B"));
	CHECK(!imap_list_match("%.%", "A.B.C"));
	CHECK(imap_list_match("A.*", "A.B.C"));
	CHECK(!imap_list_match("A.*", "A"));
	CHECK(imap_list_match("A*", "A"));
	CHECK(imap_list_match("A*", "AB.C"));
	CHECK(!imap_list_match("A%", "AB.C"));
	CHECK(imap_list_match("*C", "A.B.C"));
	CHECK(imap_list_match("A%C", "ABC"));
	CHECK(!imap_list_match("A%C", "A.C"));
	CHECK(imap_list_match("A*C", "A.C"));
	CHECK(imap_list_match("%*%", "x"));
	CHECK(!imap_list_match("", "x"));
	CHECK(imap_list_match("Sent", "Sent"));
	CHECK(!imap_list_match("sent", "Sent"));
	CHECK(!imap_list_match("Sen", "Sent"));
	CHECK(!imap_list_match("Sentx", "Sent"));
	/* INBOX is case-insensitive, as a first level only */
	CHECK(imap_list_match("inb*", "INBOX"));
	CHECK(imap_list_match("inbox.%", "INBOX.x"));
	CHECK(!imap_list_match("inbox.X", "INBOX.x"));
	CHECK(!imap_list_match("inbox", "INBOXES"));
	CHECK(imap_list_match("INBOX*", "INBOXES"));
	/* UTF-8 names: one "%" takes a whole character */
	CHECK(imap_list_match("caf%", "caf\xc3\xa9"));
	CHECK(imap_list_match("\xc3\xa9%", "\xc3\xa9\xc3\xa9"));
	/* many wildcards stay linear: this would take ages by backtracking */
	{
		char name[201], pat[61];

		memset(name, 'a', 200);
		name[200] = '\0';
		for (size_t i = 0; i < 60; i += 2)
			pat[i] = '*', pat[i + 1] = 'a';
		pat[59] = 'b';
		pat[60] = '\0';
		CHECK(!imap_list_match(pat, name));
		pat[59] = 'a';
		CHECK(imap_list_match(pat, name));
	}
}

/* ---- names ---- */

static void check_name(const char *stored, bool utf8, const char *want)
{
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	imap_list_append_name(&b, stored, utf8);
	CHECK_STR(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_names(void)
{
	check_name("INBOX", false, "INBOX");
	check_name("A.B", false, "A.B");
	check_name("x y", false, "\"x y\"");
	check_name("a\"b\\c", false, "\"a\\\"b\\\\c\"");
	check_name("nil", false, "\"nil\"");
	check_name("a]b", false, "\"a]b\"");
	check_name("a(b", false, "\"a(b\"");
	check_name("caf&AOk-", false, "caf&AOk-");
	check_name("caf&AOk-", true, "\"caf\xc3\xa9\"");
	check_name("a&-b", true, "a&b");
}

/* ---- replies ---- */

static struct mbox_folder_list fixture_all, fixture_subs;

static void fixture_add(struct mbox_folder_list *l, const char *name, unsigned flags)
{
	l->v = xreallocarray(l->v, l->count + 1, sizeof(*l->v));
	l->v[l->count].name = xstrdup(name);
	l->v[l->count].flags = flags;
	l->count++;
}

static void fixture_init(void)
{
	/* as mbox_folder_list gives them: INBOX first, then by name */
	fixture_add(&fixture_all, "INBOX", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_all, "A", MBOX_FOLDER_NOSELECT | MBOX_FOLDER_CHILDREN);
	fixture_add(&fixture_all, "A.B", MBOX_FOLDER_NOSELECT | MBOX_FOLDER_CHILDREN);
	fixture_add(&fixture_all, "A.B.C", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_all, "Q", MBOX_FOLDER_CHILDREN);
	fixture_add(&fixture_all, "Q.R", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_all, "Sent", MBOX_FOLDER_SENT | MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_all, "Trash", MBOX_FOLDER_TRASH);
	fixture_add(&fixture_all, "caf&AOk-", 0);
	fixture_add(&fixture_all, "x y", 0);

	fixture_add(&fixture_subs, "INBOX", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_subs, "A.B.C", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_subs, "Q.R", MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_subs, "Sent", MBOX_FOLDER_SENT | MBOX_FOLDER_SUBSCRIBED);
	fixture_add(&fixture_subs, "gone.deep",
		    MBOX_FOLDER_SUBSCRIBED | MBOX_FOLDER_NONEXISTENT);
}

static int fake_status(void *ctx, const char *name, struct mbox_status *st_r)
{
	(void)ctx;
	memset(st_r, 0, sizeof(*st_r));
	if (strcmp(name, "Trash") == 0)
		return 0;   /* deleted meanwhile */
	st_r->messages = (uint32_t)strlen(name);
	st_r->unseen = 1;
	st_r->size = 1000;
	return 1;
}

static void check_build(bool lsub, bool utf8, const char *args, const char *want)
{
	struct imap_command *cmd;
	struct imap_list_args a;
	const char *error = NULL;
	struct buf out;
	char *line = xasprintf("t %s %s\r\n", lsub ? "LSUB" : "LIST", args);
	char *log = imap_test_drive(line, strlen(line), 0, 0, NULL, utf8, 0, &cmd);

	buf_init(&out, BUF_NO_LIMIT);
	CHECK(cmd != NULL);
	if (cmd != NULL && imap_list_args_parse(cmd->args, cmd->count, lsub, utf8, &a, &error) == 0) {
		imap_list_build(&a, &fixture_all, &fixture_subs, utf8, fake_status, NULL, &out);
		imap_list_args_free(&a);
	} else {
		buf_printf(&out, "ERR %s", error != NULL ? error : "parse");
	}
	CHECK_STR(buf_cstr(&out), want);
	buf_free(&out);
	imap_command_free(&cmd);
	free(log);
	free(line);
}

static void test_build(void)
{
	fixture_init();
	check_build(false, false, "\"\" *",
		    "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A.B\r\n"
		    "* LIST (\\HasNoChildren) \".\" A.B.C\r\n"
		    "* LIST (\\HasChildren) \".\" Q\r\n"
		    "* LIST (\\HasNoChildren) \".\" Q.R\r\n"
		    "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n"
		    "* LIST (\\HasNoChildren) \".\" caf&AOk-\r\n"
		    "* LIST (\\HasNoChildren) \".\" \"x y\"\r\n");
	check_build(false, false, "\"\" %",
		    "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A\r\n"
		    "* LIST (\\HasChildren) \".\" Q\r\n"
		    "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n"
		    "* LIST (\\HasNoChildren) \".\" caf&AOk-\r\n"
		    "* LIST (\\HasNoChildren) \".\" \"x y\"\r\n");
	check_build(false, false, "\"A.\" %", "* LIST (\\Noselect \\HasChildren) \".\" A.B\r\n");
	check_build(false, false, "\"\" \"\"", "* LIST (\\Noselect) \".\" \"\"\r\n");
	check_build(false, false, "\"\" inbox", "* LIST (\\HasNoChildren) \".\" INBOX\r\n");
	check_build(false, false, "\"\" nothing", "");
	check_build(false, false, "\"\" (Sent inbox Sent)",
		    "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n");
	check_build(false, true, "\"\" caf*", "* LIST (\\HasNoChildren) \".\" \"caf\xc3\xa9\"\r\n");
	check_build(false, false, "\"\" caf%", "* LIST (\\HasNoChildren) \".\" caf&AOk-\r\n");
	check_build(false, false, "(SPECIAL-USE) \"\" *",
		    "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n");
	check_build(false, false, "\"\" % RETURN (SUBSCRIBED)",
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A\r\n"
		    "* LIST (\\HasChildren) \".\" Q\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n"
		    "* LIST (\\HasNoChildren) \".\" caf&AOk-\r\n"
		    "* LIST (\\HasNoChildren) \".\" \"x y\"\r\n");
	check_build(false, false, "(SUBSCRIBED) \"\" *",
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" A.B.C\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" Q.R\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\NonExistent \\Subscribed \\HasNoChildren) \".\" gone.deep\r\n");
	check_build(false, false, "(SUBSCRIBED) \"\" %",
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" Sent\r\n");
	/* RFC 5258 3.5: parents of subscribed names with CHILDINFO */
	check_build(false, false, "(SUBSCRIBED RECURSIVEMATCH) \"\" %",
		    "* LIST (\\Subscribed \\HasNoChildren) \".\" INBOX\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
		    "* LIST (\\HasChildren) \".\" Q (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
		    "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* LIST (\\NonExistent \\HasChildren) \".\" gone (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
	check_build(false, false, "\"\" % RETURN (STATUS (MESSAGES UNSEEN SIZE))",
		    "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
		    "* STATUS INBOX (MESSAGES 5 UNSEEN 1 SIZE 1000)\r\n"
		    "* LIST (\\Noselect \\HasChildren) \".\" A\r\n"
		    "* LIST (\\HasChildren) \".\" Q\r\n"
		    "* STATUS Q (MESSAGES 1 UNSEEN 1 SIZE 1000)\r\n"
		    "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"
		    "* STATUS Sent (MESSAGES 4 UNSEEN 1 SIZE 1000)\r\n"
		    "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n"
		    "* LIST (\\HasNoChildren) \".\" caf&AOk-\r\n"
		    "* STATUS caf&AOk- (MESSAGES 8 UNSEEN 1 SIZE 1000)\r\n"
		    "* LIST (\\HasNoChildren) \".\" \"x y\"\r\n"
		    "* STATUS \"x y\" (MESSAGES 3 UNSEEN 1 SIZE 1000)\r\n");
	/* LSUB: subscribed names, "%" shows the levels above as \Noselect */
	check_build(true, false, "\"\" *",
		    "* LSUB () \".\" INBOX\r\n"
		    "* LSUB () \".\" A.B.C\r\n"
		    "* LSUB () \".\" Q.R\r\n"
		    "* LSUB () \".\" Sent\r\n"
		    "* LSUB () \".\" gone.deep\r\n");
	check_build(true, false, "\"\" %",
		    "* LSUB () \".\" INBOX\r\n"
		    "* LSUB (\\Noselect) \".\" A\r\n"
		    "* LSUB (\\Noselect) \".\" Q\r\n"
		    "* LSUB () \".\" Sent\r\n"
		    "* LSUB (\\Noselect) \".\" gone\r\n");
	check_build(true, false, "\"A.\" %", "* LSUB (\\Noselect) \".\" A.B\r\n");
	check_build(true, false, "\"\" A.*", "* LSUB () \".\" A.B.C\r\n");
	check_build(true, false, "\"\" \"\"", "* LSUB (\\Noselect) \".\" \"\"\r\n");
	mbox_folder_list_free(&fixture_all);
	mbox_folder_list_free(&fixture_subs);
}

/* ---- mailbox name arguments, refusals, special use ---- */

static void check_mailbox_arg(const char *line, bool utf8, int want_ret, const char *want)
{
	struct imap_command *cmd;
	char *log = imap_test_drive(line, strlen(line), 0, 0, NULL, utf8, 0, &cmd);
	const char *error = NULL;
	char *stored = NULL;
	int ret;

	CHECK(cmd != NULL && cmd->count == 1);
	if (cmd != NULL && cmd->count == 1) {
		ret = imap_mailbox_arg(&cmd->args[0], utf8, &stored, &error);
		CHECK_INT(ret, want_ret);
		CHECK_STR(ret > 0 ? stored : error, want);
	}
	free(stored);
	imap_command_free(&cmd);
	free(log);
}

static void test_mailbox_arg(void)
{
	check_mailbox_arg("a X inbox\r\n", false, 1, "INBOX");
	check_mailbox_arg("a X Inbox.Sub\r\n", false, 1, "INBOX.Sub");
	check_mailbox_arg("a X \"x y\"\r\n", false, 1, "x y");
	check_mailbox_arg("a X caf&AOk-\r\n", false, 1, "caf&AOk-");
	check_mailbox_arg("a X \"caf\xc3\xa9\"\r\n", true, 1, "caf&AOk-");
	check_mailbox_arg("a X &-\r\n", true, 1, "&--");
	/* traversal and tricks are refused before any path is built */
	check_mailbox_arg("a X ..\r\n", false, 0, "Mailbox name has an empty level");
	check_mailbox_arg("a X \"../etc\"\r\n", false, 0, "Mailbox name contains /, % or *");
	check_mailbox_arg("a X .hidden\r\n", false, 0, "Mailbox name has an empty level");
	check_mailbox_arg("a X a..b\r\n", false, 0, "Mailbox name has an empty level");
	check_mailbox_arg("a X a/b\r\n", false, 0, "Mailbox name contains /, % or *");
	check_mailbox_arg("a X ~root\r\n", false, 0, "Mailbox name level starts with ~");
	check_mailbox_arg("a X \"\"\r\n", false, 0, "Empty mailbox name");
	check_mailbox_arg("a X &Jjo\r\n", false, 0, "mUTF-7: unterminated or invalid BASE64 run");
	check_mailbox_arg("a X (list)\r\n", false, -1, "Invalid mailbox name argument");
	check_mailbox_arg("a X a*\r\n", false, -1, "Invalid mailbox name argument");
}

static void test_codes(void)
{
	CHECK_STR(imap_mbox_error_code("Mailbox already exists"), "[ALREADYEXISTS] ");
	CHECK_STR(imap_mbox_error_code("Target mailbox already exists"), "[ALREADYEXISTS] ");
	CHECK_STR(imap_mbox_error_code("Mailbox doesn't exist"), "[NONEXISTENT] ");
	CHECK_STR(imap_mbox_error_code("Mailbox has children, delete them first"),
		  "[HASCHILDREN] ");
	CHECK_STR(imap_mbox_error_code("INBOX cannot be deleted"), "[CANNOT] ");
	CHECK_STR(imap_mbox_error_code("[OVERQUOTA] Quota exceeded"), "");
	CHECK_STR(imap_mbox_error_code("something else"), "");
	CHECK_INT(imap_special_use_parse("\\sent"), MBOX_FOLDER_SENT);
	CHECK_INT(imap_special_use_parse("\\Archive"), MBOX_FOLDER_ARCHIVE);
	CHECK_INT(imap_special_use_parse("\\All"), 0);
	CHECK_INT(imap_special_use_of_name("Junk"), MBOX_FOLDER_JUNK);
	CHECK_INT(imap_special_use_of_name("junk"), 0);
	CHECK_INT(imap_special_use_of_name("INBOX"), 0);
}

static void check_quota(uint64_t lim_bytes, uint64_t lim_count, int64_t bytes, int64_t count,
			const char *want)
{
	struct maildir_quota q = { { lim_bytes, lim_count }, bytes, count, 0 };
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	imap_quota_format(&b, &q);
	CHECK_STR(buf_cstr(&b), want);
	buf_free(&b);
}

static void test_quota(void)
{
	check_quota(0, 0, 5000, 3, "* QUOTA \"\" ()\r\n");
	check_quota(1048576, 0, 5000, 3, "* QUOTA \"\" (STORAGE 4 1024)\r\n");
	check_quota(0, 100, 5000, 3, "* QUOTA \"\" (MESSAGE 3 100)\r\n");
	check_quota(1048576, 100, 3 * 1048576, 300,
		    "* QUOTA \"\" (STORAGE 3072 1024 MESSAGE 300 100)\r\n");
	/* a maildirsize that went below zero */
	check_quota(2048, 10, -500, -2, "* QUOTA \"\" (STORAGE 0 2 MESSAGE 0 10)\r\n");
}

int main(void)
{
	test_run("quota replies", test_quota);
	test_run("mailbox name arguments", test_mailbox_arg);
	test_run("refusal codes and special use", test_codes);
	test_run("list arguments", test_args);
	test_run("list pattern too long", test_long_pattern);
	test_run("list pattern matching", test_match);
	test_run("list mailbox names in replies", test_names);
	test_run("list replies", test_build);
	return test_done();
}
