// SPDX-License-Identifier: MIT
/*
 * Region lifetime: destroy, munmap, close and process death in several
 * orders.  The module's counters (kshm_info) must come back to where they
 * started once the last holder is gone, and a mapping must stay usable as
 * long as it exists.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"

static long page;
static int ctl;		/* an fd kept open only to read the counters */

struct counters {
	uint64_t regions, pages;
};

static struct counters counters(void)
{
	struct kshm_info info;
	struct counters c = { ~0ull, ~0ull };

	if (!kshm_get_info(ctl, &info)) {
		c.regions = info.regions_alive;
		c.pages = info.pages_alive;
	}
	return c;
}

static int counters_equal(struct counters a, struct counters b)
{
	return a.regions == b.regions && a.pages == b.pages;
}

static void destroy_while_mapped_keeps_pages(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	uint8_t *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, 2 * page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 1, page, 1, 0x77, 0);
	tap_zero(kshm_region_destroy(fd, r.id), "lifetime_destroy_while_mapped");
	tap_ok(p[page] == 0x77, "lifetime_mapping_readable_after_destroy");
	p[0] = 1;
	tap_ok(p[0] == 1, "lifetime_mapping_writable_after_destroy");
	tap_ok(counters().regions == start.regions + 1,
	       "lifetime_destroyed_region_alive_while_mapped");
	kshm_region_unmap(&r, p);
	tap_ok(counters_equal(counters(), start), "lifetime_munmap_after_destroy_frees");
	kshm_close(fd);
}

static void munmap_then_destroy(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	void *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, &p), "map");
	kshm_region_unmap(&r, p);
	tap_ok(counters().regions == start.regions + 1, "lifetime_handle_keeps_region");
	kshm_region_destroy(fd, r.id);
	tap_ok(counters_equal(counters(), start), "lifetime_destroy_after_munmap_frees");
	kshm_close(fd);
}

static void close_releases_every_region(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	int i, fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	for (i = 0; i < 5; i++)
		tap_require(!kshm_region_create(fd, (i + 1) * page, 0, &r), "create");
	tap_ok(counters().pages == start.pages + 15, "lifetime_counters_count_pages");
	kshm_close(fd);
	tap_ok(counters_equal(counters(), start), "lifetime_close_releases_regions");
}

static void close_while_mapped(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	uint32_t *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 4, 0, 1, 0xfeedf00d, 0);
	kshm_close(fd);
	tap_ok(p[0] == 0xfeedf00d, "lifetime_mapping_survives_close");
	p[1] = 42;
	tap_ok(p[1] == 42, "lifetime_mapping_writable_after_close");
	kshm_region_unmap(&r, p);
	tap_ok(counters_equal(counters(), start), "lifetime_munmap_after_close_frees");
}

/* A child maps and fills regions, then dies by SIGKILL without cleaning up. */
static void kill_releases_everything(void)
{
	struct counters start = counters();
	int sync[2], status;
	char c;
	pid_t pid;

	tap_require(!pipe(sync), "pipe");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		struct kshm_region_desc r;
		void *p;
		int i, fd = kshm_open(NULL);

		for (i = 0; fd >= 0 && i < 3; i++)
			if (!kshm_region_create(fd, 4 * page, 0, &r) &&
			    !kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &p))
				kshm_region_fill(fd, r.id, 8, 0, 4 * page / 8, i, 1);
		if (write(sync[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	tap_ok(read(sync[0], &c, 1) == 1, "lifetime_child_set_up_regions");
	tap_ok(counters().regions == start.regions + 3, "lifetime_child_regions_alive");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "lifetime_child_killed");
	tap_ok(counters_equal(counters(), start), "lifetime_sigkill_releases_everything");
	close(sync[0]);
}

/* The child inherits the mapping across fork and keeps it after we unmap. */
static void fork_child_keeps_mapping(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	int sync[2], status, fd = kshm_open(NULL);
	volatile uint8_t *p;
	char c;
	pid_t pid;

	tap_require(fd >= 0 && !pipe(sync), "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 1, 0, 1, 0x33, 0);
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		/* Once told, only this inherited vma still holds the region. */
		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(2);
		_exit(p[0] == 0x33 && p[1] == 0x44 ? 0 : 1);
	}
	close(sync[0]);
	p[1] = 0x44;	/* shared: the child must see it */
	kshm_region_destroy(fd, r.id);
	kshm_close(fd);
	kshm_region_unmap(&r, (void *)p);
	tap_ok(counters().regions == start.regions + 1,
	       "lifetime_child_mapping_keeps_region");
	tap_require(write(sync[1], "x", 1) == 1, "wake the child");
	close(sync[1]);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "lifetime_fork_child_shares_mapping");
	tap_ok(counters_equal(counters(), start), "lifetime_last_child_exit_frees");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	ctl = kshm_open(NULL);
	tap_require(ctl >= 0, "open /dev/kshm");
	destroy_while_mapped_keeps_pages();
	munmap_then_destroy();
	close_releases_every_region();
	close_while_mapped();
	kill_releases_everything();
	fork_child_keeps_mapping();
	kshm_close(ctl);
	return tap_done();
}
