// SPDX-License-Identifier: MIT
/*
 * Region lifetime: destroy, munmap, close and process death in several
 * orders.  The module's counters (kshm_info) must come back to where they
 * started once the last holder is gone, and a mapping must stay usable as
 * long as it exists.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"

static long page;
static int ctl; /* an fd kept open only to read the counters */

struct counters {
	uint64_t regions, pages;
};

static struct counters counters(void)
{
	struct kshm_info info;
	struct counters c = { ~0ull, ~0ull };

	if (!kshm_get_info(ctl, &info)) {
		c.regions = info.regions_alive;
		c.pages = info.pages_alive;
	}
	return c;
}

static int counters_equal(struct counters a, struct counters b)
{
	return a.regions == b.regions && a.pages == b.pages;
}

static void destroy_while_mapped_keeps_pages(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	uint8_t *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, 2 * page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 1, page, 1, 0x77, 0);
	tap_zero(kshm_region_destroy(fd, r.id), "lifetime_destroy_while_mapped");
	tap_ok(p[page] == 0x77, "lifetime_mapping_readable_after_destroy");
	p[0] = 1;
	tap_ok(p[0] == 1, "lifetime_mapping_writable_after_destroy");
	tap_ok(counters().regions == start.regions + 1,
	       "lifetime_destroyed_region_alive_while_mapped");
	kshm_region_unmap(&r, p);
	tap_ok(counters_equal(counters(), start), "lifetime_munmap_after_destroy_frees");
	kshm_close(fd);
}

static void munmap_then_destroy(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	void *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ, &p), "map");
	kshm_region_unmap(&r, p);
	tap_ok(counters().regions == start.regions + 1, "lifetime_handle_keeps_region");
	kshm_region_destroy(fd, r.id);
	tap_ok(counters_equal(counters(), start), "lifetime_destroy_after_munmap_frees");
	kshm_close(fd);
}

static void close_releases_every_region(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	int i, fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	for (i = 0; i < 5; i++)
		tap_require(!kshm_region_create(fd, (i + 1) * page, 0, &r), "create");
	tap_ok(counters().pages == start.pages + 15, "lifetime_counters_count_pages");
	kshm_close(fd);
	tap_ok(counters_equal(counters(), start), "lifetime_close_releases_regions");
}

static void close_while_mapped(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	uint32_t *p;
	int fd = kshm_open(NULL);

	tap_require(fd >= 0, "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 4, 0, 1, 0xfeedf00d, 0);
	kshm_close(fd);
	tap_ok(p[0] == 0xfeedf00d, "lifetime_mapping_survives_close");
	p[1] = 42;
	tap_ok(p[1] == 42, "lifetime_mapping_writable_after_close");
	kshm_region_unmap(&r, p);
	tap_ok(counters_equal(counters(), start), "lifetime_munmap_after_close_frees");
}

/* Three regions, mapped and filled, left for SIGKILL to clean up. */
static int three_mapped_regions(void)
{
	struct kshm_region_desc r;
	int i, fd = kshm_open(NULL);
	void *p;

	for (i = 0; i < 3; i++)
		if (fd < 0 || kshm_region_create(fd, 4 * page, 0, &r) ||
		    kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &p) ||
		    kshm_region_fill(fd, r.id, 8, 0, 4 * page / 8, i, 1))
			return -1;
	return 0;
}

static void kill_releases_everything(void)
{
	struct counters start = counters();
	pid_t pid = spawn_ready(three_mapped_regions);

	tap_ok(pid > 0, "lifetime_child_set_up_regions");
	tap_ok(counters().regions == start.regions + 3, "lifetime_child_regions_alive");
	tap_ok(pid > 0 && kill_and_reap(pid), "lifetime_child_killed");
	tap_ok(counters_equal(counters(), start), "lifetime_sigkill_releases_everything");
}

/* The child inherits the mapping across fork and keeps it after we unmap. */
static void fork_child_keeps_mapping(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	int sync[2], status, fd = kshm_open(NULL);
	volatile uint8_t *p;
	char c;
	pid_t pid;

	tap_require(fd >= 0 && !pipe(sync), "open");
	tap_require(!kshm_region_create(fd, page, 0, &r), "create");
	tap_require(!kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p), "map");
	kshm_region_fill(fd, r.id, 1, 0, 1, 0x33, 0);
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		/* Once told, only this inherited vma still holds the region. */
		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(2);
		_exit(p[0] == 0x33 && p[1] == 0x44 ? 0 : 1);
	}
	close(sync[0]);
	p[1] = 0x44; /* shared: the child must see it */
	kshm_region_destroy(fd, r.id);
	kshm_close(fd);
	kshm_region_unmap(&r, (void *)p);
	tap_ok(counters().regions == start.regions + 1, "lifetime_child_mapping_keeps_region");
	tap_require(write(sync[1], "x", 1) == 1, "wake the child");
	close(sync[1]);
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "lifetime_fork_child_shares_mapping");
	tap_ok(counters_equal(counters(), start), "lifetime_last_child_exit_frees");
}

