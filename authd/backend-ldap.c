#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "backend-ldap-filter.h"
#include "backend-ldap-pool.h"
#include "backend.h"
#include "password.h"
#include "xalloc.h"

/* The LDAP backend: Mailroom's schema by default (schema/mailroom.schema,
 * docs/directory.md), other directories through the filter and attribute
 * keys (etc/authd-ldap-*.conf). Every answer comes from one or two
 * searches on a pooled connection; bind mode checks passwords by binding
 * as the user's entry. */

#define BL_ADDR_MAX 512        /* longer keys cannot be addresses */
#define BL_ALIAS_ENTRIES 64    /* entries one alias key may gather */

/* The attributes the backend reads, indexes into bl_attr_keys. */
enum bl_attr {
	BL_USER,
	BL_PASSWORD,
	BL_MAILDIR,
	BL_QUOTA_BYTES,
	BL_QUOTA_MESSAGES,
	BL_SERVICES,
	BL_STATUS,
	BL_FORWARD,
	BL_ALIAS_TARGET_DOMAIN,
	BL_DEFAULT_QUOTA_BYTES,
	BL_DEFAULT_QUOTA_MESSAGES,
	BL_RELAY,
	BL_OBJECTCLASS,
	BL_ATTR_COUNT
};

static const char *const bl_attr_keys[BL_ATTR_COUNT] = {
	"ldap_attr_user", "ldap_attr_password", "ldap_attr_maildir",
	"ldap_attr_quota_bytes", "ldap_attr_quota_messages", "ldap_attr_services",
	"ldap_attr_status", "ldap_attr_forward", "ldap_attr_alias_target_domain",
	"ldap_attr_default_quota_bytes", "ldap_attr_default_quota_messages",
	"ldap_attr_relay", NULL /* objectClass, fixed */
};

enum bl_auth_mode { BL_AUTH_COMPARE, BL_AUTH_BIND };

struct authd_backend {
	struct authd_ldap_pool *pool;
	char *base;
	int scope;
	unsigned timeout;
	enum bl_auth_mode auth_mode;
	char *user_filter, *alias_filter, *domain_filter, *sender_filter;
	char *user_objectclass;
	bool user_keeps_copy;
	uint64_t quota_unit;
	char **status_active;
	size_t status_active_count;
	char *attrs[BL_ATTR_COUNT];   /* "" when not configured */
};

/* One entry of a search result: the DN and the values of each wanted
 * attribute, copied out so the connection goes back to the pool at once. */
struct bl_values {
	char **items;
	size_t count;
};

struct bl_entry {
	char *dn;
	struct bl_values v[BL_ATTR_COUNT];
};

struct bl_result {
	struct bl_entry *entries;
	size_t count;
	bool truncated;  /* the server had more than the size limit */
};

/* ---------------------------------------------------------------- config */

static int bl_validate_filter(const char *value, const char **error_r)
{
	return value[0] == '\0' ? 0 : authd_ldap_filter_check(value, error_r);
}

static int bl_validate_uri(const char *value, const char **error_r)
{
	if (!ldap_is_ldap_url(value) && strncasecmp(value, "ldapi://", 8) != 0) {
		*error_r = "not an ldap://, ldaps:// or ldapi:// URI";
		return -1;
	}
	return 0;
}

