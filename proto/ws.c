/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * proto/ws.c - the Foxglove WebSocket server; see proto/ws.h.
 *
 * Only what the Foxglove protocol needs of RFC 6455: the HTTP upgrade with
 * the foxglove.websocket.v1 subprotocol, unfragmented text frames in both
 * directions, binary frames out, ping, pong and close.  Client frames must
 * be masked and at most IN_MAX bytes; anything else drops the client.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/net.h"
#include "proto/ws.h"

#define MAX_CLIENTS 8
#define IN_MAX (16 * 1024)		/* a request, or one client frame */
#define OUT_MAX (2 * 1024 * 1024)	/* per client; advertise is ~150 kB */
#define STALL_NS (5 * 1000000000ll)
#define SUBPROTOCOL "foxglove.websocket.v1"

enum { OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

struct client {
	int fd;
	bool open;			/* handshake done */
	uint8_t in[IN_MAX];
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	int64_t last_progress_ns;
	int64_t sub[QK_WS_MAX_CHANNELS];	/* subscription id per channel, -1 none */
};

struct qk_ws {
	int lfd, port;
	const char *name;
	const struct qk_ws_channel *ch;
	unsigned n;
	struct client cl[MAX_CLIENTS];
	unsigned wanted[QK_WS_MAX_CHANNELS];	/* subscribers per channel */
	struct qk_ws_stats s;
};

/* ---- SHA-1 and base64, for the handshake and the schemas ------------------ */

static uint32_t rol(uint32_t x, int k)
{
	return x << k | x >> (32 - k);
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		t = rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = rol(b, 30), b = a, a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* The digest of a short message (the handshake key: under 119 bytes). */
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	uint8_t blk[128] = { 0 };
	size_t nb = len + 9 <= 64 ? 64 : 128;

	memcpy(blk, msg, len);
	blk[len] = 0x80;
	for (int i = 0; i < 8; i++)
		blk[nb - 1 - i] = (uint8_t)((uint64_t)len * 8 >> (8 * i));
	for (size_t o = 0; o < nb; o += 64)
		sha1_block(h, blk + o);
	for (int i = 0; i < 20; i++)
		out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static size_t base64(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

/* ---- output ------------------------------------------------------------------- */

static void drop(struct qk_ws *w, struct client *c)
{
	for (unsigned i = 0; i < w->n; i++)
		if (c->sub[i] >= 0)
			w->wanted[i]--;
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	w->s.clients_dropped++;
}

/* One frame, whole or not at all: a frame cut short would break the stream. */
static bool frame(struct client *c, int op, const void *hdr, size_t hn, const void *p, size_t n)
{
	uint8_t h[10];
	size_t hl = 0, len = hn + n;

	h[hl++] = (uint8_t)(0x80 | op);
	if (len < 126) {
		h[hl++] = (uint8_t)len;
	} else if (len < 65536) {
		h[hl++] = 126;
		h[hl++] = (uint8_t)(len >> 8);
		h[hl++] = (uint8_t)len;
	} else {
		h[hl++] = 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (c->out_len + hl + len > OUT_MAX)
		return false;
	memcpy(c->out + c->out_len, h, hl);
	memcpy(c->out + c->out_len + hl, hdr, hn);
	memcpy(c->out + c->out_len + hl + hn, p, n);
	c->out_len += hl + len;
	return true;
}

static bool text(struct client *c, const char *s)
{
	return frame(c, OP_TEXT, NULL, 0, s, strlen(s));
}

static void status(struct client *c, int level, const char *msg)
{
	char buf[640];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "{\"op\":\"status\",\"level\":%d,\"message\":\"",
				    level);

	/* a JSON string: quotes and backslashes escaped, control bytes dropped */
	for (; *msg && n + 8 < sizeof(buf); msg++) {
		if (*msg == '"' || *msg == '\\')
			buf[n++] = '\\';
		if ((unsigned char)*msg >= 0x20)
			buf[n++] = *msg;
	}
	snprintf(buf + n, sizeof(buf) - n, "\"}");
	text(c, buf);
}

static void flush(struct qk_ws *w, struct client *c, int64_t now)
{
	while (c->out_len) {
		ssize_t k = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (k <= 0) {
			drop(w, c);
			return;
		}
		memmove(c->out, c->out + k, c->out_len - (size_t)k);
		c->out_len -= (size_t)k;
		c->last_progress_ns = now;
	}
	if (!c->out_len)
		c->last_progress_ns = now;
	else if (now - c->last_progress_ns > STALL_NS)
		drop(w, c);
}

/* serverInfo, then every channel with its schema. */
static bool greet(struct qk_ws *w, struct client *c)
{
	size_t cap = 1024, len;
	char *buf;
	bool ok;

	for (unsigned i = 0; i < w->n; i++)
		cap += 256 + strlen(w->ch[i].topic) + strlen(w->ch[i].schema_name) +
		       (w->ch[i].schema_len + 2) / 3 * 4;
	if (!(buf = malloc(cap)))
		return false;
	snprintf(buf, cap, "{\"op\":\"serverInfo\",\"name\":\"%s\",\"capabilities\":[],"
		 "\"metadata\":{}}", w->name);
	if (!text(c, buf)) {
		free(buf);
		return false;
	}
	len = (size_t)snprintf(buf, cap, "{\"op\":\"advertise\",\"channels\":[");
	for (unsigned i = 0; i < w->n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "%s{\"id\":%u,\"topic\":\"%s\","
					"\"encoding\":\"protobuf\",\"schemaName\":\"%s\","
					"\"schemaEncoding\":\"protobuf\",\"schema\":\"",
					i ? "," : "", i + 1, w->ch[i].topic, w->ch[i].schema_name);
		len += base64(w->ch[i].schema, w->ch[i].schema_len, buf + len);
		len += (size_t)snprintf(buf + len, cap - len, "\"}");
	}
	snprintf(buf + len, cap - len, "]}");
	ok = text(c, buf);
	free(buf);
	return ok;
}

/* ---- requests ------------------------------------------------------------------ */

/* A tolerant reader of the few JSON shapes the client sends: it walks any
 * value, and picks out "op", each object's "id" and "channelId" (a
 * subscription), and the numbers of "subscriptionIds". */
#define REQ_MAX 64

struct req {
	char op[32];
	int64_t sid[REQ_MAX], chan[REQ_MAX];	/* subscriptions */
	unsigned n;
	int64_t unsub[REQ_MAX];
	unsigned nu;
	int64_t cur_id, cur_chan;		/* of the object being read */
};

static const char *ws_skip(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *string(const char *p, const char *e, char *out, size_t n)
{
	size_t o = 0;

	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e && *p != '"'; p++) {
		if (*p == '\\' && ++p >= e)
			return NULL;
		if (out && o + 1 < n)
			out[o++] = *p;
	}
	if (out)
		out[o] = 0;
	return p < e ? p + 1 : NULL;
}

static const char *number(const char *p, const char *e, int64_t *v)
{
	char buf[32], *end;
	size_t o = 0;
	double d;

	while (p < e && o + 1 < sizeof(buf) && strchr("+-0123456789.eE", *p))
		buf[o++] = *p++;
	buf[o] = 0;
	d = strtod(buf, &end);
	if (!o || *end)
		return NULL;
	*v = d >= 0 && d < 4294967296.0 ? (int64_t)d : -1;	/* ids are uint32 */
	return p;
}

/* One value of member `key` (an array passes its key to its elements). */
static const char *value(const char *p, const char *e, struct req *r, const char *key, int depth)
{
	p = ws_skip(p, e);
	if (p >= e || depth > 8)
		return NULL;
	if (*p == '{' || *p == '[') {
		bool obj = *p == '{';
		char close = obj ? '}' : ']', k[32] = "";
		int64_t id = r->cur_id, chan = r->cur_chan;

		if (obj)
			r->cur_id = r->cur_chan = -1;
		p = ws_skip(p + 1, e);
		while (p < e && *p != close) {
			if (obj) {
				if (!(p = string(p, e, k, sizeof(k))))
					return NULL;
				p = ws_skip(p, e);
				if (p >= e || *p++ != ':')
					return NULL;
			}
			if (!(p = value(p, e, r, obj ? k : key, depth + 1)))
				return NULL;
			p = ws_skip(p, e);
			if (p < e && *p == ',')
				p = ws_skip(p + 1, e);
			else if (p >= e || *p != close)
				return NULL;
		}
		if (p >= e)
			return NULL;
		if (obj && r->cur_id >= 0 && r->cur_chan >= 0 && r->n < REQ_MAX) {
			r->sid[r->n] = r->cur_id;
			r->chan[r->n++] = r->cur_chan;
		}
		if (obj)
			r->cur_id = id, r->cur_chan = chan;
		return p + 1;
	}
	if (*p == '"')
		return string(p, e, key && !strcmp(key, "op") ? r->op : NULL, sizeof(r->op));
	if (e - p >= 4 && (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)))
		return p + 4;
	if (e - p >= 5 && !strncmp(p, "false", 5))
		return p + 5;
	int64_t v;

	if (!(p = number(p, e, &v)))
		return NULL;
	if (key && !strcmp(key, "id"))
		r->cur_id = v;
	else if (key && !strcmp(key, "channelId"))
		r->cur_chan = v;
	else if (key && !strcmp(key, "subscriptionIds") && r->nu < REQ_MAX)
		r->unsub[r->nu++] = v;
	return p;
}

static void request(struct qk_ws *w, struct client *c, const char *p, size_t len)
{
	struct req r = { .cur_id = -1, .cur_chan = -1 };

	if (!value(p, p + len, &r, NULL, 0)) {
		status(c, 2, "malformed JSON request");
		return;
	}
	if (!strcmp(r.op, "subscribe")) {
		for (unsigned i = 0; i < r.n; i++) {
			int64_t ch = r.chan[i] - 1;

			if (ch < 0 || ch >= (int64_t)w->n) {
				status(c, 1, "subscribe: no such channel");
				continue;
			}
			if (c->sub[ch] < 0)
				w->wanted[ch]++;
			c->sub[ch] = r.sid[i];
		}
	} else if (!strcmp(r.op, "unsubscribe")) {
		for (unsigned i = 0; i < r.nu; i++)
			for (unsigned ch = 0; ch < w->n; ch++)
				if (r.unsub[i] >= 0 && c->sub[ch] == r.unsub[i]) {
					c->sub[ch] = -1;
					w->wanted[ch]--;
				}
	} else {
		status(c, 1, "unsupported op: this server only publishes");
	}
}

/* The HTTP upgrade: 1 done, 0 wait for more, -1 refuse. */
static int handshake(struct qk_ws *w, struct client *c)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char *req = (char *)c->in, *end, *line, *save, key[64] = "", reply[256], acc[32];
	bool proto = false, upgrade = false;
	uint8_t dig[20], cat[128];

