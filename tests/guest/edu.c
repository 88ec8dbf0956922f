// SPDX-License-Identifier: MIT
/*
 * The kernel API for other drivers, through its sample client: kshm_edu
 * (samples/kshm_edu) drives QEMU's edu PCI device, which DMAs 2 KiB blocks
 * into a buffer registered on /dev/kshm and, on each completion interrupt,
 * the driver posts a record into a kshm ring.  Checked here: every block
 * and record, each bad input's errno, no DMA after the release event when
 * the application unregisters or dies mid-stream, unbinding the device
 * mid-stream, and that kshm cannot be unloaded while its client is loaded.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edu.h"

struct streamer {
	int kfd;
	uint32_t buf, ring, blocks, done;
	uint64_t seq;
	int ret;
	volatile int finished;
};

static void *streamer_main(void *arg)
{
	struct streamer *s = arg;

	s->ret = stream(edu_fd, s->kfd, s->buf, s->ring, s->blocks, s->seq, &s->done);
	s->finished = 1;
	return NULL;
}

/*
 * Register @len zeroed bytes at @p and a ring for @s, and start streaming
 * them on a thread (@t).
 */
static void start_stream(struct streamer *s, uint8_t *p, size_t len, struct kshm_ring *r,
			 pthread_t *t)
{
	memset(p, 0, len);
	tap_require(!kshm_buf_register(s->kfd, p, len, KSHM_BUF_KERNEL_WRITE, &s->buf) &&
			    !kshm_ring_create(s->kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, r),
		    "set-up");
	s->ring = r->id;
	tap_require(!pthread_create(t, NULL, streamer_main, s), "thread");
}

/*
 * Stream 8 blocks into @len bytes at @p while taking each record as it
 * comes and checking its block then (with every DMA bounced, a block read
 * before the driver synced it for the CPU is stale); then the bytes past
 * the blocks, the release, and for anonymous memory the dirty bit.
 */
static void streams_blocks(int kfd, uint8_t *p, size_t len, const char *kind)
{
	struct streamer s = { .kfd = kfd, .blocks = 8, .seq = 1000 };
	struct kshm_ring r;
	uint32_t count = 0;
	int good = 1, clean = 1, touched = 0;
	size_t i;
	pthread_t t;

	start_stream(&s, p, len, &r, &t);
	while (!s.finished || count < s.done) {
		good &= drain(&r, p, 1000, &count);
		/*
		 * Block 0 announced is the application's again, and block 12
		 * was never the device's: writes to both must stay.
		 */
		if (count && !touched) {
			p[0] = 0xa5;
			p[12 * BLK] = 0x5a;
			touched = 1 + !s.finished; /* 2: while the device works */
		}
		if (!s.finished)
			kshm_ring_wait(&r, 100000000);
	}
	pthread_join(t, NULL);
	good &= drain(&r, p, 1000, &count);
	tap_ok(!s.ret && s.done == 8, "edu_%s_stream_8_blocks (%d, %u done)", kind, s.ret, s.done);
	tap_ok(good && count == 8, "edu_%s_each_block_good_when_its_record_comes (%u records)",
	       kind, count);
	tap_ok(touched == 2 && p[0] == 0xa5 && p[12 * BLK] == 0x5a,
	       "edu_%s_application_writes_during_the_stream_are_kept", kind);
	for (i = 8 * BLK; i < len; i++)
		clean &= p[i] == (i == 12 * BLK ? 0x5a : 0);
	tap_ok(clean, "edu_%s_nothing_written_past_the_blocks", kind);
	tap_zero(kshm_buf_unregister(kfd, s.buf), "unregister");
	tap_zero(kshm_wait_buf_released(kfd, s.buf, 10000), "edu_buffer_released_after_the_stream");
	kshm_ring_destroy(&r);
}

