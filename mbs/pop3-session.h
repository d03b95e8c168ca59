#ifndef MR_MBS_POP3_SESSION_H
#define MR_MBS_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conn.h"
#include "daemon.h"
#include "mailbox.h"
#include "mbs.h"
#include "pop3-maildrop.h"
#include "pop3-parse.h"

/* One POP3 connection (RFC 1939, 2449, 2595, 5034). Commands run one at a
 * time in the order they came (PIPELINING): a command that waits (authd,
 * a worker, a RETR stream) pauses reading and pop3_client_done() resumes
 * it. What each state allows is the table pop3_commands[]; the handlers
 * are in pop3-cmd-auth.c (AUTHORIZATION and any state) and
 * pop3-cmd-trans.c (TRANSACTION, QUIT's UPDATE). */

enum pop3_state {
	POP3_ST_AUTH = 0x01,       /* AUTHORIZATION */
	POP3_ST_TRANS = 0x02,      /* TRANSACTION */
	POP3_ST_UPDATE = 0x04,     /* QUIT is applying the DELEs */
};
#define POP3_ST_ANY (POP3_ST_AUTH | POP3_ST_TRANS)

struct pop3_client;

struct pop3_cmd_def {
	const char *name;
	unsigned states;           /* enum pop3_state bits it is valid in */
	/* Runs the command; a command that ends later calls
	 * pop3_client_done() when it has replied. Returns true when it
	 * replied already (and reading goes on), false when it is pending. */
	bool (*run)(struct pop3_client *c, const struct pop3_command *cmd);
};

extern const struct pop3_cmd_def pop3_commands[];
extern const size_t pop3_commands_count;

struct pop3_retr;
struct pop3_open;

/* How a login ended, for the protocol's reply. */
enum pop3_login_result {
	POP3_LOGIN_OK,
	POP3_LOGIN_FAILED,       /* wrong password, unknown user: [AUTH] */
	POP3_LOGIN_TEMPFAIL,     /* authd or its backend down: [SYS/TEMP] */
	POP3_LOGIN_DISABLED,     /* the account may not use POP3: [SYS/PERM] */
	POP3_LOGIN_IN_USE,       /* another session holds the maildrop: [IN-USE] */
	POP3_LOGIN_ERROR,        /* the maildrop cannot be opened: [SYS/TEMP] */
};

struct pop3_client {
	struct pop3_client *prev, *next;   /* mbs->pop3_clients */
	struct conn *conn;
	struct mbs *mbs;
	uv_loop_t *loop;
	unsigned state;            /* enum pop3_state (one bit) */
	unsigned bad_commands;

	/* AUTHORIZATION: USER's name; a SASL exchange in progress. */
	char *user_arg;
	char *auth_mech;
	bool auth_waiting;         /* a "+ " was sent: the next line answers it */
	struct authd_client_req *req;

	/* TRANSACTION */
	char *user;                /* canonical name from authd */
	struct mbox_user mbox_user;
	struct pop3_maildrop *md;
	struct pop3_retr *retr;    /* a RETR or TOP being streamed */
	/* Keeps the session lock fresh; before that, times the next try
	 * for a lock another session holds (open_wait). */
	uv_timer_t lock_timer;
	struct pop3_open *open_wait;

	/* POP2 answers logins its own way; NULL for POP3. */
	void (*login_reply)(struct pop3_client *c, enum pop3_login_result result);
	bool pop2;

	bool shutdown;             /* the daemon stops: close once replied */
	bool working;              /* a worker job is out */
	bool in_job_done;          /* a job's done callback is running */
	bool pending;              /* a command is running: input paused */
	bool gone;                 /* the connection closed meanwhile */
};

/* One reply line (CRLF added). */
void pop3_client_line(struct pop3_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A -ERR for a malformed or unknown command: counts toward the limit of
 * bad commands in a row, after which the connection is closed. */
void pop3_client_bad(struct pop3_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The pending command has replied: read the next one. */
void pop3_client_done(struct pop3_client *c);

/* Run work(ctx) on a worker thread, then done(c, ctx) on the loop. When
 * the connection went away meanwhile, done is still called with c->gone
 * set (it frees ctx and writes nothing); the session is freed after. */
void pop3_client_work(struct pop3_client *c, void (*work)(void *ctx),
		      void (*done)(struct pop3_client *c, void *ctx), void *ctx);

const struct cfg *pop3_client_cfg(const struct pop3_client *c);
/* USER/PASS and AUTH PLAIN/LOGIN may be used now: over TLS, or when
 * auth_allow_plaintext says so. */
bool pop3_client_plaintext_ok(const struct pop3_client *c);
/* Logged in: the maildrop is open. Starts the lock refresh. */
void pop3_client_logged_in(struct pop3_client *c);
enum pop3_retr_mode {
	POP3_RETR_MSG,     /* RETR: "+OK n octets", dot-stuffed, "." */
	POP3_RETR_TOP,     /* TOP: "+OK", header and some lines, "." */
	POP3_RETR_RAW,     /* POP2 RETR: exactly the announced octets */
};

/* Stream message n to the client; pop3_client_done() when sent. Returns
 * false (the command is pending). */
bool pop3_retr_start(struct pop3_client *c, uint32_t n, enum pop3_retr_mode mode,
		     uint32_t lines);
/* Stop a RETR stream (connection gone). */
void pop3_retr_abort(struct pop3_client *c);
void pop3_retr_writable(struct pop3_client *c);

/* Shared with the POP2 session (pop2-session.c). */
/* Run a command's handler: pauses reading while it is pending, and
 * resets the count of bad commands when it was not one. */
void pop3_client_run(struct pop3_client *c,
		     bool (*run)(struct pop3_client *c, const struct pop3_command *cmd),
		     const struct pop3_command *cmd);
/* size: of the protocol's struct that begins with a pop3_client. */
struct pop3_client *pop3_client_new(struct conn *conn, size_t size);
void pop3_on_writable(void *session, struct conn *conn);
void pop3_on_close(void *session, struct conn *conn);
/* QUIT in the TRANSACTION state: apply the DELEs (UPDATE), reply, close. */
void pop3_client_update(struct pop3_client *c);

/* handlers */
#define POP3_CMD(name) bool pop3_cmd_##name(struct pop3_client *c, const struct pop3_command *cmd)
POP3_CMD(capa);
POP3_CMD(quit);
POP3_CMD(noop);
POP3_CMD(stls);
POP3_CMD(user);
POP3_CMD(pass);
POP3_CMD(auth);
POP3_CMD(stat);
POP3_CMD(list);
POP3_CMD(retr);
POP3_CMD(dele);
POP3_CMD(rset);
POP3_CMD(top);
POP3_CMD(uidl);
/* Check a password in authd (SASL mech, with initial response in
 * base64 or NULL), then look the user up and open the maildrop; the
 * outcome goes to login_reply, and pop3_client_done() follows. method
 * names the login in the log (NULL: mech). */
void pop3_auth_start(struct pop3_client *c, const char *mech, const char *method,
		     const char *initial);
/* the client's answer to a "+ " SASL challenge */
void pop3_auth_line(struct pop3_client *c, const char *line);
void pop3_auth_cancel(struct pop3_client *c);
/* End a SASL exchange in progress (authd's request cancelled). */
void pop3_auth_abort(struct pop3_client *c);

/* SIGTERM: every session says "-ERR [SYS/TEMP]" and closes, a running
 * command first finishing its reply. */
void pop3_sessions_shutdown(struct mbs *m);

extern const struct conn_service pop3_service, pop3s_service, pop2_service;

#endif
