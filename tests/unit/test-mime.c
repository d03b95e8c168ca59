#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime-corpus.h"
#include "mime.h"
#include "test.h"
#include "xalloc.h"

static char *load(const char *name, size_t *len_r)
{
	char *data = mime_corpus_load(name, len_r);

	if (data == NULL) {
		test_check_failed(__FILE__, __LINE__, name);
		*len_r = 0;
		return xstrdup("");
	}
	return data;
}

/* Load and parse a sample whole; sample_free() releases both. */
static struct mime_part *sample(const char *name, char **data_r, size_t *len_r)
{
	*data_r = load(name, len_r);
	return mime_parse(*data_r, *len_r, NULL);
}

static void sample_free(struct mime_part **root, char *data)
{
	mime_part_free(root);
	free(data);
}

static const struct mime_part *child(const struct mime_part *part, unsigned int n)
{
	const struct mime_part *c = part != NULL ? part->children : NULL;

	while (c != NULL && n-- > 1)
		c = c->next;
	return c;
}

/* The body bytes of a part, as a string to compare. */
static char *body_of(const char *data, const struct mime_part *part)
{
	return xstrndup(data + part->body.offset, (size_t)part->body.size);
}

/* Every corpus message: the same tree whole and in chunks of 1 to 7
 * bytes, and every range within the message. */
static void test_mime_corpus_chunked(void)
{
	for (size_t i = 0; mime_corpus_files[i] != NULL; i++) {
		size_t len;
		char *data = load(mime_corpus_files[i], &len);
		struct mime_part *whole = mime_corpus_parse(data, len, 0, NULL);
		struct buf want, got;

		buf_init(&want, BUF_NO_LIMIT);
		mime_corpus_dump(&want, whole);
		CHECK(mime_corpus_spans_ok(whole, len));
		CHECK_INT(whole->header.size + whole->body.size, len);
		for (size_t chunk = 1; chunk <= 7; chunk++) {
			struct mime_part *t = mime_corpus_parse(data, len, chunk, NULL);

			buf_init(&got, BUF_NO_LIMIT);
			mime_corpus_dump(&got, t);
			CHECK_STR(buf_cstr(&got), buf_cstr(&want));
			buf_free(&got);
			mime_part_free(&t);
		}
		buf_free(&want);
		mime_part_free(&whole);
		free(data);
	}
}

static void test_mime_simple_lf(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("simple.eml", &data, &len);
	char *body = body_of(data, root);

	CHECK(root->children == NULL);
	CHECK(mime_part_is(root, "TEXT", "Plain"));
	CHECK(root->type == NULL);
	CHECK_STR(body, "Hello Bob,\nthis is a plain message.\n");
	CHECK_INT(root->body.size, 36);
	/* Two bare LFs count as CRLF in the IMAP size. */
	CHECK_INT(root->body.vsize, 38);
	CHECK_INT(root->body.lines, 2);
	CHECK_INT(root->header.lines, 6);
	CHECK_INT(root->header.vsize, root->header.size + 6);
	CHECK_STR(root->envelope->subject, "Hello");
	CHECK_STR(root->envelope->from, "Alice Example <alice@example.test>");
	CHECK(root->envelope->cc == NULL);
	free(body);
	sample_free(&root, data);
}

static void test_mime_alternative_crlf(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("crlf-alternative.eml", &data, &len);
	const struct mime_part *plain = child(root, 1), *html = child(root, 2);
	char *b1 = body_of(data, plain), *b2 = body_of(data, html);

	CHECK_INT(root->flags & (MIME_PART_MULTIPART | MIME_PART_UNCLOSED), MIME_PART_MULTIPART);
	CHECK_INT(mime_part_count(root), 3);
	CHECK_STR(mime_params_get(&root->params, "boundary"), "alt-b");
	/* The CRLF before a boundary belongs to the boundary. */
	CHECK_STR(b1, "Plain =C3=A9 text\r\nsecond line");
	CHECK_STR(b2, "<p>HTML text</p>");
	CHECK_INT(plain->body.vsize, plain->body.size);
	CHECK_INT(plain->body.lines, 1);
	CHECK_INT(html->body.lines, 0);
	CHECK_STR(plain->encoding, "quoted-printable");
	CHECK_STR(mime_params_get(&plain->params, "charset"), "UTF-8");
	CHECK(plain->envelope == NULL);
	/* The epilogue is in the multipart's body, in no child. */
	CHECK(root->body.offset + root->body.size == len);
	free(b1);
	free(b2);
	sample_free(&root, data);
}