/* The blocks into anonymous, memfd and hugetlb memory. */
static void streams_into_memory_kinds(int kfd)
{
	size_t len = 16 * BLK, huge = 2 << 20;
	uint8_t *p = aligned_alloc(page, len);
	int mfd = memfd_create("edu", 0);

	tap_require(p != NULL && mfd >= 0 && !ftruncate(mfd, len), "alloc");
	memset(p, 0, len);
	tap_require(!(kpageflags_at(p) >> KPF_DIRTY & 1), "a clean page");
	streams_blocks(kfd, p, len, "anonymous");
	/* The device's writes bypass the CPU: the release marked the pages dirty. */
	tap_ok(kpageflags_at(p) >> KPF_DIRTY & 1 && kpageflags_at(p + 3 * BLK) >> KPF_DIRTY & 1,
	       "edu_pages_the_device_wrote_are_dirty_after_release");
	free(p);

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	tap_require(p != MAP_FAILED, "map memfd");
	streams_blocks(kfd, p, len, "memfd");
	munmap(p, len);
	close(mfd);

	write_file("/proc/sys/vm/nr_hugepages", "2");
	p = mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
		 0);
	tap_require(p != MAP_FAILED, "map a hugetlb page");
	streams_blocks(kfd, p, huge, "hugetlb");
	munmap(p, huge);
	write_file("/proc/sys/vm/nr_hugepages", "0");
}

static void bad_inputs(int kfd)
{
	size_t len = 4 * BLK;
	uint8_t *p = aligned_alloc(page, len + page);
	struct kshm_edu_stream s = { .size = sizeof(s) - 1 };
	struct kshm_ring k2u, u2k;
	uint32_t id, ro, odd;
	int efd = eventfd(0, 0), ret;

	tap_require(p != NULL && efd >= 0, "alloc");
	memset(p, 0, len + page);
	tap_require(
		!kshm_buf_register(kfd, p, len, KSHM_BUF_KERNEL_WRITE, &id) &&
			!kshm_buf_register(kfd, p + len, 16, KSHM_BUF_KERNEL_READ, &ro) &&
			!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &k2u) &&
			!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u2k),
		"set-up");
	tap_errno(stream(edu_fd, -1, id, k2u.id, 1, 0, NULL), EBADF, "edu_bad_kshm_fd_ebadf");
	tap_errno(stream(edu_fd, efd, id, k2u.id, 1, 0, NULL), EINVAL,
		  "edu_fd_that_is_not_kshm_einval");
	tap_errno(stream(edu_fd, kfd, 4242, k2u.id, 1, 0, NULL), ENOENT,
		  "edu_unknown_buffer_enoent");
	tap_errno(stream(edu_fd, kfd, ro, k2u.id, 1, 0, NULL), EACCES,
		  "edu_buffer_without_kernel_write_eacces");
	tap_errno(stream(edu_fd, kfd, id, 4242, 1, 0, NULL), ENOENT, "edu_unknown_ring_enoent");
	tap_errno(stream(edu_fd, kfd, id, u2k.id, 1, 0, NULL), EINVAL,
		  "edu_user_to_kernel_ring_einval");
	tap_errno(stream(edu_fd, kfd, id, k2u.id, 0, 0, NULL), EINVAL, "edu_zero_blocks_einval");
	tap_errno(stream(edu_fd, kfd, id, k2u.id, 5, 0, NULL), EINVAL,
		  "edu_more_blocks_than_the_buffer_holds_einval");
	tap_errno(ioctl(edu_fd, KSHM_EDU_IOC_STREAM, &s) ? -errno : 0, EINVAL,
		  "edu_struct_size_wrong_einval");
	tap_errno(ioctl(edu_fd, _IO(0xBE, 0x7f)) ? -errno : 0, ENOTTY, "edu_unknown_ioctl_enotty");
	kshm_buf_unregister(kfd, id);
	tap_require(!kshm_wait_buf_released(kfd, id, 10000), "release");
	/* A buffer whose blocks could straddle pages: refused. */
	tap_require(!kshm_buf_register(kfd, p + 8, len - BLK, KSHM_BUF_KERNEL_WRITE, &odd),
		    "register odd");
	tap_errno(stream(edu_fd, kfd, odd, k2u.id, 1, 0, NULL), EINVAL,
		  "edu_buffer_not_block_aligned_einval");
	/* Read their release events now: ids are reused. */
	kshm_buf_unregister(kfd, odd);
	ret = kshm_wait_buf_released(kfd, odd, 10000);
	tap_require(!ret, "release odd");
	kshm_buf_unregister(kfd, ro);
	ret = kshm_wait_buf_released(kfd, ro, 10000);
	if (ret)
		tap_diag("wait ro: %d", ret);
	tap_require(!ret, "release read-only");
	tap_ok(p[8] == 0 && p[len - 1] == 0, "edu_refused_streams_wrote_nothing");
	kshm_ring_destroy(&k2u);
	kshm_ring_destroy(&u2k);
	close(efd);
	free(p);
}

