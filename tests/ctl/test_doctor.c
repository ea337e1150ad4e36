/* tests/test_doctor.c - qiki doctor over fake /proc, /sys and /dev trees:
 * a tuned PREEMPT_RT box, a stock laptop on hpet, an unprivileged user. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl/doctor.h"
#include "rt/rt.h"

static char root[256];

/* Writes root/path (making its directories) with `text`. */
static void put(const char *path, const char *text)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", root, path);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The parts every fixture shares: a 4-CPU machine, the loop on CPU 3. */
static void base(void)
{
	put("sys/devices/system/cpu/online", "0-3\n");
	put("proc/sys/kernel/osrelease", "6.1.0-56-rt-amd64\n");
	put("proc/sys/kernel/sched_rt_runtime_us", "950000\n");
	put("proc/sys/kernel/sched_rt_period_us", "1000000\n");
	put("proc/self/timerslack_ns", "50000\n");
	put("dev/shm/.keep", "");
}

/* A box tuned as docs/preempt-rt.md says. */
static void tuned(void)
{
	base();
	put("proc/sys/kernel/version", "#1 SMP PREEMPT_RT Debian 6.1.192-2 (2026-11-16)\n");
	put("sys/kernel/realtime", "1\n");
	put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 isolcpus=managed_irq,domain,2-3 "
	    "nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1 quiet\n");
	put("proc/irq/24/effective_affinity_list", "0\n");
	put("proc/irq/25/smp_affinity_list", "0-1\n");
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
	put("sys/devices/system/clocksource/clocksource0/available_clocksource", "tsc hpet acpi_pm\n");
	put("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "performance\n");
	put("sys/devices/system/cpu/cpu3/topology/thread_siblings_list", "3\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state0/latency", "0\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state0/name", "POLL\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state1/latency", "133\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state1/name", "C6\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state1/disable", "1\n");
	put("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
	put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
	put("proc/self/status", "Name:\tqiki\nCapEff:\t000001ffffffffff\n");
	put("proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units\n"
	    "Max locked memory         unlimited            unlimited            bytes\n"
	    "Max realtime priority     99                   99\n");
	put("sys/kernel/btf/vmlinux", "");
	put("sys/kernel/tracing/trace", "");
	put("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme tsc constant_tsc nonstop_tsc\n");
}

/* A stock desktop kernel in a VM, on hpet, with an ordinary user. */
static void stock(void)
{
	base();
	put("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.1\n");
	put("sys/kernel/debug/sched/preempt", "none voluntary (full) lazy\n");
	put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n");
	put("proc/irq/24/smp_affinity_list", "0-3\n");
	put("proc/irq/30/effective_affinity_list", "3\n");
	put("proc/irq/31/effective_affinity_list", "1\n");
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n");
	put("sys/devices/system/clocksource/clocksource0/available_clocksource", "hpet acpi_pm\n");
	put("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor", "schedutil\n");
	put("sys/devices/system/cpu/cpu3/topology/thread_siblings_list", "1,3\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state0/latency", "0\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state1/latency", "133\n");
	put("sys/devices/system/cpu/cpu3/cpuidle/state1/name", "C6\n");
	put("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never\n");
	put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition\t999420\t0\t-2\n");
	put("proc/self/status", "Name:\tqiki\nCapEff:\t0000000000000000\n");
	put("proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units\n"
	    "Max locked memory         8388608              8388608              bytes\n"
	    "Max realtime priority     0                    0\n");
	put("proc/self/timerslack_ns", "50000\n");
	put("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc hypervisor\n");
	put("sys/class/dmi/id/sys_vendor", "QEMU\n");
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s/qiki-doctor-%d-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static enum qk_doctor_status st(const struct qk_doctor *d, const char *name)
{
	const struct qk_doctor_check *c = qk_doctor_find(d, name);

	if (!c)
		fail_msg("no check named %s", name);
	return c->status;
}

static const char *ev(const struct qk_doctor *d, const char *name)
{
	return qk_doctor_find(d, name)->evidence;
}

static void test_doctor_tuned_box_is_all_ok(void **state)
{
	static struct qk_doctor d;
	(void)state;

	tuned();
	assert_int_equal(qk_doctor_run(&d, root, -1), 0);
	assert_int_equal(d.cpu, 3);
	for (int i = 0; i < d.n; i++)
		if (d.c[i].status != QK_DOCTOR_OK)
			fail_msg("%s: %s (%s)", d.c[i].name, qk_doctor_status_name(d.c[i].status),
				 d.c[i].evidence);
	assert_non_null(strstr(ev(&d, "preemption"), "PREEMPT_RT"));
	assert_string_equal(d.kernel, "6.1.0-56-rt-amd64");
	char line[256];

	qk_doctor_digest(&d, line, sizeof(line));
	assert_non_null(strstr(line, "OK"));
}

static void test_doctor_stock_box_warns_with_fixes(void **state)
{
	static struct qk_doctor d;
	const char *warned[] = { "preemption", "isolation", "irq-affinity", "clocksource", "cpufreq",
				 "smt", "cstates", "thp", "swap", "cap-sys-nice", "virtualisation" };
	(void)state;

	stock();
	assert_int_equal(qk_doctor_run(&d, root, -1), 2);	/* memlock and rtprio */
	for (size_t i = 0; i < sizeof(warned) / sizeof(warned[0]); i++) {
		const struct qk_doctor_check *c = qk_doctor_find(&d, warned[i]);

		assert_non_null(c);
		if (c->status != QK_DOCTOR_WARN)
			fail_msg("%s: expected WARN, got %s (%s)", warned[i],
				 qk_doctor_status_name(c->status), c->evidence);
		if (!c->fix[0])
			fail_msg("%s: a WARN without a fix", warned[i]);
	}
	assert_int_equal(st(&d, "memlock"), QK_DOCTOR_FAIL);
	assert_int_equal(st(&d, "rtprio"), QK_DOCTOR_FAIL);
	assert_int_equal(st(&d, "timer-slack"), QK_DOCTOR_OK);
	assert_non_null(strstr(ev(&d, "preemption"), "PREEMPT_DYNAMIC (full)"));
	/* only the IRQs that may run on CPU 3: 24 (0-3) and 30, not 31 */
	assert_non_null(strstr(ev(&d, "irq-affinity"), "2 of 3 IRQs"));
	assert_non_null(strstr(ev(&d, "clocksource"), "hpet"));
	assert_non_null(strstr(qk_doctor_find(&d, "clocksource")->fix, "clocksource=tsc tsc=reliable"));
	assert_non_null(strstr(ev(&d, "smt"), "1,3"));
	assert_non_null(strstr(ev(&d, "virtualisation"), "QEMU"));

	char line[512];

	qk_doctor_digest(&d, line, sizeof(line));
	assert_non_null(strstr(line, "2 FAIL (memlock, rtprio)"));
	assert_non_null(strstr(line, "clocksource"));
}

static void test_doctor_cpu_option_and_isolation_lists(void **state)
{
	static struct qk_doctor d;
	(void)state;

	tuned();
	/* CPU 1 is outside isolcpus=...,2-3: the same box warns for it */
	qk_doctor_run(&d, root, 1);
	assert_int_equal(d.cpu, 1);
	assert_int_equal(st(&d, "isolation"), QK_DOCTOR_WARN);
	assert_int_equal(st(&d, "irq-affinity"), QK_DOCTOR_WARN);	/* IRQ 25 may run on 0-1 */
	assert_non_null(strstr(qk_doctor_find(&d, "isolation")->fix, "isolcpus=managed_irq,domain,1"));
	/* isolcpus alone: the other two named as missing */
	put("proc/cmdline", "isolcpus=3\n");
	qk_doctor_run(&d, root, 3);
	assert_int_equal(st(&d, "isolation"), QK_DOCTOR_WARN);
	assert_non_null(strstr(ev(&d, "isolation"), "not in nohz_full rcu_nocbs"));
}

static void test_doctor_clocksource_names(void **state)
{
	char cs[64];
	(void)state;

	base();
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "acpi_pm\n");
	assert_int_equal(qk_rt_clocksource(root, cs, sizeof(cs)), 0);
	assert_string_equal(cs, "acpi_pm");
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "kvm-clock\n");
	assert_int_equal(qk_rt_clocksource(root, cs, sizeof(cs)), 1);
	put("sys/devices/system/clocksource/clocksource0/current_clocksource", "strange\n");
	assert_int_equal(qk_rt_clocksource(root, cs, sizeof(cs)), -EPROTO);
	assert_int_equal(qk_rt_clocksource("/nonexistent-qiki", cs, sizeof(cs)), -ENOENT);
}

