/* SPDX-License-Identifier: MIT */
/*
 * The runner every benchmark in bench/ uses.
 *
 * A case is kshm against a peer, each a function that runs one whole cycle
 * (set-up to tear-down: what a user pays) and returns its microseconds.
 * bench_pair() runs both for some warm-up rounds, then round by round,
 * interleaved, the order alternating, so drift in the guest (the host's
 * other work, the page allocator's state) falls on both sides alike.
 * bench_row() prints min / median / p90 of each and the ratio of the medians.
 *
 * Each program prints its tables between "KSHM-BENCH-BEGIN name" and
 * "KSHM-BENCH-END"; make bench writes each section into docs/benchmarks.md.
 */
#ifndef KSHM_BENCH_H
#define KSHM_BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Percentile @p (0-100) of @n samples (sorts them). */
static inline double percentile(double *v, int n, int p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(n - 1) * p / 100];
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

struct bench_stats {
	double min, med, p90;
};

static inline struct bench_stats bench_stats(double *v, int n)
{
	struct bench_stats s;

	s.min = percentile(v, n, 0);
	s.med = percentile(v, n, 50);
	s.p90 = percentile(v, n, 90);
	return s;
}

typedef double (*bench_fn)(void *ctx);

/*
 * @warmup rounds of each side, then @rounds interleaved; the statistics of
 * each side in @k (kshm) and @p (peer).
 */
static inline void bench_pair(bench_fn kshm, void *kctx, bench_fn peer, void *pctx, int warmup,
			      int rounds, struct bench_stats *k, struct bench_stats *p)
{
	double *tk = calloc(rounds, sizeof(*tk)), *tp = calloc(rounds, sizeof(*tp));
	int i;

	if (!tk || !tp)
		bench_die("calloc", ENOMEM);
	for (i = 0; i < warmup; i++) {
		kshm(kctx);
		peer(pctx);
	}
	for (i = 0; i < rounds; i++) {
		if (i % 2) {
			tp[i] = peer(pctx);
			tk[i] = kshm(kctx);
		} else {
			tk[i] = kshm(kctx);
			tp[i] = peer(pctx);
		}
	}
	*k = bench_stats(tk, rounds);
	*p = bench_stats(tp, rounds);
	free(tk);
	free(tp);
}

/* The header of a kshm-against-peer table; times in @unit. */
static inline void bench_table(const char *what, const char *peer, const char *unit)
{
	printf("| %s | kshm, %s (min / median / p90) | %s, %s (min / median / p90) | "
	       "kshm / %s (medians) |\n|---|---|---|---|\n",
	       what, unit, peer, unit, peer);
}

/* One row: @k and @p divided by @scale (e.g. MiB, to print per MiB). */
static inline void bench_row(const char *name, struct bench_stats k, struct bench_stats p,
			     double scale)
{
	printf("| %s | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | %.2f |\n", name, k.min / scale,
	       k.med / scale, k.p90 / scale, p.min / scale, p.med / scale, p.p90 / scale,
	       k.med / p.med);
	fflush(stdout);
}

/*
 * Start section @name: a heading with the kernel's exact version (make
 * bench adds the date of the run).
 */
static inline void bench_begin(const char *name, const char *title)
{
	struct utsname u;

	uname(&u);
	printf("KSHM-BENCH-BEGIN %s\n### %s: %s (%s)\n\n", name, title, u.release, u.version);
}

/* Is section @name named on the command line?  No arguments: all are. */
static inline int bench_wanted(int argc, char **argv, const char *name)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return 1;
	return argc == 1;
}

static inline void bench_end(void)
{
	printf("KSHM-BENCH-END\n");
	fflush(stdout);
}

#endif /* KSHM_BENCH_H */
