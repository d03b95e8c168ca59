#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap-args.h"
#include "imap-list.h"
#include "imap-utf7.h"
#include "xalloc.h"

/* ---- arguments ---- */

static int imap_list_select_parse(const struct imap_arg *list, unsigned *select_r,
				  const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED },
		{ "REMOTE", IMAP_LIST_SEL_REMOTE },
		{ "RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH },
		{ "SPECIAL-USE", IMAP_LIST_SEL_SPECIALUSE },
	};

	*select_r = 0;
	for (size_t i = 0; i < list->count; i++) {
		size_t j;

		for (j = 0; j < sizeof(opts) / sizeof(opts[0]); j++) {
			if (imap_arg_atom_is(&list->list[i], opts[j].name))
				break;
		}
		if (j == sizeof(opts) / sizeof(opts[0])) {
			*error_r = "Unknown selection option";
			return -1;
		}
		*select_r |= opts[j].bit;
	}
	/* RFC 5258 3.1: RECURSIVEMATCH only refines another option. */
	if ((*select_r & IMAP_LIST_SEL_RECURSIVEMATCH) != 0 &&
	    (*select_r & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIALUSE)) == 0) {
		*error_r = "RECURSIVEMATCH must not be the only selection option";
		return -1;
	}
	return 0;
}

int imap_status_items_parse(const struct imap_arg *list, unsigned *items_r,
			    const char **error_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} items[] = {
		{ "MESSAGES", IMAP_STATUS_MESSAGES },
		{ "RECENT", IMAP_STATUS_RECENT },
		{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
		{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
		{ "UNSEEN", IMAP_STATUS_UNSEEN },
		{ "SIZE", IMAP_STATUS_SIZE },
	};

	*items_r = 0;
	if (list->type != IMAP_ARG_LIST) {
		*error_r = "Status items must be a parenthesized list";
		return -1;
	}
	if (list->count == 0) {
		*error_r = "Empty status item list";
		return -1;
	}
	for (size_t i = 0; i < list->count; i++) {
		size_t j;

		for (j = 0; j < sizeof(items) / sizeof(items[0]); j++) {
			if (imap_arg_atom_is(&list->list[i], items[j].name))
				break;
		}
		if (j == sizeof(items) / sizeof(items[0])) {
			*error_r = "Unknown status item";
			return -1;
		}
		*items_r |= items[j].bit;
	}
	return 0;
}

static int imap_list_return_parse(const struct imap_arg *list, struct imap_list_args *a,
				  const char **error_r)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *opt = &list->list[i];

		if (imap_arg_atom_is(opt, "SUBSCRIBED")) {
			a->ret |= IMAP_LIST_RET_SUBSCRIBED;
		} else if (imap_arg_atom_is(opt, "CHILDREN")) {
			a->ret |= IMAP_LIST_RET_CHILDREN;
		} else if (imap_arg_atom_is(opt, "SPECIAL-USE")) {
			a->ret |= IMAP_LIST_RET_SPECIALUSE;
		} else if (imap_arg_atom_is(opt, "STATUS")) {
			/* RFC 5819: STATUS (items) */
			if (i + 1 >= list->count) {
				*error_r = "STATUS return option needs a list of items";
				return -1;
			}
			if (imap_status_items_parse(&list->list[++i], &a->status_items,
						    error_r) < 0)
				return -1;
			a->ret |= IMAP_LIST_RET_STATUS;
		} else {
			*error_r = "Unknown return option";
			return -1;
		}
	}
	return 0;
}

/* "INBOX" is case-insensitive as a whole first level (RFC 3501 5.1). */
static void imap_list_inbox_upper(char *s)
{
	if (strncasecmp(s, "INBOX", 5) == 0 && (s[5] == '\0' || s[5] == IMAP_MAILBOX_SEP))
		memcpy(s, "INBOX", 5);
}

