/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * qiki-telemetry: the telemetry edge.  `run` exports a running instance to
 * an MCAP file and a TCP stream (proto/export.h); `info` and `cat` read an
 * MCAP file back (channels, counts, time range; messages as text).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "foxglove/Log.pb-c.h"
#include "foxglove/PoseInFrame.pb-c.h"
#include "proto/export.h"
#include "proto/mcap.h"
#include "qiki/v1/link.pb-c.h"
#include "qiki/v1/telemetry.pb-c.h"
#include "rt/cli.h"
#include "rt/proc.h"
#include "shm/seg.h"

#define PROG "qiki-telemetry"
#define VERSION "0.1.0"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* A truncated segment raises SIGBUS on the lost pages, and only ever while
 * the exporter reads it (between two messages, never inside the file's or a
 * client's writer), so the handler jumps back to the loop, which stops
 * reading the segment and finishes the file. */
static sigjmp_buf on_bus;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	(void)sig;
	if (bus_armed) {
		bus_armed = 0;
		siglongjmp(on_bus, 1);
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [run] [options]     export a running instance\n"
		"       " PROG " info FILE.mcap      channels, message counts, time range, the\n"
		"                                   run's metadata and attachments\n"
		"       " PROG " info --attachment NAME FILE.mcap   that attachment's bytes\n"
		"                                   (config.yaml: the run's configuration)\n"
		"       " PROG " cat FILE.mcap [--topic T] [--limit N]   messages as text\n\n"
		"run options:\n"
		"  -i, --instance NAME    the instance (default: default)\n"
		"  -o, --output FILE      write an MCAP file (Foxglove Studio, PlotJuggler, mcap CLI)\n"
		"      --listen [HOST:]PORT  serve length-delimited qiki.v1.TelemetryFrame over TCP\n"
		"                         (HOST default 127.0.0.1; PORT 0: any free one, printed)\n"
		"      --foxglove [HOST:]PORT  serve Foxglove Studio live (its WebSocket protocol,\n"
		"                         the MCAP file's channels and schemas); open\n"
		"                         ws://HOST:PORT in Studio's Foxglove WebSocket source\n"
		"  -r, --rate HZ          export rate (default: every cycle)\n"
		"      --compress KIND    zstd (default) or none\n"
		"      --chunk-kb N       MCAP chunk size before compression (default 512)\n"
		"      --avoid-cpu N      never run on CPU N, the loop's (default: the last CPU,\n"
		"                         as qiki run's loop; -1: run anywhere)\n"
		"  -q, --quiet            no summary at the end\n"
		"  -h, --help, --version\n\n"
		"It reads the instance's rings like any reader and never slows the loop:\n"
		"if it falls behind it loses frames, and says how many.  It stops on\n"
		"SIGINT/SIGTERM or when the loop shuts down, and finishes the file.\n"
		"If the segment is overwritten or truncated under it, it stops reading it, says\n"
		"which region, tells Foxglove clients, finishes the file and exits 6.\n"
		"Exit status: 0 done; 1 usage, a file or port problem; 2 no such instance;\n"
		"6 the segment was overwritten or truncated (the message names the region).\n");
}

/* ---- run -------------------------------------------------------------------- */

