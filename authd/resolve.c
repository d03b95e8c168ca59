#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "names.h"
#include "resolve.h"
#include "xalloc.h"

/* Bounds on one resolution, whatever the data: a wide alias fan-out
 * repeated over a chain could otherwise ask the backend without end. */
#define RESOLVE_MAX_TARGETS 1000
#define RESOLVE_MAX_STEPS 2000

struct resolve_ctx {
	struct authd_db *db;
	const struct resolve_settings *set;
	struct resolve_result *r;
	const char **path;           /* the chain being followed */
	size_t depth;
	unsigned steps;
	bool catchall;               /* false for sender ownership */
	bool expanded;               /* an alias row or alias domain was used */
};

static enum resolve_status resolve_addr(struct resolve_ctx *x, const char *addr);

/* The first failure on the way is the one reported: "<what> <arg>". */
static enum resolve_status resolve_fail(struct resolve_ctx *x, enum resolve_status st,
					const char *what, const char *arg)
{
	if (x->r->reason == NULL)
		x->r->reason = xasprintf("%s %s", what, arg);
	return st;
}

static enum resolve_status resolve_tempfail(struct resolve_ctx *x, const char *error)
{
	return resolve_fail(x, RESOLVE_TEMPFAIL, "backend:",
			    error != NULL ? error : "temporary failure");
}

static enum resolve_status resolve_add(struct resolve_ctx *x, const char *addr,
				       const char *maildir)
{
	struct resolve_result *r = x->r;

	for (size_t i = 0; i < r->count; i++)
		if (strcmp(r->targets[i].addr, addr) == 0)
			return RESOLVE_OK;
	if (r->count == RESOLVE_MAX_TARGETS)
		return resolve_fail(x, RESOLVE_FAIL, "too many targets at", addr);
	r->targets = xreallocarray(r->targets, r->count + 1, sizeof(*r->targets));
	r->targets[r->count].addr = xstrdup(addr);
	r->targets[r->count].maildir = maildir != NULL ? xstrdup(maildir) : NULL;
	r->count++;
	return RESOLVE_OK;
}

static bool resolve_is_relay(const struct resolve_settings *set, const char *domain)
{
	for (size_t i = 0; i < set->nrelay_domains; i++)
		if (strcmp(set->relay_domains[i], domain) == 0)
			return true;
	return false;
}

/* A mailbox that receives mail. */
static enum resolve_status resolve_mailbox(struct resolve_ctx *x, const char *addr)
{
	struct authd_user u;
	const char *err = NULL;
	enum authd_status st = authd_db_user(x->db, addr, &u, &err);
	enum resolve_status ret = RESOLVE_UNKNOWN;

	if (st == AUTHD_TEMPFAIL)
		return resolve_tempfail(x, err);
	if (st == AUTHD_OK && u.active && u.domain_active && (u.services & AUTHD_SVC_DELIVER) != 0)
		ret = resolve_add(x, u.user, u.maildir);
	authd_user_free(&u);
	return ret;
}

/* Combine the outcome of one target into the outcome so far: a TEMPFAIL
 * wins over everything, a permanent failure over success. */
static enum resolve_status resolve_merge(enum resolve_status sofar, enum resolve_status one)
{
	if (sofar == RESOLVE_TEMPFAIL || one == RESOLVE_TEMPFAIL)
		return RESOLVE_TEMPFAIL;
	if (sofar == RESOLVE_FAIL || one == RESOLVE_FAIL)
		return RESOLVE_FAIL;
	return sofar == RESOLVE_OK || one == RESOLVE_OK ? RESOLVE_OK : RESOLVE_UNKNOWN;
}

/* The targets of the alias row `key`, for the address addr; UNKNOWN when
 * there is no such row. */
static enum resolve_status resolve_alias(struct resolve_ctx *x, const char *key,
					 const char *addr)
{
	struct authd_targets t;
	const char *err = NULL;
	enum authd_status st = authd_db_alias(x->db, key, &t, &err);
	enum resolve_status ret = RESOLVE_UNKNOWN;
	size_t local_len = (size_t)(strrchr(addr, '@') - addr);

	if (st == AUTHD_TEMPFAIL)
		return resolve_tempfail(x, err);
	if (st == AUTHD_NOTFOUND)
		return RESOLVE_UNKNOWN;
	x->path[x->depth++] = key;
	for (size_t i = 0; i < t.count && ret != RESOLVE_TEMPFAIL; i++) {
		const char *target = t.items[i];
		char *full = NULL;

		/* PostfixAdmin's self-row "a@d: a@d" names just the mailbox:
		 * only another target makes this an expansion (as in LDAP,
		 * where such a mailbox has no alias at all). */
		if (strcmp(target, addr) == 0) {
			ret = resolve_merge(ret, resolve_mailbox(x, addr));
			continue;
		}
		x->expanded = true;
		if (target[0] == '@')
			target = full = xasprintf("%.*s%s", (int)local_len, addr, target);
		ret = resolve_merge(ret, resolve_addr(x, target));
		free(full);
	}
	x->depth--;
	authd_targets_free(&t);
	return ret;
}

