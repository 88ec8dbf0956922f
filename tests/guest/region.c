// SPDX-License-Identifier: MIT
/*
 * Regions: create, the kernel's fill seen through mmap, the application's
 * writes seen by the kernel, and every bad input with its exact errno.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "kshm.h"
#include "tap.h"

static long page;

static int raw_create(int fd, struct kshm_region_create *c)
{
	c->size = sizeof(*c);
	return raw_ioctl(fd, KSHM_IOC_REGION_CREATE, c);
}

static int map_at(int fd, size_t len, uint64_t off, int flags, void **p)
{
	*p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);
	return *p == MAP_FAILED ? -errno : 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

static void create_gives_zeroed_mappable_pages(int fd)
{
	struct kshm_region_desc r;
	void *p;

	tap_zero(kshm_region_create(fd, 3 * page, 0, &r), "region_create_three_pages");
	tap_ok(r.length == (uint64_t)(3 * page), "region_create_reports_length");
	tap_ok(r.mmap_offset == (uint64_t)r.id << KSHM_MMAP_WINDOW_SHIFT,
	       "region_create_reports_mmap_offset");
	tap_zero(kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &p), "region_map_whole");
	tap_ok(all_zero(p, r.length), "region_pages_start_zeroed");
	kshm_region_unmap(&r, p);
	tap_zero(kshm_region_destroy(fd, r.id), "region_destroy");
}

static void create_rounds_up_to_pages(int fd)
{
	struct kshm_region_desc r;

	tap_zero(kshm_region_create(fd, 100, 0, &r), "region_create_100_bytes");
	tap_ok(r.length == (uint64_t)page, "region_length_rounded_to_page");
	kshm_region_destroy(fd, r.id);
}

static void kernel_fill_seen_through_mmap(int fd)
{
	struct kshm_region_desc r;
	uint16_t *cells;
	uint32_t *words;
	int i, good = 1;

	tap_require(!kshm_region_create(fd, 2 * page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&cells), "map");
	tap_zero(kshm_region_fill(fd, r.id, 2, 0, 10, 10, -1), "region_fill_u16_10_to_1");
	for (i = 0; i < 10; i++)
		good &= cells[i] == 10 - i;
	tap_ok(good && cells[10] == 0, "region_fill_visible_through_mmap");
	/* A fill across the page boundary lands in the second page too. */
	words = (uint32_t *)((char *)cells + page - 8);
	tap_zero(kshm_region_fill(fd, r.id, 4, page - 8, 4, 0xa0, 0x10),
		 "region_fill_across_pages");
	tap_ok(words[0] == 0xa0 && words[1] == 0xb0 && words[2] == 0xc0 && words[3] == 0xd0,
	       "region_fill_across_pages_visible");
	tap_zero(kshm_region_fill(fd, r.id, 8, r.length - 8, 1, ~0ull, 0), "region_fill_last_u64");
	tap_ok(*(uint64_t *)((char *)cells + r.length - 8) == ~0ull,
	       "region_fill_last_u64_visible");
	kshm_region_unmap(&r, cells);
	kshm_region_destroy(fd, r.id);
}

