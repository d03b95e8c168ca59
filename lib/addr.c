#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "xalloc.h"

/* A cursor over the input. Every parse step returns 1 (done), 0 (the input
 * ended where more could follow) or -1 (malformed, reason in error). */
struct addr_parser {
	const char *s;
	size_t len;       /* bytes looked at: never more than a path can hold */
	size_t pos;
	unsigned flags;
	int close;        /* byte that ends a mailbox: '>', ' ' or -1 for none */
	bool eof_ends;    /* the end of the input also ends the mailbox */
	const char *error;
};

static int addr_fail(struct addr_parser *p, const char *error)
{
	p->error = error;
	return -1;
}

/* The input ran out. Whether that is final depends on the mode. */
static int addr_eof(struct addr_parser *p, const char *error)
{
	p->error = error;
	return p->eof_ends ? -1 : 0;
}

static bool addr_is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9');
}

/* RFC 5321 atext, ASCII part. */
static bool addr_is_atext(unsigned char c)
{
	return addr_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static unsigned char addr_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Length of the UTF-8 sequence at s (at most avail bytes): 1-4, 0 when it
 * is cut short by the end of the input, -1 when invalid (overlong forms,
 * surrogates and code points past U+10FFFF included). */
static int addr_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return -1;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (int i = 1; i < n; i++) {
		if ((size_t)i == avail)
			return 0;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return -1;
	}
	return n;
}

/* Step over one non-ASCII character, allowed only under SMTPUTF8. */
static int addr_skip_utf8(struct addr_parser *p)
{
	int n;

	if ((p->flags & ADDR_ALLOW_UTF8) == 0)
		return addr_fail(p, "non-ASCII address without SMTPUTF8");
	n = addr_utf8_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
	if (n < 0)
		return addr_fail(p, "invalid UTF-8 in address");
	if (n == 0)
		return addr_eof(p, "address is incomplete");
	p->pos += (size_t)n;
	return 1;
}

static bool addr_at_close(const struct addr_parser *p)
{
	if (p->pos == p->len)
		return p->eof_ends;
	return (unsigned char)p->s[p->pos] == p->close;
}

/* Dot-string: atoms joined by single dots. */
static int addr_parse_dot_string(struct addr_parser *p)
{
	size_t start = p->pos;
	bool atom_empty = true;
	int ret;

	while (p->pos < p->len) {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c == '.') {
			if (atom_empty)
				return addr_fail(p, p->pos == start ?
						 "local part starts with a dot" :
						 "local part has two dots in a row");
			atom_empty = true;
			p->pos++;
		} else if (c >= 0x80) {
			if ((ret = addr_skip_utf8(p)) <= 0)
				return ret;
			atom_empty = false;
		} else if (addr_is_atext(c)) {
			atom_empty = false;
			p->pos++;
		} else {
			break;
		}
	}
	if (p->pos == p->len && !p->eof_ends)
		return addr_eof(p, "address is incomplete");
	if (p->pos == start)
		return addr_fail(p, p->pos < p->len && p->s[p->pos] != '@' &&
				 !addr_at_close(p) ? "invalid character in local part" :
				 "empty local part");
	if (atom_empty)
		return addr_fail(p, "local part ends with a dot");
	return 1;
}

/* Quoted-string; the unquoted text goes to local (limited to the local
 * part maximum, which the quoted form can only exceed). */
static int addr_parse_quoted(struct addr_parser *p, struct buf *local)
{
	size_t start;
	int ret;

	p->pos++;
	for (;;) {
		unsigned char c;

		if (p->pos == p->len)
			return addr_eof(p, "unterminated quoted string");
		c = (unsigned char)p->s[p->pos];
		start = p->pos;
		if (c == '"') {
			p->pos++;
			return 1;
		} else if (c == '\\') {
			if (p->pos + 1 == p->len)
				return addr_eof(p, "unterminated quoted string");
			c = (unsigned char)p->s[p->pos + 1];
			if (c < 0x20 || c > 0x7e)
				return addr_fail(p, "invalid quoted character in local part");
			start++;
			p->pos += 2;
		} else if (c >= 0x80) {
			if ((ret = addr_skip_utf8(p)) <= 0)
				return ret;
		} else if (c < 0x20 || c == 0x7f) {
			return addr_fail(p, "control character in address");
		} else {
			p->pos++;
		}
		if (buf_append(local, p->s + start, p->pos - start) < 0)
			return addr_fail(p, "local part too long");
	}
}

