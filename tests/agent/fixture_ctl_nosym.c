/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* tests/agent/fixture_ctl_nosym.c - a shared object that is not a controller
 * (no qk_controller_v1). */
int not_a_controller(void);
int not_a_controller(void)
{
	return 42;
}
