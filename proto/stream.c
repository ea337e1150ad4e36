/* proto/stream.c - the live telemetry stream; see proto/stream.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/net.h"
#include "proto/stream.h"

#define MAX_CLIENTS 8
#define CLIENT_BUF (512 * 1024)
#define CLIENT_STALL_NS (5 * 1000000000ll)

struct client {
	int fd;
	uint8_t *buf;
	size_t len;
	int64_t last_progress_ns;
	uint64_t lost;
};

struct qk_stream {
	int lfd, port;
	struct client cl[MAX_CLIENTS];
	struct qk_stream_stats s;
};

static void drop_client(struct qk_stream *s, struct client *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	s->s.clients_dropped++;
}

static void flush_client(struct qk_stream *s, struct client *c, int64_t now)
{
	while (c->len) {
		ssize_t w = send(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			drop_client(s, c);	/* gone */
			return;
		}
		memmove(c->buf, c->buf + w, c->len - (size_t)w);
		c->len -= (size_t)w;
		c->last_progress_ns = now;
	}
	if (!c->len)
		c->last_progress_ns = now;
	else if (now - c->last_progress_ns > CLIENT_STALL_NS)
		drop_client(s, c);	/* took nothing for 5 s: it is not reading */
}

static void accept_clients(struct qk_stream *s, int64_t now)
{
	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;
		int one = 1;

		if (fd < 0)
			return;
		for (i = 0; i < MAX_CLIENTS && s->cl[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS || !(s->cl[i].buf = malloc(CLIENT_BUF))) {
			close(fd);	/* full house */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s->cl[i].fd = fd;
		s->cl[i].len = 0;
		s->cl[i].lost = 0;
		s->cl[i].last_progress_ns = now;
		s->s.clients++;
	}
}

void qk_stream_poll(struct qk_stream *s, int64_t now)
{
	accept_clients(s, now);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			flush_client(s, &s->cl[i], now);
}

bool qk_stream_has_clients(const struct qk_stream *s)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			return true;
	return false;
}

void qk_stream_send(struct qk_stream *s, const uint8_t *msg, size_t len)
{
	uint8_t hdr[10];
	size_t h = 0, v;

	for (v = len; v >= 0x80; v >>= 7)
		hdr[h++] = (uint8_t)(v | 0x80);
	hdr[h++] = (uint8_t)v;
	s->s.frames++;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &s->cl[i];

		if (c->fd < 0)
			continue;
		if (c->len + h + len > CLIENT_BUF) {
			c->lost++;	/* slow client: it loses frames, we never wait */
			s->s.lost++;
			continue;
		}
		memcpy(c->buf + c->len, hdr, h);
		memcpy(c->buf + c->len + h, msg, len);
		c->len += h + len;
	}
}

struct qk_stream *qk_stream_listen(const char *spec, char *err, size_t n, int *ret)
{
	struct qk_stream *s = calloc(1, sizeof(*s));

	if (!s) {
		*ret = -ENOMEM;
		snprintf(err, n, "out of memory");
		return NULL;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	s->lfd = qk_net_listen(spec, "--listen", &s->port, err, n);
	if (s->lfd < 0) {
		*ret = s->lfd;
		free(s);
		return NULL;
	}
	*ret = 0;
	return s;
}

int qk_stream_port(const struct qk_stream *s)
{
	return s->port;
}

void qk_stream_get_stats(const struct qk_stream *s, struct qk_stream_stats *st)
{
	*st = s->s;
}

void qk_stream_close(struct qk_stream *s)
{
	if (!s)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0) {
			close(s->cl[i].fd);
			free(s->cl[i].buf);
		}
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
}
