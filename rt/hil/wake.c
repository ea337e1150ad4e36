/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* rt/hil/wake.c - the agent's wake in the bridge's io_uring; see rt/hil/wake.h. */
#include <limits.h>
#include <linux/futex.h>
#include <string.h>

#include "rt/hil/wake.h"

/*
 * Debian's liburing (2.3) and kernel headers predate the futex opcodes
 * (Linux 6.7), so the values are the kernel's UAPI, stated here:
 * - include/uapi/linux/io_uring.h: IORING_OP_FUTEX_WAKE is 52 in enum
 *   io_uring_op (after WAITID 50 and FUTEX_WAIT 51);
 * - include/uapi/linux/futex.h: FUTEX2_SIZE_U32 is 0x02 (a 32-bit word;
 *   FUTEX2_PRIVATE, 128, is left out: the word is in shared memory).
 * io_uring/futex.c reads a FUTEX_WAKE's word from sqe->addr, the number to
 * wake from sqe->addr2 (the `off` field), the bitset from sqe->addr3 and the
 * futex2 flags from sqe->fd, and refuses non-zero len, futex_flags (the
 * rw_flags word), buf_index and file_index.  A kernel without the opcode
 * says so in the probe, and we never build the entry.
 */
#define QK_IORING_OP_FUTEX_WAKE 52
#define QK_FUTEX2_SIZE_U32 0x02

bool qk_hil_wake_probe(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p && p->last_op >= QK_IORING_OP_FUTEX_WAKE &&
		  io_uring_opcode_supported(p, QK_IORING_OP_FUTEX_WAKE);

	io_uring_free_probe(p);
	return ok;
}

void qk_hil_wake_prep(struct io_uring_sqe *sqe, const struct qk_ring_port *p)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = QK_IORING_OP_FUTEX_WAKE;
	sqe->fd = QK_FUTEX2_SIZE_U32;
	sqe->addr = (unsigned long)qk_ring_futex_word(p);
	sqe->off = INT_MAX;			/* addr2: wake every waiter */
	sqe->addr3 = FUTEX_BITSET_MATCH_ANY;	/* FUTEX_WAIT waits on this bitset */
}