	if (!(end = memmem(c->in, c->in_len, "\r\n\r\n", 4)))
		return c->in_len == IN_MAX ? -1 : 0;
	*end = 0;
	for (line = strtok_r(req, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		char *v = strchr(line, ':');

		if (!v)
			continue;
		*v++ = 0;
		v += strspn(v, " \t");
		if (!strcasecmp(line, "Sec-WebSocket-Key"))
			snprintf(key, sizeof(key), "%s", v);
		else if (!strcasecmp(line, "Sec-WebSocket-Protocol"))
			proto = strstr(v, SUBPROTOCOL) != NULL;
		else if (!strcasecmp(line, "Upgrade"))
			upgrade = !strcasecmp(v, "websocket");
	}
	if (!upgrade || !key[0] || strlen(key) > 60) {
		static const char body[] = "qiki-telemetry: a Foxglove WebSocket server; "
					   "connect with ws:// and subprotocol " SUBPROTOCOL "\n";

		c->out_len = (size_t)snprintf((char *)c->out, OUT_MAX, "HTTP/1.1 400 Bad Request\r\n"
					      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
					      sizeof(body) - 1, body);
		return -1;
	}
	size_t kl = strlen(key);

	memcpy(cat, key, kl);
	memcpy(cat + kl, guid, sizeof(guid) - 1);
	sha1(cat, kl + sizeof(guid) - 1, dig);
	base64(dig, 20, acc);
	c->out_len = (size_t)snprintf(reply, sizeof(reply),
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: %s\r\n%s\r\n", acc,
		proto ? "Sec-WebSocket-Protocol: " SUBPROTOCOL "\r\n" : "");
	memcpy(c->out, reply, c->out_len);
	size_t used = (size_t)(end + 4 - (char *)c->in);

	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	c->open = true;
	if (!proto) {	/* the protocol says so: refuse a client without ours */
		frame(c, OP_CLOSE, NULL, 0, "\x03\xeano " SUBPROTOCOL, 2 + 3 + strlen(SUBPROTOCOL));
		return -1;
	}
	w->s.clients++;
	return greet(w, c) ? 1 : -1;
}

/* The frames read so far: false when the client must go. */
static bool frames(struct qk_ws *w, struct client *c)
{
	for (;;) {
		uint8_t *p = c->in;
		size_t have = c->in_len, hl = 2;
		uint64_t len;

		if (have < 2)
			return true;
		if (!(p[0] & 0x80) || !(p[1] & 0x80) || (p[0] & 0x0f) == 0)
			return false;	/* fragmented, unmasked, or a continuation */
		len = p[1] & 0x7f;
		if (len == 126) {
			if (have < 4)
				return true;
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			return false;	/* nothing we take is that long */
		}
		if (len > IN_MAX - hl - 4)
			return false;
		if (have < hl + 4 + len)
			return true;
		uint8_t *m = p + hl, *d = p + hl + 4;

		for (uint64_t i = 0; i < len; i++)
			d[i] ^= m[i % 4];
		switch (p[0] & 0x0f) {
		case OP_TEXT:
			request(w, c, (const char *)d, len);
			break;
		case OP_PING:
			frame(c, OP_PONG, NULL, 0, d, len);
			break;
		case OP_CLOSE:
			frame(c, OP_CLOSE, NULL, 0, d, len < 2 ? len : 2);
			return false;
		default:	/* binary, pong: nothing we act on */
			break;
		}
		memmove(c->in, c->in + hl + 4 + len, have - hl - 4 - len);
		c->in_len -= hl + 4 + len;
	}
}

static void receive(struct qk_ws *w, struct client *c, int64_t now)
{
	for (;;) {
		ssize_t k = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, MSG_DONTWAIT);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (k <= 0) {
			drop(w, c);
			return;
		}
		c->in_len += (size_t)k;
		c->last_progress_ns = now;
		int h = c->open ? 1 : handshake(w, c);

		if (h < 0 || (h > 0 && !frames(w, c))) {
			flush(w, c, now);	/* the refusal or the close goes out first */
			if (c->fd >= 0)
				drop(w, c);
			return;
		}
		if (c->in_len == IN_MAX) {
			drop(w, c);
			return;
		}
	}
}