static const struct cfg_def bl_defs[] = {
	{ "ldap_uris", CFG_LIST, "ldap://127.0.0.1/",
	  "LDAP servers, tried in order: ldap://, ldaps:// or ldapi:// URIs",
	  0, 0, NULL, bl_validate_uri },
	{ "ldap_retry_interval", CFG_TIME, "30s",
	  "how long a server that failed is tried only after the others", 0, 3600, NULL, NULL },
	{ "ldap_starttls", CFG_BOOL, "no",
	  "StartTLS on ldap:// URIs; a server that refuses it is never used in clear",
	  0, 0, NULL, NULL },
	{ "ldap_tls_ca", CFG_STR, NULL,
	  "CA certificates (PEM file) for ldaps:// and StartTLS; empty: libldap's default",
	  0, 0, NULL, NULL },
	{ "ldap_tls_require_cert", CFG_ENUM, "demand",
	  "server certificate check for ldaps:// and StartTLS (as TLS_REQCERT in ldap.conf)",
	  0, 0, "never|allow|try|demand|hard", NULL },
	{ "ldap_bind_dn", CFG_STR, NULL,
	  "the service account that searches; empty binds anonymously", 0, 0, NULL, NULL },
	{ "ldap_bind_password", CFG_STR, NULL, "the service account's password",
	  0, 0, NULL, NULL },
	{ "ldap_base", CFG_STR, "ou=domains,dc=example,dc=test",
	  "where every search starts", 0, 0, NULL, NULL },
	{ "ldap_scope", CFG_ENUM, "sub", "search scope below ldap_base",
	  0, 0, "sub|one|base", NULL },
	{ "ldap_timeout", CFG_TIME, "5s",
	  "limit for connecting, binding and each search", 1, 300, NULL, NULL },
	{ "ldap_pool_size", CFG_INT, "4",
	  "connections shared by the worker threads, one per request in flight",
	  1, 256, NULL, NULL },
	{ "ldap_auth_mode", CFG_ENUM, "compare",
	  "compare: check the userPassword hash here; bind: bind as the user's entry",
	  0, 0, "compare|bind", NULL },
	{ "ldap_user_filter", CFG_STR, "(&(objectClass=mailroomUser)(mail=%s))",
	  "finds a mailbox by its login address (%s, %u address, %l local part, %d domain)",
	  0, 0, NULL, bl_validate_filter },
	{ "ldap_alias_filter", CFG_STR,
	  "(|(&(objectClass=mailroomAlias)(mail=%s)(!(mailroomStatus=disabled)))"
	  "(&(objectClass=mailroomUser)(|(mail=%s)(mailAlternateAddress=%s))))",
	  "finds what mail for an address (%s, or @domain for a catch-all) is sent to",
	  0, 0, NULL, bl_validate_filter },
	{ "ldap_domain_filter", CFG_STR,
	  "(&(objectClass=mailroomDomain)(mailroomDomainName=%s))",
	  "finds a hosted domain (%s and %d: the domain); the first entry found counts",
	  0, 0, NULL, bl_validate_filter },
	{ "ldap_sender_filter", CFG_STR,
	  "(&(objectClass=mailroomUser)(mail=%u)(mailroomAllowedSender=%s))",
	  "matches when login %u may send as %s (an address or @domain); empty: no grants",
	  0, 0, NULL, bl_validate_filter },
	{ "ldap_user_objectclass", CFG_STR, "mailroomUser",
	  "object class of mailboxes among the alias filter's results", 0, 0, NULL, NULL },
	{ "ldap_user_keeps_copy", CFG_BOOL, "yes",
	  "a forwarding mailbox keeps a copy; no: only if its address is among its forwards",
	  0, 0, NULL, NULL },
	{ "ldap_status_active", CFG_LIST, "active",
	  "status values that mean enabled (any case); an entry without status is enabled",
	  0, 0, NULL, NULL },
	{ "ldap_quota_unit", CFG_SIZE, "1",
	  "bytes per unit of the quota attributes (1k for directories that store KiB)",
	  1, 1LL << 40, NULL, NULL },
	{ "ldap_attr_user", CFG_STR, "mail",
	  "a mailbox's login and primary address", 0, 0, NULL, NULL },
	{ "ldap_attr_password", CFG_STR, "userPassword",
	  "the {SCHEME}hash compare mode checks (the service account must read it)",
	  0, 0, NULL, NULL },
	{ "ldap_attr_maildir", CFG_STR, "mailroomMailbox",
	  "Maildir under the mail root; absent: domain/local/", 0, 0, NULL, NULL },
	{ "ldap_attr_quota_bytes", CFG_STR, "mailroomQuotaBytes",
	  "mailbox size limit (0: none; absent: the domain's default)", 0, 0, NULL, NULL },
	{ "ldap_attr_quota_messages", CFG_STR, "mailroomQuotaMessages",
	  "message count limit (0: none; absent: the domain's default)", 0, 0, NULL, NULL },
	{ "ldap_attr_services", CFG_STR, "mailroomEnabledService",
	  "services a mailbox may use (smtp, imap, pop3, deliver); none listed: all",
	  0, 0, NULL, NULL },
	{ "ldap_attr_status", CFG_STR, "mailroomStatus",
	  "status of mailboxes and domains, read through ldap_status_active", 0, 0, NULL, NULL },
	{ "ldap_attr_forward", CFG_STR, "mailroomForwardTo",
	  "an alias's targets, a mailbox's forwards", 0, 0, NULL, NULL },
	{ "ldap_attr_alias_target_domain", CFG_STR, "mailroomAliasTargetDomain",
	  "on a domain: the domain it is an alias of", 0, 0, NULL, NULL },
	{ "ldap_attr_default_quota_bytes", CFG_STR, "mailroomDefaultQuotaBytes",
	  "on a domain: size limit for its mailboxes that set none", 0, 0, NULL, NULL },
	{ "ldap_attr_default_quota_messages", CFG_STR, "mailroomDefaultQuotaMessages",
	  "on a domain: message limit for its mailboxes that set none", 0, 0, NULL, NULL },
	{ "ldap_attr_relay", CFG_STR, NULL,
	  "on a domain: yes/true/1 makes it a relay (backup MX) domain; empty: none",
	  0, 0, NULL, NULL },
};

