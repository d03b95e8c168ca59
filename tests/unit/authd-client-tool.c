/* Drives lib/authd-client.c for tests/integration/test_authd_client.py:
 *   authd-client-tool [-t MS] LOOKUP_SOCKET AUTH_SOCKET REQUEST...
 * with each REQUEST one argument, fields separated by spaces:
 *   user ADDR | rcpt ADDR | domain DOMAIN | sender LOGIN SENDER |
 *   auth MECH INITIAL|- [ANSWER...] | cancel ADDR (a RCPT cancelled at once)
 * All requests are sent at once (pipelined); each answer is printed as
 * "N: ..." (N the request's position) in the order answers arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd-client.h"
#include "xalloc.h"

#define TOOL_MAX_WORDS 16

struct tool_req {
	int n;
	char *words[TOOL_MAX_WORDS];
	int nwords;
	int next_answer;
	struct authd_client_req *req;
};

static int tool_pending;
static struct authd_client *tool_client;
static const char *const tool_status[] = { "OK", "NOTFOUND", "FAIL", "TEMPFAIL" };

static void tool_done(void)
{
	fflush(stdout);
	if (--tool_pending == 0)
		authd_client_free(tool_client);
}

static void tool_user(void *ctx, const struct authd_user_answer *a)
{
	struct tool_req *r = ctx;

	printf("%d: %s", r->n, tool_status[a->status]);
	if (a->status == AUTHD_CLIENT_OK)
		printf(" user=%s maildir=%s quota_bytes=%llu services=%s state=%s", a->user,
		       a->maildir, (unsigned long long)a->quota_bytes, a->services, a->state);
	else if (a->reason != NULL)
		printf(" reason=%s", a->reason);
	printf("\n");
	tool_done();
}

static void tool_rcpt(void *ctx, const struct authd_rcpt_answer *a)
{
	struct tool_req *r = ctx;

	printf("%d: %s", r->n, tool_status[a->status]);
	if (a->status == AUTHD_CLIENT_OK) {
		printf(" kind=%s", a->kind);
		if (a->detail != NULL)
			printf(" detail=%s", a->detail);
		for (size_t i = 0; i < a->ntargets; i++) {
			if (a->targets[i].local != NULL)
				printf(" local=%s maildir=%s", a->targets[i].local,
				       a->targets[i].maildir);
			else
				printf(" remote=%s", a->targets[i].remote);
		}
	} else if (a->reason != NULL) {
		printf(" reason=%s", a->reason);
	}
	printf("\n");
	tool_done();
}

static void tool_domain(void *ctx, const struct authd_domain_answer *a)
{
	struct tool_req *r = ctx;

	printf("%d: %s", r->n, tool_status[a->status]);
	if (a->status == AUTHD_CLIENT_OK)
		printf(" type=%s active=%s target=%s", a->type, a->active ? "yes" : "no",
		       a->target != NULL ? a->target : "-");
	printf("\n");
	tool_done();
}

static void tool_sender(void *ctx, enum authd_client_status st, const char *reason)
{
	struct tool_req *r = ctx;

	printf("%d: %s%s%s\n", r->n, tool_status[st], reason != NULL ? " reason=" : "",
	       reason != NULL ? reason : "");
	tool_done();
}

static void tool_auth(void *ctx, enum authd_auth_step step, const char *data)
{
	struct tool_req *r = ctx;
	static const char *const names[] = { "CONTINUE", "OK", "FAIL", "TEMPFAIL" };

	printf("%d: %s %s\n", r->n, names[step], data != NULL ? data : "-");
	if (step != AUTHD_AUTH_CONTINUE) {
		tool_done();
		return;
	}
	if (r->next_answer < r->nwords)
		authd_client_auth_respond(r->req, r->words[r->next_answer++]);
	else
		authd_client_auth_respond(r->req, "*");
}

static int tool_start(struct tool_req *r)
{
	char **w = r->words;

	if (strcmp(w[0], "user") == 0 && r->nwords == 2)
		r->req = authd_client_user(tool_client, w[1], tool_user, r);
	else if (strcmp(w[0], "rcpt") == 0 && r->nwords == 2)
		r->req = authd_client_rcpt(tool_client, w[1], tool_rcpt, r);
	else if (strcmp(w[0], "domain") == 0 && r->nwords == 2)
		r->req = authd_client_domain(tool_client, w[1], tool_domain, r);
	else if (strcmp(w[0], "sender") == 0 && r->nwords == 3)
		r->req = authd_client_sender(tool_client, w[1], w[2], tool_sender, r);
	else if (strcmp(w[0], "cancel") == 0 && r->nwords == 2) {
		authd_client_cancel(authd_client_rcpt(tool_client, w[1], tool_rcpt, r));
		printf("%d: cancelled\n", r->n);
		return 0;
	} else if (strcmp(w[0], "auth") == 0 && r->nwords >= 3) {
		struct authd_auth_info info = {
			.mech = w[1], .service = "smtp", .rip = "127.0.0.1",
			.lip = "127.0.0.1", .secured = true, .session_id = "tool",
		};

		r->next_answer = 3;
		r->req = authd_client_auth(tool_client, &info,
					   strcmp(w[2], "-") == 0 ? NULL : w[2], tool_auth, r);
	} else {
		fprintf(stderr, "bad request: %s\n", w[0]);
		return -1;
	}
	tool_pending++;
	return 0;
}

int main(int argc, char **argv)
{
	struct authd_client_settings set = { 0 };
	uv_loop_t *loop = uv_default_loop();
	int i = 1, count;
	struct tool_req *reqs;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		set.timeout_ms = (unsigned)atoi(argv[2]);
		i = 3;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: authd-client-tool [-t MS] LOOKUP AUTH REQUEST...\n");
		return 2;
	}
	set.lookup_socket = argv[i];
	set.auth_socket = strcmp(argv[i + 1], "-") == 0 ? NULL : argv[i + 1];
	i += 2;
	tool_client = authd_client_new(loop, &set);
	count = argc - i;
	reqs = xcalloc((size_t)count + 1, sizeof(*reqs));
	tool_pending = 1;   /* held until every request is started */
	for (int k = 0; k < count; k++) {
		char *save = NULL, *copy = xstrdup(argv[i + k]);

		reqs[k].n = k;
		for (char *w = strtok_r(copy, " ", &save); w != NULL && reqs[k].nwords < TOOL_MAX_WORDS;
		     w = strtok_r(NULL, " ", &save))
			reqs[k].words[reqs[k].nwords++] = w;
		if (reqs[k].nwords == 0 || tool_start(&reqs[k]) < 0)
			return 2;
	}
	tool_done();
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return 0;
}
