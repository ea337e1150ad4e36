/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* shm/seg.c - segment life cycle and the ABI check; contract in shm/seg.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm/seg.h"

#define LOCK_CREATOR 0
#define QK_SEG_MAX_BYTES (256u << 20)	/* far above any layout's size */

static const uint32_t struct_sizes[QK_S_COUNT] = {
	[QK_S_HDR] = sizeof(struct qk_seg_hdr),
	[QK_S_CONFIG] = sizeof(struct qk_config),
	[QK_S_SENSOR_FRAME] = sizeof(struct qk_sensor_frame),
	[QK_S_ACTUATOR_FRAME] = sizeof(struct qk_actuator_frame),
	[QK_S_BIOS_REPORT] = sizeof(struct qk_bios_report),
	[QK_S_AGENT_STATUS] = sizeof(struct qk_agent_status),
	[QK_S_SIM_STATUS] = sizeof(struct qk_sim_status),
	[QK_S_CMD] = sizeof(struct qk_cmd),
	[QK_S_REPLY] = sizeof(struct qk_reply),
	[QK_S_PROC_STATS] = sizeof(struct qk_proc_stats),
	[QK_S_RING] = sizeof(struct qk_ring),
	[QK_S_CMDQ] = sizeof(struct qk_cmdq),
	[QK_S_MBOX] = sizeof(struct qk_mbox),
	[QK_S_LINK_STATS] = sizeof(struct qk_link_stats),
	[QK_S_PARAM_STATUS] = sizeof(struct qk_param_status),
};

static const char *const struct_names[QK_S_COUNT] = {
	"qk_seg_hdr", "qk_config", "qk_sensor_frame", "qk_actuator_frame",
	"qk_bios_report", "qk_agent_status", "qk_sim_status", "qk_cmd",
	"qk_reply", "qk_proc_stats", "qk_ring", "qk_cmdq", "qk_mbox", "qk_link_stats",
	"qk_param_status",
};

static size_t align_line(size_t n)
{
	return (n + QK_CACHELINE - 1) & ~(size_t)(QK_CACHELINE - 1);
}

/* The one place region offsets come from; create stores them, attach
 * recomputes and compares. */
static size_t layout(uint64_t off[QK_R_COUNT])
{
	const size_t sz[QK_R_COUNT] = {
		[QK_R_CONFIG] = sizeof(struct qk_config),
		[QK_R_SENSORS] = qk_ring_footprint(QK_SENSOR_RING_CAP, sizeof(struct qk_sensor_frame)),
		[QK_R_ACTUATORS] = qk_ring_footprint(QK_ACT_RING_CAP, sizeof(struct qk_actuator_frame)),
		[QK_R_BIOS] = qk_mbox_footprint(sizeof(struct qk_bios_report)),
		[QK_R_AGENT_STATUS] = qk_mbox_footprint(sizeof(struct qk_agent_status)),
		[QK_R_SIM_STATUS] = qk_mbox_footprint(sizeof(struct qk_sim_status)),
		[QK_R_AGENT_CMDQ] = qk_cmdq_footprint(QK_CMDQ_CAP, sizeof(struct qk_cmd)),
		[QK_R_AGENT_REPLIES] = qk_ring_footprint(QK_REPLY_RING_CAP, sizeof(struct qk_reply)),
		[QK_R_SIM_CMDQ] = qk_cmdq_footprint(QK_CMDQ_CAP, sizeof(struct qk_cmd)),
		[QK_R_SIM_REPLIES] = qk_ring_footprint(QK_REPLY_RING_CAP, sizeof(struct qk_reply)),
		[QK_R_STATS] = QK_PROC_COUNT * sizeof(struct qk_proc_stats),
		[QK_R_LINK] = sizeof(struct qk_link_stats),
		[QK_R_PARAMS] = qk_mbox_footprint(sizeof(struct qk_param_status)),
	};
	size_t at = align_line(sizeof(struct qk_seg_hdr));

	for (int i = 0; i < QK_R_COUNT; i++) {
		off[i] = at;
		at = align_line(at + sz[i]);
	}
	return at;
}

