#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime-decode.h"
#include "test.h"

/* Decode in pieces of `piece` bytes (0: whole; SIZE_MAX: two pieces cut
 * at `cut`). */
static char *decode_pieces(enum mime_cte cte, const char *in, size_t len, size_t piece,
			   size_t cut, size_t *len_r)
{
	struct mime_decoder d;
	struct buf out;

	buf_init(&out, BUF_NO_LIMIT);
	if (piece == 0) {
		CHECK_INT(mime_decode(cte, in, len, &out), 0);
	} else {
		mime_decoder_init(&d, cte);
		if (piece == SIZE_MAX) {
			CHECK_INT(mime_decoder_feed(&d, in, cut, &out), 0);
			CHECK_INT(mime_decoder_feed(&d, in + cut, len - cut, &out), 0);
		} else {
			for (size_t off = 0; off < len; off += piece)
				CHECK_INT(mime_decoder_feed(&d, in + off,
							    len - off < piece ? len - off : piece,
							    &out), 0);
		}
		CHECK_INT(mime_decoder_finish(&d, &out), 0);
	}
	*len_r = out.len;
	return buf_steal(&out);
}

/* in decodes to want[0..want_len) whole, a byte at a time, in pieces of
 * 2 to 7 and cut in two at every place. */
static void check_decode_len(enum mime_cte cte, const char *in, const char *want, size_t want_len)
{
	size_t len = strlen(in), got_len;
	char *got = decode_pieces(cte, in, len, 0, 0, &got_len);

	CHECK_MEM(got, got_len, want, want_len);
	free(got);
	for (size_t piece = 1; piece <= 7; piece++) {
		got = decode_pieces(cte, in, len, piece, 0, &got_len);
		CHECK_MEM(got, got_len, want, want_len);
		free(got);
	}
	for (size_t cut = 0; cut <= len; cut++) {
		got = decode_pieces(cte, in, len, SIZE_MAX, cut, &got_len);
		CHECK_MEM(got, got_len, want, want_len);
		free(got);
	}
}

static void check_decode(enum mime_cte cte, const char *in, const char *want)
{
	check_decode_len(cte, in, want, strlen(want));
}

static void test_cte_parse(void)
{
	CHECK_INT(mime_cte_parse(NULL), MIME_CTE_IDENTITY);
	CHECK_INT(mime_cte_parse("7bit"), MIME_CTE_IDENTITY);
	CHECK_INT(mime_cte_parse("8BIT"), MIME_CTE_IDENTITY);
	CHECK_INT(mime_cte_parse("binary"), MIME_CTE_IDENTITY);
	CHECK_INT(mime_cte_parse("x-uuencode"), MIME_CTE_IDENTITY);
	CHECK_INT(mime_cte_parse("Base64"), MIME_CTE_BASE64);
	CHECK_INT(mime_cte_parse("BASE64"), MIME_CTE_BASE64);
	CHECK_INT(mime_cte_parse("Quoted-Printable"), MIME_CTE_QP);
	CHECK_INT(mime_cte_parse("quoted-printablex"), MIME_CTE_IDENTITY);
}

static void test_base64(void)
{
	check_decode(MIME_CTE_BASE64, "", "");
	check_decode(MIME_CTE_BASE64, "SGVsbG8=", "Hello");
	check_decode(MIME_CTE_BASE64, "SGVsbG8gd29ybGQ=", "Hello world");
	check_decode(MIME_CTE_BASE64, "SGVs\r\nbG8g\n d29y\tbGQ=\r\n", "Hello world");
	check_decode(MIME_CTE_BASE64, "SGVsbG8h", "Hello!");
	check_decode_len(MIME_CTE_BASE64, "AP8A/w==", "\0\xff\0\xff", 4);
	check_decode(MIME_CTE_BASE64, "Pz8+Pg==", "?\?>>");
	check_decode(MIME_CTE_BASE64, "Pz8-_g==", "?\? ");
}

