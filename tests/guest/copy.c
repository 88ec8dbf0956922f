// SPDX-License-Identifier: MIT
/*
 * The copy path (METHOD_NEITHER): copy_{from,to}_user in the caller's
 * context between user memory, regions and buffers.  Every bad pointer is
 * EFAULT, every bad range EINVAL, and the kernel never oopses on either.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "kshm.h"
#include "tap.h"

static long page;

/* A user side at any 64-bit address, even one a 32-bit pointer cannot hold. */
static struct kshm_copy_end user_addr(uint64_t addr)
{
	return (struct kshm_copy_end){ KSHM_MEM_USER, 0, addr };
}

static struct kshm_copy_end user_end(const void *p)
{
	return user_addr((uintptr_t)p);
}

/* Static, so below 4 GiB in 64-bit builds as in 32-bit ones. */
static uint8_t low_mem[64];

/*
 * @p with bit 32 flipped: in a 64-bit process an unmapped address; in a
 * 32-bit one, an address that reaches @p only if the module drops the high
 * half of the __u64.
 */
static uint64_t beyond_4g(const void *p)
{
	return (uintptr_t)p ^ 1ull << 32;
}

static struct kshm_copy_end region_end(uint32_t id, uint64_t off)
{
	return (struct kshm_copy_end){ KSHM_MEM_REGION, id, off };
}

static struct kshm_copy_end buf_end(uint32_t id, uint64_t off)
{
	return (struct kshm_copy_end){ KSHM_MEM_BUF, id, off };
}

static int copy(int fd, struct kshm_copy_end src, struct kshm_copy_end dst, uint64_t len)
{
	return kshm_copy(fd, &src, &dst, len);
}

static void round_trips(int fd)
{
	size_t len = 4 << 20;
	struct kshm_region_desc r;
	uint8_t *in = malloc(len), *out = malloc(len), *bufmem = malloc(len + 64);
	uint32_t b;
	size_t i;

	tap_require(in && out && bufmem, "alloc");
	for (i = 0; i < len; i++)
		in[i] = (uint8_t)(i * 7 + (i >> 12));
	tap_require(!kshm_region_create(fd, len, 0, &r), "create");
	tap_require(!kshm_buf_register(fd, bufmem + 3, len,
				       KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &b),
		    "register");
	tap_zero(copy(fd, user_end(in), region_end(r.id, 0), len), "copy_user_to_region_4MiB");
	tap_zero(copy(fd, region_end(r.id, 0), buf_end(b, 0), len), "copy_region_to_buf_4MiB");
	tap_ok(!memcmp(bufmem + 3, in, len), "copy_buf_holds_the_bytes");
	memset(out, 0, len);
	tap_zero(copy(fd, buf_end(b, 0), user_end(out), len), "copy_buf_to_user_4MiB");
	tap_ok(!memcmp(out, in, len), "copy_round_trip_intact");
	tap_zero(copy(fd, user_end(in + 5), buf_end(b, 1001), 333), "copy_unaligned_user_to_buf");
	tap_ok(!memcmp(bufmem + 3 + 1001, in + 5, 333), "copy_unaligned_bytes_land");
	tap_zero(copy(fd, region_end(r.id, 10), region_end(r.id, 20), 100),
		 "copy_overlapping_within_region");
	kshm_region_read(fd, r.id, 20, out, 100);
	tap_ok(!memcmp(out, in + 10, 100), "copy_overlap_moves_like_memmove");
	kshm_buf_unregister(fd, b);
	kshm_wait_buf_released(fd, b, 30000);
	kshm_region_destroy(fd, r.id);
	free(in);
	free(out);
	free(bufmem);
}

