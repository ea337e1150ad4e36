/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * bench/bench.h - what every benchmark writes alike: the machine it ran on
 * and histograms, in the JSON that bench/report.py reads.  Header-only:
 * each bench/<name>.c is a program of its own.
 */
#ifndef QK_BENCH_BENCH_H
#define QK_BENCH_BENCH_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "shm/hist.h"

/* The CPU's model name from /proc/cpuinfo, JSON-safe. */
static inline void bench_cpu_model(char *cpu, size_t n)
{
	char l[256];
	FILE *c = fopen("/proc/cpuinfo", "r");

	snprintf(cpu, n, "unknown");
	while (c && fgets(l, sizeof(l), c))
		if (!strncmp(l, "model name", 10) && strchr(l, ':')) {
			snprintf(cpu, n, "%.100s", strchr(l, ':') + 2);
			cpu[strcspn(cpu, "\n\"\\")] = 0;
			break;
		}
	if (c)
		fclose(c);
}

static inline bool bench_preempt_rt(void)
{
	struct utsname u;

	uname(&u);
	return strstr(u.version, "PREEMPT_RT") || access("/sys/kernel/realtime", F_OK) == 0;
}

/* The kernel, whether it is PREEMPT_RT and the CPU, so that a JSON file
 * alone can be compared with another run's (report.py records more). */
static inline void bench_json_machine(FILE *f)
{
	struct utsname u;
	char cpu[128];

	bench_cpu_model(cpu, sizeof(cpu));
	uname(&u);
	fprintf(f, "\"kernel\":\"%s\",\"preempt_rt\":%s,\"cpu_model\":\"%s\",\"ncpu\":%ld,", u.release,
		bench_preempt_rt() ? "true" : "false", cpu, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Opens a bench's JSON report and writes its name and the machine; NULL
 * (said on stderr) when the file cannot be created. */
static inline FILE *bench_json_open(const char *path, const char *bench)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return NULL;
	}
	fprintf(f, "{\"bench\":\"%s\",", bench);
	bench_json_machine(f);
	return f;
}

/* A histogram: percentiles and its non-empty buckets as [lower_ns, count]. */
static inline void bench_json_hist(FILE *f, const char *name, const struct qk_hist *h)
{
	const char *sep = "";

	fprintf(f, "\"%s\":{\"count\":%llu,\"min_ns\":%lld,\"avg_ns\":%lld,\"p50_ns\":%lld,"
		"\"p99_ns\":%lld,\"p999_ns\":%lld,\"max_ns\":%lld,\"histogram\":[", name,
		(unsigned long long)qk_load_relaxed(&h->count), (long long)qk_hist_min(h),
		(long long)qk_hist_mean(h),
		(long long)qk_hist_quantile(h, 0.5), (long long)qk_hist_quantile(h, 0.99),
		(long long)qk_hist_quantile(h, 0.999), (long long)qk_hist_max(h));
	for (uint32_t i = 0; i < QK_HIST_BUCKETS; i++) {
		uint64_t b = qk_load_relaxed(&h->bucket[i]);

		if (b) {
			fprintf(f, "%s[%lld,%llu]", sep, (long long)qk_hist_lower(i), (unsigned long long)b);
			sep = ",";
		}
	}
	fprintf(f, "]}");
}

#endif
