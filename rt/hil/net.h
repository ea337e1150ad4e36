/*
 * rt/hil/net.h - addresses and sockets for the HIL programs (bridge, device,
 * relay).  Start-up only: not real-time safe (name resolution).
 */
#ifndef QK_RT_HIL_NET_H
#define QK_RT_HIL_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* "udp://HOST:PORT" (url) or "HOST:PORT" / ":PORT" into an IPv4 address;
 * HOST may be a name.  0, or -EINVAL with `why` naming what was wrong. */
int qk_hil_addr_parse(const char *s, bool url, struct sockaddr_in *out, char *why, size_t n);
/* "10.0.0.1:7700" */
const char *qk_hil_addr_str(const struct sockaddr_in *a, char *buf, size_t n);
bool qk_hil_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b);
/* A UDP socket bound to `bind` (port 0: any), with kernel receive time
 * stamps when `stamps`.  The fd, or -errno with `why`. */
int qk_hil_udp_open(const struct sockaddr_in *bind, bool stamps, char *why, size_t n);

#endif
