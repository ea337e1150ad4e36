/*
 * rt/hil/wire.h - the HIL wire codec: qiki's frames on UDP, byte for byte
 * as docs/hil-protocol.md describes them.
 *
 * Contract
 * - Freestanding C11: it includes only <stdbool.h>, <stddef.h> and
 *   <stdint.h>, calls no library function (not even memcpy), allocates
 *   nothing and keeps no state of its own.  A firmware author copies
 *   wire.h and wire.c into a microcontroller project and builds them with
 *   -ffreestanding -nostdlib; `make test` proves that it does (and
 *   cross-builds it for a Cortex-M4 when arm-none-eabi-gcc is there).
 * - Every call is pure, bounded (O(frame bytes)) and real-time safe; any
 *   number of threads may call it on distinct buffers.
 * - Encoding writes little-endian whatever the host, so the same bytes go
 *   out of an x86 bridge and an ARM device.
 * - Decoding trusts nothing: a frame is accepted only when it is long
 *   enough, its trailing CRC32C matches (checked first, so corruption
 *   anywhere counts as corruption), and it has our magic, our version, a
 *   known type and exactly the payload length its type allows.  The reason
 *   of a refusal is returned, so the caller can count it.  Sequence
 *   checks (stale, duplicate) need the receiver's memory and are done by
 *   qk_hil_seq_check() on state the caller keeps.
 */
#ifndef QK_RT_HIL_WIRE_H
#define QK_RT_HIL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QK_HIL_MAGIC    0x4c484b51u	/* "QKHL" as bytes on the wire */
#define QK_HIL_VERSION  1u
#define QK_HIL_HDR_LEN  40u		/* header bytes, before the payload */
#define QK_HIL_CRC_LEN  4u		/* CRC32C after the payload */
#define QK_HIL_NAME_LEN 24u
#define QK_HIL_MAX_THR  16u
#define QK_HIL_MAX_HEAT 8u
#define QK_HIL_MAX_TEMP 8u
#define QK_HIL_MAX_DEV  32u
#define QK_HIL_DEV_LEN  28u		/* one POST entry in HELLO-ACK */
#define QK_HIL_MAX_FRAME 1024u		/* the largest frame: a full HELLO-ACK */

enum qk_hil_type {
	QK_HIL_HELLO = 1,		/* bridge -> device: who I am, what I expect */
	QK_HIL_HELLO_ACK = 2,		/* device -> bridge: verdict and POST table */
	QK_HIL_SENSORS = 3,		/* device -> bridge, once per actuator frame */
	QK_HIL_ACTUATORS = 4,		/* bridge -> device, once per cycle */
	QK_HIL_HEARTBEAT = 5,		/* either way: alive, nothing to say */
	QK_HIL_BYE = 6,			/* either way: the session ends */
	QK_HIL_TYPE_MAX = 6
};

/* Why a frame was refused; QK_HIL_OK is 0. */
enum qk_hil_err {
	QK_HIL_OK = 0,
	QK_HIL_E_SHORT,			/* fewer bytes than a header and a CRC */
	QK_HIL_E_CRC,			/* CRC32C mismatch: corrupted */
	QK_HIL_E_MAGIC,			/* not a qiki HIL frame */
	QK_HIL_E_VERSION,		/* another protocol version (hdr.version says which) */
	QK_HIL_E_TYPE,			/* an unknown message type */
	QK_HIL_E_LENGTH,		/* payload length wrong for its type or the datagram */
	QK_HIL_E_STALE,			/* sequence older than one already taken */
	QK_HIL_E_DUPLICATE,		/* sequence equal to the last taken */
	QK_HIL_E_COUNT
};

/* ACTUATORS flags beside qiki's QK_ACTF_* (bit 0: the agent commands safe
 * outputs): the bridge has no frame of the agent's to send (its watchdog),
 * so the device applies no actuation at all: everything off. */
#define QK_HIL_ACTF_OFF (1u << 31)
/* SENSORS flags */
#define QK_HIL_SENSF_WATCHDOG (1u << 0)	/* the device's watchdog holds actuation off */

/* HELLO-ACK verdicts */
enum qk_hil_status { QK_HIL_ACCEPT = 0, QK_HIL_REFUSE_VERSION = 1, QK_HIL_REFUSE_PROFILE = 2 };

/* BYE reasons */
enum qk_hil_bye { QK_HIL_BYE_SHUTDOWN = 0, QK_HIL_BYE_REFUSED = 1 };

struct qk_hil_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;			/* enum qk_hil_type */
	uint16_t len;			/* payload bytes */
	uint32_t seq;			/* the sender's, +1 per frame sent */
	uint32_t ack;			/* the last sequence taken from the peer */
	int64_t tx_ns;			/* sender's clock when sent */
	int64_t echo_tx_ns;		/* the peer's tx_ns of frame `ack` */
	int64_t echo_rx_ns;		/* sender's clock when frame `ack` arrived */
};

