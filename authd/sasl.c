/* Cyrus SASL's server side, fenced in: only the PLAIN and LOGIN plugins
 * are loaded, no configuration file is read, no auxprop plugin (sasldb)
 * is ever loaded, and passwords are checked by authd's backends through
 * the checkpass callback. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "buf.h"
#include "log.h"
#include "sasl.h"
#include "xalloc.h"

/* The mechanisms we offer; Cyrus may lack some of them. */
#define AUTHD_SASL_WANTED "PLAIN LOGIN"
#define AUTHD_SASL_APPNAME "mailroom-authd"
/* Larger than any sane user name plus password. */
#define AUTHD_SASL_MAX_PASSWORD 1024

/* sasl_callback_t holds every callback as int (*)(void); going through
 * void (*)(void) keeps -Wcast-function-type quiet. */
#define AUTHD_SASL_CB(fn) ((int (*)(void))(void (*)(void))(fn))

struct authd_sasl {
	struct authd *authd;
	sasl_conn_t *conn;
	sasl_callback_t callbacks[2];
	char *mech;
	char *service;
	char *sid;
	struct netaddr rip;
	struct authd_login login;
	bool started;
	/* Set by the checkpass callback: Cyrus folds every checkpass failure
	 * into one code, so the verdict travels beside it. */
	bool verified;
	enum authd_verdict verdict;
	char *user;
	const char *error;
};

static bool authd_sasl_ready;
static char authd_sasl_mech_list[64];

static void *authd_sasl_mutex_alloc(void)
{
	pthread_mutex_t *m = xmalloc(sizeof(*m));

	pthread_mutex_init(m, NULL);
	return m;
}

static int authd_sasl_mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int authd_sasl_mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void authd_sasl_mutex_free(void *m)
{
	pthread_mutex_destroy(m);
	free(m);
}

/* Cyrus asks its options here instead of /etc/sasl2/<app>.conf.
 * pwcheck_method is consulted only after our checkpass said no: naming
 * auxprop with a plugin that does not exist makes that a plain "no". */
static int authd_sasl_getopt(void *ctx, const char *plugin, const char *option,
			     const char **result, unsigned *len)
{
	static const struct { const char *name, *value; } opts[] = {
		{ "mech_list", AUTHD_SASL_WANTED },
		{ "pwcheck_method", "auxprop" },
		{ "auxprop_plugin", "mailroom-none" },
		{ "canon_user_plugin", "INTERNAL" },
		{ "log_level", "2" },
	};

	(void)ctx;
	(void)plugin;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (strcmp(option, opts[i].name) == 0) {
			*result = opts[i].value;
			if (len != NULL)
				*len = (unsigned)strlen(opts[i].value);
			return SASL_OK;
		}
	}
	return SASL_FAIL;
}

/* Only the PLAIN and LOGIN plugins; never a config file. */
static int authd_sasl_verifyfile(void *ctx, const char *file, int type)
{
	const char *base = strrchr(file, '/');

	(void)ctx;
	base = base != NULL ? base + 1 : file;
	if (type != SASL_VRFY_PLUGIN)
		return SASL_CONTINUE;
	if (strncmp(base, "libplain.so", 11) == 0 || strncmp(base, "liblogin.so", 11) == 0)
		return SASL_OK;
	return SASL_CONTINUE;
}

static int authd_sasl_log(void *ctx, int level, const char *message)
{
	struct buf b;

	(void)ctx;
	buf_init(&b, 1024);
	log_escape(&b, message);
	/* Every failed login makes Cyrus complain about the fallback verifier
	 * (see authd_sasl_getopt); the real outcome is logged by authd. */
	(void)level;
	log_debug("-", "sasl: message=%s", buf_cstr(&b));
	buf_free(&b);
	return SASL_OK;
}

