/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* ctl/list.c and shm/segnames.c on real segments: what `qikictl list`
 * reports of a running, a stuck, a half-running and a stale instance, and
 * that "no such instance" names the ones that exist. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl/list.h"
#include "rt/agent/fsm.h"
#include "rt/config/config.h"
#include "rt/rt.h"

static struct qk_config cfg;
static char live[32], dead[32];
static struct qk_seg s, d, loop;	/* creator, stale one, the "loop" processes */

static int setup(void **state)
{
	char why[256];

	(void)state;
	snprintf(live, sizeof(live), "t-list-%d", (int)getpid());
	snprintf(dead, sizeof(dead), "t-list-%d-gone", (int)getpid());
	if (qk_config_profile(&cfg, "ship", why, sizeof(why)))
		return -1;
	cfg.rate_hz = 500;
	if (qk_seg_create(&s, live, &cfg, 0) || qk_seg_create(&d, dead, &cfg, 0))
		return -1;
	qk_seg_publish(&s);
	qk_seg_publish(&d);
	qk_seg_detach(&d);	/* nobody holds it: stale, as a run that died leaves it */
	if (qk_seg_attach(&loop, live, 0) || qk_seg_claim(&loop, QK_PROC_SIM) ||
	    qk_seg_claim(&loop, QK_PROC_AGENT))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qk_seg_detach(&loop);
	qk_seg_detach(&s);
	qk_seg_unlink(live);
	qk_seg_unlink(dead);
	return 0;
}

static void beat(int p, int64_t ago_ns)
{
	qk_store_relaxed(&s.stats[p].heartbeat_ns, qk_now_ns() - ago_ns);
}

static const struct qk_list_entry *find(const struct qk_list_entry *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static void test_list_running_instance(void **state)
{
	struct qk_list_entry e;

	(void)state;
	beat(QK_PROC_SIM, 0);
	beat(QK_PROC_AGENT, 0);
	assert_int_equal(qk_list_read(&e, live), 0);
	assert_string_equal(qk_list_health_name(e.health), "ok");
	assert_int_equal(e.rate_hz, 500);
	assert_string_equal(e.profile, "ship");
	assert_int_equal(e.pid[QK_PROC_SIM], getpid());
	assert_int_equal(e.pid[QK_PROC_AGENT], getpid());
	assert_int_equal(e.pid[QK_PROC_TELEMETRY], 0);
	assert_int_equal(e.pid[QK_PROC_LAUNCHER], 0);	/* slot never claimed */
	assert_true(e.uptime_ns >= 0);
}

/* A slot held with its heartbeat stopped (SIGSTOP, a debugger) is stuck;
 * a loop process that left is partial. */
static void test_list_stuck_then_partial(void **state)
{
	struct qk_list_entry e;

	(void)state;
	beat(QK_PROC_SIM, 0);
	beat(QK_PROC_AGENT, 5 * QK_NSEC);
	assert_int_equal(qk_list_read(&e, live), 0);
	assert_int_equal(e.health, QK_LH_STUCK);
	qk_seg_release(&loop, QK_PROC_AGENT);
	assert_int_equal(qk_list_read(&e, live), 0);
	assert_int_equal(e.health, QK_LH_PARTIAL);
	assert_int_equal(e.pid[QK_PROC_AGENT], 0);
	assert_int_equal(qk_seg_claim(&loop, QK_PROC_AGENT), 0);
	beat(QK_PROC_AGENT, 0);
}

static void test_list_scan_sees_stale_and_live(void **state)
{
	static struct qk_list_entry v[256];
	int n = qk_list_scan(v, 256);
	const struct qk_list_entry *a, *b;
	char buf[8192];
	FILE *f;

	(void)state;
	assert_true(n >= 2);
	a = find(v, n < 256 ? n : 256, live);
	b = find(v, n < 256 ? n : 256, dead);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(b->health, QK_LH_STALE);
	assert_int_equal(b->pid[QK_PROC_SIM], 0);
	for (int i = 1; i < n && i < 256; i++)	/* sorted */
		assert_true(strcmp(v[i - 1].name, v[i].name) < 0);

	f = fmemopen(buf, sizeof(buf), "w");
	qk_list_print(f, v, n < 256 ? n : 256, true);
	fclose(f);
	assert_non_null(strstr(buf, "{\"instances\":["));
	assert_non_null(strstr(buf, "\"health\":\"stale\",\"stale\":true"));
	assert_non_null(strstr(buf, "\"heartbeat_age_ms\":{\"sim\":"));
	f = fmemopen(buf, sizeof(buf), "w");
	qk_list_print(f, v, n < 256 ? n : 256, false);
	fclose(f);
	assert_non_null(strstr(buf, "INSTANCE"));
	assert_non_null(strstr(buf, dead));
	assert_non_null(strstr(buf, "reclaims it"));
}

static void test_list_missing_instance_names_existing(void **state)
{
	struct qk_seg x;
	char missing[40];

	(void)state;
	snprintf(missing, sizeof(missing), "t-list-%d-nope", (int)getpid());
	assert_int_equal(qk_seg_attach(&x, missing, 0), -ENOENT);
	assert_non_null(strstr(x.err, "instances here: "));
	/* ours sort after any "soak-" or "t-a..." and may be cut: the list
	 * says so with "..." rather than end mid-name */
	assert_true(strstr(x.err, live) || strstr(x.err, "..."));

	char names[4][QK_SEG_NAME_MAX];
	int n = qk_seg_names(names, 4);

	assert_true(n >= 2);	/* counts past max */
}

static void test_list_empty_print(void **state)
{
	char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	qk_list_print(f, NULL, 0, false);
	fclose(f);
	assert_non_null(strstr(buf, "no qiki instance"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_running_instance),
		cmocka_unit_test(test_list_stuck_then_partial),
		cmocka_unit_test(test_list_scan_sees_stale_and_live),
		cmocka_unit_test(test_list_missing_instance_names_existing),
		cmocka_unit_test(test_list_empty_print),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
