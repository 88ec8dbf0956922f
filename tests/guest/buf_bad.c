// SPDX-License-Identifier: MIT
/*
 * Registrations the module must refuse, each with its exact errno, and
 * with nothing left pinned behind.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "kshm.h"
#include "tap.h"

#define RW (KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE)

static long page;

static int raw_register(int fd, uint64_t addr, uint64_t len, uint32_t flags)
{
	struct kshm_buf_register r = {
		.size = sizeof(r),
		.flags = flags,
		.addr = addr,
		.length = len,
	};

	return raw_ioctl(fd, KSHM_IOC_BUF_REGISTER, &r);
}

/* Static, so below 4 GiB in 64-bit builds as in 32-bit ones. */
static uint8_t low_mem[2 * 4096] __attribute__((aligned(4096)));

/* Pins held system-wide. */
static long long pins_outstanding(void)
{
	return proc_vmstat("nr_foll_pin_acquired") - proc_vmstat("nr_foll_pin_released");
}

static void bad_ranges(int fd)
{
	struct kshm_info info;
	uint8_t *p, *hole;
	long long before;

	kshm_get_info(fd, &info);
	p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED, "map");
	tap_errno(raw_register(fd, 0, page, RW), EFAULT, "buf_address_zero_efault");
	tap_errno(raw_register(fd, (uintptr_t)p, 0, RW), EINVAL, "buf_length_zero_einval");
	tap_errno(raw_register(fd, ~0ull - 100, 4096, RW), EINVAL, "buf_range_overflow_einval");
	tap_errno(raw_register(fd, (uintptr_t)p, info.max_buf_size + 1, RW), EFBIG,
		  "buf_length_beyond_limit_efbig");
	tap_errno(raw_register(fd, 1ull << 62, page, RW), EFAULT, "buf_kernel_half_address_efault");
	/* Unmapped in a 64-bit process; in a 32-bit one, low_mem if the high half were dropped. */
	tap_errno(raw_register(fd, (uintptr_t)low_mem ^ 1ull << 32, page, RW), EFAULT,
		  "buf_address_high_half_kept_efault");
	hole = p + 2 * page;
	munmap(hole, page);
	tap_errno(raw_register(fd, (uintptr_t)hole, page, RW), EFAULT,
		  "buf_unmapped_address_efault");
	before = pins_outstanding();
	tap_errno(raw_register(fd, (uintptr_t)p, 4 * page, RW), EFAULT,
		  "buf_range_into_hole_efault");
	tap_ok(pins_outstanding() == before, "buf_partial_pin_released_at_once");
	munmap(p, 2 * page);
	munmap(p + 3 * page, page);
}

static void bad_access(int fd)
{
	uint8_t *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *p = calloc(1, page);
	uint64_t sum;
	uint32_t id;

	tap_require(ro != MAP_FAILED && p, "map");
	tap_errno(raw_register(fd, (uintptr_t)ro, page, KSHM_BUF_KERNEL_WRITE), EFAULT,
		  "buf_read_only_mapping_for_kernel_writes_efault");
	tap_ok(!kshm_buf_register(fd, ro, page, KSHM_BUF_KERNEL_READ, &id) &&
		       !kshm_buf_unregister(fd, id),
	       "buf_read_only_mapping_for_kernel_reads_ok");
	tap_errno(raw_register(fd, (uintptr_t)p, page, 0), EINVAL, "buf_no_access_flag_einval");
	tap_errno(raw_register(fd, (uintptr_t)p, page, 1u << 5), EINVAL,
		  "buf_unknown_access_flag_einval");
	tap_require(!kshm_buf_register(fd, p, page, KSHM_BUF_KERNEL_READ, &id), "register");
	tap_errno(kshm_buf_fill(fd, id, 1, 0, 1, 0, 0), EACCES,
		  "buf_kernel_write_to_read_only_registration_eacces");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_BUF, id, 100, 0, 16, 1), EACCES,
		  "buf_engine_on_read_only_registration_eacces");
	kshm_buf_unregister(fd, id);
	tap_require(!kshm_buf_register(fd, p, page, KSHM_BUF_KERNEL_WRITE, &id), "register");
	tap_errno(kshm_checksum(fd, KSHM_TARGET_BUF, id, 0, 8, &sum), EACCES,
		  "buf_kernel_read_of_write_only_registration_eacces");
	kshm_buf_unregister(fd, id);
	munmap(ro, page);
	free(p);
}

