// SPDX-License-Identifier: MIT
/*
 * Misuse of kshm's API for other drivers, made on purpose by a test-only
 * client (tests/kmod/kshm_misuse.c): a second put of a region, a buffer, a
 * ring or a dma-buf; a handle used after its put; a put of the wrong kind;
 * calls from where they may not sleep.  Each is refused with its errno (or,
 * for a put, left alone) and said in the kernel log, and nothing is freed
 * twice: the counters show every reference still there.  And the errors
 * the sample client never makes: a DMA direction or range a buffer does not
 * allow, a cancelled buffer, a broken ring's doorbell, a kernel-to-user
 * ring consumed, a common buffer mapped through a second device node.
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>

#include "kshm.h"
#include "tap.h"
#include "../kmod/kshm_misuse.h"

/* enum dma_data_direction */
#define DMA_BIDIRECTIONAL 0
#define DMA_TO_DEVICE	  1
#define DMA_FROM_DEVICE	  2
#define DMA_NONE	  3

static int mfd, kfd, kmsg;
static size_t page;

/* Have the client make call @op: what kshm returned, or the ioctl's -errno. */
static long long call(unsigned int op, uint32_t flags, int fd, uint32_t id, uint64_t offset,
		      uint64_t len)
{
	struct kshm_misuse_arg a = {
		.flags = flags, .fd = fd, .id = id, .offset = offset, .len = len
	};

	if (ioctl(mfd, KSHM_MISUSE_IOC(op), &a))
		return -errno;
	return a.ret;
}

#define op(o) call(KSHM_MISUSE_##o, 0, -1, 0, 0, 0)

/* Forget what the kernel log holds so far. */
static void log_mark(void)
{
	lseek(kmsg, 0, SEEK_END);
}

/* Did the kernel log say @what since the mark? */
static int log_says(const char *what)
{
	char rec[1024];
	int seen = 0;
	ssize_t n;

	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		seen |= !!strstr(rec, what);
	}
	return seen;
}

static uint64_t regions_alive(void)
{
	struct kshm_info i;

	tap_require(!kshm_get_info(kfd, &i), "kshm_get_info");
	return i.regions_alive;
}

/* Is buffer @id still registered and unreleased? */
static int buf_alive(uint32_t id)
{
	struct kshm_buf_info bi;

	return !kshm_buf_info(kfd, id, &bi) && kshm_wait_buf_released(kfd, id, 100) == -ETIMEDOUT;
}

static void regions(void)
{
	uint64_t alive = regions_alive();
	uint8_t *p;

	tap_zero(call(KSHM_MISUSE_REGION_CREATE, 0, -1, 0, 0, 2 * page), "misuse_region_created");
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	tap_require(p != MAP_FAILED, "map the client's region");
	memset(p, 0x5a, 2 * page);
	tap_zero(op(REGION_PUT), "misuse_region_put");
	tap_ok(regions_alive() == alive + 1, "misuse_region_kept_by_its_mapping");
	log_mark();
	tap_zero(op(REGION_PUT), "misuse_region_put_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_region_put(): a region the caller does not hold"),
	       "misuse_region_put_twice_is_logged");
	tap_ok(regions_alive() == alive + 1 && p[0] == 0x5a && p[2 * page - 1] == 0x5a,
	       "misuse_region_put_twice_leaves_the_mappings_reference");
	munmap(p, 2 * page);
	tap_ok(regions_alive() == alive, "misuse_region_freed_with_its_mapping");

	/* Used after its put (and freed): refused without touching it. */
	log_mark();
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, mfd, 0);
	tap_errno(p == MAP_FAILED ? -errno : 0, EINVAL, "misuse_region_mmap_after_put_einval");
	tap_ok(log_says("kshm: misuse: kshm_region_mmap(): a region the caller does not hold"),
	       "misuse_region_mmap_after_put_is_logged");
	log_mark();
	tap_zero(op(REGION_REVOKE), "misuse_region_revoke_after_put_returns");
	tap_ok(log_says("kshm: misuse: kshm_region_revoke(): a region the caller does not hold"),
	       "misuse_region_revoke_after_put_is_logged");

	tap_errno(call(KSHM_MISUSE_REGION_CREATE, KSHM_MISUSE_ATOMIC, -1, 0, 0, page), EINVAL,
		  "misuse_region_create_atomic_einval");
	tap_errno(call(KSHM_MISUSE_REGION_CREATE, KSHM_MISUSE_ATOMIC | KSHM_MISUSE_COHERENT, -1, 0,
		       0, page),
		  EINVAL, "misuse_region_create_coherent_atomic_einval");
	tap_errno(call(KSHM_MISUSE_REGION_CREATE, KSHM_MISUSE_RCU, -1, 0, 0, page), EINVAL,
		  "misuse_region_create_in_rcu_read_side_einval");
	tap_ok(regions_alive() == alive, "misuse_region_atomic_creates_leave_nothing");

	/* A plain region is no common buffer: revoking it is refused. */
	tap_zero(call(KSHM_MISUSE_REGION_CREATE, 0, -1, 0, 0, page), "misuse_plain_region_created");
	log_mark();
	tap_zero(op(REGION_REVOKE), "misuse_plain_region_revoke_returns");
	tap_ok(log_says("kshm: misuse: kshm_region_revoke(): a region that is no common buffer"),
	       "misuse_plain_region_revoke_is_logged");
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, mfd, 0);
	tap_ok(p != MAP_FAILED, "misuse_plain_region_still_maps_after_the_refused_revoke");
	if (p != MAP_FAILED)
		munmap(p, page);
	tap_zero(op(REGION_PUT), "misuse_plain_region_put");
	tap_ok(regions_alive() == alive, "misuse_plain_region_freed");
}

