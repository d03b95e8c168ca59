#ifndef MR_MTA_SMTP_PARSE_H
#define MR_MTA_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* The SMTP command line parser: pure functions on one whole line (without
 * its CRLF), no I/O, so the fuzz target drives them directly. */

#define SMTP_VERB_MAX 15

/* Why a MAIL/RCPT line was refused; each has its own reply. */
enum smtp_parse_error {
	SMTP_PE_SYNTAX = -1,        /* 501 5.5.4: "FROM:"/"TO:" missing, junk */
	SMTP_PE_ADDR = -2,          /* 501 5.1.3: the path is malformed */
	SMTP_PE_PARAM = -3,         /* 555 5.5.4: unknown or unsupported parameter */
	SMTP_PE_PARAM_VALUE = -4,   /* 501 5.5.4: bad or repeated parameter value */
	SMTP_PE_UTF8 = -5,          /* 553 5.6.7: UTF-8 address without SMTPUTF8 */
};

enum smtp_body { SMTP_BODY_NONE, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

/* ESMTP parameters of MAIL (RFC 1870, 6152, 6531, 3461, 4954) and RCPT
 * (RFC 3461). Strings point into the parsed line. */
struct smtp_params {
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
	const char *ret;      /* FULL or HDRS */
	const char *envid;    /* xtext, kept encoded */
	const char *auth;     /* MAIL AUTH=, accepted and not used */
	unsigned notify;      /* QUEUE_NOTIFY_* bits */
	const char *orcpt;    /* "addr-type;xtext" */
};

/* Split "VERB args": the verb upper-cased into verb_r (letters only, at
 * most SMTP_VERB_MAX), args_r after one space ("" when none). -1 when the
 * line holds a NUL or the verb is no word. */
int smtp_parse_verb(const char *line, size_t len, char verb_r[SMTP_VERB_MAX + 1],
		    const char **args_r);

/* "FROM:<path> [params]" (MAIL) or "TO:<path> [params]" (RCPT). line is
 * modified (parameters are cut into strings). Returns 0 or an
 * smtp_parse_error with error_r. smtputf8_txn: RCPT in a transaction whose
 * MAIL gave SMTPUTF8. */
int smtp_parse_mail(char *args, struct addr *addr_r, struct smtp_params *params_r,
		    const char **error_r);
int smtp_parse_rcpt(char *args, bool smtputf8_txn, struct addr *addr_r,
		    struct smtp_params *params_r, const char **error_r);

/* "BDAT <size> [LAST]": 0 or -1. */
int smtp_parse_bdat(const char *args, uint64_t *size_r, bool *last_r);

#endif