static void bad_handles(int fd)
{
	struct kshm_buf_register r = { .size = sizeof(r), .flags = RW, .length = 16 };
	struct kshm_buf_info info;
	uint8_t *p = calloc(4, page);
	uint32_t id, id2;
	int other;

	tap_require(p != NULL, "alloc");
	tap_zero(kshm_buf_register(fd, p + page, page, RW, &id), "buf_register");
	tap_errno(kshm_buf_register(fd, p + page, page, RW, &id2), EEXIST,
		  "buf_same_range_twice_eexist");
	tap_errno(kshm_buf_register(fd, p + page + 100, 16, RW, &id2), EEXIST,
		  "buf_overlapping_range_eexist");
	tap_zero(kshm_buf_register(fd, p + 2 * page, 16, RW, &id2), "buf_adjacent_range_ok");
	other = kshm_open(NULL);
	tap_errno(kshm_buf_unregister(other, id), ENOENT, "buf_handle_of_another_file_enoent");
	tap_errno(kshm_buf_info(other, id, &info), ENOENT, "buf_info_of_another_file_enoent");
	tap_zero(kshm_buf_register(other, p + page, page, RW, &id2),
		 "buf_same_range_in_another_file_ok");
	kshm_close(other);
	tap_zero(kshm_buf_unregister(fd, id), "buf_unregister_once");
	tap_errno(kshm_buf_unregister(fd, id), ENOENT, "buf_unregister_twice_enoent");
	tap_errno(kshm_buf_unregister(fd, 4242), ENOENT, "buf_unregister_unknown_enoent");
	tap_errno(kshm_buf_info(fd, id, &info), ENOENT, "buf_info_after_unregister_enoent");
	r.addr = (uintptr_t)p;
	r.__reserved = 1;
	tap_errno(raw_ioctl(fd, KSHM_IOC_BUF_REGISTER, &r), EINVAL,
		  "buf_register_reserved_nonzero_einval");
	free(p);
}

/* Another driver's memory (here the PC's BIOS area through /dev/mem). */
static void pfn_mapping(int fd)
{
	int mem = open("/dev/mem", O_RDWR | O_SYNC);
	void *p = MAP_FAILED;

	if (mem >= 0)
		p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, mem, 0xf0000);
	/* Below 1 MiB STRICT_DEVMEM lets root map it: 6.1, 6.1-rt and 6.12 do. */
	if (p == MAP_FAILED) {
		tap_ok(0, "buf_pfn_mapping_efault");
		tap_diag("  /dev/mem at 0xf0000 cannot be mapped: %s", strerror(errno));
	} else {
		tap_errno(raw_register(fd, (uintptr_t)p, page, RW), EFAULT,
			  "buf_pfn_mapping_efault");
		munmap(p, page);
	}
	if (mem >= 0)
		close(mem);
}

/*
 * A WC or UC region's own mapping: its pages would get a write-back kernel
 * mapping, which PAT forbids (VM_IO keeps get_user_pages away: EFAULT).  A
 * WB region's mapping registers (defects issue, item 3).
 */
static void cache_mode_alias(int fd)
{
	static const struct {
		uint32_t mode;
		const char *name;
	} modes[] = { { KSHM_CACHE_WC, "wc" }, { KSHM_CACHE_UC, "uc" } };
	struct kshm_region_desc r;
	long long pins = pins_outstanding();
	unsigned int i;
	uint32_t id;
	void *m;

	for (i = 0; i < 2; i++) {
		tap_require(
			!kshm_region_create_ex(fd, 4 * page, 0, modes[i].mode, KSHM_NODE_ANY, &r),
			"create");
		tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &m), "map");
		tap_errno(raw_register(fd, (uintptr_t)m, 4 * page, KSHM_BUF_KERNEL_READ), EFAULT,
			  modes[i].name[0] == 'w' ? "buf_register_wc_region_mapping_efault"
						  : "buf_register_uc_region_mapping_efault");
		kshm_region_unmap(&r, m);
		kshm_region_destroy(fd, r.id);
	}
	tap_ok(pins_outstanding() == pins, "buf_cache_mode_alias_leaves_nothing_pinned");
	tap_require(!kshm_region_create(fd, 4 * page, 0, &r), "create wb");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &m), "map wb");
	tap_zero(kshm_buf_register(fd, m, 4 * page, KSHM_BUF_KERNEL_READ, &id),
		 "buf_register_wb_region_mapping_allowed");
	kshm_buf_unregister(fd, id);
	kshm_wait_buf_released(fd, id, 30000);
	kshm_region_unmap(&r, m);
	kshm_region_destroy(fd, r.id);
}