static char **bl_copy_list(const struct cfg *cfg, const char *key, size_t *count_r)
{
	size_t n = cfg_list_count(cfg, key);
	char **list = xcalloc(n + 1, sizeof(*list));

	for (size_t i = 0; i < n; i++)
		list[i] = xstrdup(cfg_list_get(cfg, key, i));
	*count_r = n;
	return list;
}

static void bl_free_list(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

static void bl_deinit(struct authd_backend *b)
{
	if (b == NULL)
		return;
	authd_ldap_pool_free(b->pool);
	free(b->base);
	free(b->user_filter);
	free(b->alias_filter);
	free(b->domain_filter);
	free(b->sender_filter);
	free(b->user_objectclass);
	bl_free_list(b->status_active, b->status_active_count);
	for (size_t i = 0; i < BL_ATTR_COUNT; i++)
		free(b->attrs[i]);
	free(b);
}

static int bl_init(const struct cfg *cfg, struct authd_backend **backend_r,
		     const char **error_r)
{
	static const int scopes[] = { LDAP_SCOPE_SUBTREE, LDAP_SCOPE_ONELEVEL, LDAP_SCOPE_BASE };
	static const int reqcert[] = { LDAP_OPT_X_TLS_NEVER, LDAP_OPT_X_TLS_ALLOW,
				       LDAP_OPT_X_TLS_TRY, LDAP_OPT_X_TLS_DEMAND,
				       LDAP_OPT_X_TLS_HARD };
	struct authd_backend *b = xcalloc(1, sizeof(*b));
	struct authd_ldap_pool_settings set = { 0 };
	char **uris;

	b->base = xstrdup(cfg_str(cfg, "ldap_base"));
	b->scope = scopes[cfg_enum(cfg, "ldap_scope")];
	b->timeout = cfg_time(cfg, "ldap_timeout");
	b->auth_mode = cfg_enum(cfg, "ldap_auth_mode") == 1 ? BL_AUTH_BIND : BL_AUTH_COMPARE;
	b->user_filter = xstrdup(cfg_str(cfg, "ldap_user_filter"));
	b->alias_filter = xstrdup(cfg_str(cfg, "ldap_alias_filter"));
	b->domain_filter = xstrdup(cfg_str(cfg, "ldap_domain_filter"));
	b->sender_filter = xstrdup(cfg_str(cfg, "ldap_sender_filter"));
	b->user_objectclass = xstrdup(cfg_str(cfg, "ldap_user_objectclass"));
	b->user_keeps_copy = cfg_bool(cfg, "ldap_user_keeps_copy");
	b->quota_unit = cfg_size(cfg, "ldap_quota_unit");
	b->status_active = bl_copy_list(cfg, "ldap_status_active", &b->status_active_count);
	for (size_t i = 0; i < BL_ATTR_COUNT; i++)
		b->attrs[i] = xstrdup(bl_attr_keys[i] != NULL ? cfg_str(cfg, bl_attr_keys[i])
				      : "objectClass");
	if (b->user_filter[0] == '\0' || b->alias_filter[0] == '\0' ||
	    b->domain_filter[0] == '\0' || b->attrs[BL_USER][0] == '\0') {
		*error_r = "ldap_user_filter, ldap_alias_filter, ldap_domain_filter and "
			"ldap_attr_user must not be empty";
		bl_deinit(b);
		return -1;
	}
	if (cfg_list_count(cfg, "ldap_uris") == 0) {
		*error_r = "ldap_uris: no server configured";
		bl_deinit(b);
		return -1;
	}
	uris = bl_copy_list(cfg, "ldap_uris", &set.uri_count);
	set.uris = (const char *const *)uris;
	set.starttls = cfg_bool(cfg, "ldap_starttls");
	set.tls_ca = cfg_str(cfg, "ldap_tls_ca");
	set.tls_require_cert = reqcert[cfg_enum(cfg, "ldap_tls_require_cert")];
	set.bind_dn = cfg_str(cfg, "ldap_bind_dn");
	set.bind_password = cfg_str(cfg, "ldap_bind_password");
	set.timeout = b->timeout;
	set.retry_interval = cfg_time(cfg, "ldap_retry_interval");
	set.size = (size_t)cfg_int(cfg, "ldap_pool_size");
	b->pool = authd_ldap_pool_new(&set);
	bl_free_list(uris, set.uri_count);
	*backend_r = b;
	return 0;
}

/* ---------------------------------------------------------------- searching */

static void bl_result_free(struct bl_result *res)
{
	for (size_t i = 0; i < res->count; i++) {
		struct bl_entry *e = &res->entries[i];

		ldap_memfree(e->dn);
		for (size_t a = 0; a < BL_ATTR_COUNT; a++)
			bl_free_list(e->v[a].items, e->v[a].count);
	}
	free(res->entries);
	memset(res, 0, sizeof(*res));
}

static void bl_copy_values(LDAP *ld, LDAPMessage *msg, const char *attr,
			   struct bl_values *v)
{
	struct berval **vals = ldap_get_values_len(ld, msg, attr);
	size_t n = vals != NULL ? (size_t)ldap_count_values_len(vals) : 0;

	v->items = xcalloc(n + 1, sizeof(*v->items));
	for (size_t i = 0; i < n; i++)
		v->items[i] = xstrndup(vals[i]->bv_val, vals[i]->bv_len);
	v->count = n;
	ldap_value_free_len(vals);
}

static void bl_collect(struct authd_backend *b, LDAP *ld, LDAPMessage *msg,
		       const enum bl_attr *want, size_t nwant, struct bl_result *res)
{
	size_t n = (size_t)ldap_count_entries(ld, msg);
	LDAPMessage *e = ldap_first_entry(ld, msg);

	res->entries = xcalloc(n + 1, sizeof(*res->entries));
	for (; e != NULL && res->count < n; e = ldap_next_entry(ld, e)) {
		struct bl_entry *out = &res->entries[res->count++];

		out->dn = ldap_get_dn(ld, e);
		for (size_t a = 0; a < BL_ATTR_COUNT; a++)
			out->v[a].items = xcalloc(1, sizeof(char *));
		for (size_t i = 0; i < nwant; i++) {
			if (b->attrs[want[i]][0] == '\0')
				continue;
			free(out->v[want[i]].items);
			bl_copy_values(ld, e, b->attrs[want[i]], &out->v[want[i]]);
		}
	}
}

/* The attribute list for a search: the configured names of want. */
static char **bl_attr_list(struct authd_backend *b, const enum bl_attr *want, size_t nwant)
{
	static char no_attrs[] = LDAP_NO_ATTRS;
	char **list = xcalloc(nwant + 2, sizeof(*list));
	size_t k = 0;

	for (size_t i = 0; i < nwant; i++) {
		if (b->attrs[want[i]][0] != '\0')
			list[k++] = b->attrs[want[i]];
	}
	if (k == 0)
		list[k++] = no_attrs;
	return list;
}

/* One search on a borrowed connection; a connection that fails is
 * replaced and the search made once more, so a server restart costs no
 * request. */
static enum authd_status bl_search(struct authd_backend *b, const char *tmpl,
				   const struct authd_ldap_filter_args *args,
				   const enum bl_attr *want, size_t nwant, int sizelimit,
				   struct bl_result *res_r, const char **error_r)
{
	struct timeval tv = { .tv_sec = b->timeout };
	struct authd_ldap_conn *conn;
	struct buf filter;
	char **attrs;
	enum authd_status status = AUTHD_TEMPFAIL;

	memset(res_r, 0, sizeof(*res_r));
	buf_init(&filter, AUTHD_LDAP_FILTER_MAX);
	if (authd_ldap_filter_expand(&filter, tmpl, args, error_r) < 0) {
		buf_free(&filter);
		return AUTHD_TEMPFAIL;
	}
	attrs = bl_attr_list(b, want, nwant);
	for (int attempt = 0; attempt < 2; attempt++) {
		LDAPMessage *msg = NULL;
		LDAP *ld;
		int rc;

		if (authd_ldap_pool_get(b->pool, &conn, error_r) < 0)
			break;
		ld = authd_ldap_conn_handle(conn);
		rc = ldap_search_ext_s(ld, b->base, b->scope, buf_cstr(&filter), attrs, 0,
				       NULL, NULL, &tv, sizelimit, &msg);
		if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
			bl_collect(b, ld, msg, want, nwant, res_r);
			res_r->truncated = rc == LDAP_SIZELIMIT_EXCEEDED;
			status = res_r->count > 0 ? AUTHD_OK : AUTHD_NOTFOUND;
		} else {
			*error_r = authd_ldap_errorf("search %s: %s", buf_cstr(&filter),
						     ldap_err2string(rc));
		}
		ldap_msgfree(msg);
		if (status != AUTHD_OK)
			bl_result_free(res_r);
		authd_ldap_pool_put(b->pool, conn, authd_ldap_rc_is_outage(rc));
		if (status != AUTHD_TEMPFAIL || !authd_ldap_rc_is_outage(rc))
			break;
	}
	free(attrs);
	buf_free(&filter);
	return status;
}

