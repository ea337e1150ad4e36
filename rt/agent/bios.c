/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/agent/bios.c - POST report vs hardware profile; see rt/agent/bios.h. */
#include <stdio.h>
#include <string.h>

#include "rt/agent/bios.h"

static const struct qk_device_status *find(const struct qk_bios_report *r, uint32_t n,
					   const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strncmp(r->device[i].name, name, QK_NAME_LEN))
			return &r->device[i];
	return NULL;
}

static bool in_profile(const struct qk_config *cfg, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strncmp(cfg->device[i].name, name, QK_NAME_LEN))
			return true;
	return false;
}

static const char *problem(uint32_t status)
{
	switch (status) {
	case QK_DS_ERROR: return "failed in POST";
	case QK_DS_NOT_FOUND: return "not found in POST";
	default: return "missing from POST";
	}
}

void qk_bios_check(const struct qk_config *cfg, const struct qk_bios_report *r,
		   struct qk_bios_eval *out)
{
	uint32_t nd = cfg->n_devices < QK_MAX_DEVICES ? cfg->n_devices : QK_MAX_DEVICES;
	double score = 0;

	memset(out, 0, sizeof(*out));
	out->first_bad = -1;
	if (!r || !r->post_count)
		return;
	uint32_t nr = r->n_devices < QK_MAX_DEVICES ? r->n_devices : QK_MAX_DEVICES;

	out->seen = true;
	out->post_count = r->post_count;
	for (uint32_t i = 0; i < nd; i++) {
		const struct qk_device_cfg *d = &cfg->device[i];
		const struct qk_device_status *s = find(r, nr, d->name);
		uint32_t st = s ? s->status : QK_BIOS_MISSING;

		switch (st) {
		case QK_DS_OK:
			out->n_ok++;
			score += 1.0;
			continue;
		case QK_DS_WARNING:
			out->n_warning++;
			score += 0.5;
			continue;
		case QK_BIOS_MISSING:
			out->n_missing++;
			break;
		default:	/* ERROR, NOT_FOUND, or a status we do not know: not OK */
			out->n_error++;
			break;
		}
		if (d->critical)
			out->critical_fail++;
		/* name a critical failure before a harmless one */
		if (out->first_bad < 0 || (d->critical && !cfg->device[out->first_bad].critical)) {
			out->first_bad = (int32_t)i;
			out->first_status = st;
			out->first_code = s ? s->code : QK_PC_NONE;
		}
	}
	for (uint32_t i = 0; i < nr; i++)
		if (!in_profile(cfg, nd, r->device[i].name))
			out->n_unexpected++;
	out->health = nd ? score / nd : 1.0;
	out->all_systems_go = !out->critical_fail && out->health >= cfg->limits.health_min;
}

void qk_bios_why(const struct qk_config *cfg, const struct qk_bios_eval *e,
		 char why[QK_REASON_LEN])
{
	const size_t n = QK_REASON_LEN;
	bool named = e->first_bad >= 0 && e->first_bad < QK_MAX_DEVICES;

	if (!e->seen)
		snprintf(why, n, "no POST yet");
	else if (e->critical_fail && named)
		snprintf(why, n, "%.24s %s", cfg->device[e->first_bad].name,
			 problem(e->first_status));
	else if (!e->all_systems_go)
		snprintf(why, n, "health %.2f < %.2f", e->health, cfg->limits.health_min);
	else if (e->n_warning || e->first_bad >= 0)
		snprintf(why, n, "degraded: health %.2f", e->health);
	else
		why[0] = '\0';
}