static sasl_callback_t authd_sasl_global_callbacks[] = {
	{ SASL_CB_GETOPT, AUTHD_SASL_CB(authd_sasl_getopt), NULL },
	{ SASL_CB_VERIFYFILE, AUTHD_SASL_CB(authd_sasl_verifyfile), NULL },
	{ SASL_CB_LOG, AUTHD_SASL_CB(authd_sasl_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* Which of the wanted mechanisms Cyrus really offers. */
static int authd_sasl_probe(const char **error_r)
{
	sasl_conn_t *conn;
	const char *list;

	if (sasl_server_new("smtp", NULL, NULL, NULL, NULL, NULL, 0, &conn) != SASL_OK) {
		*error_r = "sasl_server_new failed";
		return -1;
	}
	if (sasl_listmech(conn, NULL, "", " ", "", &list, NULL, NULL) != SASL_OK)
		list = "";
	snprintf(authd_sasl_mech_list, sizeof(authd_sasl_mech_list), "%s", list);
	sasl_dispose(&conn);
	if (authd_sasl_mech_list[0] == '\0') {
		*error_r = "Cyrus SASL loaded neither the PLAIN nor the LOGIN plugin "
			   "(is libsasl2-modules installed?)";
		return -1;
	}
	return 0;
}

int authd_sasl_init(const char **error_r)
{
	int r;

	if (authd_sasl_ready)
		return 0;
	sasl_set_mutex(authd_sasl_mutex_alloc, authd_sasl_mutex_lock,
		       authd_sasl_mutex_unlock, authd_sasl_mutex_free);
	r = sasl_server_init(authd_sasl_global_callbacks, AUTHD_SASL_APPNAME);
	if (r != SASL_OK) {
		*error_r = sasl_errstring(r, NULL, NULL);
		return -1;
	}
	if (authd_sasl_probe(error_r) < 0)
		return -1;
	authd_sasl_ready = true;
	return 0;
}

const char *authd_sasl_mechs(void)
{
	return authd_sasl_mech_list;
}

bool authd_sasl_mech_known(const char *mech)
{
	const char *p = authd_sasl_mech_list;
	size_t len = strlen(mech);

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == len && strncasecmp(p, mech, len) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* Worker (inside sasl_server_start/step): the password check by authd's
 * backends. */
static int authd_sasl_checkpass(sasl_conn_t *conn, void *ctx, const char *user,
				const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct authd_sasl *s = ctx;
	struct authd_user u;
	char *password;

	(void)conn;
	(void)propctx;
	if (passlen > AUTHD_SASL_MAX_PASSWORD || memchr(pass, '\0', passlen) != NULL) {
		s->error = "unacceptable password";
		return SASL_BADAUTH;
	}
	memset(&u, 0, sizeof(u));
	password = xstrndup(pass, passlen);
	s->verdict = authd_login_verify(s->authd, &s->login, user, password, &u);
	s->verified = true;
	explicit_bzero(password, passlen);
	free(password);
	switch (s->verdict) {
	case AUTHD_LOGIN_OK:
		free(s->user);
		s->user = xstrdup(u.user != NULL ? u.user : user);
		authd_user_free(&u);
		return SASL_OK;
	case AUTHD_LOGIN_DISABLED:
		return SASL_DISABLED;
	case AUTHD_LOGIN_TEMPFAIL:
		return SASL_UNAVAIL;
	case AUTHD_LOGIN_FAIL:
		break;
	}
	return SASL_BADAUTH;
}

struct authd_sasl *authd_sasl_new(struct authd *a, const struct authd_login *login,
				  const char *mech, const char **error_r)
{
	struct authd_sasl *s;
	int r;

	if (!authd_sasl_ready || !authd_sasl_mech_known(mech)) {
		*error_r = "unsupported mechanism";
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->authd = a;
	s->service = xstrdup(login->service);
	s->sid = xstrdup(login->sid != NULL ? login->sid : "-");
	s->login = *login;
	s->login.service = s->service;
	s->login.sid = s->sid;
	if (login->rip != NULL) {
		s->rip = *login->rip;
		s->login.rip = &s->rip;
	}
	s->callbacks[0] = (sasl_callback_t){ SASL_CB_SERVER_USERDB_CHECKPASS,
					     AUTHD_SASL_CB(authd_sasl_checkpass), s };
	s->callbacks[1] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	r = sasl_server_new(s->service, NULL, NULL, NULL, NULL, s->callbacks, 0, &s->conn);
	if (r != SASL_OK) {
		*error_r = sasl_errstring(r, NULL, NULL);
		authd_sasl_free(s);
		return NULL;
	}
	s->mech = xstrdup(mech);
	return s;
}

/* What Cyrus said, corrected by the verdict it could not pass on. */
static enum authd_sasl_result authd_sasl_map(struct authd_sasl *s, int r)
{
	if (r == SASL_CONTINUE)
		return AUTHD_SASL_CONTINUE;
	if (s->verified && s->verdict == AUTHD_LOGIN_TEMPFAIL)
		return AUTHD_SASL_TEMPFAIL;
	if (r == SASL_OK) {
		/* Only a success our own check granted counts. */
		if (s->verified && s->verdict == AUTHD_LOGIN_OK && s->user != NULL)
			return AUTHD_SASL_OK;
		s->error = "SASL success without a password check";
		return AUTHD_SASL_FAIL;
	}
	if (s->verified && s->verdict == AUTHD_LOGIN_OK) {
		/* Password right, but Cyrus refused (PLAIN authzid != authcid). */
		s->error = sasl_errdetail(s->conn);
	} else if (!s->verified) {
		/* The exchange broke before any password check. */
		s->error = sasl_errdetail(s->conn);
	}
	return AUTHD_SASL_FAIL;
}

enum authd_sasl_result authd_sasl_step(struct authd_sasl *s, const void *in, size_t inlen,
				       const char **out_r, size_t *outlen_r)
{
	const char *out = NULL;
	unsigned outlen = 0;
	int r;

	if (inlen > UINT32_MAX / 2) {
		s->error = "response too long";
		return AUTHD_SASL_FAIL;
	}
	if (!s->started) {
		s->started = true;
		r = sasl_server_start(s->conn, s->mech, in, (unsigned)inlen, &out, &outlen);
	} else {
		r = sasl_server_step(s->conn, in != NULL ? in : "", (unsigned)inlen, &out, &outlen);
	}
	*out_r = out != NULL ? out : "";
	*outlen_r = out != NULL ? outlen : 0;
	return authd_sasl_map(s, r);
}

const char *authd_sasl_user(const struct authd_sasl *s)
{
	return s->user;
}

const char *authd_sasl_error(const struct authd_sasl *s)
{
	return s->error;
}

bool authd_sasl_disabled(const struct authd_sasl *s)
{
	return s->verified && s->verdict == AUTHD_LOGIN_DISABLED;
}

void authd_sasl_free(struct authd_sasl *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	free(s->mech);
	free(s->service);
	free(s->sid);
	free(s->user);
	free(s);
}
