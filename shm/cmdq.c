/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* shm/cmdq.c - bounded MPSC command queue; the contract is in shm/cmdq.h. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/cmdq.h"

/* Relaxed copies: the cell's sequence number orders them. */
static void words_store(qk_word *dst, const void *src, size_t nwords)
{
	const unsigned char *s = src;

	for (size_t i = 0; i < nwords; i++) {
		uint64_t w;

		memcpy(&w, s + i * 8, 8);
		qk_store_relaxed(&dst[i], w);
	}
}

static void words_load(void *dst, const qk_word *src, size_t nwords)
{
	unsigned char *d = dst;

	for (size_t i = 0; i < nwords; i++) {
		uint64_t w = qk_load_relaxed(&src[i]);

		memcpy(d + i * 8, &w, 8);
	}
}

/* Only private geometry: whatever pos is, the cell lies inside the queue. */
static inline struct qk_cmdq_cell *cell_at(const struct qk_cmdq_port *p, uint64_t pos)
{
	const unsigned char *base = (const unsigned char *)(p->q + 1);

	return (struct qk_cmdq_cell *)(base + (size_t)(pos & (p->capacity - 1)) * p->cell_stride);
}

/* FNV-1a over the payload words, salted with the position so that a payload
 * left from an earlier lap never passes for the current one. */
static uint64_t checksum(const void *p, uint32_t size, uint64_t pos)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ pos;

	for (uint32_t i = 0; i < size; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static bool shape_ok(uint32_t capacity, uint32_t payload_size)
{
	return capacity >= 2 && !(capacity & (capacity - 1)) && payload_size &&
	       !(payload_size % 8);
}

int qk_cmdq_init(struct qk_cmdq *q, uint32_t capacity, uint32_t payload_size,
		 struct qk_cmdq_port *port)
{
	struct qk_cmdq_port p = {
		.q = q, .capacity = capacity, .payload_size = payload_size,
		.cell_stride = qk_cmdq_stride(payload_size),
	};

	if (!shape_ok(capacity, payload_size))
		return -EINVAL;
	memset(q, 0, qk_cmdq_footprint(capacity, payload_size));
	q->capacity = capacity;
	q->payload_size = payload_size;
	q->cell_stride = p.cell_stride;
	for (uint32_t i = 0; i < capacity; i++)
		qk_store_relaxed(&cell_at(&p, i)->seq, i);
	/* pairs with the acquire loads of cell seq in push/pop */
	qk_fence_release();
	if (port)
		*port = p;
	return 0;
}

int qk_cmdq_open(struct qk_cmdq_port *port, struct qk_cmdq *q, uint32_t capacity,
		 uint32_t payload_size)
{
	memset(port, 0, sizeof(*port));
	if (!shape_ok(capacity, payload_size))
		return -EINVAL;
	/* fixed since the creator published the segment */
	if (q->capacity != capacity || q->payload_size != payload_size ||
	    q->cell_stride != qk_cmdq_stride(payload_size))
		return -EPROTO;
	*port = (struct qk_cmdq_port){
		.q = q, .capacity = capacity, .payload_size = payload_size,
		.cell_stride = qk_cmdq_stride(payload_size),
		.head = qk_load_relaxed(&q->head),
	};
	return 0;
}

bool qk_cmdq_intact(const struct qk_cmdq_port *p)
{
	const volatile struct qk_cmdq *q = p->q;
	/* head, tail, head: with the head unchanged around it, the tail was
	 * read at a moment when head <= tail <= head + capacity must hold
	 * (the acquires only keep our three loads in this order) */
	uint64_t h1 = qk_load_acquire(&p->q->head);
	uint64_t t = qk_load_acquire(&p->q->tail);
	uint64_t h2 = qk_load_relaxed(&p->q->head);

	if (q->capacity != p->capacity || q->payload_size != p->payload_size ||
	    q->cell_stride != p->cell_stride || p->bad)
		return false;
	return h1 != h2 || t - h1 <= p->capacity;	/* moved: no verdict this time */
}

int qk_cmdq_push(struct qk_cmdq_port *p, const void *cmd)
{
	uint64_t pos;

	return qk_cmdq_push_at(p, cmd, &pos);
}

bool qk_cmdq_taken(const struct qk_cmdq_port *p, uint64_t pos)
{
	return (int64_t)(qk_load_relaxed(&p->q->head) - pos) > 0;
}

int qk_cmdq_push_at(struct qk_cmdq_port *p, const void *cmd, uint64_t *at)
{
	struct qk_cmdq *q = p->q;
	uint64_t pos = qk_load_relaxed(&q->tail);
	struct qk_cmdq_cell *c;
	int tries = 0;

	for (;;) {
		if (++tries > QK_CMDQ_CLAIM_TRIES)
			return -EBUSY;
		c = cell_at(p, pos);
		/* pairs with the consumer's release store freeing the cell */
		uint64_t seq = qk_load_acquire(&c->seq);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			if (qk_cas_relaxed(&q->tail, &pos, pos + 1))
				break;		/* claimed; pos was reloaded otherwise */
		} else if (dif < 0) {
			return -EAGAIN;	/* the cell of this lap is still full */
		} else {
			pos = qk_load_relaxed(&q->tail);
		}
	}
	*at = pos;
	words_store(c->data, cmd, p->payload_size / 8);
	qk_store_relaxed(&c->check, checksum(cmd, p->payload_size, pos));
	/* Publish by CAS, not a store: the consumer may have abandoned the cell
	 * (seq moved to pos + capacity).  pairs with the acquire in pop. */
	uint64_t expect = pos;

	if (!atomic_compare_exchange_strong_explicit(&c->seq, &expect, pos + 1,
						     memory_order_release,
						     memory_order_relaxed))
		return -ETIMEDOUT;
	return 0;
}