/*
 * A common buffer mapped through a second device node of the same driver:
 * another address space, which kshm_region_revoke() could not zap.
 */
static void common_buffer(void)
{
	const char *node2 = "/tmp/kshm_misuse2";
	uint8_t *p, *q;
	struct stat st;
	int fd2;

	tap_zero(call(KSHM_MISUSE_REGION_CREATE, KSHM_MISUSE_COHERENT, -1, 0, 0, 2 * page),
		 "misuse_common_buffer_created");
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	tap_ok(p != MAP_FAILED, "misuse_common_buffer_maps");
	tap_require(!stat("/dev/kshm_misuse", &st) && !mknod(node2, S_IFCHR | 0600, st.st_rdev),
		    "a second node of /dev/kshm_misuse");
	fd2 = open(node2, O_RDWR | O_CLOEXEC);
	tap_require(fd2 >= 0, "open the second node");
	q = mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, 0);
	tap_errno(q == MAP_FAILED ? -errno : 0, EINVAL,
		  "misuse_common_buffer_through_a_second_node_einval");
	if (q != MAP_FAILED)
		munmap(q, page);
	close(fd2);
	unlink(node2);
	if (p != MAP_FAILED) {
		p[0] = 1;
		munmap(p, 2 * page);
	}
	tap_zero(op(REGION_REVOKE), "misuse_common_buffer_revoked");
	tap_zero(op(REGION_PUT), "misuse_common_buffer_put");
}

