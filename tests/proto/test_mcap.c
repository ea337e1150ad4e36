/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tests/proto/test_mcap.c - the MCAP writer and reader (proto/mcap.h):
 * a round trip with and without zstd, a file cut anywhere reads up to its
 * last whole record without a crash, garbage is refused with a reason, and
 * a full disk is an error, not a crash; the writer's memory does not grow
 * with the number of chunks (issue 14: the chunk index used to); metadata
 * and attachments come back as written, a damaged attachment fails its CRC.
 * (That other tools read our files is tests/integration/telemetry.sh's job,
 * with the official library.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/mcap.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/qk-mcap-test.%d.mcap", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

struct seen {
	uint64_t n[2], last_t[2];
	int bad;
};

static int check_msg(void *ctx, const struct qk_mcap_info *in, int ch, uint64_t t,
		     const uint8_t *data, size_t len)
{
	struct seen *s = ctx;
	uint64_t k;

	(void)in;
	if (ch < 0 || ch > 1 || len != 8 + (size_t)ch * 100) {
		s->bad++;
		return 0;
	}
	memcpy(&k, data, 8);
	/* message k of channel ch carries k and was logged at 1000 + 10 k */
	if (k != s->n[ch] || t != 1000 + 10 * k)
		s->bad++;
	s->n[ch]++;
	s->last_t[ch] = t;
	return 0;
}

static void write_file(bool zstd, int n)
{
	struct qk_mcap_opts o = { .path = path, .zstd = zstd, .chunk_bytes = 16 * 1024,
				  .library = "test" };
	char err[256];
	uint8_t payload[108] = { 0 };
	struct qk_mcap *m = qk_mcap_open(&o, err, sizeof(err));
	int s, c0, c1;

	assert_non_null(m);
	s = qk_mcap_schema(m, "test.Msg", "protobuf", "fds", 3);
	assert_int_equal(s, 1);
	c0 = qk_mcap_channel(m, s, "/a", "protobuf");
	c1 = qk_mcap_channel(m, s, "/b", "protobuf");
	assert_int_equal(c0, 0);
	assert_int_equal(c1, 1);
	for (uint64_t k = 0; k < (uint64_t)n; k++) {
		memcpy(payload, &k, 8);
		assert_int_equal(qk_mcap_write(m, c0, 1000 + 10 * k, 1000 + 10 * k, payload, 8), 0);
		if (k % 3 == 0) {
			uint64_t j = k / 3;

			memcpy(payload, &j, 8);
			assert_int_equal(qk_mcap_write(m, c1, 1000 + 10 * j, 0, payload, 108), 0);
		}
	}
	assert_true(qk_mcap_chunks(m) >= 3);
	assert_int_equal(qk_mcap_messages(m, -1), (uint64_t)n + (uint64_t)(n + 2) / 3);
	assert_int_equal(qk_mcap_close(m), 0);
}

/* malloc'd bytes in use, big blocks (mmap'd) included */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Some 25 messages a chunk, 8,000 chunks: the heap after the first tenth and
 * after the rest differ by less than one chunk index a thousand chunks
 * (the in-memory index grew by ~330 bytes a chunk). */
static void test_mcap_memory_stays_bounded_over_many_chunks(void **state)
{
	struct qk_mcap_opts o = { .path = path, .chunk_bytes = 1024, .library = "test" };
	static struct qk_mcap_info in;
	struct seen sn = { 0 };
	uint8_t payload[8];
	char err[256];
	size_t early = 0;
	uint64_t n = 25 * 8000;
	struct qk_mcap *m = qk_mcap_open(&o, err, sizeof(err));
	int c;

	(void)state;
	assert_non_null(m);
	c = qk_mcap_channel(m, qk_mcap_schema(m, "test.Msg", "protobuf", "fds", 3), "/a", "protobuf");
	assert_int_equal(c, 0);
	for (uint64_t k = 0; k < n; k++) {
		memcpy(payload, &k, 8);
		assert_int_equal(qk_mcap_write(m, c, 1000 + 10 * k, 0, payload, 8), 0);
		if (k == n / 10)
			early = heap_in_use();
	}
	size_t late = heap_in_use();

	assert_true(qk_mcap_chunks(m) > 6000);
	assert_true(late < early + 64 * 1024);
	assert_int_equal(qk_mcap_close(m), 0);
	assert_int_equal(qk_mcap_read(path, &in, check_msg, &sn, err, sizeof(err)), 0);
	assert_int_equal(sn.bad, 0);
	assert_int_equal(sn.n[0], n);
	assert_true(in.has_summary);
}

/* Metadata and an attachment come back as written; a flipped byte in the
 * attachment fails its CRC. */
static void test_mcap_metadata_and_attachment(void **state)
{
	struct qk_mcap_opts o = { .path = path, .zstd = true, .library = "test" };
	static struct qk_mcap_info in;
	const char *keys[] = { "instance", "seed" }, *vals[] = { "t-1", "7" };
	static const char yaml[] = "profile: bot\nrate_hz: 1000\n";
	char err[256];
	struct qk_mcap *m = qk_mcap_open(&o, err, sizeof(err));
	int c;

	(void)state;
	assert_non_null(m);
	c = qk_mcap_channel(m, qk_mcap_schema(m, "test.Msg", "protobuf", "fds", 3), "/a", "protobuf");
	assert_int_equal(qk_mcap_metadata(m, "qiki", keys, vals, 2), 0);
	assert_int_equal(qk_mcap_attachment(m, "config.yaml", "application/yaml", 5, yaml,
					    sizeof(yaml) - 1), 0);
	assert_int_equal(qk_mcap_write(m, c, 10, 10, "x", 1), 0);
	assert_int_equal(qk_mcap_close(m), 0);
	assert_int_equal(qk_mcap_read(path, &in, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(in.n_pairs, 2);
	assert_string_equal(in.pair[0].record, "qiki");
	assert_string_equal(in.pair[0].key, "instance");
	assert_string_equal(in.pair[0].value, "t-1");
	assert_string_equal(in.pair[1].key, "seed");
	assert_string_equal(in.pair[1].value, "7");
	assert_int_equal(in.n_attach, 1);
	assert_string_equal(in.attach[0].name, "config.yaml");
	assert_string_equal(in.attach[0].media_type, "application/yaml");
	assert_int_equal(in.attach[0].size, sizeof(yaml) - 1);
	assert_int_equal(in.attach[0].log_time, 5);
	assert_true(in.attach[0].crc_ok);
	assert_memory_equal(in.attach[0].data, yaml, sizeof(yaml) - 1);
	assert_int_equal(in.messages, 1);

	/* damage one byte of the attached text */
	FILE *f = fopen(path, "r+b");
	static char buf[65536];
	size_t len = fread(buf, 1, sizeof(buf), f);
	char *at = memmem(buf, len, "rate_hz", 7);

	assert_non_null(at);
	*at = 'R';
	fseek(f, 0, SEEK_SET);
	fwrite(buf, 1, len, f);
	fclose(f);
	assert_int_equal(qk_mcap_read(path, &in, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(in.n_attach, 1);
	assert_false(in.attach[0].crc_ok);
}

static void test_mcap_round_trip(void **state)
{
	(void)state;
	for (int z = 0; z < 2; z++) {
		static struct qk_mcap_info in;
		struct seen s = { 0 };
		char err[256];

		write_file(z, 5000);
		assert_int_equal(qk_mcap_read(path, &in, check_msg, &s, err, sizeof(err)), 0);
		assert_int_equal(s.bad, 0);
		assert_int_equal(s.n[0], 5000);
		assert_int_equal(s.n[1], 1667);
		assert_true(in.has_summary);
		assert_int_equal(in.n_channels, 2);
		assert_string_equal(in.ch[0].topic, "/a");
		assert_string_equal(in.ch[1].schema_name, "test.Msg");
		assert_int_equal(in.first_time, 1000);
		assert_int_equal(in.last_time, 1000 + 10 * 4999);
		assert_string_equal(in.compression, z ? "zstd" : "none");
		assert_string_equal(in.library, "test");
	}
}

static void test_mcap_cut_anywhere_reads_to_the_last_whole_record(void **state)
{
	static uint8_t whole[1 << 20];
	char err[256];
	FILE *f;
	size_t len;

	(void)state;
	write_file(true, 3000);
	f = fopen(path, "rb");
	len = fread(whole, 1, sizeof(whole), f);
	fclose(f);
	assert_true(len > 1000 && len < sizeof(whole));
	uint64_t prev = 0;

	/* every cut from the magic to the end: no crash, never more messages
	 * than a longer cut, and the whole file gives them all */
	for (size_t cut = 8; cut <= len; cut += cut < 256 ? 1 : 97) {
		static struct qk_mcap_info in;
		struct seen s = { 0 };

		f = fopen(path, "wb");
		fwrite(whole, 1, cut, f);
		fclose(f);
		assert_int_equal(qk_mcap_read(path, &in, check_msg, &s, err, sizeof(err)), 0);
		assert_int_equal(s.bad, 0);
		assert_true(in.messages >= prev);
		prev = in.messages;
	}
	f = fopen(path, "wb");
	fwrite(whole, 1, len, f);
	fclose(f);
}

static void test_mcap_garbage_is_refused_with_a_reason(void **state)
{
	static struct qk_mcap_info in;
	char err[256] = "";
	FILE *f = fopen(path, "wb");

	(void)state;
	fputs("this is not an mcap file at all", f);
	fclose(f);
	assert_int_equal(qk_mcap_read(path, &in, NULL, NULL, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "is not an MCAP file"));
	assert_int_equal(qk_mcap_read("/nonexistent.mcap", &in, NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open /nonexistent.mcap"));
}

static void test_mcap_full_disk_is_an_error(void **state)
{
	struct qk_mcap_opts o = { .path = "/dev/full", .chunk_bytes = 16 * 1024 };
	char err[256] = "";

	(void)state;
	/* the header goes out at open: the first write fails there */
	assert_null(qk_mcap_open(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "writing /dev/full failed: No space left on device"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mcap_round_trip),
		cmocka_unit_test(test_mcap_cut_anywhere_reads_to_the_last_whole_record),
		cmocka_unit_test(test_mcap_garbage_is_refused_with_a_reason),
		cmocka_unit_test(test_mcap_full_disk_is_an_error),
		cmocka_unit_test(test_mcap_memory_stays_bounded_over_many_chunks),
		cmocka_unit_test(test_mcap_metadata_and_attachment),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