/* An address in a hosted, active domain: its alias row, else its
 * mailbox. */
static enum resolve_status resolve_local(struct resolve_ctx *x, const char *addr)
{
	enum resolve_status st = resolve_alias(x, addr, addr);

	if (st != RESOLVE_UNKNOWN)
		return st;
	return resolve_mailbox(x, addr);
}

static enum resolve_status resolve_catchall(struct resolve_ctx *x, const char *addr)
{
	char *key;
	enum resolve_status st;

	if (!x->catchall)
		return RESOLVE_UNKNOWN;
	key = xasprintf("@%s", authd_name_domain(addr));
	st = resolve_alias(x, key, addr);
	free(key);
	return st;
}

/* Step 1 of the order in resolve.h: what the domain makes of addr.
 * Returns OK with *hosted_r true when the address is to be looked up
 * here; otherwise the outcome for the address. */
static enum resolve_status resolve_by_domain(struct resolve_ctx *x, const char *addr,
					     bool *hosted_r)
{
	const char *domain = authd_name_domain(addr), *err = NULL;
	struct authd_domain d;
	enum authd_status st;
	enum resolve_status ret;
	char *rewritten;

	*hosted_r = false;
	if (resolve_is_relay(x->set, domain))
		return resolve_add(x, addr, NULL);
	st = authd_db_domain(x->db, domain, &d, &err);
	if (st == AUTHD_TEMPFAIL)
		return resolve_tempfail(x, err);
	if (st == AUTHD_NOTFOUND || (!d.hosted && !d.relay && d.alias_target == NULL)) {
		/* Not ours: as a target it is a forward; asked for, it is unknown. */
		ret = x->depth > 0 ? resolve_add(x, addr, NULL) : RESOLVE_UNKNOWN;
	} else if (!d.active) {
		ret = RESOLVE_UNKNOWN;
	} else if (d.relay) {
		ret = resolve_add(x, addr, NULL);
	} else if (d.alias_target != NULL) {
		rewritten = xasprintf("%.*s@%s", (int)(domain - 1 - addr), addr, d.alias_target);
		x->expanded = true;
		x->path[x->depth++] = addr;
		ret = resolve_addr(x, rewritten);
		x->depth--;
		free(rewritten);
	} else {
		*hosted_r = true;
		ret = RESOLVE_OK;
	}
	authd_domain_free(&d);
	return ret;
}

static enum resolve_status resolve_addr(struct resolve_ctx *x, const char *addr)
{
	enum resolve_status st;
	bool hosted;

	if (++x->steps > RESOLVE_MAX_STEPS)
		return resolve_fail(x, RESOLVE_FAIL, "alias expansion too large at", addr);
	for (size_t i = 0; i < x->depth; i++)
		if (strcmp(x->path[i], addr) == 0)
			return resolve_fail(x, RESOLVE_FAIL, "alias loop at", addr);
	if (x->depth > x->set->max_depth)
		return resolve_fail(x, RESOLVE_FAIL, "alias chain too deep at", addr);
	st = resolve_by_domain(x, addr, &hosted);
	if (!hosted)
		return st;
	st = resolve_local(x, addr);
	if (st == RESOLVE_UNKNOWN)
		st = resolve_catchall(x, addr);
	return st;
}

/* The top: like resolve_addr, with the recipient delimiter tried between
 * the exact address and the catch-all. */
static enum resolve_status resolve_top(struct resolve_ctx *x, const char *addr)
{
	const char *domain = authd_name_domain(addr);
	char *local, *base = NULL, *detail = NULL, *stripped;
	enum resolve_status st;
	bool hosted;