static void buffers(void)
{
	size_t len = 3 * page;
	uint8_t *mem = aligned_alloc(page, len + page);
	uint32_t id;

	tap_require(mem != NULL, "buffer memory");
	memset(mem, 1, len + page);

	/* A second put, and calls after the put. */
	tap_require(!kshm_buf_register(kfd, mem, len, KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE,
				       &id),
		    "register a buffer");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "misuse_buf_taken");
	tap_zero(op(BUF_KADDR), "misuse_buf_kaddr");
	tap_zero(op(BUF_PUT), "misuse_buf_put");
	log_mark();
	tap_zero(op(BUF_PUT), "misuse_buf_put_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_buf_put(): a buffer the caller does not hold"),
	       "misuse_buf_put_twice_is_logged");
	tap_ok(buf_alive(id), "misuse_buf_put_twice_leaves_the_registrations_reference");
	tap_errno(op(BUF_KADDR), EINVAL, "misuse_buf_kaddr_after_put_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 0, page), EINVAL,
		  "misuse_buf_dma_map_after_put_einval");
	tap_zero(kshm_buf_unregister(kfd, id), "misuse_buf_unregistered");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "misuse_buf_released_once_unregistered");

	/* A mapping unmapped twice: its second unmap must not drop the driver's reference. */
	tap_require(!kshm_buf_register(kfd, mem, len, KSHM_BUF_KERNEL_READ, &id),
		    "register a buffer");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE_READ, 0, kfd, id, 0, 0), "misuse_buf_taken_to_map");
	log_mark();
	tap_zero(call(KSHM_MISUSE_BUF_DMA_UNMAP_TWICE, 0, -1, DMA_TO_DEVICE, 0, page),
		 "misuse_buf_dma_unmap_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_buf_dma_unmap(): a mapping the caller does not hold"),
	       "misuse_buf_dma_unmap_twice_is_logged");
	tap_zero(kshm_buf_unregister(kfd, id), "misuse_mapped_buf_unregistered");
	tap_errno(kshm_wait_buf_released(kfd, id, 100), ETIMEDOUT,
		  "misuse_buf_dma_unmap_twice_leaves_the_drivers_reference");
	tap_zero(op(BUF_PUT), "misuse_mapped_buf_put");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "misuse_mapped_buf_released_by_the_put");

	/* From where it may not sleep: refused, the reference kept. */
	tap_require(!kshm_buf_register(kfd, mem, len, KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE,
				       &id),
		    "register a buffer");
	tap_errno(call(KSHM_MISUSE_BUF_TAKE, KSHM_MISUSE_ATOMIC, kfd, id, 0, 0), EINVAL,
		  "misuse_buf_take_atomic_einval");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "misuse_buf_taken_again");
	tap_errno(call(KSHM_MISUSE_BUF_KADDR, KSHM_MISUSE_ATOMIC, -1, 0, 0, 0), EINVAL,
		  "misuse_buf_kaddr_atomic_einval");
	tap_errno(call(KSHM_MISUSE_BUF_KADDR, KSHM_MISUSE_RCU, -1, 0, 0, 0), EINVAL,
		  "misuse_buf_kaddr_in_rcu_read_side_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, KSHM_MISUSE_ATOMIC, -1, DMA_TO_DEVICE, 0, page),
		  EINVAL, "misuse_buf_dma_map_atomic_einval");
	tap_zero(call(KSHM_MISUSE_BUF_PUT, KSHM_MISUSE_ATOMIC, -1, 0, 0, 0),
		 "misuse_buf_put_atomic_returns");
	kshm_buf_unregister(kfd, id);
	tap_ok(buf_alive(id) || kshm_wait_buf_released(kfd, id, 100) == -ETIMEDOUT,
	       "misuse_buf_put_atomic_kept_the_reference");
	tap_zero(op(BUF_PUT), "misuse_buf_put_after_the_atomic_one");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "misuse_buf_released_by_the_real_put");

	/*
	 * kshm_buf_dma_map()'s errors: a buffer at byte 100 of a page, so its
	 * ranges cross pages; registered for kernel reads only.
	 */
	tap_require(!kshm_buf_register(kfd, mem + 100, len, KSHM_BUF_KERNEL_READ, &id),
		    "register a read-only buffer");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE_READ, 0, kfd, id, 0, 0), "misuse_ro_buf_taken");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_FROM_DEVICE, 0, page), EACCES,
		  "dma_map_device_write_of_a_read_only_buffer_eacces");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_BIDIRECTIONAL, 0, page), EACCES,
		  "dma_map_bidirectional_of_a_read_only_buffer_eacces");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_NONE, 0, page), EINVAL,
		  "dma_map_dma_none_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 0, 0), EINVAL,
		  "dma_map_zero_length_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, len, 1), EINVAL,
		  "dma_map_past_the_end_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 1, len), EINVAL,
		  "dma_map_one_byte_too_long_einval");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 8, UINT64_MAX - 4), EINVAL,
		  "dma_map_wrapping_range_einval");
	tap_zero(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 0, len),
		 "dma_map_whole_buffer");
	tap_zero(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, page - 150, 100),
		 "dma_map_range_across_a_page_boundary");
	tap_zero(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, len - 1, 1),
		 "dma_map_last_byte");
	tap_zero(kshm_buf_unregister(kfd, id), "misuse_ro_buf_unregistered");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 0, page), ECANCELED,
		  "dma_map_of_a_cancelled_buffer_ecanceled");
	tap_ok(kshm_wait_buf_released(kfd, id, 100) == -ETIMEDOUT,
	       "misuse_cancelled_buf_waits_for_the_driver");
	tap_zero(op(BUF_PUT), "misuse_ro_buf_put");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "misuse_ro_buf_released");
	free(mem);
}

