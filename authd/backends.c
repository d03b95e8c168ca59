/* The backends compiled into authd; `backend =` picks one by name. */
#include "core.h"

const struct authd_backend_ops *const authd_backends[] = {
	&authd_backend_passwd_file,
	&authd_backend_mysql,
	&authd_backend_ldap,
};
const size_t authd_backends_count = sizeof(authd_backends) / sizeof(authd_backends[0]);
