/*
 * tests/hil/fuzz_hil_wire.c - libFuzzer target for the HIL decoder.
 *
 * Any bytes: the decoder must return without reading out of bounds (ASan),
 * without undefined behaviour (UBSan), and whatever it accepts must survive
 * a second trip: encode(decode(x)) decodes to a message that encodes to the
 * same bytes.  Each input is tried twice: as it is (almost always a CRC
 * error), and with its trailing CRC made right, so that the checks behind
 * the CRC (magic, version, type, lengths, payloads) get fuzzed too.  Built with -DQK_HIL_SEED_MAIN instead, it is a small program
 * that writes one valid frame of each type into a directory: the seed
 * corpus (under build/, never committed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/hil/wire.h"

#ifndef QK_HIL_SEED_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
	static struct qk_hil_msg m, m2;
	static uint8_t b1[QK_HIL_MAX_FRAME], b2[QK_HIL_MAX_FRAME];
	static struct qk_hil_seq seq;
	uint64_t lost = 0;

	if (qk_hil_decode(data, size, &m) != QK_HIL_OK)
		return;
	qk_hil_seq_check(&seq, m.hdr.seq, &lost);
	size_t n1 = qk_hil_encode(&m, b1, sizeof(b1));

	if (!n1 || qk_hil_decode(b1, n1, &m2) != QK_HIL_OK)
		abort();	/* accepted, yet not re-encodable */
	size_t n2 = qk_hil_encode(&m2, b2, sizeof(b2));

	if (n2 != n1 || memcmp(b1, b2, n1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	one(data, size);
	if (size < QK_HIL_CRC_LEN || !(fixed = malloc(size)))
		return 0;	/* an exact-size copy: ASan sees any over-read */
	memcpy(fixed, data, size);
	uint32_t c = qk_hil_crc32c(0, fixed, size - QK_HIL_CRC_LEN);

	for (int i = 0; i < 4; i++)
		fixed[size - 4 + i] = (uint8_t)(c >> (8 * i));
	one(fixed, size);
	free(fixed);
	return 0;
}
#else
int main(int argc, char **argv)
{
	static struct qk_hil_msg m;
	uint8_t b[QK_HIL_MAX_FRAME];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 1;
	}
	for (unsigned t = 1; t <= QK_HIL_TYPE_MAX; t++) {
		char path[4096];
		FILE *f;
		size_t n;

		memset(&m, 0, sizeof(m));
		m.hdr.version = QK_HIL_VERSION;
		m.hdr.type = (uint8_t)t;
		m.hdr.seq = t;
		m.u.ack.n_devices = t == QK_HIL_HELLO_ACK ? 13 : 0;
		n = qk_hil_encode(&m, b, sizeof(b));
		snprintf(path, sizeof(path), "%s/seed-%s", argv[1], qk_hil_type_name(t));
		f = fopen(path, "wb");
		if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
#endif
