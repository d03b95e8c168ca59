#include <stdlib.h>
#include <string.h>

#include "imap-test-util.h"

/* `stream` fed whole, a byte at a time and split at every position gives
 * the transcript `want`. */
static void check_feed(const char *stream, const char *want)
{
	char *got = imap_test_feeds(stream, NULL, false, 0, NULL);

	CHECK_STR(got, want);
	free(got);
}

static void check_feed_limits(const char *stream, const struct imap_parser_limits *lim,
			      bool utf8, uint64_t append_limit, const char *want)
{
	char *got = imap_test_feeds(stream, lim, utf8, append_limit, NULL);

	CHECK_STR(got, want);
	free(got);
}

static void test_simple_commands(void)
{
	check_feed("a1 NOOP\r\n", "CMD a1 NOOP\n");
	check_feed("a1 noop\r\nb2 Capability\r\n", "CMD a1 NOOP\nCMD b2 CAPABILITY\n");
	check_feed("x LOGIN user \"p a\\\"s\\\\s\"\r\n", "CMD x LOGIN user \"p a\\\"s\\\\s\"\n");
	check_feed("t] SELECT INBOX\r\n", "CMD t] SELECT INBOX\n");
	check_feed("a UID FETCH 1:* (FLAGS UID)\r\n", "CMD a UID FETCH 1:* (FLAGS UID)\n");
	check_feed("a uid store 1,3:5 +FLAGS.SILENT (\\Seen $Junk)\r\n",
		   "CMD a UID STORE 1,3:5 +FLAGS.SILENT (\\Seen $Junk)\n");
	check_feed("a LIST \"\" %\r\n", "CMD a LIST \"\" %\n");
	check_feed("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" * RETURN (CHILDREN STATUS (MESSAGES))\r\n",
		   "CMD a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" * RETURN (CHILDREN STATUS (MESSAGES))\n");
	check_feed("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> BODY[1.2.MIME])\r\n",
		   "CMD a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> BODY[1.2.MIME])\n");
	check_feed("a ID NIL\r\nb ID (\"name\" \"x\")\r\n", "CMD a ID NIL\nCMD b ID (\"name\" \"x\")\n");
	check_feed("a X ()\r\n", "CMD a X ()\n");
	check_feed("a X ((a) (b c) ())\r\n", "CMD a X ((a) (b c) ())\n");
	check_feed("a X \"\"\r\n", "CMD a X \"\"\n");
}

static void test_command_tree(void)
{
	struct imap_command *cmd;
	const char *s = "A7 UID store 4 flags (\\Deleted nil) \"q\"\r\n";
	char *log = imap_test_drive(s, strlen(s), 0, 0, NULL, false, 0, &cmd);

	free(log);
	CHECK(cmd != NULL);
	if (cmd == NULL)
		return;
	CHECK_STR(cmd->tag, "A7");
	CHECK_STR(cmd->name, "STORE");
	CHECK(cmd->uid);
	CHECK_INT(cmd->count, 4);
	CHECK_INT(cmd->args[2].type, IMAP_ARG_LIST);
	CHECK_INT(cmd->args[2].count, 2);
	CHECK_INT(cmd->args[2].list[1].type, IMAP_ARG_NIL);
	CHECK_STR(cmd->args[2].list[1].str, "nil");
	CHECK_INT(cmd->args[3].type, IMAP_ARG_QUOTED);
	CHECK_STR(imap_arg_astring(&cmd->args[3]), "q");
	CHECK_STR(imap_arg_astring(&cmd->args[0]), "4");
	CHECK(imap_arg_astring(&cmd->args[2].list[0]) == NULL);
	CHECK(imap_arg_atom_is(&cmd->args[1], "FLAGS"));
	CHECK(imap_arg_atom(&cmd->args[3]) == NULL);
	imap_command_free(&cmd);
	CHECK(cmd == NULL);
}

static void test_literals(void)
{
	check_feed("a LOGIN {4}\r\nuser {4}\r\npass\r\n",
		   "LIT 4\n+ OK\nLIT 4\n+ OK\nCMD a LOGIN {4}user {4}pass\n");
	check_feed("a LOGIN {4+}\r\nuser {4+}\r\npass\r\n",
		   "LIT 4+\nLIT 4+\nCMD a LOGIN {4}user {4}pass\n");
	/* CR LF and specials inside a literal are data. */
	check_feed("a X ({5}\r\n)\r\n\"( x)\r\n",
		   "LIT 5\n+ OK\nCMD a X ({5})\r\n\"( x)\n");
	check_feed("a X {0}\r\n\r\n", "LIT 0\n+ OK\nCMD a X {0}\n");
	check_feed("a X {0+}\r\n y\r\n", "LIT 0+\nCMD a X {0} y\n");
	/* APPEND's message is streamed by the session, not kept. */
	check_feed_limits("a APPEND INBOX (\\Seen) {11}\r\nhello world\r\nb NOOP\r\n", NULL, false,
			  100, "LIT 11\n+ OK\nCMD a APPEND INBOX (\\Seen) {11*}\nCMD b NOOP\n");
	/* A literal must be followed by SP, ")" or the line end. */
	check_feed("a X {1}\r\nxy\r\n", "LIT 1\n+ OK\nERR a BAD Missing space between arguments\n");
}

static void test_literal_limits(void)
{
	struct imap_parser_limits lim;

	imap_parser_default_limits(&lim);
	lim.max_literal = 10;
	/* Synchronising: refused before the client sends it. */
	check_feed_limits("a LOGIN {11}\r\nb NOOP\r\n", &lim, false, 0,
			  "LIT 11\nERR a NO [TOOBIG] Literal too large\nCMD b NOOP\n");
	/* Non-synchronising: its bytes and the rest of the command are dropped,
	 * never read as commands. */
	check_feed_limits("a LOGIN {11+}\r\nc DELETE xx u {2+}\r\nzz\r\nb NOOP\r\n", &lim, false, 0,
			  "LIT 11+\nERR a NO [TOOBIG] Literal too large\nSKIP 11\nSKIP 2\nNONE\n"
			  "CMD b NOOP\n");
	/* APPENDLIMIT: the session refuses before reading. */
	check_feed_limits("a APPEND INBOX {101}\r\nb NOOP\r\n", NULL, false, 100,
			  "LIT 101\nERR a NO [TOOBIG] Message too large\nCMD b NOOP\n");
	lim.max_literal = 1000;
	lim.max_command = 40;
	check_feed_limits("a LOGIN {30}\r\n", &lim, false, 0,
			  "LIT 30\nERR a BAD Command too long\n");
	check_feed_limits("a LOGIN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nb NOOP\r\n", &lim,
			  false, 0, "ERR a BAD Command too long\nCMD b NOOP\n");
	imap_parser_default_limits(&lim);
	lim.literal_minus = true;
	check_feed_limits("a APPEND x {4097+}\r\n", &lim, false, 0,
			  "ERR a BAD Non-synchronizing literal over 4096 bytes (LITERAL-)\nSKIP 4097\n");
}

static void test_bad_syntax(void)
{
	check_feed("\r\n", "ERR * BAD Empty command line\n");
	check_feed(" a NOOP\r\n", "ERR * BAD Missing or invalid tag\n");
	check_feed("a+ NOOP\r\n", "ERR * BAD Invalid character in tag\n");
	check_feed("a*b NOOP\r\n", "ERR * BAD Invalid character in tag\n");
	check_feed("a\r\n", "ERR a BAD Missing command name\n");
	check_feed("a  NOOP\r\n", "ERR a BAD Invalid command name\n");
	check_feed("a NO(OP\r\n", "ERR a BAD Invalid command name\n");
	check_feed("a UID\r\n", "ERR a BAD Missing command after UID\n");
	check_feed("a NOOP \r\n", "ERR a BAD Trailing space\n");
	check_feed("a X  y\r\n", "ERR a BAD Unexpected space\n");
	check_feed("a X (y\r\n", "ERR a BAD Missing )\n");
	check_feed("a X y)\r\n", "ERR a BAD Unexpected )\n");
	check_feed("a X (y )\r\n", "ERR a BAD Unexpected space before )\n");
	check_feed("a X ( y)\r\n", "ERR a BAD Unexpected space\n");
	check_feed("a X \"y\"z\r\n", "ERR a BAD Missing space between arguments\n");
	check_feed("a X \"yz\r\n", "ERR a BAD Unterminated quoted string\n");
	check_feed("a X \"y\\z\"\r\n", "ERR a BAD Invalid escape in quoted string\n");
	check_feed("a X \"caf\xc3\xa9\"\r\n",
		   "ERR a BAD 8-bit byte in quoted string (UTF8=ACCEPT not enabled)\n");
	check_feed("a X caf\xc3\xa9\r\n", "ERR a BAD 8-bit byte outside a quoted string\n");
	check_feed("a X \\\r\n", "ERR a BAD Invalid character in argument\n");
	check_feed("a X BODY[TEXT\r\n", "ERR a BAD Missing ] in argument\n");
	check_feed("a X {5}x\r\n", "ERR a BAD Literal not at end of line\n");
	check_feed("a X {5-}\r\n", "ERR a BAD Invalid literal size\n");
	check_feed("a X {}\r\n", "ERR a BAD Invalid literal size\n");
	check_feed("a X {4294967296}\r\n", "ERR a BAD Literal size too large\n");
	check_feed("a X ~{5}\r\n", "ERR a BAD literal8 is not supported (no BINARY)\n");
	check_feed("a X a{5}\r\n", "ERR a BAD Missing space between arguments\n");
	/* The connection survives: the next command parses. */
	check_feed("a X (\r\nb NOOP\r\n", "ERR a BAD Missing )\nCMD b NOOP\n");
	/* A bad line announcing a non-synchronising literal: its bytes are
	 * skipped, and so are further lines of that command. */
	check_feed("a X \"unterminated {3+}\r\nb N\r\nc NOOP\r\n",
		   "ERR a BAD Unterminated quoted string\nSKIP 3\nNONE\nCMD c NOOP\n");
	check_feed("a X ({99999999999999999999+}\r\n",
		   "ERR a BAD Literal size too large fatal\n");
}

static void test_nul_bytes(void)
{
	static const char s1[] = "a X \"a\0b\"\r\nb NOOP\r\n";
	static const char s2[] = "a X {3}\r\na\0b\r\nb NOOP\r\n";
	char *log = imap_test_drive(s1, sizeof(s1) - 1, 0, 0, NULL, false, 0, NULL);

	CHECK_STR(log, "ERR a BAD NUL byte in command\nCMD b NOOP\n");
	free(log);
	log = imap_test_drive(s2, sizeof(s2) - 1, 1, 0, NULL, false, 0, NULL);
	CHECK_STR(log, "LIT 3\n+ OK\nERR a BAD NUL byte in literal\nCMD b NOOP\n");
	free(log);
}

static void test_utf8_accept(void)
{
	check_feed_limits("a SELECT \"Entw\xc3\xbcrfe\"\r\n", NULL, true, 0,
			  "CMD a SELECT \"Entw\xc3\xbcrfe\"\n");
	check_feed_limits("a SELECT \"bad\xc3(\"\r\n", NULL, true, 0,
			  "ERR a BAD Invalid UTF-8 in quoted string\n");
	check_feed_limits("a SELECT \"\xed\xa0\x80\"\r\n", NULL, true, 0,
			  "ERR a BAD Invalid UTF-8 in quoted string\n");
}

static void test_bounds(void)
{
	struct imap_parser_limits lim;
	struct buf b;

	imap_parser_default_limits(&lim);
	lim.max_depth = 3;
	check_feed_limits("a X (((a)))\r\n", &lim, false, 0, "CMD a X (((a)))\n");
	check_feed_limits("a X ((((a))))\r\n", &lim, false, 0,
			  "ERR a BAD Too deeply nested parentheses\n");
	lim.max_args = 4;
	check_feed_limits("a X 1 2 3 4\r\n", &lim, false, 0, "CMD a X 1 2 3 4\n");
	check_feed_limits("a X 1 (2 3) 4\r\n", &lim, false, 0, "ERR a BAD Too many arguments\n");
	check_feed_limits("a X 1 2 3 {1}\r\nz\r\n", &lim, false, 0, "LIT 1\n+ OK\nCMD a X 1 2 3 {1}z\n");
	check_feed_limits("a X 1 2 3 4 {1}\r\n", &lim, false, 0,
			  "LIT 1\nERR a BAD Too many arguments\n");
	/* A line longer than the line reader allows. */
	buf_init(&b, BUF_NO_LIMIT);
	buf_append_str(&b, "a X ");
	for (int i = 0; i < 9000; i++)
		buf_append_char(&b, 'x');
	buf_append_str(&b, "\r\nb NOOP\r\n");
	char *log = imap_test_drive(b.data, b.len, 100, 0, NULL, false, 0, NULL);
	CHECK_STR(log, "TOOLONG\nCMD b NOOP\n");
	free(log);
	buf_free(&b);
}

int main(void)
{
	test_run("imap parser: simple commands", test_simple_commands);
	test_run("imap parser: command tree and accessors", test_command_tree);
	test_run("imap parser: literals", test_literals);
	test_run("imap parser: literal limits checked before reading", test_literal_limits);
	test_run("imap parser: malformed commands", test_bad_syntax);
	test_run("imap parser: NUL bytes", test_nul_bytes);
	test_run("imap parser: UTF8=ACCEPT", test_utf8_accept);
	test_run("imap parser: depth, argument and line bounds", test_bounds);
	return test_done();
}