/*
 * Pages of a regular file (not shmem, not hugetlbfs) cannot be held by a
 * long-term pin on any kernel: EOPNOTSUPP (defects issue, item 6).  Debian's
 * 6.1 itself lets FOLL_LONGTERM pin an ext4 MAP_SHARED mapping for writing
 * (Linux 6.5 forbade it): ext4 on a loop device (vm/init.sh mounts it at
 * /mnt/ext4), and ramfs, a filesystem of bare page cache.
 */
static void regular_file_pages(int fd, const char *fs, const char *dir, long magic)
{
	long long pins = pins_outstanding();
	size_t len = 4 * page;
	struct statfs st;
	char path[64], name[128];
	uint8_t *p;
	int f;

	snprintf(path, sizeof(path), "%s/kshm-file", dir);
	tap_ok(!statfs(dir, &st) && st.f_type == magic, "%s_mounted", fs);
	f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	tap_require(f >= 0 && !ftruncate(f, len), "file");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	tap_require(p != MAP_FAILED, "map file");
	memset(p, 1, len);
	snprintf(name, sizeof(name), "buf_register_%s_file_shared_eopnotsupp", fs);
	tap_errno(raw_register(fd, (uintptr_t)p, len, RW), EOPNOTSUPP, name);
	snprintf(name, sizeof(name), "buf_register_%s_file_shared_read_only_eopnotsupp", fs);
	tap_errno(raw_register(fd, (uintptr_t)p, len, KSHM_BUF_KERNEL_READ), EOPNOTSUPP, name);
	munmap(p, len);
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, f, 0);
	tap_require(p != MAP_FAILED, "map file private");
	snprintf(name, sizeof(name), "buf_register_%s_file_private_page_cache_eopnotsupp", fs);
	tap_errno(raw_register(fd, (uintptr_t)p, len, KSHM_BUF_KERNEL_READ), EOPNOTSUPP, name);
	munmap(p, len);
	tap_ok(pins_outstanding() == pins, "buf_%s_file_leaves_nothing_pinned", fs);
	close(f);
	unlink(path);
}

static void regular_files(int fd)
{
	const char *dir = "/tmp/kshm-ramfs";

	regular_file_pages(fd, "ext4", "/mnt/ext4", 0xEF53);
	mkdir(dir, 0700);
	tap_require(!mount("ramfs", dir, "ramfs", 0, NULL), "mount ramfs");
	regular_file_pages(fd, "ramfs", dir, 0x858458f6);
	umount(dir);
	rmdir(dir);
}

/*
 * Whatever root sets max_buf_size to, a registration is capped where its
 * page array still fits one allocation: 1 TiB is EFBIG, without the kernel
 * warning it once gave from kvmalloc() (found by a hostile program).
 */
static void size_cap_past_max_buf_size(int fd)
{
	const char *param = "/sys/module/kshm/parameters/max_buf_size";
	char old[32] = "";
	FILE *f = fopen(param, "r");

	tap_require(f && fgets(old, sizeof(old), f), "read max_buf_size");
	fclose(f);
	tap_require(write_file(param, "1099511627776"), "max_buf_size 1 TiB");
	tap_errno(raw_register(fd, 0x10000, 1ull << 40, KSHM_BUF_KERNEL_READ), EFBIG,
		  "buf_register_1TiB_past_the_cap_efbig");
	tap_require(write_file(param, old), "restore max_buf_size");
}

/*
 * The module-wide cap on registrations (max_bufs), lowered to two more than
 * are alive: the third is ENOSPC in any file, and a release makes room.
 */
static void module_registration_cap(int fd)
{
	const char *param = "/sys/module/kshm/parameters/max_bufs";
	struct kshm_info info = { .size = sizeof(info) };
	uint8_t *p = aligned_alloc(page, 3 * page);
	uint32_t id[3];
	char old[32] = "", cap[32];
	FILE *f = fopen(param, "r");
	int other = kshm_open(NULL);

	tap_require(p && other >= 0 && f && fgets(old, sizeof(old), f), "read max_bufs");
	fclose(f);
	tap_require(!kshm_get_info(fd, &info), "info");
	snprintf(cap, sizeof(cap), "%llu", (unsigned long long)info.bufs_alive + 2);
	tap_require(write_file(param, cap), "lower max_bufs");
	tap_zero(kshm_buf_register(fd, p, page, RW, &id[0]), "buf_register_under_module_cap");
	tap_zero(kshm_buf_register(other, p + page, page, RW, &id[1]),
		 "buf_register_up_to_module_cap_in_another_file");
	tap_errno(kshm_buf_register(fd, p + 2 * page, page, RW, &id[2]), ENOSPC,
		  "buf_register_past_module_cap_enospc");
	kshm_buf_unregister(other, id[1]);
	tap_require(!kshm_wait_buf_released(other, id[1], 10000), "release");
	tap_zero(kshm_buf_register(fd, p + 2 * page, page, RW, &id[2]),
		 "buf_register_after_a_release_under_module_cap");
	tap_require(write_file(param, old), "restore max_bufs");
	kshm_buf_unregister(fd, id[0]);
	kshm_buf_unregister(fd, id[2]);
	kshm_close(other);
	tap_require(!kshm_get_info(fd, &info), "info");
	free(p);
}

