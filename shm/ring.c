/* shm/ring.c - broadcast seqlock ring; the contract is in shm/ring.h. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

/* Only private geometry: whatever seq is, the slot lies inside the ring. */
static inline struct qk_ring_slot *slot_at(const struct qk_ring_port *p, uint64_t seq)
{
	const unsigned char *base = (const unsigned char *)(p->r + 1);

	return (struct qk_ring_slot *)(base + (size_t)(seq & (p->capacity - 1)) * p->slot_stride);
}

static bool shape_ok(uint32_t capacity, uint32_t payload_size)
{
	return capacity >= 2 && !(capacity & (capacity - 1)) && payload_size &&
	       !(payload_size % 8);
}

int qk_ring_open(struct qk_ring_port *port, struct qk_ring *r, uint32_t capacity,
		 uint32_t payload_size)
{
	memset(port, 0, sizeof(*port));
	if (!shape_ok(capacity, payload_size))
		return -EINVAL;
	/* plain reads: the creator published the segment (magic) before any
	 * attacher gets here, and these fields never change afterwards */
	if (r->capacity != capacity || r->payload_size != payload_size ||
	    r->slot_stride != qk_ring_stride(payload_size))
		return -EPROTO;
	*port = (struct qk_ring_port){
		.r = r, .capacity = capacity, .payload_size = payload_size,
		.slot_stride = qk_ring_stride(payload_size), .first_seq = r->first_seq,
	};
	return 0;
}

bool qk_ring_intact(const struct qk_ring_port *p)
{
	const volatile struct qk_ring *r = p->r;

	return r->capacity == p->capacity && r->payload_size == p->payload_size &&
	       r->slot_stride == p->slot_stride && r->first_seq == p->first_seq;
}

int qk_ring_init(struct qk_ring *r, uint32_t capacity, uint32_t payload_size,
		 uint64_t first_seq, struct qk_ring_port *port)
{
	struct qk_ring_port p = {
		.r = r, .capacity = capacity, .payload_size = payload_size,
		.slot_stride = qk_ring_stride(payload_size), .first_seq = first_seq,
	};

	if (!shape_ok(capacity, payload_size))
		return -EINVAL;
	memset(r, 0, qk_ring_footprint(capacity, payload_size));
	r->capacity = capacity;
	r->payload_size = payload_size;
	r->slot_stride = p.slot_stride;
	r->first_seq = first_seq;
	for (uint32_t i = 0; i < capacity; i++)
		qk_store_relaxed(&slot_at(&p, i)->seq, QK_RING_NOSEQ);
	qk_store_relaxed(&r->futex, (uint32_t)first_seq);
	/* pairs with the acquire load of head in the readers: slots before head */
	qk_store_release(&r->head, first_seq);
	if (port)
		*port = p;
	return 0;
}

uint64_t qk_ring_publish(struct qk_ring_port *p, const void *frame)
{
	struct qk_ring *r = p->r;
	uint64_t h = qk_load_relaxed(&r->head);	/* we are its only writer */
	struct qk_ring_slot *s = slot_at(p, h);

	qk_seq_write_begin(&s->ver);
	/* a data word like the payload: release, so that a reader who sees
	 * the new number also sees the odd version */
	qk_store_release(&s->seq, h);
	qk_seq_store(s->data, frame, p->payload_size / 8);
	qk_seq_write_end(&s->ver);
	/* pairs with the acquire load of head in read_next/read_newest: the
	 * closed slot is visible before the head that names it. */
	qk_store_release(&r->head, h + 1);
	/* seq_cst pairs with the seq_cst waiters increment in qk_ring_wait() */
	atomic_store(&r->futex, (uint32_t)(h + 1));
	return h;
}

