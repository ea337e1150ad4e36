/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/hil/test_hil_net.c - the HIL programs' addresses (rt/hil/net.h):
 * IPv4 and bracketed IPv6 parsed to one form (IPv4 v4-mapped), printed back
 * as they were written, compared by family, address and port, bad input
 * refused with what was wrong; and a dual-stack socket that talks to itself
 * over ::1 and over 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/hil/net.h"

static void test_hil_net_parses_and_prints_both_families(void **state)
{
	struct sockaddr_in6 a, b;
	char why[256], s[80];

	(void)state;
	assert_int_equal(qk_hil_addr_parse("udp://10.77.1.2:7701", true, &a, why, sizeof(why)), 0);
	assert_true(IN6_IS_ADDR_V4MAPPED(&a.sin6_addr));
	assert_string_equal(qk_hil_addr_str(&a, s, sizeof(s)), "10.77.1.2:7701");
	assert_int_equal(qk_hil_addr_parse("udp://[::1]:7701", true, &b, why, sizeof(why)), 0);
	assert_true(IN6_IS_ADDR_LOOPBACK(&b.sin6_addr));
	assert_string_equal(qk_hil_addr_str(&b, s, sizeof(s)), "[::1]:7701");
	assert_false(qk_hil_addr_eq(&a, &b));
	assert_int_equal(qk_hil_addr_parse("[fd00:77:1::1]:7700", false, &b, why, sizeof(why)), 0);
	assert_string_equal(qk_hil_addr_str(&b, s, sizeof(s)), "[fd00:77:1::1]:7700");
	assert_int_equal(qk_hil_addr_parse("10.77.1.2:7701", false, &b, why, sizeof(why)), 0);
	assert_true(qk_hil_addr_eq(&a, &b));
	b.sin6_port = htons(7702);
	assert_false(qk_hil_addr_eq(&a, &b));
	assert_int_equal(qk_hil_addr_parse(":0", false, &b, why, sizeof(why)), 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&b.sin6_addr));
}

static void test_hil_net_refuses_bad_addresses_saying_why(void **state)
{
	struct sockaddr_in6 a;
	char why[256];

	(void)state;
	assert_int_equal(qk_hil_addr_parse("udp://::1:7701", true, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "brackets"));
	assert_int_equal(qk_hil_addr_parse("udp://[::1]7701", true, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "[IPV6]:PORT"));
	assert_int_equal(qk_hil_addr_parse("udp://[::1]:0", true, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "1..65535"));
	assert_int_equal(qk_hil_addr_parse("tcp://1.2.3.4:5", true, &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(qk_hil_addr_parse("1.2.3.4", false, &a, why, sizeof(why)), -EINVAL);
	assert_int_equal(qk_hil_addr_parse("[zz::1]:5", false, &a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "cannot resolve 'zz::1'"));
}

/* One datagram from the socket to itself at `to`: what arrives says who sent. */
static void loop_once(int fd, const char *to_s)
{
	struct sockaddr_in6 to, from;
	socklen_t fl = sizeof(from);
	char why[256], buf[8];

	assert_int_equal(qk_hil_addr_parse(to_s, false, &to, why, sizeof(why)), 0);
	assert_int_equal(sendto(fd, "qkhl", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	assert_int_equal(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 4);
	assert_int_equal(fl, sizeof(from));
	assert_true(qk_hil_addr_eq(&from, &to));	/* ourselves, in the same form */
}

static void test_hil_net_dual_stack_socket_speaks_both(void **state)
{
	struct sockaddr_in6 any, me;
	socklen_t ml = sizeof(me);
	char why[256], v4[64], v6[64];
	int fd;

	(void)state;
	assert_int_equal(qk_hil_addr_parse(":0", false, &any, why, sizeof(why)), 0);
	fd = qk_hil_udp_open(&any, true, why, sizeof(why));
	if (fd == -EAFNOSUPPORT)
		skip();		/* a kernel without IPv6 */
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &ml), 0);
	snprintf(v4, sizeof(v4), "127.0.0.1:%u", (unsigned)ntohs(me.sin6_port));
	snprintf(v6, sizeof(v6), "[::1]:%u", (unsigned)ntohs(me.sin6_port));
	loop_once(fd, v4);
	loop_once(fd, v6);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hil_net_parses_and_prints_both_families),
		cmocka_unit_test(test_hil_net_refuses_bad_addresses_saying_why),
		cmocka_unit_test(test_hil_net_dual_stack_socket_speaks_both),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
