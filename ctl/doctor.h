/*
 * ctl/doctor.h - `qiki doctor`: what this machine lacks for real time.
 *
 * Contract
 * - One check per concern a real-time engineer looks at before trusting a
 *   figure: the kernel's preemption model, CPU isolation of the loop's CPU,
 *   IRQ affinity, the clocksource and the vDSO, cpufreq, SMT, C-states, RT
 *   throttling, THP, swap, the memlock and rtprio limits, CAP_SYS_NICE, the
 *   timer slack, /dev/shm, BPF tracing and virtualisation.  Each gives a
 *   status (OK, WARN, FAIL), the evidence it saw and, when not OK, the fix.
 *   FAIL is kept for what stops `qiki run` from running in real time at all.
 * - Everything is read from files under a root prefix ("" for this machine;
 *   $QIKI_SYSROOT or --root for a fake /proc, /sys and /dev tree, which is how
 *   the unit test feeds it): /proc/self/status and /proc/self/limits stand
 *   for the process's capabilities and limits.  Only the timer slack falls
 *   back to prctl() and /dev/shm's size to statvfs() of the prefixed path.
 * - Start-up and operator code: allocates nothing, prints only through the
 *   print functions.  Not for the hot path.
 */
#ifndef QK_CTL_DOCTOR_H
#define QK_CTL_DOCTOR_H

#include <stddef.h>
#include <stdio.h>

enum qk_doctor_status { QK_DOCTOR_OK, QK_DOCTOR_WARN, QK_DOCTOR_FAIL };

struct qk_doctor_check {
	const char *name;		/* a stable key: "clocksource", "isolation", ... */
	enum qk_doctor_status status;
	char evidence[320];		/* what was seen, with the file it came from */
	char fix[320];			/* empty when OK */
};

#define QK_DOCTOR_MAX 20

struct qk_doctor {
	char root[1024];		/* the prefix; "" is this machine */
	int cpu;			/* the loop's CPU */
	char kernel[128];		/* uname -r */
	int n, n_warn, n_fail;
	struct qk_doctor_check c[QK_DOCTOR_MAX];
};

/* Runs every check.  `root` NULL or "" reads this machine; `cpu` -1 takes
 * the loop's default, the last online CPU.  Returns the number of FAILs. */
int qk_doctor_run(struct qk_doctor *d, const char *root, int cpu);
/* The check named `name`, or NULL. */
const struct qk_doctor_check *qk_doctor_find(const struct qk_doctor *d, const char *name);
const char *qk_doctor_status_name(enum qk_doctor_status s);

/* One line per check: STATUS name: evidence; fix: ... */
void qk_doctor_print(const struct qk_doctor *d, FILE *f);
void qk_doctor_print_json(const struct qk_doctor *d, FILE *f);
/* One line for `qiki run`: "2 WARN (isolation, clocksource), 0 FAIL" or
 * "all OK"; returns the length snprintf would. */
int qk_doctor_digest(const struct qk_doctor *d, char *buf, size_t n);

/* `qiki doctor [--json] [--cpu N] [--root DIR]`: argv[0] is "doctor".
 * Exit status: 0 no FAIL, 1 usage, 2 at least one FAIL. */
int qk_doctor_cmd(int argc, char **argv);

#endif
