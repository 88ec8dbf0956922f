// SPDX-License-Identifier: MIT
/*
 * Where region pages come from and how they are cached: NUMA nodes (checked
 * in /proc/self/numa_maps), cache modes (checked in the kernel's own page
 * memtype bits through /proc/self/pagemap and /proc/kpageflags, while the
 * region lives and after it is freed), large regions, and the memory
 * cgroup limit.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"

static long page;

static void region_on_node(int fd, int node)
{
	struct kshm_region_desc r;
	struct kshm_region_info info;
	void *p;

	tap_zero(kshm_region_create_ex(fd, 8 * page, 0, KSHM_CACHE_WB, node, &r),
		 node ? "placement_create_on_node1" : "placement_create_on_node0");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, &p), "map");
	tap_ok(node_pages(p, node) == 8, "placement_all_pages_on_node%d", node);
	tap_ok(!kshm_region_info(fd, r.id, 0, &info) && info.node == node,
	       "placement_info_reports_node%d", node);
	munmap(p, r.length);
	kshm_region_destroy(fd, r.id);
}

static void node_bad_inputs(int fd)
{
	struct kshm_region_create c = { .size = sizeof(c), .length = 4096 };

	c.node = 1;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_CREATE, &c), EINVAL,
		  "placement_node_without_flag_einval");
	c.flags = KSHM_REGION_NODE;
	c.node = 2;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_CREATE, &c), EINVAL,
		  "placement_node_without_memory_einval");
	c.node = -2;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_CREATE, &c), EINVAL,
		  "placement_negative_node_einval");
	c.node = 1 << 20;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_CREATE, &c), EINVAL, "placement_huge_node_einval");
	c.flags = 0;
	c.node = 0;
	c.cache_mode = 3;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_CREATE, &c), EINVAL,
		  "placement_unknown_cache_mode_einval");
}

static void cache_mode_memtype(int fd, uint32_t mode, const char *name)
{
	struct kshm_region_desc r;
	struct kshm_region_info info;
	uint8_t *p;
	int i, good = 1;

	tap_zero(kshm_region_create_ex(fd, 4 * page, 0, mode, KSHM_NODE_ANY, &r), name);
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	for (i = 0; i < 4; i++)
		good &= memtype_is(kpageflags_at(p + i * page), mode);
	tap_ok(good, "%s_kernel_memtype_matches", name);
	tap_ok(!kshm_region_info(fd, r.id, 0, &info) && info.cache_mode == mode,
	       "%s_info_reports_mode", name);
	p[5] = 0x42;
	kshm_region_fill(fd, r.id, 1, 6, 1, 0x43, 0);
	tap_ok(p[5] == 0x42 && p[6] == 0x43, "%s_both_sides_see_each_other", name);
	munmap(p, r.length);
	kshm_region_destroy(fd, r.id);
}

/*
 * After a WC or UC region is freed, its pages are write-back again.
 *
 * x86 PAT keeps the memtype of RAM pages in their page flags
 * (reserve_ram_pages_type()), not in the memtype tree that
 * /sys/kernel/debug/x86/pat_memtype_list prints: that list holds non-RAM
 * ranges only (ioremap, /dev/mem above 1 MiB), and the pages of a WC or UC
 * region never appear in it (seen on 6.1 and 6.12), so it cannot tell
 * anything here.  The kernel's page tables could show the linear mapping's
 * cache bits in /sys/kernel/debug/page_tables/kernel, but that file needs
 * CONFIG_PTDUMP_DEBUGFS, which none of the guest kernels (Debian's 6.1,
 * 6.1-rt and 6.12, and the sanitizer build of 6.1) has.
 *
 * So the page flags are what can be checked, through /proc/kpageflags, and
 * the page allocator clears every flag of a page it gets back: reading them
 * once the page is free proves nothing.  A pipe therefore holds the pages
 * (vmsplice takes a page reference, not a mapping and not a region
 * reference): destroy and munmap free the region, set_pages_array_wb() must
 * run, and the pages stay the region's pages, still allocated, to be looked
 * at by the PFNs taken from /proc/self/pagemap while they were mapped.
 */
