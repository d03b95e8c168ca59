#ifndef MR_NETADDR_H
#define MR_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Network addresses and CIDR networks (trusted networks, PROXY protocol
 * sources, penalty buckets). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * match IPv4 networks, and IPv4 addresses match IPv6 networks as their
 * mapped form. Error strings naming the input stay valid until the next
 * netaddr/netmask call in the same thread. */

struct netaddr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* 4 bytes used for AF_INET */
	uint16_t port;     /* host order; 0 when unknown */
};

struct netmask {
	int family;
	uint8_t addr[16];
	unsigned prefix;   /* 0-32 or 0-128 */
};

struct netmask_list {
	struct netmask *items;
	size_t count;
};

#define NETADDR_STRLEN 64 /* "[ipv6]:port" and the NUL fit */

int netaddr_from_sockaddr(struct netaddr *a, const struct sockaddr *sa);
void netaddr_to_sockaddr(const struct netaddr *a, struct sockaddr_storage *ss, socklen_t *len_r);
/* Literal address without port, "192.0.2.1" or "2001:db8::1". */
int netaddr_parse(struct netaddr *a, const char *s);
/* The same for the first len bytes of s (s need not end there). */
int netaddr_parse_n(struct netaddr *a, const char *s, size_t len);
/* Decimal port 0-65535 in exactly len bytes, no sign and no leading zero. */
int netaddr_parse_port(const char *s, size_t len, uint16_t *port_r);
/* Text form without port. */
const char *netaddr_str(const struct netaddr *a, char out[NETADDR_STRLEN]);

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (full prefix). Host
 * bits are cleared: "192.0.2.7/24" is 192.0.2.0/24. */
int netmask_parse(struct netmask *m, const char *s, const char **error_r);
bool netmask_match(const struct netmask *m, const struct netaddr *a);

/* Comma- or space-separated list of networks; an empty string is an empty
 * list. On error nothing is allocated and error_r names the bad entry. */
int netmask_list_parse(struct netmask_list *l, const char *s, const char **error_r);
bool netmask_list_match(const struct netmask_list *l, const struct netaddr *a);
void netmask_list_free(struct netmask_list *l);

/* "host:port", "[v6]:port" or "*:port" for a listener (literal addresses,
 * port 1-65535); "*" gives the IPv6 any address when available. */
int netaddr_parse_hostport(struct netaddr *a, const char *s, const char **error_r);

#endif
