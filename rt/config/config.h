/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * rt/config/config.h - the configuration: built-in profiles, YAML files, checks.
 *
 * Contract: ordinary library code for start-up and tools; not real-time safe
 * (it allocates, reads files, formats text).  Every function works on a
 * struct qk_config the caller owns; there is no global state, so any number of
 * threads may use it on distinct structs.  Nothing prints: errors come back as
 * -errno and a message in the caller's why[] buffer.
 *
 * Where a configuration comes from:
 *   qk_config_profile()  a built-in profile ("bot", the default, or "ship"),
 *   qk_config_load()     then a YAML file that overrides what it names,
 *   (command-line flags) then the launcher's own overrides,
 *   qk_config_validate() and last the cross-field checks.
 * qk_config_load() validates its result too, so that a file's mistake is
 * reported at the file's line; on error *c is left unchanged.
 *
 * Determinism: every function writes whole structs that start zeroed (names
 * are zero-filled to QK_NAME_LEN, unused array slots are zero), so two equal
 * configurations compare equal with memcmp() and hash alike.
 *
 * YAML format (rt/config/profiles/bot.yaml is the documented example; it is
 * qk_config_dump() of the built-in "bot" profile, kept in sync by a test):
 *
 *   profile: ship          # optional, and then the first key: start again
 *                          # from this built-in profile
 *   rate_hz: 1000          # scalars override one field
 *   wake: timer            # timer | futex | spin | lockstep
 *   tank: {isp_s: 70}      # a mapping of a struct overrides the keys it names
 *   thrusters:             # a list replaces the profile's list, and each
 *     - {name: thr_px, pos_m: [-0.3, 0, 0], dir: [1, 0, 0],
 *        max_thrust_n: 20, power_w: 5}      # item must give every key
 *   thermal:
 *     - {name: avionics, capacity_j_per_k: 2000, radiator_area_m2: 0.05,
 *        emissivity: 0.8, absorbed_w: 4.7, load_share: 0.6, heater_w: 10,
 *        initial_k: 293, min_k: 250, max_k: 330}
 *   coupling:              # [node, node, W/K] by name, symmetric; the pairs
 *     - [avionics, propulsion, 0.5]         # not listed are 0
 *   devices:               # the hardware profile POST expects
 *     - {name: imu, type: sensor, sensor: imu, critical: true}
 *     - {name: temp_avionics, type: sensor, sensor: thermal, node: avionics,
 *        critical: false}
 *     - {name: thr_px, type: actuator, thruster: thr_px, critical: true}
 *     - {name: comms, type: comms, critical: false}
 *
 * Device types: sensor actuator power comms controller; sensor kinds: imu
 * nav tank battery thermal.  A thermal sensor names its node (node:), an
 * actuator its thruster (thruster:); `index: N` is accepted instead of
 * either.  References are by name and resolved after the whole file is read,
 * so keys may come in any order; when a file replaces the thermal or thruster
 * list but not the devices (or coupling), the profile's devices and couplings
 * follow their nodes and thrusters by name.  Thruster directions are
 * normalised on load.  Numbers are strict: a whole finite decimal number
 * ("1e999", "abc", "" and "nan" are refused), integers are decimal integers,
 * booleans are true or false.  Unknown keys are errors that list the valid
 * keys at that level.
 */
#ifndef QK_RT_CONFIG_H
#define QK_RT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "shm/layout.h"

/* Fills *c (zeroed first) with a built-in profile: "bot" (also for NULL) or
 * "ship".  0, or -ENOENT with the known names in why. */
int qk_config_profile(struct qk_config *c, const char *name, char *why, size_t n);

/* Reads the YAML file at path on top of *c (see the format above) and
 * validates the result.  0, or -errno: -ENOENT and the like when the file
 * cannot be read, -EINVAL for a bad file, with why =
 * "FILE:LINE:COL: field 'thermal[1].max_k': expected a number in kelvin > 0,
 * got 'abc'".  On error *c is unchanged. */
int qk_config_load(struct qk_config *c, const char *path, char *why, size_t n);
/* The same on a buffer; name stands for the file in messages.  Both refuse
 * a file larger than QK_CONFIG_MAX_BYTES (-EFBIG), nested deeper than
 * QK_CONFIG_MAX_DEPTH or using aliases (-EINVAL), before building the tree:
 * the cost of a refusal is linear in the bytes read. */
int qk_config_load_mem(struct qk_config *c, const char *name, const void *buf, size_t len,
		       char *why, size_t n);
#define QK_CONFIG_MAX_BYTES (256 * 1024)
#define QK_CONFIG_MAX_DEPTH 16

/* The command-line way to a configuration, shared by the programs that
 * build one (qiki run, qiki-hil-device), in one order:
 *   1. the built-in profile (--profile; NULL: bot),
 *   2. the YAML file (--config; NULL: none) on top of it: a file whose
 *      first key is `profile:` starts again from that profile instead,
 *   3. the flags (--rate, --seed; NULL: the file's), last.
 * 0, or -errno with why naming the option and what it takes; *c is not yet
 * validated.  When warn is given (warn_n bytes), it says where a file
 * disagrees with a --profile given explicitly: its own `profile:` names
 * another one, or it sets fields that profile set differently (named, with
 * both values: "rate_hz 500 -> 1000, tank.isp_s 70 -> 65"); "" otherwise. */
