/*
 * tools/rtlat/report.h - qiki-rtlat's reading of what the kernel side
 * collected: late wake-ups (their causal chain and cause) and the summary.
 *
 * Contract: one thread (qiki-rtlat's main); stdio; not for any hot path.
 * The tracer object is opaque to this file: rtlat.c hands over plain data.
 */
#ifndef QK_TOOLS_RTLAT_REPORT_H
#define QK_TOOLS_RTLAT_REPORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/rtlat/rtlat.h"

#define RTLAT_MAX_CAUSES 64
#define RTLAT_MAX_OFFENDERS 256

struct rtlat_loop_thread {
	int tid, pid;
	char comm[RTLAT_COMM_LEN];
	const char *proc;		/* "sim", "agent" */
	int policy, prio, cpu;		/* cpu: -1 when not pinned to one */
};

/* A late wake-up's cause: what took most of its wait. */
struct rtlat_cause {
	struct rtlat_key key;
	char name[48];
	uint64_t count;
	uint64_t max_lat_ns, max_stolen_ns;
};

struct rtlat_prog_cost {
	const char *name;
	uint64_t run_cnt, run_time_ns;
};

struct rtlat_report {
	FILE *out;
	bool json, print_chains;
	const char *instance;
	uint64_t late_ns;
	double seconds;
	uint64_t cycles;		/* the sim's cycles while traced */
	int n_threads;
	struct rtlat_loop_thread thread[RTLAT_MAX_THREADS];
	struct rtlat_thread stats[RTLAT_MAX_THREADS];
	int n_off;
	struct rtlat_key off_key[RTLAT_MAX_OFFENDERS];
	struct rtlat_offender off[RTLAT_MAX_OFFENDERS];
	uint64_t late_total, late_dropped;
	int n_causes;
	struct rtlat_cause cause[RTLAT_MAX_CAUSES];
	int n_progs;
	struct rtlat_prog_cost prog[16];
	const char *lost[8];		/* tracepoints this kernel lacks, and what is lost */
	int n_lost;
};

/* Takes one late wake-up: finds its cause and prints its chain when asked. */
void rtlat_report_late(struct rtlat_report *r, const struct rtlat_late *e);
/* The exit summary (text or JSON) on r->out. */
void rtlat_report_summary(struct rtlat_report *r);
/* "3 late cycles: 2x irq/24-virtio0 (max 310 us), ..." into b. */
void rtlat_report_verdict(const struct rtlat_report *r, char *b, size_t n);
/* A printable name for an offender: comm/pid, irq/N-name, softirq/NAME. */
void rtlat_name(const struct rtlat_key *k, const char *name, char *b, size_t n);

#endif
