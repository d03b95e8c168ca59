/* mailroom-authd: the auth daemon on the daemon skeleton. */
#include <stdlib.h>

#include "core.h"
#include "daemon.h"
#include "log.h"
#include "services.h"

static int authd_main_started(struct daemon *d, const char **error_r)
{
	struct authd *a = authd_new(daemon_loop(d), daemon_cfg(d), error_r);

	if (a == NULL)
		return -1;
	daemon_set_context(d, a);
	log_info(NULL, "authd backend=%s workers=%lld", cfg_str(daemon_cfg(d), "backend"),
		 cfg_int(daemon_cfg(d), "workers"));
	return 0;
}

static void authd_main_reloaded(struct daemon *d)
{
	const char *err;

	if (authd_reload(daemon_context(d), daemon_cfg(d), &err) < 0)
		log_error(NULL, "reload: backend not replaced, keeping the running one: %s", err);
	else
		log_info(NULL, "reload: backend=%s cache flushed", cfg_str(daemon_cfg(d), "backend"));
}

static void authd_main_stopped(struct daemon *d)
{
	authd_free(daemon_context(d));
	daemon_set_context(d, NULL);
}

int main(int argc, char **argv)
{
	struct daemon_info info = {
		.name = "mailroom-authd",
		.default_config = SYSCONFDIR "/mailroom/authd.conf",
		.services = authd_services,
		.nservices = authd_services_count,
		.started = authd_main_started,
		.reloaded = authd_main_reloaded,
		.stopped = authd_main_stopped,
	};

	info.defs = authd_all_defs(&info.ndefs);
	return daemon_main(&info, argc, argv);
}