struct qk_config_opts {
	const char *profile, *file, *rate, *seed;
	char *warn;
	size_t warn_n;
};
int qk_config_from_options(struct qk_config *c, const struct qk_config_opts *o, char *why,
			   size_t n);

/* Cross-field checks (counts, rate, limits, unique names, device indexes, a
 * thermal sensor per node, ...).  0, or -EINVAL with why =
 * "field 'tank.p_empty_bar': expected < p_full_bar (20), got 25". */
int qk_config_validate(const struct qk_config *c, char *why, size_t n);

/* Writes *c as commented YAML that qk_config_load() reads back into an
 * identical struct (for a valid configuration of a built-in profile).
 * 0, or -EIO when the stream failed. */
int qk_config_dump(const struct qk_config *c, FILE *out);

/* The index of the device named name, or -1. */
int qk_config_device(const struct qk_config *c, const char *name);

/* "timer" "futex" "spin" "lockstep"; "unknown" for anything else. */
const char *qk_wake_mode_name(unsigned mode);

/* The inverse: an enum qk_wake_mode, or -1. */
int qk_wake_mode_parse(const char *s);

/* ---- private to rt/config/ ---------------------------------------------------
 * The field tables drive the loader, the checks and the dump alike, so the
 * three cannot disagree about a key's name, type, unit or range. */

enum qk__ftype {
	QK__F_NUM,	/* double */
	QK__F_VEC3,	/* double[3] */
	QK__F_U32,	/* uint32_t in [lo, hi] */
	QK__F_I64,	/* int64_t >= 0 */
	QK__F_U64,	/* uint64_t */
	QK__F_NAME,	/* char[QK_NAME_LEN] */
	QK__F_WAKE,	/* uint32_t enum qk_wake_mode */
};

enum qk__fcons {	/* the domain of a QK__F_NUM */
	QK__C_ANY,	/* finite */
	QK__C_POS,	/* > 0 */
	QK__C_NONNEG,	/* >= 0 */
	QK__C_FRAC,	/* 0..1 */
	QK__C_CONF,	/* (0, 1] */
	QK__C_DIR,	/* QK__F_VEC3: a direction, normalised on load */
};

struct qk__field {
	const char *key;
	unsigned char type, cons;	/* enum qk__ftype, enum qk__fcons */
	unsigned short off;		/* in the struct the table describes */
	const char *unit;		/* "kelvin", or NULL */
	unsigned lo, hi;		/* QK__F_U32 range */
	const char *comment;		/* for the dump; NULL for none */
	double max;			/* QK__F_NUM, _VEC3, _I64: plausible |value| */
};

enum qk__section {
	QK__S_TOP, QK__S_TANK, QK__S_BATTERY, QK__S_NOISE, QK__S_CONTROL,
	QK__S_LIMITS, QK__S_THRUSTER, QK__S_THERMAL, QK__S_COUNT
};

/* The fields of a section, its YAML key, and where its struct sits in a
 * qk_config (element 0 for the lists). */
const struct qk__field *qk__config_fields(unsigned section, unsigned *count,
					  const char **key, size_t *base);

/* A whole section: its fields, YAML key, comment for the dump, and offset. */
struct qk__section_desc {
	const struct qk__field *f;
	unsigned count;
	const char *key, *comment;
	size_t base;
};
const struct qk__section_desc *qk__config_section(unsigned section);

/* "expected ..." text for a field: "a number in kelvin > 0". */
void qk__config_expect(const struct qk__field *f, char *buf, size_t n);

/* Whether a value the field holds is in its domain. */
int qk__config_field_ok(const struct qk__field *f, const void *base);

/* The validator behind qk_config_validate(): on error path gets the field
 * ("thermal[1].max_k") and msg the rest ("expected ..., got ..."). */
int qk__config_check(const struct qk_config *c, char *path, size_t pn,
		     char *msg, size_t mn);

/* The fields where file differs from profile, as "key a -> b, ..." in buf
 * (cut with "..."): how many. */
unsigned qk__config_overrides(const struct qk_config *profile, const struct qk_config *file,
			      char *buf, size_t n);
/* ---- runtime parameters (rt/agent/param.h) change one scalar field of a
 * running configuration: its type and bounds come from the tables above,
 * and the relations below keep what qk_config_validate() checks. */

/* The field `key` of a section, or NULL. */
const struct qk__field *qk__config_field(unsigned section, const char *key);

/* The relations between two fields of one struct that the validator
 * checks: `key` < `other` (other NULL: < 1). */
struct qk__relation {
	unsigned section;
	const char *key, *other;
};

/* Whether the struct at base (of section `section`) keeps every relation
 * that involves field f: NULL when it does, else the relation it breaks.
 * Loads and compares only: no formatting, real-time safe. */
const struct qk__relation *qk__config_relation_broken(unsigned section, const struct qk__field *f,
						      const void *base);

/* The words for a broken relation, from f's side: "expected < max_bar (12)". */
void qk__config_relation_words(const struct qk__relation *r, const struct qk__field *f,
			       const void *base, char *buf, size_t n);

/* Names of enum values: device types, sensor kinds; -1 when unknown. */
extern const char *const qk__dev_type_names[QK_DEV_TYPE_COUNT];
extern const char *const qk__sensor_names[QK_SK_THERMAL + 1];
int qk__config_lookup(const char *const *names, unsigned count, const char *s);

/* A valid name: 1..QK_NAME_LEN-1 of [A-Za-z0-9_.-], not starting with . or - */
int qk__config_name_ok(const char *s);

#endif
