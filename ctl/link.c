/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/link.c - the HIL link for qikictl; see ctl/link.h. */
#include <string.h>

#include "ctl/json.h"
#include "ctl/link.h"
#include "rt/hil/wire.h"

static const char *state_name(uint32_t s)
{
	switch (s) {
	case QK_LINK_HELLO: return "HELLO";
	case QK_LINK_UP: return "UP";
	case QK_LINK_REFUSED: return "REFUSED";
	default: return "NONE";
	}
}

bool qk_ctl_link_show(const struct qk_seg *s, bool json, FILE *f)
{
	const struct qk_link_stats *l = s->link;
	char peer[QK_LINK_PEER_LEN], refusal[QK_LINK_REFUSAL_LEN];
	uint64_t dropped[QK_LINK_DROP_REASONS], all = 0;
	uint32_t state = qk_load_relaxed((_Atomic uint32_t *)&l->state);
	bool alive = qk_seg_alive(s, QK_PROC_SIM);

	/* the segment is untrusted: a bounded copy, terminated here */
	memcpy(peer, l->peer, sizeof(peer));
	peer[sizeof(peer) - 1] = 0;
	memcpy(refusal, l->refusal, sizeof(refusal));
	refusal[sizeof(refusal) - 1] = 0;
	for (int i = 0; i < QK_LINK_DROP_REASONS; i++)
		all += dropped[i] = qk_load_relaxed((_Atomic uint64_t *)&l->dropped[i]);
#define LD(field) ((uint64_t)qk_load_relaxed((_Atomic uint64_t *)&l->field))
	double p50 = (double)qk_hist_quantile(&l->rtt, 0.50) / 1e3;
	double p99 = (double)qk_hist_quantile(&l->rtt, 0.99) / 1e3;
	double off = (double)qk_load_relaxed((_Atomic int64_t *)&l->offset_ns) / 1e3;

	if (!peer[0]) {
		if (json) {
			struct qk_json j;

			qk_json_begin(&j, f);
			qk_json_str(&j, "state", "NONE");
			qk_json_end(&j);
		} else {
			fprintf(f, "no HIL link: this instance runs the simulator (qiki run --hil "
				"udp://HOST:PORT runs a device)\n");
		}
		return false;
	}
	if (json) {
		struct qk_json j;

		qk_json_begin(&j, f);
		qk_json_str(&j, "state", state_name(state));
		qk_json_bool(&j, "bridge_alive", alive);
		qk_json_str(&j, "peer", peer);
		qk_json_u64(&j, "stale_cycles", l->stale_cycles);
		qk_json_u64(&j, "sent", LD(sent));
		qk_json_u64(&j, "received", LD(received));
		qk_json_u64(&j, "taken", LD(taken));
		qk_json_u64(&j, "lost", LD(lost));
		qk_json_u64(&j, "superseded", LD(superseded));
		qk_json_u64(&j, "wrong_peer", LD(wrong_peer));
		qk_json_u64(&j, "unexpected", LD(unexpected));
		qk_json_u64(&j, "sessions", LD(sessions));
		qk_json_u64(&j, "link_losses", LD(link_losses));
		qk_json_u64(&j, "refusals", LD(refusals));
		qk_json_str(&j, "refusal", refusal);
		qk_json_u64(&j, "send_errors", LD(send_errors));
		qk_json_obj(&j, "dropped");
		for (int i = 0; i < QK_LINK_DROP_REASONS; i++)
			qk_json_u64(&j, qk_hil_err_name(i + 1), dropped[i]);
		qk_json_close(&j);
		qk_json_u64(&j, "rtt_samples", LD(samples));
		qk_json_f64(&j, "rtt_p50_us", p50);
		qk_json_f64(&j, "rtt_p99_us", p99);
		qk_json_f64(&j, "offset_us", off);
		qk_json_end(&j);
		return true;
	}
	fprintf(f, "link       %s with %s%s, %llu sessions, %llu losses (stale after %u cycles)\n",
		state_name(state), peer, alive ? "" : " (the bridge is not running)",
		(unsigned long long)LD(sessions), (unsigned long long)LD(link_losses),
		l->stale_cycles);
	if (LD(refusals))
		fprintf(f, "refused    %llu times, the newest: %s\n", (unsigned long long)LD(refusals),
			refusal);
	fprintf(f, "frames     sent %llu  received %llu  taken %llu  lost %llu  superseded %llu\n",
		(unsigned long long)LD(sent), (unsigned long long)LD(received),
		(unsigned long long)LD(taken), (unsigned long long)LD(lost),
		(unsigned long long)LD(superseded));
	fprintf(f, "dropped    %llu: wrong peer %llu", (unsigned long long)(all + LD(wrong_peer)),
		(unsigned long long)LD(wrong_peer));
	for (int i = 0; i < QK_LINK_DROP_REASONS; i++)
		fprintf(f, "  %s %llu", qk_hil_err_name(i + 1), (unsigned long long)dropped[i]);
	fprintf(f, "  (unexpected %llu, send errors %llu)\n", (unsigned long long)LD(unexpected),
		(unsigned long long)LD(send_errors));
	fprintf(f, "timing     round trip us p50 %.1f p99 %.1f over %llu exchanges; device clock "
		"%+.1f us from ours\n", p50, p99, (unsigned long long)LD(samples), off);
#undef LD
	return true;
}
