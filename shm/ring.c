/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* shm/ring.c - broadcast seqlock ring; the contract is in shm/ring.h.
 *
 * Why a copy is whole.  The ring is one seqlock and head is its version.
 * The producer writes frame h into slot h % cap while head == h, then
 * stores head = h + 1 (release).  It writes frame n + cap into the slot of
 * frame n only after it stored head = n + cap.  A reader of frame n:
 *   1. loads head (acquire) = h1 and needs n < h1, h1 - n <= cap - 1: frame n
 *      was published (its data happens-before the store of n + 1) and the
 *      producer had not yet stored head = n + cap;
 *   2. copies the slot;
 *   3. loads head again = h2, ordered after every load of the copy, and keeps
 *      the copy only if h2 - n <= cap - 1.
 * If any load of step 2 saw a store of a later lap (frame n + cap or later),
 * that store came after the producer's store of head = n + cap, and the
 * ordering on both sides (below) makes step 3 see that head or a later one,
 * so the copy is discarded.  So no metadata per slot, and a producer that
 * died mid-write leaves a slot no reader may read until the next producer
 * has rewritten it.
 *
 * The ordering, two ways:
 * - Word-atomic (every architecture but x86-64, and every TSan build): the
 *   producer stores each payload word with release, so the earlier store of
 *   head is ordered before it; the reader loads each word with acquire, so
 *   its second load of head is ordered after it.  Boehm's fence-free seqlock
 *   ("Can seqlocks get along with programming language memory models?"): no
 *   data race, no fence, and ThreadSanitizer (which does not model fences)
 *   can check it.
 * - Plain (x86-64): the copies are ordinary, vectorised moves (16 bytes, 32
 *   where the CPU has AVX) between compiler barriers.  x86-64 (TSO) never
 *   reorders a store with an older store, nor a load with an older load, so
 *   the barriers, which keep the
 *   compiler from moving the copy across the head accesses, are all the
 *   ordering the argument above needs; on x86-64 the word-atomic copy's
 *   release stores and acquire loads are the same plain moves, one word at a
 *   time.  The caveat: in the C11 memory model a plain copy racing with the
 *   producer is a data race, so undefined behaviour.  We rely on what GCC and
 *   Clang do with it on x86-64 (the copy is our own loop of SSE2/AVX moves
 *   through intrinsics, never glibc's memcpy with its non-temporal or `rep movs`
 *   paths): each byte is loaded once, torn values are only ever stored into
 *   the caller's buffer, never branched on, and a torn copy is discarded by
 *   step 3 before the caller is told it has a frame (the buffer's contents
 *   are unspecified when a read returns false, as they always were).
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"

#if defined(__SANITIZE_THREAD__)
#define QK__RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QK__RING_TSAN 1
#endif
#endif

#if defined(__x86_64__) && !defined(QK__RING_TSAN) && !defined(QK_RING_WORD_COPY)
#define QK__RING_PLAIN 1
#include <immintrin.h>
#endif

/* Only private geometry: whatever seq is, the slot lies inside the ring. */
static inline unsigned char *slot_at(const struct qk_ring_port *p, uint64_t seq)
{
	unsigned char *base = (unsigned char *)(p->r + 1);

	return base + (size_t)(seq & (p->capacity - 1)) * p->slot_stride;
}

/* Keeps the compiler from moving the copy across the head accesses. */
#define barrier() __asm__ __volatile__("" ::: "memory")

/* A slot copy: n bytes, a multiple of 8. */
typedef void copy_fn(void *dst, const void *src, size_t n);

#ifdef QK__RING_PLAIN
/* SSE2, 128 bytes a step: the step's loads first, then its stores.  Loads
 * issued behind stores wait to be told they do not alias them; a publish
 * with its loads first measured 6.4 ns against 8.6 for interleaved pairs
 * (256-byte frames, this machine). */