/* A tree with nothing in it: every check still answers, none crashes,
 * and what cannot be read is said. */
static void test_doctor_empty_tree(void **state)
{
	static struct qk_doctor d;
	(void)state;

	qk_doctor_run(&d, root, -1);
	assert_int_equal(d.n, 17);
	assert_int_equal(d.cpu, 0);
	assert_int_equal(st(&d, "dev-shm"), QK_DOCTOR_FAIL);
	assert_int_equal(st(&d, "clocksource"), QK_DOCTOR_WARN);
	assert_non_null(strstr(ev(&d, "irq-affinity"), "cannot read /proc/irq"));
}

static void test_doctor_json_and_text(void **state)
{
	static struct qk_doctor d;
	char buf[16384];
	FILE *f;
	size_t n;
	(void)state;

	stock();
	qk_doctor_run(&d, root, -1);
	f = fmemopen(buf, sizeof(buf), "w");
	qk_doctor_print_json(&d, f);
	fclose(f);
	assert_non_null(strstr(buf, "\"check\":\"clocksource\",\"status\":\"WARN\""));
	assert_non_null(strstr(buf, "\"fail\":2"));
	f = fmemopen(buf, sizeof(buf), "w");
	qk_doctor_print(&d, f);
	n = ftell(f);
	fclose(f);
	buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = 0;
	/* one line per check, a header and a count */
	int lines = 0;

	for (char *s = buf; (s = strchr(s, '\n')); s++)
		lines++;
	assert_int_equal(lines, d.n + 2);
	assert_non_null(strstr(buf, "\nFAIL memlock "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_doctor_tuned_box_is_all_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doctor_stock_box_warns_with_fixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doctor_cpu_option_and_isolation_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doctor_clocksource_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doctor_empty_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doctor_json_and_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