/* A label has just ended at p->pos. */
static int addr_end_label(struct addr_parser *p, size_t domain, size_t label)
{
	if (p->pos == label) {
		if (label == domain)
			return addr_fail(p, p->pos < p->len && p->s[p->pos] == '.' ?
					 "domain starts with a dot" : "missing domain");
		return addr_fail(p, p->pos < p->len && p->s[p->pos] == '.' ?
				 "empty label in domain" : "domain ends with a dot");
	}
	if (p->s[p->pos - 1] == '-')
		return addr_fail(p, "domain label ends with a hyphen");
	return 1;
}

/* Domain: labels of letters, digits and inner hyphens (and U-labels under
 * SMTPUTF8). Stops at the first byte that cannot belong to it; the caller
 * judges that byte. */
static int addr_parse_domain(struct addr_parser *p)
{
	size_t start = p->pos, label = p->pos;
	int ret;

	for (;;) {
		unsigned char c;

		if (p->pos == p->len) {
			if (!p->eof_ends)
				return addr_eof(p, "address is incomplete");
			break;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == '.') {
			if ((ret = addr_end_label(p, start, label)) < 0)
				return ret;
			label = ++p->pos;
			continue;
		}
		if (c == '-') {
			if (p->pos == label)
				return addr_fail(p, "domain label starts with a hyphen");
			p->pos++;
		} else if (c >= 0x80) {
			if ((ret = addr_skip_utf8(p)) <= 0)
				return ret;
		} else if (addr_is_alnum(c)) {
			p->pos++;
		} else {
			break;
		}
		if (p->pos - label > ADDR_LABEL_MAX)
			return addr_fail(p, "domain label too long");
	}
	if ((ret = addr_end_label(p, start, label)) < 0)
		return ret;
	if (p->pos - start > ADDR_DOMAIN_MAX)
		return addr_fail(p, "domain too long");
	return 1;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]", written canonically to domain. */
static int addr_parse_literal(struct addr_parser *p, struct buf *domain)
{
	unsigned char bin[16];
	char text[64];
	size_t start = ++p->pos, n;

	while (p->pos < p->len && p->s[p->pos] != ']') {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c <= 0x20 || c >= 0x7f || c == '[' || c == '\\')
			return addr_fail(p, "invalid character in address literal");
		p->pos++;
	}
	if (p->pos == p->len)
		return addr_eof(p, "unterminated address literal");
	n = p->pos - start;
	p->pos++;
	if (n >= sizeof(text))
		return addr_fail(p, "invalid address literal");
	for (size_t i = 0; i < n; i++)
		text[i] = (char)addr_lower((unsigned char)p->s[start + i]);
	text[n] = '\0';
	if (strncmp(text, "ipv6:", 5) == 0) {
		if (inet_pton(AF_INET6, text + 5, bin) != 1)
			return addr_fail(p, "invalid IPv6 address literal");
		buf_printf(domain, "[IPv6:%s]", text + 5);
	} else if (strchr(text, ':') != NULL) {
		return addr_fail(p, "unsupported address literal");
	} else {
		if (inet_pton(AF_INET, text, bin) != 1)
			return addr_fail(p, "invalid IPv4 address literal");
		buf_printf(domain, "[%s]", text);
	}
	return 1;
}

/* A source route "@a,@b:" before the mailbox: checked, then ignored. */
static int addr_parse_route(struct addr_parser *p)
{
	int ret;

	for (;;) {
		p->pos++; /* the '@' */
		if ((ret = addr_parse_domain(p)) <= 0)
			return ret;
		if (p->pos == p->len)
			return addr_eof(p, "address is incomplete");
		if (p->s[p->pos] == ':') {
			p->pos++;
			return 1;
		}
		if (p->s[p->pos] != ',')
			return addr_fail(p, "invalid source route");
		if (++p->pos == p->len)
			return addr_eof(p, "address is incomplete");
		if (p->s[p->pos] != '@')
			return addr_fail(p, "invalid source route");
	}
}

static int addr_parse_local(struct addr_parser *p, struct buf *local, bool *quoted_r)
{
	size_t start = p->pos;
	int ret;

	*quoted_r = p->pos < p->len && p->s[p->pos] == '"';
	if (*quoted_r) {
		ret = addr_parse_quoted(p, local);
	} else {
		ret = addr_parse_dot_string(p);
		if (ret > 0 && buf_append(local, p->s + start, p->pos - start) < 0)
			return addr_fail(p, "local part too long");
	}
	if (ret <= 0)
		return ret;
	if (p->pos - start > ADDR_LOCAL_MAX)
		return addr_fail(p, "local part too long");
	return 1;
}

