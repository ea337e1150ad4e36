/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/stream.h - the live telemetry stream: length-delimited messages (a
 * varint length, then the bytes) to every TCP client that keeps up.
 *
 * One thread owns a stream (qiki-telemetry's exporter).  Nothing here ever
 * waits: sockets are non-blocking, each client has a fixed output buffer,
 * and a message that does not fit a client's buffer is lost for that client
 * and counted.  A client that takes nothing for 5 s is dropped.  Not for the
 * real-time path (it makes syscalls); the loop never sees it.
 */
#ifndef QK_PROTO_STREAM_H
#define QK_PROTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qk_stream;

struct qk_stream_stats {
	uint64_t frames;		/* messages offered */
	uint64_t lost;			/* message copies a slow client lost */
	uint64_t clients;		/* accepted so far */
	uint64_t clients_dropped;	/* gone, or stalled for 5 s */
};

/* Listens on "[HOST:]PORT" (HOST defaults to 127.0.0.1, PORT 0 takes any
 * free one).  NULL on error, with err saying what was wrong and *ret the
 * -errno. */
struct qk_stream *qk_stream_listen(const char *spec, char *err, size_t n, int *ret);

/* Accepts new clients and sends what each has buffered; now in ns. */
void qk_stream_poll(struct qk_stream *s, int64_t now_ns);

bool qk_stream_has_clients(const struct qk_stream *s);

/* Queues one message of len bytes to every client with room for it. */
void qk_stream_send(struct qk_stream *s, const uint8_t *msg, size_t len);

int qk_stream_port(const struct qk_stream *s);
void qk_stream_get_stats(const struct qk_stream *s, struct qk_stream_stats *st);

/* Closes every client and the listener; NULL is fine. */
void qk_stream_close(struct qk_stream *s);

#endif
