// SPDX-License-Identifier: MIT
/*
 * Attacks on dma-bufs of kshm regions (KSHM_IOC_REGION_EXPORT) and on the
 * sample's STREAM_DMABUF: mmap beyond the size, ftruncate, lseek, splice,
 * DMA_BUF_IOCTL_SYNC with bad flags, export/destroy/close orders, an export
 * racing a destroy, 10,000 exports (is anything left over?), and a udmabuf
 * (6.12) truncated or unmapped while the device streams into it.
 */
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include "edu.h"

static unsigned int seed;

static int export(int kfd, uint32_t id, uint32_t flags)
{
	struct kshm_region_export e = { .size = sizeof(e), .flags = flags, .id = id };
	int ret = raw_ioctl(kfd, KSHM_IOC_REGION_EXPORT, &e);

	return ret ? ret : e.fd;
}

static int sync_ioctl(int fd, uint64_t flags)
{
	struct dma_buf_sync s = { .flags = flags };

	return raw_ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

static struct kshm_info info_now(int kfd)
{
	struct kshm_info i = { .size = sizeof(i) };

	tap_require(!kshm_get_info(kfd, &i), "info");
	return i;
}

static void file_ops(int kfd)
{
	size_t len = 4 * page;
	struct kshm_region_desc r;
	int fd, pfd[2], bad = 0;
	uint8_t *p;
	loff_t off;
	ssize_t n;
	uint64_t f = 0;

	tap_require(!kshm_region_create(kfd, len, 0, &r) && !pipe(pfd), "region");
	fd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR | KSHM_REGION_EXPORT_CLOEXEC);
	tap_require(fd >= 0, "export");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, len);
	tap_errno(p == MAP_FAILED ? -errno : 0, EINVAL, "attack_dmabuf_mmap_at_size_einval");
	p = mmap(NULL, 2 * len, PROT_READ, MAP_SHARED, fd, 0);
	tap_errno(p == MAP_FAILED ? -errno : 0, EINVAL, "attack_dmabuf_mmap_beyond_size_einval");
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, (off_t)0x7ffffffff000LL);
	tap_errno(p == MAP_FAILED ? -errno : 0, EINVAL, "attack_dmabuf_mmap_huge_offset_einval");
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 3 * page);
	tap_ok(p != MAP_FAILED, "attack_dmabuf_mmap_last_page");
	if (p != MAP_FAILED) {
		/* Grow the last-page mapping beyond the dma-buf. */
		void *q = mremap(p, page, 2 * page, MREMAP_MAYMOVE);

		tap_ok(q == MAP_FAILED, "attack_dmabuf_mremap_grow_beyond_refused");
		if (q != MAP_FAILED)
			p = q;
		tap_ok(madvise(p, page, MADV_DONTNEED) || ((volatile uint8_t *)p)[0] == 0 || 1,
		       "attack_dmabuf_dontneed_refaults");
		munmap(p, page);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap_errno(p == MAP_FAILED ? -errno : 0, EINVAL, "attack_dmabuf_private_map_einval");
	tap_ok(ftruncate(fd, 0) < 0, "attack_dmabuf_ftruncate_refused (%s)", strerror(errno));
	tap_ok(ftruncate(fd, 16 * len) < 0, "attack_dmabuf_ftruncate_grow_refused");
	off = lseek(fd, 0, SEEK_END);
	tap_ok(off == (loff_t)len, "attack_dmabuf_lseek_end_is_size (%lld)", (long long)off);
	off = lseek(fd, 5, SEEK_SET);
	tap_ok(off < 0, "attack_dmabuf_lseek_set_refused (%lld)", (long long)off);
	n = splice(fd, NULL, pfd[1], NULL, page, 0);
	tap_ok(n < 0, "attack_dmabuf_splice_from (%zd %s)", n, strerror(errno));
	n = write(pfd[1], "abcd", 4);
	n = splice(pfd[0], NULL, fd, NULL, 4, 0);
	tap_ok(n < 0, "attack_dmabuf_splice_to (%zd %s)", n, strerror(errno));
	n = read(fd, &f, sizeof(f));
	tap_ok(n < 0, "attack_dmabuf_read (%zd)", n);
	n = write(fd, &f, sizeof(f));
	tap_ok(n < 0, "attack_dmabuf_write (%zd)", n);
	{
		static const uint64_t badf[] = { 0,
						 DMA_BUF_SYNC_START,
						 DMA_BUF_SYNC_END,
						 DMA_BUF_SYNC_RW | 8,
						 DMA_BUF_SYNC_READ | (1ULL << 63),
						 ~0ULL,
						 DMA_BUF_SYNC_WRITE | 0x100 };
		size_t k;

		for (k = 0; k < sizeof(badf) / sizeof(badf[0]); k++)
			if (sync_ioctl(fd, badf[k]) != -EINVAL) {
				bad++;
				tap_diag("sync flags %#llx: %d", (unsigned long long)badf[k],
					 sync_ioctl(fd, badf[k]));
			}
	}
	tap_ok(!bad, "attack_dmabuf_sync_bad_flags_einval (%d unexpected)", bad);
	/* Unbalanced: end without start, start twice. */
	tap_ok(1, "attack_dmabuf_sync_unbalanced (%d %d %d)",
	       sync_ioctl(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW),
	       sync_ioctl(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ),
	       sync_ioctl(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
	tap_ok(raw_ioctl(fd, DMA_BUF_SET_NAME_B, "attack") == 0, "attack_dmabuf_set_name");
	close(fd);
	kshm_region_destroy(kfd, r.id);
	close(pfd[0]);
	close(pfd[1]);
}

/* Every order of export, destroy, close of the kshm file, close of the dma-buf, munmap. */
static void orders(void)
{
	struct kshm_info base;
	int order, k0 = kshm_open(NULL), bad = 0;

	tap_require(k0 >= 0, "open /dev/kshm");
	base = info_now(k0);
	for (order = 0; order < 24; order++) {
		int kfd = kshm_open(NULL), dfd, steps[4] = { 0, 1, 2, 3 }, i, j, o = order;
		struct kshm_region_desc r;
		uint8_t *p;
		size_t len = 2 * page;

		tap_require(kfd >= 0 && !kshm_region_create(kfd, len, 0, &r), "region");
		dfd = export(kfd, r.id, KSHM_REGION_EXPORT_RDWR);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
		tap_require(dfd >= 0 && p != MAP_FAILED, "export and map");
		p[0] = 7;
		for (i = 0; i < 4; i++) { /* the order-th permutation */
			j = i + o % (4 - i);
			o /= 4 - i;
			int t = steps[i];

			steps[i] = steps[j];
			steps[j] = t;
		}
		for (i = 0; i < 4; i++) {
			switch (steps[i]) {
			case 0:
				kshm_region_destroy(kfd, r.id);
				break;
			case 1:
				kshm_close(kfd);
				break;
			case 2:
				close(dfd);
				break;
			case 3:
				if (p[0] != 7)
					bad++;
				munmap(p, len);
				break;
			}
		}
	}
	tap_ok(!bad && info_now(k0).regions_alive == base.regions_alive &&
		       info_now(k0).pages_alive == base.pages_alive,
	       "attack_dmabuf_orders_leave_nothing (bad %d)", bad);
	kshm_close(k0);
}

struct race {
	int kfd;
	volatile uint32_t id;
	volatile int stop;
	long exported, failed;
};

static void *exporter_main(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		int fd = export(r->kfd, r->id, 0);

		if (fd >= 0) {
			r->exported++;
			if (r->exported & 1) {
				void *p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);

				if (p != MAP_FAILED)
					munmap(p, page);
			}
			close(fd);
		} else {
			r->failed++;
		}
	}
	return NULL;
}

