// SPDX-License-Identifier: MIT
/*
 * dma-buf: a region exported as a dma-buf (KSHM_IOC_REGION_EXPORT), and
 * any dma-buf imported by the sample client (samples/kshm_edu), whose
 * device DMAs blocks into it.  Checked: the dma-buf's mapping is the
 * region's, both ways; each bad export's errno; a read-only region stays
 * read-only; the dma-buf keeps the region after its handle and file are
 * gone, and keeps kshm loaded; blocks DMAed into an exported region, read
 * through the region's own mapping, and into a udmabuf (6.12; Debian's 6.1
 * has none), read through its memfd; each bad import's errno.
 */
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "edu.h"

/* Export region @id of @kfd: the new descriptor, or -errno. */
static int export(int kfd, uint32_t id, uint32_t flags)
{
	struct kshm_region_export e = { .size = sizeof(e), .flags = flags, .id = id };
	int ret = raw_ioctl(kfd, KSHM_IOC_REGION_EXPORT, &e);

	return ret ? ret : e.fd;
}

/* mmap @len bytes of @fd: the address, or NULL with errno set. */
static uint8_t *map(int fd, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int map_errno(int fd, size_t len, int prot, int flags)
{
	uint8_t *p = map(fd, len, prot, flags);

	if (!p)
		return -errno;
	munmap(p, len);
	return 0;
}

static int sync_ioctl(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return raw_ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

/* The dma-buf's mapping and the region's show the same bytes, both ways. */
static void export_maps_the_region(int kfd, uint32_t cache_mode, const char *kind)
{
	size_t len = 4 * page;
	struct kshm_region_desc r;
	uint8_t *p, *q;
	int fd;

	tap_require(!kshm_region_create_ex(kfd, len, 0, cache_mode, KSHM_NODE_ANY, &r) &&
			    !kshm_region_map(kfd, &r, PROT_READ | PROT_WRITE, (void **)&p),
		    "region");
	memset(p, 0x11, len);
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC);
	tap_ok(fd >= 0, "dmabuf_%s_export", kind);
	tap_ok(fcntl(fd, F_GETFD) == FD_CLOEXEC, "dmabuf_%s_export_cloexec", kind);
	tap_ok(lseek(fd, 0, SEEK_END) == (off_t)len, "dmabuf_%s_size_is_the_region_length", kind);
	q = map(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_require(q != NULL, "map the dma-buf");
	tap_ok(sync_ioctl(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW) == 0 && q[0] == 0x11 &&
		       q[len - 1] == 0x11,
	       "dmabuf_%s_mapping_shows_the_region", kind);
	q[page + 5] = 0x5a;
	p[3 * page] = 0xa5;
	tap_ok(sync_ioctl(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW) == 0 && p[page + 5] == 0x5a &&
		       q[3 * page] == 0xa5,
	       "dmabuf_%s_writes_seen_both_ways", kind);
	tap_errno(map_errno(fd, len, PROT_READ, MAP_PRIVATE), EINVAL,
		  cache_mode == KSHM_CACHE_WB ? "dmabuf_private_mapping_einval"
					      : "dmabuf_wc_private_mapping_einval");
	munmap(q, len);
	close(fd);
	kshm_region_unmap(&r, p);
	kshm_region_destroy(kfd, r.id);
}

/* Without KSHM_REGION_EXPORT_RDWR the descriptor maps read-only. */
static void export_read_only(int kfd)
{
	size_t len = 2 * page;
	struct kshm_region_desc r, ro;
	uint8_t *q;
	int fd;

	tap_require(!kshm_region_create(kfd, len, 0, &r) &&
			    !kshm_region_create(kfd, len, KSHM_REGION_USER_RDONLY, &ro) &&
			    !kshm_region_fill(kfd, ro.id, 1, 0, len, 7, 0),
		    "regions");
	fd = export(kfd, r.id, 0);
	tap_ok(fd >= 0 && fcntl(fd, F_GETFD) == 0, "dmabuf_export_without_cloexec");
	tap_errno(map_errno(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED), EACCES,
		  "dmabuf_read_only_export_writable_map_eacces");
	close(fd);
	tap_errno(export(kfd, ro.id, KSHM_REGION_EXPORT_RDWR), EACCES,
		  "dmabuf_read_write_export_of_a_read_only_region_eacces");
	fd = export(kfd, ro.id, 0);
	tap_ok(fd >= 0, "dmabuf_read_only_region_exports_read_only");
	q = map(fd, len, PROT_READ, MAP_SHARED);
	tap_ok(q && q[0] == 7 && q[len - 1] == 7, "dmabuf_read_only_region_maps_for_reading");
	tap_errno(q && mprotect(q, len, PROT_READ | PROT_WRITE) ? -errno : 0, EACCES,
		  "dmabuf_read_only_region_mprotect_write_eacces");
	tap_errno(map_errno(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED), EACCES,
		  "dmabuf_read_only_region_writable_map_eacces");
	if (q)
		munmap(q, len);
	close(fd);
	kshm_region_destroy(kfd, r.id);
	kshm_region_destroy(kfd, ro.id);
}

static void export_bad_inputs(int kfd)
{
	struct kshm_region_export e = { .size = offsetof(struct kshm_region_export, fd) };
	struct kshm_region_desc r;
	struct kshm_ring ring;
	int rofd = open("/dev/kshm", O_RDONLY | O_CLOEXEC);

	tap_require(rofd >= 0 && !kshm_region_create(kfd, page, 0, &r) &&
			    !kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &ring),
		    "set-up");
	tap_errno(export(kfd, 4242, 0), ENOENT, "dmabuf_export_unknown_region_enoent");
	tap_errno(export(kfd, r.id, 1U << 2), EINVAL, "dmabuf_export_unknown_flag_einval");
	e.id = r.id;
	tap_errno(raw_ioctl(kfd, KSHM_IOC_REGION_EXPORT, &e), EINVAL,
		  "dmabuf_export_struct_too_short_einval");
	e = (struct kshm_region_export){ .size = sizeof(e), .id = r.id, .__reserved = 1 };
	tap_errno(raw_ioctl(kfd, KSHM_IOC_REGION_EXPORT, &e), EINVAL,
		  "dmabuf_export_reserved_nonzero_einval");
	tap_errno(export(kfd, ring.id, 0), EINVAL, "dmabuf_export_of_a_ring_einval");
	tap_errno(export(rofd, r.id, 0), EBADF, "dmabuf_export_on_a_read_only_kshm_fd_ebadf");
	kshm_ring_destroy(&ring);
	kshm_region_destroy(kfd, r.id);
	close(rofd);
}

static int counts(int kfd, uint64_t *regions, uint64_t *pages)
{
	struct kshm_info info = { .size = sizeof(info) };

	if (kshm_get_info(kfd, &info))
		return 0;
	*regions = info.regions_alive;
	*pages = info.pages_alive;
	return 1;
}

/* The dma-buf holds the pages after destroy and close, until its own close. */
static void dmabuf_outlives_region_and_file(int kfd)
{
	uint64_t r0, p0, r1 = 0, p1 = 0;
	struct kshm_region_desc r;
	int fd, kfd2 = kshm_open(NULL);
	uint8_t *q;

	tap_require(kfd2 >= 0 && counts(kfd, &r0, &p0), "set-up");
	tap_require(!kshm_region_create(kfd2, 2 * page, 0, &r) &&
			    !kshm_region_fill(kfd2, r.id, 1, 0, 2 * page, 9, 0),
		    "region");
	fd = export(kfd2, r.id, KSHM_REGION_EXPORT_RDWR);
	tap_require(fd >= 0, "export");
	kshm_region_destroy(kfd2, r.id);
	kshm_close(kfd2);
	tap_require(counts(kfd, &r1, &p1), "info");
	tap_ok(r1 == r0 + 1 && p1 == p0 + 2,
	       "dmabuf_holds_the_region_after_destroy_and_close (%llu regions, %llu pages more)",
	       (unsigned long long)(r1 - r0), (unsigned long long)(p1 - p0));
	q = map(fd, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_ok(q && q[0] == 9 && q[2 * page - 1] == 9, "dmabuf_maps_a_destroyed_region");
	close(fd);
	tap_ok(counts(kfd, &r1, &p1) && r1 == r0 + 1,
	       "dmabuf_mapping_holds_the_region_after_its_close");
	if (q)
		munmap(q, 2 * page);
	/* The last fput ran before munmap() returned: nothing to wait for. */
	tap_require(counts(kfd, &r1, &p1), "info");
	tap_ok(r1 == r0 && p1 == p0,
	       "dmabuf_region_freed_with_the_last_holder (%lld regions, %lld pages more)",
	       (long long)(r1 - r0), (long long)(p1 - p0));
}

static int stream_dmabuf(int dfd, int kfd, uint32_t ring, uint32_t blocks, uint64_t seq,
			 uint32_t *done)
{
	struct kshm_edu_stream_dmabuf s = { .size = sizeof(s),
					    .dmabuf_fd = dfd,
					    .kshm_fd = kfd,
					    .ring_id = ring,
					    .blocks = blocks,
					    .seq = seq };
	int ret = ioctl(edu_fd, KSHM_EDU_IOC_STREAM_DMABUF, &s) ? -errno : 0;

	if (done)
		*done = s.done;
	return ret;
}

struct streamer {
	int dfd, kfd;
	uint32_t ring, blocks, done;
	uint64_t seq;
	int ret;
	volatile int finished;
};

static void *streamer_main(void *arg)
{
	struct streamer *s = arg;

	s->ret = stream_dmabuf(s->dfd, s->kfd, s->ring, s->blocks, s->seq, &s->done);
	s->finished = 1;
	return NULL;
}

/*
 * Stream 8 blocks into the dma-buf @dfd, whose memory the application sees
 * at @p (@len bytes), on a thread; take each record as it comes and check
 * its block then; sync the dma-buf for the CPU while the device has it.
 */
static void streams_into(int kfd, int dfd, uint8_t *p, size_t len, const char *kind)
{
	struct streamer s = { .dfd = dfd, .kfd = kfd, .blocks = 8, .seq = 3000 };
	int good = 1, clean = 1, synced = -1, kshm = !strcmp(kind, "kshm");
	struct kshm_ring r;
	uint32_t count = 0;
	pthread_t t;
	size_t i;

	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r), "ring");
	s.ring = r.id;
	tap_require(!pthread_create(&t, NULL, streamer_main, &s), "thread");
	while (!s.finished || count < s.done) {
		good &= drain(&r, p, 3000, &count);
		if (kshm && count && synced < 0 && !s.finished)
			synced = sync_ioctl(dfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) ||
				 sync_ioctl(dfd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
		if (!s.finished)
			kshm_ring_wait(&r, 100000000);
	}
	pthread_join(t, NULL);
	good &= drain(&r, p, 3000, &count);
	tap_ok(!s.ret && s.done == 8, "dmabuf_%s_stream_8_blocks (%d, %u done)", kind, s.ret,
	       s.done);
	tap_ok(good && count == 8, "dmabuf_%s_each_block_good_when_its_record_comes (%u records)",
	       kind, count);
	if (kshm)
		tap_ok(synced == 0, "dmabuf_kshm_sync_while_the_device_has_it_mapped");
	for (i = 8 * BLK; i < len; i++)
		clean &= p[i] == 0;
	tap_ok(clean, "dmabuf_%s_nothing_written_past_the_blocks", kind);
	kshm_ring_destroy(&r);
}

/* The device DMAs into an exported region; the region's own mapping shows it. */
static void sample_streams_into_an_exported_region(int kfd)
{
	size_t len = 16 * BLK;
	struct kshm_region_desc r;
	uint8_t *p;
	int fd;

	tap_require(!kshm_region_create(kfd, len, 0, &r) &&
			    !kshm_region_map(kfd, &r, PROT_READ | PROT_WRITE, (void **)&p),
		    "region");
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC);
	tap_require(fd >= 0, "export");
	/* The dma-buf alone keeps the pages the device writes. */
	kshm_region_destroy(kfd, r.id);
	streams_into(kfd, fd, p, len, "kshm");
	close(fd);
	kshm_region_unmap(&r, p);
}

