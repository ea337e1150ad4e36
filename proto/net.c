/* proto/net.c - TCP listeners for the live servers; see proto/net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/net.h"

int qk_net_listen(const char *spec, const char *opt, int *port, char *err, size_t n)
{
	char host[256] = "", service[16];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	int one = 1, r, fd;
	char *end;

	if (colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
		snprintf(service, sizeof(service), "%s", colon + 1);
	} else {
		snprintf(service, sizeof(service), "%s", spec);
	}
	long p = strtol(service, &end, 10);

	if (!service[0] || *end || p < 0 || p > 65535) {
		snprintf(err, n, "%s '%s': expected [HOST:]PORT with PORT 0..65535", opt, spec);
		return -EINVAL;
	}
	r = getaddrinfo(host[0] ? host : "127.0.0.1", service, &hints, &ai);
	if (r) {
		snprintf(err, n, "%s '%s': %s", opt, spec, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 8)) {
		r = -errno;
		snprintf(err, n, "%s '%s': %s%s", opt, spec, strerror(errno), errno == EADDRINUSE ?
			 ": another program holds that port; choose another, or 0 for any free one" : "");
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port :
		      ((struct sockaddr_in *)&sa)->sin_port);
	return fd;
}