static void application_writes_seen_by_kernel(int fd)
{
	struct kshm_region_desc r;
	char back[64], *p;

	tap_require(!kshm_region_create(fd, 2 * page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	strcpy(p + page + 5, "written by the application");
	memset(back, 0, sizeof(back));
	tap_zero(kshm_region_read(fd, r.id, page + 5, back, 27), "region_read");
	tap_ok(!strcmp(back, "written by the application"),
	       "region_application_write_seen_by_kernel");
	kshm_region_unmap(&r, p);
	kshm_region_destroy(fd, r.id);
}

static void mmap_inner_offset_and_refault(int fd)
{
	struct kshm_region_desc r;
	uint8_t *p;

	tap_require(!kshm_region_create(fd, 4 * page, 0, &r), "create");
	kshm_region_fill(fd, r.id, 1, 2 * page, 1, 0x5a, 0);
	tap_zero(map_at(fd, page, r.mmap_offset + 2 * page, MAP_SHARED, (void **)&p),
		 "region_map_third_page_alone");
	tap_ok(p[0] == 0x5a, "region_inner_offset_maps_that_page");
	/* Zapping the page tables must not lose the page: it faults back in. */
	tap_zero(madvise(p, page, MADV_DONTNEED) ? -errno : 0, "region_madv_dontneed");
	tap_ok(p[0] == 0x5a, "region_page_faults_back_after_zap");
	munmap(p, page);
	kshm_region_destroy(fd, r.id);
}

static void create_bad_inputs(int fd)
{
	struct kshm_info info;
	struct kshm_region_create c;

	kshm_get_info(fd, &info);
	memset(&c, 0, sizeof(c));
	tap_errno(raw_create(fd, &c), EINVAL, "region_create_size_zero_einval");
	c.length = info.max_region_size + 1;
	tap_errno(raw_create(fd, &c), EFBIG, "region_create_beyond_limit_efbig");
	c.length = ~0ull;
	tap_errno(raw_create(fd, &c), EFBIG, "region_create_u64_max_efbig");
	c.length = page;
	c.__reserved = 1;
	tap_errno(raw_create(fd, &c), EINVAL, "region_create_reserved_nonzero_einval");
	c.__reserved = 0;
	c.flags = 0x80000000;
	tap_errno(raw_create(fd, &c), EINVAL, "region_create_unknown_flags_einval");
}

/* Lower the module's per-file quota through sysfs and go over it. */
static void create_over_file_quota(int fd)
{
	const char *param = "/sys/module/kshm/parameters/max_file_size";
	struct kshm_region_desc a, b;
	char old[32] = "";
	void *m;
	FILE *f;

	f = fopen(param, "r");
	tap_require(f && fgets(old, sizeof(old), f), "read max_file_size");
	fclose(f);
	f = fopen(param, "w");
	tap_require(f != NULL, "open max_file_size");
	fprintf(f, "%ld\n", 3 * page);
	fclose(f);
	tap_zero(kshm_region_create(fd, 2 * page, 0, &a), "region_create_within_quota");
	tap_errno(kshm_region_create(fd, 2 * page, 0, &b), ENOSPC,
		  "region_create_over_file_quota_enospc");
	tap_zero(kshm_region_create(fd, page, 0, &b), "region_create_fills_quota_exactly");
	kshm_region_destroy(fd, b.id);
	/* Destroyed but still mapped: its pages still count (defect 16). */
	tap_require(!kshm_region_map(fd, &a, PROT_READ, &m), "map");
	kshm_region_destroy(fd, a.id);
	tap_errno(kshm_region_create(fd, 2 * page, 0, &b), ENOSPC,
		  "region_destroyed_but_mapped_still_counts_against_quota");
	kshm_region_unmap(&a, m);
	tap_zero(kshm_region_create(fd, 3 * page, 0, &b), "region_quota_back_after_last_munmap");
	kshm_region_destroy(fd, b.id);
	f = fopen(param, "w");
	tap_require(f != NULL, "restore max_file_size");
	fputs(old, f);
	fclose(f);
}

/*
 * Regions are memory the user cannot swap: charged to RLIMIT_MEMLOCK like
 * registered buffers, mapped-but-destroyed ones included, CAP_IPC_LOCK
 * exempt (defects issue, item 16).  Runs as nobody, which has no
 * CAP_IPC_LOCK, with a 64 KiB limit.
 */
static int memlock_as_nobody(void)
{
	struct rlimit lim = { 64 << 10, 64 << 10 };
	struct kshm_region_desc a, b;
	int fd, bad = 0;
	void *m;

	if (setrlimit(RLIMIT_MEMLOCK, &lim) || setgid(65534) || setuid(65534))
		return 100;
	fd = kshm_open(NULL);
	if (fd < 0)
		return 101;
	bad |= kshm_region_create(fd, 32 << 10, 0, &a) ? 1 : 0;
	bad |= kshm_region_create(fd, 64 << 10, 0, &b) != -ENOMEM ? 2 : 0;
	bad |= kshm_region_map(fd, &a, PROT_READ, &m) ? 4 : 0;
	kshm_region_destroy(fd, a.id);
	bad |= kshm_region_create(fd, 64 << 10, 0, &b) != -ENOMEM ? 8 : 0;
	kshm_region_unmap(&a, m);
	bad |= kshm_region_create(fd, 64 << 10, 0, &b) ? 16 : 0;
	return bad;
}

static void region_charged_to_memlock(void)
{
	int status = 0;
	pid_t pid;

	tap_require(!chmod("/dev/kshm", 0666), "chmod /dev/kshm");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid)
		_exit(memlock_as_nobody());
	waitpid(pid, &status, 0);
	chmod("/dev/kshm", 0600);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "region_charged_to_rlimit_memlock_until_last_munmap");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		tap_diag("  child status 0x%x (bits: 1 first create, 2 over limit not ENOMEM, "
			 "4 map, 8 mapped-destroyed not counted, 16 not back after munmap)",
			 status);
}