void qk_ws_poll(struct qk_ws *w, int64_t now)
{
	for (;;) {
		int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i, one = 1;

		if (fd < 0)
			break;
		for (i = 0; i < MAX_CLIENTS && w->cl[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS || !(w->cl[i].out = malloc(OUT_MAX))) {
			close(fd);	/* full house */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		w->cl[i].fd = fd;
		w->cl[i].last_progress_ns = now;
		for (unsigned ch = 0; ch < QK_WS_MAX_CHANNELS; ch++)
			w->cl[i].sub[ch] = -1;
	}
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->cl[i];

		if (c->fd >= 0)
			receive(w, c, now);
		if (c->fd >= 0)
			flush(w, c, now);
	}
}

bool qk_ws_wanted(const struct qk_ws *w, unsigned c)
{
	return c < w->n && w->wanted[c] > 0;
}

void qk_ws_send(struct qk_ws *w, unsigned ch, uint64_t t_ns, const uint8_t *msg, size_t len)
{
	uint8_t hdr[13];

	if (!qk_ws_wanted(w, ch))
		return;
	hdr[0] = 1;	/* Message Data */
	for (int i = 0; i < 8; i++)
		hdr[5 + i] = (uint8_t)(t_ns >> (8 * i));
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->cl[i];

		if (c->fd < 0 || !c->open || c->sub[ch] < 0)
			continue;
		for (int b = 0; b < 4; b++)
			hdr[1 + b] = (uint8_t)((uint64_t)c->sub[ch] >> (8 * b));
		if (frame(c, OP_BINARY, hdr, sizeof(hdr), msg, len))
			w->s.messages++;
		else
			w->s.lost++;	/* slow client: it loses messages, we never wait */
	}
}

