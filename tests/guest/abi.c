// SPDX-License-Identifier: MIT
/*
 * The ioctl ABI: version, struct-size rules (short, larger with a zero or
 * nonzero tail, beyond a page), reserved fields, flags, unknown commands.
 * Raw ioctls throughout: this tests what the module accepts, not libkshm.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "kshm.h"
#include "tap.h"

struct cmd {
	const char *name;
	unsigned long req;
	uint32_t size; /* the struct in this header */
	uint32_t known_flags;
	uint32_t base_flags;  /* flags a valid body carries */
	uint32_t reserved_at; /* offset of its __u32 __reserved, or 0 if none */
};

#define RSV(type) offsetof(struct type, __reserved)

static const struct cmd cmds[] = {
	{ "info", KSHM_IOC_INFO, sizeof(struct kshm_info), 0, 0, 0 },
	{ "region_create", KSHM_IOC_REGION_CREATE, sizeof(struct kshm_region_create),
	  KSHM_REGION_USER_RDONLY | KSHM_REGION_NODE, 0, RSV(kshm_region_create) },
	{ "region_destroy", KSHM_IOC_REGION_DESTROY, sizeof(struct kshm_region_destroy), 0, 0,
	  RSV(kshm_region_destroy) },
	{ "region_info", KSHM_IOC_REGION_INFO, sizeof(struct kshm_region_info),
	  KSHM_REGION_INFO_NEXT, 0, 0 },
	{ "buf_register", KSHM_IOC_BUF_REGISTER, sizeof(struct kshm_buf_register),
	  KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, KSHM_BUF_KERNEL_READ,
	  RSV(kshm_buf_register) },
	{ "buf_unregister", KSHM_IOC_BUF_UNREGISTER, sizeof(struct kshm_buf_unregister), 0, 0,
	  RSV(kshm_buf_unregister) },
	{ "buf_info", KSHM_IOC_BUF_INFO, sizeof(struct kshm_buf_info), 0, 0, 0 },
	{ "set_eventfd", KSHM_IOC_SET_EVENTFD, sizeof(struct kshm_set_eventfd), 0, 0,
	  RSV(kshm_set_eventfd) },
	{ "fill", KSHM_IOC_FILL, sizeof(struct kshm_fill), KSHM_TARGET_BUF, 0, 0 },
	{ "copy", KSHM_IOC_COPY, sizeof(struct kshm_copy), 0, 0, 0 },
	{ "checksum", KSHM_IOC_CHECKSUM, sizeof(struct kshm_checksum), KSHM_TARGET_BUF, 0,
	  RSV(kshm_checksum) },
	{ "engine_start", KSHM_IOC_ENGINE_START, sizeof(struct kshm_engine_start), KSHM_TARGET_BUF,
	  0, 0 },
	{ "engine_stop", KSHM_IOC_ENGINE_STOP, sizeof(struct kshm_engine_stop), 0, 0, 0 },
	{ "ring_create", KSHM_IOC_RING_CREATE, sizeof(struct kshm_ring_create), KSHM_RING_BLOCK, 0,
	  RSV(kshm_ring_create) },
	/* Its __reserved is a __u16: ring.c tests it. */
	{ "ring_produce", KSHM_IOC_RING_PRODUCE, sizeof(struct kshm_ring_produce),
	  KSHM_RING_PRODUCE_WAIT, 0, 0 },
	{ "ring_wait", KSHM_IOC_RING_WAIT, sizeof(struct kshm_ring_wait), 0, 0,
	  RSV(kshm_ring_wait) },
	{ "ring_doorbell", KSHM_IOC_RING_DOORBELL, sizeof(struct kshm_ring_doorbell), 0, 0,
	  RSV(kshm_ring_doorbell) },
	{ "ring_set_eventfd", KSHM_IOC_RING_SET_EVENTFD, sizeof(struct kshm_ring_set_eventfd), 0, 0,
	  0 },
	{ "ring_stats", KSHM_IOC_RING_STATS, sizeof(struct kshm_ring_stats), 0, 0,
	  RSV(kshm_ring_stats) },
	{ "ring_read", KSHM_IOC_RING_READ, sizeof(struct kshm_ring_read), 0, 0,
	  RSV(kshm_ring_read) },
	{ "region_export", KSHM_IOC_REGION_EXPORT, sizeof(struct kshm_region_export),
	  KSHM_REGION_EXPORT_CLOEXEC | KSHM_REGION_EXPORT_RDWR, KSHM_REGION_EXPORT_CLOEXEC,
	  RSV(kshm_region_export) },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static int fd;		   /* the file every command goes to */
static uint32_t region_id; /* a live region for valid command bodies */
static uint32_t buf_id;	   /* a live buffer, likewise */
static uint32_t victim_id; /* a fresh region or buffer to drop */
static uint32_t ring_id;   /* a kernel-to-user ring holding a record */
static struct kshm_ring ring;
static uint64_t read_buf;
static char user_mem[2 * 4096] __attribute__((aligned(4096)));

union body {
	struct kshm_region_create c;
	struct kshm_region_destroy d;
	struct kshm_region_info i;
	struct kshm_buf_register br;
	struct kshm_buf_unregister bu;
	struct kshm_buf_info bi;
	struct kshm_set_eventfd ev;
	struct kshm_fill f;
	struct kshm_copy cp;
	struct kshm_checksum cs;
	struct kshm_engine_start e;
	struct kshm_ring_create rc;
	struct kshm_ring_produce rp;
	struct kshm_ring_wait rw;
	struct kshm_ring_doorbell rd;
	struct kshm_ring_set_eventfd re;
	struct kshm_ring_stats rs;
	struct kshm_ring_read rr;
	struct kshm_region_export ex;
};

/* Everything but the header of a valid body for command @req. */
static void valid_body(unsigned long req, union body *u)
{
	switch (req) {
	case KSHM_IOC_REGION_CREATE:
		u->c.length = 4096;
		break;
	case KSHM_IOC_REGION_DESTROY:
	case KSHM_IOC_BUF_UNREGISTER:
		u->d.id = victim_id;
		break;
	case KSHM_IOC_REGION_INFO:
		u->i.id = region_id;
		break;
	case KSHM_IOC_BUF_REGISTER:
		u->br.addr = (uintptr_t)user_mem + 4096;
		u->br.length = 4096;
		break;
	case KSHM_IOC_BUF_INFO:
		u->bi.id = buf_id;
		break;
	case KSHM_IOC_SET_EVENTFD:
		u->ev.fd = -1;
		break;
	case KSHM_IOC_FILL:
		u->f.id = region_id;
		u->f.width = 1;
		u->f.count = 1;
		break;
	case KSHM_IOC_COPY:
		u->cp.src = (struct kshm_copy_end){ KSHM_MEM_REGION, region_id, 0 };
		u->cp.dst = (struct kshm_copy_end){ KSHM_MEM_USER, 0, (uintptr_t)&read_buf };
		u->cp.length = sizeof(read_buf);
		break;
	case KSHM_IOC_CHECKSUM:
		u->cs.id = region_id;
		u->cs.length = 8;
		break;
	case KSHM_IOC_ENGINE_START:
		u->e.id = region_id;
		u->e.period_us = 1000;
		u->e.length = 16;
		u->e.max_ticks = 1;
		break;
	case KSHM_IOC_RING_CREATE:
		u->rc.kind = KSHM_RING_K2U;
		u->rc.data_size = 4096;
		break;
	case KSHM_IOC_RING_PRODUCE:
		u->rp.id = ring_id;
		u->rp.len = 8;
		u->rp.count = 1;
		u->rp.type = KSHM_REC_SEQ;
		break;
	case KSHM_IOC_RING_WAIT:
		u->rw.id = ring_id; /* a record is there: no sleep */
		break;
	case KSHM_IOC_RING_DOORBELL:
		u->rd.id = ring_id;
		break;
	case KSHM_IOC_RING_SET_EVENTFD:
		u->re.id = ring_id;
		u->re.fd = -1;
		break;
	case KSHM_IOC_RING_STATS:
		u->rs.id = ring_id;
		break;
	case KSHM_IOC_RING_READ:
		u->rr.id = ring_id;
		u->rr.buf = (uintptr_t)user_mem;
		u->rr.len = 4096;
		break;
	case KSHM_IOC_REGION_EXPORT:
		u->ex.id = region_id;
		break;
	}
}

/* Where command bodies are built: room for a struct of a page and more. */
static uint64_t body_buf[8192 / 8];

/*
 * A valid body for command @i with the given header: a module that ignored
 * @size or @flags would carry it out, so only that check can reject it.
 */
static void *cmd_buf(unsigned int i, uint32_t size, uint32_t flags)
{
	union body *u = (void *)body_buf;

	memset(body_buf, 0, sizeof(body_buf));
	valid_body(cmds[i].req, u);
	/* Every command struct begins with these two fields. */
	u->d.size = size;
	u->d.flags = cmds[i].base_flags | flags;
	return body_buf;
}

/* Make sure command @req has something to act on. */
static void prepare(unsigned long req)
{
	struct kshm_region_desc r;

	if (req == KSHM_IOC_REGION_DESTROY) {
		tap_require(!kshm_region_create(fd, 4096, 0, &r), "create");
		victim_id = r.id;
	}
	if (req == KSHM_IOC_BUF_UNREGISTER)
		tap_require(!kshm_buf_register(fd, user_mem + 4096, 4096, KSHM_BUF_KERNEL_READ,
					       &victim_id),
			    "register");
	if (req == KSHM_IOC_ENGINE_STOP)
		tap_require(!kshm_engine_start(fd, 0, region_id, 1000, 0, 16, 1),
			    "start an engine");
	/* RING_READ takes the ring's records: give WAIT and READ one. */
	if (req == KSHM_IOC_RING_READ || req == KSHM_IOC_RING_WAIT)
		tap_require(!kshm_ring_kernel_produce(&ring, 0, KSHM_REC_SEQ, 8, 1, 0, NULL),
			    "a record");
}

/* Undo what command @req did (@ret 0) or what prepare() set up (@ret < 0). */
static void undo(unsigned long req, int ret, union body *u)
{
	if (req == KSHM_IOC_REGION_CREATE && !ret)
		kshm_region_destroy(fd, u->c.id);
	if (req == KSHM_IOC_REGION_DESTROY && ret)
		kshm_region_destroy(fd, victim_id);
	if (req == KSHM_IOC_BUF_REGISTER && !ret)
		kshm_buf_unregister(fd, u->br.id);
	if (req == KSHM_IOC_BUF_UNREGISTER && ret)
		kshm_buf_unregister(fd, victim_id);
	if (req == KSHM_IOC_ENGINE_START && !ret)
		kshm_engine_stop(fd, NULL);
	if (req == KSHM_IOC_ENGINE_STOP && ret)
		kshm_engine_stop(fd, NULL);
	if (req == KSHM_IOC_RING_CREATE && !ret)
		kshm_region_destroy(fd, u->rc.id);
	if (req == KSHM_IOC_REGION_EXPORT && !ret)
		close(u->ex.fd);
}

/*
 * Issue command @i with a valid body and the given header, byte @off of the
 * body set to @byte first (@off 0: nothing set); 0 or -errno.
 */
static int issue_poked(unsigned int i, uint32_t size, uint32_t flags, uint32_t off, uint8_t byte)
{
	union body *u;
	int ret;

	prepare(cmds[i].req);
	u = cmd_buf(i, size, flags);
	if (off)
		((uint8_t *)u)[off] = byte;
	ret = raw_ioctl(fd, cmds[i].req, u);
	undo(cmds[i].req, ret, u);
	return ret;
}

static int issue(unsigned int i, uint32_t size, uint32_t flags)
{
	return issue_poked(i, size, flags, 0, 0);
}

static void info_reports_abi_and_limits(void)
{
	struct kshm_info info;

	tap_zero(kshm_get_info(fd, &info), "info_succeeds");
	tap_ok(info.abi_version == KSHM_ABI_VERSION, "info_abi_version_is_%d", KSHM_ABI_VERSION);
	tap_ok(info.page_size == (uint32_t)sysconf(_SC_PAGESIZE), "info_page_size_matches_system");
	tap_ok(info.max_region_size >= info.page_size && info.max_file_size >= info.page_size,
	       "info_limits_nonzero");
}

static void unknown_ioctls_are_enotty(void)
{
	void *buf = cmd_buf(0, sizeof(struct kshm_info), 0);

	tap_errno(raw_ioctl(fd, _IO(KSHM_IOCTL_TYPE, KSHM_CMD_BASE + 60), buf), ENOTTY,
		  "unknown_nr_past_table_enotty");
	tap_errno(raw_ioctl(fd, _IO(KSHM_IOCTL_TYPE, KSHM_CMD_BASE - 1), buf), ENOTTY,
		  "unknown_nr_below_table_enotty");
	tap_errno(raw_ioctl(fd, _IO('x', KSHM_CMD_INFO), buf), ENOTTY, "foreign_ioctl_type_enotty");
	tap_errno(raw_ioctl(fd, _IOWR(KSHM_IOCTL_TYPE, KSHM_CMD_INFO, struct kshm_info), buf),
		  ENOTTY, "known_nr_with_size_bits_enotty");
	tap_errno(raw_ioctl(fd, FIONREAD, buf), ENOTTY, "generic_fionread_enotty");
}

/*
 * The size of a command's first struct: smaller is EINVAL, from there up
 * it is accepted.  INFO grew pages_leaked after its first version.
 */
static uint32_t first_size(unsigned long req, uint32_t size)
{
	if (req == KSHM_IOC_INFO)
		return offsetof(struct kshm_info, pages_leaked);
	return size;
}

/* Every size below the first struct is EINVAL; at or above with a zero tail is ok. */
static void struct_size_sweep(void)
{
	unsigned int i;
	uint32_t s;

	for (i = 0; i < NCMDS; i++) {
		uint32_t first = first_size(cmds[i].req, cmds[i].size);
		int bad = 0;

		for (s = 0; s < first; s++)
			if (issue(i, s, 0) != -EINVAL)
				bad++;
		tap_ok(!bad, "%s_every_short_size_einval", cmds[i].name);
		/* A caller built against an older header passes an older struct. */
		if (first < cmds[i].size) {
			for (bad = 0, s = first; s < cmds[i].size; s++)
				bad += issue(i, s, 0) != 0;
			tap_ok(!bad, "%s_every_older_struct_accepted", cmds[i].name);
		}
		/* The same body at its full size is accepted: the test can fail. */
		tap_ok(!issue(i, cmds[i].size, 0), "%s_full_size_accepted", cmds[i].name);
		tap_ok(!issue(i, cmds[i].size + 64, 0), "%s_larger_struct_zero_tail_accepted",
		       cmds[i].name);
	}
}

/* True if bytes [@from, @to) of the last body issued are all zero. */
static int body_zero(uint32_t from, uint32_t to)
{
	const uint8_t *b = (const uint8_t *)body_buf;

	while (from < to)
		if (b[from++])
			return 0;
	return 1;
}

/*
 * A struct larger than the module knows: its tail must be zero (E2BIG
 * otherwise, wherever the nonzero byte is, up to a page), the module must
 * leave that tail alone on the way back, and a page is the largest size.
 */
static void struct_tail_sweep(void)
{
	uint32_t pg = (uint32_t)sysconf(_SC_PAGESIZE), pos;
	unsigned int i;

	for (i = 0; i < NCMDS; i++) {
		uint32_t size = cmds[i].size;
		int bad = 0;

		for (pos = size; pos < size + 64; pos++)
			bad += issue_poked(i, size + 64, 0, pos, 0x01) != -E2BIG;
		bad += issue_poked(i, size + 1, 0, size, 0x80) != -E2BIG;
		bad += issue_poked(i, pg, 0, pg - 1, 0x01) != -E2BIG;
		tap_ok(!bad, "%s_larger_struct_nonzero_tail_e2big", cmds[i].name);
		tap_ok(!issue(i, size + 64, 0) && body_zero(size, size + 64),
		       "%s_larger_struct_tail_left_untouched", cmds[i].name);
		tap_ok(!issue(i, pg, 0), "%s_page_sized_struct_zero_tail_accepted", cmds[i].name);
		tap_ok(issue(i, pg + 1, 0) == -E2BIG && issue(i, UINT32_MAX, 0) == -E2BIG,
		       "%s_struct_beyond_a_page_e2big", cmds[i].name);
	}
	tap_errno(raw_ioctl(fd, KSHM_IOC_INFO, NULL), EFAULT, "info_null_argument_efault");
}

/* A nonzero bit in any byte of a __reserved field is EINVAL. */
static void reserved_nonzero_sweep(void)
{
	unsigned int i, b;

	for (i = 0; i < NCMDS; i++) {
		uint32_t at = cmds[i].reserved_at;
		int bad = 0;

		if (!at)
			continue;
		for (b = 0; b < 4; b++)
			bad += (issue_poked(i, cmds[i].size, 0, at + b, 0x01) != -EINVAL) +
			       (issue_poked(i, cmds[i].size, 0, at + b, 0x80) != -EINVAL);
		tap_ok(!bad, "%s_reserved_nonzero_einval", cmds[i].name);
	}
}

static void unknown_flags_are_einval(void)
{
	unsigned int i, bit;

	for (i = 0; i < NCMDS; i++) {
		int bad = 0;

		for (bit = 0; bit < 32; bit++)
			if (!(cmds[i].known_flags & 1u << bit) &&
			    issue(i, cmds[i].size, 1u << bit) != -EINVAL)
				bad++;
		tap_ok(!bad, "%s_every_unknown_flag_einval", cmds[i].name);
	}
}

/*
 * ABI 2's numbers are its own: ABI 1's (0xB6, 0x40..) were the DFL FPGA
 * port ioctls', and are ENOTTY now (defects issue, item 12).
 */
static void old_numbers_enotty(void)
{
	struct kshm_info info = { .size = sizeof(info) };
	unsigned int nr, bad = 0;

	for (nr = 0x40; nr <= 0x4c; nr++)
		if (raw_ioctl(fd, _IO(0xB6, nr), &info) != -ENOTTY)
			bad++;
	tap_ok(!bad, "abi1_and_dfl_fpga_numbers_enotty");
}

/*
 * An fd opened read-only may look (INFO, REGION_INFO, BUF_INFO, CHECKSUM)
 * but not change anything: EBADF, as write() would be (item 12).
 */
static void read_only_fd(void)
{
	static const unsigned long changes[] = {
		KSHM_IOC_REGION_CREATE,
		KSHM_IOC_REGION_DESTROY,
		KSHM_IOC_BUF_REGISTER,
		KSHM_IOC_BUF_UNREGISTER,
		KSHM_IOC_SET_EVENTFD,
		KSHM_IOC_FILL,
		KSHM_IOC_COPY,
		KSHM_IOC_ENGINE_START,
		KSHM_IOC_ENGINE_STOP,
		KSHM_IOC_RING_CREATE,
		KSHM_IOC_RING_PRODUCE,
		KSHM_IOC_RING_DOORBELL,
		KSHM_IOC_RING_SET_EVENTFD,
		KSHM_IOC_RING_READ,
		KSHM_IOC_REGION_EXPORT,
	};
	struct kshm_info info;
	struct kshm_region_info ri;
	uint32_t body[128] = { 0 };
	unsigned int i, bad = 0;
	int ro = open("/dev/kshm", O_RDONLY);

	tap_require(ro >= 0, "open O_RDONLY");
	tap_zero(kshm_get_info(ro, &info), "read_only_fd_info_allowed");
	tap_errno(kshm_region_info(ro, 0, KSHM_REGION_INFO_NEXT, &ri), ENOENT,
		  "read_only_fd_region_info_allowed");
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		body[0] = sizeof(body);
		if (raw_ioctl(ro, changes[i], body) != -EBADF)
			bad++;
	}
	tap_ok(!bad, "read_only_fd_every_changing_command_ebadf");
	close(ro);
}

int main(void)
{
	struct kshm_region_desc r;

	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	tap_require(kshm_region_create(fd, 4096, 0, &r) == 0, "create a region");
	region_id = r.id;
	tap_require(!kshm_buf_register(fd, user_mem, 4096, KSHM_BUF_KERNEL_READ, &buf_id),
		    "register a buffer");
	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &ring) &&
			    !kshm_ring_kernel_produce(&ring, 0, KSHM_REC_SEQ, 8, 1, 0, NULL),
		    "a ring with a record");
	ring_id = ring.id;
	info_reports_abi_and_limits();
	unknown_ioctls_are_enotty();
	struct_size_sweep();
	struct_tail_sweep();
	reserved_nonzero_sweep();
	unknown_flags_are_einval();
	old_numbers_enotty();
	read_only_fd();
	tap_zero(kshm_region_destroy(fd, region_id), "region_survived_every_rejected_command");
	kshm_close(fd);
	return tap_done();
}