/* What follows the local part: "@" and the domain up to (not over) the
 * close byte, or the close byte itself for a bare postmaster. */
static int addr_parse_after_local(struct addr_parser *p, const char *local, bool quoted,
				  struct addr *addr, struct buf *domain)
{
	size_t start;
	int ret;

	if (p->pos == p->len && !p->eof_ends)
		return addr_eof(p, "address is incomplete");
	if (addr_at_close(p)) {
		/* Only the one mailbox every site must have may go without
		 * a domain. */
		if (quoted || (p->flags & ADDR_ALLOW_POSTMASTER) == 0 ||
		    !addr_domain_equal(local, "postmaster"))
			return addr_fail(p, "address has no domain");
		return 1;
	}
	if (p->s[p->pos] != '@')
		return addr_fail(p, "invalid character in local part");
	if (++p->pos == p->len)
		return addr_eof(p, "missing domain");
	start = p->pos;
	if (p->s[p->pos] == '[') {
		addr->domain_literal = true;
		ret = addr_parse_literal(p, domain);
	} else {
		ret = addr_parse_domain(p);
		for (size_t i = start; ret > 0 && i < p->pos; i++)
			buf_append_char(domain, (char)addr_lower((unsigned char)p->s[i]));
	}
	if (ret <= 0)
		return ret;
	if (p->pos == p->len && !p->eof_ends)
		return addr_eof(p, "address is incomplete");
	if (!addr_at_close(p))
		return addr_fail(p, addr->domain_literal ? "unexpected text after address literal" :
				 "invalid character in domain");
	return 1;
}

/* Local-part "@" (Domain / address-literal). Fills addr on success. */
static int addr_parse_mailbox_at(struct addr_parser *p, struct addr *addr)
{
	struct buf local, domain;
	size_t start = p->pos;
	bool quoted = false;
	int ret;

	buf_init(&local, ADDR_LOCAL_MAX);
	buf_init(&domain, ADDR_DOMAIN_MAX + 16);
	if (p->pos == p->len)
		ret = addr_eof(p, "missing address");
	else
		ret = addr_parse_local(p, &local, &quoted);
	if (ret > 0)
		ret = addr_parse_after_local(p, buf_cstr(&local), quoted, addr, &domain);
	if (ret > 0 && p->pos - start > ADDR_MAILBOX_MAX)
		ret = addr_fail(p, "address too long");
	if (ret > 0) {
		addr->local = buf_steal(&local);
		if (domain.len > 0)
			addr->domain = buf_steal(&domain);
	}
	buf_free(&local);
	buf_free(&domain);
	return ret;
}