static inline __attribute__((always_inline)) void copy_plain(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	/* named registers, not an array: GCC spills an array to the stack */
	for (; n >= 128; n -= 128, d += 128, s += 128) {
		__m128i a = _mm_loadu_si128((const __m128i *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
		__m128i f = _mm_loadu_si128((const __m128i *)(s + 64));
		__m128i g = _mm_loadu_si128((const __m128i *)(s + 80));
		__m128i h = _mm_loadu_si128((const __m128i *)(s + 96));
		__m128i k = _mm_loadu_si128((const __m128i *)(s + 112));

		_mm_storeu_si128((__m128i *)d, a);
		_mm_storeu_si128((__m128i *)(d + 16), b);
		_mm_storeu_si128((__m128i *)(d + 32), c);
		_mm_storeu_si128((__m128i *)(d + 48), e);
		_mm_storeu_si128((__m128i *)(d + 64), f);
		_mm_storeu_si128((__m128i *)(d + 80), g);
		_mm_storeu_si128((__m128i *)(d + 96), h);
		_mm_storeu_si128((__m128i *)(d + 112), k);
	}
	for (; n >= 16; n -= 16, d += 16, s += 16)
		_mm_storeu_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
	if (n)
		_mm_storel_epi64((__m128i *)d, _mm_loadl_epi64((const __m128i *)s));
}

/* The same with 32-byte moves, 256 bytes a step, where the CPU has AVX
 * (chosen at open, not compiled in: the build does not assume the CPU).
 * Inlined only into the AVX variants of the calls below. */
__attribute__((target("avx"))) static inline __attribute__((always_inline)) void
copy_wide(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n >= 256) {
		__m256i a = _mm256_loadu_si256((const __m256i *)s);
		__m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
		__m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
		__m256i e = _mm256_loadu_si256((const __m256i *)(s + 96));
		__m256i f = _mm256_loadu_si256((const __m256i *)(s + 128));
		__m256i g = _mm256_loadu_si256((const __m256i *)(s + 160));
		__m256i h = _mm256_loadu_si256((const __m256i *)(s + 192));
		__m256i k = _mm256_loadu_si256((const __m256i *)(s + 224));

		_mm256_storeu_si256((__m256i *)d, a);
		_mm256_storeu_si256((__m256i *)(d + 32), b);
		_mm256_storeu_si256((__m256i *)(d + 64), c);
		_mm256_storeu_si256((__m256i *)(d + 96), e);
		_mm256_storeu_si256((__m256i *)(d + 128), f);
		_mm256_storeu_si256((__m256i *)(d + 160), g);
		_mm256_storeu_si256((__m256i *)(d + 192), h);
		_mm256_storeu_si256((__m256i *)(d + 224), k);
		n -= 256;
		if (!n)	/* a 256-byte frame, the usual one: no loop tail */
			return;
		d += 256;
		s += 256;
	}
	for (; n >= 32; n -= 32, d += 32, s += 32)
		_mm256_storeu_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
	copy_plain(d, s, n);
}
#define COPY_IN copy_plain
#define COPY_OUT copy_plain
#else
/* Word-atomic: each word's release store pairs with the acquire load of
 * its twin in copy_words_out(); the earlier store of head is visible with
 * it, and the reader's second load of head is ordered after it. */
static inline void copy_words_in(void *slot, const void *frame, size_t n)
{
	qk_seq_store((qk_word *)slot, frame, n / 8);
}

static inline void copy_words_out(void *frame, const void *slot, size_t n)
{
	qk_seq_load(frame, (const qk_word *)slot, n / 8);
}
#define COPY_IN copy_words_in
#define COPY_OUT copy_words_out
#endif

static uint32_t port_flags(void)
{
#ifdef QK__RING_PLAIN
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx"))
		return QK_RING_WAKING | QK_RING_WIDE;
#endif
	return QK_RING_WAKING;
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
		.slot_stride = qk_ring_stride(payload_size), .flags = port_flags(),
		.first_seq = r->first_seq,
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
	if (!shape_ok(capacity, payload_size))
		return -EINVAL;
	memset(r, 0, qk_ring_footprint(capacity, payload_size));
	r->capacity = capacity;
	r->payload_size = payload_size;
	r->slot_stride = qk_ring_stride(payload_size);
	r->first_seq = first_seq;
	/* pairs with the acquire load of head in the readers: the header
	 * before the head (the segment's magic publishes it to other processes) */
	qk_store_release(&r->head, first_seq);
	if (port)
		*port = (struct qk_ring_port){
			.r = r, .capacity = capacity, .payload_size = payload_size,
			.slot_stride = r->slot_stride, .flags = port_flags(), .first_seq = first_seq,
		};
	return 0;
}

/* The producer's copy goes into the slot after its load of head == h and
 * before its store of h + 1 (the file's comment says why that is enough). */
static inline __attribute__((always_inline)) uint64_t
publish_with(struct qk_ring_port *p, const void *frame, copy_fn *copy)
{
	struct qk_ring *r = p->r;
	uint64_t h = qk_load_relaxed(&r->head);	/* we are its only writer */

	barrier();
	copy(slot_at(p, h), frame, p->payload_size);
	barrier();
	/* pairs with the acquire load of head in read_next/read_newest: the
	 * frame is visible before the head that names it.  Also the futex word
	 * (its low half): a waiter's FUTEX_WAIT sees the new value or is woken
	 * by qk_ring_wake(), whose fence orders this store before its load of
	 * waiters. */
	qk_store_release(&r->head, h + 1);
	return h;
}

#ifdef QK__RING_PLAIN
__attribute__((target("avx"))) static uint64_t publish_wide(struct qk_ring_port *p, const void *frame)
{
	return publish_with(p, frame, copy_wide);
}
#endif

uint64_t qk_ring_publish(struct qk_ring_port *p, const void *frame)
{
#ifdef QK__RING_PLAIN
	if (p->flags & QK_RING_WIDE)
		return publish_wide(p, frame);
#endif
	return publish_with(p, frame, COPY_IN);
}

unsigned qk_ring_producer_recover(struct qk_ring_port *p)
{
	/* the frame a dead producer was writing is head's, in the slot of
	 * head - capacity: no reader reads it until we have written it whole */
	(void)p;
	return 0;
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

/* Frame seq (with seq < h1 = the head loaded before, and h1 - seq <= cap - 1)
 * copied whole into frame?  False when the producer may have come round to
 * its slot during the copy. */
static inline __attribute__((always_inline)) bool
read_slot(const struct qk_ring_port *p, uint64_t seq, void *frame, copy_fn *copy)
{
	barrier();
	copy(frame, slot_at(p, seq), p->payload_size);
	barrier();
	/* ordered after the copy's loads (acquire words, or the barrier on
	 * x86-64): if the copy saw a later lap, this sees its head */
	uint64_t h2 = qk_load_relaxed(&p->r->head);

	return h2 - seq <= p->capacity - 1;
}

static inline __attribute__((always_inline)) bool
read_next_with(struct qk_ring_reader *rd, void *frame, copy_fn *copy)
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
		if (read_slot(p, rd->next, frame, copy)) {
			rd->last = rd->next++;
			rd->nread++;
			return true;
		}
		qk_cpu_relax();
	}
	return false;
}

