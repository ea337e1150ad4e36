/*
 * tests/fuzz/fuzz_seg.c - libFuzzer target: segment attach and validation,
 * then every access a process makes, on a segment a hostile group member
 * wrote.  The input is a list of patches (offset, length, bytes) applied to
 * a freshly made segment before attach, then a second list applied after
 * it, then a truncation length.  Attach must refuse or accept; after
 * either, reading the rings, popping and pushing the queues and reading the
 * mailboxes must stay inside the mapping and inside the caller's buffers
 * (ASan and UBSan watch), and qk_seg_verify() must name a region or none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt/config/config.h"
#include "shm/seg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct qk_seg creator;
static unsigned char *pristine;
static char name[32];

static void make_once(void)
{
	struct qk_config cfg;
	char why[256];

	snprintf(name, sizeof(name), "fuzz-seg-%d", (int)getpid());
	if (qk_config_profile(&cfg, "bot", why, sizeof(why)) ||
	    qk_seg_create(&creator, name, &cfg, QK_SEG_RECLAIM)) {
		fprintf(stderr, "fuzz_seg: cannot make a segment: %s\n", creator.err);
		abort();
	}
	qk_seg_publish(&creator);
	pristine = malloc(creator.size);
	memcpy(pristine, creator.base, creator.size);
}

static void cleanup(void)
{
	qk_seg_detach(&creator);
	qk_seg_unlink(name);
}

/* Applies patches from *d until a zero-length one or the end. */
static void patch(const uint8_t **d, size_t *n)
{
	unsigned char *b = creator.base;

	while (*n >= 4) {
		uint32_t off = ((uint32_t)(*d)[0] | (uint32_t)(*d)[1] << 8 | (uint32_t)(*d)[2] << 16);
		uint32_t len = (*d)[3];

		*d += 4;
		*n -= 4;
		if (!len)
			return;
		/* most patches land on headers: the first lines of a region */
		off %= (uint32_t)creator.size;
		if (len > *n)
			len = (uint32_t)*n;
		if (len > creator.size - off)
			len = (uint32_t)(creator.size - off);
		memcpy(b + off, *d, len);
		*d += len;
		*n -= len;
	}
}

static void exercise(struct qk_seg *s)
{
	static struct qk_sensor_frame sf;
	static struct qk_actuator_frame af;
	static struct qk_reply rep;
	static struct qk_cmd c, d;
	static struct qk_bios_report b, bs;
	static struct qk_agent_status as, ass;
	static struct qk_sim_status ss, sss;
	struct qk_ring_reader rd;
	struct qk_ring_port *rings[4] = { s->sensors, s->actuators, s->agent_replies, s->sim_replies };
	void *frames[4] = { &sf, &af, &rep, &rep };
	int r = qk_seg_verify(s);

	if (r < -1 || r > QK_R_HEADER)
		abort();
	for (int i = 0; i < 4; i++) {
		qk_ring_reader_init(&rd, rings[i], QK_RING_FROM_OLDEST);
		for (int k = 0; k < 8 && qk_ring_read_next(&rd, frames[i]); k++)
			;
		qk_ring_read_newest(&rd, frames[i]);
		qk_ring_publish(rings[i], frames[i]);
	}
	for (int k = 0; k < 3; k++) {
		c.id = (uint64_t)k;
		if (qk_cmdq_push(s->agent_cmdq, &c) == 0 && !qk_cmdq_pop(s->agent_cmdq, &d))
			(void)qk_cmdq_stalled(s->agent_cmdq);
		qk_cmdq_pop(s->sim_cmdq, &d);
		qk_cmdq_push(s->sim_cmdq, &c);
	}
	if (qk_cmdq_stalled(s->sim_cmdq))
		qk_cmdq_abandon_stalled(s->sim_cmdq);
	qk_mbox_read(s->bios, &b, &bs);
	qk_mbox_read(s->agent_status, &as, &ass);
	qk_mbox_read(s->sim_status, &ss, &sss);
	qk_mbox_write(s->sim_status, &ss);
	/* the private configuration is sane whatever the segment said */
	if (s->config->n_devices > QK_MAX_DEVICES || !memchr(s->config->profile, 0, QK_NAME_LEN))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qk_seg s;

	if (!pristine) {
		make_once();
		atexit(cleanup);
	}
	memcpy(creator.base, pristine, creator.size);
	patch(&data, &size);
	if (qk_seg_attach(&s, name, 0) == 0) {
		exercise(&s);
		patch(&data, &size);	/* what a hostile writer does after attach */
		exercise(&s);
		qk_seg_detach(&s);
	} else if (!s.err[0]) {
		abort();	/* a refusal always says why */
	}
	return 0;
}
