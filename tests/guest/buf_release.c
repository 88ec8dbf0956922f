// SPDX-License-Identifier: MIT
/*
 * The observable end of a registration (the "pending IRP"): release events
 * through read() (blocking too), poll(), epoll and an eventfd, also after
 * close and death; a buffer the kernel is writing is released only once it
 * stopped; close and death release everything; the RLIMIT_MEMLOCK charge;
 * pins balance over 10,000 cycles.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "kshm.h"
#include "tap.h"

#define RW (KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE)

static long page;
static int ctl; /* reads the module's counters */

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void events_read_and_poll(int fd)
{
	struct kshm_event ev[4];
	char small[4];
	uint32_t id;
	void *p = calloc(1, page);
	int nb;

	tap_require(p && !kshm_buf_register(fd, p, page, RW, &id), "register");
	tap_ok(!readable(fd), "buf_no_event_while_registered");
	nb = open("/dev/kshm", O_RDWR | O_NONBLOCK);
	tap_errno(read(nb, ev, sizeof(ev)) < 0 ? -errno : 0, EAGAIN,
		  "buf_read_without_events_nonblock_eagain");
	close(nb);
	tap_zero(kshm_buf_unregister(fd, id), "buf_unregister");
	/* Released at once (no kernel user): the event is already there. */
	tap_ok(readable(fd), "buf_poll_reports_release");
	tap_errno(read(fd, small, sizeof(small)) < 0 ? -errno : 0, EINVAL,
		  "buf_read_smaller_than_event_einval");
	tap_ok(kshm_read_events(fd, ev, 4) == 1 && ev[0].type == KSHM_EVENT_BUF_RELEASED &&
		       ev[0].id == id,
	       "buf_read_returns_release_event");
	tap_ok(!readable(fd), "buf_event_consumed");
	free(p);
}

/* An unread ring of 256 events overflows into one KSHM_EVENT_OVERFLOW. */
static void events_overflow(void)
{
	struct kshm_event ev[300];
	int i, n, released = 0, overflow = 0, fd = kshm_open(NULL);
	void *p = calloc(1, page);
	uint32_t id;

	tap_require(p && fd >= 0, "open");
	for (i = 0; i < 300; i++)
		tap_require(!kshm_buf_register(fd, p, page, RW, &id) &&
				    !kshm_buf_unregister(fd, id),
			    "register and unregister");
	/* The ring drains first; the overflow comes after its last event. */
	n = kshm_read_events(fd, ev, 300);
	for (i = 0; i < n; i++) {
		released += ev[i].type == KSHM_EVENT_BUF_RELEASED;
		overflow += ev[i].type == KSHM_EVENT_OVERFLOW;
	}
	tap_ok(n == 257 && released == 256, "buf_events_ring_holds_256");
	tap_ok(overflow == 1 && ev[256].type == KSHM_EVENT_OVERFLOW,
	       "buf_events_overflow_reported_once_after_them");
	tap_ok(!readable(fd), "buf_events_empty_after_overflow");
	kshm_close(fd);
	free(p);
}

/*
 * The overflow takes the place of the first lost event: events queued after
 * the loss (once the reader made room) come after it, so the reader learns
 * of the loss before it reads anything newer (defects issue, item 12).
 */
static void events_overflow_in_place(void)
{
	struct kshm_event ev[300];
	int i, n, fd = kshm_open(NULL), before = -1, after = 0;
	void *p = calloc(1, page);
	uint32_t id, late[5];

	tap_require(p && fd >= 0, "open");
	for (i = 0; i < 260; i++)
		tap_require(!kshm_buf_register(fd, p, page, RW, &id) &&
				    !kshm_buf_unregister(fd, id),
			    "register and unregister");
	tap_require(kshm_read_events(fd, ev, 10) == 10, "read 10");
	for (i = 0; i < 5; i++)
		tap_require(!kshm_buf_register(fd, p, page, RW, &late[i]) &&
				    !kshm_buf_unregister(fd, late[i]),
			    "register and unregister after the loss");
	n = kshm_read_events(fd, ev, 300);
	for (i = 0; i < n; i++) {
		if (ev[i].type == KSHM_EVENT_OVERFLOW)
			before = i;
		else if (before >= 0 && ev[i].id == late[after % 5])
			after++;
	}
	tap_ok(n == 252 && before == 246 && after == 5,
	       "buf_events_overflow_comes_before_later_events");
	if (n != 252 || before != 246 || after != 5)
		tap_diag("  %d events, overflow at %d, %d later releases after it", n, before,
			 after);
	kshm_close(fd);
	free(p);
}

