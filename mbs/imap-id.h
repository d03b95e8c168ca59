#ifndef MR_MBS_IMAP_ID_H
#define MR_MBS_IMAP_ID_H

#include <stddef.h>

#include "imap-parser.h"

struct buf;

/* RFC 2971 3.3: at most 30 pairs, fields up to 30 octets, values up to
 * 1024 octets. */
#define IMAP_ID_MAX_PAIRS 30
#define IMAP_ID_MAX_FIELD 30
#define IMAP_ID_MAX_VALUE 1024

/* ID's argument: NIL or a list of field-value pairs (fields strings,
 * values strings or NIL). 0: each pair appended to `log` as " key=value",
 * the key lower-cased and reduced to [a-z0-9_-], the value through
 * log_escape(), so a client cannot forge log lines; -1 with error_r. */
int imap_id_parse(const struct imap_arg *args, size_t count, struct buf *log,
		  const char **error_r);

#endif
