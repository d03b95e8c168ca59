/* ID (RFC 2971): the client's field-value list, checked and made a log line. */
#include "buf.h"
#include "imap-id.h"
#include "log.h"

static bool id_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_QUOTED || (a->type == IMAP_ARG_LITERAL && !a->streamed);
}

static void id_log_key(struct buf *log, const struct imap_arg *f)
{
	for (size_t k = 0; k < f->len; k++) {
		char ch = f->str[k];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch + 32);
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			ch = '_';
		buf_append_char(log, ch);
	}
}

int imap_id_parse(const struct imap_arg *args, size_t count, struct buf *log,
		  const char **error_r)
{
	const struct imap_arg *list = args;

	if (count != 1 || (list->type != IMAP_ARG_NIL && list->type != IMAP_ARG_LIST)) {
		*error_r = "ID needs NIL or a list of field-value pairs";
		return -1;
	}
	if (list->type == IMAP_ARG_NIL)
		return 0;
	if (list->count % 2 != 0 || list->count / 2 > IMAP_ID_MAX_PAIRS) {
		*error_r = "ID needs up to 30 field-value pairs";
		return -1;
	}
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *f = &list->list[i], *v = &list->list[i + 1];

		if (!id_string(f) || f->len == 0 || f->len > IMAP_ID_MAX_FIELD ||
		    (v->type != IMAP_ARG_NIL && (!id_string(v) || v->len > IMAP_ID_MAX_VALUE))) {
			*error_r = "ID fields are strings up to 30 octets, values strings up to "
				"1024 octets or NIL";
			return -1;
		}
	}
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *f = &list->list[i], *v = &list->list[i + 1];

		buf_append_char(log, ' ');
		id_log_key(log, f);
		buf_append_char(log, '=');
		log_escape(log, v->type == IMAP_ARG_NIL ? "" : v->str);
	}
	return 0;
}
