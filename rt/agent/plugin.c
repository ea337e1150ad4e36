/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/plugin.c - loading a controller from a shared object at start-up
 * (never on the hot path); see rt/agent/controller.h. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/agent/controller.h"

int qk__controller_start(struct qk_ctl_instance *ci, const struct qk_controller *c,
			 const struct qk_ctl_setup *s, char *why, size_t n);

int qk_controller_load(struct qk_ctl_instance *ci, const char *path, const struct qk_ctl_setup *s,
		       char *why, size_t n)
{
	memset(ci, 0, sizeof(*ci));
	if (!path)
		return qk__controller_start(ci, qk_controller_builtin_pd(), s, why, n);

	/* RTLD_NOW: every symbol bound here, none on the first tick */
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!dl) {
		const char *e = dlerror();

		snprintf(why, n, "cannot load controller %s: %s%s", path, e ? e : "dlopen failed",
			 strchr(path, '/') ? "" : " (a file in the current directory is ./NAME)");
		return -ENOENT;
	}
	const struct qk_controller *(*entry)(void);

	*(void **)&entry = dlsym(dl, QK_CONTROLLER_SYMBOL);
	if (!entry) {
		snprintf(why, n, "%s is not a qiki controller: it defines no %s() "
			 "(QK_CONTROLLER_EXPORT in <rt/agent/controller.h>)", path, QK_CONTROLLER_SYMBOL);
		dlclose(dl);
		return -ENOENT;
	}
	char inner[400];
	int ret = qk__controller_start(ci, entry(), s, inner, sizeof(inner));

	if (ret) {
		snprintf(why, n, "controller %s refused: %s", path, inner);
		dlclose(dl);
		return ret;
	}
	ci->dl = dl;
	return 0;
}

void qk_controller_unload(struct qk_ctl_instance *ci)
{
	if (!ci)
		return;
	free(ci->state);
	if (ci->dl)
		dlclose(ci->dl);
	memset(ci, 0, sizeof(*ci));
}
