// SPDX-License-Identifier: MIT
/*
 * Regions a driver allocates with kshm's API and maps into its application
 * through its own file: the sample client (samples/kshm_edu) gives each
 * open /dev/kshm_edu one region, plain (a cache mode, a node) or a common
 * buffer its edu device DMAs into, and maps it at offset 0.  Checked here:
 * what the driver wrote through the kernel address, cache modes and nodes,
 * read-only regions, every bad input's errno, a mapping that outlives the
 * driver's file, fork, blocks the device writes into a common buffer while
 * the application reads them, and a common buffer revoked when the device
 * goes.  And a
 * kernel-to-user ring the driver makes for the file (KSHM_EDU_IOC_RING):
 * mapped through the driver's file, its records and poll().
 */
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>

#include "edu.h"

/* Give the client file @fd its region. */
static int region(int fd, uint32_t flags, uint32_t mode, int node, uint64_t length)
{
	struct kshm_edu_region r = { .size = sizeof(r),
				     .flags = flags,
				     .cache_mode = mode,
				     .node = node,
				     .length = length };

	return ioctl(fd, KSHM_EDU_IOC_REGION, &r) ? -errno : 0;
}

static int open_client(void)
{
	int fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	tap_require(fd >= 0, "open /dev/kshm_edu");
	return fd;
}

/* Map @len bytes of the client file @fd's region from @off; -errno or 0. */
static int map(int fd, size_t len, int prot, int flags, off_t off, uint8_t **p)
{
	*p = mmap(NULL, len, prot, flags, fd, off);
	return *p == MAP_FAILED ? -errno : 0;
}

/* Is word j of the @len bytes at @p, from word @first on, j ^ KSHM_EDU_MUL? */
static int pattern_ok(const uint8_t *p, size_t len, uint64_t first)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t j;

	for (j = 0; j < len / 8; j++)
		if (w[j] != ((first + j) ^ KSHM_EDU_MUL))
			return 0;
	return 1;
}

static struct kshm_info info_now(int kfd)
{
	struct kshm_info i = { .size = sizeof(i) };

	tap_require(!kshm_get_info(kfd, &i), "info");
	return i;
}

/*
 * A plain region: the driver's writes are there, both sides see each
 * other, and the mapping outlives the driver's file; the munmap frees it.
 */
static void plain_region_lives(int kfd)
{
	struct kshm_info before = info_now(kfd), mid, after;
	size_t len = 4 * page;
	int fd = open_client();
	uint8_t *p;

	tap_zero(region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, 3 * page + 100),
		 "edu_region_create (3 pages and 100 bytes)");
	tap_zero(map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p),
		 "edu_region_maps_whole_pages_through_the_client");
	tap_ok(pattern_ok(p, len, 0), "edu_region_shows_what_the_driver_wrote");
	mid = info_now(kfd);
	tap_ok(mid.regions_alive == before.regions_alive + 1 &&
		       mid.pages_alive == before.pages_alive + 4,
	       "edu_region_counted_by_kshm (%llu regions, %llu pages more)",
	       (unsigned long long)(mid.regions_alive - before.regions_alive),
	       (unsigned long long)(mid.pages_alive - before.pages_alive));
	p[len - 1] = 0x5a;
	close(fd);
	tap_ok(pattern_ok(p, len - 8, 0) && p[len - 1] == 0x5a,
	       "edu_region_mapping_outlives_the_client_file");
	after = info_now(kfd);
	tap_ok(after.regions_alive == mid.regions_alive, "edu_region_alive_while_mapped");
	munmap(p, len);
	after = info_now(kfd);
	tap_ok(after.regions_alive == before.regions_alive &&
		       after.pages_alive == before.pages_alive,
	       "edu_region_freed_with_the_last_mapping");
}

/* Part of the region from an offset: page 1 of the region. */
static void offset_maps_that_page(void)
{
	int fd = open_client();
	uint8_t *p;

	tap_require(!region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, 4 * page), "create");
	tap_zero(map(fd, page, PROT_READ, MAP_SHARED, page, &p), "edu_region_map_from_page_1");
	tap_ok(pattern_ok(p, page, page / 8), "edu_region_offset_gives_that_page");
	munmap(p, page);
	close(fd);
}