/* Is this Debian's 6.1, built without CONFIG_UDMABUF? */
static int kernel_6_1(void)
{
	struct utsname u;

	return !uname(&u) && !strncmp(u.release, "6.1.", 4);
}

/* The same into a udmabuf over a memfd; the memfd's mapping shows it. */
static void sample_streams_into_a_udmabuf(int kfd)
{
	size_t len = 16 * BLK;
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), mfd, fd;
	uint8_t *p;

	if (dev < 0 && kernel_6_1()) {
		tap_ok(1, "dmabuf_udmabuf_stream # SKIP no /dev/udmabuf: Debian's 6.1 is built "
			  "without CONFIG_UDMABUF");
		return;
	}
	tap_ok(dev >= 0, "dmabuf_udmabuf_device_exists");
	if (dev < 0)
		return;
	mfd = memfd_create("udmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	tap_require(mfd >= 0 && !ftruncate(mfd, len) && !fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK),
		    "memfd");
	c.memfd = mfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	tap_require(fd >= 0, "UDMABUF_CREATE");
	p = map(mfd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_require(p != NULL, "map the memfd");
	streams_into(kfd, fd, p, len, "udmabuf");
	munmap(p, len);
	close(fd);
	close(mfd);
	close(dev);
}

static void import_bad_inputs(int kfd)
{
	struct kshm_edu_stream_dmabuf s = { .size = sizeof(s) - 1 };
	struct kshm_region_desc r;
	struct kshm_ring ring;
	int efd = eventfd(0, EFD_CLOEXEC), fd;
	uint8_t *p;

	tap_require(efd >= 0 && !kshm_region_create(kfd, 2 * BLK, 0, &r) &&
			    !kshm_region_map(kfd, &r, PROT_READ | PROT_WRITE, (void **)&p) &&
			    !kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &ring),
		    "set-up");
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC);
	tap_require(fd >= 0, "export");
	tap_errno(stream_dmabuf(-1, kfd, ring.id, 1, 0, NULL), EBADF, "dmabuf_import_bad_fd_ebadf");
	tap_errno(stream_dmabuf(efd, kfd, ring.id, 1, 0, NULL), EINVAL,
		  "dmabuf_import_fd_that_is_not_a_dmabuf_einval");
	tap_errno(stream_dmabuf(kfd, kfd, ring.id, 1, 0, NULL), EINVAL,
		  "dmabuf_import_kshm_fd_as_dmabuf_einval");
	tap_errno(stream_dmabuf(fd, kfd, 4242, 1, 0, NULL), ENOENT,
		  "dmabuf_import_unknown_ring_enoent");
	tap_errno(stream_dmabuf(fd, kfd, ring.id, 0, 0, NULL), EINVAL,
		  "dmabuf_import_zero_blocks_einval");
	tap_errno(stream_dmabuf(fd, kfd, ring.id, 3, 0, NULL), EINVAL,
		  "dmabuf_import_more_blocks_than_fit_einval");
	tap_errno(ioctl(edu_fd, KSHM_EDU_IOC_STREAM_DMABUF, &s) ? -errno : 0, EINVAL,
		  "dmabuf_import_struct_size_wrong_einval");
	close(fd);
	/* A descriptor that may not write gives no device write either. */
	memset(p, 0x3c, 2 * BLK);
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_CLOEXEC);
	tap_errno(stream_dmabuf(fd, kfd, ring.id, 1, 0, NULL), EACCES,
		  "dmabuf_import_read_only_descriptor_for_device_writes_eacces");
	tap_ok(p[0] == 0x3c && p[BLK - 1] == 0x3c, "dmabuf_refused_import_wrote_nothing");
	close(fd);
	close(efd);
	kshm_ring_destroy(&ring);
	kshm_region_unmap(&r, p);
	kshm_region_destroy(kfd, r.id);
}