static int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "instance", required_argument, NULL, 'i' }, { "output", required_argument, NULL, 'o' },
		{ "listen", required_argument, NULL, 'l' }, { "rate", required_argument, NULL, 'r' },
		{ "compress", required_argument, NULL, 'z' }, { "chunk-kb", required_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' },
		{ "avoid-cpu", required_argument, NULL, 'a' },
		{ "foxglove", required_argument, NULL, 'f' },
		{ 0 }
	};
	struct qk_export_opts o = { .instance = "default", .zstd = true };
	struct qk_export_stats s;
	struct qk_export *volatile e = NULL;	/* volatile: read after siglongjmp */
	char err[768];
	bool quiet = false;
	int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int c, code;
	volatile int ret = 0;
	int kb = 512, avoid = ncpu - 1;

	while ((c = getopt_long(argc, argv, "i:o:r:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o.instance = optarg; break;
		case 'o': o.mcap_path = optarg; break;
		case 'l': o.listen = optarg; break;
		case 'f': o.foxglove = optarg; break;
		case 'r': {
			int hz;

			if (qk_parse_int(optarg, 1, 100000, &hz)) {
				fprintf(stderr, PROG ": --rate '%s': expected a rate in Hz, 1..100000\n", optarg);
				return 1;
			}
			o.rate_hz = (uint32_t)hz;
			break;
		}
		case 'z':
			if (strcmp(optarg, "zstd") && strcmp(optarg, "none")) {
				fprintf(stderr, PROG ": --compress '%s': expected zstd or none\n", optarg);
				return 1;
			}
			o.zstd = !strcmp(optarg, "zstd");
			break;
		case 'k':
			if (qk_parse_int(optarg, 16, 65536, &kb)) {
				fprintf(stderr, PROG ": --chunk-kb '%s': expected 16..65536\n", optarg);
				return 1;
			}
			break;
		case 'a':
			if (qk_parse_int(optarg, -1, ncpu - 1, &avoid)) {
				fprintf(stderr, PROG ": --avoid-cpu '%s': expected -1 or a CPU 0..%d\n",
					optarg, ncpu - 1);
				return 1;
			}
			break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 1;
	}
	if (!o.mcap_path && !o.listen && !o.foxglove) {
		fprintf(stderr, PROG ": nothing to do: give --output FILE.mcap, --listen PORT "
			"and/or --foxglove PORT\n");
		return 1;
	}
	if (!qk_seg_name_ok(o.instance)) {
		fprintf(stderr, PROG ": bad instance name '%s': use 1-31 of [A-Za-z0-9_.-]\n", o.instance);
		return 1;
	}
	o.chunk_bytes = (size_t)kb * 1024;
	/* off the loop's CPU: our syscalls (file writes, sends) run stretches of
	 * kernel code that would hold back the loop's wake-up there */
	if (avoid >= 0 && ncpu > 1) {
		cpu_set_t set;

		CPU_ZERO(&set);
		for (int i = 0; i < ncpu && i < CPU_SETSIZE; i++)
			if (i != avoid)
				CPU_SET(i, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fprintf(stderr, PROG ": cannot keep off CPU %d: %s\n", avoid, strerror(errno));
	}
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction bus = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &bus, NULL);
	if (sigsetjmp(on_bus, 1)) {	/* SIGBUS while attaching */
		fprintf(stderr, PROG ": /dev/shm/qiki.%s was truncated under us (SIGBUS) while "
			"attaching; stop the instance and check who can write it\n", o.instance);
		return QK_EXIT_SEGMENT;
	}
	bus_armed = 1;
	e = qk_export_open(&o, err, sizeof(err), &code);
	bus_armed = 0;
	if (!e) {
		fprintf(stderr, PROG ": %s\n", err);
		return code;
	}
	if (o.listen)
		printf(PROG ": streaming on port %d\n", qk_export_port(e));
	if (o.foxglove)
		printf(PROG ": Foxglove WebSocket on port %d (ws://%s)\n", qk_export_ws_port(e),
		       o.foxglove);
	fflush(stdout);
	if (sigsetjmp(on_bus, 1)) {
		char why[160];

		snprintf(why, sizeof(why), "/dev/shm/qiki.%s was truncated under us (SIGBUS)",
			 o.instance);
		qk_export_segment_lost(e, why);
		ret = qk_export_poll(e, err, sizeof(err));	/* -EPROTO, and err says why */
	}
	while (!stop && !ret) {
		struct timespec ts = { 0, 1000000 };	/* 1 ms: 10 frames at 10 kHz */

		bus_armed = 1;
		ret = qk_export_poll(e, err, sizeof(err));
		bus_armed = 0;
		if (ret)
			break;
		nanosleep(&ts, NULL);
	}
	if (ret == -EPROTO)
		fprintf(stderr, PROG ": %s; the file is finished up to here\n", err);
	else if (ret < 0)
		fprintf(stderr, PROG ": %s; the file is readable up to its last complete chunk; "
			"the loop is not affected\n", err);
	else {
		bus_armed = 1;
		ret = qk_export_poll(e, err, sizeof(err));	/* the last frames */
		bus_armed = 0;
		if (ret == -EPROTO)
			fprintf(stderr, PROG ": %s; the file is finished up to here\n", err);
		else
			ret = ret < 0 ? -1 : 0;
	}
	qk_export_get_stats(e, &s);
	if (qk_export_close(e, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		ret = -1;
	}
	if (!quiet) {
		double per = s.cycles_seen ? (double)s.cpu_ns / (double)s.cycles_seen / 1e3 : 0;

		printf(PROG ": %" PRIu64 " cycles seen, %" PRIu64 " exported, frames lost %" PRIu64
		       " sensor %" PRIu64 " actuator; %" PRIu64 " transitions\n", s.cycles_seen,
		       s.exported, s.lost_sensor, s.lost_actuator, s.transitions);
		if (o.mcap_path)
			printf(PROG ": %s: %" PRIu64 " messages, %" PRIu64 " bytes\n", o.mcap_path,
			       s.messages, s.bytes);
		if (o.listen)
			printf(PROG ": stream: %" PRIu64 " frames, %" PRIu64 " clients (%" PRIu64
			       " dropped), %" PRIu64 " frames lost by slow clients\n", s.stream_frames,
			       s.clients, s.clients_dropped, s.stream_lost);
		if (o.foxglove)
			printf(PROG ": foxglove: %" PRIu64 " clients, %" PRIu64 " messages sent, %" PRIu64
			       " lost by slow clients\n", s.ws_clients, s.ws_messages, s.ws_lost);
		printf(PROG ": CPU %.2f us per cycle seen\n", per);
	}
	return ret == -EPROTO ? QK_EXIT_SEGMENT : ret < 0 ? 1 : 0;
}

/* ---- info, cat ------------------------------------------------------------------ */

static const ProtobufCMessageDescriptor *descriptor(const char *schema)
{
	static const struct { const char *name; const ProtobufCMessageDescriptor *d; } known[] = {
		{ "qiki.v1.SensorFrame", &qiki__v1__sensor_frame__descriptor },
		{ "qiki.v1.ActuatorFrame", &qiki__v1__actuator_frame__descriptor },
		{ "qiki.v1.LoopTiming", &qiki__v1__loop_timing__descriptor },
		{ "qiki.v1.FsmStateSnapshot", &qiki__v1__fsm_state_snapshot__descriptor },
		{ "qiki.v1.StateTransition", &qiki__v1__state_transition__descriptor },
		{ "qiki.v1.BiosStatusReport", &qiki__v1__bios_status_report__descriptor },
		{ "qiki.v1.TelemetryFrame", &qiki__v1__telemetry_frame__descriptor },
		{ "qiki.v1.LinkStats", &qiki__v1__link_stats__descriptor },
		{ "foxglove.PoseInFrame", &foxglove__pose_in_frame__descriptor },
		{ "foxglove.Log", &foxglove__log__descriptor },
		{ "qiki.v1.ParameterChange", &qiki__v1__parameter_change__descriptor },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(known[i].name, schema))
			return known[i].d;
	return NULL;
}

static void print_value(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		printf("%d", *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		printf("%u", *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		printf("%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		printf("%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		printf("%g", (double)*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		printf("%.9g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		printf("%s", *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor,
										 *(const int *)p);

		if (v)
			printf("%s", v->name);
		else
			printf("%d", *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		putchar('"');
		for (; s && *s; s++)
			if (*s == '"' || *s == '\\')
				printf("\\%c", *s);
			else
				putchar(*s);
		putchar('"');
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		printf("<%zu bytes>", ((const ProtobufCBinaryData *)p)->len);
		break;
	case PROTOBUF_C_TYPE_MESSAGE:
		break;
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

/* Text form: field: value, message fields in braces, repeated in brackets. */
static void print_msg(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	bool first = true;

	printf("{");
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
			continue;
		printf("%s%s: ", first ? "" : ", ", f->name);
		first = false;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(const char *const *)base;

			printf("[");
			for (size_t k = 0; k < n; k++) {
				if (k)
					printf(", ");
				if (f->type == PROTOBUF_C_TYPE_MESSAGE)
					print_msg(((const ProtobufCMessage *const *)arr)[k]);
				else
					print_value(f, arr + k * value_size(f));
			}
			printf("]");
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;

			if (sub)
				print_msg(sub);
			else
				printf("null");
		} else {
			print_value(f, base);
		}
	}
	printf("}");
}

struct cat_ctx {
	const char *topic;
	long limit, printed;
	int bad;
};

static const struct qk_mcap_channel_info *chan_of(const struct qk_mcap_info *in, int ch)
{
	for (uint32_t k = 0; k < in->n_channels; k++)
		if (in->ch[k].id == ch)
			return &in->ch[k];
	return NULL;
}

static int cat_one(void *ctx, const struct qk_mcap_info *in, int ch, uint64_t t,
		   const uint8_t *data, size_t len)
{
	struct cat_ctx *c = ctx;
	const struct qk_mcap_channel_info *ci = chan_of(in, ch);
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;

	if (!ci || (c->topic && strcmp(c->topic, ci->topic)))
		return 0;
	d = descriptor(ci->schema_name);
	printf("%" PRIu64 ".%09" PRIu64 " %s ", t / 1000000000, t % 1000000000, ci->topic);
	if (!d || !(m = protobuf_c_message_unpack(d, NULL, len, data))) {
		printf("<%zu bytes of %s: cannot decode>\n", len, ci->schema_name);
		c->bad++;
	} else {
		print_msg(m);
		printf("\n");
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return c->limit > 0 && ++c->printed >= c->limit;
}

/* info --attachment NAME: its bytes on stdout, as they were attached. */
static int print_attachment(const struct qk_mcap_info *in, const char *file, const char *name)
{
	for (uint32_t k = 0; k < in->n_attach; k++) {
		const struct qk_mcap_attach_info *a = &in->attach[k];

		if (strcmp(a->name, name))
			continue;
		if (!a->crc_ok || a->kept < a->size) {
			fprintf(stderr, PROG ": %s in %s: %s\n", name, file, a->crc_ok ?
				"larger than this reader keeps" : "its CRC does not match: damaged");
			return 1;
		}
		fwrite(a->data, 1, a->kept, stdout);
		return 0;
	}
	fprintf(stderr, PROG ": no attachment '%s' in %s; its attachments:", name, file);
	for (uint32_t k = 0; k < in->n_attach; k++)
		fprintf(stderr, " %s", in->attach[k].name);
	fprintf(stderr, "%s\n", in->n_attach ? "" : " none");
	return 1;
}

static int cmd_read(int argc, char **argv, bool cat)
{
	static const struct option lo[] = {
		{ "topic", required_argument, NULL, 't' }, { "limit", required_argument, NULL, 'n' },
		{ "attachment", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	static struct qk_mcap_info in;
	struct cat_ctx cc = { 0 };
	const char *attachment = NULL;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': cc.topic = optarg; break;
		case 'a': attachment = optarg; break;
		case 'n': {
			int n;

			if (qk_parse_int(optarg, 1, 1 << 30, &n)) {
				fprintf(stderr, PROG ": --limit '%s': expected a positive count\n", optarg);
				return 1;
			}
			cc.limit = n;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, PROG ": %s: expected one FILE.mcap\n", cat ? "cat" : "info");
		return 1;
	}
	if (qk_mcap_read(argv[optind], &in, cat ? cat_one : NULL, &cc, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (cat && cc.topic) {
		bool known = false;

		for (uint32_t k = 0; k < in.n_channels; k++)
			known |= !strcmp(in.ch[k].topic, cc.topic);
		if (!known) {
			fprintf(stderr, PROG ": cat: no topic '%s' in %s; its topics:", cc.topic,
				argv[optind]);
			for (uint32_t k = 0; k < in.n_channels; k++)
				fprintf(stderr, " %s", in.ch[k].topic);
			fprintf(stderr, "\n");
			return 1;
		}
	}
	if (cat)
		return cc.bad ? 1 : 0;
	if (attachment)
		return print_attachment(&in, argv[optind], attachment);
	printf("file:        %s%s\n", argv[optind], in.has_summary ? "" :
	       " (not finished: no summary; read up to its last complete record)");
	printf("library:     %s\n", in.library);
	printf("messages:    %" PRIu64 " in %u chunks (compression %s)\n", in.messages, in.chunks,
	       in.compression);
	if (in.messages) {
		time_t s0 = (time_t)(in.first_time / 1000000000);
		struct tm tm;
		char b[32];

		gmtime_r(&s0, &tm);
		strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
		printf("start:       %s.%03" PRIu64 "Z\n", b, in.first_time % 1000000000 / 1000000);
		printf("duration:    %.3f s\n", (double)(in.last_time - in.first_time) / 1e9);
	}
	printf("channels:\n");
	for (uint32_t k = 0; k < in.n_channels; k++)
		printf("  %2d %-18s %-28s %10" PRIu64 " msgs\n", in.ch[k].id, in.ch[k].topic,
		       in.ch[k].schema_name, in.ch[k].count);
	if (in.n_pairs)
		printf("metadata:\n");
	for (uint32_t k = 0; k < in.n_pairs; k++)
		printf("  %s.%-16s %s\n", in.pair[k].record, in.pair[k].key, in.pair[k].value);
	if (in.n_attach)
		printf("attachments:\n");
	for (uint32_t k = 0; k < in.n_attach; k++)
		printf("  %-18s %-20s %" PRIu64 " bytes, CRC %s (info --attachment %s)\n",
		       in.attach[k].name, in.attach[k].media_type, in.attach[k].size,
		       in.attach[k].crc_ok ? "ok" : "WRONG", in.attach[k].name);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf(PROG " %s (layout %u)\n", VERSION, QK_LAYOUT_VERSION);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "info"))
		return cmd_read(argc - 1, argv + 1, false);
	if (argc >= 2 && !strcmp(argv[1], "cat"))
		return cmd_read(argc - 1, argv + 1, true);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (argc >= 2 && argv[1][0] != '-') {
		fprintf(stderr, PROG ": unknown command '%s': run, info or cat (see --help)\n", argv[1]);
		return 1;
	}
	return cmd_run(argc, argv);
}