/* Wait until @n records have come (or 30 s); keep what came in @count. */
static void wait_records(struct kshm_ring *r, const uint8_t *p, uint32_t n, uint32_t *count)
{
	int tries;

	for (tries = 0; *count < n && tries < 300; tries++) {
		drain(r, p, 0, count);
		kshm_ring_wait(r, 100000000);
	}
}

/*
 * The application unregisters mid-stream: the stream stops, and once the
 * release event has come the buffer never changes again.
 */
static void unregister_mid_stream(int kfd)
{
	size_t len = 32 * BLK;
	uint8_t *p = aligned_alloc(page, len), *snap = malloc(len);
	struct streamer s = { .kfd = kfd, .blocks = 32 };
	struct kshm_ring r;
	uint32_t count = 0;
	pthread_t t;
	size_t i;

	tap_require(p && snap, "alloc");
	start_stream(&s, p, len, &r, &t);
	wait_records(&r, p, 2, &count);
	tap_zero(kshm_buf_unregister(kfd, s.buf), "edu_unregister_mid_stream");
	tap_zero(kshm_wait_buf_released(kfd, s.buf, 10000), "edu_release_event_mid_stream");
	memcpy(snap, p, len);
	/* The stream returns after the interrupt of its last DMA: none comes later. */
	pthread_join(t, NULL);
	tap_ok(!memcmp(snap, p, len), "edu_no_dma_after_the_release_event");
	for (i = 0; i < len && snap[i] == p[i]; i++)
		;
	if (i < len)
		tap_diag("  byte %zu (block %zu) changed from %#x to %#x", i, i / BLK, snap[i],
			 p[i]);
	drain(&r, p, 0, &count);
	tap_ok(!s.ret && s.done >= 2 && s.done < 32 && count == s.done,
	       "edu_stream_stops_at_unregister (%u blocks, %u records)", s.done, count);
	kshm_ring_destroy(&r);
	free(snap);
	free(p);
}

/* The application dies mid-stream: nothing of it stays in kshm. */
static void killed_mid_stream(int kfd)
{
	struct kshm_info before = { .size = sizeof(before) }, after = { .size = sizeof(after) };
	int ready[2], status, i;
	pid_t child;
	char c;

	tap_require(!kshm_get_info(kfd, &before) && !pipe(ready), "set-up");
	child = fork();
	if (!child) {
		int fd = kshm_open(NULL);
		uint8_t *p = aligned_alloc(page, 32 * BLK);
		struct kshm_ring r;
		uint32_t id, n = 0;

		if (fd < 0 || !p ||
		    kshm_buf_register(fd, p, 32 * BLK, KSHM_BUF_KERNEL_WRITE, &id) ||
		    kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r))
			_exit(1);
		if (!fork()) { /* a grandchild tells when a block has landed */
			wait_records(&r, p, 1, &n);
			_exit(write(ready[1], "x", 1) == 1 ? 0 : 1);
		}
		stream(edu_fd, fd, id, r.id, 32, 0, NULL);
		_exit(0);
	}
	tap_require(read(ready[0], &c, 1) == 1, "a block landed");
	kill(child, SIGKILL);
	tap_ok(waitpid(child, &status, 0) == child && WIFSIGNALED(status),
	       "edu_application_killed_mid_stream");
	if (!WIFSIGNALED(status))
		tap_diag("  the application exited with %d before the kill",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	/* The in-flight DMA finishes, then the last put releases (30 s at most). */
	for (i = 0; i < 100; i++) {
		tap_require(!kshm_get_info(kfd, &after), "info");
		if (after.bufs_alive == before.bufs_alive &&
		    after.regions_alive == before.regions_alive)
			break;
		usleep(300000);
	}
	tap_ok(after.bufs_alive == before.bufs_alive && after.regions_alive == before.regions_alive,
	       "edu_killed_stream_leaves_no_buffer_or_ring (%llu buffers)",
	       (unsigned long long)after.bufs_alive);
	close(ready[0]);
	close(ready[1]);
}