static int imap_list_add_pattern(struct imap_list_args *a, const char *ref, const char *pattern,
				 bool utf8, const char **error_r)
{
	struct buf joined, decoded;
	const char *error;
	char *p;

	if (a->pattern_count >= IMAP_LIST_MAX_PATTERNS) {
		*error_r = "Too many patterns";
		return -1;
	}
	buf_init(&joined, IMAP_LIST_MAX_PATTERN);
	buf_init(&decoded, 4 * IMAP_LIST_MAX_PATTERN);
	/* RFC 3501 6.3.8: the reference is put in front of the pattern. */
	if (buf_append_str(&joined, ref) < 0 || buf_append_str(&joined, pattern) < 0) {
		buf_free(&joined);
		buf_free(&decoded);
		*error_r = "Pattern too long";
		return -1;
	}
	if (utf8) {
		if (imap_utf8_validate(joined.data, joined.len) < 0) {
			buf_free(&joined);
			buf_free(&decoded);
			*error_r = "Pattern is not valid UTF-8";
			return -1;
		}
		p = buf_steal(&joined);
	} else if (imap_utf7_to_utf8(buf_cstr(&joined), &decoded, &error) == 0) {
		p = buf_steal(&decoded);
	} else {
		/* Not mUTF-7 (a wildcard inside an encoded run): matched as
		 * it is, which finds the plain ASCII names it spells. */
		p = buf_steal(&joined);
	}
	buf_free(&joined);
	buf_free(&decoded);
	imap_list_inbox_upper(p);
	a->patterns = xreallocarray(a->patterns, a->pattern_count + 1, sizeof(*a->patterns));
	a->patterns[a->pattern_count++] = p;
	return 0;
}

/* RFC 3501 list-mailbox: an astring that may hold "%" and "*". */
static const char *imap_list_mailbox_arg(const struct imap_arg *arg)
{
	if (arg->type == IMAP_ARG_ATOM && arg->str[0] != '\\')
		return arg->str;
	return imap_arg_astring(arg);
}

int imap_list_args_parse(const struct imap_arg *args, size_t count, bool lsub, bool utf8,
			 struct imap_list_args *a, const char **error_r)
{
	const char *ref, *pattern;
	size_t i = 0;

	memset(a, 0, sizeof(*a));
	a->lsub = lsub;
	/* RFC 5258 3: LIST [(selection)] ref (pattern...) [RETURN (options)] */
	if (!lsub && count > 0 && args[0].type == IMAP_ARG_LIST) {
		if (imap_list_select_parse(&args[0], &a->select, error_r) < 0)
			goto fail;
		i++;
	}
	if (count < i + 2) {
		*error_r = lsub ? "LSUB needs a reference and a pattern" :
				  "LIST needs a reference and a pattern";
		goto fail;
	}
	ref = imap_list_mailbox_arg(&args[i]);
	if (ref == NULL) {
		*error_r = "Invalid reference name";
		goto fail;
	}
	if (!lsub && args[i + 1].type == IMAP_ARG_LIST) {
		const struct imap_arg *list = &args[i + 1];

		if (list->count == 0) {
			*error_r = "Empty pattern list";
			goto fail;
		}
		for (size_t j = 0; j < list->count; j++) {
			pattern = imap_list_mailbox_arg(&list->list[j]);
			if (pattern == NULL) {
				*error_r = "Invalid pattern";
				goto fail;
			}
			if (imap_list_add_pattern(a, ref, pattern, utf8, error_r) < 0)
				goto fail;
		}
	} else {
		pattern = imap_list_mailbox_arg(&args[i + 1]);
		if (pattern == NULL) {
			*error_r = "Invalid pattern";
			goto fail;
		}
		if (*pattern == '\0')
			a->delimiter_query = true;
		else if (imap_list_add_pattern(a, ref, pattern, utf8, error_r) < 0)
			goto fail;
	}
	i += 2;
	if (i < count) {
		if (lsub || !imap_arg_atom_is(&args[i], "RETURN") || i + 2 != count ||
		    args[i + 1].type != IMAP_ARG_LIST) {
			*error_r = lsub ? "Too many arguments" : "Expected RETURN (options)";
			goto fail;
		}
		if (imap_list_return_parse(&args[i + 1], a, error_r) < 0)
			goto fail;
	}
	if ((a->select & IMAP_LIST_SEL_SUBSCRIBED) != 0)
		a->ret |= IMAP_LIST_RET_SUBSCRIBED;
	if ((a->select & IMAP_LIST_SEL_SPECIALUSE) != 0)
		a->ret |= IMAP_LIST_RET_SPECIALUSE;
	return 0;
fail:
	imap_list_args_free(a);
	return -1;
}

