#ifndef MR_TEST_AUTHD_FIXTURE_H
#define MR_TEST_AUTHD_FIXTURE_H

#include <pthread.h>

#include "config.h"
#include "db.h"

/* The passwd-file backend over tests/data/authd (or files given), with a
 * cache, as authd's core would set it up. */
struct fixture {
	struct cfg *cfg;
	struct authd_db db;
	struct authd_cache *cache;
	pthread_mutex_t lock;
};

/* users/aliases/domains: paths; NULL picks the file in tests/data/authd. */
void fixture_open(struct fixture *f, const char *users, const char *aliases,
		  const char *domains);
void fixture_close(struct fixture *f);

#endif