static void consumed(struct qk_cmdq_port *p, struct qk_cmdq_cell *c, uint64_t pos)
{
	/* pairs with the acquire load in push: our reads of the cell are done
	 * before a producer of the next lap may write it. */
	qk_store_release(&c->seq, pos + p->capacity);
	p->head = pos + 1;
	qk_store_relaxed(&p->q->head, p->head);	/* for observers only */
}

bool qk_cmdq_pop(struct qk_cmdq_port *p, void *cmd)
{
	struct qk_cmdq *q = p->q;

	for (uint32_t n = 0; n < p->capacity; n++) {
		uint64_t pos = p->head;
		struct qk_cmdq_cell *c = cell_at(p, pos);
		/* pairs with the release CAS that publishes in push */
		uint64_t seq = qk_load_acquire(&c->seq);

		if (seq == pos)
			return false;	/* free, or claimed and not yet published */
		if (seq != pos + 1) {
			/* no healthy queue holds this at its head: someone
			 * wrote over the cell.  Free it, never execute it. */
			p->bad++;
			qk_store_relaxed(&q->corrupt, qk_load_relaxed(&q->corrupt) + 1);
			consumed(p, c, pos);
			continue;
		}
		words_load(cmd, c->data, p->payload_size / 8);
		bool whole = qk_load_relaxed(&c->check) == checksum(cmd, p->payload_size, pos);

		consumed(p, c, pos);
		if (whole) {
			qk_store_relaxed(&q->taken, qk_load_relaxed(&q->taken) + 1);
			return true;
		}
		qk_store_relaxed(&q->corrupt, qk_load_relaxed(&q->corrupt) + 1);
	}
	return false;
}

bool qk_cmdq_stalled(const struct qk_cmdq_port *p)
{
	uint64_t pos = p->head;

	return qk_load_relaxed(&p->q->tail) != pos &&
	       qk_load_acquire(&cell_at(p, pos)->seq) == pos;
}

bool qk_cmdq_abandon_stalled(struct qk_cmdq_port *p)
{
	struct qk_cmdq *q = p->q;
	uint64_t pos = p->head;
	struct qk_cmdq_cell *c = cell_at(p, pos);
	uint64_t expect = pos;

	if (qk_load_relaxed(&q->tail) == pos)
		return false;
	/* Races with the producer's publishing CAS: exactly one wins. */
	if (!atomic_compare_exchange_strong_explicit(&c->seq, &expect, pos + p->capacity,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	p->head = pos + 1;
	qk_store_relaxed(&q->head, p->head);
	qk_store_relaxed(&q->abandoned, qk_load_relaxed(&q->abandoned) + 1);
	return true;
}

uint64_t qk_cmdq_depth(const struct qk_cmdq_port *p)
{
	uint64_t t = qk_load_relaxed(&p->q->tail);
	uint64_t h = qk_load_relaxed(&p->q->head);

	return t - h;
}

/* The futex word: the tail's low half (futexes are 32 bits wide). */
static uint32_t *tail_word(const struct qk_cmdq_port *p)
{
	uint32_t *w = (uint32_t *)(void *)&p->q->tail;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w++;
#endif
	return w;
}

uint64_t qk_cmdq_tail(const struct qk_cmdq_port *p)
{
	/* pairs with the CAS on tail in push: a claim after this load changes
	 * the word qk_cmdq_wait() sleeps on */
	return qk_load_acquire(&p->q->tail);
}

int qk_cmdq_wait(struct qk_cmdq_port *p, uint64_t tail, int64_t timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };

	if (syscall(SYS_futex, tail_word(p), FUTEX_WAIT, (uint32_t)tail, &ts, NULL, 0) < 0 &&
	    errno != EAGAIN && errno != EINTR)
		return -errno;
	return 0;
}

void qk_cmdq_wake(struct qk_cmdq_port *p)
{
	syscall(SYS_futex, tail_word(p), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}