/* ---------------------------------------------------------------- values */

static const char *bl_first(const struct bl_entry *e, enum bl_attr a)
{
	return e->v[a].count > 0 ? e->v[a].items[0] : NULL;
}

static bool bl_status_active(const struct authd_backend *b, const struct bl_entry *e)
{
	const char *status = bl_first(e, BL_STATUS);

	if (status == NULL)
		return true;
	for (size_t i = 0; i < b->status_active_count; i++) {
		if (strcasecmp(status, b->status_active[i]) == 0)
			return true;
	}
	return false;
}

/* A quota value: absent leaves *value_r alone; garbage is an error, as a
 * directory that returns it is not giving a usable answer. */
static int bl_quota(const struct authd_backend *b, const struct bl_entry *e, enum bl_attr a,
		    uint64_t *value_r, const char **error_r)
{
	const char *text = bl_first(e, a);
	unsigned long long v;
	char *end;

	if (text == NULL)
		return 0;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' ||
	    (v != 0 && v > UINT64_MAX / b->quota_unit)) {
		*error_r = authd_ldap_errorf("%s: bad %s value \"%.40s\"", e->dn, b->attrs[a],
					     text);
		return -1;
	}
	*value_r = (uint64_t)v * b->quota_unit;
	return 0;
}

static unsigned bl_services(const struct bl_entry *e)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "smtp", AUTHD_SVC_SMTP }, { "imap", AUTHD_SVC_IMAP },
		{ "pop3", AUTHD_SVC_POP3 }, { "deliver", AUTHD_SVC_DELIVER },
	};
	const struct bl_values *v = &e->v[BL_SERVICES];
	unsigned bits = 0;

	if (v->count == 0)
		return AUTHD_SVC_ALL;
	for (size_t i = 0; i < v->count; i++) {
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (strcasecmp(v->items[i], names[k].name) == 0)
				bits |= names[k].bit;
		}
	}
	return bits;
}