static void eventfd_signalled(int fd)
{
	struct kshm_set_eventfd s = { .size = sizeof(s) };
	uint64_t count = 0;
	uint32_t id;
	void *p = calloc(1, page);
	int efd = eventfd(0, 0);

	tap_require(p && efd >= 0, "eventfd");
	tap_zero(kshm_set_eventfd(fd, efd), "buf_set_eventfd");
	tap_require(!kshm_buf_register(fd, p, page, RW, &id), "register");
	kshm_buf_unregister(fd, id);
	/* A blocking read: the release has signalled it, or it never returns. */
	tap_ok(read(efd, &count, 8) == 8 && count == 1, "buf_eventfd_signalled_on_release");
	tap_ok(!kshm_wait_buf_released(fd, id, 30000), "buf_event_also_queued");
	tap_zero(kshm_set_eventfd(fd, -1), "buf_clear_eventfd");
	s.fd = 0; /* stdin is not an eventfd */
	tap_errno(raw_ioctl(fd, KSHM_IOC_SET_EVENTFD, &s), EINVAL,
		  "buf_set_eventfd_not_an_eventfd_einval");
	s.fd = 999;
	tap_errno(raw_ioctl(fd, KSHM_IOC_SET_EVENTFD, &s), EBADF, "buf_set_eventfd_bad_fd_ebadf");
	s.fd = -2;
	tap_errno(raw_ioctl(fd, KSHM_IOC_SET_EVENTFD, &s), EINVAL,
		  "buf_set_eventfd_negative_einval");
	close(efd);
	free(p);
}

/*
 * Add up what @efd (non-blocking) counts until the sum reaches @want, or
 * 30 s of silence; then one more read, which must find nothing.  Returns
 * the sum, or -1 if more came after it.
 */
static long long eventfd_sum(int efd, uint64_t want)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t sum = 0, n;

	while (sum < want && poll(&p, 1, 30000) == 1)
		if (read(efd, &n, 8) == 8)
			sum += n;
	return read(efd, &n, 8) == 8 ? -1 : (long long)sum;
}

/* Two registrations in @p (4 pages) on a fresh file that signals @efd; its fd. */
static int two_registrations(int efd, char *p)
{
	uint32_t a, b;
	int fd = kshm_open(NULL);

	if (!p || fd < 0 || kshm_set_eventfd(fd, efd) || kshm_buf_register(fd, p, page, RW, &a) ||
	    kshm_buf_register(fd, (char *)p + 2 * page, page, RW, &b))
		return -1;
	return fd;
}

/* close() of the file releases its buffers; each release signals the eventfd. */
static void eventfd_signalled_after_close(void)
{
	int efd = eventfd(0, EFD_NONBLOCK), fd;
	char *p = calloc(4, page);

	tap_require(efd >= 0, "eventfd");
	fd = two_registrations(efd, p);
	tap_require(fd >= 0, "register");
	tap_ok(!readable(efd), "buf_eventfd_quiet_while_registered");
	kshm_close(fd);
	tap_ok(eventfd_sum(efd, 2) == 2, "buf_eventfd_counts_releases_after_close");
	close(efd);
	free(p);
}

static int sigkill_efd; /* the eventfd the child below signals */

static int registered_with_eventfd(void)
{
	uint64_t *w;
	uint32_t id;
	int fd = two_registrations(sigkill_efd, calloc(4, page));

	/* A third one the engine writes, so death stops an engine too. */
	w = aligned_alloc(page, page);
	if (fd < 0 || !w || kshm_buf_register(fd, w, page, RW, &id) ||
	    kshm_engine_start(fd, KSHM_TARGET_BUF, id, 100, 0, 64, 0))
		return -1;
	while (__atomic_load_n(&w[0], __ATOMIC_ACQUIRE) < 3)
		sched_yield();
	return 0;
}

/*
 * A process killed while holding registrations: its file goes with it, and
 * another process holding the same eventfd sees every release counted.
 */
