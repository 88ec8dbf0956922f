// SPDX-License-Identifier: MIT
/*
 * The kernel writes a region from an hrtimer (hard IRQ context) while the
 * application reads it: the region's kernel mapping works in any context.
 */
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "kshm.h"
#include "tap.h"

#define WORDS	    64 /* words the reader checks */
#define CLOSE_WORDS 32 /* words written by the engine left running at close */

static long page;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Wait until the engine's tick (word 0) reaches @want.  The deadline only
 * bounds a broken engine; success never depends on timing.
 */
static uint64_t wait_tick(const uint64_t *w, uint64_t want)
{
	double deadline = now() + 60;
	uint64_t t;

	while ((t = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE)) < want && now() < deadline)
		sched_yield();
	return t;
}

/* Every word i holds (tick' << 32 | i) for a tick' no older than @tick. */
static int words_consistent(const uint64_t *w, uint64_t tick)
{
	int i;

	for (i = 1; i < WORDS; i++) {
		uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED);

		if ((v & 0xffffffff) != (uint64_t)i || v >> 32 < tick)
			return 0;
	}
	return 1;
}

/*
 * Let @n periods of @period_us go by, counted by a timer, not by a clock: a
 * second engine, on a file and region of its own, that stops by itself
 * after @n ticks.  Any engine still running alongside it has ticked too.
 * True once the @n ticks were seen.
 */
static int wait_periods(uint64_t n, uint32_t period_us)
{
	struct kshm_region_desc r;
	uint64_t *w;
	int ok, fd = kshm_open(NULL);

	tap_require(fd >= 0 && !kshm_region_create(fd, page, 0, &r) &&
			    !kshm_region_map(fd, &r, PROT_READ, (void **)&w),
		    "clock region");
	ok = !kshm_engine_start(fd, 0, r.id, period_us, 0, 16, n) && wait_tick(w, n) == n;
	munmap(w, r.length);
	kshm_close(fd);
	return ok;
}

/* Nothing wrote the @n words at @w since @snap was taken of them. */
static int unchanged(const uint64_t *w, const uint64_t *snap, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (__atomic_load_n(&w[i], __ATOMIC_RELAXED) != snap[i])
			return 0;
	return 1;
}

static void engine_writes_while_app_reads(int fd, uint32_t cache_mode, const char *mode)
{
	struct kshm_region_desc r;
	uint64_t *w, t, stopped, ticks, snap[WORDS];
	int good = 1, n;

	tap_require(!kshm_region_create_ex(fd, 2 * page, 0, cache_mode, KSHM_NODE_ANY, &r),
		    "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, (void **)&w), "map");
	w += page / 8 - 8; /* straddle the page boundary */
	tap_ok(!kshm_engine_start(fd, 0, r.id, 200, page - 64, WORDS * 8, 0), "engine_%s_start",
	       mode);
	for (n = 1; n <= 20; n++) {
		t = wait_tick(w, n);
		good &= t >= (uint64_t)n && words_consistent(w, t);
	}
	tap_ok(good, "engine_%s_ticks_seen_consistent_by_reader", mode);
	tap_ok(!kshm_engine_stop(fd, &ticks) && ticks >= 20, "engine_%s_stop_reports_ticks", mode);
	stopped = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
	/* hrtimer_cancel has returned: nothing may write any more. */
	tap_ok(stopped == ticks, "engine_%s_last_tick_is_reported_tick", mode);
	kshm_region_destroy(fd, r.id);
	memcpy(snap, w, sizeof(snap));
	/* Twenty periods later, not one word has moved. */
	tap_ok(wait_periods(20, 200) && unchanged(w, snap, WORDS), "engine_%s_no_write_after_stop",
	       mode);
	munmap(w - (page / 8 - 8), r.length);
}

static void engine_max_ticks_and_destroyed_region(int fd)
{
	struct kshm_region_desc r;
	uint64_t *w, ticks;

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, (void **)&w), "map");
	tap_zero(kshm_engine_start(fd, 0, r.id, 100, 0, 128, 5), "engine_start_max_ticks");
	/* The engine holds the region: destroying the handle does not stop it. */
	tap_zero(kshm_region_destroy(fd, r.id), "engine_region_destroyed_while_running");
	tap_ok(wait_tick(w, 5) == 5, "engine_runs_to_max_ticks_after_destroy");
	tap_ok(!kshm_engine_stop(fd, &ticks) && ticks == 5, "engine_stops_at_max_ticks");
	tap_ok(w[0] == 5, "engine_max_ticks_not_exceeded");
	munmap(w, r.length);
}

