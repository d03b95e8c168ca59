#ifndef MR_AUTHD_CORE_H
#define MR_AUTHD_CORE_H

#include <stddef.h>

#include <uv.h>

#include "authd.h"
#include "config.h"
#include "db.h"
#include "resolve.h"

/* The parts of authd's core that main.c, the lookup protocol and the unit
 * tests need beyond authd.h. */

/* authd's own keys (without the backends' and the daemon's). */
extern const struct cfg_def authd_core_defs[];
extern const size_t authd_core_defs_count;

/* cfg_def validator for a list of networks (netaddr.h's netmask_list). */
int authd_validate_networks(const char *value, const char **error_r);

/* The compiled-in backends (backends.c). */
extern const struct authd_backend_ops *const authd_backends[];
extern const size_t authd_backends_count;
const struct authd_backend_ops *authd_backend_find(const char *name);

/* Every key of mailroom-authd after the daemon's common ones: the core's,
 * then each backend's, then the protocol front ends' (services.h); built
 * once, never freed. `backend`'s choices are the compiled-in backends. */
const struct cfg_def *authd_all_defs(size_t *count_r);

/* Loop thread. Builds the backend instance, the cache and the penalty
 * table from cfg (which need not outlive the call). */
struct authd *authd_new(uv_loop_t *loop, const struct cfg *cfg, const char **error_r);
/* A new backend instance and settings from cfg; the cache is flushed.
 * On error the running state stays. */
int authd_reload(struct authd *a, const struct cfg *cfg, const char **error_r);
/* After every submitted job has finished. */
void authd_free(struct authd *a);

/* One configuration generation: the backend instance and the settings
 * read with it. A worker holds one for the length of a request, so a
 * reload never pulls the backend from under a lookup. */
struct authd_env;
struct authd_env *authd_env_get(struct authd *a);
void authd_env_put(struct authd *a, struct authd_env *env);
/* The cached backend of env. */
void authd_env_db(struct authd *a, struct authd_env *env, struct authd_db *db_r);
const struct resolve_settings *authd_env_resolve(const struct authd_env *env);
/* mail_root, "" when not set. */
const char *authd_env_mail_root(const struct authd_env *env);
/* A user name or address as a lookup key (names.h with default_domain). */
int authd_env_normalize(const struct authd_env *env, const char *name, char **out_r,
			const char **error_r);

/* Loop thread: drop cached answers about key (NULL: all). */
size_t authd_flush(struct authd *a, const char *key);

#endif