static void export_races_destroy(void)
{
	struct race r = { .kfd = kshm_open(NULL) };
	struct kshm_info base;
	pthread_t t[2];
	int i, k0 = kshm_open(NULL);
	time_t end = time(NULL) + 3;

	tap_require(r.kfd >= 0 && k0 >= 0, "open");
	base = info_now(k0);
	pthread_create(&t[0], NULL, exporter_main, &r);
	pthread_create(&t[1], NULL, exporter_main, &r);
	for (i = 0; time(NULL) < end; i++) {
		struct kshm_region_desc d;

		if (kshm_region_create(r.kfd, 2 * page, 0, &d))
			continue;
		r.id = d.id;
		usleep(rand_r(&seed) % 200);
		kshm_region_destroy(r.kfd, d.id);
	}
	r.stop = 1;
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	kshm_close(r.kfd);
	tap_ok(info_now(k0).regions_alive == base.regions_alive,
	       "attack_dmabuf_export_races_destroy (%d regions, %ld exports, %ld failed)", i,
	       r.exported, r.failed);
	kshm_close(k0);
}

static long meminfo(const char *key)
{
	return (long)proc_value("/proc/meminfo", key);
}

/* 10,000 exports of one region: bounded by RLIMIT_NOFILE, all given back. */
static void many_exports(void)
{
	struct rlimit old, rl = { 20000, 20000 };
	int kfd = kshm_open(NULL), k0 = kshm_open(NULL), *fds, n = 0, i, first_err = 0;
	struct kshm_region_desc r;
	struct kshm_info base;
	long slab0, slab1, slab2;

	tap_require(kfd >= 0 && k0 >= 0 && !getrlimit(RLIMIT_NOFILE, &old), "open");
	setrlimit(RLIMIT_NOFILE, &rl);
	base = info_now(k0);
	fds = calloc(10000, sizeof(*fds));
	tap_require(fds && !kshm_region_create(kfd, page, 0, &r), "region");
	slab0 = meminfo("Slab:");
	for (i = 0; i < 10000; i++) {
		fds[i] = export(kfd, r.id, 0);
		if (fds[i] < 0) {
			first_err = fds[i];
			break;
		}
		n++;
	}
	slab1 = meminfo("Slab:");
	tap_ok(n == 10000, "attack_dmabuf_10000_exports (%d made, error %d, slab +%ld kB)", n,
	       first_err, slab1 - slab0);
	kshm_region_destroy(kfd, r.id);
	tap_ok(info_now(k0).regions_alive == base.regions_alive + 1,
	       "attack_dmabuf_exports_hold_the_region");
	for (i = 0; i < n; i++)
		close(fds[i]);
	slab2 = meminfo("Slab:");
	tap_ok(info_now(k0).regions_alive == base.regions_alive,
	       "attack_dmabuf_10000_exports_given_back (slab after %+ld kB)", slab2 - slab0);
	/* With a low RLIMIT_NOFILE: EMFILE, and nothing leaks. */
	rl.rlim_cur = rl.rlim_max = 64;
	tap_require(!kshm_region_create(kfd, page, 0, &r), "region");
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < 100; i++) {
		fds[i] = export(kfd, r.id, 0);
		if (fds[i] < 0)
			break;
	}
	tap_errno(i < 100 ? fds[i] : 0, EMFILE, "attack_dmabuf_exports_emfile");
	while (--i >= 0)
		close(fds[i]);
	kshm_region_destroy(kfd, r.id);
	setrlimit(RLIMIT_NOFILE, &old);
	tap_ok(info_now(k0).regions_alive == base.regions_alive,
	       "attack_dmabuf_emfile_leaks_nothing");
	free(fds);
	kshm_close(kfd);
	kshm_close(k0);
}

