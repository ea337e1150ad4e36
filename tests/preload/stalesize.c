/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/preload/stalesize.c - LD_PRELOAD library for hostile.sh: fstat() of
 * a qiki segment (/dev/shm/qiki.*) reports the largest size it ever had, so
 * that a reader which checks the size before it reads (qiki-telemetry) does
 * not see a truncation coming and meets SIGBUS on the lost pages instead:
 * the path its SIGBUS handler takes, which a size check almost always hides.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static off_t largest[1024];

int fstat(int fd, struct stat *st)
{
	static int (*real)(int, struct stat *);
	char link[64], path[256];
	ssize_t n;

	if (!real)
		real = (int (*)(int, struct stat *))dlsym(RTLD_NEXT, "fstat");
	int ret = real(fd, st);

	if (ret || fd < 0 || fd >= (int)(sizeof(largest) / sizeof(largest[0])))
		return ret;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return ret;
	path[n] = 0;
	if (strncmp(path, "/dev/shm/qiki.", 14))
		return ret;
	if (st->st_size > largest[fd])
		largest[fd] = st->st_size;
	st->st_size = largest[fd];
	return ret;
}