/* ASCII lower case: domain names, never the local part. */
static void bl_lower(char *p)
{
	for (; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
}

/* "Local@domain" with the domain in lower case, as authd_user.user wants. */
static char *bl_canonical(const char *addr)
{
	char *copy = xstrdup(addr);
	char *at = strrchr(copy, '@');

	if (at != NULL)
		bl_lower(at);
	return copy;
}

static bool bl_key_ok(const char *key, const char **error_r)
{
	if (key[0] == '\0' || strlen(key) > BL_ADDR_MAX) {
		*error_r = "key empty or too long";
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- primitives */

static enum authd_status bl_find_user(struct authd_backend *b, const char *addr,
				      const enum bl_attr *want, size_t nwant,
				      struct bl_result *res_r, const char **error_r)
{
	struct authd_ldap_filter_args args = { .key = addr, .user = addr };
	enum authd_status status = bl_search(b, b->user_filter, &args, want, nwant, 2,
					     res_r, error_r);

	/* Two entries for one login: refuse rather than guess which. */
	if (status == AUTHD_OK && (res_r->count > 1 || res_r->truncated)) {
		*error_r = authd_ldap_errorf("%zu or more entries match the login",
					     res_r->count);
		bl_result_free(res_r);
		return AUTHD_TEMPFAIL;
	}
	return status;
}

static enum authd_status bl_find_domain(struct authd_backend *b, const char *domain,
					struct bl_result *res_r, const char **error_r)
{
	static const enum bl_attr want[] = {
		BL_STATUS, BL_ALIAS_TARGET_DOMAIN, BL_RELAY,
		BL_DEFAULT_QUOTA_BYTES, BL_DEFAULT_QUOTA_MESSAGES,
	};
	struct authd_ldap_filter_args args = { .key = domain, .user = domain };

	return bl_search(b, b->domain_filter, &args, want, sizeof(want) / sizeof(want[0]), 1,
			 res_r, error_r);
}

/* The domain's status and default quotas, then the user's own quotas. */
static enum authd_status bl_user_domain(struct authd_backend *b, const struct bl_entry *e,
					struct authd_user *user, const char **error_r)
{
	const char *at = strrchr(user->user, '@');
	struct bl_result dres;
	enum authd_status status = bl_find_domain(b, at != NULL ? at + 1 : "", &dres, error_r);
	int ret = 0;

	if (status == AUTHD_TEMPFAIL)
		return AUTHD_TEMPFAIL;
	user->domain_active = status == AUTHD_OK && bl_status_active(b, &dres.entries[0]);
	if (status == AUTHD_OK) {
		ret = bl_quota(b, &dres.entries[0], BL_DEFAULT_QUOTA_BYTES, &user->quota_bytes,
			       error_r);
		if (ret == 0)
			ret = bl_quota(b, &dres.entries[0], BL_DEFAULT_QUOTA_MESSAGES,
				       &user->quota_messages, error_r);
	}
	bl_result_free(&dres);
	if (ret == 0)
		ret = bl_quota(b, e, BL_QUOTA_BYTES, &user->quota_bytes, error_r);
	if (ret == 0)
		ret = bl_quota(b, e, BL_QUOTA_MESSAGES, &user->quota_messages, error_r);
	return ret == 0 ? AUTHD_OK : AUTHD_TEMPFAIL;
}

static char *bl_default_maildir(const char *canonical)
{
	const char *at = strrchr(canonical, '@');

	if (at == NULL)
		return xasprintf("%s/", canonical);
	return xasprintf("%s/%.*s/", at + 1, (int)(at - canonical), canonical);
}

static enum authd_status bl_user_lookup(struct authd_backend *b, const char *addr,
					struct authd_user *user_r, const char **error_r)
{
	/* The password last: bind mode does not ask for it. */
	static const enum bl_attr want[] = {
		BL_USER, BL_MAILDIR, BL_QUOTA_BYTES, BL_QUOTA_MESSAGES, BL_SERVICES,
		BL_STATUS, BL_PASSWORD,
	};
	size_t nwant = sizeof(want) / sizeof(want[0]) - (b->auth_mode == BL_AUTH_BIND);
	struct bl_result res;
	const struct bl_entry *e;
	const char *value;
	enum authd_status status;

	memset(user_r, 0, sizeof(*user_r));
	if (!bl_key_ok(addr, error_r))
		return AUTHD_NOTFOUND;
	status = bl_find_user(b, addr, want, nwant, &res, error_r);
	if (status != AUTHD_OK)
		return status;
	e = &res.entries[0];
	value = bl_first(e, BL_USER);
	user_r->user = bl_canonical(value != NULL ? value : addr);
	value = bl_first(e, BL_PASSWORD);
	if (b->auth_mode == BL_AUTH_COMPARE && value != NULL)
		user_r->password = xstrdup(value);
	value = bl_first(e, BL_MAILDIR);
	user_r->maildir = value != NULL ? xstrdup(value) : bl_default_maildir(user_r->user);
	user_r->services = bl_services(e);
	user_r->active = bl_status_active(b, e);
	status = bl_user_domain(b, e, user_r, error_r);
	bl_result_free(&res);
	if (status != AUTHD_OK)
		authd_user_free(user_r);
	return status;
}

static bool bl_is_user(const struct authd_backend *b, const struct bl_entry *e)
{
	const struct bl_values *v = &e->v[BL_OBJECTCLASS];

	for (size_t i = 0; i < v->count; i++) {
		if (strcasecmp(v->items[i], b->user_objectclass) == 0)
			return true;
	}
	return false;
}

static void bl_add_target(struct authd_targets *t, const char *addr)
{
	for (size_t i = 0; i < t->count; i++) {
		if (strcasecmp(t->items[i], addr) == 0)
			return;
	}
	authd_targets_add(t, addr);
}

/* Targets of one entry: an alias gives its forwards; a mailbox found by
 * its own address gives its forwards and itself (it keeps a copy), or
 * nothing when it forwards nowhere, so the core delivers to it as a
 * mailbox; a mailbox found by another of its addresses gives its primary
 * address. */
static void bl_entry_targets(const struct authd_backend *b, const struct bl_entry *e,
			     const char *addr, struct authd_targets *t)
{
	const struct bl_values *fwd = &e->v[BL_FORWARD];
	const char *mail = bl_first(e, BL_USER);

	if (bl_is_user(b, e) && mail != NULL) {
		if (strcasecmp(mail, addr) != 0) {
			bl_add_target(t, mail);
			return;
		}
		if (fwd->count > 0 && b->user_keeps_copy)
			bl_add_target(t, mail);
	}
	for (size_t i = 0; i < fwd->count; i++)
		bl_add_target(t, fwd->items[i]);
}

static enum authd_status bl_alias_lookup(struct authd_backend *b, const char *addr,
					 struct authd_targets *targets_r, const char **error_r)
{
	static const enum bl_attr want[] = { BL_USER, BL_FORWARD, BL_OBJECTCLASS };
	struct authd_ldap_filter_args args = { .key = addr, .user = addr };
	struct bl_result res;
	enum authd_status status;

	if (!bl_key_ok(addr, error_r))
		return AUTHD_NOTFOUND;
	status = bl_search(b, b->alias_filter, &args, want, sizeof(want) / sizeof(want[0]),
			   BL_ALIAS_ENTRIES, &res, error_r);
	if (status != AUTHD_OK)
		return status;
	if (res.truncated) {
		*error_r = authd_ldap_errorf("more than %d entries match %s", BL_ALIAS_ENTRIES,
					     addr);
		status = AUTHD_TEMPFAIL;
	} else {
		for (size_t i = 0; i < res.count; i++)
			bl_entry_targets(b, &res.entries[i], addr, targets_r);
		if (targets_r->count == 0)
			status = AUTHD_NOTFOUND;
	}
	bl_result_free(&res);
	if (status != AUTHD_OK)
		authd_targets_free(targets_r);
	return status;
}

static bool bl_truthy(const char *value)
{
	return value != NULL && (strcasecmp(value, "yes") == 0 ||
				 strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0);
}

static enum authd_status bl_domain_lookup(struct authd_backend *b, const char *domain,
					  struct authd_domain *domain_r, const char **error_r)
{
	struct bl_result res;
	enum authd_status status;
	const char *target;

	memset(domain_r, 0, sizeof(*domain_r));
	if (!bl_key_ok(domain, error_r))
		return AUTHD_NOTFOUND;
	status = bl_find_domain(b, domain, &res, error_r);
	if (status != AUTHD_OK)
		return status;
	domain_r->relay = bl_truthy(bl_first(&res.entries[0], BL_RELAY));
	domain_r->hosted = !domain_r->relay;
	domain_r->active = bl_status_active(b, &res.entries[0]);
	target = bl_first(&res.entries[0], BL_ALIAS_TARGET_DOMAIN);
	if (target != NULL && target[0] != '\0') {
		domain_r->alias_target = xstrdup(target);
		bl_lower(domain_r->alias_target);
	}
	bl_result_free(&res);
	return AUTHD_OK;
}

static enum authd_status bl_sender_grant(struct authd_backend *b, const char *login,
					 const char *sender, const char **error_r)
{
	struct authd_ldap_filter_args args = { .key = sender, .user = login };
	struct bl_result res;
	enum authd_status status;

	if (b->sender_filter[0] == '\0' || !bl_key_ok(login, error_r) ||
	    !bl_key_ok(sender, error_r))
		return AUTHD_NOTFOUND;
	status = bl_search(b, b->sender_filter, &args, NULL, 0, 1, &res, error_r);
	bl_result_free(&res);
	return status;
}

/* Bind mode: find the entry's DN with the service account, then bind as
 * it on a pooled connection, which goes back to the service account. */
static enum authd_status bl_bind_verify(struct authd_backend *b, const char *login,
					const char *password, const char **error_r)
{
	static const enum bl_attr want[] = { BL_USER };
	struct bl_result res;
	enum authd_status status = bl_find_user(b, login, want, 1, &res, error_r);
	char *dn;

	if (status == AUTHD_NOTFOUND)
		*error_r = "the entry is gone";
	if (status != AUTHD_OK)
		return status;
	dn = xstrdup(res.entries[0].dn);
	bl_result_free(&res);
	status = AUTHD_TEMPFAIL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct authd_ldap_conn *conn;
		bool broken;
		int rc;

		if (authd_ldap_pool_get(b->pool, &conn, error_r) < 0)
			break;
		rc = authd_ldap_conn_bind_as(b->pool, conn, dn, password, &broken);
		authd_ldap_pool_put(b->pool, conn, broken);
		if (rc == LDAP_SUCCESS) {
			status = AUTHD_OK;
		} else if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH) {
			*error_r = "password mismatch";
			status = AUTHD_NOTFOUND;
		} else {
			*error_r = authd_ldap_errorf("bind as %s: %s", dn, ldap_err2string(rc));
		}
		if (status != AUTHD_TEMPFAIL || !authd_ldap_rc_is_outage(rc))
			break;
	}
	free(dn);
	return status;
}

static enum authd_status bl_password_verify(struct authd_backend *b,
					    const struct authd_user *user,
					    const char *password, const char **error_r)
{
	const char *why = NULL;
	int rc;

	/* An empty password would make the bind an unauthenticated one,
	 * which servers answer with success. */
	if (password[0] == '\0') {
		*error_r = "empty password";
		return AUTHD_NOTFOUND;
	}
	if (b->auth_mode == BL_AUTH_BIND)
		return bl_bind_verify(b, user->user, password, error_r);
	if (user->password == NULL) {
		*error_r = "no password readable in the entry";
		return AUTHD_NOTFOUND;
	}
	/* OpenLDAP reads a value without {SCHEME} as clear text. */
	rc = password_verify(user->password, password, "PLAIN", &why);
	if (rc == 1)
		return AUTHD_OK;
	*error_r = rc == 0 ? "password mismatch" : why;
	return AUTHD_NOTFOUND;
}

const struct authd_backend_ops authd_backend_ldap = {
	.name = "ldap",
	.defs = bl_defs,
	.ndefs = sizeof(bl_defs) / sizeof(bl_defs[0]),
	.init = bl_init,
	.deinit = bl_deinit,
	.user_lookup = bl_user_lookup,
	.alias_lookup = bl_alias_lookup,
	.domain_lookup = bl_domain_lookup,
	.sender_grant = bl_sender_grant,
	.password_verify = bl_password_verify,
};