static void engine_bad_inputs(int fd)
{
	struct kshm_region_desc r;

	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_errno(kshm_engine_stop(fd, NULL), ENOENT, "engine_stop_without_engine_enoent");
	tap_errno(kshm_engine_start(fd, 0, 999, 100, 0, 64, 0), ENOENT,
		  "engine_unknown_region_enoent");
	tap_errno(kshm_engine_start(fd, 0, r.id, 10, 0, 64, 0), EINVAL,
		  "engine_period_too_short_einval");
	tap_errno(kshm_engine_start(fd, 0, r.id, 2000000, 0, 64, 0), EINVAL,
		  "engine_period_too_long_einval");
	tap_errno(kshm_engine_start(fd, 0, r.id, 100, 4, 64, 0), EINVAL,
		  "engine_misaligned_offset_einval");
	tap_errno(kshm_engine_start(fd, 0, r.id, 100, 0, 60, 0), EINVAL,
		  "engine_odd_length_einval");
	tap_errno(kshm_engine_start(fd, 0, r.id, 100, 0, 8, 0), EINVAL,
		  "engine_length_too_small_einval");
	tap_errno(kshm_engine_start(fd, 0, r.id, 100, page - 8, 64, 0), EINVAL,
		  "engine_range_past_region_einval");
	tap_zero(kshm_engine_start(fd, 0, r.id, 1000, 0, 64, 0), "engine_start");
	tap_errno(kshm_engine_start(fd, 0, r.id, 1000, 0, 64, 0), EBUSY,
		  "engine_second_start_ebusy");
	tap_zero(kshm_engine_stop(fd, NULL), "engine_stop");
	tap_errno(kshm_engine_stop(fd, NULL), ENOENT, "engine_stop_twice_enoent");
	kshm_region_destroy(fd, r.id);
}

/* A region with an engine writing it, left for SIGKILL to clean up. */
static int engine_running(void)
{
	struct kshm_region_desc r;
	uint64_t *w;
	int fd = kshm_open(NULL);

	if (fd < 0 || kshm_region_create(fd, page, 0, &r) ||
	    kshm_region_map(fd, &r, PROT_READ, (void **)&w) ||
	    kshm_engine_start(fd, 0, r.id, 100, 0, 256, 0))
		return -1;
	return wait_tick(w, 3) >= 3 ? 0 : -1;
}

/*
 * Close while the engine writes and the region is still mapped: the last
 * close stops the engine (docs/regions.md, docs/buffers.md: close releases
 * what the file holds, the engine first), so the pages are not written any
 * more, though the mapping keeps them; munmap then frees them.
 */
static void engine_close_while_writing(int ctl)
{
	struct kshm_info before, after;
	struct kshm_region_desc r;
	uint64_t *w, snap[CLOSE_WORDS];
	int fd, stopped;

	kshm_get_info(ctl, &before);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, (void **)&w), "map");
	tap_require(!kshm_engine_start(fd, 0, r.id, 100, 0, sizeof(snap), 0), "engine");
	tap_require(wait_tick(w, 3) >= 3, "engine ticking");
	kshm_close(fd);
	memcpy(snap, w, sizeof(snap));
	stopped = wait_periods(20, 100) && unchanged(w, snap, CLOSE_WORDS);
	if (!stopped)
		tap_diag("  tick %llu at close, %llu twenty periods later",
			 (unsigned long long)snap[0], (unsigned long long)w[0]);
	tap_ok(stopped, "engine_close_while_mapped_stops_the_engine");
	munmap(w, r.length);
	kshm_get_info(ctl, &after);
	tap_ok(after.regions_alive == before.regions_alive &&
		       after.pages_alive == before.pages_alive,
	       "engine_close_then_munmap_releases_region");
}

static void engine_sigkill_while_writing(int ctl)
{
	struct kshm_info before, after;
	pid_t pid;

	kshm_get_info(ctl, &before);
	pid = spawn_ready(engine_running);
	tap_ok(pid > 0, "engine_child_engine_running");
	tap_ok(pid > 0 && kill_and_reap(pid), "engine_child_killed");
	kshm_get_info(ctl, &after);
	tap_ok(after.regions_alive == before.regions_alive &&
		       after.pages_alive == before.pages_alive,
	       "engine_sigkill_while_writing_releases_everything");
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	engine_writes_while_app_reads(fd, KSHM_CACHE_WB, "wb");
	engine_writes_while_app_reads(fd, KSHM_CACHE_WC, "wc");
	engine_writes_while_app_reads(fd, KSHM_CACHE_UC, "uc");
	engine_max_ticks_and_destroyed_region(fd);
	engine_bad_inputs(fd);
	engine_close_while_writing(fd);
	engine_sigkill_while_writing(fd);
	kshm_close(fd);
	return tap_done();
}
