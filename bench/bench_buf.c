// SPDX-License-Identifier: MIT
/*
 * Buffer benchmarks, run in the guest next to the module (make bench):
 *
 * 1. registration cost per MiB, kshm against io_uring's buffer registration
 *    (liburing) on the same memory, with 4 KiB pages and with 2 MiB hugetlb
 *    pages;
 * 2. the kernel writing a registered buffer through its kernel mapping
 *    against copy_to_user() of the same bytes (both from the same region).
 *
 * Under QEMU's software emulation absolute times mean little: the table
 * reports medians and the ratio kshm / peer, measured in the same run.
 */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kshm.h"

#define RW     (KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE)
#define ROUNDS 31

static void die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Median microseconds of one kshm registration of @len bytes at @p. */
static double kshm_register_us(int fd, void *p, size_t len)
{
	double t[ROUNDS], t0;
	uint32_t id;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		t0 = now_us();
		ret = kshm_buf_register(fd, p, len, RW, &id);
		t[i] = now_us() - t0;
		if (ret)
			die("kshm_buf_register", ret);
		kshm_buf_unregister(fd, id);
		kshm_wait_buf_released(fd, id, 10000);
	}
	return median(t, ROUNDS);
}

/* The same for io_uring_register_buffers() on a fresh ring. */
static double uring_register_us(struct io_uring *ring, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };
	double t[ROUNDS], t0;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		t0 = now_us();
		ret = io_uring_register_buffers(ring, &iov, 1);
		t[i] = now_us() - t0;
		if (ret)
			die("io_uring_register_buffers", ret);
		io_uring_unregister_buffers(ring);
	}
	return median(t, ROUNDS);
}

static void registration(int fd, struct io_uring *ring, const char *pages, int hugetlb)
{
	size_t len = 16 << 20;
	double k, u, mib = len / (double)(1 << 20);
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (hugetlb ? MAP_HUGETLB : 0);
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED) {
		printf("| register 16 MiB, %s pages | (no memory of that kind) | | |\n", pages);
		return;
	}
	if (!hugetlb) /* really 4 KiB pages: no transparent huge pages */
		madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 1, len); /* populated: both sides pin, neither faults */
	k = kshm_register_us(fd, p, len);
	u = uring_register_us(ring, p, len);
	printf("| register, %s pages, per MiB | %.1f us | %.1f us | %.2f |\n", pages, k / mib,
	       u / mib, k / u);
	munmap(p, len);
}

/* Median microseconds of one KSHM_IOC_COPY from @src to @dst. */
static double copy_us(int fd, struct kshm_copy_end src, struct kshm_copy_end dst, size_t len)
{
	double t[ROUNDS], t0;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		t0 = now_us();
		ret = kshm_copy(fd, &src, &dst, len);
		t[i] = now_us() - t0;
		if (ret)
			die("kshm_copy", ret);
	}
	return median(t, ROUNDS);
}

static void kernel_writes(int fd, size_t len, const char *name)
{
	struct kshm_region_desc r;
	struct kshm_copy_end src, to_buf, to_user;
	uint8_t *mem = aligned_alloc(4096, len);
	uint32_t id;
	double k, c;
	int ret;

	if (!mem)
		die("aligned_alloc", ENOMEM);
	memset(mem, 0, len);
	ret = kshm_region_create(fd, len, 0, &r);
	if (!ret)
		ret = kshm_buf_register(fd, mem, len, RW, &id);
	if (ret)
		die("set-up", ret);
	src = (struct kshm_copy_end){ KSHM_MEM_REGION, r.id, 0 };
	to_buf = (struct kshm_copy_end){ KSHM_MEM_BUF, id, 0 };
	to_user = (struct kshm_copy_end){ KSHM_MEM_USER, 0, (uintptr_t)mem };
	k = copy_us(fd, src, to_buf, len);
	c = copy_us(fd, src, to_user, len);
	printf("| kernel writes %s into the buffer | %.1f us | %.1f us | %.2f |\n", name, k, c,
	       k / c);
	kshm_buf_unregister(fd, id);
	kshm_wait_buf_released(fd, id, 10000);
	kshm_region_destroy(fd, r.id);
	free(mem);
}

int main(void)
{
	struct io_uring ring;
	FILE *f;
	int fd, ret;

	fd = kshm_open(NULL);
	if (fd < 0)
		die("open /dev/kshm", fd);
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		die("io_uring_queue_init", ret);
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (f) {
		fputs("16\n", f);
		fclose(f);
	}
	printf("| operation | kshm | peer | kshm / peer |\n|---|---|---|---|\n");
	registration(fd, &ring, "4 KiB", 0);
	registration(fd, &ring, "2 MiB hugetlb", 1);
	kernel_writes(fd, 4 << 10, "4 KiB");
	kernel_writes(fd, 64 << 10, "64 KiB");
	kernel_writes(fd, 4 << 20, "4 MiB");
	printf("\npeers: io_uring_register_buffers() (liburing) for registration; "
	       "copy_to_user() of the same bytes (KSHM_IOC_COPY to user memory) for writes\n");
	io_uring_queue_exit(&ring);
	kshm_close(fd);
	return 0;
}