/* Rings an application created, taken with each kind of call. */
static void rings_from_fd(void)
{
	struct kshm_ring r, u;
	const struct kshm_ring_rec *rec;

	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r),
		    "a kernel-to-user ring");
	tap_zero(call(KSHM_MISUSE_RING_TAKE, 0, kfd, r.id, 0, 0), "misuse_k2u_ring_taken");
	log_mark();
	tap_zero(op(RING_PUT_U2K), "misuse_k2u_ring_put_u2k_returns");
	tap_ok(log_says("kshm: misuse: kshm_ring_put_u2k(): a ring the caller did not take"),
	       "misuse_k2u_ring_put_u2k_is_logged");
	tap_zero(op(RING_PRODUCE), "misuse_k2u_ring_still_produces");
	rec = kshm_ring_next(&r);
	tap_ok(rec != NULL, "misuse_k2u_ring_record_arrives");
	if (rec)
		kshm_ring_done(&r);
	tap_errno(op(RING_CONSUME), EINVAL, "consume_of_a_kernel_to_user_ring_einval");
	tap_zero(op(RING_PUT), "misuse_k2u_ring_put");
	log_mark();
	tap_zero(op(RING_PUT), "misuse_k2u_ring_put_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_ring_put(): a ring the caller does not hold"),
	       "misuse_k2u_ring_put_twice_is_logged");
	tap_errno(op(RING_DOORBELL), EINVAL, "misuse_ring_doorbell_after_put_einval");
	tap_errno(op(RING_CONSUME), EINVAL, "misuse_ring_consume_after_put_einval");
	tap_ok(op(RING_POLL) == POLLERR, "misuse_ring_poll_after_put_epollerr");
	tap_zero(kshm_ring_destroy(&r), "misuse_k2u_ring_destroyed");

	tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u),
		    "a user-to-kernel ring");
	tap_errno(call(KSHM_MISUSE_RING_TAKE_U2K, KSHM_MISUSE_ATOMIC, kfd, u.id, 0, 0), EINVAL,
		  "misuse_ring_take_u2k_atomic_einval");
	tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0), "misuse_u2k_ring_taken");
	log_mark();
	tap_zero(op(RING_PUT), "misuse_u2k_ring_put_returns");
	tap_ok(log_says("kshm: misuse: kshm_ring_put(): a ring the caller does not hold"),
	       "misuse_u2k_ring_put_of_the_wrong_kind_is_logged");
	tap_errno(op(RING_CONSUME), EAGAIN, "misuse_u2k_ring_still_consumed_after_the_wrong_put");
	tap_errno(call(KSHM_MISUSE_RING_CONSUME, KSHM_MISUSE_ATOMIC, -1, 0, 0, 0), EINVAL,
		  "misuse_ring_consume_atomic_einval");
	tap_zero(call(KSHM_MISUSE_RING_PUT_U2K, KSHM_MISUSE_ATOMIC, -1, 0, 0, 0),
		 "misuse_ring_put_u2k_atomic_returns");
	tap_errno(op(RING_CONSUME), EAGAIN, "misuse_u2k_ring_kept_after_the_atomic_put");
	tap_zero(op(RING_PUT_U2K), "misuse_u2k_ring_put_u2k");
	log_mark();
	tap_zero(op(RING_PUT_U2K), "misuse_u2k_ring_put_u2k_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_ring_put_u2k(): a ring the caller did not take"),
	       "misuse_u2k_ring_put_u2k_twice_is_logged");
	tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0),
		 "misuse_u2k_ring_taken_again_after_one_real_give_back");
	tap_zero(op(RING_PUT_U2K), "misuse_u2k_ring_given_back");
	tap_zero(kshm_ring_destroy(&u), "misuse_u2k_ring_destroyed");
}

/* The client's own user-to-kernel ring, broken by its application. */
static void own_ring(void)
{
	uint64_t alive = regions_alive();
	struct kshm_ring_prod *prod;

	tap_errno(call(KSHM_MISUSE_RING_CREATE, KSHM_MISUSE_ATOMIC, -1, KSHM_RING_U2K, 0, 0),
		  EINVAL, "misuse_ring_create_atomic_einval");
	tap_zero(call(KSHM_MISUSE_RING_CREATE, 0, -1, KSHM_RING_U2K, 0, 0),
		 "misuse_own_u2k_ring_created");
	tap_errno(op(RING_CONSUME), EAGAIN, "own_u2k_ring_empty_eagain");
	tap_zero(op(RING_DOORBELL), "own_u2k_ring_doorbell");
	prod = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		    KSHM_MISUSE_RING_OFFSET + page);
	tap_require(prod != MAP_FAILED, "map the ring's producer page");
	/* A producer position a ring's worth and more ahead: cannot be framed. */
	__atomic_store_n(&prod->pos, 1ull << 40, __ATOMIC_RELEASE);
	tap_errno(op(RING_CONSUME), EPIPE, "own_u2k_ring_broken_by_its_application_epipe");
	tap_errno(op(RING_DOORBELL), EPIPE, "doorbell_of_a_broken_ring_epipe");
	tap_ok(op(RING_POLL) & POLLERR, "own_u2k_ring_polls_error_once_broken");
	munmap(prod, page);
	log_mark();
	tap_zero(op(RING_PUT_U2K), "misuse_own_ring_put_u2k_returns");
	tap_ok(log_says("kshm: misuse: kshm_ring_put_u2k(): a ring the caller did not take"),
	       "misuse_own_ring_put_u2k_is_logged");
	tap_zero(op(RING_PUT), "misuse_own_ring_put");
	tap_ok(regions_alive() == alive, "misuse_own_ring_freed");

	tap_zero(call(KSHM_MISUSE_RING_CREATE, 0, -1, KSHM_RING_K2U, 0, 0),
		 "misuse_own_k2u_ring_created");
	tap_errno(op(RING_CONSUME), EINVAL, "consume_of_an_own_kernel_to_user_ring_einval");
	tap_zero(op(RING_PRODUCE), "own_k2u_ring_produces");
	tap_zero(op(RING_PUT), "misuse_own_k2u_ring_put");
}

