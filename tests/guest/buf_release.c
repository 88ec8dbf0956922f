// SPDX-License-Identifier: MIT
/*
 * The observable end of a registration (the "pending IRP"): release events
 * through read(), poll() and an eventfd; a buffer the kernel is writing is
 * released only once it stopped; close and death release everything; the
 * RLIMIT_MEMLOCK charge; pins balance over 10,000 cycles.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

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
	eventfd_signalled(fd);
	release_waits_for_the_engine(fd);
	close_releases_everything();
	sigkill_releases_everything();
	memlock_limit();
	cycles_balance_pins();
	kshm_close(fd);
	kshm_close(ctl);
	return tap_done();
}
