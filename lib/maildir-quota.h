#ifndef MR_MAILDIR_QUOTA_H
#define MR_MAILDIR_QUOTA_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Maildir++ quota: <maildir>/maildirsize, as Courier's maildirquota
 * describes it and Dovecot, Exim and maildrop use it.
 *
 *	<bytes>S,<count>C		limits (either may be absent; 0 = none)
 *	<bytes> <count>			one line per change, may be negative
 *
 * Usage is the sum of the change lines. The file is recalculated by a
 * scan when it is missing, over 5120 bytes, its limits differ from the
 * configured ones, or (as the spec says) it shows the Maildir over quota
 * and is older than 15 minutes. */
struct maildir_quota_limits {
	uint64_t bytes;		/* 0: no limit */
	uint64_t count;		/* 0: no limit */
};

struct maildir_quota {
	struct maildir_quota_limits limits;
	int64_t bytes;
	int64_t count;
	unsigned int skipped_lines;	/* malformed lines ignored */
};

#define MAILDIR_QUOTA_MAX_FILE_SIZE 5120
#define MAILDIR_QUOTA_STALE_SECS (15 * 60)

/* Parse a whole maildirsize. 0: ok, -1: the limits line is malformed. */
int maildir_quota_parse(struct maildir_quota *q, const char *data, size_t len,
			const char **error_r);
/* Scan every folder's new/ and cur/ and rewrite maildirsize (by rename)
 * with these limits and the usage found. */
int maildir_quota_recalc(const char *maildir, const struct maildir_quota_limits *limits,
			 struct maildir_quota *q_r, const char **error_r);
/* Current usage and limits. limits NULL: take them from the file (no file:
 * no limits, nothing written). Recalculates when due (see above). */
int maildir_quota_get(const char *maildir, const struct maildir_quota_limits *limits,
		      struct maildir_quota *q_r, const char **error_r);
/* Append a change line with O_APPEND (after a delivery or an expunge).
 * 1: appended, 0: no maildirsize (the next get creates it), -1: error. */
int maildir_quota_update(const char *maildir, int64_t bytes, int64_t count,
			 const char **error_r);
/* 1 when adding bytes and count stays within the limits, 0 when not (the
 * MTA answers 552 5.2.2). */
int maildir_quota_fits(const struct maildir_quota *q, uint64_t bytes, uint64_t count);

#endif
