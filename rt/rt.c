/* rt/rt.c - real-time start-up and the periodic schedule; see rt/rt.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rt/rt.h"

#define FIX_PRIV "run as root, or grant the binary the capabilities " \
	"(sudo setcap cap_sys_nice,cap_ipc_lock+ep <binary>), or raise the limits " \
	"for your user (ulimit -r 99 -l unlimited, /etc/security/limits.conf); " \
	"or pass --no-rt to run without real time (figures are then marked NOT real-time)"

/* Touches a stack reserve so that the loop never takes a page fault growing
 * its stack; with mlockall(MCL_FUTURE) the pages then stay resident. */
#define STACK_PREFAULT (512 * 1024)
static void __attribute__((noinline)) prefault_stack(void)
{
	unsigned char buf[STACK_PREFAULT];

	memset(buf, 0, sizeof(buf));
	__asm__ __volatile__("" : : "r"(buf) : "memory");	/* keep the stores */
}

int qk_rt_setup(struct qk_rt *rt, const struct qk_rt_opts *o, char *why, size_t n)
{
	struct sched_param sp = { .sched_priority = o->priority };
	int ret;

	*rt = (struct qk_rt){ .dma_fd = -1, .cpu = o->cpu, .priority = o->priority };
	prefault_stack();
	if (o->no_rt)
		return 0;
	if (o->priority < 1 || o->priority > 99) {
		snprintf(why, n, "bad real-time priority %d: use 1..99", o->priority);
		return -EINVAL;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
		ret = -errno;
		snprintf(why, n, "mlockall failed (%s): locking memory needs CAP_IPC_LOCK or "
			 "a large enough RLIMIT_MEMLOCK; " FIX_PRIV, strerror(errno));
		return ret;
	}
	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			ret = -errno;
			snprintf(why, n, "cannot pin to CPU %d (%s): this machine has %ld CPUs; "
				 "choose one with --cpu", o->cpu, strerror(errno),
				 sysconf(_SC_NPROCESSORS_ONLN));
			return ret;
		}
	}
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0) {
		struct rlimit rl = { 0 };

		ret = -errno;
		getrlimit(RLIMIT_RTPRIO, &rl);
		snprintf(why, n, "SCHED_FIFO priority %d refused (%s): this needs CAP_SYS_NICE "
			 "or RLIMIT_RTPRIO >= %d (yours is %llu); " FIX_PRIV, o->priority,
			 strerror(errno), o->priority, (unsigned long long)rl.rlim_cur);
		return ret;
	}
	if (o->dma_latency) {
		int32_t zero = 0;

		/* Held open for the life of the process; failure is not fatal:
		 * only the C-state exit latency is at stake, and we say so. */
		rt->dma_fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
		if (rt->dma_fd >= 0 && write(rt->dma_fd, &zero, sizeof(zero)) != sizeof(zero)) {
			close(rt->dma_fd);
			rt->dma_fd = -1;
		}
	}
	rt->rt = true;
	return 0;
}

void qk_rt_teardown(struct qk_rt *rt)
{
	if (rt->dma_fd >= 0)
		close(rt->dma_fd);
	rt->dma_fd = -1;
}

void qk_period_init(struct qk_period *p, int64_t epoch_ns, int64_t period_ns,
		    int64_t phase_ns, int64_t now_ns)
{
	*p = (struct qk_period){ .epoch_ns = epoch_ns, .period_ns = period_ns,
				 .phase_ns = phase_ns };
	/* start at the first grid point still ahead of us: a process that
	 * attaches late joins the grid instead of replaying it */
	int64_t k = (now_ns - epoch_ns - phase_ns) / period_ns + 1;

	if (k < 0)
		k = 0;
	p->cycle = (uint64_t)k;
	p->due_ns = epoch_ns + k * period_ns + phase_ns;
	p->cycle--;		/* qk_period_wait() advances to it */
	p->due_ns -= period_ns;
}

int qk_period_wait(struct qk_period *p)
{
	int64_t next = p->due_ns + p->period_ns;
	int64_t now = qk_now_ns();
	uint64_t step = 1;

	if (now > next) {
		/* late: skip to the next grid point in the future, count the rest */
		step = (uint64_t)((now - p->due_ns) / p->period_ns) + 1;
		p->overruns += step - 1;
		next = p->due_ns + (int64_t)step * p->period_ns;
	}
	p->cycle += step;
	p->due_ns = next;
	struct timespec ts = qk_ns_ts(next);
	int ret;

	/* clock_nanosleep returns the error number, it does not set errno; a
	 * signal only sets the caller's stop flag, seen when we wake on time */
	do
		ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	while (ret == EINTR);
	return -ret;
}

const char *qk_rt_sysroot(void)
{
	const char *r = getenv("QIKI_SYSROOT");

	return r && *r ? r : "";
}

int qk_rt_clocksource(const char *root, char *name, size_t n)
{
	/* what the x86, arm64 and riscv vDSOs read; anything else is a syscall */
	static const char *const vdso[] = { "tsc", "kvm-clock", "hyperv_clocksource_tsc_page",
					    "arch_sys_counter", "riscv_clocksource", "xen" };
	static const char *const sys[] = { "hpet", "acpi_pm", "jiffies", "refined-jiffies",
					   "pit", "pvclock" };
	char path[4096];
	FILE *f;

	if (n)
		*name = 0;
	snprintf(path, sizeof(path), "%s/sys/devices/system/clocksource/clocksource0/"
		 "current_clocksource", root ? root : "");
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	if (!fgets(name, (int)n, f))
		*name = 0;
	fclose(f);
	name[strcspn(name, "\n")] = 0;
	for (size_t i = 0; i < sizeof(vdso) / sizeof(vdso[0]); i++)
		if (!strcmp(name, vdso[i]))
			return 1;
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (!strcmp(name, sys[i]))
			return 0;
	return -EPROTO;
}
