/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/ws.h - a live view for Foxglove Studio: a WebSocket server (RFC 6455)
 * speaking the Foxglove WebSocket protocol, subprotocol foxglove.websocket.v1.
 *
 * A client connects, gets serverInfo and an advertise of every channel (the
 * same topics and protobuf schemas as the MCAP file: each schema is the
 * base64 FileDescriptorSet), subscribes to the channels it wants, and then
 * receives each message as a binary Message Data frame (opcode 1,
 * subscription id, timestamp in ns, the protobuf bytes).
 *
 * Contract: one thread owns a server (qiki-telemetry's exporter).  Nothing
 * here waits: sockets are non-blocking, each client has a fixed output
 * buffer allocated when it connects, and a message that does not fit is lost
 * for that client and counted, as on the TCP stream; a client that takes
 * nothing for 5 s, or breaks the protocol, is dropped.  Not for the loop.
 */
#ifndef QK_PROTO_WS_H
#define QK_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QK_WS_MAX_CHANNELS 16

struct qk_ws_channel {
	const char *topic;		/* "/fsm/transitions" */
	const char *schema_name;	/* "qiki.v1.StateTransition" */
	const uint8_t *schema;		/* a FileDescriptorSet that defines it */
	size_t schema_len;
};

struct qk_ws_stats {
	uint64_t clients;		/* handshakes completed */
	uint64_t clients_dropped;	/* gone, stalled, or broke the protocol */
	uint64_t messages;		/* message copies queued to subscribers */
	uint64_t lost;			/* copies a slow client lost */
};

struct qk_ws;

/* Listens on "[HOST:]PORT" (HOST defaults to 127.0.0.1; PORT 0 takes a free
 * one) and will advertise `n` channels, ids 1..n in this order (the strings
 * and schemas must outlive the server).  NULL with err and *ret = -errno. */
struct qk_ws *qk_ws_listen(const char *spec, const char *name, const struct qk_ws_channel *ch,
			   unsigned n, char *err, size_t errn, int *ret);

/* Accepts clients, completes handshakes, reads their requests and sends
 * what is buffered.  now_ns: CLOCK_MONOTONIC. */
void qk_ws_poll(struct qk_ws *w, int64_t now_ns);

/* Whether any client subscribes to channel index c (0..n-1): a caller may
 * skip packing a message nobody wants. */
bool qk_ws_wanted(const struct qk_ws *w, unsigned c);

/* Queues one message of channel index c, stamped t_ns, to its subscribers. */
void qk_ws_send(struct qk_ws *w, unsigned c, uint64_t t_ns, const uint8_t *msg, size_t len);

/* The server stops serving: every client gets a status message of `level`
 * (0 info, 1 warning, 2 error) saying `msg`, then a close frame (1011, the
 * server cannot go on), sent as far as its socket takes them now; nothing
 * waits.  Clients are closed by qk_ws_close(). */
void qk_ws_goodbye(struct qk_ws *w, int level, const char *msg, int64_t now_ns);

int qk_ws_port(const struct qk_ws *w);
void qk_ws_get_stats(const struct qk_ws *w, struct qk_ws_stats *s);

/* Closes every client and the listener; NULL is fine. */
void qk_ws_close(struct qk_ws *w);

#endif
