// SPDX-License-Identifier: MIT
/*
 * Adversarial races: threads of one process hammer one open file with every
 * command at once, on ids that come and go under them; then processes doing
 * the same are killed at random moments.  The module must stay consistent:
 * every call returns 0 or an expected errno, the kernel log stays clean
 * (the harness checks it), and the counters return to their start.
 *
 * Bounded: a fixed number of iterations.  The seed is printed; pass it as
 * the first argument to replay a run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "kshm.h"
#include "tap.h"

#define ITERATIONS 2000
#define IDS	   16 /* ids are drawn from 1..IDS so they collide */
#define AREA_PAGES 32 /* user memory the buffer threads register */

static long page;
static int fd;
static uint8_t *area;
static unsigned int seed;
/* Calls that failed with an errno nobody expects, the chaos children's too. */
static int *unexpected;
static int succeeded; /* calls that returned 0 */
static int calls;

static int pick(unsigned int *r, int n)
{
	return rand_r(r) % n;
}

/* A set of errnos, for expect(); every errno of this race is below 64. */
#define ERR(e) (1ull << (e))

/*
 * Count a call that returned @ret: 0, or an errno in @allowed (the set that
 * call may legitimately get in this race, said at each call); anything else
 * is unexpected, and the first ten are printed.
 */
static void expect(int ret, uint64_t allowed, const char *what)
{
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	if (!ret) {
		__atomic_add_fetch(&succeeded, 1, __ATOMIC_RELAXED);
		return;
	}
	if (ret < 0 && -ret < 64 && (allowed & ERR(-ret)))
		return;
	if (__atomic_add_fetch(unexpected, 1, __ATOMIC_RELAXED) <= 10)
		tap_diag("unexpected %d (%s) from %s", ret, strerror(-ret), what);
}

static void *regions_thread(void *arg)
{
	unsigned int r = seed + (uintptr_t)arg;
	struct kshm_region_desc d;
	int i;

	for (i = 0; i < ITERATIONS; i++) {
		/*
		 * A valid create far below every limit (the file's 1 GiB, the
		 * module's 2 GiB, the ids) always succeeds; destroy may find
		 * the id never created or already destroyed.
		 */
		if (pick(&r, 2))
			expect(kshm_region_create_ex(fd, (pick(&r, 4) + 1) * page, 0, pick(&r, 3),
						     KSHM_NODE_ANY, &d),
			       0, "create");
		else
			expect(kshm_region_destroy(fd, pick(&r, IDS) + 1), ERR(ENOENT), "destroy");
	}
	return NULL;
}

static void *mapping_thread(void *arg)
{
	unsigned int r = seed + (uintptr_t)arg;
	volatile uint8_t *p;
	uint64_t off;
	int i;

	for (i = 0; i < ITERATIONS; i++) {
		off = (uint64_t)(pick(&r, IDS) + 1) << KSHM_MMAP_WINDOW_SHIFT;
		p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
		/* A page of a region that exists maps; of an id with none, ENXIO. */
		if (p == MAP_FAILED) {
			expect(-errno, ERR(ENXIO), "mmap");
			continue;
		}
		p[pick(&r, page)] = (uint8_t)i; /* the region may be destroyed by now */
		munmap((void *)p, page);
	}
	return NULL;
}

static void *buffers_thread(void *arg)
{
	unsigned int r = seed + (uintptr_t)arg;
	uint32_t id;
	int i, first, n;

	for (i = 0; i < ITERATIONS; i++) {
		first = pick(&r, AREA_PAGES);
		n = pick(&r, AREA_PAGES - first) + 1;
		/*
		 * The range is mapped and writable, and root is exempt from
		 * RLIMIT_MEMLOCK: register fails only on overlapping a live
		 * registration.  Unregister may find no such id.
		 */
		if (pick(&r, 2))
			expect(kshm_buf_register(fd, area + first * page + pick(&r, 64),
						 n * page - 64,
						 KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &id),
			       ERR(EEXIST), "register");
		else
			expect(kshm_buf_unregister(fd, pick(&r, IDS) + 1), ERR(ENOENT),
			       "unregister");
	}
	return NULL;
}

