/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/hil/net.c - addresses and sockets for the HIL programs; see rt/hil/net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt/hil/net.h"

/* A name's address: IPv4 first (a name with both is most often meant that
 * way on a bench), v4-mapped; else IPv6.  In brackets: an IPv6 literal only,
 * never a name to look up. */
static int resolve(const char *host, bool bracketed, struct sockaddr_in6 *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	int e = EAI_NONAME;

	hints.ai_family = AF_INET;
	if (!bracketed && !(e = getaddrinfo(host, NULL, &hints, &res))) {
		struct in_addr v4 = ((struct sockaddr_in *)res->ai_addr)->sin_addr;

		freeaddrinfo(res);
		memset(out->sin6_addr.s6_addr, 0, 10);
		memset(out->sin6_addr.s6_addr + 10, 0xff, 2);
		memcpy(out->sin6_addr.s6_addr + 12, &v4, 4);
		return 0;
	}
	hints.ai_family = AF_INET6;
	hints.ai_flags = bracketed ? AI_NUMERICHOST : 0;
	if (!(e = getaddrinfo(host, NULL, &hints, &res))) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)res->ai_addr;

		out->sin6_addr = a->sin6_addr;
		out->sin6_scope_id = a->sin6_scope_id;
		freeaddrinfo(res);
	}
	return e;
}

int qk_hil_addr_parse(const char *s, bool url, struct sockaddr_in6 *out, char *why, size_t n)
{
	char host[256];
	const char *p = s, *colon, *h0, *h1;
	char *end;
	long port;

	if (url) {
		if (strncmp(s, "udp://", 6)) {
			snprintf(why, n, "'%s': expected udp://HOST:PORT", s);
			return -EINVAL;
		}
		p += 6;
	}
	if (*p == '[') {	/* an IPv6 address: [ADDR]:PORT */
		h0 = p + 1;
		h1 = strchr(h0, ']');
		colon = h1 && h1[1] == ':' ? h1 + 1 : NULL;
		if (!colon) {
			snprintf(why, n, "'%s': expected %s[IPV6]:PORT", s, url ? "udp://" : "");
			return -EINVAL;
		}
	} else {
		colon = strrchr(p, ':');
		h0 = p;
		h1 = colon;
		if (colon && memchr(p, ':', (size_t)(colon - p))) {
			snprintf(why, n, "'%s': an IPv6 address goes in brackets: %s[ADDR]:PORT", s,
				 url ? "udp://" : "");
			return -EINVAL;
		}
	}
	if (!colon || (size_t)(h1 - h0) >= sizeof(host)) {
		snprintf(why, n, "'%s': expected %sHOST:PORT", s, url ? "udp://" : "");
		return -EINVAL;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535 || (url && !port)) {
		snprintf(why, n, "'%s': port '%s' is not %s", s, colon + 1,
			 url ? "a port 1..65535" : "a port 0..65535");
		return -EINVAL;
	}
	memcpy(host, h0, (size_t)(h1 - h0));
	host[h1 - h0] = 0;
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = htons((uint16_t)port);
	if (!host[0] || !strcmp(host, "*"))
		return 0;	/* in6addr_any: every address of both families */
	int e = resolve(host, *p == '[', out);

	if (e) {
		snprintf(why, n, "'%s': cannot resolve '%s': %s", s, host, gai_strerror(e));
		return -EINVAL;
	}
	return 0;
}

const char *qk_hil_addr_str(const struct sockaddr_in6 *a, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
		inet_ntop(AF_INET, a->sin6_addr.s6_addr + 12, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a->sin6_port));
	} else {
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	}
	return buf;
}

bool qk_hil_addr_eq(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b)
{
	return a->sin6_family == b->sin6_family && a->sin6_port == b->sin6_port &&
	       !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) &&
	       (!IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || a->sin6_scope_id == b->sin6_scope_id);
}

int qk_hil_udp_open(const struct sockaddr_in6 *bind_to, bool stamps, char *why, size_t n)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;
	char a[80];

	if (fd < 0) {
		snprintf(why, n, "socket: %s%s", strerror(errno), errno == EAFNOSUPPORT ?
			 " (the HIL programs need IPv6 in the kernel, for IPv4 too: dual-stack)" : "");
		return -errno;
	}
	/* both families on one socket, whatever net.ipv6.bindv6only says */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    (stamps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)))) {
		int e = errno;

		snprintf(why, n, "%s: %s", stamps ? "IPV6_V6ONLY / SO_TIMESTAMPNS" : "IPV6_V6ONLY",
			 strerror(e));
		close(fd);
		return -e;
	}
	if (bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to))) {
		int e = errno;

		snprintf(why, n, "cannot bind %s: %s%s", qk_hil_addr_str(bind_to, a, sizeof(a)),
			 strerror(e), e == EADDRINUSE ? " (another process has it; pick another port)" :
			 e == EADDRNOTAVAIL ? " (no interface has that address)" : "");
		close(fd);
		return -e;
	}
	return fd;
}