/* Unbind the device while a stream runs; bind it again. */
static void unbind_mid_stream(int kfd)
{
	size_t len = 32 * BLK;
	uint8_t *p = aligned_alloc(page, len);
	struct streamer s = { .kfd = kfd, .blocks = 32 };
	struct kshm_ring r;
	uint32_t count = 0;
	char addr[300] = "";
	pthread_t t;

	tap_require(p && bound_device(addr, sizeof(addr)), "find the bound edu device");
	start_stream(&s, p, len, &r, &t);
	wait_records(&r, p, 1, &count);
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/unbind", addr), "edu_unbind_mid_stream");
	pthread_join(t, NULL);
	tap_ok(!s.ret && s.done >= 1 && s.done < 32, "edu_stream_stops_at_unbind (%u blocks)",
	       s.done);
	tap_errno(stream(edu_fd, kfd, s.buf, r.id, 1, 0, NULL), ENODEV,
		  "edu_stream_on_an_unbound_device_enodev");
	kshm_buf_unregister(kfd, s.buf);
	tap_zero(kshm_wait_buf_released(kfd, s.buf, 10000), "edu_buffer_released_after_unbind");
	close(edu_fd);
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/bind", addr), "edu_bind_again");
	edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	tap_require(edu_fd >= 0, "open /dev/kshm_edu again");
	drain(&r, p, 0, &count);
	kshm_ring_destroy(&r);
	free(p);
}

/*
 * A buffer with pages beyond the driver's 28-bit DMA mask (the client
 * reloaded with dma_bits=28): behind an IOMMU it streams, the IOMMU
 * placing it below the mask; without one it is ERANGE, since kshm does not
 * bounce.
 */
static void beyond_the_mask(void)
{
	size_t len = 256 << 20, i; /* more than the free memory below 256 MiB */
	uint8_t *p = aligned_alloc(page, len);
	int fd = open("/kshm_edu.ko", O_RDONLY | O_CLOEXEC), kfd = kshm_open(NULL), high = 0;
	struct kshm_ring r;
	uint32_t id;

	tap_require(p && fd >= 0 && kfd >= 0, "set-up");
	tap_require(!syscall(SYS_finit_module, fd, "dma_bits=28", 0), "load the client, 28 bits");
	close(fd);
	edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	tap_require(edu_fd >= 0, "open /dev/kshm_edu");
	memset(p, 1, len);
	for (i = 0; i < len && !high; i += page)
		high = pfn_at(p + i) >= 1ull << (28 - 12);
	tap_require(high, "a page above 256 MiB in a 256 MiB buffer");
	/* That one page (the IOMMU's 28-bit space could not take them all). */
	tap_require(!kshm_buf_register(kfd, p + i - page, page, KSHM_BUF_KERNEL_WRITE, &id) &&
			    !kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r),
		    "register");
	if (have_iommu())
		tap_zero(stream(edu_fd, kfd, id, r.id, 1, 0, NULL),
			 "edu_buffer_beyond_the_mask_streams_behind_an_iommu");
	else
		tap_errno(stream(edu_fd, kfd, id, r.id, 1, 0, NULL), ERANGE,
			  "edu_buffer_beyond_the_mask_without_an_iommu_erange");
	kshm_ring_destroy(&r);
	kshm_close(kfd);
	free(p);
}

int main(void)
{
	int kfd;

	page = sysconf(_SC_PAGESIZE);
	load_client();
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	streams_into_memory_kinds(kfd);
	bad_inputs(kfd);
	unregister_mid_stream(kfd);
	killed_mid_stream(kfd);
	unbind_mid_stream(kfd);
	kshm_close(kfd);
	close(edu_fd);
	edu_fd = -1;
	unload_order();
	beyond_the_mask();
	return tap_done();
}