static void set_err(struct qk_seg *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct qk_seg *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

bool qk_seg_name_ok(const char *instance)
{
	size_t n = strlen(instance);

	if (n < 1 || n > 31 || instance[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = instance[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int set_path(struct qk_seg *s, const char *instance)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (!qk_seg_name_ok(instance)) {
		set_err(s, "bad instance name '%s': use 1-31 of [A-Za-z0-9_.-]", instance);
		return -EINVAL;
	}
	snprintf(s->path, sizeof(s->path), "/qiki.%s", instance);
	return 0;
}

static const char *const region_names[QK_R_COUNT + 1] = {
	[QK_R_CONFIG] = "config", [QK_R_SENSORS] = "sensors ring",
	[QK_R_ACTUATORS] = "actuators ring", [QK_R_BIOS] = "bios mailbox",
	[QK_R_AGENT_STATUS] = "agent status mailbox", [QK_R_SIM_STATUS] = "sim status mailbox",
	[QK_R_AGENT_CMDQ] = "agent command queue", [QK_R_AGENT_REPLIES] = "agent replies ring",
	[QK_R_SIM_CMDQ] = "sim command queue", [QK_R_SIM_REPLIES] = "sim replies ring",
	[QK_R_STATS] = "stats", [QK_R_LINK] = "HIL link stats", [QK_R_PARAMS] = "parameters mailbox",
	[QK_R_HEADER] = "header",
};

const char *qk_seg_region_name(int region)
{
	return region >= 0 && region <= QK_R_HEADER ? region_names[region] : "?";
}

/* Each ring, queue and mailbox: its region, its port, its geometry. */
static const struct { int region, port; uint32_t cap, size; } rings[] = {
	{ QK_R_SENSORS, 0, QK_SENSOR_RING_CAP, sizeof(struct qk_sensor_frame) },
	{ QK_R_ACTUATORS, 1, QK_ACT_RING_CAP, sizeof(struct qk_actuator_frame) },
	{ QK_R_AGENT_REPLIES, 2, QK_REPLY_RING_CAP, sizeof(struct qk_reply) },
	{ QK_R_SIM_REPLIES, 3, QK_REPLY_RING_CAP, sizeof(struct qk_reply) },
}, cmdqs[] = {
	{ QK_R_AGENT_CMDQ, 0, QK_CMDQ_CAP, sizeof(struct qk_cmd) },
	{ QK_R_SIM_CMDQ, 1, QK_CMDQ_CAP, sizeof(struct qk_cmd) },
}, mboxes[] = {
	{ QK_R_BIOS, 0, 0, sizeof(struct qk_bios_report) },
	{ QK_R_AGENT_STATUS, 1, 0, sizeof(struct qk_agent_status) },
	{ QK_R_SIM_STATUS, 2, 0, sizeof(struct qk_sim_status) },
	{ QK_R_PARAMS, 3, 0, sizeof(struct qk_param_status) },
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Offsets come from this build's layout(), never from the header. */
static void *region(struct qk_seg *s, int r)
{
	uint64_t off[QK_R_COUNT];

	layout(off);
	return (unsigned char *)s->base + off[r];
}

static void point_ports(struct qk_seg *s)
{
	layout(s->region_off);
	s->config = &s->cfg;
	s->sensors = &s->ring_port[0];
	s->actuators = &s->ring_port[1];
	s->agent_replies = &s->ring_port[2];
	s->sim_replies = &s->ring_port[3];
	s->agent_cmdq = &s->cmdq_port[0];
	s->sim_cmdq = &s->cmdq_port[1];
	s->bios = &s->mbox_port[0];
	s->agent_status = &s->mbox_port[1];
	s->sim_status = &s->mbox_port[2];
	s->params = &s->mbox_port[3];
	s->stats = region(s, QK_R_STATS);
	s->link = region(s, QK_R_LINK);
}

/* Opens every port against its region: -1, or the region that is not what
 * this build would have made. */
static int open_ports(struct qk_seg *s)
{
	for (size_t i = 0; i < N(rings); i++)
		if (qk_ring_open(&s->ring_port[rings[i].port], region(s, rings[i].region),
				 rings[i].cap, rings[i].size))
			return rings[i].region;
	for (size_t i = 0; i < N(cmdqs); i++)
		if (qk_cmdq_open(&s->cmdq_port[cmdqs[i].port], region(s, cmdqs[i].region),
				 cmdqs[i].cap, cmdqs[i].size))
			return cmdqs[i].region;
	for (size_t i = 0; i < N(mboxes); i++)
		if (qk_mbox_open(&s->mbox_port[mboxes[i].port], region(s, mboxes[i].region),
				 mboxes[i].size))
			return mboxes[i].region;
	point_ports(s);
	return -1;
}

static bool terminated(const char *str, size_t n)
{
	return memchr(str, '\0', n) != NULL;
}

/* The private copy of the configuration: counts within the arrays, names
 * terminated, a rate the header's period agrees with.  NULL or what is wrong. */
static const char *config_wrong(const struct qk_config *c, int64_t period_ns)
{
	if (c->rate_hz < 1 || c->rate_hz > 100000 || period_ns != 1000000000 / c->rate_hz)
		return "rate and period disagree";
	if (c->n_thrusters > QK_MAX_THRUSTERS || c->n_thermal > QK_MAX_THERMAL ||
	    c->n_devices > QK_MAX_DEVICES)
		return "a count exceeds its array";
	if (!terminated(c->profile, sizeof(c->profile)))
		return "profile name not terminated";
	for (unsigned i = 0; i < QK_MAX_THRUSTERS; i++)
		if (!terminated(c->thruster[i].name, QK_NAME_LEN))
			return "thruster name not terminated";
	for (unsigned i = 0; i < QK_MAX_THERMAL; i++)
		if (!terminated(c->thermal[i].name, QK_NAME_LEN))
			return "thermal node name not terminated";
	for (unsigned i = 0; i < QK_MAX_DEVICES; i++)
		if (!terminated(c->device[i].name, QK_NAME_LEN))
			return "device name not terminated";
	return NULL;
}

/* OFD locks: owned by the open file description, dropped by the kernel when
 * the last descriptor to it closes, i.e. when the process dies. */
static int lock_byte(int fd, int byte, bool wait)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static void unlock_byte(int fd, int byte)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	fcntl(fd, F_OFD_SETLK, &fl);
}

static bool locked(int fd, int start, int len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return true;	/* cannot tell: assume alive, never reclaim blindly */
	return fl.l_type != F_UNLCK;
}

bool qk_seg_alive(const struct qk_seg *s, int p)
{
	return locked(s->fd, p == QK_PROC_COUNT ? LOCK_CREATOR : 1 + p, 1);
}

bool qk_seg_any_alive(const struct qk_seg *s)
{
	return locked(s->fd, 0, 1 + QK_PROC_COUNT);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 0 when the file reads as a qiki segment (any layout version, published or
 * left half-built by its creator) whose size is the one its header records,
 * or is empty (a creator died before sizing it: nothing to lose); -ENOTSUP
 * not a qiki header, -EFBIG a size that does not fit it. */
static int reclaimable(int fd)
{
	struct qk_seg_hdr h;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -ENOTSUP;
	if (st.st_size == 0)
		return 0;
	if ((size_t)st.st_size < sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -ENOTSUP;
	static const struct qk_seg_hdr zero;
	uint64_t off[QK_R_COUNT];

	/* sized by a creator of this build that died before writing a byte */
	if (!memcmp(&h, &zero, sizeof(h)))
		return (size_t)st.st_size == layout(off) ? 0 : -ENOTSUP;
	/* a private copy: plain reads are fine, nobody runs on it */
	uint64_t magic = qk_load_relaxed(&h.magic);

	if (magic != QK_SEG_MAGIC &&
	    !(magic == 0 && qk_load_relaxed(&h.state) == QK_SEG_INITIALISING))
		return -ENOTSUP;
	if (h.hdr_size < offsetof(struct qk_seg_hdr, struct_size) || h.hdr_size > 4096 ||
	    h.seg_size != (uint64_t)st.st_size || h.seg_size > QK_SEG_MAX_BYTES)
		return -EFBIG;
	return 0;
}

/* An existing segment: refuse it if alive, replace it if stale and allowed. */
static int take_over_stale(struct qk_seg *s, const char *instance, unsigned flags)
{
	int fd = shm_open(s->path, O_RDWR, 0);
	int ret;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (locked(fd, 0, 1 + QK_PROC_COUNT)) {
		struct qk_seg_hdr h = { 0 };

		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			h.creator_pid = 0;
		set_err(s, "instance '%s' is running (segment /dev/shm%s, creator pid %d): "
			"stop it first, or use another --instance", instance, s->path,
			(int)h.creator_pid);
		close(fd);
		return -EEXIST;
	}
	if (!(flags & QK_SEG_RECLAIM)) {
		set_err(s, "instance '%s' left a stale segment /dev/shm%s (no live process "
			"holds it): reclaim it or remove that file", instance, s->path);
		close(fd);
		return -EEXIST;
	}
	/* Only ever reclaim what reads as a qiki segment: a foreign file of
	 * that name is someone's data, and is refused as qikictl refuses it. */
	ret = reclaimable(fd);
	if (ret) {
		struct qk_seg_hdr h = { 0 };

		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
			memset(&h, 0, sizeof(h));
		set_err(s, "/dev/shm%s is not a qiki segment (magic %#llx, %s): remove it or use "
			"another --instance", s->path, (unsigned long long)h.magic,
			ret == -EFBIG ? "an implausible size" : "no qiki header");
		close(fd);
		return -ENOTSUP;
	}
	/* Holding the creator byte while unlinking makes two reclaimers race
	 * safely: the loser's lock fails and it reports the instance as live. */
	ret = lock_byte(fd, LOCK_CREATOR, false);
	if (!ret && shm_unlink(s->path) < 0 && errno != ENOENT)
		ret = -errno;
	close(fd);
	if (ret)
		set_err(s, "cannot reclaim stale segment /dev/shm%s: %s", s->path, strerror(-ret));
	return ret ? ret : 1;
}

int qk_seg_create(struct qk_seg *s, const char *instance, const struct qk_config *cfg,
		  unsigned flags)
{
	uint64_t off[QK_R_COUNT];
	size_t size = layout(off);
	int ret = set_path(s, instance);

	if (ret)
		return ret;
	if (!cfg->rate_hz || cfg->rate_hz > 100000) {
		set_err(s, "bad rate %u Hz: use 1..100000", cfg->rate_hz);
		return -EINVAL;
	}
	for (int tries = 0; tries < 2; tries++) {
		s->fd = shm_open(s->path, O_RDWR | O_CREAT | O_EXCL, 0660);
		if (s->fd >= 0 || errno != EEXIST)
			break;
		ret = take_over_stale(s, instance, flags);
		if (ret < 0)
			return ret;
		s->reclaimed |= ret == 1;
	}
	if (s->fd < 0) {
		ret = -errno;
		set_err(s, "cannot create /dev/shm%s: %s", s->path, strerror(errno));
		return ret;
	}
	/* shm_open applies the umask; the design says 0660. */
	fchmod(s->fd, 0660);
	ret = lock_byte(s->fd, LOCK_CREATOR, false);
	if (ret) {
		set_err(s, "cannot lock /dev/shm%s: %s", s->path, strerror(-ret));
		goto err_unlink;
	}
	if (ftruncate(s->fd, (off_t)size) < 0) {
		ret = -errno;
		set_err(s, "cannot size /dev/shm%s to %zu bytes: %s", s->path, size, strerror(errno));
		goto err_unlink;
	}
	s->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | ((flags & QK_SEG_POPULATE) ? MAP_POPULATE : 0), s->fd, 0);
	if (s->base == MAP_FAILED) {
		ret = -errno;
		s->base = NULL;
		set_err(s, "cannot map /dev/shm%s: %s", s->path, strerror(errno));
		goto err_unlink;
	}
	s->size = size;
	s->hdr = s->base;

	struct qk_seg_hdr *h = s->hdr;

	h->version = QK_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->seg_size = size;
	if (getrandom(&h->generation, sizeof(h->generation), 0) != sizeof(h->generation))
		h->generation = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 40);
	h->creator_pid = getpid();
	qk_store_relaxed(&h->state, QK_SEG_INITIALISING);
	h->period_ns = 1000000000 / cfg->rate_hz;
	h->epoch_ns = now_ns();
	qk_store_relaxed(&h->next_cmd_id, 1);
	memcpy(h->struct_size, struct_sizes, sizeof(struct_sizes));
	memcpy(h->region_off, off, sizeof(off));
	s->cfg = *cfg;
	s->period_ns = h->period_ns;
	s->epoch_ns = h->epoch_ns;
	s->generation = h->generation;
	memcpy(region(s, QK_R_CONFIG), cfg, sizeof(*cfg));
	for (size_t i = 0; i < N(rings); i++)
		qk_ring_init(region(s, rings[i].region), rings[i].cap, rings[i].size, 0,
			     &s->ring_port[rings[i].port]);
	for (size_t i = 0; i < N(cmdqs); i++)
		qk_cmdq_init(region(s, cmdqs[i].region), cmdqs[i].cap, cmdqs[i].size,
			     &s->cmdq_port[cmdqs[i].port]);
	for (size_t i = 0; i < N(mboxes); i++)
		qk_mbox_init(region(s, mboxes[i].region), mboxes[i].size,
			     &s->mbox_port[mboxes[i].port]);
	point_ports(s);
	for (int p = 0; p < QK_PROC_COUNT; p++) {
		qk_hist_reset(&s->stats[p].wake_latency);
		qk_hist_reset(&s->stats[p].compute);
		qk_hist_reset(&s->stats[p].s2a);
		qk_hist_reset(&s->stats[p].front);
		qk_hist_reset(&s->stats[p].back);
	}
	qk_hist_reset(&s->link->rtt);
	return 0;

err_unlink:
	shm_unlink(s->path);
	close(s->fd);
	s->fd = -1;
	return ret;
}

void qk_seg_publish(struct qk_seg *s)
{
	qk_store_relaxed(&s->hdr->state, QK_SEG_READY);
	/* pairs with the acquire load of magic in qk_seg_attach(): every
	 * region initialised above is visible to whoever sees the magic. */
	qk_store_release(&s->hdr->magic, QK_SEG_MAGIC);
}

static int check_header(struct qk_seg *s, const struct qk_seg_hdr *h, size_t file_size)
{
	uint64_t off[QK_R_COUNT];
	size_t size = layout(off);

	if (h->version != QK_LAYOUT_VERSION) {
		set_err(s, "/dev/shm%s has layout version %u, this program speaks %u: "
			"run the same build on both sides (restart the instance with this build)",
			s->path, h->version, QK_LAYOUT_VERSION);
		return -EPROTO;
	}
	if (h->hdr_size != sizeof(*h) || h->seg_size != size || file_size != size) {
		set_err(s, "/dev/shm%s is %zu bytes (header says %llu), this build expects %zu: "
			"a different build created it; restart the instance with this build",
			s->path, file_size, (unsigned long long)h->seg_size, size);
		return -EPROTO;
	}
	for (int i = 0; i < QK_S_COUNT; i++) {
		if (h->struct_size[i] != struct_sizes[i]) {
			set_err(s, "/dev/shm%s: struct %s is %u bytes there, %u here (same "
				"version %u: a layout change without a version bump): rebuild both",
				s->path, struct_names[i], h->struct_size[i], struct_sizes[i],
				QK_LAYOUT_VERSION);
			return -EPROTO;
		}
	}
	if (memcmp(h->region_off, off, sizeof(off))) {
		set_err(s, "/dev/shm%s: region offsets differ from this build's: rebuild both",
			s->path);
		return -EPROTO;
	}
	return 0;
}

int qk_seg_attach(struct qk_seg *s, const char *instance, unsigned flags)
{
	struct stat st;
	int ret = set_path(s, instance);

	if (ret)
		return ret;
	s->fd = shm_open(s->path, O_RDWR, 0);
	if (s->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT) {
			char have[64];

			/* name what does exist: a typo is the likeliest cause */
			qk_seg_names_text(have, sizeof(have));
			set_err(s, "no qiki instance '%s' (no /dev/shm%s): start it with 'qiki run "
				"--instance %s'; %s%s", instance, s->path, instance,
				have[0] ? "instances here: " : "no instance runs here", have);
		} else {
			set_err(s, "cannot open /dev/shm%s: %s", s->path, strerror(errno));
		}
		return ret;
	}
	if (fstat(s->fd, &st) < 0) {
		ret = -errno;
		set_err(s, "cannot stat /dev/shm%s: %s", s->path, strerror(errno));
		goto err;
	}
	if ((size_t)st.st_size < sizeof(struct qk_seg_hdr)) {
		ret = st.st_size == 0 ? -EAGAIN : -ENOTSUP;
		set_err(s, ret == -EAGAIN ?
			"/dev/shm%s is empty: still being created, or left by a crash; try again" :
			"/dev/shm%s is not a qiki segment (%lld bytes, too small for a header)",
			s->path, (long long)st.st_size);
		goto err;
	}
	s->size = (size_t)st.st_size;
	s->base = mmap(NULL, s->size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | ((flags & QK_SEG_POPULATE) ? MAP_POPULATE : 0), s->fd, 0);
	if (s->base == MAP_FAILED) {
		ret = -errno;
		s->base = NULL;
		set_err(s, "cannot map /dev/shm%s: %s", s->path, strerror(errno));
		goto err;
	}
	s->hdr = s->base;
	/* pairs with the release store of magic in qk_seg_publish() */
	uint64_t magic = qk_load_acquire(&s->hdr->magic);

	if (magic != QK_SEG_MAGIC) {
		if (magic == 0 && qk_load_relaxed(&s->hdr->state) == QK_SEG_INITIALISING) {
			ret = qk_seg_any_alive(s) ? -EAGAIN : -ESTALE;
			set_err(s, ret == -EAGAIN ?
				"/dev/shm%s is still initialising (creator pid %d): try again" :
				"/dev/shm%s was left half-built by pid %d, which is dead: "
				"'qiki run' reclaims it", s->path, (int)s->hdr->creator_pid);
		} else {
			ret = -ENOTSUP;
			set_err(s, "/dev/shm%s is not a qiki segment (magic %#llx): remove it "
				"or use another --instance", s->path, (unsigned long long)magic);
		}
		goto err;
	}
	ret = check_header(s, s->hdr, s->size);
	if (ret)
		goto err;
	/* private copies first, then every check runs on them alone */
	s->period_ns = s->hdr->period_ns;
	s->epoch_ns = s->hdr->epoch_ns;
	s->generation = s->hdr->generation;
	memcpy(&s->cfg, region(s, QK_R_CONFIG), sizeof(s->cfg));
	const char *bad = config_wrong(&s->cfg, s->period_ns);
	int r = bad ? QK_R_CONFIG : open_ports(s);

	if (r >= 0) {
		set_err(s, "/dev/shm%s: the %s region is inconsistent%s%s%s: the segment "
			"was overwritten; stop the instance and check who can write it",
			s->path, qk_seg_region_name(r), bad ? " (" : "", bad ? bad : "",
			bad ? ")" : "");
		ret = -EPROTO;
		goto err;
	}
	return 0;
err:
	qk_seg_detach(s);
	return ret;
}

int qk_seg_verify(struct qk_seg *s)
{
	const volatile struct qk_seg_hdr *h = s->hdr;
	int r = -1;

	/* relaxed: we only compare, nothing is read through these */
	if (qk_load_relaxed(&s->hdr->magic) != QK_SEG_MAGIC || h->version != QK_LAYOUT_VERSION ||
	    h->hdr_size != sizeof(struct qk_seg_hdr) || h->seg_size != s->size ||
	    h->generation != s->generation || h->period_ns != s->period_ns ||
	    h->epoch_ns != s->epoch_ns ||
	    memcmp(s->hdr->struct_size, struct_sizes, sizeof(struct_sizes)) ||
	    memcmp(s->hdr->region_off, s->region_off, sizeof(s->region_off)))
		r = QK_R_HEADER;
	for (size_t i = 0; r < 0 && i < N(rings); i++)
		if (!qk_ring_intact(&s->ring_port[rings[i].port]))
			r = rings[i].region;
	for (size_t i = 0; r < 0 && i < N(cmdqs); i++)
		if (!qk_cmdq_intact(&s->cmdq_port[cmdqs[i].port]))
			r = cmdqs[i].region;
	for (size_t i = 0; r < 0 && i < N(mboxes); i++)
		if (!qk_mbox_intact(&s->mbox_port[mboxes[i].port]))
			r = mboxes[i].region;
	if (r >= 0)
		set_err(s, "/dev/shm%s: the %s region was overwritten (it no longer holds what "
			"attach checked): going safe; stop the instance and check who can write it",
			s->path, qk_seg_region_name(r));
	return r;
}

void qk_seg_detach(struct qk_seg *s)
{
	if (s->base)
		munmap(s->base, s->size);
	if (s->fd >= 0)
		close(s->fd);	/* drops our OFD locks */
	s->base = NULL;
	s->hdr = NULL;
	s->fd = -1;
}

int qk_seg_unlink(const char *instance)
{
	char path[64];

	if (!qk_seg_name_ok(instance))
		return -EINVAL;
	snprintf(path, sizeof(path), "/qiki.%s", instance);
	return shm_unlink(path) < 0 ? -errno : 0;
}

int qk_seg_claim(struct qk_seg *s, enum qk_proc p)
{
	int ret = lock_byte(s->fd, 1 + p, false);
	struct qk_proc_stats *ps = &s->stats[p];

	if (ret) {
		set_err(s, "another process (pid %d) already runs as this instance's %s",
			(int)qk_load_relaxed(&ps->pid),
			p == QK_PROC_SIM ? "simulator" : p == QK_PROC_AGENT ? "agent" :
			p == QK_PROC_TELEMETRY ? "telemetry exporter" : "launcher");
		return -EBUSY;
	}
	qk_store_relaxed(&ps->restarts, qk_load_relaxed(&ps->restarts) + 1);
	qk_store_relaxed(&ps->heartbeat_ns, now_ns());
	/* pairs with the acquire load of pid by readers (qikictl status) */
	qk_store_release(&ps->pid, getpid());
	return 0;
}

void qk_seg_release(struct qk_seg *s, enum qk_proc p)
{
	qk_store_release(&s->stats[p].pid, 0);
	unlock_byte(s->fd, 1 + p);
}