static void bad_pointers(int fd)
{
	struct kshm_region_desc r;
	uint8_t *p, *hole;

	tap_require(!kshm_region_create(fd, 4 * page, 0, &r), "create");
	p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED, "map");
	hole = p + 2 * page;
	munmap(hole, page);
	tap_errno(copy(fd, user_end(NULL), region_end(r.id, 0), 8), EFAULT,
		  "copy_from_null_efault");
	tap_errno(copy(fd, region_end(r.id, 0), user_end((void *)16), 8), EFAULT,
		  "copy_to_low_address_efault");
	tap_errno(copy(fd, user_end(hole), region_end(r.id, 0), 8), EFAULT,
		  "copy_from_unmapped_efault");
	tap_errno(copy(fd, region_end(r.id, 0), user_end(p + page), 2 * page), EFAULT,
		  "copy_to_range_into_hole_efault");
	tap_errno(copy(fd, user_addr(1ull << 62), region_end(r.id, 0), 8), EFAULT,
		  "copy_from_kernel_half_efault");
	tap_errno(copy(fd, region_end(r.id, 0), user_addr(~0ull), 8), EFAULT,
		  "copy_to_wrapping_pointer_efault");
	tap_errno(copy(fd, user_addr(beyond_4g(low_mem)), region_end(r.id, 0), 8), EFAULT,
		  "copy_from_pointer_high_half_kept_efault");
	tap_errno(copy(fd, region_end(r.id, 0), user_addr(beyond_4g(low_mem)), 8), EFAULT,
		  "copy_to_pointer_high_half_kept_efault");
	/* Read-only memory cannot receive a copy. */
	mprotect(p, page, PROT_READ);
	tap_errno(copy(fd, region_end(r.id, 0), user_end(p), 8), EFAULT,
		  "copy_to_read_only_memory_efault");
	munmap(p, 2 * page);
	kshm_region_destroy(fd, r.id);
}

static void bad_ranges_and_ends(int fd)
{
	struct kshm_copy_end bogus = { 7, 0, 0 };
	struct kshm_region_desc r;
	uint8_t tmp[64];
	uint32_t b;

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_buf_register(fd, tmp, sizeof(tmp), KSHM_BUF_KERNEL_READ, &b), "register");
	tap_errno(copy(fd, region_end(r.id, 0), user_end(tmp), 0), EINVAL,
		  "copy_length_zero_einval");
	tap_errno(copy(fd, region_end(r.id, page - 4), user_end(tmp), 8), EINVAL,
		  "copy_past_region_end_einval");
	tap_errno(copy(fd, region_end(r.id, ~0ull - 3), user_end(tmp), 8), EINVAL,
		  "copy_offset_overflow_einval");
	tap_errno(copy(fd, buf_end(b, 60), user_end(tmp), 8), EINVAL, "copy_past_buf_end_einval");
	tap_errno(copy(fd, user_end(tmp), user_end(tmp + 8), 8), EINVAL,
		  "copy_user_to_user_einval");
	tap_errno(copy(fd, bogus, user_end(tmp), 8), EINVAL, "copy_unknown_kind_einval");
	tap_errno(copy(fd, (struct kshm_copy_end){ KSHM_MEM_USER, 3, (uintptr_t)tmp },
		       region_end(r.id, 0), 8),
		  EINVAL, "copy_user_end_with_id_einval");
	tap_errno(copy(fd, region_end(999, 0), user_end(tmp), 8), ENOENT,
		  "copy_unknown_region_enoent");
	tap_errno(copy(fd, buf_end(999, 0), user_end(tmp), 8), ENOENT, "copy_unknown_buf_enoent");
	tap_errno(copy(fd, user_end(tmp), buf_end(b, 0), 8), EACCES,
		  "copy_into_read_only_registration_eacces");
	kshm_buf_unregister(fd, b);
	kshm_wait_buf_released(fd, b, 30000);
	kshm_region_destroy(fd, r.id);
}

static void checksum_bad_inputs(int fd)
{
	struct kshm_checksum c = { .size = sizeof(c) };
	struct kshm_region_desc r;
	uint64_t sum;

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	kshm_region_fill(fd, r.id, 1, 0, page, 0, 1);
	tap_zero(kshm_checksum(fd, 0, r.id, 0, page, &sum), "checksum_region");
	{
		uint8_t expect[4096];
		int i;

		for (i = 0; i < page && i < 4096; i++)
			expect[i] = (uint8_t)i;
		tap_ok(page != 4096 || sum == fnv1a(expect, 4096), "checksum_region_matches");
	}
	tap_errno(kshm_checksum(fd, 0, r.id, 0, 0, &sum), EINVAL, "checksum_length_zero_einval");
	tap_errno(kshm_checksum(fd, 0, r.id, 1, page, &sum), EINVAL, "checksum_past_end_einval");
	tap_errno(kshm_checksum(fd, 0, 999, 0, 8, &sum), ENOENT, "checksum_unknown_region_enoent");
	c.id = r.id;
	c.length = 8;
	c.__reserved = 1;
	tap_errno(raw_ioctl(fd, KSHM_IOC_CHECKSUM, &c), EINVAL, "checksum_reserved_nonzero_einval");
	kshm_region_destroy(fd, r.id);
}