static void destroy_bad_inputs(int fd)
{
	struct kshm_region_destroy d = { .size = sizeof(d) };
	struct kshm_region_desc r;

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	d.id = r.id;
	d.__reserved = 7;
	tap_errno(raw_ioctl(fd, KSHM_IOC_REGION_DESTROY, &d), EINVAL,
		  "region_destroy_reserved_nonzero_einval");
	tap_zero(kshm_region_destroy(fd, r.id), "region_destroy_once");
	tap_errno(kshm_region_destroy(fd, r.id), ENOENT, "region_destroy_twice_enoent");
	tap_errno(kshm_region_destroy(fd, 0), ENOENT, "region_destroy_id_zero_enoent");
	tap_errno(kshm_region_destroy(fd, 123456), ENOENT, "region_destroy_unknown_enoent");
}

static void fill_and_read_bad_inputs(int fd)
{
	struct kshm_region_desc r;
	char buf[16];

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_errno(kshm_region_fill(fd, r.id, 3, 0, 1, 0, 0), EINVAL, "region_fill_width_3_einval");
	tap_errno(kshm_region_fill(fd, r.id, 0, 0, 1, 0, 0), EINVAL, "region_fill_width_0_einval");
	tap_errno(kshm_region_fill(fd, r.id, 4, 2, 1, 0, 0), EINVAL,
		  "region_fill_misaligned_einval");
	tap_errno(kshm_region_fill(fd, r.id, 1, 0, page + 1, 0, 0), EINVAL,
		  "region_fill_past_end_einval");
	tap_errno(kshm_region_fill(fd, r.id, 1, page, 1, 0, 0), EINVAL,
		  "region_fill_offset_at_end_einval");
	tap_errno(kshm_region_fill(fd, r.id, 8, 0, 1ull << 62, 0, 0), EINVAL,
		  "region_fill_count_overflow_einval");
	tap_errno(kshm_region_fill(fd, r.id, 1, 0, 0, 0, 0), EINVAL,
		  "region_fill_count_zero_einval");
	tap_errno(kshm_region_fill(fd, 999, 1, 0, 1, 0, 0), ENOENT,
		  "region_fill_unknown_id_enoent");
	tap_errno(kshm_region_read(fd, r.id, page - 4, buf, 8), EINVAL,
		  "region_read_past_end_einval");
	tap_errno(kshm_region_read(fd, r.id, ~0ull - 2, buf, 8), EINVAL,
		  "region_read_offset_overflow_einval");
	tap_errno(kshm_region_read(fd, 999, 0, buf, 8), ENOENT, "region_read_unknown_id_enoent");
	tap_errno(kshm_region_read(fd, r.id, 0, (void *)16, 8), EFAULT,
		  "region_read_bad_pointer_efault");
	kshm_region_destroy(fd, r.id);
}

/*
 * The mmap offset of a window no region of @fd has, low enough for a 32-bit
 * process's mmap (whose offset reaches 2^44 bytes: windows 0 to 15).
 */
static uint64_t unused_window(int fd)
{
	struct kshm_region_info info;
	uint32_t id = 15;

	while (id && !kshm_region_info(fd, id, 0, &info))
		id--;
	tap_require(id > 0, "find a window without a region");
	return (uint64_t)id << KSHM_MMAP_WINDOW_SHIFT;
}

