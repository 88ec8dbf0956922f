// SPDX-License-Identifier: MIT
/*
 * Buffer benchmarks, run in the guest next to the module (make bench):
 *
 * 1. a registration cycle (register + unregister, the pages unpinned when
 *    the call returns) against io_uring's buffer registration cycle
 *    (liburing) of the same memory: 16 MiB and 1 GiB, 4 KiB and 2 MiB
 *    hugetlb pages; and the same kshm cycle with one kernel use, which
 *    builds the kernel mapping;
 * 2. scale: registering the 10,000th buffer of a file, and creating the
 *    10,000th region, against the first;
 * 3. the kernel writing a registered buffer through its kernel mapping
 *    against copy_to_user() of the same bytes;
 * 4. latency: from the release of a buffer to the application waking on
 *    its eventfd or in poll(), against a wake-up through an eventfd from
 *    another thread.
 *
 * Under QEMU's software emulation absolute times mean little: ratios
 * measured in the same run are the result (bench.h runs the rounds).
 */
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "kshm.h"

#define RW  (KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE)
#define MiB (1024.0 * 1024.0)

static int kfd;
static struct io_uring ring;

static void write_param(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(value, f) < 0 || fclose(f))
		bench_die(path, errno);
}

/* --- 1. registration cycles ------------------------------------------------------------ */

struct mem {
	void *p;
	size_t len;
	int kernel_use;
};

static double kshm_cycle(void *arg)
{
	struct mem *m = arg;
	double t0 = now_us(), t;
	uint32_t id;
	int ret;

	ret = kshm_buf_register(kfd, m->p, m->len, RW, &id);
	if (ret)
		bench_die("kshm_buf_register", ret);
	if (m->kernel_use && (ret = kshm_buf_fill(kfd, id, 1, 0, 1, 1, 0)))
		bench_die("kshm_buf_fill", ret);
	ret = kshm_buf_unregister(kfd, id);
	t = now_us() - t0;
	if (ret)
		bench_die("kshm_buf_unregister", ret);
	/* Released already (nothing else held it): read the event, untimed. */
	ret = kshm_wait_buf_released(kfd, id, 10000);
	if (ret)
		bench_die("kshm_wait_buf_released", ret);
	return t;
}

static double uring_cycle(void *arg)
{
	struct mem *m = arg;
	struct iovec iov = { .iov_base = m->p, .iov_len = m->len };
	double t0 = now_us();
	int ret;

	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret)
		bench_die("io_uring_register_buffers", ret);
	ret = io_uring_unregister_buffers(&ring);
	if (ret)
		bench_die("io_uring_unregister_buffers", ret);
	return now_us() - t0;
}

static void registration(size_t len, int hugetlb, int rounds)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (hugetlb ? MAP_HUGETLB : 0);
	const char *pages = hugetlb ? "2 MiB hugetlb" : "4 KiB";
	struct mem m = { .len = len };
	struct bench_stats k, u;
	char name[128];

	if (hugetlb) {
		snprintf(name, sizeof(name), "%zu\n", len / (2 << 20) + 8);
		write_param("/proc/sys/vm/nr_hugepages", name);
	}
	m.p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (m.p == MAP_FAILED) {
		printf("| %zu MiB, %s pages | no memory of that kind in the guest | | |\n",
		       len >> 20, pages);
		return;
	}
	if (!hugetlb) /* really 4 KiB pages: no transparent huge page hides here */
		madvise(m.p, len, MADV_NOHUGEPAGE);
	memset(m.p, 1, len); /* populated: both sides pin, neither faults */
	bench_pair(kshm_cycle, &m, uring_cycle, &m, 2, rounds, &k, &u);
	snprintf(name, sizeof(name), "%zu MiB, %s pages, per MiB", len >> 20, pages);
	bench_row(name, k, u, len / MiB);
	if (len == 16 << 20) {
		m.kernel_use = 1;
		bench_pair(kshm_cycle, &m, uring_cycle, &m, 2, rounds, &k, &u);
		snprintf(name, sizeof(name), "%zu MiB, %s pages, per MiB, kshm with one kernel use",
			 len >> 20, pages);
		bench_row(name, k, u, len / MiB);
	}
	munmap(m.p, len);
	if (hugetlb)
		write_param("/proc/sys/vm/nr_hugepages", "0\n");
}

/* --- 2. scale --------------------------------------------------------------------------- */

#define SCALE_N	   10000
#define SCALE_EDGE 100

static void scale_row(const char *name, double *t)
{
	struct bench_stats first = bench_stats(t, SCALE_EDGE);
	struct bench_stats last = bench_stats(t + SCALE_N - SCALE_EDGE, SCALE_EDGE);

	printf("| %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.2f |\n", name, last.min,
	       last.med, last.p90, first.min, first.med, first.p90, last.med / first.med);
	fflush(stdout);
}