/* --- udmabuf under the device --------------------------------------------- */

struct streamer {
	int dfd, kfd;
	uint32_t ring, blocks;
	int ret;
	uint32_t done;
};

static void *stream_main(void *arg)
{
	struct streamer *s = arg;
	struct kshm_edu_stream_dmabuf a = { .size = sizeof(a),
					    .dmabuf_fd = s->dfd,
					    .kshm_fd = s->kfd,
					    .ring_id = s->ring,
					    .blocks = s->blocks,
					    .seq = 1 };

	s->ret = ioctl(edu_fd, KSHM_EDU_IOC_STREAM_DMABUF, &a) ? -errno : 0;
	s->done = a.done;
	return NULL;
}

static void udmabuf_pulled(int kfd)
{
	size_t len = 256 * BLK;
	int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), mfd, fd, round;
	struct kshm_ring ring;
	struct utsname u;

	if (dev < 0) {
		uname(&u);
		tap_ok(1, "attack_dmabuf_udmabuf # SKIP no /dev/udmabuf on %s", u.release);
		return;
	}
	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 1 << 20, KSHM_CACHE_WB, 0, 0, &ring),
		    "ring");
	for (round = 0; round < 4; round++) {
		struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = len };
		struct streamer s = { .kfd = kfd, .ring = ring.id, .blocks = len / BLK };
		pthread_t t;
		uint8_t *p;
		int tr = 0;

		mfd = memfd_create("udmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
		tap_require(mfd >= 0 && !ftruncate(mfd, len) &&
				    !fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK),
			    "memfd");
		c.memfd = mfd;
		fd = ioctl(dev, UDMABUF_CREATE, &c);
		tap_require(fd >= 0, "UDMABUF_CREATE");
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
		tap_require(p != MAP_FAILED, "map memfd");
		s.dfd = fd;
		pthread_create(&t, NULL, stream_main, &s);
		usleep(50000 + rand_r(&seed) % 200000);
		switch (round) {
		case 0: /* shrink is sealed; growing is not */
			tr = ftruncate(mfd, 0) ? -errno : 0;
			ftruncate(mfd, 4 * len);
			break;
		case 1:
			munmap(p, len);
			p = NULL;
			break;
		case 2: /* punch a hole under the device */
			tr = fallocate(mfd, 3 /* PUNCH_HOLE|KEEP_SIZE */, 0, len) ? -errno : 0;
			break;
		case 3: /* everything the application holds goes */
			close(fd);
			fd = -1;
			close(mfd);
			mfd = -1;
			munmap(p, len);
			p = NULL;
			break;
		}
		close(edu_fd); /* the stream's file stays open through the ioctl */
		edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
		pthread_kill(t, SIGUSR1);
		pthread_join(t, NULL);
		tap_ok(1, "attack_dmabuf_udmabuf_round_%d (stream %d, %u blocks; truncate %d)",
		       round, s.ret, s.done, tr);
		kshm_ring_done(&ring);
		while (kshm_ring_next(&ring))
			;
		kshm_ring_done(&ring);
		if (p)
			munmap(p, len);
		if (fd >= 0)
			close(fd);
		if (mfd >= 0)
			close(mfd);
	}
	kshm_ring_destroy(&ring);
	close(dev);
}

static void on_usr1(int sig)
{
	(void)sig;
}

int main(void)
{
	const char *env = getenv("KSHM_ATTACK_SEED");
	struct sigaction sa = { .sa_handler = on_usr1 };
	int kfd;

	page = sysconf(_SC_PAGESIZE);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u (KSHM_ATTACK_SEED=%u replays it)", seed, seed);
	sigaction(SIGUSR1, &sa, NULL);
	load_client();
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	file_ops(kfd);
	orders();
	export_races_destroy();
	many_exports();
	udmabuf_pulled(kfd);
	kshm_close(kfd);
	return tap_done();
}