/* Set up a mapped, filled region in this process and leave it there. */
static int leave_region_behind(struct kshm_region_desc *r, uint8_t **p)
{
	int fd = kshm_open(NULL);

	if (fd < 0 || kshm_region_create(fd, 2 * page, 0, r) ||
	    kshm_region_map(fd, r, PROT_READ | PROT_WRITE, (void **)p) ||
	    kshm_region_fill(fd, r->id, 1, 0, 2 * page, 1, 1))
		return -1;
	return fd;
}

/* exec replaces the mm and closes the O_CLOEXEC fd: all is released. */
static void exec_releases_everything(void)
{
	struct counters start = counters();
	int to_child[2], from_child[2], status;
	char c, rfd[16], wfd[16];
	pid_t pid;

	tap_require(!pipe(to_child) && !pipe(from_child), "pipe");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		struct kshm_region_desc r;
		uint8_t *p;

		if (leave_region_behind(&r, &p) < 0)
			_exit(1);
		snprintf(rfd, sizeof(rfd), "%d", to_child[0]);
		snprintf(wfd, sizeof(wfd), "%d", from_child[1]);
		execl("/proc/self/exe", "lifetime", "--exec-helper", rfd, wfd, NULL);
		_exit(1);
	}
	tap_ok(read(from_child[0], &c, 1) == 1, "lifetime_exec_helper_running");
	tap_ok(counters_equal(counters(), start), "lifetime_exec_releases_everything");
	tap_require(write(to_child[1], "x", 1) == 1, "release the helper");
	waitpid(pid, &status, 0);
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
}

static int exec_helper(int rfd, int wfd)
{
	char c;

	if (write(wfd, "x", 1) != 1 || read(rfd, &c, 1) != 1)
		return 1;
	return 0;
}

static void dup_keeps_the_file(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	uint8_t *p;
	int fd, fd2;

	fd = leave_region_behind(&r, &p);
	tap_require(fd >= 0, "region");
	fd2 = dup(fd);
	kshm_close(fd);
	tap_zero(kshm_region_fill(fd2, r.id, 1, 0, 1, 0xd0, 0), "lifetime_dup_handle_still_works");
	tap_ok(p[0] == 0xd0, "lifetime_dup_handle_same_region");
	munmap(p, r.length);
	tap_ok(counters().regions == start.regions + 1, "lifetime_dup_keeps_region");
	kshm_close(fd2);
	tap_ok(counters_equal(counters(), start), "lifetime_last_dup_close_frees");
}

static int send_fd(int sock, int fd, const void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == (ssize_t)len ? 0 : -1;
}

static int recv_fd(int sock, void *data, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != (ssize_t)len)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* The sender passes the fd over a unix socket and dies; the receiver maps. */
static void scm_rights_receiver_outlives_sender(void)
{
	struct counters start = counters();
	struct kshm_region_desc r;
	int sv[2], status, fd;
	uint8_t *p;
	pid_t pid;

	tap_require(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair");
	pid = fork();
	tap_require(pid >= 0, "fork");
	if (!pid) {
		fd = leave_region_behind(&r, &p);
		_exit(fd < 0 || send_fd(sv[1], fd, &r, sizeof(r)) ? 1 : 0);
	}
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && !WEXITSTATUS(status), "lifetime_scm_sender_sent_and_exited");
	fd = recv_fd(sv[0], &r, sizeof(r));
	tap_ok(fd >= 0, "lifetime_scm_fd_received");
	tap_zero(kshm_region_map(fd, &r, PROT_READ, (void **)&p), "lifetime_scm_receiver_maps");
	tap_ok(p[0] == 1 && p[2 * page - 1] == (uint8_t)(2 * page),
	       "lifetime_scm_receiver_reads_sender_data");
	munmap(p, r.length);
	kshm_close(fd);
	close(sv[0]);
	close(sv[1]);
	tap_ok(counters_equal(counters(), start), "lifetime_scm_receiver_close_frees");
}

