/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/export.h - qiki-telemetry's exporter: an ordinary reader of a
 * running instance that turns its frames and mailboxes into protobuf
 * messages (proto/qiki/v1/telemetry.proto, foxglove.*), written to an MCAP
 * file, served as a length-delimited TelemetryFrame stream over TCP, and
 * served live to Foxglove Studio over its WebSocket protocol (proto/ws.h).
 *
 * Contract: one thread; not real-time, and nothing it does reaches the
 * loop: it only reads the rings (a reader the producer laps loses frames,
 * counted exactly) and the mailboxes, and never waits on the rings' futexes
 * (the sim would then make a wake syscall every cycle).  Call
 * qk_export_poll() often enough that the rings (1024 frames) do not lap it:
 * every millisecond keeps up with 10 kHz.
 *
 * The segment is untrusted input (shm/seg.h): each pass first checks it
 * (its size, then qk_seg_verify()), reads at most a bounded number of
 * frames, and copies nothing it has not bounded.  When the segment turns
 * out overwritten or truncated, the exporter stops reading it for good,
 * logs why on /log (the file and live clients), tells the Foxglove clients
 * with an error status and closes them; the file is then finished as
 * usual by qk_export_close(), readable to its end.
 *
 * Buffers: protobuf messages are packed into one reused buffer, the MCAP
 * writer reuses its chunk buffers, TCP clients have fixed output buffers;
 * a client whose buffer is full loses frames (counted), one that takes
 * nothing for 5 s is dropped.
 */
#ifndef QK_PROTO_EXPORT_H
#define QK_PROTO_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qk_export_opts {
	const char *instance;
	const char *mcap_path;		/* NULL: no file */
	const char *listen;		/* "[HOST:]PORT", NULL: no stream */
	const char *foxglove;		/* "[HOST:]PORT", NULL: no WebSocket server */
	uint32_t rate_hz;		/* export rate; 0: every cycle */
	bool zstd;
	size_t chunk_bytes;
};

struct qk_export_stats {
	uint64_t cycles_seen;		/* sensor frames read */
	uint64_t exported;		/* cycles exported (after decimation) */
	uint64_t lost_sensor, lost_actuator;	/* frames the rings lapped us on */
	uint64_t messages;		/* MCAP messages written */
	uint64_t bytes;			/* MCAP bytes written */
	uint64_t stream_frames, stream_lost, clients, clients_dropped;
	uint64_t ws_clients, ws_messages, ws_lost;	/* the Foxglove server */
	uint64_t transitions;
	int64_t cpu_ns;			/* the exporter's CPU time in qk_export_poll() */
};

struct qk_export;

/* Attaches, opens the file and the listening socket.  NULL with `err` (and
 * *code: 2 the instance is missing or incompatible, 1 otherwise). */
struct qk_export *qk_export_open(const struct qk_export_opts *o, char *err, size_t n, int *code);
/* One pass: everything new in the rings and mailboxes.  Returns 0, 1 when
 * the loop has shut down (finish), -EPROTO when the segment was overwritten
 * or truncated (err names the region; the exporter has stopped reading it),
 * or another -errno when the file failed (err). */
int qk_export_poll(struct qk_export *e, char *err, size_t n);
/* The caller caught SIGBUS on the segment (it was truncated while we read
 * it): stop reading it, as poll does on -EPROTO, with `why` as the reason.
 * Touches nothing in the segment. */
void qk_export_segment_lost(struct qk_export *e, const char *why);
/* Finishes the file.  0, or -errno with err. */
int qk_export_close(struct qk_export *e, char *err, size_t n);
void qk_export_get_stats(const struct qk_export *e, struct qk_export_stats *s);
/* The port actually bound (for --listen 0). */
int qk_export_port(const struct qk_export *e);
/* The Foxglove server's port, or -1 without one. */
int qk_export_ws_port(const struct qk_export *e);

#endif
