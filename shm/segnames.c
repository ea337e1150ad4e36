/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* shm/segnames.c - the instances that have a segment here; see shm/seg.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/seg.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int qk_seg_names(char (*names)[QK_SEG_NAME_MAX], int max)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		const char *inst = e->d_name + 5;

		/* a name qiki could have made, nothing else in /dev/shm */
		if (strncmp(e->d_name, "qiki.", 5) || !qk_seg_name_ok(inst))
			continue;
		if (n < max)
			snprintf(names[n], QK_SEG_NAME_MAX, "%s", inst);
		n++;
	}
	closedir(d);
	if (names && max > 0)
		qsort(names, (size_t)(n < max ? n : max), QK_SEG_NAME_MAX, by_name);
	return n;
}

size_t qk_seg_names_text(char *buf, size_t n)
{
	char names[16][QK_SEG_NAME_MAX];
	int found = qk_seg_names(names, 16);
	size_t k = 0;

	if (!n)
		return 0;
	buf[0] = 0;
	for (int i = 0; i < found && i < 16; i++) {
		/* leave room for ", ..." so a cut list still says it was cut */
		int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", names[i]);

		if (w < 0 || k + (size_t)w + 6 >= n) {
			buf[k] = 0;
			snprintf(buf + k, n - k, "%s...", k ? ", " : "");
			return strlen(buf);
		}
		k += (size_t)w;
	}
	if (found > 16) {
		snprintf(buf + k, n - k, ", ...");
		k = strlen(buf);
	}
	return k;
}