/*
 * Without an IOMMU, a device that cannot reach all of memory is refused
 * (the client reloaded with dma_bits=28), as for registered buffers.
 */
static void import_beyond_the_mask(int kfd)
{
	int ko = open("/kshm_edu.ko", O_RDONLY | O_CLOEXEC), fd;
	struct kshm_region_desc r;
	struct kshm_ring ring;

	close(edu_fd);
	edu_fd = -1;
	tap_require(ko >= 0 && !syscall(SYS_delete_module, "kshm_edu", O_NONBLOCK) &&
			    !syscall(SYS_finit_module, ko, "dma_bits=28", 0),
		    "reload the client with 28 DMA bits");
	close(ko);
	edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	tap_require(edu_fd >= 0 && !kshm_region_create(kfd, BLK, 0, &r) &&
			    !kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &ring),
		    "set-up");
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC);
	tap_errno(stream_dmabuf(fd, kfd, ring.id, 1, 0, NULL), ERANGE,
		  "dmabuf_import_beyond_the_mask_without_an_iommu_erange");
	close(fd);
	kshm_ring_destroy(&ring);
	kshm_region_destroy(kfd, r.id);
}

static int kshm_refcnt(void)
{
	FILE *f = fopen("/sys/module/kshm/refcnt", "r");
	int n = -1;

	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		fclose(f);
	return n;
}