/* Cache modes and nodes, as the application asked the driver. */
static void modes_and_nodes(void)
{
	static const struct {
		uint32_t mode;
		int node;
		const char *name;
	} c[] = { { KSHM_CACHE_WC, 1, "wc_on_node1" },
		  { KSHM_CACHE_UC, 0, "uc_on_node0" },
		  { KSHM_CACHE_WB, 1, "wb_on_node1" } };
	size_t i, len = 4 * page;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int fd = open_client(), good = 1, j;
		uint8_t *p;

		tap_zero(region(fd, 0, c[i].mode, c[i].node, len), "create");
		tap_require(!map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p), "map");
		for (j = 0; j < 4; j++)
			good &= memtype_is(kpageflags_at(p + j * page), c[i].mode);
		tap_ok(good, "edu_region_%s_memtype", c[i].name);
		tap_ok(node_pages(p, c[i].node) == 4, "edu_region_%s_pages_on_the_node", c[i].name);
		tap_ok(pattern_ok(p, len, 0), "edu_region_%s_shows_what_the_driver_wrote",
		       c[i].name);
		munmap(p, len);
		close(fd);
	}
}

/* A read-only region cannot be mapped, or made, writable. */
static void read_only(uint32_t flags, const char *kind)
{
	int fd = open_client();
	uint8_t *p;

	tap_require(
		!region(fd, flags | KSHM_EDU_REGION_RDONLY, KSHM_CACHE_WB, KSHM_NODE_ANY, 2 * page),
		"create");
	tap_errno(map(fd, page, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p), EPERM,
		  kind[0] == 'p' ? "edu_region_read_only_writable_map_eperm"
				 : "edu_common_read_only_writable_map_eperm");
	tap_require(!map(fd, page, PROT_READ, MAP_SHARED, 0, &p), "map read-only");
	tap_errno(mprotect(p, page, PROT_READ | PROT_WRITE) ? -errno : 0, EACCES,
		  kind[0] == 'p' ? "edu_region_read_only_mprotect_write_eacces"
				 : "edu_common_read_only_mprotect_write_eacces");
	tap_ok(pattern_ok(p, page, 0), "edu_region_read_only_%s_readable", kind);
	munmap(p, page);
	close(fd);
}

static int region_stream(int fd, int kfd, uint32_t buf, uint32_t ring, uint32_t blocks,
			 uint32_t *done)
{
	struct kshm_edu_stream s = {
		.size = sizeof(s), .kshm_fd = kfd, .buf_id = buf, .ring_id = ring, .blocks = blocks
	};
	int ret = ioctl(fd, KSHM_EDU_IOC_REGION_STREAM, &s) ? -errno : 0;

	if (done)
		*done = s.done;
	return ret;
}

