#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap-fetch-parse.h"
#include "imap-test-util.h"

static const char *const kind_names[] = {
	"FULL", "HEADER", "FIELDS", "FIELDS.NOT", "TEXT", "MIME",
};

/* "a FETCH 1 <items>": the parsed items of args[1..] as text. */
static char *fetch_dump(const struct imap_command *cmd)
{
	struct imap_fetch_items items;
	const char *error = NULL;
	struct buf b;

	buf_init(&b, BUF_NO_LIMIT);
	if (cmd == NULL || cmd->count < 1) {
		buf_append_str(&b, "no command");
		return buf_steal(&b);
	}
	if (imap_fetch_parse(cmd->args + 1, cmd->count - 1, &items, &error) < 0) {
		buf_printf(&b, "ERR %s", error);
		return buf_steal(&b);
	}
	buf_printf(&b, "%#x", items.attrs);
	for (size_t i = 0; i < items.body_count; i++) {
		const struct imap_fetch_body *body = &items.bodies[i];

		buf_printf(&b, " |%s%s[%s] parts=%zu", body->peek ? "PEEK " : "",
			   kind_names[body->kind], body->section, body->part_count);
		for (size_t j = 0; j < body->field_count; j++)
			buf_printf(&b, " f=%s", body->fields[j]);
		if (body->partial)
			buf_printf(&b, " <%u.%u>", body->origin, body->count);
	}
	imap_fetch_items_free(&items);
	return buf_steal(&b);
}

static void check_fetch(const char *items, const char *want)
{
	char *line = xasprintf("a FETCH 1:*%s%s\r\n", *items != '\0' ? " " : "", items);
	char *got = imap_test_feeds(line, NULL, false, 0, fetch_dump);

	CHECK_STR(got, want);
	free(got);
	free(line);
}

static void test_fetch_simple(void)
{
	check_fetch("FLAGS", "0x1");
	check_fetch("(flags uid)", "0x41");
	check_fetch("ALL", "0xf");
	check_fetch("fast", "0x7");
	check_fetch("FULL", "0x1f");
	check_fetch("(ENVELOPE BODYSTRUCTURE BODY INTERNALDATE RFC822.SIZE)", "0x3e");
	check_fetch("(RFC822 RFC822.HEADER RFC822.TEXT)", "0x380");
	check_fetch("(FLAGS FLAGS)", "0x1");
}

static void test_fetch_sections(void)
{
	check_fetch("BODY[]", "0 |FULL[] parts=0");
	check_fetch("BODY.PEEK[]<0.1024>", "0 |PEEK FULL[] parts=0 <0.1024>");
	check_fetch("(UID body.peek[header])", "0x40 |PEEK HEADER[HEADER] parts=0");
	check_fetch("BODY[1.2.3]", "0 |FULL[1.2.3] parts=3");
	check_fetch("BODY[1.MIME]", "0 |MIME[1.MIME] parts=1");
	check_fetch("BODY[2.text]", "0 |TEXT[2.TEXT] parts=1");
	check_fetch("BODY[3.HEADER]", "0 |HEADER[3.HEADER] parts=1");
	check_fetch("(BODY.PEEK[HEADER.FIELDS (From To \"Message-ID\")])",
		    "0 |PEEK FIELDS[HEADER.FIELDS (From To Message-ID)] parts=0 f=From f=To f=Message-ID");
	check_fetch("BODY[1.HEADER.FIELDS.NOT (X-Spam)]<10.5>",
		    "0 |FIELDS.NOT[1.HEADER.FIELDS.NOT (X-Spam)] parts=1 f=X-Spam <10.5>");
	check_fetch("(BODY[TEXT] BODY[1])", "0 |TEXT[TEXT] parts=0 |FULL[1] parts=1");
	/* field names that are no atoms are echoed quoted */
	check_fetch("BODY[HEADER.FIELDS (Fr{om \"a\\\"b\" x%y)]",
		    "0 |FIELDS[HEADER.FIELDS (\"Fr{om\" \"a\\\"b\" \"x%y\")] parts=0"
		    " f=Fr{om f=a\"b f=x%y");
}

static void test_fetch_bad(void)
{
	check_fetch("", "ERR Missing FETCH items");
	check_fetch("()", "ERR Empty FETCH item list");
	check_fetch("(ALL)", "ERR Unknown FETCH item");
	check_fetch("FOO", "ERR Unknown FETCH item");
	check_fetch("BINARY[1]", "ERR Unknown FETCH item");
	check_fetch("MODSEQ", "ERR Unknown FETCH item");
	check_fetch("BODY.PEEK", "ERR Unknown FETCH item");
	check_fetch("(\"FLAGS\")", "ERR FETCH items are atoms");
	check_fetch("((FLAGS))", "ERR FETCH items are atoms");
	check_fetch("FLAGS (CHANGEDSINCE 12)", "ERR FETCH modifiers are not supported");
	check_fetch("FLAGS UID", "ERR Unexpected argument after FETCH items");
	check_fetch("BODY[MIME]", "ERR MIME needs a part number");
	check_fetch("BODY[0]", "ERR Invalid section part number");
	check_fetch("BODY[1.]", "ERR Invalid section");
	check_fetch("BODY[1TEXT]", "ERR Invalid section");
	check_fetch("BODY[TEXT.MIME]", "ERR Invalid section");
	check_fetch("BODY[HEADERS]", "ERR Invalid section");
	check_fetch("BODY[HEADER.FIELDS]", "ERR HEADER.FIELDS needs a list of field names");
	check_fetch("BODY[HEADER.FIELDS ()]", "ERR Invalid header field name");
	check_fetch("BODY[HEADER.FIELDS (A:B)]", "ERR Invalid header field name");
	check_fetch("BODY[HEADER.FIELDS (A  B)]", "ERR Invalid header field name");
	check_fetch("BODY[HEADER.FIELDS (A)x]", "ERR Invalid section");
	check_fetch("BODY[]<1>", "ERR Invalid partial <origin.count>");
	check_fetch("BODY[]<1.0>", "ERR Invalid partial <origin.count>");
	check_fetch("BODY[]<1.4294967296>", "ERR Invalid partial <origin.count>");
	check_fetch("BODY[]<1.2>x", "ERR Unexpected text after section");
	check_fetch("BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27."
		    "28.29.30.31.32.33]", "ERR Section part number nested too deeply");
}

int main(void)
{
	test_run("fetch items: simple and macros", test_fetch_simple);
	test_run("fetch items: body sections", test_fetch_sections);
	test_run("fetch items: malformed", test_fetch_bad);
	return test_done();
}
