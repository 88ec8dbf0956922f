// SPDX-License-Identifier: MIT
/*
 * edu_reader: the application side of samples/kshm_edu.
 *
 * It registers a buffer and creates a kernel-to-user ring on /dev/kshm,
 * asks the sample driver to stream blocks into the buffer (a thread sits
 * in the ioctl), and consumes the ring in a busy loop with no system call
 * per record: each record names a block, which it checks word by word and
 * against the record's checksum.  Then it prints blocks/s, MiB/s, drops
 * and errors, and the time a memcpy of the same bytes takes here.
 *
 *   edu_reader [BLOCKS [BUFFER_MIB]]     (load kshm_edu.ko first)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kshm.h"
#include "kshm_edu/kshm_edu.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

struct job {
	int edu;
	struct kshm_edu_stream s;
	int ret;
	volatile int finished;
};

static void *streamer(void *arg)
{
	struct job *j = arg;

	j->ret = ioctl(j->edu, KSHM_EDU_IOC_STREAM, &j->s) ? -errno : 0;
	j->finished = 1;
	return NULL;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "edu_reader: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t blocks = argc > 1 ? strtoul(argv[1], NULL, 0) : 16;
	size_t len = (argc > 2 ? strtoul(argv[2], NULL, 0) : 1) << 20;
	uint64_t got = 0, bad = 0, j;
	struct kshm_ring_stats st = { .size = sizeof(st) };
	struct job job = { 0 };
	struct kshm_ring r;
	pthread_t t;
	uint8_t *p, *copy;
	double t0, t1, m0;
	int kfd, ret;
	uint32_t id;

	if ((uint64_t)blocks * KSHM_EDU_BLOCK > len)
		return fail("BLOCKS * 2 KiB must fit in the buffer", EINVAL);
	kfd = kshm_open(NULL);
	job.edu = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (kfd < 0 || job.edu < 0)
		return fail("open /dev/kshm and /dev/kshm_edu (is kshm_edu.ko loaded?)",
			    kfd < 0 ? kfd : errno);
	p = aligned_alloc(4096, len);
	copy = aligned_alloc(4096, len);
	if (!p || !copy)
		return fail("memory", ENOMEM);
	memset(p, 0, len);
	memset(copy, 0, len);
	ret = kshm_buf_register(kfd, p, len, KSHM_BUF_KERNEL_WRITE, &id);
	if (!ret)
		ret = kshm_ring_create(kfd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &r);
	if (ret)
		return fail("set-up on /dev/kshm", ret);
	job.s = (struct kshm_edu_stream){ .size = sizeof(job.s),
					  .kshm_fd = kfd,
					  .buf_id = id,
					  .ring_id = r.id,
					  .blocks = blocks };
	t0 = now_s();
	if (pthread_create(&t, NULL, streamer, &job))
		return fail("thread", EAGAIN);
	/* Busy: no system call per record, only kshm_ring_done() when idle. */
	while (!job.finished || got < job.s.done) {
		const struct kshm_ring_rec *rec = kshm_ring_next(&r);
		const struct kshm_edu_block *b;
		const uint64_t *w;

		if (!rec) {
			if (r.broken)
				break;
			kshm_ring_done(&r);
			continue;
		}
		b = (const void *)(rec + 1);
		w = (const uint64_t *)(p + (size_t)b->index * KSHM_EDU_BLOCK);
		for (j = 0; j < KSHM_EDU_BLOCK / 8; j++)
			bad += w[j] != b->seq * KSHM_EDU_MUL + j;
		bad += fnv1a((const uint8_t *)w, KSHM_EDU_BLOCK) != b->sum;
		got++;
	}
	t1 = now_s();
	pthread_join(t, NULL);
	kshm_ring_done(&r);
	kshm_ring_stats(&r, &st);
	m0 = now_s();
	memcpy(copy, p, (size_t)blocks * KSHM_EDU_BLOCK);
	m0 = now_s() - m0;
	printf("%llu of %u blocks in %.3f s: %.1f blocks/s, %.3f MiB/s; "
	       "%llu dropped, %llu bad words or sums, stream %s\n",
	       (unsigned long long)got, blocks, t1 - t0, got / (t1 - t0),
	       got * KSHM_EDU_BLOCK / (t1 - t0) / (1 << 20), (unsigned long long)st.dropped,
	       (unsigned long long)bad, job.ret ? strerror(-job.ret) : "ok");
	printf("memcpy of the same bytes here: %.6f s (%.0fx faster than the device)\n", m0,
	       (t1 - t0) / (m0 > 0 ? m0 : 1e-9));
	kshm_buf_unregister(kfd, id);
	kshm_wait_buf_released(kfd, id, 10000);
	kshm_ring_destroy(&r);
	return got == blocks && !bad && !st.dropped && !job.ret ? 0 : 1;
}