static void eventfd_signalled_after_sigkill(void)
{
	pid_t pid;

	sigkill_efd = eventfd(0, EFD_NONBLOCK);
	tap_require(sigkill_efd >= 0, "eventfd");
	pid = spawn_ready(registered_with_eventfd);
	tap_ok(pid > 0 && !readable(sigkill_efd), "buf_child_registered_with_eventfd");
	tap_ok(pid > 0 && kill_and_reap(pid) && eventfd_sum(sigkill_efd, 3) == 3,
	       "buf_eventfd_counts_releases_after_sigkill");
	close(sigkill_efd);
}

static uint64_t tick_of(const uint64_t *w)
{
	return __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
}

/*
 * Unregister while the engine writes the buffer: the release comes only
 * after the engine stopped, and nothing is written after it.
 */
static void release_waits_for_the_engine(int fd)
{
	uint64_t *w = aligned_alloc(page, page), t, ticks;
	uint32_t id;

	tap_require(w != NULL, "alloc");
	memset(w, 0, page);
	tap_require(!kshm_buf_register(fd, w, page, RW, &id), "register");
	tap_zero(kshm_engine_start(fd, KSHM_TARGET_BUF, id, 100, 0, 512, 0),
		 "buf_engine_writes_buffer");
	while ((t = tick_of(w)) < 5)
		sched_yield();
	tap_ok((w[3] & 0xffffffff) == 3 && w[3] >> 32 >= 5, "buf_engine_words_seen_by_app");
	tap_zero(kshm_buf_unregister(fd, id), "buf_unregister_while_engine_writes");
	tap_ok(!kshm_wait_buf_released(fd, id, 30000), "buf_release_reported_after_engine");
	t = tick_of(w);
	/* 500 periods: an engine still running after the release would tick. */
	usleep(50 * 1000);
	tap_ok(tick_of(w) == t, "buf_no_write_after_release");
	tap_ok(!kshm_engine_stop(fd, &ticks) && ticks == t, "buf_engine_stopped_before_release");
	free(w);
}

/*
 * An engine that finished its max_ticks no longer holds the buffer: an
 * unregister releases it at once, not at ENGINE_STOP or close (defects
 * issue, item 14).
 */
static void finished_engine_lets_buffer_go(int fd)
{
	uint64_t *w = aligned_alloc(page, page), ticks;
	uint32_t id;

	tap_require(w != NULL, "alloc");
	memset(w, 0, page);
	tap_require(!kshm_buf_register(fd, w, page, RW, &id), "register");
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_BUF, id, 100, 0, 64, 5), "engine");
	while (tick_of(w) < 5)
		sched_yield();
	tap_zero(kshm_buf_unregister(fd, id), "buf_unregister_after_engine_finished");
	tap_ok(!kshm_wait_buf_released(fd, id, 10000), "buf_finished_engine_releases_at_once");
	tap_ok(!kshm_engine_stop(fd, &ticks) && ticks == 5, "buf_finished_engine_stops_with_5");
	free(w);
}

struct pinned {
	long long bufs, pages, vmpin;
};

static struct pinned pinned_now(void)
{
	struct kshm_info info;
	struct pinned p = { -1, -1, -1 };

	if (!kshm_get_info(ctl, &info)) {
		p.bufs = info.bufs_alive;
		p.pages = info.buf_pages_pinned;
	}
	p.vmpin = proc_value("/proc/self/status", "VmPin");
	return p;
}

static int same_pins(struct pinned a, struct pinned b)
{
	return a.bufs == b.bufs && a.pages == b.pages;
}

static void close_releases_everything(void)
{
	struct pinned start = pinned_now();
	void *p = aligned_alloc(page, 8 * page);
	uint32_t id;
	int i, fd = kshm_open(NULL);

	tap_require(p && fd >= 0, "open");
	for (i = 0; i < 4; i++)
		tap_require(!kshm_buf_register(fd, (char *)p + 2 * i * page, page, RW, &id),
			    "register");
	tap_ok(pinned_now().pages == start.pages + 4 &&
		       pinned_now().vmpin == start.vmpin + 4 * page / 1024,
	       "buf_pins_counted_and_vmpin_charged");
	kshm_close(fd);
	tap_ok(same_pins(pinned_now(), start) && pinned_now().vmpin == start.vmpin,
	       "buf_close_releases_everything");
	free(p);
}