struct qk_ws *qk_ws_listen(const char *spec, const char *name, const struct qk_ws_channel *ch,
			   unsigned n, char *err, size_t errn, int *ret)
{
	struct qk_ws *w = calloc(1, sizeof(*w));

	if (!w || n > QK_WS_MAX_CHANNELS) {
		free(w);
		*ret = -ENOMEM;
		snprintf(err, errn, "--foxglove: out of memory");
		return NULL;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		w->cl[i].fd = -1;
	w->name = name;
	w->ch = ch;
	w->n = n;
	w->lfd = qk_net_listen(spec, "--foxglove", &w->port, err, errn);
	if (w->lfd < 0) {
		*ret = w->lfd;
		free(w);
		return NULL;
	}
	*ret = 0;
	return w;
}

void qk_ws_goodbye(struct qk_ws *w, int level, const char *msg, int64_t now)
{
	static const uint8_t why[2] = { 1011 >> 8, 1011 & 255 };

	if (!w)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &w->cl[i];

		if (c->fd < 0 || !c->open)
			continue;
		status(c, level, msg);
		frame(c, OP_CLOSE, NULL, 0, why, sizeof(why));
		flush(w, c, now);
	}
}

int qk_ws_port(const struct qk_ws *w)
{
	return w->port;
}

void qk_ws_get_stats(const struct qk_ws *w, struct qk_ws_stats *s)
{
	*s = w->s;
}

void qk_ws_close(struct qk_ws *w)
{
	if (!w)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (w->cl[i].fd >= 0) {
			close(w->cl[i].fd);
			free(w->cl[i].out);
		}
	close(w->lfd);
	free(w);
}