static void bad_inputs(int kfd)
{
	struct kshm_edu_region r = { .size = sizeof(r) - 1, .node = KSHM_NODE_ANY, .length = 4096 };
	int fd = open_client(), fd2 = open_client();
	struct kshm_ring k2u;
	uint64_t max = 0;
	uint8_t *p;
	FILE *f;

	f = fopen("/sys/module/kshm/parameters/max_region_size", "r");
	tap_require(f && fscanf(f, "%llu", (unsigned long long *)&max) == 1, "max_region_size");
	fclose(f);
	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &k2u), "ring");
	tap_errno(map(fd, page, PROT_READ, MAP_SHARED, 0, &p), ENXIO,
		  "edu_region_map_before_create_enxio");
	tap_errno(region_stream(fd, kfd, 0, k2u.id, 1, NULL), ENXIO,
		  "edu_common_stream_without_a_region_enxio");
	tap_errno(ioctl(fd, KSHM_EDU_IOC_REGION, &r) ? -errno : 0, EINVAL,
		  "edu_region_struct_size_wrong_einval");
	tap_errno(region(fd, 1 << 5, KSHM_CACHE_WB, KSHM_NODE_ANY, page), EINVAL,
		  "edu_region_unknown_flag_einval");
	tap_errno(region(fd, 0, 3, KSHM_NODE_ANY, page), EINVAL,
		  "edu_region_unknown_cache_mode_einval");
	tap_errno(region(fd, 0, KSHM_CACHE_WB, 2, page), EINVAL,
		  "edu_region_node_without_memory_einval");
	tap_errno(region(fd, 0, KSHM_CACHE_WB, -2, page), EINVAL,
		  "edu_region_negative_node_einval");
	tap_errno(region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, 0), EINVAL,
		  "edu_region_zero_length_einval");
	tap_errno(region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, max + 1), EFBIG,
		  "edu_region_beyond_max_region_size_efbig");
	tap_errno(region(fd, KSHM_EDU_REGION_COMMON, KSHM_CACHE_WC, KSHM_NODE_ANY, page), EINVAL,
		  "edu_common_with_a_cache_mode_einval");
	tap_errno(region(fd, KSHM_EDU_REGION_COMMON, KSHM_CACHE_WB, 0, page), EINVAL,
		  "edu_common_with_a_node_einval");
	tap_errno(region(fd, KSHM_EDU_REGION_COMMON, KSHM_CACHE_WB, KSHM_NODE_ANY, 0), EINVAL,
		  "edu_common_zero_length_einval");
	tap_zero(region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, 2 * page),
		 "edu_region_create_after_refusals");
	tap_errno(region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, page), EBUSY,
		  "edu_region_second_create_ebusy");
	tap_errno(map(fd, page, PROT_READ, MAP_PRIVATE, 0, &p), EINVAL,
		  "edu_region_private_map_einval");
	tap_errno(map(fd, 3 * page, PROT_READ, MAP_SHARED, 0, &p), EINVAL,
		  "edu_region_map_past_the_end_einval");
	tap_errno(map(fd, page, PROT_READ, MAP_SHARED, 2 * page, &p), EINVAL,
		  "edu_region_map_from_past_the_end_einval");
	tap_errno(map(fd, page, PROT_READ, MAP_SHARED, (off_t)512 << 20, &p), EINVAL,
		  "edu_region_map_from_far_past_the_end_einval");
	tap_errno(region_stream(fd, kfd, 0, k2u.id, 1, NULL), EINVAL,
		  "edu_common_stream_into_a_plain_region_einval");
	tap_require(!region(fd2, KSHM_EDU_REGION_COMMON, 0, KSHM_NODE_ANY, 2 * BLK), "common");
	tap_errno(region_stream(fd2, kfd, 0, k2u.id, 0, NULL), EINVAL,
		  "edu_common_stream_zero_blocks_einval");
	tap_errno(region_stream(fd2, kfd, 0, k2u.id, 3, NULL), EINVAL,
		  "edu_common_stream_more_blocks_than_fit_einval");
	tap_errno(region_stream(fd2, kfd, 7, k2u.id, 1, NULL), EINVAL,
		  "edu_common_stream_with_a_buffer_id_einval");
	tap_errno(region_stream(fd2, kfd, 0, 4242, 1, NULL), ENOENT,
		  "edu_common_stream_unknown_ring_enoent");
	tap_errno(region_stream(fd2, -1, 0, k2u.id, 1, NULL), EBADF,
		  "edu_common_stream_bad_kshm_fd_ebadf");
	kshm_ring_destroy(&k2u);
	close(fd);
	close(fd2);
}

/* A child inherits the mapping and keeps it after the parent let go. */
static void fork_keeps_it(int kfd)
{
	struct kshm_info before = info_now(kfd);
	int fd = open_client(), status = -1, go[2];
	size_t len = 2 * page;
	uint8_t *p;
	pid_t child;
	char c;

	tap_require(!region(fd, 0, KSHM_CACHE_WB, KSHM_NODE_ANY, len) &&
			    !map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p) && !pipe(go),
		    "create and map");
	child = fork();
	if (!child) {
		close(go[1]);
		/* Until the parent has unmapped and closed. */
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(pattern_ok(p, len - 8, 0) && p[len - 1] == 0x77 ? 0 : 1);
	}
	close(go[0]);
	p[len - 1] = 0x77;
	munmap(p, len);
	close(fd);
	tap_require(write(go[1], "x", 1) == 1, "tell the child");
	close(go[1]);
	tap_ok(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	       "edu_region_child_reads_it_after_the_parent_let_go");
	tap_ok(info_now(kfd).regions_alive == before.regions_alive,
	       "edu_region_freed_after_parent_and_child");
}

struct streamer {
	int fd, kfd;
	uint32_t ring, blocks, done;
	int ret;
	volatile int finished;
};

