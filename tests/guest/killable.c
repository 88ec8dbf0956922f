// SPDX-License-Identifier: MIT
/*
 * Long kernel operations stop for SIGKILL: a FILL or COPY over a large
 * region is cut short (its tail stays unwritten; both checks failed before
 * the fix).  For CHECKSUM only that its caller dies and the region goes is
 * checked: whether the worker stopped early cannot be seen from user space
 * (defects issue, item 11).
 */
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>

#include "kshm.h"
#include "tap.h"

#define BIG (128UL << 20)

/* Run @op(@fd, @arg) in a child; kill it once @started[0] turns nonzero. */
static int kill_once_started(int fd, int (*op)(int, uint32_t), uint32_t arg,
			     volatile uint8_t *started)
{
	pid_t pid = fork();
	int status = 0;

	tap_require(pid >= 0, "fork");
	if (!pid)
		_exit(op(fd, arg) ? 2 : 3); /* 3: the whole operation ran */
	while (!started[0])
		sched_yield();
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static int fill_all(int fd, uint32_t id)
{
	return kshm_region_fill(fd, id, 1, 0, BIG, 1, 0);
}

static uint32_t copy_src;

static int copy_all(int fd, uint32_t dst)
{
	struct kshm_copy_end s = { KSHM_MEM_REGION, copy_src, 0 };
	struct kshm_copy_end d = { KSHM_MEM_REGION, dst, 0 };

	return kshm_copy(fd, &s, &d, BIG);
}

static int checksum_all(int fd, uint32_t id)
{
	uint64_t sum;

	return kshm_checksum(fd, 0, id, 0, BIG, &sum);
}

static void region_op_killed(int fd, int (*op)(int, uint32_t), const char *name)
{
	struct kshm_region_desc r;
	uint8_t *map;

	tap_require(!kshm_region_create(fd, BIG, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, (void **)&map), "map");
	tap_ok(kill_once_started(fd, op, r.id, map), "%s_child_dies_by_sigkill", name);
	tap_ok(map[BIG - 1] == 0, "%s_stops_before_the_end", name);
	kshm_region_unmap(&r, map);
	kshm_region_destroy(fd, r.id);
}

static void checksum_killed(int fd)
{
	struct kshm_region_desc r;
	struct kshm_info before, after;
	volatile uint8_t go = 1;

	tap_require(!kshm_get_info(fd, &before), "info");
	tap_require(!kshm_region_create(fd, BIG, 0, &r), "create");
	/* Nothing in the region shows the worker's progress: kill at once. */
	tap_ok(kill_once_started(fd, checksum_all, r.id, &go), "checksum_child_dies_by_sigkill");
	kshm_region_destroy(fd, r.id);
	tap_require(!kshm_get_info(fd, &after), "info");
	tap_ok(after.regions_alive == before.regions_alive, "checksum_killed_region_freed");
}

int main(void)
{
	struct kshm_region_desc src;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open /dev/kshm");
	region_op_killed(fd, fill_all, "fill");
	tap_require(!kshm_region_create(fd, BIG, 0, &src), "create source");
	tap_require(!kshm_region_fill(fd, src.id, 1, 0, BIG, 1, 0), "fill source");
	copy_src = src.id;
	region_op_killed(fd, copy_all, "copy");
	kshm_region_destroy(fd, src.id);
	checksum_killed(fd);
	kshm_close(fd);
	return tap_done();
}
