// SPDX-License-Identifier: MIT
/*
 * Application-allocated buffers: registration of every kind of memory the
 * kernel will pin, the kernel reading and writing through its own mapping
 * (made on first use, once), and what fork does to a registered buffer.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"

#define RW (KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE)

static long page;

/*
 * Register @len bytes at @p, let the kernel write a sequence into them and
 * read back what the application wrote, then unregister and wait for the
 * release.  All checks carry @kind in their names.
 */
static void kernel_reads_and_writes(int fd, uint8_t *p, size_t len, const char *kind)
{
	uint64_t sum = 0;
	uint32_t id = 0;
	size_t i;
	int good = 1;

	tap_ok(!kshm_buf_register(fd, p, len, RW, &id), "buf_%s_register", kind);
	tap_ok(!kshm_buf_fill(fd, id, 1, 0, len, 3, 7), "buf_%s_fill", kind);
	for (i = 0; i < len; i++)
		good &= p[i] == (uint8_t)(3 + 7 * i);
	tap_ok(good, "buf_%s_kernel_writes_seen_by_app", kind);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + 1);
	tap_ok(!kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, len, &sum) && sum == fnv1a(p, len),
	       "buf_%s_app_writes_seen_by_kernel_worker", kind);
	tap_ok(!kshm_buf_unregister(fd, id) && !kshm_wait_buf_released(fd, id, 30000),
	       "buf_%s_released", kind);
}

static void anonymous_unaligned(int fd)
{
	struct kshm_buf_info info;
	uint8_t *mem = malloc(8 * page);
	uint8_t *p = mem + page + 100;
	size_t len = 3 * page + 123;
	uint32_t id;

	tap_require(mem != NULL, "malloc");
	memset(mem, 0, 8 * page);
	tap_zero(kshm_buf_register(fd, p, len, KSHM_BUF_KERNEL_READ, &id),
		 "buf_register_unaligned");
	tap_ok(!kshm_buf_info(fd, id, &info) && info.addr == (uintptr_t)p && info.length == len &&
		       info.access == KSHM_BUF_KERNEL_READ &&
		       info.pages ==
			       (uint64_t)((((uintptr_t)p & (page - 1)) + len + page - 1) / page),
	       "buf_info_reports_range_and_pages");
	kshm_buf_unregister(fd, id);
	kshm_wait_buf_released(fd, id, 30000);
	kernel_reads_and_writes(fd, p, len, "anon_unaligned");
	/* The kernel wrote only the registered bytes. */
	tap_ok(mem[page + 99] == 0 && mem[page + 100 + len] == 0, "buf_kernel_stays_inside_range");
	free(mem);
}

/*
 * A registration the kernel only reads sees what the application writes
 * after registering: untouched anonymous memory (6.1 would pin the shared
 * zero page) and a MAP_PRIVATE file mapping (copy-on-write would give the
 * application new pages) (defects issue, item 7).
 */
/* Register @p for kernel reads, then write it: the kernel's sum must match. */
static void registered_then_written(int fd, uint8_t *p, size_t len, const char *name)
{
	uint64_t sum = 0;
	uint32_t id;
	size_t i;

	tap_require(!kshm_buf_register(fd, p, len, KSHM_BUF_KERNEL_READ, &id), "register");
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	tap_ok(!kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, len, &sum) && sum == fnv1a(p, len), "%s",
	       name);
	kshm_buf_unregister(fd, id);
	kshm_wait_buf_released(fd, id, 30000);
	munmap(p, len);
}

static void read_only_sees_later_writes(int fd)
{
	size_t len = 4 * page, i;
	uint8_t *p;
	int f;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED, "mmap");
	for (i = 0; i < len; i += page)
		tap_require(p[i] == 0, "read (maps the zero page)");
	registered_then_written(fd, p, len, "buf_read_only_untouched_anon_sees_later_writes");

	f = open("/tmp/kshm-private", O_RDWR | O_CREAT | O_TRUNC, 0600);
	tap_require(f >= 0 && !ftruncate(f, len), "tmpfs file");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	tap_require(p != MAP_FAILED, "map private");
	registered_then_written(fd, p, len, "buf_read_only_private_file_sees_later_writes");
	close(f);
	unlink("/tmp/kshm-private");
}

