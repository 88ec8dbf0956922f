// SPDX-License-Identifier: MIT
/*
 * Region benchmarks, run in the guest next to the module (make bench):
 *
 * 1. a region's whole life (create, mmap, a write to every page, munmap,
 *    destroy) against what a user would pick instead: a memfd
 *    (memfd_create, ftruncate, mmap with MAP_POPULATE, the same writes,
 *    munmap, close) and, where the kernel has it, a udmabuf over a memfd;
 * 2. reading and writing through a region's mapping against anonymous
 *    memory (4 KiB pages both): nothing should hide in the mapping;
 * 3. what a cache mode costs to set up and tear down: WC and UC regions
 *    change the kernel's own mapping of every page on create and free.
 *
 * Under QEMU's software emulation the ratios are the result, not the times;
 * how fast the CPU reads WC or UC memory is not measurable under emulation
 * (it ignores caching attributes), so it is not reported.
 */
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "kshm.h"

#define MiB (1024.0 * 1024.0)

static int kfd;
static size_t page;

static void touch(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += page)
		p[i] = 1;
}

/* --- 1. a whole life ---------------------------------------------------------------------- */

struct life {
	size_t len;
	uint32_t mode;
};

static double region_life(void *arg)
{
	struct life *l = arg;
	struct kshm_region_desc r;
	double t0 = now_us();
	void *p;
	int ret;

	ret = kshm_region_create_ex(kfd, l->len, 0, l->mode, KSHM_NODE_ANY, &r);
	if (ret)
		bench_die("kshm_region_create_ex", ret);
	ret = kshm_region_map(kfd, &r, PROT_READ | PROT_WRITE, &p);
	if (ret)
		bench_die("kshm_region_map", ret);
	touch(p, l->len);
	kshm_region_unmap(&r, p);
	ret = kshm_region_destroy(kfd, r.id);
	if (ret)
		bench_die("kshm_region_destroy", ret);
	return now_us() - t0;
}

static double memfd_life(void *arg)
{
	struct life *l = arg;
	double t0 = now_us();
	int fd = memfd_create("bench", MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, l->len))
		bench_die("memfd", errno);
	p = mmap(NULL, l->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		bench_die("mmap memfd", errno);
	touch(p, l->len);
	munmap(p, l->len);
	close(fd);
	return now_us() - t0;
}

static int udmabuf_dev = -1;

static double udmabuf_life(void *arg)
{
	struct life *l = arg;
	double t0 = now_us();
	int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING), buf;
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = l->len };
	void *p;

	if (fd < 0 || ftruncate(fd, l->len) || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
		bench_die("memfd for udmabuf", errno);
	c.memfd = fd;
	buf = ioctl(udmabuf_dev, UDMABUF_CREATE, &c);
	if (buf < 0)
		bench_die("UDMABUF_CREATE", errno);
	p = mmap(NULL, l->len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED)
		bench_die("mmap udmabuf", errno);
	touch(p, l->len);
	munmap(p, l->len);
	close(buf);
	close(fd);
	return now_us() - t0;
}

static void lives(void)
{
	static const size_t sizes[] = { 4 << 10, 2 << 20, 256 << 20 };
	static const int rounds[] = { 101, 31, 7 };
	struct bench_stats k, m;
	char name[96];
	FILE *f;
	int i;

	udmabuf_dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	/* udmabuf refuses more than size_limit_mb (64 by default). */
	f = fopen("/sys/module/udmabuf/parameters/size_limit_mb", "w");
	if (f) {
		fputs("512\n", f);
		fclose(f);
	}
	bench_table("create + mmap + write each page + munmap + destroy", "peer", "us");
	for (i = 0; i < 3; i++) {
		struct life l = { sizes[i], KSHM_CACHE_WB };
		double scale = sizes[i] < (1 << 20) ? 1 : sizes[i] / MiB;
		const char *unit = sizes[i] < (1 << 20) ? "" : ", per MiB";

		bench_pair(region_life, &l, memfd_life, &l, 3, rounds[i], &k, &m);
		snprintf(name, sizeof(name), "%zu KiB%s, peer memfd", sizes[i] >> 10, unit);
		bench_row(name, k, m, scale);
		if (udmabuf_dev < 0) {
			printf("| %zu KiB%s, peer udmabuf | | (no /dev/udmabuf in this kernel) | "
			       "|\n",
			       sizes[i] >> 10, unit);
			continue;
		}
		bench_pair(region_life, &l, udmabuf_life, &l, 3, rounds[i], &k, &m);
		snprintf(name, sizeof(name), "%zu KiB%s, peer udmabuf", sizes[i] >> 10, unit);
		bench_row(name, k, m, scale);
	}
	if (udmabuf_dev >= 0)
		close(udmabuf_dev);
}

