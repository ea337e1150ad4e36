/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/preload/allocount.c - LD_PRELOAD library counting heap allocations
 * per thread.  The loop processes look up qk_alloc_probe_count() with dlsym
 * at start-up; when this library is preloaded they record how many times
 * their loop thread allocated after start-up (qk_proc_stats.loop_allocs).
 */
#include <stddef.h>
#include <stdint.h>

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t a, size_t n);
void __libc_free(void *p);

static __thread int64_t allocs;

int64_t qk_alloc_probe_count(void);
int64_t qk_alloc_probe_count(void)
{
	return allocs;
}

void *malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	allocs++;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t a, size_t n)
{
	allocs++;
	return __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
	allocs++;
	*out = __libc_memalign(a, n);
	return *out ? 0 : 12;
}

void free(void *p)
{
	allocs++;	/* a free on the hot path is as wrong as a malloc */
	__libc_free(p);
}
