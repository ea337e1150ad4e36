/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * examples/reader/reader.c - attaches to a running qiki instance through
 * libqiki and prints its sensor frames as they come, without disturbing it
 * (readers never slow the producer: one that falls behind loses frames).
 *   reader INSTANCE [COUNT]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <shm/seg.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	struct qk_seg seg;
	struct qk_ring_reader rd;
	struct qk_sensor_frame f;
	long count = argc > 2 ? atol(argv[2]) : -1, n = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s INSTANCE [COUNT]\n", argv[0]);
		return 1;
	}
	if (qk_seg_attach(&seg, argv[1], 0)) {
		fprintf(stderr, "reader: %s\n", seg.err);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	qk_ring_reader_init(&rd, seg.sensors, QK_RING_FROM_NOW);
	printf("%10s %10s %10s %10s %9s %8s %6s\n", "cycle", "x_m", "y_m", "z_m", "tank_bar",
	       "batt_v", "lost");
	while (!stop && (count < 0 || n < count) && qk_seg_state(&seg) != QK_SEG_SHUTTING_DOWN) {
		if (!qk_ring_read_next(&rd, &f)) {
			/* the sim wakes futex waiters only in futex (and lockstep)
			 * mode; in timer or spin mode this is a 100 ms poll and the
			 * frames come in bursts, none lost */
			qk_ring_wait(seg.sensors, rd.next, 100 * 1000000ll);
			continue;
		}
		printf("%10llu %10.4f %10.4f %10.4f %9.3f %8.3f %6llu\n",
		       (unsigned long long)f.cycle, f.pos_m[0], f.pos_m[1], f.pos_m[2], f.tank_bar,
		       f.batt_v, (unsigned long long)rd.lost);
		n++;
	}
	qk_seg_detach(&seg);
	return 0;
}