void imap_list_args_free(struct imap_list_args *a)
{
	for (size_t i = 0; i < a->pattern_count; i++)
		free(a->patterns[i]);
	free(a->patterns);
	a->patterns = NULL;
	a->pattern_count = 0;
}

/* ---- matching ---- */

static bool imap_list_match_fold(const char *pattern, const char *name, size_t fold)
{
	size_t m = strlen(pattern), n = strlen(name);
	bool *prev = xcalloc(m + 1, sizeof(*prev)), *cur = xcalloc(m + 1, sizeof(*cur)), *t;
	bool ret;

	/* prev[j]: pattern[0..j) matches name[0..i) */
	prev[0] = true;
	for (size_t j = 1; j <= m; j++)
		prev[j] = prev[j - 1] && (pattern[j - 1] == '*' || pattern[j - 1] == '%');
	for (size_t i = 1; i <= n; i++) {
		char c = name[i - 1];

		cur[0] = false;
		for (size_t j = 1; j <= m; j++) {
			char p = pattern[j - 1];

			if (p == '*')
				cur[j] = cur[j - 1] || prev[j];
			else if (p == '%')
				cur[j] = cur[j - 1] || (prev[j] && c != IMAP_MAILBOX_SEP);
			else if (i <= fold)
				cur[j] = prev[j - 1] &&
					 (p == c || ((p | 0x20) == (c | 0x20) && (c | 0x20) >= 'a' &&
						     (c | 0x20) <= 'z'));
			else
				cur[j] = prev[j - 1] && p == c;
		}
		t = prev, prev = cur, cur = t;
	}
	ret = prev[m];
	free(prev);
	free(cur);
	return ret;
}

bool imap_list_match(const char *pattern, const char *name)
{
	/* INBOX's own letters match in any case: "inb*" finds it too. */
	size_t fold = strncmp(name, "INBOX", 5) == 0 &&
		      (name[5] == '\0' || name[5] == IMAP_MAILBOX_SEP) ? 5 : 0;

	return imap_list_match_fold(pattern, name, fold);
}

/* ---- replies ---- */

static bool imap_list_atom_ok(const char *s)
{
	if (*s == '\0' || strcasecmp(s, "NIL") == 0)
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

void imap_list_append_name(struct buf *out, const char *stored, bool utf8)
{
	struct buf u;
	const char *error, *s = stored;

	buf_init(&u, BUF_NO_LIMIT);
	if (utf8 && imap_utf7_to_utf8(stored, &u, &error) == 0)
		s = buf_cstr(&u);
	if (imap_list_atom_ok(s)) {
		buf_append_str(out, s);
	} else {
		buf_append_char(out, '"');
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_append_char(out, '\\');
			buf_append_char(out, *s);
		}
		buf_append_char(out, '"');
	}
	buf_free(&u);
}

void imap_status_format(struct buf *out, const char *stored_name, bool utf8, unsigned items,
			const struct mbox_status *st)
{
	const char *sp = "";

	buf_append_str(out, "* STATUS ");
	imap_list_append_name(out, stored_name, utf8);
	buf_append_str(out, " (");
	if (items & IMAP_STATUS_MESSAGES)
		buf_printf(out, "%sMESSAGES %u", sp, st->messages), sp = " ";
	if (items & IMAP_STATUS_RECENT)
		buf_printf(out, "%sRECENT %u", sp, st->recent), sp = " ";
	if (items & IMAP_STATUS_UIDNEXT)
		buf_printf(out, "%sUIDNEXT %u", sp, st->uidnext), sp = " ";
	if (items & IMAP_STATUS_UIDVALIDITY)
		buf_printf(out, "%sUIDVALIDITY %u", sp, st->uidvalidity), sp = " ";
	if (items & IMAP_STATUS_UNSEEN)
		buf_printf(out, "%sUNSEEN %u", sp, st->unseen), sp = " ";
	if (items & IMAP_STATUS_SIZE)
		buf_printf(out, "%sSIZE %llu", sp, (unsigned long long)st->size);
	buf_append_str(out, ")\r\n");
}