static void *kernel_access_thread(void *arg)
{
	unsigned int r = seed + (uintptr_t)arg;
	struct kshm_copy_end a, b;
	uint32_t flags;
	uint64_t sum;
	int i, id;

	for (i = 0; i < ITERATIONS; i++) {
		flags = pick(&r, 2) ? KSHM_TARGET_BUF : 0;
		id = pick(&r, IDS) + 1;
		/*
		 * Every region is at least a page and every buffer at least a
		 * page less 64 bytes, both readable and writable by the kernel,
		 * so the ranges below always fit: what may be missing is the
		 * id.  The engine also finds one already running on the file,
		 * and on a buffer that does not start on 8 bytes (its start is
		 * drawn from 64 offsets) its words are misaligned: EINVAL.
		 */
		switch (pick(&r, 4)) {
		case 0:
			expect(kshm_checksum(fd, flags, id, 0, 64, &sum), ERR(ENOENT), "checksum");
			break;
		case 1:
			a = (struct kshm_copy_end){ KSHM_MEM_REGION, id, 0 };
			b = (struct kshm_copy_end){ KSHM_MEM_BUF, pick(&r, IDS) + 1, 0 };
			expect(kshm_copy(fd, &a, &b, 128), ERR(ENOENT), "copy");
			break;
		case 2:
			expect(kshm_engine_start(fd, flags, id, 50, 0, 64, 0),
			       ERR(ENOENT) | ERR(EBUSY) | (flags ? ERR(EINVAL) : 0),
			       flags ? "engine start on a buffer" : "engine start on a region");
			break;
		default:
			expect(kshm_engine_stop(fd, NULL), ERR(ENOENT), "engine stop");
			break;
		}
	}
	return NULL;
}

static void *(*const threads[])(void *) = {
	regions_thread,
	mapping_thread,
	buffers_thread,
	kernel_access_thread,
};

#define NTHREADS (sizeof(threads) / sizeof(threads[0]))

/* Run every thread once on a fresh file; 0 when all joined. */
static int chaos(void)
{
	pthread_t t[NTHREADS];
	unsigned int i;

	fd = kshm_open(NULL);
	if (fd < 0)
		return -1;
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, threads[i], (void *)(uintptr_t)i))
			return -1;
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	kshm_close(fd);
	return 0;
}

static int counters_back(int ctl, const struct kshm_info *start)
{
	struct kshm_info now;

	return !kshm_get_info(ctl, &now) && now.regions_alive == start->regions_alive &&
	       now.pages_alive == start->pages_alive && now.bufs_alive == start->bufs_alive &&
	       now.buf_pages_pinned == start->buf_pages_pinned;
}

/*
 * How a chaos child ended: by our SIGKILL, or by exiting 0 (it finished
 * before the kill); anything else is printed, and false.
 */
static int child_ended_well(int i, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 1;
	if (WIFSIGNALED(status))
		tap_diag("child %d killed by signal %d (%s), not our SIGKILL", i, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		tap_diag("child %d: wait status 0x%x (exit status %d)", i, status,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* Processes in the middle of the chaos, killed after a random delay. */
static void killed_mid_chaos(int ctl, const struct kshm_info *start)
{
	unsigned int r = seed;
	struct timespec delay;
	int i, status, killed = 0, bad = 0;
	pid_t pid;

	*unexpected = 0;
	for (i = 0; i < 10; i++) {
		pid = fork();
		tap_require(pid >= 0, "fork");
		if (!pid)
			_exit(chaos() ? 1 : 0);
		delay = (struct timespec){ 0, (pick(&r, 200) + 1) * 1000000L };
		nanosleep(&delay, NULL); /* a random moment, not a synchronization */
		kill(pid, SIGKILL);
		tap_require(waitpid(pid, &status, 0) == pid, "waitpid");
		killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		bad += !child_ended_well(i, status);
	}
	tap_diag("%d of 10 children ended by our SIGKILL mid-chaos", killed);
	tap_ok(!bad, "race_children_end_by_our_sigkill_or_exit_0");
	tap_ok(!*unexpected, "race_children_every_error_expected");
	tap_ok(counters_back(ctl, start), "race_sigkill_mid_chaos_releases_everything");
}

int main(int argc, char **argv)
{
	struct kshm_info start;
	int ctl;

	page = sysconf(_SC_PAGESIZE);
	seed = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u", seed);
	area = mmap(NULL, AREA_PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	unexpected = mmap(NULL, sizeof(*unexpected), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ctl = kshm_open(NULL);
	tap_require(area != MAP_FAILED && unexpected != MAP_FAILED && ctl >= 0, "set up");
	tap_require(!kshm_get_info(ctl, &start), "info");
	tap_zero(chaos(), "race_threads_ran");
	tap_diag("%d of %d calls succeeded", succeeded, calls);
	tap_ok(succeeded > calls / 10, "race_enough_calls_succeed_to_race");
	tap_ok(!*unexpected, "race_every_error_expected");
	tap_ok(counters_back(ctl, &start), "race_close_releases_everything");
	killed_mid_chaos(ctl, &start);
	kshm_close(ctl);
	return tap_done();
}
