#ifndef MR_MIME_ADDRESS_H
#define MR_MIME_ADDRESS_H

#include <stddef.h>

/* RFC 5322 address lists (From, To, Cc...) taken apart the way an IMAP
 * ENVELOPE needs them. Parsing never fails: obsolete forms (routes,
 * comments as names, a mailbox without a domain) are accepted, and what
 * cannot be understood is skipped up to the next comma.
 *
 * A group "name: a, b;" is three kinds of entries: a start (mailbox is
 * the group name, host NULL), its members, and an end (mailbox and host
 * NULL). A member without a domain gets host "MISSING_DOMAIN", as other
 * IMAP servers send it. Strings are as written: quoted strings and
 * quoted-pairs are undone, encoded-words are kept. */
struct mime_address {
	struct mime_address *next;
	char *name;     /* display name, or a trailing comment; NULL when none */
	char *route;    /* obsolete source route "@a,@b"; NULL when none */
	char *mailbox;  /* local part, or group name */
	char *host;     /* domain */
};

#define MIME_ADDRESS_MISSING_DOMAIN "MISSING_DOMAIN"
/* Entries past this many are dropped: a header's own size bounds it too. */
#define MIME_ADDRESS_MAX 10000

/* NULL when the value holds no address. */
struct mime_address *mime_address_parse(const char *value, size_t len);
void mime_address_free(struct mime_address **list);

#endif
