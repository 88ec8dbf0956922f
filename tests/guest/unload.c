// SPDX-License-Identifier: MIT
/*
 * The module cannot go while a mapping of one of its regions exists, even
 * after the file was closed; it can once the mapping is gone.  The test
 * loads the module again at the end (from /kshm.ko) for whatever runs next.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"

static int unload(void)
{
	return syscall(SYS_delete_module, "kshm", O_NONBLOCK) ? -errno : 0;
}

static int load(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* A mapping whose file is already closed: it alone holds the module. */
static int mapping_without_fd(void)
{
	struct kshm_region_desc r;
	void *p;
	int fd = kshm_open(NULL);

	if (fd < 0 || kshm_region_create(fd, 4096, 0, &r) || kshm_region_map(fd, &r, PROT_READ, &p))
		return -1;
	return kshm_close(fd);
}

/* Loaded without test_engine=1, the module refuses to start an engine. */
static void engine_refused_by_default(void)
{
	struct kshm_region_desc r;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0 && !kshm_region_create(fd, 4096, 0, &r), "region");
	tap_errno(kshm_engine_start(fd, 0, r.id, 1000, 0, 16, 1), EPERM,
		  "unload_engine_needs_test_engine_parameter_eperm");
	{
		struct kshm_ring ring;

		tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &ring),
			    "ring");
		tap_errno(kshm_ring_kernel_produce(&ring, 0, KSHM_REC_SEQ, 8, 1, 0, NULL), EPERM,
			  "unload_ring_produce_needs_test_engine_parameter_eperm");
		kshm_ring_destroy(&ring);
	}
	kshm_close(fd);
}

int main(void)
{
	pid_t pid = spawn_ready(mapping_without_fd);

	tap_require(pid > 0, "child mapped a region");
	tap_errno(unload(), EWOULDBLOCK, "unload_refused_while_mapped");
	tap_ok(access("/dev/kshm", F_OK) == 0, "unload_device_still_there");
	tap_ok(kill_and_reap(pid), "unload_mapping_owner_killed");
	tap_zero(unload(), "unload_succeeds_after_last_munmap");
	tap_ok(access("/dev/kshm", F_OK) != 0, "unload_device_gone");
	tap_zero(load("/kshm.ko", ""), "unload_module_loads_again");
	tap_ok(access("/dev/kshm", F_OK) == 0, "unload_device_back");
	engine_refused_by_default();
	tap_zero(unload(), "unload_again");
	/* For whatever runs next: as the harness loads it. */
	tap_zero(load("/kshm.ko", "test_engine=1"), "unload_reloaded_with_test_engine");
	return tap_done();
}