/* --- 2. bandwidth through the mapping ------------------------------------------------------ */

/*
 * Each round maps fresh memory (untimed) and times one pass over it: under
 * emulation the speed of a pass depends on where the host placed the guest
 * pages behind it, so both sides draw new pages every round.
 */
struct pass {
	size_t len;
	int node;
	int write;
};

static double time_pass(uint64_t *p, const struct pass *s)
{
	double t0 = now_us();
	uint64_t sum = 0;
	size_t i, n = s->len / sizeof(*p);

	if (s->write) {
		memset(p, (int)t0, s->len);
	} else {
		for (i = 0; i < n; i++)
			sum += p[i];
		/* Keep the loads. */
		__asm__ volatile("" : : "r"(sum));
	}
	return now_us() - t0;
}

static double region_pass(void *arg)
{
	struct pass *s = arg;
	struct kshm_region_desc r;
	void *p;
	double t;
	int ret;

	ret = kshm_region_create_ex(kfd, s->len, 0, KSHM_CACHE_WB, s->node, &r);
	if (!ret)
		ret = kshm_region_map(kfd, &r, PROT_READ | PROT_WRITE, &p);
	if (ret)
		bench_die("bandwidth: region", ret);
	touch(p, s->len);
	t = time_pass(p, s);
	kshm_region_unmap(&r, p);
	kshm_region_destroy(kfd, r.id);
	return t;
}

static double anon_pass(void *arg)
{
	struct pass *s = arg;
	unsigned long mask = 1ul << s->node;
	void *p = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double t;

	if (p == MAP_FAILED)
		bench_die("bandwidth: anonymous memory", errno);
	/* MPOL_BIND (2) to the region's node, before the first touch. */
	if (syscall(SYS_mbind, p, s->len, 2, &mask, sizeof(mask) * 8, 0))
		bench_die("mbind", errno);
	madvise(p, s->len, MADV_NOHUGEPAGE); /* 4 KiB pages, as the region's */
	memset(p, 1, s->len);
	t = time_pass(p, s);
	munmap(p, s->len);
	return t;
}

/* 64 MiB on NUMA node @node, a region against anonymous memory there. */
static void bandwidth(int node)
{
	struct pass s = { .len = 64 << 20, .node = node };
	struct bench_stats k, a;
	char name[64];

	for (s.write = 0; s.write < 2; s.write++) {
		bench_pair(region_pass, &s, anon_pass, &s, 2, 15, &k, &a);
		snprintf(name, sizeof(name), "%s, node %d",
			 s.write ? "write (memset)" : "read (sum of 64-bit words)", node);
		bench_row(name, k, a, s.len / MiB);
	}
}

/* --- 3. cache modes ------------------------------------------------------------------------ */

static void cache_modes(void)
{
	static const char *const names[] = { "WC", "UC" };
	struct life wb = { 16 << 20, KSHM_CACHE_WB }, other = wb;
	struct bench_stats k, p;
	char name[64];
	int m;

	printf("| 16 MiB region, create + mmap + write each page + munmap + destroy | the mode, us "
	       "per MiB (min / median / p90) | write-back, us per MiB (min / median / p90) | mode "
	       "/ "
	       "write-back (medians) |\n|---|---|---|---|\n");
	for (m = 0; m < 2; m++) {
		other.mode = KSHM_CACHE_WC + m;
		bench_pair(region_life, &other, region_life, &wb, 2, 15, &k, &p);
		snprintf(name, sizeof(name), "%s", names[m]);
		bench_row(name, k, p, wb.len / MiB);
	}
}

int main(int argc, char **argv)
{
	page = sysconf(_SC_PAGESIZE);
	kfd = kshm_open(NULL);
	if (kfd < 0)
		bench_die("open /dev/kshm", kfd);
	if (bench_wanted(argc, argv, "lives")) {
		bench_begin("bench_region lives", "Regions against memfd and udmabuf");
		lives();
		bench_end();
	}
	if (bench_wanted(argc, argv, "bandwidth")) {
		bench_begin("bench_region bandwidth",
			    "Reading and writing through a region's mapping");
		bench_table("64 MiB, one pass", "anonymous memory", "us per MiB");
		bandwidth(0);
		bandwidth(1);
		bench_end();
	}
	if (bench_wanted(argc, argv, "cache-modes")) {
		bench_begin("bench_region cache modes", "What a cache mode costs");
		cache_modes();
		bench_end();
	}
	kshm_close(kfd);
	return 0;
}
