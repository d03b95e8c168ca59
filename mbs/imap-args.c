#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-utf7.h"
#include "xalloc.h"

static const struct {
	const char *name;
	unsigned bit;
} system_flags[] = {
	{ "\\Seen", IMAP_FLAG_SEEN },
	{ "\\Answered", IMAP_FLAG_ANSWERED },
	{ "\\Flagged", IMAP_FLAG_FLAGGED },
	{ "\\Deleted", IMAP_FLAG_DELETED },
	{ "\\Draft", IMAP_FLAG_DRAFT },
};

void imap_flags_free(struct imap_flags *flags)
{
	for (size_t i = 0; i < flags->keyword_count; i++)
		free(flags->keywords[i]);
	free(flags->keywords);
	memset(flags, 0, sizeof(*flags));
}

/* A keyword is an atom of plain ATOM-CHARs. */
static bool keyword_valid(const char *s)
{
	if (*s == '\0' || strlen(s) > IMAP_MAX_KEYWORD_LEN)
		return false;
	for (; *s != '\0'; s++)
		if (strchr("%*] ()\"\\[", *s) != NULL)
			return false;
	return true;
}

static int flag_add(struct imap_flags *flags, const struct imap_arg *arg, const char **error_r)
{
	const char *s = imap_arg_atom(arg);

	if (s == NULL || arg->type == IMAP_ARG_NIL)
		return *error_r = "Flags must be atoms", -1;
	if (s[0] == '\\') {
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++) {
			if (strcasecmp(s, system_flags[i].name) == 0) {
				flags->system |= system_flags[i].bit;
				return 0;
			}
		}
		return *error_r = strcasecmp(s, "\\Recent") == 0 ?
			"\\Recent can not be set by a client" : "Unknown system flag", -1;
	}
	if (!keyword_valid(s))
		return *error_r = "Invalid keyword", -1;
	for (size_t i = 0; i < flags->keyword_count; i++)
		if (strcasecmp(flags->keywords[i], s) == 0)
			return 0;
	flags->keywords = xreallocarray(flags->keywords, flags->keyword_count + 1,
					sizeof(*flags->keywords));
	flags->keywords[flags->keyword_count++] = xstrdup(s);
	return 0;
}

static int flags_add_all(const struct imap_arg *args, size_t count, struct imap_flags *flags_r,
			 const char **error_r)
{
	memset(flags_r, 0, sizeof(*flags_r));
	for (size_t i = 0; i < count; i++) {
		if (flag_add(flags_r, &args[i], error_r) < 0) {
			imap_flags_free(flags_r);
			return -1;
		}
	}
	return 0;
}

int imap_flag_list_parse(const struct imap_arg *list, struct imap_flags *flags_r,
			 const char **error_r)
{
	if (list == NULL || list->type != IMAP_ARG_LIST)
		return *error_r = "Flag list expected", -1;
	return flags_add_all(list->list, list->count, flags_r, error_r);
}

int imap_store_flags_parse(const struct imap_arg *args, size_t count,
			   struct imap_flags *flags_r, const char **error_r)
{
	if (count == 0)
		return *error_r = "Missing flags", -1;
	if (args[0].type == IMAP_ARG_LIST) {
		if (count > 1)
			return *error_r = "Unexpected argument after flag list", -1;
		return imap_flag_list_parse(&args[0], flags_r, error_r);
	}
	return flags_add_all(args, count, flags_r, error_r);
}

int imap_store_mode_parse(const char *atom, enum imap_store_mode *mode_r, bool *silent_r,
			  const char **error_r)
{
	size_t len;

	if (atom == NULL)
		return *error_r = "Missing STORE data item", -1;
	*mode_r = IMAP_STORE_REPLACE;
	if (*atom == '+' || *atom == '-')
		*mode_r = *atom++ == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
	len = strlen(atom);
	*silent_r = len == 12 && strcasecmp(atom + 5, ".SILENT") == 0;
	if ((len != 5 && !*silent_r) || strncasecmp(atom, "FLAGS", 5) != 0)
		return *error_r = "Invalid STORE data item", -1;
	return 0;
}

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int month_parse(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, month_names[i], 3) == 0)
			return i + 1;
	return 0;
}

