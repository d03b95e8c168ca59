#ifndef MR_MTA_SMTP_SESSION_H
#define MR_MTA_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "daemon.h"
#include "mta.h"
#include "queue.h"
#include "smtp-parse.h"

/* One SMTP, submission or LMTP session: an explicit state machine driven
 * by the command table in smtp-session.c. Commands that ask authd or the
 * queue pause the connection and reply from the callback, so pipelined
 * commands are answered in order. */

enum smtp_kind {
	SMTP_KIND_MX,          /* port 25: hosted and relay domains only */
	SMTP_KIND_SUBMISSION,  /* 587/465: TLS, then AUTH, before MAIL */
	SMTP_KIND_LMTP,        /* RFC 2033 */
};

/* States, as bits so a command row can name several. */
#define SMTP_ST_GREETED 0x01   /* before HELO/EHLO/LHLO */
#define SMTP_ST_READY 0x02     /* after HELO, no transaction */
#define SMTP_ST_MAIL 0x04      /* MAIL given */
#define SMTP_ST_RCPT 0x08      /* at least one RCPT accepted */
#define SMTP_ST_BDAT 0x10      /* BDAT chunks are arriving */
#define SMTP_ST_DATA 0x20      /* reading DATA lines */
#define SMTP_ST_ANY (SMTP_ST_GREETED | SMTP_ST_READY | SMTP_ST_MAIL | SMTP_ST_RCPT)

struct smtp_msg;

struct smtp_session {
	struct conn *conn;
	struct mta *mta;
	enum smtp_kind kind;
	unsigned state;
	bool esmtp;
	bool tls_seen;           /* STARTTLS done, or implicit TLS */
	char *helo;
	char *auth_user;
	unsigned errors;

	/* the transaction */
	char *sender;            /* "" for <> */
	struct smtp_params mail_params;
	char *mail_ret, *mail_envid;
	struct queue_rcpt *rcpts;
	size_t nrcpts;
	struct smtp_msg *msg;
	bool data_failed;        /* the queue refused the message at BDAT */
	bool bdat_discard;       /* BDAT out of sequence: read it, then 503 */
	bool bdat_last;          /* the chunk being read is the LAST one */
	uint64_t bdat_size;
	char **from_addrs;       /* From: addresses still to check */
	size_t nfrom, from_next;

	/* the pending asynchronous step */
	struct authd_client_req *req;
	char *pending_addr;      /* RCPT being looked up */
	struct smtp_params pending_params;
	char *pending_orcpt;
	char *auth_mech;         /* an AUTH exchange is running */
	bool auth_waiting;       /* ... and waits for the client's line */
	bool committing;         /* queue_msg_commit's callback is owed */
	bool quota_checking;     /* a RCPT quota check is on a worker */
	bool gone;               /* the connection closed meanwhile */
};

/* Reply with code, enhanced code and text; 4xx/5xx count as errors and
 * close the session past max_errors. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* As smtp_reply, for a failed command. */
void smtp_error(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const struct cfg *smtp_cfg(const struct smtp_session *s);
/* Forget the transaction (RSET, after DATA, on close). */
void smtp_txn_reset(struct smtp_session *s);
/* The async step finished: read pipelined commands again. */
void smtp_resume(struct smtp_session *s);

void smtp_session_free(struct smtp_session *s);

/* Command handlers (smtp-cmd-*.c); args is the text after the verb. */
void smtp_cmd_mail(struct smtp_session *s, char *args);
void smtp_cmd_rcpt(struct smtp_session *s, char *args);
void smtp_cmd_data(struct smtp_session *s, char *args);
void smtp_cmd_bdat(struct smtp_session *s, char *args);
void smtp_cmd_auth(struct smtp_session *s, char *args);
void smtp_cmd_starttls(struct smtp_session *s, char *args);
/* An AUTH exchange is waiting for the client's next line. */
bool smtp_auth_wants_line(const struct smtp_session *s);
void smtp_auth_line(struct smtp_session *s, const char *line);
void smtp_auth_cancel(struct smtp_session *s);

/* DATA lines and BDAT chunks (smtp-cmd-data.c). */
void smtp_data_line(struct smtp_session *s, const struct lr_line *line);
void smtp_data_too_long(struct smtp_session *s);
void smtp_bdat_chunk(struct smtp_session *s, const struct lr_line *chunk);

extern const struct conn_service smtp_service_mx;
extern const struct conn_service smtp_service_submission;
extern const struct conn_service smtp_service_submissions;
extern const struct conn_service smtp_service_lmtp;

#endif