static void memfd_and_shared_file(int fd)
{
	size_t len = 4 * page;
	uint8_t *p, *q;
	int mfd, tfd;

	mfd = memfd_create("kshm-test", 0);
	tap_require(mfd >= 0 && !ftruncate(mfd, len), "memfd");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	q = mmap(NULL, len, PROT_READ, MAP_SHARED, mfd, 0);
	tap_require(p != MAP_FAILED && q != MAP_FAILED, "map memfd");
	kernel_reads_and_writes(fd, p, len, "memfd");
	tap_ok(q[5] == (uint8_t)(5 * 31 + 1), "buf_memfd_pages_are_the_files");
	munmap(p, len);
	munmap(q, len);
	close(mfd);

	tfd = open("/tmp/kshm-shared", O_RDWR | O_CREAT | O_TRUNC, 0600);
	tap_require(tfd >= 0 && !ftruncate(tfd, len), "tmpfs file");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	tap_require(p != MAP_FAILED, "map tmpfs file");
	kernel_reads_and_writes(fd, p, len, "tmpfs_map_shared");
	munmap(p, len);
	close(tfd);
	unlink("/tmp/kshm-shared");
}

/* A private mapping of /dev/zero is anonymous memory: it registers. */
static void private_dev_zero(int fd)
{
	int zfd = open("/dev/zero", O_RDWR);
	uint8_t *p;

	tap_require(zfd >= 0, "open /dev/zero");
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, zfd, 0);
	tap_require(p != MAP_FAILED, "map /dev/zero");
	memset(p, 0, 2 * page);
	kernel_reads_and_writes(fd, p + 16, 2 * page - 32, "private_dev_zero");
	munmap(p, 2 * page);
	close(zfd);
}

/*
 * Hugetlb pages, reserved first: the guest kernels all have hugetlbfs.  The
 * buffer starts inside one huge page and ends inside the next (pinned and
 * unpinned a run per huge page); after the release and munmap both are
 * back in the pool, so no pin was left behind.
 */
static void hugetlb_pages(int fd)
{
	size_t len = 4 << 20;
	uint8_t *p;

	write_file("/proc/sys/vm/nr_hugepages", "4");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
		 0);
	tap_ok(p != MAP_FAILED, "buf_hugetlb_mapped");
	if (p == MAP_FAILED) {
		tap_diag("  mmap(MAP_HUGETLB): %s; HugePages_Total %lld", strerror(errno),
			 proc_value("/proc/meminfo", "HugePages_Total"));
	} else {
		memset(p, 0, len);
		kernel_reads_and_writes(fd, p + 4096 - 8, len - 8192, "hugetlb");
		munmap(p, len);
		tap_ok(proc_value("/proc/meminfo", "HugePages_Free") ==
			       proc_value("/proc/meminfo", "HugePages_Total"),
		       "buf_hugetlb_pages_back_in_the_pool_after_release");
	}
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

/* /proc/kpageflags: the page is part of a transparent huge page. */
#define KPF_THP 22

/* Are all pages of [@p, @p + @len) parts of transparent huge pages? */
static int all_thp(const uint8_t *p, size_t len)
{
	unsigned long long flags;
	size_t i;

	for (i = 0; i < len; i += page) {
		flags = kpageflags_at(p + i);
		if (flags == ~0ull || !(flags >> KPF_THP & 1))
			return 0;
	}
	return 1;
}

/*
 * 6.1's PREEMPT_RT kernels are built without THP (Kconfig excludes it), so
 * there, and only there, the THP case cannot run.
 */
static int kernel_without_thp(void)
{
	struct utsname u;

	return access("/sys/kernel/mm/transparent_hugepage", F_OK) && !uname(&u) &&
	       strstr(u.version, "PREEMPT_RT");
}

/*
 * Memory backed by a transparent huge page (checked in its page flags
 * before it is registered).  THP is switched on if it was off.
 */
static void transparent_huge_page(int fd)
{
	const char *enabled = "/sys/kernel/mm/transparent_hugepage/enabled";
	size_t len = 2 << 20;
	uint8_t *p, *mem;
	char mode[128] = "";
	FILE *f;

	if (kernel_without_thp()) {
		tap_ok(1, "buf_thp # SKIP this PREEMPT_RT kernel is built without THP");
		return;
	}
	f = fopen(enabled, "r");
	if (f && !fgets(mode, sizeof(mode), f))
		mode[0] = 0;
	if (f)
		fclose(f);
	mode[strcspn(mode, "\n")] = 0;
	if (strstr(mode, "[never]"))
		write_file(enabled, "madvise");
	mem = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(mem != MAP_FAILED, "map for THP");
	p = (uint8_t *)(((uintptr_t)mem + len - 1) & ~(len - 1));
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, 1, len);
	tap_ok(all_thp(p, len), "buf_thp_memory_is_thp");
	if (!all_thp(p, len))
		tap_diag("  %s: %s", enabled, mode[0] ? mode : "(unreadable)");
	kernel_reads_and_writes(fd, p, len, "thp");
	munmap(mem, 2 * len);
}