unsigned qk_ring_producer_recover(struct qk_ring_port *p)
{
	unsigned fixed = 0;

	for (uint32_t i = 0; i < p->capacity; i++) {
		struct qk_ring_slot *s = slot_at(p, i);

		if (qk_load_relaxed(&s->ver) & 1) {
			qk_store_relaxed(&s->seq, QK_RING_NOSEQ);
			qk_seq_writer_recover(&s->ver);
			fixed++;
		}
	}
	return fixed;
}

void qk_ring_reader_init(struct qk_ring_reader *rd, const struct qk_ring_port *p,
			 enum qk_ring_from from)
{
	uint64_t h = qk_ring_head(p);
	uint64_t n = h, lost = 0;

	if (from == QK_RING_FROM_OLDEST) {
		uint64_t avail = h - p->first_seq;

		n = avail > p->capacity - 1 ? h - (p->capacity - 1) : p->first_seq;
		/* the frames overwritten before we came were published too */
		lost = n - p->first_seq;
	}
	*rd = (struct qk_ring_reader){ .port = *p, .next = n, .last = n - 1, .lost = lost };
}

/* 1 whole frame `seq` copied; 0 the slot holds another frame; -1 torn. */
static int read_slot(const struct qk_ring_port *p, uint64_t seq, void *frame)
{
	struct qk_ring_slot *s = slot_at(p, seq);
	uint32_t v = qk_seq_read_begin(&s->ver);

	if (v & 1)
		return -1;
	/* pairs with the release store of seq in qk_ring_publish() */
	if (qk_load_acquire(&s->seq) != seq) {
		/* the slot moved on (or was never written); recheck it whole */
		return qk_seq_read_end(&s->ver, v) ? 0 : -1;
	}
	qk_seq_load(frame, s->data, p->payload_size / 8);
	return qk_seq_read_end(&s->ver, v) ? 1 : -1;
}

bool qk_ring_read_next(struct qk_ring_reader *rd, void *frame)
{
	const struct qk_ring_port *p = &rd->port;

	for (int tries = 0; tries < QK_RING_RETRIES; tries++) {
		uint64_t h = qk_ring_head(p);

		if (h == rd->next)
			return false;
		/* The producer may be writing frame h into the slot of h - cap,
		 * so only the newest cap - 1 frames are safe to read. */
		if (h - rd->next > p->capacity - 1) {
			uint64_t oldest = h - (p->capacity - 1);

			rd->lost += oldest - rd->next;
			rd->next = oldest;
		}
		if (read_slot(p, rd->next, frame) == 1) {
			rd->last = rd->next++;
			rd->nread++;
			return true;
		}
		qk_cpu_relax();
	}
	return false;
}

bool qk_ring_read_newest(struct qk_ring_reader *rd, void *frame)
{
	const struct qk_ring_port *p = &rd->port;

	for (int tries = 0; tries < QK_RING_RETRIES; tries++) {
		uint64_t h = qk_ring_head(p);

		if (h == rd->next)
			return false;
		if (read_slot(p, h - 1, frame) == 1) {
			rd->lost += h - 1 - rd->next;
			rd->last = h - 1;
			rd->next = h;
			rd->nread++;
			return true;
		}
		qk_cpu_relax();
	}
	return false;
}

void qk_ring_wake(struct qk_ring_port *p)
{
	struct qk_ring *r = p->r;

	/* seq_cst pairs with the waiters increment in qk_ring_wait(): either the
	 * waiter sees the new futex value or we see the waiter. */
	if (atomic_load(&r->waiters))
		syscall(SYS_futex, &r->futex, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int qk_ring_wait(struct qk_ring_port *p, uint64_t seen, int64_t timeout_ns)
{
	struct qk_ring *r = p->r;
	struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
	int ret = 0;

	atomic_fetch_add(&r->waiters, 1);
	/* seq_cst pairs with the futex store in qk_ring_publish() */
	if (atomic_load(&r->futex) == (uint32_t)seen &&
	    syscall(SYS_futex, &r->futex, FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0) < 0 &&
	    errno != EAGAIN)
		ret = -errno;
	atomic_fetch_sub(&r->waiters, 1);
	return ret;
}
