#ifndef MR_MTA_MTA_H
#define MR_MTA_MTA_H

#include <stdint.h>

#include <uv.h>

#include "config.h"

/* What every SMTP/LMTP session of mailroom-mta shares: the authd client,
 * the queue and the per-client-address connection rate. */

#define MTA_RATE_SLOTS 4096

struct mta_rate_slot {
	uint64_t key;         /* hash of the address */
	uint64_t window;      /* minute the count belongs to */
	unsigned count;
};

struct mta {
	uv_loop_t *loop;
	struct authd_client *authd;
	struct queue *queue;
	char hostname[256];
	/* Fixed-size table: addresses that collide share a count, which can
	 * only make the limit stricter, and memory never grows. */
	struct mta_rate_slot rate[MTA_RATE_SLOTS];
};

extern const struct cfg_def mta_defs[];
extern const size_t mta_defs_count;

#endif
