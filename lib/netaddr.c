#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netaddr.h"
#include "xalloc.h"

/* Room for an error naming the offending input; valid until the next call
 * in the same thread. */
static _Thread_local char netaddr_error[160];

static const char *netaddr_errorf(const char *what, const char *s, size_t len)
{
	if (len > 80)
		len = 80;
	snprintf(netaddr_error, sizeof(netaddr_error), "%s: '%.*s'", what, (int)len, s);
	return netaddr_error;
}

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
};

int netaddr_from_sockaddr(struct netaddr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		memcpy(a->addr, &sin->sin_addr, 4);
		a->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		a->family = AF_INET6;
		memcpy(a->addr, &sin6->sin6_addr, 16);
		a->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -1;
}

void netaddr_to_sockaddr(const struct netaddr *a, struct sockaddr_storage *ss, socklen_t *len_r)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->addr, 4);
		sin->sin_port = htons(a->port);
		*len_r = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->addr, 16);
		sin6->sin6_port = htons(a->port);
		*len_r = sizeof(*sin6);
	}
}

int netaddr_parse(struct netaddr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -1;
}

const char *netaddr_str(const struct netaddr *a, char out[NETADDR_STRLEN])
{
	int family = a->family == AF_INET ? AF_INET : AF_INET6;

	if (inet_ntop(family, a->addr, out, NETADDR_STRLEN) == NULL)
		snprintf(out, NETADDR_STRLEN, "?");
	return out;
}

/* Decimal digits only: no sign, no space, no leading zero (no octal
 * confusion), at most max_digits of them. */
static int netaddr_parse_uint(const char *s, size_t len, size_t max_digits,
			      unsigned long max, unsigned long *value_r)
{
	unsigned long v = 0;

	if (len == 0 || len > max_digits || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*value_r = v;
	return 0;
}

int netaddr_parse_port(const char *s, size_t len, uint16_t *port_r)
{
	unsigned long v;

	if (netaddr_parse_uint(s, len, 5, 65535, &v) < 0)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

int netaddr_parse_n(struct netaddr *a, const char *s, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	/* An embedded NUL would hide trailing junk from inet_pton(). */
	if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return netaddr_parse(a, tmp);
}

static void netmask_apply(struct netmask *m)
{
	unsigned bits = m->family == AF_INET ? 32 : 128;

	for (unsigned i = m->prefix; i < bits; i++)
		m->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static int netmask_parse_n(struct netmask *m, const char *s, size_t len,
			   const char **error_r)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	struct netaddr a;
	unsigned long prefix;

	memset(m, 0, sizeof(*m));
	if (netaddr_parse_n(&a, s, alen) < 0) {
		*error_r = netaddr_errorf("bad network address", s, len);
		return -1;
	}
	m->family = a.family;
	memcpy(m->addr, a.addr, sizeof(m->addr));
	m->prefix = a.family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		if (netaddr_parse_uint(slash + 1, len - alen - 1, 3, m->prefix, &prefix) < 0) {
			*error_r = netaddr_errorf("bad prefix length", s, len);
			return -1;
		}
		m->prefix = (unsigned)prefix;
	}
	/* Host bits are cleared so "192.0.2.7/24" means the whole /24. */
	netmask_apply(m);
	return 0;
}

int netmask_parse(struct netmask *m, const char *s, const char **error_r)
{
	return netmask_parse_n(m, s, strlen(s), error_r);
}

static bool netmask_bits_match(const uint8_t *net, const uint8_t *addr, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(net, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net[whole] ^ addr[whole]) & (uint8_t)(0xff00u >> rest)) == 0;
}

bool netmask_match(const struct netmask *m, const struct netaddr *a)
{
	uint8_t mapped[16];

	if (m->family == a->family)
		return netmask_bits_match(m->addr, a->addr, m->prefix);
	/* A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d. */
	if (m->family == AF_INET && a->family == AF_INET6) {
		if (memcmp(a->addr, v4mapped_prefix, 12) != 0)
			return false;
		return netmask_bits_match(m->addr, a->addr + 12, m->prefix);
	}
	if (m->family == AF_INET6 && a->family == AF_INET) {
		memcpy(mapped, v4mapped_prefix, 12);
		memcpy(mapped + 12, a->addr, 4);
		return netmask_bits_match(m->addr, mapped, m->prefix);
	}
	return false;
}

static bool netmask_is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

int netmask_list_parse(struct netmask_list *l, const char *s, const char **error_r)
{
	struct netmask *items = NULL;
	size_t count = 0;

	l->items = NULL;
	l->count = 0;
	while (*s != '\0') {
		size_t len = 0;

		while (netmask_is_sep(*s))
			s++;
		while (s[len] != '\0' && !netmask_is_sep(s[len]))
			len++;
		if (len == 0)
			break;
		items = xreallocarray(items, count + 1, sizeof(*items));
		if (netmask_parse_n(&items[count], s, len, error_r) < 0) {
			free(items);
			return -1;
		}
		count++;
		s += len;
	}
	l->items = items;
	l->count = count;
	return 0;
}

bool netmask_list_match(const struct netmask_list *l, const struct netaddr *a)
{
	for (size_t i = 0; i < l->count; i++) {
		if (netmask_match(&l->items[i], a))
			return true;
	}
	return false;
}

void netmask_list_free(struct netmask_list *l)
{
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* "*" listens on every address: IPv6 (dual stack) when the kernel has it. */
static void netaddr_any(struct netaddr *a)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	memset(a, 0, sizeof(*a));
	a->family = fd >= 0 ? AF_INET6 : AF_INET;
	if (fd >= 0)
		close(fd);
}

int netaddr_parse_hostport(struct netaddr *a, const char *s, const char **error_r)
{
	const char *colon = strrchr(s, ':');
	const char *host = s, *host_end;
	uint16_t port;

	memset(a, 0, sizeof(*a));
	if (colon == NULL) {
		*error_r = netaddr_errorf("missing :port", s, strlen(s));
		return -1;
	}
	host_end = colon;
	if (*host == '[') {
		if (host_end - host < 2 || host_end[-1] != ']') {
			*error_r = netaddr_errorf("bad [address]", s, strlen(s));
			return -1;
		}
		host++;
		host_end--;
	} else if (memchr(host, ':', (size_t)(host_end - host)) != NULL) {
		*error_r = netaddr_errorf("IPv6 address needs [brackets]", s, strlen(s));
		return -1;
	}
	if (netaddr_parse_port(colon + 1, strlen(colon + 1), &port) < 0 || port == 0) {
		*error_r = netaddr_errorf("bad port (want 1-65535)", s, strlen(s));
		return -1;
	}
	if (host_end - host == 1 && *host == '*' && host == s) {
		netaddr_any(a);
	} else if (netaddr_parse_n(a, host, (size_t)(host_end - host)) < 0 ||
		   (host != s && a->family != AF_INET6)) {
		*error_r = netaddr_errorf("bad address", s, strlen(s));
		return -1;
	}
	a->port = port;
	return 0;
}
