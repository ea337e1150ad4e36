/*
 * ctl/link.h - the HIL link as the operator sees it (qikictl link): peer,
 * state, frames sent, received, taken, lost and dropped by reason, round trip
 * p50/p99 and the device's clock offset.  Reads the segment's link region
 * (written by qiki-hil) with relaxed loads; not for the loop.
 */
#ifndef QK_CTL_LINK_H
#define QK_CTL_LINK_H

#include <stdbool.h>
#include <stdio.h>

#include "shm/seg.h"

/* Prints the link of an attached segment, as text or one JSON object.
 * Returns false when no bridge ever ran in the instance (and says so). */
bool qk_ctl_link_show(const struct qk_seg *s, bool json, FILE *f);

#endif
