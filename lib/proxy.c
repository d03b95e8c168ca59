#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

/* Byte layout from HAProxy's proxy-protocol.txt, sections 2.1 and 2.2. */
static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};
#define PROXY_V1_SIG "PROXY "
#define PROXY_V1_SIG_LEN 6
#define PROXY_V2_HDR 16

#define PP2_CMD_LOCAL 0x0
#define PP2_CMD_PROXY 0x1
#define PP2_FAM_UNSPEC 0x0
#define PP2_FAM_INET 0x1
#define PP2_FAM_INET6 0x2
#define PP2_FAM_UNIX 0x3
#define PP2_TRANS_STREAM 0x1
#define PP2_TRANS_DGRAM 0x2
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_SSL 0x20
#define PP2_CLIENT_SSL 0x01

struct proxy_tok {
	const char *s;
	size_t len;
};

static size_t proxy_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Split into tokens separated by exactly one space; -1 on an empty token
 * (double, leading or trailing space) or more than max tokens. */
static int proxy_v1_split(const char *s, size_t len, struct proxy_tok *toks, int max)
{
	size_t start = 0;
	int n = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ' ')
			continue;
		if (i == start || n == max)
			return -1;
		toks[n].s = s + start;
		toks[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

static bool proxy_tok_is(const struct proxy_tok *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

static int proxy_v1_addr(struct netaddr *a, const struct proxy_tok *addr,
			 const struct proxy_tok *port, int family, const char **error_r)
{
	if (netaddr_parse_n(a, addr->s, addr->len) < 0 || a->family != family) {
		*error_r = "PROXY v1 address invalid or not of the announced family";
		return -1;
	}
	if (netaddr_parse_port(port->s, port->len, &a->port) < 0) {
		*error_r = "PROXY v1 port invalid";
		return -1;
	}
	return 0;
}

/* The line after "PROXY ", without CRLF. */
static int proxy_v1_line(const char *s, size_t len, struct proxy_info *info,
			 const char **error_r)
{
	struct proxy_tok t[5];
	int family;

	/* The sender may put anything after UNKNOWN; it is ignored. */
	if (len >= 7 && memcmp(s, "UNKNOWN", 7) == 0 && (len == 7 || s[7] == ' '))
		return 0;
	if (proxy_v1_split(s, len, t, 5) != 5) {
		*error_r = "PROXY v1 line does not have 5 fields separated by single spaces";
		return -1;
	}
	if (proxy_tok_is(&t[0], "TCP4")) {
		family = AF_INET;
	} else if (proxy_tok_is(&t[0], "TCP6")) {
		family = AF_INET6;
	} else {
		*error_r = "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
		return -1;
	}
	if (proxy_v1_addr(&info->src, &t[1], &t[3], family, error_r) < 0 ||
	    proxy_v1_addr(&info->dst, &t[2], &t[4], family, error_r) < 0)
		return -1;
	info->has_addr = true;
	return 0;
}

static enum proxy_result proxy_parse_v1(const char *p, size_t len, struct proxy_info *info,
					size_t *consumed_r, const char **error_r)
{
	const char *lf;
	size_t line_len;

	if (memcmp(p, PROXY_V1_SIG, proxy_min(len, PROXY_V1_SIG_LEN)) != 0) {
		*error_r = "not a PROXY protocol header";
		return PROXY_ERROR;
	}
	lf = memchr(p, '\n', proxy_min(len, PROXY_V1_MAX));
	if (lf == NULL) {
		if (len < PROXY_V1_MAX)
			return PROXY_NEED_MORE;
		*error_r = "PROXY v1 line longer than 107 bytes";
		return PROXY_ERROR;
	}
	line_len = (size_t)(lf - p);
	/* The prefix check guarantees the LF comes after "PROXY ". */
	if (p[line_len - 1] != '\r') {
		*error_r = "PROXY v1 line not ended by CRLF";
		return PROXY_ERROR;
	}
	info->version = 1;
	if (proxy_v1_line(p + PROXY_V1_SIG_LEN, line_len - 1 - PROXY_V1_SIG_LEN,
			  info, error_r) < 0)
		return PROXY_ERROR;
	*consumed_r = line_len + 1;
	return PROXY_DONE;
}

/* Check the fixed v2 fields that have arrived, so junk is refused before
 * the whole header is in. addr_len_r: the address block the family needs. */
static int proxy_v2_fixed(const uint8_t *p, size_t len, size_t *addr_len_r,
			  const char **error_r)
{
	static const size_t addr_len[] = { 0, 12, 36, 216 };
	unsigned cmd, fam, trans;

	if (memcmp(p, proxy_v2_sig, proxy_min(len, sizeof(proxy_v2_sig))) != 0) {
		*error_r = "bad PROXY v2 signature";
		return -1;
	}
	if (len <= 12)
		return 0;
	cmd = p[12] & 0x0f;
	if ((p[12] >> 4) != 2) {
		*error_r = "PROXY v2 header with a version other than 2";
		return -1;
	}
	if (cmd != PP2_CMD_LOCAL && cmd != PP2_CMD_PROXY) {
		*error_r = "PROXY v2 command is neither LOCAL nor PROXY";
		return -1;
	}
	if (len <= 13)
		return 0;
	fam = p[13] >> 4;
	trans = p[13] & 0x0f;
	if (fam > PP2_FAM_UNIX || trans > PP2_TRANS_DGRAM) {
		*error_r = "PROXY v2 unknown address family or transport";
		return -1;
	}
	/* LOCAL ignores the family, so there is nothing more to check. */
	*addr_len_r = cmd == PP2_CMD_LOCAL ? 0 : addr_len[fam];
	if (cmd == PP2_CMD_PROXY && (fam == PP2_FAM_INET || fam == PP2_FAM_INET6) &&
	    trans != PP2_TRANS_STREAM) {
		*error_r = "PROXY v2 transport is not TCP";
		return -1;
	}
	if (len >= PROXY_V2_HDR && (size_t)(p[14] << 8 | p[15]) < *addr_len_r) {
		*error_r = "PROXY v2 length too short for its address family";
		return -1;
	}
	return 0;
}

static int proxy_v2_tlvs(const uint8_t *p, size_t len, struct proxy_info *info,
			 const char **error_r)
{
	size_t off = 0;

	while (off < len) {
		const uint8_t *v;
		size_t vlen;

		if (len - off < 3 || (vlen = (size_t)(p[off + 1] << 8 | p[off + 2])) > len - off - 3) {
			*error_r = "PROXY v2 TLV truncated";
			return -1;
		}
		v = p + off + 3;
		if (p[off] == PP2_TYPE_AUTHORITY) {
			if (vlen >= sizeof(info->authority) || memchr(v, '\0', vlen) != NULL) {
				*error_r = "PROXY v2 authority TLV too long or holding NUL";
				return -1;
			}
			memcpy(info->authority, v, vlen);
			info->authority[vlen] = '\0';
		} else if (p[off] == PP2_TYPE_SSL) {
			/* client bitfield, then a 32-bit verify result */
			if (vlen < 5) {
				*error_r = "PROXY v2 SSL TLV too short";
				return -1;
			}
			info->ssl = (v[0] & PP2_CLIENT_SSL) != 0;
		}
		off += 3 + vlen;
	}
	return 0;
}

static void proxy_v2_addrs(const uint8_t *p, unsigned fam, struct proxy_info *info)
{
	size_t alen = fam == PP2_FAM_INET ? 4 : 16;
	const uint8_t *ports = p + 2 * alen;

	info->src.family = info->dst.family = fam == PP2_FAM_INET ? AF_INET : AF_INET6;
	memcpy(info->src.addr, p, alen);
	memcpy(info->dst.addr, p + alen, alen);
	info->src.port = (uint16_t)(ports[0] << 8 | ports[1]);
	info->dst.port = (uint16_t)(ports[2] << 8 | ports[3]);
	info->has_addr = true;
}

static enum proxy_result proxy_parse_v2(const uint8_t *p, size_t len, struct proxy_info *info,
					size_t *consumed_r, const char **error_r)
{
	size_t addr_len = 0, total;
	unsigned fam;

	if (proxy_v2_fixed(p, len, &addr_len, error_r) < 0)
		return PROXY_ERROR;
	if (len < PROXY_V2_HDR)
		return PROXY_NEED_MORE;
	total = PROXY_V2_HDR + (size_t)(p[14] << 8 | p[15]);
	if (len < total)
		return PROXY_NEED_MORE;
	info->version = 2;
	fam = p[13] >> 4;
	if ((p[12] & 0x0f) == PP2_CMD_PROXY && fam != PP2_FAM_UNSPEC) {
		if (fam != PP2_FAM_UNIX)
			proxy_v2_addrs(p + PROXY_V2_HDR, fam, info);
		if (proxy_v2_tlvs(p + PROXY_V2_HDR + addr_len, total - PROXY_V2_HDR - addr_len,
				  info, error_r) < 0)
			return PROXY_ERROR;
	}
	*consumed_r = total;
	return PROXY_DONE;
}

enum proxy_result proxy_parse(const void *data, size_t len,
			      struct proxy_info *info_r, size_t *consumed_r,
			      const char **error_r)
{
	const uint8_t *p = data;

	memset(info_r, 0, sizeof(*info_r));
	*consumed_r = 0;
	if (len == 0)
		return PROXY_NEED_MORE;
	if (p[0] == proxy_v2_sig[0])
		return proxy_parse_v2(p, len, info_r, consumed_r, error_r);
	return proxy_parse_v1(data, len, info_r, consumed_r, error_r);
}

bool proxy_maybe_header(const void *data, size_t len)
{
	struct proxy_info info;
	const char *error;
	size_t consumed;

	return proxy_parse(data, len, &info, &consumed, &error) != PROXY_ERROR;
}