static void test_base64_malformed(void)
{
	/* Missing padding: the whole bytes are kept. */
	check_decode(MIME_CTE_BASE64, "SGVsbG8", "Hello");
	check_decode(MIME_CTE_BASE64, "SGVsbA", "Hell");
	/* A dangling character carries no whole byte. */
	check_decode(MIME_CTE_BASE64, "SGVsbG8gQ", "Hello ");
	/* Junk outside the alphabet is skipped. */
	check_decode(MIME_CTE_BASE64, "S!G@V#s$b%G^8&=*", "Hello");
	check_decode(MIME_CTE_BASE64, "  \r\n\r\n", "");
	check_decode(MIME_CTE_BASE64, "=====", "");
	/* Padding ends a group; what follows starts another. */
	check_decode(MIME_CTE_BASE64, "SGk=SGk=", "HiHi");
	check_decode(MIME_CTE_BASE64, "SGk==IQ==", "Hi!");
	check_decode(MIME_CTE_BASE64, "SG=VsbG8=", "HV\xc6\xc6");
	/* Non-zero bits before the padding are dropped, not refused. */
	check_decode(MIME_CTE_BASE64, "SGVsbG9=", "Hello");
	check_decode(MIME_CTE_BASE64, "QR==", "A");
}

static void test_qp(void)
{
	check_decode(MIME_CTE_QP, "", "");
	check_decode(MIME_CTE_QP, "plain text\r\n", "plain text\r\n");
	check_decode(MIME_CTE_QP, "a=3Db", "a=b");
	check_decode(MIME_CTE_QP, "a=3db", "a=b");
	check_decode(MIME_CTE_QP, "Gr=FC=DFe", "Gr\xfc\xdf" "e");
	check_decode(MIME_CTE_QP, "=C3=A9cole\n", "\xc3\xa9" "cole\n");
	/* Soft line breaks, with blanks before the line end (RFC 2045 6.7). */
	check_decode(MIME_CTE_QP, "soft=\r\nbreak", "softbreak");
	check_decode(MIME_CTE_QP, "soft=\nbreak", "softbreak");
	check_decode(MIME_CTE_QP, "soft= \t \r\nbreak", "softbreak");
	check_decode(MIME_CTE_QP, "a=\r\n=\r\nb", "ab");
	/* Blanks before a hard line end are transport padding. */
	check_decode(MIME_CTE_QP, "trail  \r\nnext", "trail\r\nnext");
	check_decode(MIME_CTE_QP, "trail \t\nnext", "trail\nnext");
	check_decode(MIME_CTE_QP, "keep =20\r\n", "keep  \r\n");
	check_decode(MIME_CTE_QP, "in the  middle", "in the  middle");
	check_decode(MIME_CTE_QP, "8bit \xe9t\xe9", "8bit \xe9t\xe9");
	check_decode(MIME_CTE_QP, "cr\ralone", "cr\ralone");
	check_decode(MIME_CTE_QP, "blank then cr \rx", "blank then cr \rx");
}

static void test_qp_malformed(void)
{
	check_decode(MIME_CTE_QP, "bad =ZZ escape", "bad =ZZ escape");
	check_decode(MIME_CTE_QP, "half =4x", "half =4x");
	check_decode(MIME_CTE_QP, "end =4", "end =4");
	check_decode(MIME_CTE_QP, "end =", "end ");
	check_decode(MIME_CTE_QP, "end = ", "end ");
	check_decode(MIME_CTE_QP, "trailing   ", "trailing");
	check_decode(MIME_CTE_QP, "==41", "=A");
	check_decode(MIME_CTE_QP, "=\rx", "=\rx");
	check_decode(MIME_CTE_QP, "= x", "= x");
	check_decode(MIME_CTE_QP, "=\r", "=\r");
	check_decode_len(MIME_CTE_QP, "nul=00byte", "nul\0byte", 8);
}

/* Runs of blanks longer than the decoder holds back are written as they
 * are; the output never loses other bytes. */