static void cache_mode_restored_on_free(int fd, uint32_t mode, const char *name)
{
	enum { PAGES = 4 };
	struct kshm_info start, end;
	struct kshm_region_desc r;
	unsigned long long pfn[PAGES];
	int pipefd[2], i, alive = 1, freed, held, wb = 1;
	uint8_t *p, back[PAGES * 4096];
	struct iovec iov;

	tap_require(page == 4096 && !kshm_get_info(fd, &start), "info");
	tap_require(!kshm_region_create_ex(fd, PAGES * page, 0, mode, KSHM_NODE_ANY, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, (void **)&p), "map");
	tap_require(!kshm_region_fill(fd, r.id, 1, 0, PAGES * page, 7, 3), "fill");
	for (i = 0; i < PAGES; i++) {
		pfn[i] = pfn_at(p + i * page);
		alive &= memtype_is(kpageflags_of(pfn[i]), mode);
	}
	tap_ok(alive, "%s_memtype_by_pfn_while_alive", name);
	tap_require(!pipe(pipefd), "pipe");
	iov = (struct iovec){ p, PAGES * page };
	held = vmsplice(pipefd[1], &iov, 1, 0) == PAGES * page;
	if (!held && errno == EFAULT) {
		/*
		 * WC/UC mappings are VM_IO (no buffer may pin them): 6.12's
		 * get_user_pages() gives vmsplice none of their pages either.
		 * The 6.1 kernels still hold them, so the check runs there.
		 */
		tap_ok(1,
		       "%s_pages_back_to_wb_after_free # SKIP this kernel lets no pipe hold "
		       "a VM_IO mapping's pages, so freed pages cannot be looked at",
		       name);
		munmap(p, r.length);
		kshm_region_destroy(fd, r.id);
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	munmap(p, r.length);
	kshm_region_destroy(fd, r.id);
	freed = !kshm_get_info(fd, &end) && end.regions_alive == start.regions_alive &&
		end.pages_alive == start.pages_alive;
	for (i = 0; i < PAGES; i++)
		wb &= memtype_is(kpageflags_of(pfn[i]), KSHM_CACHE_WB);
	/* What the pipe gives back is the region's contents: it held its pages. */
	held = held && read(pipefd[0], back, sizeof(back)) == sizeof(back);
	for (i = 0; held && i < PAGES * page; i++)
		held = back[i] == (uint8_t)(7 + 3 * i);
	if (!freed || !held)
		tap_diag("  region freed %d, pages held by the pipe %d", freed, held);
	tap_ok(freed && held && wb, "%s_pages_back_to_wb_after_free", name);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void large_region(int fd)
{
	struct kshm_info info;
	struct kshm_region_desc r;
	uint64_t len = 256ull << 20, *p;

	kshm_get_info(fd, &info);
	tap_ok(info.max_region_size >= len, "placement_limit_allows_256MiB");
	tap_zero(kshm_region_create(fd, len, 0, &r), "placement_create_256MiB");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 8, len - 8, 1, 0x1234567890abcdefull, 0);
	p[0] = 7;
	tap_ok(p[len / 8 - 1] == 0x1234567890abcdefull && p[len / 8 / 2] == 0,
	       "placement_256MiB_last_word_filled_middle_zero");
	munmap(p, len);
	kshm_region_destroy(fd, r.id);
}

/* A create beyond the cgroup's memory.max fails with ENOMEM, leaving nothing. */
static void memcg_limit(void)
{
	const char *cg = "/sys/fs/cgroup/kshm-test";
	int status, sync[2];
	char path[128], pidstr[16], c;
	pid_t pid;

	tap_require(write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory") &&
			    (mkdir(cg, 0755) == 0 || errno == EEXIST),
		    "memory cgroup");
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	tap_require(write_file(path, "16M"), "memory.max");
	tap_require(!pipe(sync), "pipe");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		struct kshm_info before, after;
		struct kshm_region_desc r;
		int fd, ret, ok;

		if (read(sync[0], &c, 1) != 1)
			_exit(3);
		fd = kshm_open(NULL);
		kshm_get_info(fd, &before);
		ret = kshm_region_create(fd, 64 << 20, 0, &r);
		kshm_get_info(fd, &after);
		ok = ret == -ENOMEM && after.pages_alive == before.pages_alive &&
		     after.regions_alive == before.regions_alive;
		/* And within the limit it works. */
		ok = ok && !kshm_region_create(fd, 4 << 20, 0, &r);
		_exit(ok ? 0 : 1);
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	tap_require(write_file(path, pidstr), "move child into the cgroup");
	tap_require(write(sync[1], "x", 1) == 1, "start child");
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "placement_memcg_over_limit_enomem_leaves_nothing");
	close(sync[0]);
	close(sync[1]);
	rmdir(cg);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	region_on_node(fd, 0);
	region_on_node(fd, 1);
	node_bad_inputs(fd);
	cache_mode_memtype(fd, KSHM_CACHE_WB, "placement_cache_wb");
	cache_mode_memtype(fd, KSHM_CACHE_WC, "placement_cache_wc");
	cache_mode_memtype(fd, KSHM_CACHE_UC, "placement_cache_uc");
	cache_mode_restored_on_free(fd, KSHM_CACHE_WC, "placement_wc");
	cache_mode_restored_on_free(fd, KSHM_CACHE_UC, "placement_uc");
	large_region(fd);
	memcg_limit();
	kshm_close(fd);
	return tap_done();
}