static bool addr_has_8bit(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

static int addr_parse_path_at(struct addr_parser *p, struct addr *addr)
{
	int ret;

	if (p->pos == p->len)
		return addr_eof(p, "missing address");
	if (p->s[p->pos] != '<') {
		if ((p->flags & ADDR_ALLOW_NO_BRACKETS) == 0)
			return addr_fail(p, "address must be enclosed in <>");
		p->close = ' ';
		return addr_parse_mailbox_at(p, addr);
	}
	p->close = '>';
	if (++p->pos == p->len)
		return addr_eof(p, "address is incomplete");
	if (p->s[p->pos] == '>') {
		if ((p->flags & ADDR_ALLOW_NULL) == 0)
			return addr_fail(p, "null address not allowed here");
		addr->null_path = true;
		addr->local = xstrdup("");
	} else {
		if (p->s[p->pos] == '@' && (ret = addr_parse_route(p)) <= 0)
			return ret;
		if ((ret = addr_parse_mailbox_at(p, addr)) <= 0)
			return ret;
	}
	p->pos++; /* the '>' */
	if (p->pos < p->len && p->s[p->pos] != ' ')
		return addr_fail(p, "unexpected text after address");
	return 1;
}

int addr_parse_path(const char *s, size_t len, unsigned flags,
		    struct addr *addr_r, size_t *consumed_r, const char **error_r)
{
	/* Look at one byte more than a path may hold, so that an overlong
	 * path is told apart from one still arriving. */
	bool truncated = len > ADDR_PATH_MAX + 1;
	struct addr_parser p = {
		.s = s, .len = truncated ? ADDR_PATH_MAX + 1 : len,
		.flags = flags, .close = -1, .error = "invalid address",
	};
	int ret;

	memset(addr_r, 0, sizeof(*addr_r));
	*consumed_r = 0;
	p.eof_ends = (flags & ADDR_ALLOW_NO_BRACKETS) != 0 && !truncated &&
		len > 0 && s[0] != '<';
	ret = addr_parse_path_at(&p, addr_r);
	if (ret == 0 && (truncated || len > ADDR_PATH_MAX))
		ret = addr_fail(&p, "address too long");
	else if (ret > 0 && p.pos > ADDR_PATH_MAX)
		ret = addr_fail(&p, "address too long");
	if (ret <= 0) {
		addr_free(addr_r);
		*error_r = p.error;
		return ret;
	}
	addr_r->utf8 = addr_has_8bit(addr_r->local) || addr_has_8bit(addr_r->domain);
	*consumed_r = p.pos;
	return 1;
}

int addr_parse_mailbox(const char *s, unsigned flags, struct addr *addr_r,
		       const char **error_r)
{
	size_t len = strlen(s);
	struct addr_parser p = {
		.s = s, .len = len,
		.flags = flags & (ADDR_ALLOW_UTF8 | ADDR_ALLOW_POSTMASTER),
		.close = -1, .eof_ends = true, .error = "invalid address",
	};

	memset(addr_r, 0, sizeof(*addr_r));
	if (len > ADDR_MAILBOX_MAX) {
		*error_r = "address too long";
		return -1;
	}
	if (addr_parse_mailbox_at(&p, addr_r) <= 0) {
		addr_free(addr_r);
		*error_r = p.error;
		return -1;
	}
	addr_r->utf8 = addr_has_8bit(addr_r->local) || addr_has_8bit(addr_r->domain);
	return 0;
}

void addr_free(struct addr *addr)
{
	free(addr->local);
	free(addr->domain);
	memset(addr, 0, sizeof(*addr));
}

/* A local part that is a valid Dot-string goes out bare. */
static bool addr_local_needs_quotes(const char *local)
{
	bool atom_empty = true;

	for (const unsigned char *c = (const unsigned char *)local; *c != '\0'; c++) {
		if (*c == '.') {
			if (atom_empty)
				return true;
			atom_empty = true;
		} else if (*c >= 0x80 || addr_is_atext(*c)) {
			atom_empty = false;
		} else {
			return true;
		}
	}
	return atom_empty;
}

char *addr_to_string(const struct addr *addr)
{
	struct buf b;

	if (addr->null_path)
		return xstrdup("");
	buf_init(&b, BUF_NO_LIMIT);
	if (!addr_local_needs_quotes(addr->local)) {
		buf_append_str(&b, addr->local);
	} else {
		buf_append_char(&b, '"');
		for (const char *c = addr->local; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				buf_append_char(&b, '\\');
			buf_append_char(&b, *c);
		}
		buf_append_char(&b, '"');
	}
	if (addr->domain != NULL) {
		buf_append_char(&b, '@');
		buf_append_str(&b, addr->domain);
	}
	return buf_steal(&b);
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	return a->null_path == b->null_path && a->domain_literal == b->domain_literal &&
		a->utf8 == b->utf8 && strcmp(a->local, b->local) == 0 &&
		(a->domain == NULL ? b->domain == NULL :
		 b->domain != NULL && strcmp(a->domain, b->domain) == 0);
}

bool addr_domain_equal(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	for (; *x != '\0' && addr_lower(*x) == addr_lower(*y); x++, y++)
		;
	return addr_lower(*x) == addr_lower(*y);
}

int addr_split_detail(const char *local, const char *delimiters,
		      char **base_r, char **detail_r)
{
	const char *d;

	*detail_r = NULL;
	for (d = local; *d != '\0'; d++) {
		if ((unsigned char)*d < 0x80 && delimiters != NULL &&
		    strchr(delimiters, *d) != NULL)
			break;
	}
	/* "+tag" alone has no user part to deliver to: leave it whole. */
	if (*d == '\0' || d == local) {
		*base_r = xstrdup(local);
		return 0;
	}
	*base_r = xstrndup(local, (size_t)(d - local));
	*detail_r = xstrdup(d + 1);
	return 1;
}
