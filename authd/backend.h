#ifndef MR_AUTHD_BACKEND_H
#define MR_AUTHD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The interface every user database implements: one file per backend
 * (backend-passwd-file.c, backend-mysql.c, backend-ldap.c), each exporting
 * one `const struct authd_backend_ops`. authd's core does everything
 * above the primitive lookups (cache, alias expansion, catch-all, alias
 * domains, loop detection, sender ownership, password schemes), so a
 * backend only answers questions about single rows or entries.
 *
 * Threads: lookups run on worker threads, several at once; a backend
 * keeps its own connection pool and locking. They never run on the event
 * loop thread.
 *
 * Results: AUTHD_OK (found / yes), AUTHD_NOTFOUND (definitely not there),
 * AUTHD_TEMPFAIL (could not ask: server down, timeout, bad reply; *error_r
 * says why for the log). A backend must never turn an outage into
 * NOTFOUND: that would bounce mail and reject good passwords. */

enum authd_status {
	AUTHD_TEMPFAIL = -1,
	AUTHD_NOTFOUND = 0,
	AUTHD_OK = 1,
};

/* Services a mailbox may use; bits in authd_user.services. */
#define AUTHD_SVC_SMTP 0x01     /* submission (sending) */
#define AUTHD_SVC_IMAP 0x02
#define AUTHD_SVC_POP3 0x04
#define AUTHD_SVC_DELIVER 0x08  /* receiving mail */
#define AUTHD_SVC_ALL 0x0f

struct authd_user {
	char *user;             /* canonical address: local part as stored, domain lower-case */
	char *password;         /* stored "{SCHEME}hash"; NULL when the backend verifies itself */
	char *maildir;          /* under mail_root, e.g. "example.test/demo/" */
	uint64_t quota_bytes;   /* 0: unlimited */
	uint64_t quota_messages;/* 0: unlimited */
	unsigned services;      /* AUTHD_SVC_* enabled for this mailbox */
	bool active;            /* the mailbox is enabled */
	bool domain_active;     /* its domain is enabled */
};

struct authd_domain {
	bool hosted;            /* mailboxes/aliases live here (even if inactive) */
	bool active;
	bool relay;             /* backup MX / relay domain: accept, pass on */
	char *alias_target;     /* alias domain: the domain it stands for; else NULL */
};

/* A list of addresses (alias targets). */
struct authd_targets {
	char **items;
	size_t count;
};

void authd_user_free(struct authd_user *user);
void authd_domain_free(struct authd_domain *domain);
void authd_targets_add(struct authd_targets *t, const char *addr);
/* Split "a@x, b@y  c@z" (commas and/or white space) into t. */
void authd_targets_add_list(struct authd_targets *t, const char *list);
void authd_targets_free(struct authd_targets *t);

struct authd_backend;

struct authd_backend_ops {
	const char *name;       /* the value of `backend =` */
	/* The backend's own keys, named with its prefix ("mysql_", "ldap_",
	 * "passwd_file_"); authd adds them to its table. */
	const struct cfg_def *defs;
	size_t ndefs;

	/* Loop thread, at start and on reload (a new instance each time). */
	int (*init)(const struct cfg *cfg, struct authd_backend **backend_r,
		    const char **error_r);
	void (*deinit)(struct authd_backend *backend);

	/* addr: "local@domain", domain already lower-case. Inactive rows are
	 * still returned (with active false): authd logs why a login fails. */
	enum authd_status (*user_lookup)(struct authd_backend *backend, const char *addr,
					 struct authd_user *user_r, const char **error_r);
	/* Targets of the alias row whose key is exactly addr ("local@domain",
	 * or "@domain" for a catch-all). Only active aliases. One level: the
	 * core expands chains. */
	enum authd_status (*alias_lookup)(struct authd_backend *backend, const char *addr,
					  struct authd_targets *targets_r, const char **error_r);
	enum authd_status (*domain_lookup)(struct authd_backend *backend, const char *domain,
					   struct authd_domain *domain_r, const char **error_r);
	/* An explicit send-as grant: may `login` use `sender` (an address, or
	 * "@domain" for the whole domain)? OK yes, NOTFOUND no. May be NULL
	 * (no grants in this backend). */
	enum authd_status (*sender_grant)(struct authd_backend *backend, const char *login,
					  const char *sender, const char **error_r);
	/* Check a password by the backend's own means (LDAP bind as the
	 * user). OK match, NOTFOUND mismatch. NULL: the core compares
	 * against authd_user.password. */
	enum authd_status (*password_verify)(struct authd_backend *backend,
					     const struct authd_user *user,
					     const char *password, const char **error_r);
};

extern const struct authd_backend_ops authd_backend_passwd_file;
extern const struct authd_backend_ops authd_backend_mysql;
extern const struct authd_backend_ops authd_backend_ldap;

#endif