#define MBOX_FOLDER_SPECIAL (MBOX_FOLDER_SENT | MBOX_FOLDER_DRAFTS | MBOX_FOLDER_TRASH | \
			     MBOX_FOLDER_JUNK | MBOX_FOLDER_ARCHIVE)

struct imap_list_entry {
	char *name;            /* stored form */
	unsigned flags;        /* enum mbox_folder_flags */
	bool childinfo;        /* RECURSIVEMATCH: only a descendant matched */
	bool lsub_parent;      /* LSUB "%": a level above a subscription */
};

struct imap_list_entries {
	struct imap_list_entry *v;
	size_t count;
};

static bool imap_list_matches(const struct imap_list_args *a, const char *stored,
			      bool percent_only)
{
	struct buf u;
	const char *error, *name = stored;
	bool ret = false;

	buf_init(&u, BUF_NO_LIMIT);
	if (imap_utf7_to_utf8(stored, &u, &error) == 0)
		name = buf_cstr(&u);
	for (size_t i = 0; i < a->pattern_count && !ret; i++) {
		const char *p = a->patterns[i];
		size_t len = strlen(p);

		if (percent_only && (len == 0 || p[len - 1] != '%'))
			continue;
		ret = imap_list_match(p, name);
	}
	buf_free(&u);
	return ret;
}

/* Parents (childinfo or lsub_parent) may repeat a name already listed;
 * the folder lists' own names are unique. */
static void imap_list_add(struct imap_list_entries *e, const char *name, size_t len,
			  unsigned flags, bool childinfo, bool lsub_parent)
{
	for (size_t i = 0; (childinfo || lsub_parent) && i < e->count; i++) {
		if (strncmp(e->v[i].name, name, len) == 0 && e->v[i].name[len] == '\0')
			return;
	}
	e->v = xreallocarray(e->v, e->count + 1, sizeof(*e->v));
	e->v[e->count].name = xstrndup(name, len);
	e->v[e->count].flags = flags;
	e->v[e->count].childinfo = childinfo;
	e->v[e->count].lsub_parent = lsub_parent;
	e->count++;
}

static const struct mbox_folder *imap_folder_find(const struct mbox_folder_list *list,
						  const char *name, size_t len)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strncmp(list->v[i].name, name, len) == 0 && list->v[i].name[len] == '\0')
			return &list->v[i];
	}
	return NULL;
}

/* The levels above each subscribed name that match: LSUB's "%" parents
 * (RFC 3501 6.3.9) or RECURSIVEMATCH's CHILDINFO (RFC 5258 3.5) for a
 * parent that is not subscribed itself. */
static void imap_list_add_parents(const struct imap_list_args *a,
				  const struct mbox_folder_list *all,
				  const struct mbox_folder_list *subs,
				  struct imap_list_entries *e)
{
	for (size_t i = 0; i < subs->count; i++) {
		const char *name = subs->v[i].name;

		for (const char *dot = strchr(name, IMAP_MAILBOX_SEP); dot != NULL;
		     dot = strchr(dot + 1, IMAP_MAILBOX_SEP)) {
			size_t len = (size_t)(dot - name);
			const struct mbox_folder *f;
			char *parent = xstrndup(name, len);
			bool match = imap_list_matches(a, parent, a->lsub);

			free(parent);
			/* subscribed itself: listed on its own */
			if (!match || imap_folder_find(subs, name, len) != NULL)
				continue;
			f = imap_folder_find(all, name, len);
			if (a->lsub)
				imap_list_add(e, name, len, MBOX_FOLDER_NOSELECT, false, true);
			else
				imap_list_add(e, name, len,
					      f != NULL ? f->flags : MBOX_FOLDER_NONEXISTENT |
								     MBOX_FOLDER_CHILDREN,
					      true, false);
		}
	}
}

static int imap_list_entry_cmp(const void *x, const void *y)
{
	const struct imap_list_entry *a = x, *b = y;
	bool ia = strcmp(a->name, "INBOX") == 0, ib = strcmp(b->name, "INBOX") == 0;

	if (ia || ib)
		return ib - ia;
	return strcmp(a->name, b->name);
}

