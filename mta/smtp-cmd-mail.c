/* MAIL and RCPT, with the policy that decides them: submission needs TLS
 * and AUTH and may only use its own sender addresses; port 25 and LMTP
 * take recipients in hosted and relay domains only. */
#include <stdlib.h>
#include <string.h>

#include "authd-client.h"
#include "log.h"
#include "maildir-quota.h"
#include "smtp-session.h"
#include "xalloc.h"

static void smtp_parse_error_reply(struct smtp_session *s, int r, const char *error)
{
	switch (r) {
	case SMTP_PE_ADDR: smtp_error(s, "501 5.1.3 %s", error); break;
	case SMTP_PE_PARAM: smtp_error(s, "555 5.5.4 %s", error); break;
	case SMTP_PE_PARAM_VALUE: smtp_error(s, "501 5.5.4 %s", error); break;
	case SMTP_PE_UTF8: smtp_error(s, "553 5.6.7 %s", error); break;
	default: smtp_error(s, "501 5.5.4 Syntax: %s", error); break;
	}
}

/* x@host.example.com -> x@example.com for a masquerade domain example.com. */
static void smtp_masquerade(struct smtp_session *s)
{
	const struct cfg *cfg = smtp_cfg(s);
	char *at = strrchr(s->sender, '@');

	if (at == NULL)
		return;
	for (size_t i = 0; i < cfg_list_count(cfg, "masquerade_domains"); i++) {
		const char *d = cfg_list_get(cfg, "masquerade_domains", i);
		size_t dl = strlen(d), hl = strlen(at + 1);

		if (hl > dl && at[hl - dl] == '.' && addr_domain_equal(at + 1 + hl - dl, d)) {
			char *m = xasprintf("%.*s@%s", (int)(at - s->sender), s->sender, d);

			free(s->sender);
			s->sender = m;
			return;
		}
	}
}

static void smtp_mail_accept(struct smtp_session *s)
{
	if (s->kind == SMTP_KIND_SUBMISSION)
		smtp_masquerade(s);
	log_info(conn_sid(s->conn), "mail from=<%s> size=%llu", s->sender,
		 (unsigned long long)s->mail_params.size);
	s->state = SMTP_ST_MAIL;
	smtp_reply(s, "250 2.1.0 Ok");
}

static void smtp_mail_sender_done(void *ctx, enum authd_client_status st, const char *reason)
{
	struct smtp_session *s = ctx;

	s->req = NULL;
	if (st == AUTHD_CLIENT_OK) {
		smtp_mail_accept(s);
	} else if (st == AUTHD_CLIENT_TEMPFAIL) {
		log_warn(conn_sid(s->conn), "sender check tempfail reason=\"%s\"",
			 reason != NULL ? reason : "");
		smtp_txn_reset(s);
		smtp_error(s, "451 4.3.0 Temporary failure checking the sender, try later");
	} else {
		log_info(conn_sid(s->conn), "sender not owned user=<%s> from=<%s>",
			 s->auth_user, s->sender);
		smtp_txn_reset(s);
		smtp_error(s, "553 5.7.1 Sender address rejected: not owned by user %s",
			   s->auth_user);
	}
	smtp_resume(s);
}

/* Submission: nothing before TLS, then AUTH (RFC 6409 4.3, RFC 8314). */
static bool smtp_mail_allowed(struct smtp_session *s)
{
	if (s->kind != SMTP_KIND_SUBMISSION || s->auth_user != NULL)
		return true;
	if (!conn_is_tls(s->conn))
		smtp_error(s, "530 5.7.0 Must issue a STARTTLS command first");
	else
		smtp_error(s, "530 5.7.0 Authentication required");
	return false;
}