/* With the client gone and no file open, a dma-buf alone keeps kshm in. */
static void dmabuf_holds_the_module(void)
{
	int kfd = kshm_open(NULL), fd, before, held;
	struct kshm_region_desc r;

	tap_require(kfd >= 0 && !kshm_region_create(kfd, page, 0, &r), "region");
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_CLOEXEC);
	tap_require(fd >= 0, "export");
	kshm_close(kfd);
	before = kshm_refcnt();
	held = before == 1;
	tap_ok(held, "dmabuf_holds_a_module_reference (refcnt %d)", before);
	/* Only ask when it is held: a module that went would crash at the close. */
	if (held)
		tap_errno(syscall(SYS_delete_module, "kshm", O_NONBLOCK) ? -errno : 0, EWOULDBLOCK,
			  "dmabuf_kshm_cannot_unload_while_a_dmabuf_lives");
	close(fd);
	tap_ok(kshm_refcnt() == 0, "dmabuf_module_reference_dropped_at_close");
}

int main(void)
{
	int kfd;

	page = sysconf(_SC_PAGESIZE);
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	export_maps_the_region(kfd, KSHM_CACHE_WB, "wb");
	export_maps_the_region(kfd, KSHM_CACHE_WC, "wc");
	export_read_only(kfd);
	export_bad_inputs(kfd);
	dmabuf_outlives_region_and_file(kfd);
	load_client();
	sample_streams_into_an_exported_region(kfd);
	sample_streams_into_a_udmabuf(kfd);
	import_bad_inputs(kfd);
	if (!have_iommu())
		import_beyond_the_mask(kfd);
	kshm_close(kfd);
	close(edu_fd);
	edu_fd = -1;
	tap_zero(syscall(SYS_delete_module, "kshm_edu", O_NONBLOCK) ? -errno : 0,
		 "dmabuf_client_unloads");
	dmabuf_holds_the_module();
	return tap_done();
}