/* Microseconds of each of 10,000 registrations of one page in one file. */
static void scale(void)
{
	size_t page = sysconf(_SC_PAGESIZE), area = SCALE_N * page;
	double *t = calloc(SCALE_N, sizeof(*t)), t0;
	struct kshm_region_desc r;
	uint8_t *p;
	uint32_t id;
	int fd, i, ret;

	p = mmap(NULL, area, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	if (!t || p == MAP_FAILED)
		bench_die("scale: memory", ENOMEM);
	printf("| 10,000 objects in one file | the last 100, us (min / median / p90) | "
	       "the first 100, us (min / median / p90) | last / first (medians) |\n"
	       "|---|---|---|---|\n");
	fd = kshm_open(NULL);
	for (i = 0; i < SCALE_N; i++) {
		t0 = now_us();
		ret = kshm_buf_register(fd, p + i * page, page, RW, &id);
		t[i] = now_us() - t0;
		if (ret)
			bench_die("scale: kshm_buf_register", ret);
	}
	kshm_close(fd);
	scale_row("register a 4 KiB buffer", t);
	fd = kshm_open(NULL);
	for (i = 0; i < SCALE_N; i++) {
		t0 = now_us();
		ret = kshm_region_create(fd, page, 0, &r);
		t[i] = now_us() - t0;
		if (ret)
			bench_die("scale: kshm_region_create", ret);
	}
	kshm_close(fd);
	scale_row("create a 4 KiB region", t);
	munmap(p, area);
	free(t);
}

/* --- 3. kernel writes ------------------------------------------------------------------- */

struct copy {
	struct kshm_copy_end src, dst;
	size_t len;
};

static double copy_once(void *arg)
{
	struct copy *c = arg;
	double t0 = now_us();
	int ret = kshm_copy(kfd, &c->src, &c->dst, c->len);

	if (ret)
		bench_die("kshm_copy", ret);
	return now_us() - t0;
}

static void kernel_writes(size_t len, const char *name)
{
	uint8_t *mem = aligned_alloc(4096, len);
	struct copy to_buf = { .len = len }, to_user = { .len = len };
	struct kshm_region_desc r;
	struct bench_stats k, c;
	uint32_t id;
	char row[64];
	int ret;

	if (!mem)
		bench_die("aligned_alloc", ENOMEM);
	memset(mem, 0, len);
	ret = kshm_region_create(kfd, len, 0, &r);
	if (!ret)
		ret = kshm_buf_register(kfd, mem, len, RW, &id);
	if (ret)
		bench_die("set-up", ret);
	to_buf.src = to_user.src = (struct kshm_copy_end){ KSHM_MEM_REGION, r.id, 0 };
	to_buf.dst = (struct kshm_copy_end){ KSHM_MEM_BUF, id, 0 };
	to_user.dst = (struct kshm_copy_end){ KSHM_MEM_USER, 0, (uintptr_t)mem };
	bench_pair(copy_once, &to_buf, copy_once, &to_user, 3, 31, &k, &c);
	snprintf(row, sizeof(row), "%s", name);
	bench_row(row, k, c, 1);
	kshm_buf_unregister(kfd, id);
	kshm_wait_buf_released(kfd, id, 10000);
	kshm_region_destroy(kfd, r.id);
	free(mem);
}

/* --- 4. wake-up latency ----------------------------------------------------------------- */

enum wake_kind { WAKE_KSHM_EVENTFD, WAKE_KSHM_POLL, WAKE_EVENTFD_PEER };

struct waker {
	enum wake_kind kind;
	int efd;     /* the eventfd the waiter reads (kshm's, or the peer's) */
	int ready;   /* the waiter says it is about to block */
	double woke; /* when it returned */
};

static void *waiter_main(void *arg)
{
	struct waker *w = arg;
	struct pollfd pfd = { .fd = kfd, .events = POLLIN };
	uint64_t v = 1;

	if (write(w->ready, &v, sizeof(v)) != sizeof(v))
		bench_die("ready", errno);
	if (w->kind == WAKE_KSHM_POLL) {
		if (poll(&pfd, 1, 10000) != 1)
			bench_die("poll", ETIMEDOUT);
	} else if (read(w->efd, &v, sizeof(v)) != sizeof(v)) {
		bench_die("read eventfd", errno);
	}
	w->woke = now_us();
	return NULL;
}

/*
 * One wake-up: the waiter blocks; 1 ms later (so it is asleep) the release
 * of a one-page buffer (kshm) or a write to the eventfd (peer).  The time
 * runs from just before that call to the waiter's return.
 */
static double wake_once(struct waker *w, void *page)
{
	pthread_t t;
	uint64_t v = 1;
	uint32_t id;
	double t0;
	int ret;

	ret = kshm_buf_register(kfd, page, 4096, RW, &id);
	if (ret)
		bench_die("wake: register", ret);
	if (pthread_create(&t, NULL, waiter_main, w))
		bench_die("pthread_create", EAGAIN);
	if (read(w->ready, &v, sizeof(v)) != sizeof(v))
		bench_die("ready", errno);
	usleep(1000);
	t0 = now_us();
	if (w->kind == WAKE_EVENTFD_PEER)
		ret = write(w->efd, &v, sizeof(v)) == sizeof(v) ? 0 : -errno;
	else
		ret = kshm_buf_unregister(kfd, id);
	if (ret)
		bench_die("wake", ret);
	pthread_join(t, NULL);
	if (w->kind == WAKE_EVENTFD_PEER)
		kshm_buf_unregister(kfd, id);
	if (kshm_wait_buf_released(kfd, id, 10000))
		bench_die("wake: release", ETIMEDOUT);
	return w->woke - t0;
}

static void latency(void)
{
	enum { N = 300 };
	static const char *const names[] = {
		"release -> eventfd read() returns", "release -> poll() on /dev/kshm returns",
		"peer: eventfd write() -> read() returns in another thread"
	};
	static double t[3][N];
	struct waker w[3];
	void *page = aligned_alloc(4096, 4096);
	int i, k, kefd = eventfd(0, 0);

	if (!page || kefd < 0)
		bench_die("latency: set-up", errno);
	memset(page, 0, 4096);
	for (k = 0; k < 3; k++) {
		w[k] = (struct waker){ .kind = k, .ready = eventfd(0, 0) };
		w[k].efd = k == WAKE_KSHM_EVENTFD   ? kefd
			   : k == WAKE_EVENTFD_PEER ? eventfd(0, 0)
						    : -1;
	}
	for (i = 0; i < N + 10; i++) { /* 10 rounds of warm-up, interleaved */
		for (k = 0; k < 3; k++) {
			int kind = (i + k) % 3; /* the order rotates */
			double us;

			/* Only the eventfd case has kshm signal one. */
			if (kind == WAKE_KSHM_EVENTFD && kshm_set_eventfd(kfd, kefd))
				bench_die("kshm_set_eventfd", EINVAL);
			us = wake_once(&w[kind], page);
			if (kind == WAKE_KSHM_EVENTFD)
				kshm_set_eventfd(kfd, -1);
			if (i >= 10)
				t[kind][i - 10] = us;
		}
	}
	printf("| wake-up | p50 us | p99 us | max us |\n|---|---|---|---|\n");
	for (k = 0; k < 3; k++)
		printf("| %s | %.1f | %.1f | %.1f |\n", names[k], percentile(t[k], N, 50),
		       percentile(t[k], N, 99), percentile(t[k], N, 100));
	free(page);
}

int main(int argc, char **argv)
{
	size_t gib = (size_t)1 << 30;
	int ret;

	kfd = kshm_open(NULL);
	if (kfd < 0)
		bench_die("open /dev/kshm", kfd);
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		bench_die("io_uring_queue_init", ret);
	/* 1 GiB registrations are past the default max_buf_size. */
	write_param("/sys/module/kshm/parameters/max_buf_size", "1073741824\n");

	if (bench_wanted(argc, argv, "registration")) {
		bench_begin("bench_buf registration", "Registration cycles");
		bench_table("register + unregister", "io_uring", "us per MiB");
		registration(16 << 20, 0, 61);
		registration(16 << 20, 1, 61);
		registration(gib, 0, 7);
		registration(gib, 1, 7);
		bench_end();
	}
	if (bench_wanted(argc, argv, "scale")) {
		bench_begin("bench_buf scale", "Scale");
		scale();
		bench_end();
	}
	if (bench_wanted(argc, argv, "writes")) {
		bench_begin("bench_buf writes", "Kernel writes into a registered buffer");
		bench_table("KSHM_IOC_COPY from a region", "copy_to_user()", "us");
		kernel_writes(4 << 10, "4 KiB");
		kernel_writes(64 << 10, "64 KiB");
		kernel_writes(4 << 20, "4 MiB");
		bench_end();
	}
	if (bench_wanted(argc, argv, "latency")) {
		bench_begin("bench_buf latency", "Wake-up latency");
		latency();
		bench_end();
	}

	io_uring_queue_exit(&ring);
	kshm_close(kfd);
	return 0;
}
