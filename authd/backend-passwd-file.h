#ifndef MR_AUTHD_BACKEND_PASSWD_FILE_H
#define MR_AUTHD_BACKEND_PASSWD_FILE_H

#include <stddef.h>

#include "backend.h"

/* The passwd-file backend's parsed tables (users, aliases, domains), exposed
 * for its unit tests. File formats: docs/authd.md, "passwd-file backend".
 * Malformed lines are logged as "name:line: reason" and skipped. */

enum pwf_kind {
	PWF_USERS,
	PWF_ALIASES,
	PWF_DOMAINS,
};

/* Longest line read; longer ones are malformed. */
#define PWF_LINE_MAX 8192

struct pwf_table;
struct pwf_load;

struct pwf_table *pwf_table_new(void);
void pwf_table_free(struct pwf_table *t);

/* Feed one file's text into t in any pieces; end() returns how many
 * lines were malformed. */
struct pwf_load *pwf_load_begin(struct pwf_table *t, enum pwf_kind kind, const char *name);
void pwf_load_feed(struct pwf_load *ld, const void *data, size_t len);
unsigned pwf_load_end(struct pwf_load *ld);

enum authd_status pwf_table_user(const struct pwf_table *t, const char *addr,
				 struct authd_user *user_r);
enum authd_status pwf_table_alias(const struct pwf_table *t, const char *addr,
				  struct authd_targets *targets_r);
enum authd_status pwf_table_domain(const struct pwf_table *t, const char *domain,
				   struct authd_domain *domain_r);

#endif