static int month_days(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* n decimal digits at s; -1 when any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "Mon-yyyy" after a day, into date_r. */
static int month_year_parse(const char *s, int day, struct imap_date *date_r)
{
	int month = month_parse(s), year = digits(s + 4, 4);

	if (month == 0 || s[3] != '-' || year < 0)
		return -1;
	if (day < 1 || day > month_days(year, month))
		return -1;
	date_r->year = year;
	date_r->month = month;
	date_r->day = day;
	return 0;
}

int imap_date_parse(const char *s, struct imap_date *date_r, const char **error_r)
{
	int ndig = s[0] >= '0' && s[0] <= '9' ? (s[1] >= '0' && s[1] <= '9' ? 2 : 1) : 0;
	size_t len = strlen(s);

	if (ndig == 0 || len != (size_t)ndig + 9 || s[ndig] != '-' ||
	    month_year_parse(s + ndig + 1, digits(s, ndig), date_r) < 0)
		return *error_r = "Invalid date (d-Mon-yyyy)", -1;
	return 0;
}

int64_t imap_date_days(const struct imap_date *date)
{
	/* Count from 1 March so the leap day ends the year. */
	int64_t y = date->year - (date->month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (date->month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + date->day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int imap_datetime_parse(const struct imap_arg *arg, time_t *time_r, int *zone_r,
			const char **error_r)
{
	const char *s;
	struct imap_date date;
	int day, hh, mm, ss, zh, zm;

	if (arg == NULL || arg->type != IMAP_ARG_QUOTED || arg->len != 26)
		return *error_r = "Invalid date-time (\"dd-Mon-yyyy hh:mm:ss +zzzz\")", -1;
	s = arg->str;
	day = s[0] == ' ' ? digits(s + 1, 1) : digits(s, 2);
	hh = digits(s + 12, 2), mm = digits(s + 15, 2), ss = digits(s + 18, 2);
	zh = digits(s + 22, 2), zm = digits(s + 24, 2);
	if (day < 0 || s[2] != '-' || month_year_parse(s + 3, day, &date) < 0 ||
	    s[11] != ' ' || s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-') || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
	    ss < 0 || ss > 60 || zh < 0 || zh > 23 || zm < 0 || zm > 59)
		return *error_r = "Invalid date-time (\"dd-Mon-yyyy hh:mm:ss +zzzz\")", -1;
	*zone_r = (s[21] == '-' ? -1 : 1) * (zh * 60 + zm);
	*time_r = (time_t)(imap_date_days(&date) * 86400 + hh * 3600 + mm * 60 + ss -
			   (int64_t)*zone_r * 60);
	return 0;
}

/* Control characters (C0, DEL, C1) in the decoded name. */
static bool has_controls(const char *s, size_t len)
{
	unsigned cp;

	for (size_t i = 0; i < len;) {
		int n = imap_utf8_decode_one(s + i, len - i, &cp);

		if (n < 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return true;
		i += (size_t)n;
	}
	return false;
}

/* The levels of a stored (mUTF-7) name. */
static int mailbox_levels_check(const char *name, const char **error_r)
{
	size_t levels = 1;
	const char *level = name;

	if (strlen(name) > IMAP_MAILBOX_MAX_LEN)
		return *error_r = "Mailbox name too long", -1;
	if (strpbrk(name, "/%*") != NULL)
		return *error_r = "Mailbox name contains /, % or *", -1;
	for (const char *p = name;; p++) {
		if (*p != IMAP_MAILBOX_SEP && *p != '\0')
			continue;
		if (p == level)
			return *error_r = "Mailbox name has an empty level", -1;
		if (*level == '~')
			return *error_r = "Mailbox name level starts with ~", -1;
		if (*p == '\0')
			break;
		if (++levels > IMAP_MAILBOX_MAX_LEVELS)
			return *error_r = "Mailbox name has too many levels", -1;
		level = p + 1;
	}
	return 0;
}

int imap_mailbox_name_check(const char *name, unsigned flags, struct buf *out,
			    const char **error_r)
{
	struct buf utf8, stored;
	int ret = -1;

	buf_init(&utf8, 4 * IMAP_MAILBOX_MAX_LEN);
	buf_init(&stored, 4 * IMAP_MAILBOX_MAX_LEN);
	*error_r = "Mailbox name too long";
	if ((flags & IMAP_MAILBOX_UTF8) != 0) {
		if (buf_append_str(&utf8, name) < 0 ||
		    imap_utf8_to_utf7(name, &stored, error_r) < 0)
			goto out;
	} else if (buf_append_str(&stored, name) < 0 ||
		   imap_utf7_to_utf8(name, &utf8, error_r) < 0) {
		goto out;
	}
	if (stored.len == 0 || stored.len > IMAP_MAILBOX_MAX_LEN) {
		*error_r = stored.len == 0 ? "Empty mailbox name" : "Mailbox name too long";
		goto out;
	}
	if (has_controls(utf8.data, utf8.len)) {
		*error_r = "Mailbox name contains control characters";
		goto out;
	}
	if (mailbox_levels_check(stored.data, error_r) < 0)
		goto out;
	if (strncasecmp(stored.data, "INBOX", 5) == 0 &&
	    (stored.data[5] == '\0' || stored.data[5] == IMAP_MAILBOX_SEP))
		memcpy(stored.data, "INBOX", 5);
	ret = buf_append_str(out, stored.data);
	if (ret < 0)
		*error_r = "Mailbox name too long";
out:
	buf_free(&utf8);
	buf_free(&stored);
	return ret;
}