static void test_mime_attachment_fields(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("mixed-attach.eml", &data, &len);
	const struct mime_part *pdf = child(root, 2), *png = child(root, 3);

	CHECK_INT(mime_part_count(root), 4);
	CHECK_STR(pdf->type, "application");
	CHECK_STR(pdf->subtype, "pdf");
	CHECK_STR(mime_params_get(&pdf->params, "name"), "report.pdf");
	CHECK_STR(pdf->disposition, "attachment");
	CHECK_STR(mime_params_get(&pdf->disposition_params, "filename"), "report.pdf");
	CHECK_STR(mime_params_get(&pdf->disposition_params, "size"), "256");
	CHECK_STR(pdf->id, "<part2@example.test>");
	CHECK_STR(pdf->description, "The report");
	CHECK_STR(pdf->md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
	CHECK_STR(pdf->language, "en, de");
	CHECK_STR(pdf->location, "http://example.test/report.pdf");
	CHECK_STR(png->encoding, "BASE64");
	CHECK_STR(png->disposition, "inline");
	CHECK_INT(png->disposition_params.count, 0);
	CHECK_STR(root->language, "en");
	sample_free(&root, data);
}

static void test_mime_nested_and_message(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("rfc822.eml", &data, &len);
	const struct mime_part *msg = child(root, 2), *inner = child(msg, 1);
	char *b;

	CHECK_INT(msg->flags & MIME_PART_MESSAGE, MIME_PART_MESSAGE);
	CHECK(inner != NULL && inner->next == NULL);
	CHECK_INT(inner->depth, 2);
	CHECK_INT(inner->header.offset, msg->body.offset);
	CHECK_STR(inner->envelope->subject, "inner");
	CHECK_STR(inner->envelope->message_id, "<inner@example.test>");
	CHECK_INT(inner->flags & MIME_PART_MULTIPART, MIME_PART_MULTIPART);
	b = body_of(data, child(inner, 2));
	CHECK_STR(b, "<i>inner html</i>");
	free(b);
	CHECK_INT(mime_part_count(root), 6);
	sample_free(&root, data);

	root = sample("nested.eml", &data, &len);
	CHECK_INT(mime_part_count(root), 8);
	CHECK(mime_part_is(child(child(root, 2), 2), "image", "gif"));
	CHECK_STR(child(child(root, 2), 2)->id, "<x>");
	CHECK_STR(mime_params_get(&child(root, 2)->params, "type"), "text/html");
	sample_free(&root, data);
}

static void test_mime_rfc2231(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("rfc2231.eml", &data, &len);
	const struct mime_part *app = child(root, 1), *text = child(root, 2);

	CHECK_INT(app->params.count, 1);
	CHECK_STR(mime_params_get(&app->params, "name"), "very long file name.txt");
	CHECK_STR(mime_params_get(&app->disposition_params, "filename*"),
		  "utf-8''%E2%82%AC%20rates%20and%20fees.txt");
	CHECK_STR(mime_params_get(&text->params, "title*"), "iso-8859-1'de'M%FCller");
	CHECK(mime_params_get(&text->params, "charset") == NULL);
	sample_free(&root, data);
}

static void test_mime_malformed_multiparts(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("missing-close.eml", &data, &len);
	char *b;

	CHECK_INT(root->flags & MIME_PART_UNCLOSED, MIME_PART_UNCLOSED);
	CHECK_INT(mime_part_count(root), 3);
	b = body_of(data, child(root, 2));
	CHECK_STR(b, "second and the file ends\n");
	free(b);
	sample_free(&root, data);

	root = sample("no-boundary-found.eml", &data, &len);
	CHECK_INT(root->flags & MIME_PART_MULTIPART, MIME_PART_MULTIPART);
	CHECK(root->children == NULL);
	sample_free(&root, data);

	root = sample("no-boundary-param.eml", &data, &len);
	CHECK_INT(root->flags & MIME_PART_NO_BOUNDARY, MIME_PART_NO_BOUNDARY);
	CHECK(root->children == NULL);
	sample_free(&root, data);

	root = sample("bad-content-type.eml", &data, &len);
	CHECK_INT(root->flags & MIME_PART_BAD_CONTENT_TYPE, MIME_PART_BAD_CONTENT_TYPE);
	CHECK(mime_part_is(root, "text", "plain"));
	sample_free(&root, data);
}

static void test_mime_boundary_prefix_and_padding(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("quoted-boundary.eml", &data, &len);
	char *b;

	CHECK_STR(mime_params_get(&root->params, "boundary"), "=_a;b c=?");
	CHECK_STR(mime_params_get(&root->params, "x-note"), "boundary=fake");
	/* "--fake" is preamble; "--=_a;b c=?x" starts a part (RFC 2046 asks
	 * only that the boundary start the line); padding after one is fine. */
	CHECK_INT(mime_part_count(root), 4);
	b = body_of(data, child(root, 1));
	CHECK_STR(b, "one");
	free(b);
	CHECK_INT(child(root, 2)->body.size, 0);
	b = body_of(data, child(root, 3));
	CHECK_STR(b, "two");
	free(b);
	CHECK_INT(root->flags & MIME_PART_UNCLOSED, 0);
	sample_free(&root, data);
}

static void test_mime_depth_bound(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("deep-nesting.eml", &data, &len);
	const struct mime_part *p = root;
	struct mime_limits lim = { 3, 100, 1024, 10 };

	while (p->children != NULL)
		p = p->children;
	CHECK_INT(p->depth, MIME_MAX_DEPTH);
	CHECK_INT(p->flags & MIME_PART_FLATTENED, MIME_PART_FLATTENED);
	CHECK(mime_part_is(p, "text", "plain"));
	CHECK_INT(mime_part_count(root), MIME_MAX_DEPTH + 1);
	mime_part_free(&root);

	root = mime_parse(data, len, &lim);
	CHECK_INT(mime_part_count(root), 4);
	sample_free(&root, data);
}

static void test_mime_part_bound(void)
{
	struct buf msg;
	struct mime_part *root;
	struct mime_limits lim = { 5, 10, 4096, 50 };

	buf_init(&msg, BUF_NO_LIMIT);
	buf_append_str(&msg, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (int i = 0; i < 1500; i++)
		buf_printf(&msg, "--x\n\npart %d\n", i);
	buf_append_str(&msg, "--x--\n");
	root = mime_parse(msg.data, msg.len, NULL);
	CHECK_INT(mime_part_count(root), MIME_MAX_PARTS);
	CHECK_INT(root->flags & MIME_PART_CHILDREN_DROPPED, MIME_PART_CHILDREN_DROPPED);
	CHECK(mime_corpus_spans_ok(root, msg.len));
	mime_part_free(&root);
	root = mime_parse(msg.data, msg.len, &lim);
	CHECK_INT(mime_part_count(root), 10);
	mime_part_free(&root);
	buf_free(&msg);
}

static void test_mime_header_bounds(void)
{
	struct buf msg;
	struct mime_part *root;
	struct mime_limits lim = { 5, 10, 100, 3 };

	buf_init(&msg, BUF_NO_LIMIT);
	buf_append_str(&msg, "Subject: s\nX-Long: ");
	for (int i = 0; i < 200; i++)
		buf_append_str(&msg, "0123456789");
	buf_append_str(&msg, "\nContent-Type: text/html\n\nbody\n");
	root = mime_parse(msg.data, msg.len, &lim);
	/* The field past the bound is not seen; the body still is. */
	CHECK_INT(root->flags & MIME_PART_HEADER_TRUNCATED, MIME_PART_HEADER_TRUNCATED);
	CHECK(root->type == NULL);
	CHECK_STR(root->envelope->subject, "s");
	CHECK_INT(root->body.size, 5);
	mime_part_free(&root);
	root = mime_parse(msg.data, msg.len, NULL);
	CHECK_STR(root->type, "text");
	CHECK_INT(root->flags & MIME_PART_HEADER_TRUNCATED, 0);
	mime_part_free(&root);
	buf_free(&msg);

	buf_init(&msg, BUF_NO_LIMIT);
	buf_append_str(&msg, "A: 1\nB: 2\nC: 3\nContent-Type: text/html\n\n");
	root = mime_parse(msg.data, msg.len, &lim);
	CHECK_INT(root->flags & MIME_PART_HEADER_TRUNCATED, MIME_PART_HEADER_TRUNCATED);
	CHECK(root->type == NULL);
	mime_part_free(&root);
	buf_free(&msg);
}

static void test_mime_degenerate_inputs(void)
{
	struct mime_part *root = mime_parse("", 0, NULL);
	size_t len;
	char *data;

	CHECK_INT(root->header.size + root->body.size, 0);
	CHECK_INT(root->flags & MIME_PART_HEADER_UNTERMINATED, MIME_PART_HEADER_UNTERMINATED);
	mime_part_free(&root);

	root = sample("no-headers.eml", &data, &len);
	CHECK_INT(root->header.size, 1);
	CHECK_INT(root->body.size, len - 1);
	CHECK_STR(root->envelope->subject, NULL);
	sample_free(&root, data);

	root = sample("unterminated-headers.eml", &data, &len);
	CHECK_INT(root->header.size, len);
	CHECK_INT(root->body.size, 0);
	CHECK_STR(root->envelope->subject, "No blank line");
	sample_free(&root, data);

	root = sample("nul-bytes.eml", &data, &len);
	CHECK_STR(root->envelope->subject, "NUL\xEF\xBF\xBD" "byte");
	CHECK_INT(child(root, 1)->body.size, 3);
	sample_free(&root, data);

	root = sample("message-no-end.eml", &data, &len);
	CHECK_INT(root->flags & MIME_PART_MESSAGE, MIME_PART_MESSAGE);
	CHECK_INT(root->children->flags & MIME_PART_HEADER_UNTERMINATED,
		  MIME_PART_HEADER_UNTERMINATED);
	CHECK_STR(root->children->envelope->subject, "inner only headers");
	sample_free(&root, data);
}

static void test_mime_mixed_line_ends(void)
{
	size_t len;
	char *data;
	struct mime_part *root = sample("bare-cr-mixed-eol.eml", &data, &len);
	const struct mime_part *one = child(root, 1);
	char *b = body_of(data, one);

	CHECK_STR(b, "one\r\ntwo");
	CHECK_INT(one->body.lines, 1);
	CHECK_INT(one->header.size, 2);
	free(b);
	b = body_of(data, child(root, 2));
	CHECK_STR(b, "three");
	free(b);
	sample_free(&root, data);

	root = sample("digest.eml", &data, &len);
	CHECK(mime_part_is(child(root, 1), "message", "rfc822"));
	CHECK_INT(child(root, 1)->flags & MIME_PART_MESSAGE, MIME_PART_MESSAGE);
	CHECK_STR(child(child(root, 1), 1)->envelope->subject, "first");
	CHECK(mime_part_is(child(root, 2), "text", "plain"));
	sample_free(&root, data);
}

int main(void)
{
	test_run("mime corpus whole and chunked 1..7", test_mime_corpus_chunked);
	test_run("mime simple LF-only message", test_mime_simple_lf);
	test_run("mime multipart/alternative with CRLF", test_mime_alternative_crlf);
	test_run("mime attachment fields", test_mime_attachment_fields);
	test_run("mime nested multipart and message/rfc822", test_mime_nested_and_message);
	test_run("mime RFC 2231 parameters", test_mime_rfc2231);
	test_run("mime malformed multiparts", test_mime_malformed_multiparts);
	test_run("mime boundary prefix and padding", test_mime_boundary_prefix_and_padding);
	test_run("mime depth bound", test_mime_depth_bound);
	test_run("mime part-count bound", test_mime_part_bound);
	test_run("mime header bounds", test_mime_header_bounds);
	test_run("mime degenerate inputs", test_mime_degenerate_inputs);
	test_run("mime mixed line ends and digest", test_mime_mixed_line_ends);
	return test_done();
}
