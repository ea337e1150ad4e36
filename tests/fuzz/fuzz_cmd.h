/* tests/fuzz/fuzz_cmd.h - shared by the command-decoding fuzz targets. */
#ifndef QK_TESTS_FUZZ_CMD_H
#define QK_TESTS_FUZZ_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/layout.h"

/* The reply every consumer owes: to this command, a known status, a
 * reason that ends inside its array. */
static inline void fuzz_check_reply(const struct qk_cmd *c, const struct qk_reply *r)
{
	if (r->id != c->id || (r->status != QK_REPLY_ACCEPTED && r->status != QK_REPLY_REFUSED) ||
	    !memchr(r->reason, '\0', sizeof(r->reason)))
		abort();
}

/* One command from the input: raw bytes, as any sender could queue them;
 * a type byte steers half of them to the command types that exist. */
static inline bool fuzz_next_cmd(const uint8_t **d, size_t *n, struct qk_cmd *c)
{
	if (*n < 1 + sizeof(*c))
		return false;
	uint8_t steer = (*d)[0];

	memcpy(c, *d + 1, sizeof(*c));
	*d += 1 + sizeof(*c);
	*n -= 1 + sizeof(*c);
	if (steer & 1)
		c->type = (uint32_t)(steer >> 1) % QK_CMD_COUNT;
	if (steer & 2)
		c->u[0] %= 8;
	return true;
}

#endif