/*
 * Overlapping copies inside one region, past the 1 MiB chunk the kernel
 * works in, both ways: the result is memmove()'s (defects issue, item 8).
 */
static void overlapping_copies(int fd)
{
	static const struct {
		uint64_t src, dst, len;
		const char *name;
	} cases[] = {
		{ 0, 4104, (1 << 20) + 4096, "copy_overlap_dst_above_1MiB_plus_page" },
		{ 4104, 0, (1 << 20) + 4096, "copy_overlap_dst_below_1MiB_plus_page" },
		{ 100, 1000 + (1 << 20), (3 << 20) + 100, "copy_overlap_dst_above_by_1MiB_3MiB" },
		{ 1000 + (1 << 20), 100, (3 << 20) + 100, "copy_overlap_dst_below_by_1MiB_3MiB" },
		{ 0, 1, (2 << 20), "copy_overlap_dst_above_by_1_byte_2MiB" },
	};
	size_t len = 8 << 20, i, k;
	struct kshm_region_desc r;
	int ret;
	uint8_t *map, *want = malloc(len);

	tap_require(want != NULL, "alloc");
	tap_require(!kshm_region_create(fd, len, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&map), "map");
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (i = 0; i < len; i++)
			map[i] = (uint8_t)(i * 13 + (i >> 11) + k);
		memcpy(want, map, len);
		memmove(want + cases[k].dst, want + cases[k].src, cases[k].len);
		ret = copy(fd, region_end(r.id, cases[k].src), region_end(r.id, cases[k].dst),
			   cases[k].len);
		tap_ok(ret == 0, "%s_succeeds", cases[k].name);
		tap_ok(!memcmp(map, want, len), "%s", cases[k].name);
	}
	kshm_region_unmap(&r, map);
	kshm_region_destroy(fd, r.id);
	free(want);
}

/*
 * Copies between two names of the same pages: a WB region and a buffer
 * registered on its own mapping, or the mapping given as the user side.
 * Each must give memmove()'s result on one name (defects issue, item 15).
 */
static void aliasing_copies(int fd)
{
	size_t len = 64 * page, n = 16384, i, k;
	struct kshm_region_desc r;
	uint8_t *map, *want = malloc(len);
	uint32_t b;
	int ret;
	struct {
		struct kshm_copy_end src, dst;
		uint64_t soff, doff;
		const char *name;
	} cases[6];

	tap_require(want != NULL, "alloc");
	tap_require(!kshm_region_create(fd, len, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&map), "map");
	tap_require(
		!kshm_buf_register(fd, map, len, KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &b),
		"register the region's mapping");
	cases[0] = (typeof(cases[0])){ region_end(r.id, 0), buf_end(b, 4104), 0, 4104,
				       "copy_alias_region_to_buf_dst_above" };
	cases[1] = (typeof(cases[0])){ buf_end(b, 4104), region_end(r.id, 0), 4104, 0,
				       "copy_alias_buf_to_region_dst_below" };
	cases[2] = (typeof(cases[0])){ buf_end(b, 0), region_end(r.id, 8), 0, 8,
				       "copy_alias_buf_to_region_dst_above_by_8" };
	cases[3] = (typeof(cases[0])){ user_end(map), region_end(r.id, 4104), 0, 4104,
				       "copy_alias_user_to_region_dst_above" };
	cases[4] = (typeof(cases[0])){ region_end(r.id, 0), user_end(map + 4104), 0, 4104,
				       "copy_alias_region_to_user_dst_above" };
	cases[5] = (typeof(cases[0])){ user_end(map + 8), buf_end(b, 0), 8, 0,
				       "copy_alias_user_to_buf_dst_below" };
	for (k = 0; k < 6; k++) {
		for (i = 0; i < len; i++)
			map[i] = (uint8_t)(i * 29 + (i >> 9) + k);
		memcpy(want, map, len);
		memmove(want + cases[k].doff, want + cases[k].soff, n);
		ret = kshm_copy(fd, &cases[k].src, &cases[k].dst, n);
		tap_ok(!ret && !memcmp(map, want, len), "%s", cases[k].name);
		for (i = 0; ret == 0 && i < len && map[i] == want[i]; i++)
			;
		if (i < len)
			tap_diag("  ret %d, first wrong byte %zu", ret, i);
	}
	kshm_buf_unregister(fd, b);
	kshm_wait_buf_released(fd, b, 30000);
	kshm_region_unmap(&r, map);
	kshm_region_destroy(fd, r.id);
	free(want);
}