static void mmap_bad_inputs(int fd)
{
	struct kshm_region_desc r, gone;
	int fresh;
	void *p;

	fresh = kshm_open(NULL);
	tap_require(fresh >= 0, "open");
	tap_errno(map_at(fresh, page, 1ull << KSHM_MMAP_WINDOW_SHIFT, MAP_SHARED, &p), ENXIO,
		  "region_mmap_before_any_create_enxio");
	kshm_close(fresh);

	tap_require(!kshm_region_create(fd, 2 * page, 0, &r), "create");
	tap_errno(map_at(fd, page, 0, MAP_SHARED, &p), ENXIO, "region_mmap_offset_zero_enxio");
	tap_errno(map_at(fd, page, unused_window(fd), MAP_SHARED, &p), ENXIO,
		  "region_mmap_wrong_offset_enxio");
	tap_errno(map_at(fd, 3 * page, r.mmap_offset, MAP_SHARED, &p), EINVAL,
		  "region_mmap_longer_than_region_einval");
	tap_errno(map_at(fd, page, r.mmap_offset + 2 * page, MAP_SHARED, &p), EINVAL,
		  "region_mmap_offset_past_end_einval");
	tap_errno(map_at(fd, 2 * page, r.mmap_offset + page, MAP_SHARED, &p), EINVAL,
		  "region_mmap_inner_offset_too_long_einval");
	tap_errno(map_at(fd, page, r.mmap_offset, MAP_PRIVATE, &p), EINVAL,
		  "region_mmap_private_einval");
	tap_require(!kshm_region_create(fd, page, 0, &gone), "create");
	kshm_region_destroy(fd, gone.id);
	tap_errno(map_at(fd, page, gone.mmap_offset, MAP_SHARED, &p), ENXIO,
		  "region_mmap_destroyed_region_enxio");
	kshm_region_destroy(fd, r.id);
}

/*
 * Every id the module hands out can be mapped: the 17th live region of a
 * file has id 17 (ids start at 1 and reuse the lowest free one).
 */
static void high_ids_mappable(void)
{
	struct kshm_region_desc r;
	int i, ret, ok, fd = kshm_open(NULL);
	void *p = NULL;

	tap_require(fd >= 0, "open");
	for (i = 0; i < 17; i++)
		tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	ret = kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &p);
	ok = r.id == 17 && !ret;
	/* 32-bit processes too: their mmap2 offsets reach windows below 4096. */
	tap_ok(ok, "region_mmap_id_17_reachable");
	if (!ret)
		kshm_region_unmap(&r, p);
	kshm_close(fd);
}

static void read_only_region(int fd)
{
	struct kshm_region_desc r;
	struct kshm_region_info info;
	uint8_t *p;
	void *w;

	tap_zero(kshm_region_create(fd, 2 * page, KSHM_REGION_USER_RDONLY, &r),
		 "region_create_read_only");
	tap_errno(kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &w), EPERM,
		  "region_read_only_writable_mmap_eperm");
	tap_zero(kshm_region_map(fd, &r, PROT_READ, (void **)&p), "region_read_only_map_read");
	kshm_region_fill(fd, r.id, 1, 1, 1, 0x99, 0);
	tap_ok(p[1] == 0x99, "region_read_only_sees_kernel_writes");
	tap_errno(mprotect(p, page, PROT_READ | PROT_WRITE) ? -errno : 0, EACCES,
		  "region_read_only_mprotect_write_eacces");
	tap_ok(!kshm_region_info(fd, r.id, 0, &info) &&
		       info.region_flags == KSHM_REGION_USER_RDONLY,
	       "region_info_reports_read_only");
	munmap(p, r.length);
	kshm_region_destroy(fd, r.id);
}

/* mremap cannot grow a mapping, can move it; munmap and mprotect of a part. */
static void mapping_changes(int fd)
{
	struct kshm_region_desc r;
	struct kshm_region_info info;
	uint8_t *p, *q, *dst;

	tap_require(!kshm_region_create(fd, 4 * page, 0, &r), "create");
	dst = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(dst != MAP_FAILED, "reserve a destination");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 1, 3 * page, 1, 0x3c, 0);
	q = mremap(p, r.length, 2 * r.length, MREMAP_MAYMOVE);
	tap_errno(q == MAP_FAILED ? -errno : 0, EFAULT, "region_mremap_grow_efault");
	q = mremap(p, r.length, r.length, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	tap_ok(q == dst && q[3 * page] == 0x3c, "region_mremap_move_keeps_pages");
	p = q;
	tap_zero(munmap(p + page, 2 * page) ? -errno : 0, "region_partial_munmap");
	tap_ok(!kshm_region_info(fd, r.id, 0, &info) && info.mappings == 2,
	       "region_partial_munmap_splits_mapping");
	p[0] = 1;
	tap_ok(p[0] == 1 && p[3 * page] == 0x3c, "region_parts_left_still_work");
	tap_zero(mprotect(p, page, PROT_READ) ? -errno : 0, "region_mprotect_read_only");
	tap_zero(mprotect(p, page, PROT_READ | PROT_WRITE) ? -errno : 0,
		 "region_mprotect_back_to_write");
	p[1] = 2;
	tap_ok(p[1] == 2, "region_write_after_mprotect");
	munmap(p, page);
	munmap(p + 3 * page, page);
	tap_ok(!kshm_region_info(fd, r.id, 0, &info) && info.mappings == 0,
	       "region_info_mappings_back_to_zero");
	kshm_region_destroy(fd, r.id);
}