/*
 * The overlap check against a model: 64 registrations of 1 byte to 2 pages
 * at any byte offset, made in a shuffled order, then seeded ranges over and
 * around them; again after every other one is unregistered.
 */
static void overlap_against_model(void)
{
	enum { SLOTS = 64, SLOT_PAGES = 4, TRIES = 1500 };
	size_t area = (size_t)SLOTS * SLOT_PAGES * page;
	uint64_t lo[SLOTS], hi[SLOTS], start, len;
	int fd = kshm_open(NULL), perm[SLOTS], bad[2] = { 0, 0 }, adj = 0, round, i, j, k, ret;
	uint8_t *p = mmap(NULL, area, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	uint32_t id[SLOTS], tmp;
	bool live[SLOTS], hit;

	tap_require(fd >= 0 && p != MAP_FAILED, "set-up");
	srand(20261125);
	for (i = 0; i < SLOTS; i++)
		perm[i] = i;
	for (i = SLOTS - 1; i > 0; i--) {
		j = rand() % (i + 1);
		k = perm[i], perm[i] = perm[j], perm[j] = k;
	}
	for (i = 0; i < SLOTS; i++) {
		k = perm[i];
		lo[k] = (uint64_t)k * SLOT_PAGES * page + rand() % page;
		hi[k] = lo[k] + 1 + rand() % (2 * page);
		tap_require(!kshm_buf_register(fd, p + lo[k], hi[k] - lo[k], RW, &id[k]),
			    "register");
		live[k] = true;
	}
	for (round = 0; round < 2; round++) {
		for (i = 0; i < TRIES; i++) {
			start = rand() % area;
			len = 1 + rand() % (3 * page);
			if (len > area - start)
				len = area - start;
			hit = false;
			for (k = 0; k < SLOTS; k++)
				hit |= live[k] && start < hi[k] && lo[k] < start + len;
			ret = kshm_buf_register(fd, p + start, len, RW, &tmp);
			if (!ret)
				kshm_buf_unregister(fd, tmp);
			bad[round] += hit ? ret != -EEXIST : ret != 0;
		}
		for (k = 0; k < SLOTS; k += 2) {
			kshm_buf_unregister(fd, id[k]);
			live[k] = false;
		}
	}
	/* The edges of each live one, to the byte: just outside, just across. */
	for (k = 1; k < SLOTS; k += 2) {
		const uint64_t from[4] = { lo[k] - 1, hi[k], lo[k] - 1, hi[k] - 1 };

		for (i = 0; i < 4; i++) {
			ret = kshm_buf_register(fd, p + from[i], i < 2 ? 1 : 2, RW, &tmp);
			if (!ret)
				kshm_buf_unregister(fd, tmp);
			adj += i < 2 ? ret != 0 : ret != -EEXIST;
		}
	}
	tap_ok(!bad[0], "buf_overlap_check_matches_a_model");
	tap_ok(!bad[1], "buf_overlap_check_matches_a_model_after_unregisters");
	tap_ok(!adj, "buf_overlap_check_edges_byte_exact");
	kshm_close(fd);
	munmap(p, area);
}

/* One file may hold 10,000 registrations (make bench times them). */
static void ten_thousand_registrations(void)
{
	enum { N = 10000 };
	int fd = kshm_open(NULL), ok = 0, i;
	size_t area = (size_t)N * page;
	uint8_t *p = mmap(NULL, area, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	uint32_t id;

	tap_require(fd >= 0 && p != MAP_FAILED, "set-up");
	for (i = 0; i < N; i++)
		ok += !kshm_buf_register(fd, p + (size_t)i * page, page, RW, &id);
	tap_ok(ok == N, "buf_ten_thousand_registrations_in_one_file");
	kshm_close(fd);
	munmap(p, area);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	bad_ranges(fd);
	bad_access(fd);
	bad_handles(fd);
	pfn_mapping(fd);
	cache_mode_alias(fd);
	size_cap_past_max_buf_size(fd);
	module_registration_cap(fd);
	regular_files(fd);
	overlap_against_model();
	ten_thousand_registrations();
	kshm_close(fd);
	return tap_done();
}
