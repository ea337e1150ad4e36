/*
 * ctl/trace.h - `qiki run --trace`: qiki-rtlat beside the loop.
 *
 * Contract: the launcher's main thread only; not real-time safe (it spawns a
 * process and reads a file).  The tracer finds the loop's threads itself,
 * moves itself off their CPU before it loads anything, and writes its report
 * to a file; the launcher takes the verdict line from it for its summary.
 * The tracer failing never stops the loop: the verdict then says why.
 */
#ifndef QK_CTL_TRACE_H
#define QK_CTL_TRACE_H

#include <stddef.h>

struct qk_trace;

/* Starts <bindir>/qiki-rtlat on `instance`, its report into `report`.
 * NULL when it cannot be started (why says so). */
struct qk_trace *qk_trace_start(const char *bindir, const char *instance, const char *report,
				char *why, size_t n);

/* Stops it (SIGINT, then SIGKILL after 5 s), frees it, and puts its verdict
 * ("3 late cycles: 2x irq/24-virtio0 (max 310 us), ...") or what went wrong
 * into `verdict`.  0 with a verdict, -errno otherwise.  Accepts NULL. */
int qk_trace_stop(struct qk_trace *t, char *verdict, size_t n);

#endif
