/* rt/bios.c - POST report vs hardware profile; see rt/bios.h. */
#include <stdio.h>
#include <string.h>

#include "rt/bios.h"

static const struct qk_device_status *find(const struct qk_bios_report *r, const char *name)
{
	for (uint32_t i = 0; i < r->n_devices && i < QK_MAX_DEVICES; i++)
		if (!strncmp(r->device[i].name, name, QK_NAME_LEN))
			return &r->device[i];
	return NULL;
}

void qk_bios_check(const struct qk_config *cfg, const struct qk_bios_report *r,
		   struct qk_bios_eval *out)
{
	double score = 0;

	memset(out, 0, sizeof(*out));
	if (!r || !r->post_count) {
		snprintf(out->why, sizeof(out->why), "no POST report yet");
		return;
	}
	out->seen = true;
	for (uint32_t i = 0; i < cfg->n_devices && i < QK_MAX_DEVICES; i++) {
		const struct qk_device_cfg *d = &cfg->device[i];
		const struct qk_device_status *s = find(r, d->name);
		bool bad = false;

		if (!s) {
			out->n_missing++;
			bad = true;
			if (!out->why[0])
				snprintf(out->why, sizeof(out->why), "%.24s missing from POST", d->name);
		} else if (s->status == QK_DS_OK) {
			out->n_ok++;
			score += 1.0;
		} else if (s->status == QK_DS_WARNING) {
			out->n_warning++;
			score += 0.5;
		} else {
			out->n_error++;
			bad = true;
			if (!out->why[0])
				snprintf(out->why, sizeof(out->why), "%.24s %s in POST", d->name,
					 s->status == QK_DS_NOT_FOUND ? "not found" : "failed");
		}
		if (bad && d->critical)
			out->critical_fail++;
	}
	out->health = cfg->n_devices ? score / cfg->n_devices : 1.0;
	out->all_systems_go = !out->critical_fail && out->health >= cfg->limits.health_min;
	if (!out->all_systems_go && !out->why[0])
		snprintf(out->why, sizeof(out->why), "health %.2f < %.2f", out->health,
			 cfg->limits.health_min);
}
