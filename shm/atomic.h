/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * shm/atomic.h - the only door to <stdatomic.h> in qiki.
 *
 * Contract: every shared word that two processes touch is an _Atomic
 * fixed-width integer, and every access to it goes through these wrappers so
 * that its ordering is spelt out where it is used.  Each acquire, release or
 * fence at a call site carries a comment naming the access it pairs with.
 *
 * The segment is shared between processes, so the atomics must be lock-free
 * (an address-free, kernel-free implementation); that is asserted here.
 * Wait-free, real-time safe: all of these compile to plain instructions.
 */
#ifndef QK_SHM_ATOMIC_H
#define QK_SHM_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define QK_CACHELINE 64

#define qk_load_acquire(p)        atomic_load_explicit((p), memory_order_acquire)
#define qk_store_release(p, v)    atomic_store_explicit((p), (v), memory_order_release)
#define qk_load_relaxed(p)        atomic_load_explicit((p), memory_order_relaxed)
#define qk_store_relaxed(p, v)    atomic_store_explicit((p), (v), memory_order_relaxed)
#define qk_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define qk_fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
/* CAS that publishes on success and observes on failure. */
#define qk_cas_acq_rel(p, expp, v) \
	atomic_compare_exchange_weak_explicit((p), (expp), (v), \
		memory_order_acq_rel, memory_order_acquire)
#define qk_cas_relaxed(p, expp, v) \
	atomic_compare_exchange_weak_explicit((p), (expp), (v), \
		memory_order_relaxed, memory_order_relaxed)
#define qk_fence_acquire()        atomic_thread_fence(memory_order_acquire)
#define qk_fence_release()        atomic_thread_fence(memory_order_release)
#define qk_fence_seq_cst()        atomic_thread_fence(memory_order_seq_cst)

static inline void qk_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif
