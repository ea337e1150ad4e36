/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/hil/net.h - addresses and sockets for the HIL programs (bridge, device,
 * relay).  Start-up only: not real-time safe (name resolution).
 */
#ifndef QK_RT_HIL_NET_H
#define QK_RT_HIL_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Addresses are IPv6 socket addresses, IPv4 ones as v4-mapped (::ffff:a.b.c.d),
 * and sockets are dual-stack: one code path for both families. */

/* "udp://HOST:PORT" (url) or "HOST:PORT" / ":PORT"; HOST is an IPv4 address,
 * an IPv6 address in brackets ("[::1]:7700", "[fe80::1%eth0]:7700") or a name
 * (IPv4 first).  0, or -EINVAL with `why` naming what was wrong. */
int qk_hil_addr_parse(const char *s, bool url, struct sockaddr_in6 *out, char *why, size_t n);
/* "10.0.0.1:7700" or "[::1]:7700" */
const char *qk_hil_addr_str(const struct sockaddr_in6 *a, char *buf, size_t n);
bool qk_hil_addr_eq(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b);
/* A dual-stack UDP socket bound to `bind` (port 0: any), with kernel receive
 * time stamps when `stamps`.  The fd, or -errno with `why`. */
int qk_hil_udp_open(const struct sockaddr_in6 *bind, bool stamps, char *why, size_t n);

#endif
