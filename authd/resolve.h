#ifndef MR_AUTHD_RESOLVE_H
#define MR_AUTHD_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/* Recipient resolution, domain checks and sender ownership on top of the
 * backend's primitive lookups (through the cache, authd/db.h). Worker
 * threads. Addresses given here are normalized already (authd/names.h).
 *
 * Order for a recipient local@domain:
 *   1. the domain: unknown or inactive -> unknown; an alias domain ->
 *      local@target, resolved again; a relay domain -> itself, remote;
 *   2. an alias row for exactly the address -> its targets, each resolved
 *      again (a target naming the alias itself is its own mailbox: the
 *      PostfixAdmin pattern "a@d: a@d, fwd@x" keeps a copy; a row
 *      naming only itself is no expansion: kind stays mailbox);
 *   3. a mailbox -> itself (inactive or not receiving: unknown);
 *   4. at the top only, with recipient_delimiter: user+tag -> user, 2-3
 *      again, the detail kept for the MTA;
 *   5. the catch-all "@domain" -> its targets ("@other" in a catch-all
 *      keeps the local part).
 * Targets outside hosted domains are remote. Chains are followed up to
 * max_depth hops; meeting an address again on the same chain is a loop;
 * either is a permanent failure. Any TEMPFAIL on the way makes the whole
 * answer TEMPFAIL. */

struct resolve_settings {
	const char *delimiters;      /* recipient_delimiter; "" for none */
	unsigned max_depth;          /* alias_max_depth */
	char **relay_domains;        /* lower-case, from relay_domains */
	size_t nrelay_domains;
};

enum resolve_status {
	RESOLVE_TEMPFAIL = -1,
	RESOLVE_UNKNOWN = 0,
	RESOLVE_OK = 1,
	RESOLVE_FAIL = 2,            /* loop or chain too deep: permanent */
};

enum resolve_kind {
	RESOLVE_MAILBOX,             /* the address is a mailbox itself */
	RESOLVE_ALIAS,               /* expanded through aliases / catch-all / alias domain */
	RESOLVE_RELAY,               /* a relay domain: pass it on */
};

struct resolve_target {
	char *addr;                  /* canonical address */
	char *maildir;               /* local mailbox's maildir; NULL: remote address */
};

struct resolve_result {
	enum resolve_status status;
	enum resolve_kind kind;
	char *detail;                /* after the recipient delimiter; NULL */
	struct resolve_target *targets;
	size_t count;
	char *reason;                /* TEMPFAIL and FAIL: why */
};

/* Fills r (free with resolve_result_free) and returns r->status. */
enum resolve_status resolve_rcpt(struct authd_db *db, const struct resolve_settings *set,
				 const char *addr, struct resolve_result *r);
void resolve_result_free(struct resolve_result *r);

/* domain_r->relay is also set for relay_domains. NOTFOUND when the domain
 * is neither hosted, nor an alias domain, nor a relay domain. */
enum authd_status resolve_domain(struct authd_db *db, const struct resolve_settings *set,
				 const char *domain, struct authd_domain *domain_r,
				 const char **error_r);

/* May login use sender? OK yes, NOTFOUND no, TEMPFAIL unknown now. */
enum authd_status resolve_sender(struct authd_db *db, const struct resolve_settings *set,
				 const char *login, const char *sender, const char **error_r);

#endif