static void imap_list_attrs(const struct imap_list_args *a, const struct imap_list_entry *e,
			    struct buf *out)
{
	static const struct {
		unsigned flag;
		const char *name;
	} special[] = {
		{ MBOX_FOLDER_SENT, "\\Sent" },
		{ MBOX_FOLDER_DRAFTS, "\\Drafts" },
		{ MBOX_FOLDER_TRASH, "\\Trash" },
		{ MBOX_FOLDER_JUNK, "\\Junk" },
		{ MBOX_FOLDER_ARCHIVE, "\\Archive" },
	};
	const char *sp = "";

	buf_append_char(out, '(');
	if (a->lsub) {
		/* LSUB: \Noselect only (RFC 3501 6.3.9) */
		if ((e->flags & MBOX_FOLDER_NOSELECT) != 0 || e->lsub_parent)
			buf_append_str(out, "\\Noselect");
		buf_append_char(out, ')');
		return;
	}
	if ((e->flags & MBOX_FOLDER_NONEXISTENT) != 0)
		buf_append_str(out, "\\NonExistent"), sp = " ";
	else if ((e->flags & MBOX_FOLDER_NOSELECT) != 0)
		buf_append_str(out, "\\Noselect"), sp = " ";
	if ((a->ret & IMAP_LIST_RET_SUBSCRIBED) != 0 && (e->flags & MBOX_FOLDER_SUBSCRIBED) != 0)
		buf_printf(out, "%s\\Subscribed", sp), sp = " ";
	/* CHILDREN (RFC 3348) is always on: clients draw trees with it. */
	buf_printf(out, "%s%s", sp,
		   (e->flags & MBOX_FOLDER_CHILDREN) != 0 ? "\\HasChildren" : "\\HasNoChildren");
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		if ((e->flags & special[i].flag) != 0 &&
		    (e->flags & MBOX_FOLDER_NONEXISTENT) == 0)
			buf_printf(out, " %s", special[i].name);
	}
	buf_append_char(out, ')');
}

void imap_list_build(const struct imap_list_args *a, const struct mbox_folder_list *all,
		     const struct mbox_folder_list *subs, bool utf8,
		     int (*status)(void *ctx, const char *stored_name, struct mbox_status *st_r),
		     void *status_ctx, struct buf *out)
{
	const char *verb = a->lsub ? "LSUB" : "LIST";
	const struct mbox_folder_list *from;
	struct imap_list_entries e = { NULL, 0 };

	if (a->delimiter_query) {
		/* RFC 3501 6.3.8: the delimiter and the root name (there is one
		 * flat namespace, its root is ""). */
		buf_printf(out, "* %s (\\Noselect) \".\" \"\"\r\n", verb);
		return;
	}
	from = imap_list_needs_subs(a) ? subs : all;
	for (size_t i = 0; i < from->count; i++) {
		const struct mbox_folder *f = &from->v[i];

		if ((a->select & IMAP_LIST_SEL_SPECIALUSE) != 0 &&
		    (f->flags & MBOX_FOLDER_SPECIAL) == 0)
			continue;
		if (imap_list_matches(a, f->name, false))
			imap_list_add(&e, f->name, strlen(f->name), f->flags, false, false);
	}
	if (a->lsub || ((a->select & IMAP_LIST_SEL_SUBSCRIBED) != 0 &&
			(a->select & IMAP_LIST_SEL_RECURSIVEMATCH) != 0))
		imap_list_add_parents(a, all, subs, &e);
	if (e.count > 1)
		qsort(e.v, e.count, sizeof(*e.v), imap_list_entry_cmp);
	for (size_t i = 0; i < e.count; i++) {
		const struct imap_list_entry *en = &e.v[i];
		struct mbox_status st;

		buf_printf(out, "* %s ", verb);
		imap_list_attrs(a, en, out);
		buf_append_str(out, " \".\" ");
		imap_list_append_name(out, en->name, utf8);
		if (en->childinfo)
			buf_append_str(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		buf_append_str(out, "\r\n");
		/* RFC 5819: STATUS after the LIST reply, for selectable
		 * mailboxes only. */
		if ((a->ret & IMAP_LIST_RET_STATUS) != 0 && status != NULL &&
		    (en->flags & (MBOX_FOLDER_NOSELECT | MBOX_FOLDER_NONEXISTENT)) == 0 &&
		    !en->lsub_parent && status(status_ctx, en->name, &st) > 0)
			imap_status_format(out, en->name, utf8, a->status_items, &st);
	}
	for (size_t i = 0; i < e.count; i++)
		free(e.v[i].name);
	free(e.v);
}

/* ---- names, refusals, special use ---- */

int imap_mailbox_arg(const struct imap_arg *arg, bool utf8, char **stored_r,
		     const char **error_r)
{
	const char *name = imap_arg_astring(arg);
	struct buf out;

	*stored_r = NULL;
	if (name == NULL) {
		*error_r = "Invalid mailbox name argument";
		return -1;
	}
	buf_init(&out, BUF_NO_LIMIT);
	if (imap_mailbox_name_check(name, utf8 ? IMAP_MAILBOX_UTF8 : 0, &out, error_r) < 0) {
		buf_free(&out);
		return 0;
	}
	*stored_r = buf_steal(&out);
	return 1;
}

const char *imap_mbox_error_code(const char *text)
{
	static const struct {
		const char *text, *code;
	} codes[] = {
		{ "Mailbox already exists", "[ALREADYEXISTS] " },
		{ "Target mailbox already exists", "[ALREADYEXISTS] " },
		{ "Mailbox doesn't exist", "[NONEXISTENT] " },
		/* IMAP4rev2 (RFC 9051) 7.1: a \Noselect parent */
		{ "Mailbox has children, delete them first", "[HASCHILDREN] " },
		{ "Invalid mailbox name", "[CANNOT] " },
		{ "Cannot rename a mailbox into itself", "[CANNOT] " },
		{ "The new name of a child folder is too long", "[CANNOT] " },
		{ "INBOX cannot be deleted", "[CANNOT] " },
	};

	if (text == NULL || text[0] == '[')
		return "";
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (strcmp(text, codes[i].text) == 0)
			return codes[i].code;
	}
	return "";
}