/* Pins the kernel holds now, all users together (/proc/vmstat). */
static long long pins_held(void)
{
	return proc_vmstat("nr_foll_pin_acquired") - proc_vmstat("nr_foll_pin_released");
}

/* @len bytes of address space aligned to 2 MiB, reserved PROT_NONE. */
static uint8_t *reserve_2m_aligned(size_t len)
{
	size_t huge = 2 << 20;
	uint8_t *m = mmap(NULL, len + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	tap_require(m != MAP_FAILED, "reserve");
	return (uint8_t *)(((uintptr_t)m + huge - 1) & ~(huge - 1));
}

/*
 * Register @len bytes at @p, check the pins held, let the kernel write a
 * sequence (seen at the user addresses when no page is mapped twice) and
 * read it back, release, and check every pin went.
 */
static void pinned_runs_cycle(int fd, uint8_t *p, size_t len, int aliased, const char *kind)
{
	unsigned long long pages = ((uintptr_t)p % page + len + page - 1) / page;
	long long before = pins_held(), held;
	uint64_t sum = 0;
	uint32_t id;
	size_t i;
	int good = 1;

	tap_require(!kshm_buf_register(fd, p, len, RW, &id), "register");
	held = pins_held() - before;
	tap_ok(held == (long long)pages, "buf_%s_one_pin_per_page (%lld of %llu)", kind, held,
	       pages);
	tap_zero(kshm_buf_fill(fd, id, 1, 0, len, 3, 7), "buf_runs_fill");
	for (i = 0; !aliased && i < len; i++)
		good &= p[i] == (uint8_t)(3 + 7 * i);
	tap_ok(good, "buf_%s_kernel_writes_land_at_the_user_addresses", kind);
	tap_ok(!kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, len, &sum) && sum == fnv1a(p, len),
	       "buf_%s_kernel_sees_what_the_application_sees", kind);
	kshm_buf_unregister(fd, id);
	tap_require(!kshm_wait_buf_released(fd, id, 30000), "release");
	tap_ok(pins_held() == before, "buf_%s_every_pin_released (%lld left)", kind,
	       pins_held() - before);
}

/*
 * Runs of large folios in every shape kshm_folio_run() meets: a hugetlb
 * page mapped twice, not in a row (X, Y, X), then small anonymous pages,
 * the buffer starting and ending inside huge pages; a range inside one
 * huge page; a transparent huge page whose subpages mremap() swapped,
 * next to a second one.
 */
static void large_folio_runs(int fd)
{
	size_t huge = 2 << 20;
	uint8_t *b, *p, *spare;
	unsigned long long f0;
	int mfd, thp = 1;
	size_t i;

	write_file("/proc/sys/vm/nr_hugepages", "4");
	mfd = memfd_create("runs", MFD_HUGETLB);
	tap_require(mfd >= 0 && !ftruncate(mfd, 2 * huge), "hugetlb memfd");
	b = reserve_2m_aligned(4 * huge);
	tap_require(mmap(b, huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0) == b &&
			    mmap(b + huge, huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 mfd, huge) == b + huge &&
			    mmap(b + 2 * huge, huge, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 mfd, 0) == b + 2 * huge &&
			    mmap(b + 3 * huge, 4 * page, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == b + 3 * huge,
		    "map X, Y, X, small pages");
	memset(b, 1, 3 * huge + 4 * page);
	pinned_runs_cycle(fd, b + 3 * page + 5, 3 * huge - 3 * page - 5 + 2 * page + 100, 1,
			  "hugetlb_x_y_x_then_small_pages");
	pinned_runs_cycle(fd, b + 7 * page + 1, 100 * page, 0, "hugetlb_inside_one_page");
	munmap(b, 3 * huge + 4 * page);
	close(mfd);
	tap_ok(proc_value("/proc/meminfo", "HugePages_Free") ==
		       proc_value("/proc/meminfo", "HugePages_Total"),
	       "buf_hugetlb_runs_pages_back_in_the_pool");
	write_file("/proc/sys/vm/nr_hugepages", "0");

	if (kernel_without_thp()) {
		tap_ok(1, "buf_thp_runs # SKIP this PREEMPT_RT kernel is built without THP");
		return;
	}
	p = reserve_2m_aligned(2 * huge);
	tap_require(mmap(p, 2 * huge, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p,
		    "map");
	madvise(p, 2 * huge, MADV_HUGEPAGE);
	memset(p, 2, 2 * huge);
	for (i = 0; i < 2 * huge; i += page)
		thp &= kpageflags_at(p + i) >> KPF_THP & 1;
	f0 = pfn_at(p);
	spare = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(spare != MAP_FAILED &&
			    mremap(p + page, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, spare) ==
				    spare &&
			    mremap(p + 2 * page, page, page, MREMAP_MAYMOVE | MREMAP_FIXED,
				   p + page) == p + page &&
			    mremap(spare, page, page, MREMAP_MAYMOVE | MREMAP_FIXED,
				   p + 2 * page) == p + 2 * page,
		    "swap two subpages");
	tap_ok(thp && pfn_at(p + page) == f0 + 2 && pfn_at(p + 2 * page) == f0 + 1,
	       "buf_thp_subpages_swapped_in_a_thp");
	pinned_runs_cycle(fd, p + 9, 2 * huge - page - 20, 0, "thp_swapped_subpages");
	munmap(p, 2 * huge);
}

/* munmap does not pull the pages from under the kernel: the pin holds them. */
static void munmap_while_registered(int fd)
{
	size_t len = 2 * page;
	uint64_t sum = 0;
	uint8_t *p, copy[64];
	uint32_t id;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED, "map");
	memset(p, 0x5a, len);
	tap_require(!kshm_buf_register(fd, p, len, RW, &id), "register");
	memcpy(copy, p, sizeof(copy));
	tap_zero(munmap(p, len) ? -errno : 0, "buf_munmap_while_registered");
	tap_ok(!kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, 64, &sum) && sum == fnv1a(copy, 64),
	       "buf_kernel_reads_after_munmap");
	tap_zero(kshm_buf_fill(fd, id, 8, 0, len / 8, 1, 1), "buf_kernel_writes_after_munmap");
	tap_ok(!kshm_buf_unregister(fd, id) && !kshm_wait_buf_released(fd, id, 30000),
	       "buf_munmapped_buffer_released");
}