static void *streamer_main(void *arg)
{
	struct streamer *s = arg;

	s->ret = region_stream(s->fd, s->kfd, 0, s->ring, s->blocks, &s->done);
	s->finished = 1;
	return NULL;
}

/*
 * The device DMAs 8 blocks into a 16-block common buffer while the
 * application checks each block when its record comes; the rest keeps the
 * driver's pattern and the application's own write.
 */
static void common_buffer_streams(int kfd)
{
	size_t len = 16 * BLK;
	struct streamer s = { .kfd = kfd, .blocks = 8 };
	struct kshm_ring r;
	uint32_t count = 0;
	int good = 1;
	pthread_t t;
	uint8_t *p;

	s.fd = open_client();
	tap_zero(region(s.fd, KSHM_EDU_REGION_COMMON, KSHM_CACHE_WB, KSHM_NODE_ANY, len),
		 "edu_common_create");
	tap_zero(map(s.fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p),
		 "edu_common_maps_through_the_client");
	tap_ok(pattern_ok(p, len, 0), "edu_common_shows_what_the_driver_wrote");
	p[12 * BLK] = 0xa5;
	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r), "ring");
	s.ring = r.id;
	tap_require(!pthread_create(&t, NULL, streamer_main, &s), "thread");
	while (!s.finished || count < s.done) {
		good &= drain(&r, p, 0, &count);
		if (!s.finished)
			kshm_ring_wait(&r, 100000000);
	}
	pthread_join(t, NULL);
	good &= drain(&r, p, 0, &count);
	tap_ok(!s.ret && s.done == 8, "edu_common_stream_8_blocks (%d, %u done)", s.ret, s.done);
	tap_ok(good && count == 8, "edu_common_each_block_good_when_its_record_comes (%u)", count);
	tap_ok(p[12 * BLK] == 0xa5 && pattern_ok(p + 8 * BLK, 4 * BLK, 8 * BLK / 8) &&
		       pattern_ok(p + 12 * BLK + 8, 4 * BLK - 8, (12 * BLK + 8) / 8),
	       "edu_common_nothing_written_past_the_blocks");
	kshm_ring_destroy(&r);
	munmap(p, len);
	close(s.fd);
}

/* Does reading byte 0 at @p kill a child with SIGBUS? */
static int read_gets_sigbus(const volatile uint8_t *p)
{
	int status = 0;
	pid_t child = fork();

	if (!child) {
		signal(SIGBUS, SIG_DFL);
		_exit(p[0] == 0x42 ? 3 : 2); /* either way: it read */
	}
	return waitpid(child, &status, 0) == child && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGBUS;
}

/*
 * A common buffer is the device's: nothing may pin it, and when the device
 * goes, the driver revokes it (kshm_region_revoke()): the memory goes back
 * to the DMA layer at once, the application's mapping gives SIGBUS, and
 * the emptied region goes with the munmap.
 */
static void common_buffer_revoked_at_unbind(int kfd)
{
	struct kshm_info before = info_now(kfd);
	size_t len = 4 * BLK;
	char addr[300];
	int fd = open_client(), status = -1, go[2];
	uint8_t *p, *q;
	uint32_t id;
	pid_t child;
	char c;

	tap_require(bound_device(addr, sizeof(addr)), "find the bound edu device");
	tap_require(!region(fd, KSHM_EDU_REGION_COMMON, KSHM_CACHE_WB, KSHM_NODE_ANY, len) &&
			    !map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0, &p) && !pipe(go),
		    "create and map");
	tap_errno(kshm_buf_register(kfd, p, len, KSHM_BUF_KERNEL_READ, &id), EFAULT,
		  "edu_common_cannot_be_registered_as_a_buffer_efault");
	tap_errno(madvise(p, len, MADV_DONTNEED) ? -errno : 0, EINVAL,
		  "edu_common_madvise_dontneed_einval (a PFN mapping)");
	child = fork();
	if (!child) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1) /* until the parent has unmapped */
			_exit(2);
		_exit(pattern_ok(p + 8, len - 8, 1) && p[0] == 0x11 ? 0 : 1);
	}
	close(go[0]);
	p[0] = 0x11;
	tap_require(!munmap(p, len) && write(go[1], "x", 1) == 1, "parent lets go");
	tap_ok(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	       "edu_common_child_reads_it_after_the_parent_let_go");
	close(go[1]);
	tap_require(!map(fd, len, PROT_READ, MAP_SHARED, 0, &p), "map again");
	tap_ok(pattern_ok(p + 8, len - 8, 1) && p[0] == 0x11, "edu_common_mapped_again");
	close(edu_fd);
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/unbind", addr), "edu_common_unbind");
	tap_ok(read_gets_sigbus(p), "edu_common_revoked_at_unbind_sigbus");
	tap_errno(map(fd, len, PROT_READ, MAP_SHARED, 0, &q), ENODEV,
		  "edu_common_map_after_the_revoke_enodev");
	close(fd);
	tap_ok(info_now(kfd).regions_alive == before.regions_alive + 1,
	       "edu_common_emptied_region_alive_while_mapped");
	munmap(p, len);
	tap_ok(info_now(kfd).regions_alive == before.regions_alive,
	       "edu_common_region_freed_with_the_last_mapping_after_unbind");
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/bind", addr), "edu_common_bind_again");
	edu_fd = open_client();
}