	x->steps++;
	st = resolve_by_domain(x, addr, &hosted);
	if (!hosted)
		return st;
	st = resolve_local(x, addr);
	if (st != RESOLVE_UNKNOWN)
		return st;
	local = xstrndup(addr, (size_t)(domain - 1 - addr));
	if (*x->set->delimiters == '\0' ||
	    addr_split_detail(local, x->set->delimiters, &base, &detail) == 0) {
		free(local);
		free(base);
		return resolve_catchall(x, addr);
	}
	stripped = xasprintf("%s@%s", base, domain);
	st = resolve_local(x, stripped);
	if (st != RESOLVE_UNKNOWN) {
		x->r->detail = detail;
		detail = NULL;
	} else {
		st = resolve_catchall(x, stripped);
	}
	free(stripped);
	free(base);
	free(detail);
	free(local);
	return st;
}

static enum resolve_status resolve_run(struct authd_db *db, const struct resolve_settings *set,
				       const char *addr, bool catchall,
				       struct resolve_result *r)
{
	struct resolve_ctx x = { .db = db, .set = set, .r = r, .catchall = catchall };

	memset(r, 0, sizeof(*r));
	/* Each level pushes at most two names (alias domain, then alias). */
	x.path = xcalloc(2 * (size_t)set->max_depth + 4, sizeof(*x.path));
	r->status = resolve_top(&x, addr);
	if (r->status == RESOLVE_OK && r->count == 0)
		r->status = RESOLVE_UNKNOWN;
	if (r->status != RESOLVE_OK || x.expanded)
		r->kind = RESOLVE_ALIAS;
	else if (r->targets[0].maildir != NULL)
		r->kind = RESOLVE_MAILBOX;
	else
		r->kind = RESOLVE_RELAY;
	free(x.path);
	return r->status;
}

enum resolve_status resolve_rcpt(struct authd_db *db, const struct resolve_settings *set,
				 const char *addr, struct resolve_result *r)
{
	return resolve_run(db, set, addr, true, r);
}

void resolve_result_free(struct resolve_result *r)
{
	for (size_t i = 0; i < r->count; i++) {
		free(r->targets[i].addr);
		free(r->targets[i].maildir);
	}
	free(r->targets);
	free(r->detail);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

enum authd_status resolve_domain(struct authd_db *db, const struct resolve_settings *set,
				 const char *domain, struct authd_domain *domain_r,
				 const char **error_r)
{
	enum authd_status st;

	if (resolve_is_relay(set, domain)) {
		memset(domain_r, 0, sizeof(*domain_r));
		domain_r->relay = true;
		domain_r->active = true;
		return AUTHD_OK;
	}
	st = authd_db_domain(db, domain, domain_r, error_r);
	if (st == AUTHD_OK && !domain_r->hosted && !domain_r->relay &&
	    domain_r->alias_target == NULL) {
		authd_domain_free(domain_r);
		return AUTHD_NOTFOUND;
	}
	return st;
}

/* Does sender lead (through aliases and alias domains, never a catch-all)
 * to login's mailbox? */
static enum authd_status resolve_sender_alias(struct authd_db *db,
					      const struct resolve_settings *set,
					      const char *login, const char *sender,
					      const char **error_r)
{
	struct resolve_result r;
	enum authd_status st = AUTHD_NOTFOUND;

	if (resolve_run(db, set, sender, false, &r) == RESOLVE_TEMPFAIL) {
		*error_r = "backend temporary failure";
		st = AUTHD_TEMPFAIL;
	}
	for (size_t i = 0; i < r.count && st == AUTHD_NOTFOUND; i++)
		if (r.targets[i].maildir != NULL && strcmp(r.targets[i].addr, login) == 0)
			st = AUTHD_OK;
	resolve_result_free(&r);
	return st;
}

/* An explicit grant for sender or its whole domain. */
static enum authd_status resolve_sender_grant(struct authd_db *db, const char *login,
					      const char *sender, const char **error_r)
{
	char *domain = xasprintf("@%s", authd_name_domain(sender));
	enum authd_status st = authd_db_sender_grant(db, login, sender, error_r);

	if (st == AUTHD_NOTFOUND)
		st = authd_db_sender_grant(db, login, domain, error_r);
	free(domain);
	return st;
}

enum authd_status resolve_sender(struct authd_db *db, const struct resolve_settings *set,
				 const char *login, const char *sender, const char **error_r)
{
	enum authd_status st, grant;

	if (strcmp(login, sender) == 0)
		return AUTHD_OK;
	st = resolve_sender_alias(db, set, login, sender, error_r);
	if (st == AUTHD_OK)
		return AUTHD_OK;
	grant = resolve_sender_grant(db, login, sender, error_r);
	if (grant == AUTHD_OK)
		return AUTHD_OK;
	return st == AUTHD_TEMPFAIL || grant == AUTHD_TEMPFAIL ? AUTHD_TEMPFAIL : AUTHD_NOTFOUND;
}