/*
 * After fork the parent keeps the pinned pages (the kernel copies them for
 * the child at fork instead of sharing them copy-on-write), so what the
 * parent writes the kernel reads and what the kernel writes the parent
 * sees; the child has its own copy, frozen at fork.
 */
static void fork_keeps_parent_and_kernel_together(int fd)
{
	int go[2], status;
	uint64_t sum = 0;
	uint8_t *p;
	uint32_t id;
	pid_t pid;
	char c;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED && !pipe(go), "map");
	memset(p, 0x11, page);
	tap_require(!kshm_buf_register(fd, p, page, RW, &id), "register");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* Neither the parent's write nor the kernel's reached us. */
		_exit(p[0] == 0x11 && p[100] == 0x11 ? 0 : 1);
	}
	close(go[0]);
	memset(p, 0x22, 64);
	tap_ok(!kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, page, &sum) && sum == fnv1a(p, page),
	       "buf_fork_kernel_reads_parent_writes");
	kshm_buf_fill(fd, id, 1, 100, 1, 0x33, 0);
	tap_ok(p[100] == 0x33, "buf_fork_parent_sees_kernel_writes");
	tap_require(write(go[1], "x", 1) == 1, "wake child");
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "buf_fork_child_keeps_its_copy_from_fork");
	close(go[1]);
	kshm_buf_unregister(fd, id);
	kshm_wait_buf_released(fd, id, 30000);
	munmap(p, page);
}

/* Pages the kernel may write are marked dirty when unpinned; others not. */
/*
 * The page flags after the release: dirty only where the kernel could have
 * written (a writable registration the kernel used), clean where it could
 * not (read-only, or writable but never touched by the kernel).
 */
static void unpin_marks_written_pages_dirty(int fd)
{
	static const uint32_t access[3] = { KSHM_BUF_KERNEL_READ, KSHM_BUF_KERNEL_WRITE,
					    KSHM_BUF_KERNEL_WRITE };
	uint64_t flags[3];
	volatile uint8_t *p;
	uint32_t id;
	int i;

	for (i = 0; i < 3; i++) {
		p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		tap_require(p != MAP_FAILED, "map");
		p[0] = 1;
		tap_require(!(kpageflags_at((void *)p) >> KPF_DIRTY & 1), "a clean page");
		tap_require(!kshm_buf_register(fd, (void *)p, page, access[i], &id), "register");
		if (i == 2)
			tap_require(!kshm_buf_fill(fd, id, 1, 0, 1, 5, 0), "kernel write");
		kshm_buf_unregister(fd, id);
		tap_require(!kshm_wait_buf_released(fd, id, 30000), "release");
		flags[i] = kpageflags_at((void *)p);
		munmap((void *)p, page);
	}
	tap_ok(flags[0] != ~0ull && !(flags[0] >> KPF_DIRTY & 1),
	       "buf_unpin_leaves_read_only_registration_clean");
	tap_ok(flags[1] != ~0ull && !(flags[1] >> KPF_DIRTY & 1),
	       "buf_unpin_leaves_writable_registration_the_kernel_never_used_clean");
	tap_ok(flags[2] != ~0ull && (flags[2] >> KPF_DIRTY & 1),
	       "buf_unpin_marks_pages_the_kernel_wrote_dirty");
}