static int ring_ioctl(int fd, uint64_t data_size, struct kshm_edu_ring *g)
{
	*g = (struct kshm_edu_ring){ .size = sizeof(*g),
				     .kind = KSHM_RING_K2U,
				     .data_size = data_size };
	return ioctl(fd, KSHM_EDU_IOC_RING, g) ? -errno : 0;
}

/* Is @fd readable within @ms milliseconds?  The poll() events, or -errno. */
static int poll_in(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, ms);

	return n < 0 ? -errno : n ? pfd.revents : 0;
}

static void own_ring_bad_inputs(int kfd)
{
	struct kshm_edu_ring g = { .size = sizeof(g) - 1, .data_size = 4096 };
	int fd = open_client();
	uint8_t *p;

	tap_errno(ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0, EINVAL,
		  "edu_ring_struct_size_wrong_einval");
	g = (struct kshm_edu_ring){
		.size = sizeof(g), .kind = KSHM_RING_K2U, .data_size = 4096, .__pad = 1
	};
	tap_errno(ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0, EINVAL,
		  "edu_ring_padding_nonzero_einval");
	g = (struct kshm_edu_ring){ .size = sizeof(g), .data_size = 4096 };
	tap_errno(ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0, EINVAL,
		  "edu_ring_kind_zero_einval");
	g = (struct kshm_edu_ring){
		.size = sizeof(g), .kind = KSHM_RING_K2U, .data_size = 4096, .rec_max = 1
	};
	tap_errno(ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0, EINVAL,
		  "edu_ring_output_rec_max_nonzero_einval");
	g = (struct kshm_edu_ring){
		.size = sizeof(g), .kind = KSHM_RING_K2U, .data_size = 4096, .mmap_offset = 1
	};
	tap_errno(ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0, EINVAL,
		  "edu_ring_output_offset_nonzero_einval");
	tap_errno(ring_ioctl(fd, 1000, &g), EINVAL, "edu_ring_size_below_4k_einval");
	tap_errno(ring_ioctl(fd, 3 << 20, &g), EINVAL, "edu_ring_size_not_a_power_of_two_einval");
	tap_errno(ring_ioctl(fd, 32 << 20, &g), EINVAL, "edu_ring_size_above_16m_einval");
	tap_ok(poll_in(fd, 0) == POLLERR, "edu_ring_poll_without_a_ring_pollerr");
	tap_errno(map(fd, page, PROT_READ, MAP_SHARED, KSHM_EDU_RING_OFFSET, &p), ENXIO,
		  "edu_ring_map_before_create_enxio");
	tap_require(!region(fd, KSHM_EDU_REGION_COMMON, 0, KSHM_NODE_ANY, 2 * BLK), "common");
	tap_errno(region_stream(fd, kfd, 0, 0, 1, NULL), ENXIO,
		  "edu_ring_stream_to_the_own_ring_without_one_enxio");
	tap_zero(ring_ioctl(fd, 4096, &g), "edu_ring_create_after_refusals");
	tap_ok(g.rec_max == 1024 && g.mmap_offset == KSHM_EDU_RING_OFFSET,
	       "edu_ring_reports_its_layout (rec_max %u)", g.rec_max);
	tap_errno(ring_ioctl(fd, 4096, &g), EBUSY, "edu_ring_second_create_ebusy");
	/* The kernel produces: the application may write only the consumer page. */
	tap_errno(
		map(fd, page, PROT_READ | PROT_WRITE, MAP_SHARED, KSHM_EDU_RING_OFFSET + page, &p),
		EPERM, "edu_ring_producer_page_writable_map_eperm");
	tap_errno(map(fd, page, PROT_READ, MAP_SHARED, KSHM_EDU_RING_OFFSET + 6 * page, &p), EINVAL,
		  "edu_ring_map_past_its_end_einval");
	close(fd);
}