void smtp_cmd_mail(struct smtp_session *s, char *args)
{
	const struct cfg *cfg = smtp_cfg(s);
	struct addr addr;
	const char *error;
	int r;

	if (!smtp_mail_allowed(s))
		return;
	r = smtp_parse_mail(args, &addr, &s->mail_params, &error);
	if (r < 0) {
		smtp_parse_error_reply(s, r, error);
		return;
	}
	if (s->mail_params.has_size && s->mail_params.size > cfg_size(cfg, "message_size_limit")) {
		addr_free(&addr);
		smtp_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	s->sender = addr_to_string(&addr);
	addr_free(&addr);
	/* the parameters point into args: keep copies of what outlives it */
	s->mail_ret = s->mail_params.ret != NULL ? xstrdup(s->mail_params.ret) : NULL;
	s->mail_envid = s->mail_params.envid != NULL ? xstrdup(s->mail_params.envid) : NULL;
	s->mail_params.ret = s->mail_params.envid = s->mail_params.auth = NULL;
	if (s->kind == SMTP_KIND_SUBMISSION && *s->sender != '\0' &&
	    cfg_bool(cfg, "sender_login_check")) {
		conn_pause(s->conn);
		s->req = authd_client_sender(s->mta->authd, s->auth_user, s->sender,
					     smtp_mail_sender_done, s);
		return;
	}
	smtp_mail_accept(s);
}

/* ---------------------------------------------------------------- RCPT */

static void smtp_rcpt_accept(struct smtp_session *s)
{
	struct queue_rcpt *r;

	s->rcpts = xreallocarray(s->rcpts, s->nrcpts + 1, sizeof(*s->rcpts));
	r = &s->rcpts[s->nrcpts++];
	r->addr = s->pending_addr;
	r->notify = s->pending_params.notify;
	r->orcpt = s->pending_orcpt;
	s->pending_addr = s->pending_orcpt = NULL;
	s->state = SMTP_ST_RCPT;
	log_info(conn_sid(s->conn), "rcpt to=<%s>", r->addr);
	smtp_reply(s, "250 2.1.5 Ok");
}

static void smtp_rcpt_refuse(struct smtp_session *s, const char *why, const char *reply)
{
	log_info(conn_sid(s->conn), "rcpt refused to=<%s> reason=\"%s\"", s->pending_addr, why);
	free(s->pending_addr);
	free(s->pending_orcpt);
	s->pending_addr = s->pending_orcpt = NULL;
	smtp_error(s, "%s", reply);
}

static void smtp_rcpt_domain_done(void *ctx, const struct authd_domain_answer *a)
{
	struct smtp_session *s = ctx;
	bool ours = a->status == AUTHD_CLIENT_OK && a->active;

	s->req = NULL;
	if (a->status == AUTHD_CLIENT_TEMPFAIL)
		smtp_rcpt_refuse(s, "authd tempfail",
				 "451 4.3.0 Temporary failure looking up the recipient, try later");
	else if (ours)
		smtp_rcpt_refuse(s, "unknown user",
				 "550 5.1.1 Recipient address rejected: User unknown");
	else if (s->auth_user != NULL)
		smtp_rcpt_accept(s);   /* an authenticated client relays anywhere */
	else
		smtp_rcpt_refuse(s, "relay denied", "554 5.7.1 Relay access denied");
	smtp_resume(s);
}

/* Quota at RCPT: a recipient whose every target is a local mailbox that is
 * full (by its maildirsize), or that a message of the announced SIZE would
 * overfill, is refused now rather than bounced after acceptance. Unknown
 * usage (no maildirsize yet, unreadable) is left to delivery. */
struct smtp_quota_job {
	uv_work_t work;
	struct smtp_session *s;
	char **maildirs;
	size_t count;
	uint64_t size;
	bool full;
};

static void smtp_rcpt_quota_work(uv_work_t *work)
{
	struct smtp_quota_job *job = work->data;
	struct maildir_quota q;
	const char *error;

	job->full = true;
	for (size_t i = 0; i < job->count && job->full; i++) {
		if (maildir_quota_get(job->maildirs[i], NULL, &q, &error) < 0 ||
		    maildir_quota_fits(&q, job->size, 1))
			job->full = false;
	}
}

static void smtp_rcpt_quota_done(uv_work_t *work, int status)
{
	struct smtp_quota_job *job = work->data;
	struct smtp_session *s = job->s;
	bool full = status == 0 && job->full;

	for (size_t i = 0; i < job->count; i++)
		free(job->maildirs[i]);
	free(job->maildirs);
	free(job);
	s->quota_checking = false;
	if (s->gone) {
		smtp_session_free(s);
		return;
	}
	if (!full)
		smtp_rcpt_accept(s);
	else if (cfg_enum(smtp_cfg(s), "quota_full_action") == 0)
		smtp_rcpt_refuse(s, "over quota", "552 5.2.2 Mailbox full");
	else
		smtp_rcpt_refuse(s, "over quota", "452 4.2.2 Mailbox full, try later");
	smtp_resume(s);
}

/* true when a check was started (its callback answers the RCPT). */
static bool smtp_rcpt_quota_start(struct smtp_session *s, const struct authd_rcpt_answer *a)
{
	struct smtp_quota_job *job;

	if (a->ntargets == 0)
		return false;
	for (size_t i = 0; i < a->ntargets; i++) {
		if (a->targets[i].local == NULL || a->targets[i].maildir == NULL)
			return false;
	}
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->maildirs = xcalloc(a->ntargets, sizeof(*job->maildirs));
	for (size_t i = 0; i < a->ntargets; i++)
		job->maildirs[job->count++] = xstrdup(a->targets[i].maildir);
	job->size = s->mail_params.has_size ? s->mail_params.size : 1;
	job->work.data = job;
	if (uv_queue_work(s->mta->loop, &job->work, smtp_rcpt_quota_work,
			  smtp_rcpt_quota_done) != 0) {
		for (size_t i = 0; i < job->count; i++)
			free(job->maildirs[i]);
		free(job->maildirs);
		free(job);
		return false;
	}
	s->quota_checking = true;
	return true;
}

static void smtp_rcpt_done(void *ctx, const struct authd_rcpt_answer *a)
{
	struct smtp_session *s = ctx;
	const char *at;

	s->req = NULL;
	switch (a->status) {
	case AUTHD_CLIENT_OK:
		if (smtp_rcpt_quota_start(s, a))
			return;
		smtp_rcpt_accept(s);
		break;
	case AUTHD_CLIENT_FAIL:
		smtp_rcpt_refuse(s, a->reason != NULL ? a->reason : "fail",
				 "550 5.4.6 Recipient address rejected: alias loop or chain too long");
		break;
	case AUTHD_CLIENT_TEMPFAIL:
		smtp_rcpt_refuse(s, "authd tempfail",
				 "451 4.3.0 Temporary failure looking up the recipient, try later");
		break;
	case AUTHD_CLIENT_NOTFOUND:
		/* an unknown user of ours, or a domain that is not ours? */
		at = strrchr(s->pending_addr, '@');
		if (at != NULL && at[1] != '[') {
			s->req = authd_client_domain(s->mta->authd, at + 1, smtp_rcpt_domain_done, s);
			return;
		}
		if (s->auth_user != NULL)
			smtp_rcpt_accept(s);
		else
			smtp_rcpt_refuse(s, "relay denied", "554 5.7.1 Relay access denied");
		break;
	}
	smtp_resume(s);
}

void smtp_cmd_rcpt(struct smtp_session *s, char *args)
{
	struct addr addr;
	const char *error;
	int r;

	if (s->nrcpts >= (size_t)cfg_int(smtp_cfg(s), "max_recipients")) {
		smtp_error(s, "452 4.5.3 Too many recipients");
		return;
	}
	r = smtp_parse_rcpt(args, s->mail_params.smtputf8, &addr, &s->pending_params, &error);
	if (r < 0) {
		smtp_parse_error_reply(s, r, error);
		return;
	}
	s->pending_addr = addr_to_string(&addr);
	s->pending_orcpt = s->pending_params.orcpt != NULL ? xstrdup(s->pending_params.orcpt) : NULL;
	s->pending_params.orcpt = NULL;
	addr_free(&addr);
	conn_pause(s->conn);
	s->req = authd_client_rcpt(s->mta->authd, s->pending_addr, smtp_rcpt_done, s);
}