/*
 * Registration pins and stops there; the first kernel use maps the buffer,
 * later ones reuse that mapping, and the release unmaps it.
 */
static void kernel_mapping_on_first_use(int fd)
{
	uint8_t *p = aligned_alloc(page, 5 * page);
	int n0 = kshm_vmap_areas();
	uint64_t sum;
	uint32_t id;

	tap_require(p != NULL, "alloc");
	memset(p, 7, 5 * page);
	tap_require(!kshm_buf_register(fd, p + 1, 4 * page, RW, &id), "register");
	tap_ok(kshm_vmap_areas() == n0, "buf_register_makes_no_kernel_mapping");
	tap_zero(kshm_buf_fill(fd, id, 1, 4 * page - 1, 1, 9, 0), "buf_first_fill");
	tap_ok(kshm_vmap_areas() == n0 + 1, "buf_first_kernel_use_maps_it");
	tap_zero(kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, 4 * page, &sum), "buf_checksum");
	tap_ok(kshm_vmap_areas() == n0 + 1, "buf_later_kernel_uses_reuse_the_mapping");
	tap_ok(p[4 * page] == 9 && p[4 * page - 1] == 7 && p[4 * page + 1] == 7,
	       "buf_lazily_mapped_fill_lands_at_its_offset");
	kshm_buf_unregister(fd, id);
	tap_require(!kshm_wait_buf_released(fd, id, 30000), "release");
	tap_ok(kshm_vmap_areas() == n0, "buf_release_removes_the_kernel_mapping");
	free(p);
}

struct first_use {
	int fd;
	uint32_t id;
	pthread_barrier_t *go;
	int ret;
};

static void *first_use_main(void *arg)
{
	struct first_use *u = arg;
	uint64_t sum;

	pthread_barrier_wait(u->go);
	u->ret = kshm_checksum(u->fd, KSHM_TARGET_BUF, u->id, 0, 8, &sum);
	return NULL;
}

/* Two first users at once: one mapping survives, none leaks. */
static void kernel_mapping_first_use_race(int fd)
{
	enum { ROUNDS = 100 };
	uint8_t *p = aligned_alloc(page, 2 * page);
	int n0 = kshm_vmap_areas(), extra = 0, failed = 0, r, i;
	struct first_use u[2];
	pthread_barrier_t go;
	pthread_t t[2];

	tap_require(p != NULL, "alloc");
	memset(p, 1, 2 * page);
	for (r = 0; r < ROUNDS; r++) {
		tap_require(!kshm_buf_register(fd, p, 2 * page, RW, &u[0].id), "register");
		pthread_barrier_init(&go, NULL, 2);
		for (i = 0; i < 2; i++) {
			u[i] = (struct first_use){ fd, u[0].id, &go, -1 };
			tap_require(!pthread_create(&t[i], NULL, first_use_main, &u[i]), "thread");
		}
		for (i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			failed += u[i].ret != 0;
		}
		pthread_barrier_destroy(&go);
		extra += kshm_vmap_areas() - n0 != 1;
		kshm_buf_unregister(fd, u[0].id);
		tap_require(!kshm_wait_buf_released(fd, u[0].id, 30000), "release");
	}
	tap_ok(!failed, "buf_racing_first_uses_both_succeed");
	tap_ok(!extra, "buf_racing_first_uses_leave_one_mapping");
	tap_ok(kshm_vmap_areas() == n0, "buf_racing_first_uses_leak_no_mapping");
	free(p);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	anonymous_unaligned(fd);
	memfd_and_shared_file(fd);
	private_dev_zero(fd);
	read_only_sees_later_writes(fd);
	hugetlb_pages(fd);
	transparent_huge_page(fd);
	large_folio_runs(fd);
	munmap_while_registered(fd);
	fork_keeps_parent_and_kernel_together(fd);
	unpin_marks_written_pages_dirty(fd);
	kernel_mapping_on_first_use(fd);
	kernel_mapping_first_use_race(fd);
	kshm_close(fd);
	return tap_done();
}
