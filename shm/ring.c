/* shm/ring.c - broadcast seqlock ring; the contract is in shm/ring.h. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

static inline struct qk_ring_slot *slot_at(const struct qk_ring *r, uint64_t seq)
{
	const unsigned char *base = (const unsigned char *)(r + 1);

	return (struct qk_ring_slot *)(base + (size_t)(seq & (r->capacity - 1)) * r->slot_stride);
}

int qk_ring_init(struct qk_ring *r, uint32_t capacity, uint32_t payload_size,
		 uint64_t first_seq)
{
	if (capacity < 2 || (capacity & (capacity - 1)) || !payload_size || payload_size % 8)
		return -EINVAL;
	memset(r, 0, qk_ring_footprint(capacity, payload_size));
	r->capacity = capacity;
	r->payload_size = payload_size;
	r->slot_stride = qk_ring_stride(payload_size);
	r->first_seq = first_seq;
	for (uint32_t i = 0; i < capacity; i++)
		qk_store_relaxed(&slot_at(r, i)->seq, QK_RING_NOSEQ);
	qk_store_relaxed(&r->futex, (uint32_t)first_seq);
	/* pairs with the acquire load of head in the readers: slots before head */
	qk_store_release(&r->head, first_seq);
	return 0;
}

uint64_t qk_ring_publish(struct qk_ring *r, const void *frame)
{
	uint64_t h = qk_load_relaxed(&r->head);	/* we are its only writer */
	struct qk_ring_slot *s = slot_at(r, h);

	qk_seq_write_begin(&s->ver);
	/* a data word like the payload: release, so that a reader who sees
	 * the new number also sees the odd version */
	qk_store_release(&s->seq, h);
	qk_seq_store(s->data, frame, r->payload_size / 8);
	qk_seq_write_end(&s->ver);
	/* pairs with the acquire load of head in read_next/read_newest: the
	 * closed slot is visible before the head that names it. */
	qk_store_release(&r->head, h + 1);
	/* seq_cst pairs with the seq_cst waiters increment in qk_ring_wait() */
	atomic_store(&r->futex, (uint32_t)(h + 1));
	return h;
}

unsigned qk_ring_producer_recover(struct qk_ring *r)
{
	unsigned fixed = 0;

	for (uint32_t i = 0; i < r->capacity; i++) {
		struct qk_ring_slot *s = slot_at(r, i);

		if (qk_load_relaxed(&s->ver) & 1) {
			qk_store_relaxed(&s->seq, QK_RING_NOSEQ);
			qk_seq_writer_recover(&s->ver);
			fixed++;
		}
	}
	return fixed;
}

void qk_ring_reader_init(struct qk_ring_reader *rd, const struct qk_ring *r,
			 enum qk_ring_from from)
{
	/* pairs with the release store of head in qk_ring_publish() */
	uint64_t h = qk_load_acquire((_Atomic uint64_t *)&r->head);
	uint64_t n = h;

	if (from == QK_RING_FROM_OLDEST) {
		uint64_t avail = h - r->first_seq;

		n = avail > r->capacity - 1 ? h - (r->capacity - 1) : r->first_seq;
	}
	*rd = (struct qk_ring_reader){ .ring = r, .next = n, .last = n - 1 };
}

/* 1 whole frame `seq` copied; 0 the slot holds another frame; -1 torn. */
static int read_slot(const struct qk_ring *r, uint64_t seq, void *frame)
{
	struct qk_ring_slot *s = slot_at(r, seq);
	uint32_t v = qk_seq_read_begin(&s->ver);

	if (v & 1)
		return -1;
	/* pairs with the release store of seq in qk_ring_publish() */
	if (qk_load_acquire(&s->seq) != seq) {
		/* the slot moved on (or was never written); recheck it whole */
		return qk_seq_read_end(&s->ver, v) ? 0 : -1;
	}
	qk_seq_load(frame, s->data, r->payload_size / 8);
	return qk_seq_read_end(&s->ver, v) ? 1 : -1;
}

bool qk_ring_read_next(struct qk_ring_reader *rd, void *frame)
{
	const struct qk_ring *r = rd->ring;

	for (int tries = 0; tries < QK_RING_RETRIES; tries++) {
		/* pairs with the release store of head in qk_ring_publish() */
		uint64_t h = qk_load_acquire((_Atomic uint64_t *)&r->head);

		if (h == rd->next)
			return false;
		/* The producer may be writing frame h into the slot of h - cap,
		 * so only the newest cap - 1 frames are safe to read. */
		if (h - rd->next > r->capacity - 1) {
			uint64_t oldest = h - (r->capacity - 1);

			rd->lost += oldest - rd->next;
			rd->next = oldest;
		}
		if (read_slot(r, rd->next, frame) == 1) {
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
	const struct qk_ring *r = rd->ring;

	for (int tries = 0; tries < QK_RING_RETRIES; tries++) {
		/* pairs with the release store of head in qk_ring_publish() */
		uint64_t h = qk_load_acquire((_Atomic uint64_t *)&r->head);

		if (h == rd->next)
			return false;
		if (read_slot(r, h - 1, frame) == 1) {
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

void qk_ring_wake(struct qk_ring *r)
{
	/* seq_cst pairs with the waiters increment in qk_ring_wait(): either the
	 * waiter sees the new futex value or we see the waiter. */
	if (atomic_load(&r->waiters))
		syscall(SYS_futex, &r->futex, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int qk_ring_wait(struct qk_ring *r, uint64_t seen, int64_t timeout_ns)
{
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