/* dma-buf imports released twice, or imported where the caller may not sleep. */
static void dmabufs(void)
{
	struct kshm_region_desc d;
	struct kshm_region_export e = {
		.size = sizeof(e), .flags = KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC
	};
	uint64_t alive, before = regions_alive();
	int dfd;

	tap_require(!kshm_region_create(kfd, 2 * page, 0, &d), "a region to export");
	e.id = d.id;
	tap_require(!raw_ioctl(kfd, KSHM_IOC_REGION_EXPORT, &e), "export it");
	dfd = e.fd;
	tap_errno(call(KSHM_MISUSE_DMABUF_IMPORT, KSHM_MISUSE_ATOMIC, dfd, 0, 0, 0), EINVAL,
		  "misuse_dmabuf_import_atomic_einval");
	tap_zero(call(KSHM_MISUSE_DMABUF_IMPORT, 0, dfd, 0, 0, 0), "misuse_dmabuf_imported");
	close(dfd);
	kshm_region_destroy(kfd, d.id);
	alive = regions_alive();
	tap_ok(alive == before + 1, "misuse_dmabuf_keeps_the_region");
	tap_zero(call(KSHM_MISUSE_DMABUF_RELEASE, KSHM_MISUSE_ATOMIC, -1, 0, 0, 0),
		 "misuse_dmabuf_release_atomic_returns");
	tap_ok(regions_alive() == alive, "misuse_dmabuf_release_atomic_kept_it");
	tap_zero(op(DMABUF_RELEASE), "misuse_dmabuf_released");
	log_mark();
	tap_zero(op(DMABUF_RELEASE), "misuse_dmabuf_release_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_dmabuf_release(): a dma-buf the caller does not hold"),
	       "misuse_dmabuf_release_twice_is_logged");
	tap_ok(regions_alive() == alive - 1, "misuse_dmabuf_region_freed_once");
}

/*
 * A client holding a reference cannot be unloaded (kshm pins its module,
 * THIS_MODULE by the <linux/kshm.h> macros); once it puts it, it can.
 */
static void unload_while_holding(void)
{
	uint64_t alive = regions_alive();

	tap_zero(call(KSHM_MISUSE_REGION_CREATE, 0, -1, 0, 0, page), "misuse_region_to_hold");
	close(mfd);
	tap_errno(syscall(SYS_delete_module, "kshm_misuse", O_NONBLOCK) ? -errno : 0, EWOULDBLOCK,
		  "misuse_client_holding_a_region_cannot_unload");
	mfd = open("/dev/kshm_misuse", O_RDWR | O_CLOEXEC);
	tap_require(mfd >= 0, "open /dev/kshm_misuse again");
	tap_ok(regions_alive() == alive + 1, "misuse_held_region_still_there");
	tap_zero(op(REGION_PUT), "misuse_held_region_put");
	tap_ok(regions_alive() == alive, "misuse_held_region_freed");
}

int main(void)
{
	int ko = open("/kshm_misuse.ko", O_RDONLY | O_CLOEXEC);

	page = sysconf(_SC_PAGESIZE);
	kfd = kshm_open(NULL);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	tap_require(kfd >= 0 && kmsg >= 0, "open /dev/kshm and /dev/kmsg");
	tap_require(ko >= 0, "the test client /kshm_misuse.ko is in the guest");
	tap_require(!syscall(SYS_finit_module, ko, "", 0), "load the test client");
	close(ko);
	mfd = open("/dev/kshm_misuse", O_RDWR | O_CLOEXEC);
	tap_require(mfd >= 0, "open /dev/kshm_misuse");

	regions();
	common_buffer();
	buffers();
	rings_from_fd();
	own_ring();
	dmabufs();
	unload_while_holding();

	close(mfd);
	tap_zero(syscall(SYS_delete_module, "kshm_misuse", O_NONBLOCK) ? -errno : 0,
		 "misuse_client_unloads");
	kshm_close(kfd);
	return tap_done();
}