/*
 * One buffer over two mappings of the same pages (a memfd mapped twice, in
 * a row): a copy inside it that reads one name and writes the other is
 * still memmove(), every byte read before any is written.
 */
static void aliasing_within_one_buffer(int fd)
{
	size_t half = 4 * page, n = half - 8, i;
	uint8_t *p, *want = malloc(half);
	struct kshm_copy_end src, dst;
	int mfd = memfd_create("twice", 0), ret;
	uint32_t b;

	tap_require(want != NULL && mfd >= 0 && !ftruncate(mfd, half), "memfd");
	p = mmap(NULL, 2 * half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(p != MAP_FAILED &&
			    mmap(p, half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0) ==
				    p &&
			    mmap(p + half, half, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 mfd, 0) == p + half,
		    "map the memfd twice");
	for (i = 0; i < half; i++)
		p[i] = (uint8_t)(i * 13 + (i >> 8));
	/* The memory byte m ends up holding what byte m - 8 held. */
	memcpy(want, p, 8);
	memcpy(want + 8, p, n);
	tap_require(!kshm_buf_register(fd, p, 2 * half,
				       KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &b),
		    "register both names");
	src = buf_end(b, 0);
	dst = buf_end(b, half + 8);
	ret = kshm_copy(fd, &src, &dst, n);
	for (i = 0; i < half && p[i] == want[i]; i++)
		;
	tap_ok(!ret && i == half, "copy_within_one_buffer_over_two_names_is_memmove");
	if (i < half)
		tap_diag("  ret %d, first wrong byte %zu", ret, i);
	kshm_buf_unregister(fd, b);
	kshm_wait_buf_released(fd, b, 30000);
	munmap(p, 2 * half);
	close(mfd);
	free(want);
}

/*
 * A region the application may not write through its mappings, it may not
 * write through a copy either; the driver's own FILL stays allowed
 * (defects issue, item 4).
 */
static void copy_into_rdonly_region(int fd)
{
	struct kshm_region_desc ro, rw;
	uint8_t src[64], got[64];

	memset(src, 0x5a, sizeof(src));
	tap_require(!kshm_region_create(fd, page, KSHM_REGION_USER_RDONLY, &ro), "create ro");
	tap_require(!kshm_region_create(fd, page, 0, &rw), "create rw");
	tap_require(!kshm_region_fill(fd, rw.id, 1, 0, 64, 0x33, 0), "fill rw");
	tap_errno(copy(fd, user_end(src), region_end(ro.id, 0), sizeof(src)), EACCES,
		  "copy_user_to_rdonly_region_eacces");
	tap_errno(copy(fd, region_end(rw.id, 0), region_end(ro.id, 0), sizeof(src)), EACCES,
		  "copy_region_to_rdonly_region_eacces");
	kshm_region_read(fd, ro.id, 0, got, sizeof(got));
	tap_ok(got[0] == 0 && !memcmp(got, got + 1, sizeof(got) - 1),
	       "copy_rdonly_region_left_untouched");
	tap_zero(copy(fd, region_end(ro.id, 0), user_end(got), sizeof(got)),
		 "copy_from_rdonly_region_allowed");
	tap_zero(kshm_region_fill(fd, ro.id, 1, 0, 8, 1, 1), "fill_rdonly_region_allowed");
	kshm_region_destroy(fd, ro.id);
	kshm_region_destroy(fd, rw.id);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	round_trips(fd);
	bad_pointers(fd);
	bad_ranges_and_ends(fd);
	checksum_bad_inputs(fd);
	overlapping_copies(fd);
	copy_into_rdonly_region(fd);
	aliasing_copies(fd);
	aliasing_within_one_buffer(fd);
	kshm_close(fd);
	return tap_done();
}
