/*
 * proto/net.h - a non-blocking TCP listener from "[HOST:]PORT", shared by the
 * live servers of qiki-telemetry (the TCP stream, the Foxglove WebSocket).
 */
#ifndef QK_PROTO_NET_H
#define QK_PROTO_NET_H

#include <stddef.h>

/* Binds and listens on spec (HOST defaults to 127.0.0.1; PORT 0 takes any
 * free one).  Returns the socket and sets *port to the port bound, or
 * -errno with err naming the option (`opt`, e.g. "--listen") and the fix. */
int qk_net_listen(const char *spec, const char *opt, int *port, char *err, size_t n);

#endif
