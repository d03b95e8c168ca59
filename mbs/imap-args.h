#ifndef MR_IMAP_ARGS_H
#define MR_IMAP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "imap-parser.h"

struct buf;

/* Argument checks several IMAP commands share: flag lists (STORE, APPEND),
 * the STORE mode, APPEND's date-time, SEARCH's date and mailbox names. */

enum imap_system_flag {
	IMAP_FLAG_SEEN = 0x01,
	IMAP_FLAG_ANSWERED = 0x02,
	IMAP_FLAG_FLAGGED = 0x04,
	IMAP_FLAG_DELETED = 0x08,
	IMAP_FLAG_DRAFT = 0x10,
};

#define IMAP_MAX_KEYWORD_LEN 255

struct imap_flags {
	unsigned system;        /* enum imap_system_flag bits */
	char **keywords;        /* atoms, case-insensitively distinct */
	size_t keyword_count;
};

/* A flag-list "(\Seen foo)" (APPEND). \Recent and unknown \ flags are
 * refused: a client may not set them. */
int imap_flag_list_parse(const struct imap_arg *list, struct imap_flags *flags_r,
			 const char **error_r);
/* STORE's flags: one flag-list or one or more flags as separate arguments. */
int imap_store_flags_parse(const struct imap_arg *args, size_t count,
			   struct imap_flags *flags_r, const char **error_r);
void imap_flags_free(struct imap_flags *flags);

enum imap_store_mode {
	IMAP_STORE_REPLACE,   /* FLAGS */
	IMAP_STORE_ADD,       /* +FLAGS */
	IMAP_STORE_REMOVE,    /* -FLAGS */
};

/* "FLAGS", "+FLAGS.SILENT", ... (any case). */
int imap_store_mode_parse(const char *atom, enum imap_store_mode *mode_r, bool *silent_r,
			  const char **error_r);

struct imap_date {
	int year, month, day;   /* month 1-12 */
};

/* SEARCH's date "d-Mon-yyyy" (day of one or two digits, checked against
 * the month's length). */
int imap_date_parse(const char *s, struct imap_date *date_r, const char **error_r);

/* APPEND's date-time "dd-Mon-yyyy hh:mm:ss +zzzz", a quoted string (day
 * may be " d"). The instant in UTC and the zone offset in minutes. */
int imap_datetime_parse(const struct imap_arg *arg, time_t *time_r, int *zone_r,
			const char **error_r);

/* Days since 1970-01-01 (negative before), for comparing dates. */
int64_t imap_date_days(const struct imap_date *date);

/* The mailbox hierarchy delimiter: Maildir++ (as Dovecot lays it out by
 * default) keeps folders as ".A.B", so "." separates levels. */
#define IMAP_MAILBOX_SEP '.'
#define IMAP_MAILBOX_MAX_LEN 254     /* one directory name with its leading "." */
#define IMAP_MAILBOX_MAX_LEVELS 16

enum imap_mailbox_flags {
	IMAP_MAILBOX_UTF8 = 0x01,     /* the name is UTF-8 (UTF8=ACCEPT), not mUTF-7 */
};

/* Check a mailbox name from a client and append its stored form (mUTF-7,
 * "INBOX" in upper case when the first level is INBOX in any case) to
 * `out`. Refused: empty names and levels ("..", leading or trailing "."),
 * "/", "~" starting a level, "%" and "*", control characters, invalid
 * mUTF-7 or UTF-8, over-long names and too many levels. */
int imap_mailbox_name_check(const char *name, unsigned flags, struct buf *out,
			    const char **error_r);

#endif
