// SPDX-License-Identifier: MIT
/*
 * The ioctl ABI: version, struct-size rules, flags, unknown commands.
 * Raw ioctls throughout: this tests what the module accepts, not libkshm.
 */
#include <fcntl.h>
#include <stdint.h>

#include "kshm.h"
#include "tap.h"

struct cmd {
	const char *name;
	unsigned long req;
	uint32_t size;
};

static const struct cmd cmds[] = {
	{ "info", KSHM_IOC_INFO, sizeof(struct kshm_info) },
	{ "region_create", KSHM_IOC_REGION_CREATE, sizeof(struct kshm_region_create) },
	{ "region_destroy", KSHM_IOC_REGION_DESTROY, sizeof(struct kshm_region_destroy) },
	{ "region_fill", KSHM_IOC_REGION_FILL, sizeof(struct kshm_region_fill) },
	{ "region_read", KSHM_IOC_REGION_READ, sizeof(struct kshm_region_read) },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static uint32_t region_id;	/* a live region for valid command bodies */
static uint64_t read_buf;

/*
 * A valid body for command @i with the given header: a module that ignored
 * @size or @flags would carry it out, so only that check can reject it.
 */
static void *cmd_buf(unsigned int i, uint32_t size, uint32_t flags)
{
	static uint64_t buf[8192 / 8];
	union {
		struct kshm_region_create c;
		struct kshm_region_destroy d;
		struct kshm_region_fill f;
		struct kshm_region_read r;
	} *u = (void *)buf;

	memset(buf, 0, sizeof(buf));
	switch (cmds[i].req) {
	case KSHM_IOC_REGION_CREATE:
		u->c.length = 4096;
		break;
	case KSHM_IOC_REGION_DESTROY:
		u->d.id = region_id;
		break;
	case KSHM_IOC_REGION_FILL:
		u->f.id = region_id;
		u->f.width = 1;
		u->f.count = 1;
		break;
	case KSHM_IOC_REGION_READ:
		u->r.id = region_id;
		u->r.length = sizeof(read_buf);
		u->r.addr = (uintptr_t)&read_buf;
		break;
	}
	/* Every command struct begins with these two fields. */
	u->d.size = size;
	u->d.flags = flags;
	return buf;
}

static void info_reports_abi_and_limits(int fd)
{
	struct kshm_info info;

	tap_zero(kshm_get_info(fd, &info), "info_succeeds");
	tap_ok(info.abi_version == KSHM_ABI_VERSION, "info_abi_version_is_%d",
	       KSHM_ABI_VERSION);
	tap_ok(info.page_size == (uint32_t)sysconf(_SC_PAGESIZE),
	       "info_page_size_matches_system");
	tap_ok(info.max_region_size >= info.page_size &&
	       info.max_file_size >= info.page_size, "info_limits_nonzero");
}

static void unknown_ioctls_are_enotty(int fd)
{
	void *buf = cmd_buf(0, sizeof(struct kshm_info), 0);

	tap_errno(raw_ioctl(fd, _IO(KSHM_IOCTL_TYPE, KSHM_CMD_BASE + 60), buf),
		  ENOTTY, "unknown_nr_past_table_enotty");
	tap_errno(raw_ioctl(fd, _IO(KSHM_IOCTL_TYPE, KSHM_CMD_BASE - 1), buf),
		  ENOTTY, "unknown_nr_below_table_enotty");
	tap_errno(raw_ioctl(fd, _IO('x', KSHM_CMD_INFO), buf),
		  ENOTTY, "foreign_ioctl_type_enotty");
	tap_errno(raw_ioctl(fd, _IOWR(KSHM_IOCTL_TYPE, KSHM_CMD_INFO,
				      struct kshm_info), buf),
		  ENOTTY, "known_nr_with_size_bits_enotty");
	tap_errno(raw_ioctl(fd, FIONREAD, buf), ENOTTY, "generic_fionread_enotty");
}

/* Every size below the struct is EINVAL; at or above with a zero tail is ok. */
static void struct_size_sweep(int fd)
{
	unsigned int i;
	uint32_t s;

	for (i = 0; i < NCMDS; i++) {
		int bad = 0;

		for (s = 0; s < cmds[i].size; s++)
			if (raw_ioctl(fd, cmds[i].req, cmd_buf(i, s, 0)) != -EINVAL)
				bad++;
		tap_ok(!bad, "%s_every_short_size_einval", cmds[i].name);
		/* The same body at its full size is accepted: the test can fail. */
		if (cmds[i].req != KSHM_IOC_REGION_DESTROY)
			tap_ok(!raw_ioctl(fd, cmds[i].req,
					  cmd_buf(i, cmds[i].size, 0)),
			       "%s_full_size_accepted", cmds[i].name);
	}
	for (i = 0; i < NCMDS; i++)
		if (cmds[i].req != KSHM_IOC_REGION_DESTROY)
			tap_ok(!raw_ioctl(fd, cmds[i].req,
					  cmd_buf(i, cmds[i].size + 64, 0)),
			       "%s_larger_struct_zero_tail_accepted",
			       cmds[i].name);
}

static void struct_size_unknown_tail(int fd)
{
	uint32_t size = sizeof(struct kshm_info) + 16;
	uint8_t *buf = cmd_buf(0, size, 0);

	buf[size - 1] = 1;
	tap_errno(raw_ioctl(fd, KSHM_IOC_INFO, buf), E2BIG,
		  "info_larger_struct_nonzero_tail_e2big");
	tap_errno(raw_ioctl(fd, KSHM_IOC_INFO, cmd_buf(0, 8192, 0)), E2BIG,
		  "info_struct_beyond_a_page_e2big");
	tap_errno(raw_ioctl(fd, KSHM_IOC_INFO, NULL), EFAULT,
		  "info_null_argument_efault");
}

static void unknown_flags_are_einval(int fd)
{
	unsigned int i, bit;

	for (i = 0; i < NCMDS; i++) {
		int bad = 0;

		for (bit = 0; bit < 32; bit++)
			if (raw_ioctl(fd, cmds[i].req,
				      cmd_buf(i, cmds[i].size, 1u << bit)) != -EINVAL)
				bad++;
		tap_ok(!bad, "%s_every_unknown_flag_einval", cmds[i].name);
	}
}

int main(void)
{
	int fd = kshm_open(NULL);
	struct kshm_region_desc r;

	tap_require(fd >= 0, "open /dev/kshm");

	tap_require(kshm_region_create(fd, 4096, 0, &r) == 0, "create a region");
	region_id = r.id;
	info_reports_abi_and_limits(fd);
	unknown_ioctls_are_enotty(fd);
	struct_size_sweep(fd);
	struct_size_unknown_tail(fd);
	unknown_flags_are_einval(fd);
	tap_zero(kshm_region_destroy(fd, region_id),
		 "region_survived_every_rejected_destroy");
	kshm_close(fd);
	return tap_done();
}
