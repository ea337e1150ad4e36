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

int qk_hil_addr_parse(const char *s, bool url, struct sockaddr_in *out, char *why, size_t n)
{
	char host[256];
	const char *p = s, *colon;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *res;
	char *end;
	long port;

	if (url) {
		if (strncmp(s, "udp://", 6)) {
			snprintf(why, n, "'%s': expected udp://HOST:PORT", s);
			return -EINVAL;
		}
		p += 6;
	}
	colon = strrchr(p, ':');
	if (!colon || (size_t)(colon - p) >= sizeof(host)) {
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
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = 0;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (!host[0] || !strcmp(host, "*")) {
		out->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	int e = getaddrinfo(host, NULL, &hints, &res);

	if (e) {
		snprintf(why, n, "'%s': cannot resolve '%s': %s", s, host, gai_strerror(e));
		return -EINVAL;
	}
	out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	freeaddrinfo(res);
	return 0;
}

const char *qk_hil_addr_str(const struct sockaddr_in *a, char *buf, size_t n)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	return buf;
}

bool qk_hil_addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
	       a->sin_addr.s_addr == b->sin_addr.s_addr;
}

int qk_hil_udp_open(const struct sockaddr_in *bind_to, bool stamps, char *why, size_t n)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
	char a[64];

	if (fd < 0) {
		snprintf(why, n, "socket: %s", strerror(errno));
		return -errno;
	}
	if (stamps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one))) {
		int e = errno;

		snprintf(why, n, "SO_TIMESTAMPNS: %s", strerror(e));
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