/* A maps a region and forks B; A exits; B still reads it, then exits. */
static void fork_parent_exits_child_reads(void)
{
	struct counters start = counters();
	int go[2], result[2], status;
	char verdict = 0;
	pid_t a;

	tap_require(!pipe(go) && !pipe(result), "pipe");
	a = fork();
	tap_require(a >= 0, "fork");
	if (!a) {
		struct kshm_region_desc r;
		uint8_t *p;
		char c;

		if (leave_region_behind(&r, &p) < 0)
			_exit(1);
		if (fork() == 0) {
			close(result[0]);
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			verdict = p[0] == 1 && p[page] == (uint8_t)(page + 1) ? 'y' : 'n';
			_exit(write(result[1], &verdict, 1) == 1 ? 0 : 1);
		}
		_exit(0);
	}
	close(result[1]);
	close(go[0]);
	waitpid(a, &status, 0);
	tap_ok(counters().regions == start.regions + 1, "lifetime_orphan_child_keeps_region");
	tap_require(write(go[1], "x", 1) == 1, "tell the orphan to read");
	tap_ok(read(result[0], &verdict, 1) == 1 && verdict == 'y',
	       "lifetime_child_reads_after_parent_exit");
	/* EOF once the orphan has exited and its mapping is gone. */
	tap_ok(read(result[0], &verdict, 1) == 0, "lifetime_orphan_exited");
	close(go[1]);
	close(result[0]);
	tap_ok(counters_equal(counters(), start), "lifetime_orphan_exit_frees");
}

/* The sanitizer kernel (vm/sanitizer.config): its release ends in -kshm-san. */
static int sanitizer_kernel(void)
{
	static const char tag[] = "-kshm-san";
	struct utsname u;
	size_t n;

	if (uname(&u))
		return 0;
	n = strlen(u.release);
	return n >= strlen(tag) && !strcmp(u.release + n - strlen(tag), tag);
}

/* Every counter of the module is where it was in @a. */
static int info_counters_back(const struct kshm_info *a)
{
	struct kshm_info b;

	return !kshm_get_info(ctl, &b) && a->regions_alive == b.regions_alive &&
	       a->pages_alive == b.pages_alive && a->bufs_alive == b.bufs_alive &&
	       a->buf_pages_pinned == b.buf_pages_pinned;
}

/*
 * 10,000 create/map/touch/munmap/destroy cycles leave nothing behind.
 *
 * On every kernel leaks are judged by the module's own counters and by the
 * pins in /proc/vmstat (every one acquired is released).  MemFree is a third
 * witness on the stock kernels only: on the sanitizer kernel KASAN's
 * quarantine and shadow move it by 5-45 MB per 10,000 cycles while nothing
 * is held, so there it is left out, and kmemleak, which the harness scans at
 * the end of the run, judges the module's allocations instead.
 */
static void cycles_leave_nothing(void)
{
	long long free_before, free_after, acquired, released;
	struct kshm_region_desc r;
	struct kshm_info start;
	int i, bad = 0, fd = kshm_open(NULL);
	uint8_t *p;

	tap_require(fd >= 0 && !kshm_get_info(ctl, &start), "open");
	free_before = proc_value("/proc/meminfo", "MemFree");
	for (i = 0; i < 10000 && !bad; i++) {
		if (kshm_region_create(fd, 2 * page, 0, &r) ||
		    kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, (void **)&p)) {
			bad = 1;
			break;
		}
		p[page] = i;
		bad |= munmap(p, r.length) || kshm_region_destroy(fd, r.id);
	}
	kshm_close(fd);
	free_after = proc_value("/proc/meminfo", "MemFree");
	tap_ok(!bad, "lifetime_10000_cycles_succeed");
	tap_ok(info_counters_back(&start), "lifetime_10000_cycles_counters_back");
	acquired = proc_vmstat("nr_foll_pin_acquired");
	released = proc_vmstat("nr_foll_pin_released");
	tap_ok(acquired >= 0 && acquired == released, "lifetime_10000_cycles_no_pin_left");
	tap_diag("pins acquired %lld, released %lld", acquired, released);
	if (sanitizer_kernel()) {
		tap_ok(!access("/sys/kernel/debug/kmemleak", F_OK),
		       "lifetime_kmemleak_there_to_judge_leaks");
		tap_diag("sanitizer kernel: MemFree left out (KASAN quarantine and shadow)");
		return;
	}
	/* A leak would be 80 MiB; allow for slab and per-cpu list noise. */
	tap_ok(free_after > free_before - 8192, "lifetime_10000_cycles_meminfo_back");
	tap_diag("MemFree before %lld kB, after %lld kB", free_before, free_after);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--exec-helper"))
		return exec_helper(atoi(argv[2]), atoi(argv[3]));
	page = sysconf(_SC_PAGESIZE);
	ctl = kshm_open(NULL);
	tap_require(ctl >= 0, "open /dev/kshm");
	destroy_while_mapped_keeps_pages();
	munmap_then_destroy();
	close_releases_every_region();
	close_while_mapped();
	kill_releases_everything();
	fork_child_keeps_mapping();
	exec_releases_everything();
	dup_keeps_the_file();
	scm_rights_receiver_outlives_sender();
	fork_parent_exits_child_reads();
	cycles_leave_nothing();
	kshm_close(ctl);
	return tap_done();
}