/* A registered buffer with the engine writing it, left for SIGKILL. */
static int registered_and_writing(void)
{
	uint64_t *w = aligned_alloc(page, 4 * page);
	uint32_t id;
	int fd = kshm_open(NULL);

	if (!w || fd < 0 || kshm_buf_register(fd, w, 4 * page, RW, &id) ||
	    kshm_buf_register(fd, (char *)w + 2 * page, page, RW, &id) != -EEXIST ||
	    kshm_engine_start(fd, KSHM_TARGET_BUF, id, 100, 0, 256, 0))
		return -1;
	while (tick_of(w) < 3)
		sched_yield();
	return 0;
}

static int registered_only(void)
{
	uint32_t id;
	void *p = calloc(4, page);
	int fd = kshm_open(NULL);

	return !p || fd < 0 || kshm_buf_register(fd, p, 4 * page, RW, &id);
}

/*
 * epoll on the device: not ready while nothing is queued, even after an
 * unregister whose release waits for the engine (period 1 s); ready once
 * the release is queued; the event read is that release.  "Before" is
 * decided by the module's counter: the release drops it before queueing.
 */
static void epoll_ready_on_release(void)
{
	struct epoll_event ee = { .events = EPOLLIN }, got;
	struct kshm_event ev[4];
	uint64_t *w = aligned_alloc(page, page);
	int n, before = -1, tries, fd = kshm_open(NULL), ep = epoll_create1(0);
	uint32_t id;

	tap_require(w && fd >= 0 && ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee), "epoll");
	tap_ok(epoll_wait(ep, &got, 1, 0) == 0, "buf_epoll_not_ready_without_events");
	for (tries = 0; tries < 5 && before < 0; tries++) {
		long long alive = pinned_now().bufs;

		tap_require(
			!kshm_buf_register(fd, w, page, RW, &id) &&
				!kshm_engine_start(fd, KSHM_TARGET_BUF, id, 1000000, 0, 16, 0) &&
				!kshm_buf_unregister(fd, id),
			"register, engine, unregister");
		n = epoll_wait(ep, &got, 1, 0);
		if (pinned_now().bufs == alive + 1)
			before = n;
		else /* released already: cannot tell; again */
			kshm_wait_buf_released(fd, id, 30000);
		if (before < 0)
			kshm_engine_stop(fd, NULL);
	}
	if (before < 0)
		tap_ok(1, "buf_epoll_not_ready_before_release # SKIP released too soon 5 times");
	else
		tap_ok(before == 0, "buf_epoll_not_ready_before_release");
	n = epoll_wait(ep, &got, 1, 30000);
	tap_ok(n == 1 && (got.events & EPOLLIN), "buf_epoll_ready_once_release_queued");
	tap_ok(kshm_read_events(fd, ev, 4) == 1 && ev[0].type == KSHM_EVENT_BUF_RELEASED &&
		       ev[0].id == id,
	       "buf_epoll_event_is_the_release");
	tap_ok(epoll_wait(ep, &got, 1, 0) == 0, "buf_epoll_not_ready_once_read");
	kshm_engine_stop(fd, NULL);
	close(ep);
	kshm_close(fd);
	free(w);
}

