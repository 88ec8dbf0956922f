// SPDX-License-Identifier: MIT
/*
 * kshmctl ring: watch a kernel-to-user ring fed by the test engine, or time
 * echo round trips through a user-to-kernel ring and back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kshm.h"
#include "kshmctl.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct watch_opts {
	uint64_t seconds;
	uint64_t size;
	uint64_t len;
	uint64_t period_us;
};

static int parse_watch(int argc, char **argv, struct watch_opts *o)
{
	int i;

	*o = (struct watch_opts){ .seconds = 3, .size = 65536, .len = 16, .period_us = 100 };
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		uint64_t *dst = NULL;

		if (!strncmp(a, "seconds=", 8))
			dst = &o->seconds, a += 8;
		else if (!strncmp(a, "size=", 5))
			dst = &o->size, a += 5;
		else if (!strncmp(a, "len=", 4))
			dst = &o->len, a += 4;
		else if (!strncmp(a, "period=", 7))
			dst = &o->period_us, a += 7;
		if (!dst || parse_size(a, dst))
			return usage_error("'%s' is not a ring watch option", argv[i]);
	}
	return 0;
}

/* One line a second: records, their rate, drops, wakeups; then the total. */
static int ring_watch(int fd, const struct watch_opts *o)
{
	struct kshm_ring r;
	struct kshm_ring_stats st;
	const struct kshm_ring_rec *rec;
	uint64_t got = 0, last_got = 0, bad = 0, next = 1, seq, ticks;
	double start, tick;
	int ret;

	ret = kshm_ring_create(fd, KSHM_RING_K2U, o->size, KSHM_CACHE_WB, 0, 0, &r);
	if (ret)
		return fail("cannot create the ring (size is a power of two, 4K..16M)", ret);
	ret = kshm_engine_start(fd, KSHM_TARGET_RING, r.id, (uint32_t)o->period_us, 0, o->len, 0);
	if (ret == -EPERM)
		return fail("cannot start the engine (load kshm with test_engine=1)", ret);
	if (ret)
		return fail("cannot start the engine (period 50..1000000 us, len a multiple of 8, "
			    "16..a quarter of the ring)",
			    ret);
	printf("ring %u: %llu bytes; the engine produces a %llu-byte record every %llu us\n", r.id,
	       (unsigned long long)o->size, (unsigned long long)o->len,
	       (unsigned long long)o->period_us);
	start = tick = now_s();
	while (now_s() - start < o->seconds) {
		while ((rec = kshm_ring_next(&r))) {
			memcpy(&seq, rec + 1, sizeof(seq));
			bad += seq != next;
			next = seq + 1;
			got++;
		}
		kshm_ring_done(&r);
		kshm_ring_wait(&r, 100000000);
		if (now_s() - tick >= 1) {
			kshm_ring_stats(&r, &st);
			printf("%5.1f s  %10llu records  %9.0f/s  %6llu dropped  %6llu wakeups\n",
			       now_s() - start, (unsigned long long)got,
			       (got - last_got) / (now_s() - tick), (unsigned long long)st.dropped,
			       (unsigned long long)st.wakeups);
			last_got = got;
			tick = now_s();
		}
	}
	kshm_engine_stop(fd, &ticks);
	kshm_ring_stats(&r, &st);
	printf("total: %llu records received, %llu dropped, %llu out of order, of %llu produced\n",
	       (unsigned long long)got, (unsigned long long)st.dropped, (unsigned long long)bad,
	       (unsigned long long)ticks);
	kshm_ring_destroy(&r);
	return bad ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* @count echo round trips of @len bytes: p50, p99 and max in microseconds. */
static int ring_echo(int fd, uint64_t count, uint64_t len)
{
	struct kshm_ring in, out;
	const struct kshm_ring_rec *rec;
	double *t, t0;
	uint64_t i;
	void *p;
	int ret;

	if (!count || count > 1000000 || len > 1024)
		return usage_error("ring echo takes a count of 1..1000000 and len=0..1024");
	ret = kshm_ring_create(fd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &out);
	if (!ret)
		ret = kshm_ring_create(fd, KSHM_RING_U2K, 65536, KSHM_CACHE_WB, 0, out.id, &in);
	if (ret)
		return fail("cannot create the rings", ret);
	t = calloc(count, sizeof(*t));
	if (!t)
		return fail("cannot allocate the samples", -ENOMEM);
	for (i = 0; i < count; i++) {
		t0 = now_s();
		p = kshm_ring_reserve(&in, (uint32_t)len, KSHM_REC_ECHO);
		memset(p, (int)i, len);
		kshm_ring_submit(&in);
		while (!(rec = kshm_ring_next(&out))) {
			ret = kshm_ring_wait(&out, 5000000000ULL);
			if (ret)
				return fail("no echo came back", ret);
		}
		kshm_ring_done(&out);
		t[i] = (now_s() - t0) * 1e6;
	}
	qsort(t, count, sizeof(*t), cmp_double);
	printf("%llu echo round trips of %llu bytes: p50 %.0f us, p99 %.0f us, max %.0f us\n",
	       (unsigned long long)count, (unsigned long long)len, t[count / 2],
	       t[(count - 1) * 99 / 100], t[count - 1]);
	free(t);
	kshm_ring_destroy(&in);
	kshm_ring_destroy(&out);
	return 0;
}

const char ring_help[] =
	"usage: kshmctl ring watch [seconds=S] [size=BYTES] [len=BYTES] [period=US]\n"
	"       kshmctl ring echo [COUNT] [len=BYTES]\n"
	"watch: the test engine feeds a kernel-to-user ring; print the records, their rate,\n"
	"       the drops and the wakeups each second, then the totals (defaults: 3 s, a\n"
	"       64K ring, 16-byte records every 100 us; needs kshm loaded with test_engine=1)\n"
	"echo:  send COUNT records (default 1000) of len bytes (default 8, at most 1024)\n"
	"       through a user-to-kernel ring, echoed back by the kernel; print the round\n"
	"       trip's p50, p99 and max\n"
	"Examples:\n"
	"  kshmctl ring watch seconds=5 len=64 period=50\n"
	"  kshmctl ring echo 10000 len=64\n"
	"Exit status: 0 ok, 1 the ring failed (one sentence says why), 2 usage error.\n";

int cmd_ring(int argc, char **argv)
{
	struct watch_opts o;
	uint64_t count = 1000, len = 8;
	int fd, ret, i;

	if (argc >= 1 && !strcmp(argv[0], "watch")) {
		ret = parse_watch(argc - 1, argv + 1, &o);
		if (ret)
			return ret;
		fd = open_dev();
		if (fd < 0)
			return 1;
		ret = ring_watch(fd, &o);
		kshm_close(fd);
		return ret;
	}
	if (argc >= 1 && !strcmp(argv[0], "echo")) {
		for (i = 1; i < argc; i++) {
			if (!strncmp(argv[i], "len=", 4) ? parse_size(argv[i] + 4, &len)
							 : parse_size(argv[i], &count))
				return usage_error("'%s' is not a ring echo option", argv[i]);
		}
		fd = open_dev();
		if (fd < 0)
			return 1;
		ret = ring_echo(fd, count, len);
		kshm_close(fd);
		return ret;
	}
	return usage_error("ring takes 'watch' or 'echo'");
}