static const struct {
	const char *attr, *name;
	unsigned flag;
} imap_special_uses[] = {
	{ "\\Sent", "Sent", MBOX_FOLDER_SENT },
	{ "\\Drafts", "Drafts", MBOX_FOLDER_DRAFTS },
	{ "\\Trash", "Trash", MBOX_FOLDER_TRASH },
	{ "\\Junk", "Junk", MBOX_FOLDER_JUNK },
	{ "\\Archive", "Archive", MBOX_FOLDER_ARCHIVE },
};

unsigned imap_special_use_parse(const char *attr)
{
	for (size_t i = 0; i < sizeof(imap_special_uses) / sizeof(imap_special_uses[0]); i++) {
		if (strcasecmp(attr, imap_special_uses[i].attr) == 0)
			return imap_special_uses[i].flag;
	}
	return 0;
}

const char *imap_special_use_name(unsigned flag)
{
	for (size_t i = 0; i < sizeof(imap_special_uses) / sizeof(imap_special_uses[0]); i++) {
		if (imap_special_uses[i].flag == flag)
			return imap_special_uses[i].attr;
	}
	return NULL;
}

unsigned imap_special_use_of_name(const char *stored)
{
	for (size_t i = 0; i < sizeof(imap_special_uses) / sizeof(imap_special_uses[0]); i++) {
		if (strcmp(stored, imap_special_uses[i].name) == 0)
			return imap_special_uses[i].flag;
	}
	return 0;
}

/* ---- QUOTA ---- */

void imap_quota_format(struct buf *out, const struct maildir_quota *q)
{
	const char *sp = "";
	/* maildirsize may count below zero after lost updates */
	int64_t bytes = q->bytes > 0 ? q->bytes : 0, count = q->count > 0 ? q->count : 0;

	buf_append_str(out, "* QUOTA \"\" (");
	if (q->limits.bytes != 0) {
		/* units of 1024 octets (RFC 9208 5.1) */
		buf_printf(out, "STORAGE %" PRId64 " %" PRIu64, bytes / 1024, q->limits.bytes / 1024);
		sp = " ";
	}
	if (q->limits.count != 0)
		buf_printf(out, "%sMESSAGE %" PRId64 " %" PRIu64, sp, count, q->limits.count);
	buf_append_str(out, ")\r\n");
}