/* A thread in a blocking read() of the device. */
struct reader {
	pthread_t thread;
	int fd;
	pid_t tid;
	int done;
	ssize_t ret;
	int err;
	struct kshm_event ev[4];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	__atomic_store_n(&r->tid, (pid_t)gettid(), __ATOMIC_RELEASE);
	r->ret = read(r->fd, r->ev, sizeof(r->ev));
	r->err = errno;
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Is thread @tid inside read() right now (/proc's view of its syscall)? */
static int in_read(pid_t tid)
{
	char path[64], line[128];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = fopen(path, "r");
	if (f && fgets(line, sizeof(line), f))
		sscanf(line, "%ld", &nr);
	if (f)
		fclose(f);
	return nr == SYS_read;
}

/* Wait (10 s at most) until @r sleeps in read(); true if it does. */
static int reader_sleeps(struct reader *r)
{
	int i;

	for (i = 0; i < 10000; i++) {
		pid_t tid = __atomic_load_n(&r->tid, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
			return 0;
		if (tid && in_read(tid))
			return 1;
		usleep(1000);
	}
	return 0;
}

static void reader_start(struct reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	tap_require(!pthread_create(&r->thread, NULL, reader_main, r), "thread");
}

/* Wait (10 s at most) for the reader to return; true if it did. */
static int reader_returns(struct reader *r)
{
	int i;

	for (i = 0; i < 10000 && !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

/*
 * Let the reader return and join it.  One still asleep is woken with the
 * event of a throwaway registration, then cancelled; one that sleeps
 * through that too ends the test (exit kills it): the test always ends.
 */
static void reader_finish(struct reader *r, int fd)
{
	void *p = calloc(1, page);
	struct timespec deadline;
	uint32_t id;

	if (!reader_returns(r) && p && !kshm_buf_register(fd, p, page, RW, &id))
		kshm_buf_unregister(fd, id);
	if (!reader_returns(r))
		pthread_cancel(r->thread);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	tap_require(!pthread_timedjoin_np(r->thread, NULL, &deadline),
		    "a reader sleeps in read() through an event and a cancellation");
	free(p);
}

static int is_the_release(const struct reader *r, uint32_t id)
{
	return r->ret == sizeof(r->ev[0]) && r->ev[0].type == KSHM_EVENT_BUF_RELEASED &&
	       r->ev[0].id == id;
}

/*
 * read() on a blocking fd sleeps while nothing is queued; another process
 * unregistering (on the same open file) wakes it, and it returns exactly
 * that one release though it asked for four events.
 */
static void blocking_read_waits_for_release(void)
{
	struct reader r;
	void *p = calloc(1, page);
	int status = -1, fd = kshm_open(NULL);
	uint32_t id;
	pid_t pid;

	tap_require(p && fd >= 0 && !kshm_buf_register(fd, p, page, RW, &id), "register");
	reader_start(&r, fd);
	tap_ok(reader_sleeps(&r), "buf_blocking_read_sleeps_without_events");
	usleep(20 * 1000);
	tap_ok(!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE), "buf_blocking_read_still_asleep");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid)
		_exit(kshm_buf_unregister(fd, id) ? 1 : 0);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && !WEXITSTATUS(status), "buf_unregister_from_other_process");
	reader_finish(&r, fd);
	tap_ok(is_the_release(&r, id), "buf_blocking_read_returns_exactly_the_release");
	kshm_close(fd);
	free(p);
}

static int signals_seen;

static void count_signal(int sig)
{
	(void)sig;
	__atomic_add_fetch(&signals_seen, 1, __ATOMIC_RELAXED);
}

static void on_sigusr1(int flags)
{
	struct sigaction sa = { .sa_handler = count_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/*
 * A signal interrupts a blocking read: EINTR with a handler without
 * SA_RESTART; with SA_RESTART the read goes back to sleep, and then
 * returns the release that comes later.
 */
static void blocking_read_and_signals(void)
{
	struct reader r;
	void *p = calloc(1, page);
	int i, fd = kshm_open(NULL);
	uint32_t id;

	tap_require(p && fd >= 0, "open");
	on_sigusr1(0);
	reader_start(&r, fd);
	reader_sleeps(&r); /* if it never sleeps, the checks below fail */
	pthread_kill(r.thread, SIGUSR1);
	reader_finish(&r, fd);
	tap_ok(r.ret == -1 && r.err == EINTR, "buf_blocking_read_signal_eintr");
	if (r.ret != -1 || r.err != EINTR)
		tap_diag("  read returned %zd (%s)", r.ret, strerror(r.err));

	on_sigusr1(SA_RESTART);
	signals_seen = 0;
	tap_require(!kshm_buf_register(fd, p, page, RW, &id), "register");
	reader_start(&r, fd);
	reader_sleeps(&r); /* if it never sleeps, the checks below fail */
	pthread_kill(r.thread, SIGUSR1);
	for (i = 0; i < 10000 && !__atomic_load_n(&signals_seen, __ATOMIC_RELAXED); i++)
		usleep(1000);
	tap_ok(__atomic_load_n(&signals_seen, __ATOMIC_RELAXED) == 1 && reader_sleeps(&r),
	       "buf_blocking_read_sa_restart_sleeps_again");
	kshm_buf_unregister(fd, id);
	reader_finish(&r, fd);
	tap_ok(is_the_release(&r, id), "buf_blocking_read_sa_restart_returns_the_release");
	signal(SIGUSR1, SIG_DFL);
	kshm_close(fd);
	free(p);
}

static void sigkill_releases_everything(void)
{
	struct pinned start = pinned_now();
	pid_t pid;

	pid = spawn_ready(registered_only);
	tap_ok(pid > 0 && pinned_now().bufs == start.bufs + 1, "buf_child_registered");
	tap_ok(pid > 0 && kill_and_reap(pid) && same_pins(pinned_now(), start),
	       "buf_sigkill_while_registered_releases");
	pid = spawn_ready(registered_and_writing);
	tap_ok(pid > 0, "buf_child_engine_writing");
	tap_ok(pid > 0 && kill_and_reap(pid) && same_pins(pinned_now(), start),
	       "buf_sigkill_while_engine_writes_releases");
}

/* Without CAP_IPC_LOCK, pins count against RLIMIT_MEMLOCK. */
static int memlock_child(int fd)
{
	struct rlimit rl = { 16 * 4096, 16 * 4096 };
	char *p = aligned_alloc(4096, 64 * 4096);
	uint32_t a, b;

	if (!p || setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
		return 10;
	if (kshm_buf_register(fd, p, 32 * 4096, RW, &a) != -ENOMEM)
		return 11; /* one registration over the limit */
	if (kshm_buf_register(fd, p, 10 * 4096, RW, &a))
		return 12; /* within it */
	if (kshm_buf_register(fd, p + 32 * 4096, 10 * 4096, RW, &b) != -ENOMEM)
		return 13; /* together over it */
	if (kshm_buf_unregister(fd, a) || kshm_buf_register(fd, p + 32 * 4096, 10 * 4096, RW, &b))
		return 14; /* the charge went with the release */
	return 0;
}

static void memlock_limit(void)
{
	struct rlimit tiny = { 4096, 4096 }, old;
	int status, fd = kshm_open(NULL);
	char *p = aligned_alloc(page, 8 * page);
	uint32_t id;
	pid_t pid;

	tap_require(fd >= 0 && p, "open");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid)
		_exit(memlock_child(fd));
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "buf_memlock_limit_enforced_without_cap_ipc_lock");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		tap_diag("  child step %d failed", WEXITSTATUS(status));
	getrlimit(RLIMIT_MEMLOCK, &old);
	setrlimit(RLIMIT_MEMLOCK, &tiny);
	tap_zero(kshm_buf_register(fd, p, 8 * page, RW, &id),
		 "buf_cap_ipc_lock_exempt_from_memlock");
	setrlimit(RLIMIT_MEMLOCK, &old);
	kshm_close(fd);
	free(p);
}

static void cycles_balance_pins(void)
{
	long long acq0 = proc_vmstat("nr_foll_pin_acquired");
	long long rel0 = proc_vmstat("nr_foll_pin_released");
	struct pinned start = pinned_now();
	char *p = aligned_alloc(page, 3 * page);
	struct kshm_event ev[64];
	long long acq, rel;
	int i, bad = 0, fd = kshm_open(NULL);
	uint32_t id;

	tap_require(p && fd >= 0, "open");
	memset(p, 1, 3 * page);
	for (i = 0; i < 10000 && !bad; i++) {
		bad |= kshm_buf_register(fd, p + 7, 2 * page, RW, &id) ||
		       kshm_buf_unregister(fd, id);
		while (readable(fd) && kshm_read_events(fd, ev, 64) > 0)
			;
	}
	kshm_close(fd);
	acq = proc_vmstat("nr_foll_pin_acquired") - acq0;
	rel = proc_vmstat("nr_foll_pin_released") - rel0;
	tap_ok(!bad, "buf_10000_cycles_succeed");
	tap_ok(acq >= 30000 && acq == rel, "buf_10000_cycles_pins_balance");
	tap_diag("pins acquired %lld, released %lld", acq, rel);
	tap_ok(same_pins(pinned_now(), start) && pinned_now().vmpin == start.vmpin,
	       "buf_10000_cycles_locked_memory_back");
	free(p);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	ctl = kshm_open(NULL);
	fd = kshm_open(NULL);
	tap_require(ctl >= 0 && fd >= 0, "open /dev/kshm");
	events_read_and_poll(fd);
	events_overflow();
	events_overflow_in_place();
	eventfd_signalled(fd);
	eventfd_signalled_after_close();
	eventfd_signalled_after_sigkill();
	epoll_ready_on_release();
	blocking_read_waits_for_release();
	blocking_read_and_signals();
	release_waits_for_the_engine(fd);
	finished_engine_lets_buffer_go(fd);
	close_releases_everything();
	sigkill_releases_everything();
	memlock_limit();
	cycles_balance_pins();
	kshm_close(fd);
	kshm_close(ctl);
	return tap_done();
}
