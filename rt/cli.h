/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/cli.h - strict parsing of command-line values, shared by every tool.
 *
 * A value is accepted only when the whole string is a number of the right
 * kind within [lo, hi]: "1e999", "abc", "", "-" and "12abc" are refused.
 * Returns 0, or -EINVAL (not a number) / -ERANGE (outside the range).
 * Not for the hot path (strtod may touch the locale).
 */
#ifndef QK_RT_CLI_H
#define QK_RT_CLI_H

#include <stdint.h>

int qk_parse_double(const char *s, double lo, double hi, double *out);
int qk_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
int qk_parse_int(const char *s, int lo, int hi, int *out);

#endif