static inline __attribute__((always_inline)) bool
read_newest_with(struct qk_ring_reader *rd, void *frame, copy_fn *copy)
{
	const struct qk_ring_port *p = &rd->port;

	for (int tries = 0; tries < QK_RING_RETRIES; tries++) {
		uint64_t h = qk_ring_head(p);

		if (h == rd->next)
			return false;
		if (read_slot(p, h - 1, frame, copy)) {
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

#ifdef QK__RING_PLAIN
__attribute__((target("avx"))) static bool read_next_wide(struct qk_ring_reader *rd, void *frame)
{
	return read_next_with(rd, frame, copy_wide);
}

__attribute__((target("avx"))) static bool read_newest_wide(struct qk_ring_reader *rd, void *frame)
{
	return read_newest_with(rd, frame, copy_wide);
}
#endif

bool qk_ring_read_next(struct qk_ring_reader *rd, void *frame)
{
#ifdef QK__RING_PLAIN
	if (rd->port.flags & QK_RING_WIDE)
		return read_next_wide(rd, frame);
#endif
	return read_next_with(rd, frame, COPY_OUT);
}

bool qk_ring_read_newest(struct qk_ring_reader *rd, void *frame)
{
#ifdef QK__RING_PLAIN
	if (rd->port.flags & QK_RING_WIDE)
		return read_newest_wide(rd, frame);
#endif
	return read_newest_with(rd, frame, COPY_OUT);
}

/* The futex word: the low half of head (a futex is 32 bits). */
static inline uint32_t *futex_word(struct qk_ring *r)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (uint32_t *)(void *)&r->head;
#else
	return (uint32_t *)(void *)&r->head + 1;
#endif
}

uint32_t *qk_ring_futex_word(const struct qk_ring_port *p)
{
	return futex_word(p->r);
}

bool qk_ring_wake_wanted(const struct qk_ring_port *p)
{
	/* configured at attach: nobody waits, so the shared waiters word is
	 * never read (a hostile one costs nothing) and no fence is paid */
	if (!(p->flags & QK_RING_WAKING))
		return false;
	/* StoreLoad: the store of head in qk_ring_publish() before the load of
	 * waiters.  Pairs with the seq_cst increment and head load in
	 * qk_ring_wait(): either the waiter sees the new head, or we see the
	 * waiter.  At most one wake per call, whatever the word says. */
	qk_fence_seq_cst();
	return qk_load_relaxed(&p->r->waiters) != 0;
}

void qk_ring_wake(struct qk_ring_port *p)
{
	if (qk_ring_wake_wanted(p))
		syscall(SYS_futex, futex_word(p->r), FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int qk_ring_wait(struct qk_ring_port *p, uint64_t seen, int64_t timeout_ns)
{
	struct qk_ring *r = p->r;
	struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
	int ret = 0;

	atomic_fetch_add(&r->waiters, 1);
	/* seq_cst, after the increment: pairs with the fence in qk_ring_wake() */
	if (atomic_load(&r->head) == seen &&
	    syscall(SYS_futex, futex_word(r), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0) < 0 &&
	    errno != EAGAIN)
		ret = -errno;
	atomic_fetch_sub(&r->waiters, 1);
	return ret;
}