/*
 * A common buffer and the driver's own ring: no /dev/kshm object at all.
 * poll() on the driver's file wakes for the records; each block is checked
 * when its record comes; the mappings outlive the file.
 */
static void own_ring_streams(int kfd)
{
	struct kshm_info before = info_now(kfd);
	struct streamer s = { .kfd = -1, .blocks = 8 };
	size_t len = 8 * BLK;
	struct kshm_edu_ring g;
	struct kshm_ring r;
	uint32_t count = 0, woken = 0, sleeps = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev;
	int good = 1;
	pthread_t t;
	uint8_t *p;

	s.fd = open_client();
	tap_require(!region(s.fd, KSHM_EDU_REGION_COMMON, 0, KSHM_NODE_ANY, len) &&
			    !map(s.fd, len, PROT_READ, MAP_SHARED, 0, &p) &&
			    !ring_ioctl(s.fd, 4096, &g),
		    "common buffer and ring");
	tap_zero(kshm_ring_map(s.fd, g.mmap_offset, KSHM_RING_K2U, 4096, g.rec_max, KSHM_CACHE_WB,
			       &r),
		 "edu_ring_maps_through_the_client (kshm_ring_map)");
	tap_ok(poll_in(s.fd, 0) == 0, "edu_ring_poll_empty_is_not_readable");
	ev = (struct epoll_event){ .events = EPOLLIN };
	tap_require(ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev), "epoll");
	tap_require(!pthread_create(&t, NULL, streamer_main, &s), "thread");
	while (!s.finished || count < s.done) {
		/*
		 * Ask for a wakeup, and sleep only when that found no record:
		 * epoll (which, unlike poll(), looks again at a timeout only
		 * if a wakeup came) must then be woken for the next record
		 * (a block takes 0.2 s), not time out after 60 s.
		 */
		if (count < s.blocks && !s.finished && !kshm_ring_want_wakeup(&r, 1)) {
			sleeps++;
			woken += epoll_wait(ep, &ev, 1, 60000) == 1;
		}
		kshm_ring_want_wakeup(&r, 0);
		good &= drain(&r, p, 0, &count);
	}
	pthread_join(t, NULL);
	good &= drain(&r, p, 0, &count);
	tap_ok(!s.ret && s.done == 8, "edu_ring_stream_8_blocks (%d, %u done)", s.ret, s.done);
	tap_ok(good && count == 8, "edu_ring_each_block_good_when_its_record_comes (%u)", count);
	tap_ok(sleeps >= 1 && woken == sleeps,
	       "edu_ring_epoll_wakes_for_records (%u of %u sleeps woken)", woken, sleeps);
	tap_ok(poll_in(s.fd, 0) == 0, "edu_ring_poll_not_readable_once_drained");
	close(ep);
	close(s.fd);
	tap_ok(info_now(kfd).regions_alive == before.regions_alive + 2,
	       "edu_ring_and_region_alive_while_mapped");
	kshm_ring_unmap(&r);
	munmap(p, len);
	tap_ok(info_now(kfd).regions_alive == before.regions_alive,
	       "edu_ring_and_region_freed_with_the_last_mapping");
}

int main(void)
{
	int kfd;

	page = sysconf(_SC_PAGESIZE);
	load_client();
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	plain_region_lives(kfd);
	offset_maps_that_page();
	modes_and_nodes();
	read_only(0, "plain");
	read_only(KSHM_EDU_REGION_COMMON, "common");
	bad_inputs(kfd);
	fork_keeps_it(kfd);
	common_buffer_streams(kfd);
	own_ring_bad_inputs(kfd);
	own_ring_streams(kfd);
	common_buffer_revoked_at_unbind(kfd);
	kshm_close(kfd);
	return tap_done();
}