struct qk_hil_hello {			/* 48 bytes */
	char profile[QK_HIL_NAME_LEN];	/* NUL-padded */
	uint32_t rate_hz;
	uint32_t n_thrusters, n_thermal, n_devices;
	uint64_t session;		/* bridge's nonce: ACKs must echo it */
};

struct qk_hil_post_entry {		/* 28 bytes */
	char name[QK_HIL_NAME_LEN];
	uint8_t type;			/* enum qk_device_type */
	uint8_t status;			/* enum qk_device_status_code */
	uint8_t code;			/* enum qk_post_code */
	uint8_t pad;
};

struct qk_hil_hello_ack {		/* 48 + 28 * n_devices bytes */
	uint32_t status;		/* enum qk_hil_status */
	uint32_t firmware_version;
	char profile[QK_HIL_NAME_LEN];	/* the device's own */
	uint64_t session;		/* echoed from HELLO */
	uint32_t n_devices;		/* entries below, <= QK_HIL_MAX_DEV */
	uint32_t rate_hz;		/* the device's own */
	struct qk_hil_post_entry device[QK_HIL_MAX_DEV];
};

struct qk_hil_sensors {			/* 208 bytes */
	uint64_t cycle;			/* the actuator frame's cycle this answers */
	uint32_t valid, flags;		/* as qk_sensor_frame */
	double accel_mps2[3], pos_m[3], vel_mps[3];
	double tank_bar, propellant_kg, mass_kg;
	double batt_v, batt_a, batt_soc;
	uint32_t n_thermal, pad;
	double temp_k[QK_HIL_MAX_TEMP];
};

struct qk_hil_actuators {		/* 208 bytes */
	uint64_t cycle;			/* the bridge's cycle */
	uint32_t state;			/* the agent's enum qk_fsm_state */
	uint32_t flags;			/* QK_ACTF_* */
	double throttle[QK_HIL_MAX_THR];
	double heater[QK_HIL_MAX_HEAT];
};

struct qk_hil_bye_msg {			/* 4 bytes */
	uint32_t reason;		/* enum qk_hil_bye */
};

struct qk_hil_msg {
	struct qk_hil_hdr hdr;
	union {
		struct qk_hil_hello hello;
		struct qk_hil_hello_ack ack;
		struct qk_hil_sensors sensors;
		struct qk_hil_actuators act;
		struct qk_hil_bye_msg bye;
	} u;
};

/* Payload bytes of each fixed type; HELLO-ACK is QK_HIL_ACK_LEN(n). */
#define QK_HIL_HELLO_LEN     48u
#define QK_HIL_ACK_LEN(n)    (48u + QK_HIL_DEV_LEN * (uint32_t)(n))
#define QK_HIL_SENSORS_LEN   208u
#define QK_HIL_ACT_LEN       208u
#define QK_HIL_BYE_LEN       4u

/* CRC32C (Castagnoli, reflected 0x82F63B78, init and final xor ~0):
 * "123456789" -> 0xE3069283.  Nibble-table software: 64 bytes of table. */
uint32_t qk_hil_crc32c(uint32_t crc, const void *data, size_t n);

/* Encodes m (hdr.type and the matching union member; hdr.len and hdr.magic
 * are filled in here, hdr.version is taken as given so tests can speak
 * another version) into buf.  Returns the frame's length, or 0 when cap is
 * too small or the message is malformed (unknown type, n_devices too big). */
size_t qk_hil_encode(const struct qk_hil_msg *m, void *buf, size_t cap);

/* Decodes n bytes; fills *m and returns QK_HIL_OK, or the reason for the
 * refusal.  On QK_HIL_E_VERSION, m->hdr holds magic, version and type, so the
 * caller can name the peer's version; on any other error *m is undefined. */
enum qk_hil_err qk_hil_decode(const void *buf, size_t n, struct qk_hil_msg *m);

/* Receiver's sequence memory: one per peer and direction. */
struct qk_hil_seq {
	uint32_t last;
	bool any;			/* a frame has been taken */
};

/* Takes seq if it is newer than the last one taken (by serial-number
 * difference, so it wraps): QK_HIL_OK and *lost += the gap; else
 * QK_HIL_E_DUPLICATE or QK_HIL_E_STALE and nothing changes. */
enum qk_hil_err qk_hil_seq_check(struct qk_hil_seq *s, uint32_t seq, uint64_t *lost);

/* A short name of an error, for counters and logs ("short", "crc", ...). */
const char *qk_hil_err_name(enum qk_hil_err e);
const char *qk_hil_type_name(unsigned type);

#endif