static void info_lists_regions(int fd)
{
	struct kshm_region_desc a, b;
	struct kshm_region_info info;
	uint32_t id = 0;
	int n = 0, seen_a = 0, seen_b = 0;

	tap_require(!kshm_region_create(fd, page, 0, &a), "create");
	tap_require(!kshm_region_create_ex(fd, 3 * page, 0, KSHM_CACHE_WC, KSHM_NODE_ANY, &b),
		    "create");
	while (!kshm_region_info(fd, id, KSHM_REGION_INFO_NEXT, &info)) {
		n++;
		seen_a |= info.id == a.id && info.length == (uint64_t)page;
		seen_b |= info.id == b.id && info.length == (uint64_t)(3 * page) &&
			  info.cache_mode == KSHM_CACHE_WC && info.node == KSHM_NODE_ANY &&
			  info.mmap_offset == b.mmap_offset;
		id = info.id + 1;
	}
	tap_ok(n == 2 && seen_a && seen_b, "region_info_next_lists_every_region");
	tap_errno(kshm_region_info(fd, b.id + 1, 0, &info), ENOENT,
		  "region_info_unknown_id_enoent");
	kshm_region_destroy(fd, a.id);
	tap_errno(kshm_region_info(fd, a.id, 0, &info), ENOENT, "region_info_destroyed_enoent");
	kshm_region_destroy(fd, b.id);
}

/* The module-wide budget counts every file, and regions only mapped. */
static void create_over_module_total(int fd)
{
	const char *param = "/sys/module/kshm/parameters/max_total_size";
	struct kshm_region_desc a, b;
	struct kshm_info info;
	char old[32] = "";
	int other;
	FILE *f;

	kshm_get_info(fd, &info);
	f = fopen(param, "r");
	tap_require(f && fgets(old, sizeof(old), f), "read max_total_size");
	fclose(f);
	f = fopen(param, "w");
	tap_require(f != NULL, "open max_total_size");
	fprintf(f, "%llu\n", (unsigned long long)(info.pages_alive + 4) * page);
	fclose(f);
	other = kshm_open(NULL);
	tap_zero(kshm_region_create(fd, 3 * page, 0, &a), "region_create_within_module_total");
	tap_errno(kshm_region_create(other, 2 * page, 0, &b), ENOSPC,
		  "region_create_over_module_total_enospc");
	tap_zero(kshm_region_create(other, page, 0, &b), "region_create_fills_module_total");
	kshm_close(other);
	kshm_region_destroy(fd, a.id);
	f = fopen(param, "w");
	tap_require(f != NULL, "restore max_total_size");
	fputs(old, f);
	fclose(f);
}

/* One file may hold 10,000 regions (make bench times them). */
static void ten_thousand_regions(void)
{
	enum { N = 10000 };
	int fd = kshm_open(NULL), ok = 0, i;
	struct kshm_region_desc r;

	tap_require(fd >= 0, "open");
	for (i = 0; i < N; i++)
		ok += !kshm_region_create(fd, page, 0, &r);
	tap_ok(ok == N, "region_ten_thousand_in_one_file");
	kshm_close(fd);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	create_gives_zeroed_mappable_pages(fd);
	create_rounds_up_to_pages(fd);
	kernel_fill_seen_through_mmap(fd);
	application_writes_seen_by_kernel(fd);
	mmap_inner_offset_and_refault(fd);
	create_bad_inputs(fd);
	create_over_file_quota(fd);
	destroy_bad_inputs(fd);
	fill_and_read_bad_inputs(fd);
	mmap_bad_inputs(fd);
	high_ids_mappable();
	read_only_region(fd);
	mapping_changes(fd);
	info_lists_regions(fd);
	create_over_module_total(fd);
	region_charged_to_memlock();
	ten_thousand_regions();
	kshm_close(fd);
	return tap_done();
}