static void test_qp_long_blanks(void)
{
	char in[300], want[300];

	memset(in, ' ', 200);
	strcpy(in + 200, "x\n");
	memset(want, ' ', 200);
	strcpy(want + 200, "x\n");
	check_decode(MIME_CTE_QP, in, want);
	memset(in, ' ', 200);
	strcpy(in + 200, "\n");
	memset(want, ' ', MIME_DECODE_PENDING_MAX * 2);
	strcpy(want + MIME_DECODE_PENDING_MAX * 2, "\n");
	check_decode(MIME_CTE_QP, in, want);
	/* "=" and blanks past the bound: no soft line break any more. */
	in[0] = '=';
	want[0] = '=';
	memset(want + 1, ' ', MIME_DECODE_PENDING_MAX * 2 - 1);
	check_decode(MIME_CTE_QP, in, want);
}

static void test_identity(void)
{
	check_decode(MIME_CTE_IDENTITY, "=3D as is \r\n", "=3D as is \r\n");
	check_decode(MIME_CTE_IDENTITY, "8bit \xe9 \r\n=\n", "8bit \xe9 \r\n=\n");
}

static void test_limit(void)
{
	struct buf out;

	buf_init(&out, 4);
	CHECK_INT(mime_decode(MIME_CTE_BASE64, "SGVsbG8=", 8, &out), -1);
	buf_free(&out);
	buf_init(&out, 5);
	CHECK_INT(mime_decode(MIME_CTE_BASE64, "SGVsbG8=", 8, &out), 0);
	CHECK_STR(buf_cstr(&out), "Hello");
	buf_free(&out);
	buf_init(&out, 3);
	CHECK_INT(mime_decode(MIME_CTE_QP, "abcd", 4, &out), -1);
	buf_free(&out);
}

static char *part_text(const char *msg, size_t part_index)
{
	struct mime_part *root = mime_parse(msg, strlen(msg), NULL), *part = root;
	struct buf out;

	if (part_index > 0) {
		part = root->children;
		for (size_t i = 1; part != NULL && i < part_index; i++)
			part = part->next;
	}
	buf_init(&out, BUF_NO_LIMIT);
	CHECK(part != NULL);
	if (part != NULL)
		CHECK_INT(mime_part_text(part, msg, strlen(msg), &out), 0);
	mime_part_free(&root);
	return buf_steal(&out);
}

static void test_part_text(void)
{
	const char *msg =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\n"
		"Content-Type: text/plain; charset=ISO-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"Gr=FC=DFe=\r\n aus K=F6ln\r\n"
		"--b\r\n"
		"Content-Type: text/plain; charset=windows-1252\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"MTCAIJNxdW90ZWSU\r\n"
		"--b\r\n"
		"Content-Type: text/plain; charset=koi8-r\r\n\r\n"
		"\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
		"--b\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: x-unknown\r\n\r\n"
		"as is =3D \xff\r\n"
		"--b--\r\n";
	char *s;

	s = part_text(msg, 1);
	CHECK_STR(s, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln");
	free(s);
	s = part_text(msg, 2);
	CHECK_STR(s, "10\xe2\x82\xac \xe2\x80\x9cquoted\xe2\x80\x9d");
	free(s);
	s = part_text(msg, 3);
	CHECK_STR(s, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	free(s);
	/* No charset: US-ASCII, read as UTF-8; the invalid byte is U+FFFD. */
	s = part_text(msg, 4);
	CHECK_STR(s, "as is =3D \xef\xbf\xbd");
	free(s);
	s = part_text("Subject: no MIME\n\nplain =41\n", 0);
	CHECK_STR(s, "plain =41\n");
	free(s);
}

int main(void)
{
	test_run("cte_parse", test_cte_parse);
	test_run("base64", test_base64);
	test_run("base64_malformed", test_base64_malformed);
	test_run("qp", test_qp);
	test_run("qp_malformed", test_qp_malformed);
	test_run("qp_long_blanks", test_qp_long_blanks);
	test_run("identity", test_identity);
	test_run("limit", test_limit);
	test_run("part_text", test_part_text);
	return test_done();
}
