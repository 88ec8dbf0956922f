// SPDX-License-Identifier: MIT
/*
 * Attacks on the sample client's common buffer (KSHM_EDU_REGION_COMMON,
 * mapped by PFN, revoked at unbind): mremap, mprotect, madvise, I/O from
 * and into the mapping (read, write, vmsplice, process_vm_readv,
 * O_DIRECT), fork then unbind, and threads racing mmap/munmap/faults/
 * mremap/fork/close against unbind.  Bounded in time; the seed is printed
 * (KSHM_ATTACK_SEED replays it).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "edu.h"

static unsigned int seed;
static char addr[300];

static int region(int fd, uint32_t flags, uint64_t length)
{
	struct kshm_edu_region r = {
		.size = sizeof(r), .flags = flags, .node = KSHM_NODE_ANY, .length = length
	};

	return ioctl(fd, KSHM_EDU_IOC_REGION, &r) ? -errno : 0;
}

static int open_client(void)
{
	return open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
}

static int pattern_ok(const uint8_t *p, size_t len, uint64_t first)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t j;

	for (j = 0; j < len / 8; j++)
		if (w[j] != ((first + j) ^ KSHM_EDU_MUL))
			return 0;
	return 1;
}

/*
 * A fork child's SIGSEGV says where and why, and what maps the address:
 * the child of a multithreaded process, so no stdio streams, no malloc.
 */
static void child_segv(int sig, siginfo_t *si, void *uc)
{
	static char maps[65536];
	unsigned long a = (unsigned long)si->si_addr, lo, hi;
	int fd = open("/proc/self/maps", O_RDONLY), n;
	char msg[160], *l, *nl;
	ssize_t got = 0, k;

	(void)uc;
	while (fd >= 0 && (k = read(fd, maps + got, sizeof(maps) - 1 - got)) > 0)
		got += k;
	maps[got] = 0;
	n = snprintf(msg, sizeof(msg), "# child SIGSEGV at %#lx si_code %d; its maps line:\n", a,
		     si->si_code);
	if (write(2, msg, n) != n)
		_exit(128 + sig);
	for (l = maps; (nl = strchr(l, '\n')); l = nl + 1)
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && lo <= a && a < hi &&
		    (write(2, "# ", 2) != 2 || write(2, l, nl + 1 - l) < 0))
			break;
	_exit(128 + sig);
}

/* Run @fn(@arg) in a child: its exit code, or 128 + the signal. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t c = fork();

	if (!c) {
		struct sigaction sa = { .sa_sigaction = child_segv, .sa_flags = SA_SIGINFO };

		signal(SIGBUS, SIG_DFL);
		sigaction(SIGSEGV, &sa, NULL);
		_exit(fn(arg));
	}
	if (waitpid(c, &status, 0) != c)
		return -1;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int touch(void *arg)
{
	return ((volatile uint8_t *)arg)[0] == 0x5a ? 3 : 0;
}

static int unbind(void)
{
	return write_file("/sys/bus/pci/drivers/kshm_edu/unbind", addr);
}

static int bind(void)
{
	return write_file("/sys/bus/pci/drivers/kshm_edu/bind", addr);
}

/* mremap, mprotect, madvise on a common buffer's mapping. */
static void vm_ops(void)
{
	size_t len = 4 * page;
	int fd = open_client();
	uint8_t *p, *q, *hole;

	tap_require(fd >= 0 && !region(fd, KSHM_EDU_REGION_COMMON, len), "common region");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_require(p != MAP_FAILED, "map it");
	tap_ok(pattern_ok(p, len, 0), "attack_common_pattern");
	q = mremap(p, len, 2 * len, 0);
	tap_ok(q == MAP_FAILED, "attack_common_mremap_grow_in_place_refused (%s)",
	       q == MAP_FAILED ? strerror(errno) : "grew");
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	tap_ok(q == MAP_FAILED, "attack_common_mremap_grow_moving_refused (%s)",
	       q == MAP_FAILED ? strerror(errno) : "grew");
	if (q != MAP_FAILED)
		p = q;
	hole = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, hole + len);
	tap_ok(q != MAP_FAILED && pattern_ok(q, len, 0), "attack_common_mremap_move_keeps_it");
	if (q != MAP_FAILED)
		p = q;
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
	tap_ok(q == MAP_FAILED, "attack_common_mremap_dontunmap_refused (%s)",
	       q == MAP_FAILED ? strerror(errno) : "done");
	/* Shrink: the tail goes, the head stays. */
	q = mremap(p, len, len / 2, 0);
	tap_ok(q == p && pattern_ok(p, len / 2, 0), "attack_common_mremap_shrink");
	tap_ok(!mprotect(p, page, PROT_READ) && !mprotect(p, page, PROT_READ | PROT_WRITE) &&
		       (p[0] = 0x33, p[0] == 0x33),
	       "attack_common_mprotect_round_trip");
	p[0] = (uint8_t)(0 ^ KSHM_EDU_MUL);
	tap_ok(madvise(p, len / 2, MADV_DONTNEED) || pattern_ok(p, len / 2, 0),
	       "attack_common_madvise_dontneed_refaults");
	tap_ok(madvise(p, len / 2, MADV_REMOVE) ? 1 : pattern_ok(p, len / 2, 0),
	       "attack_common_madvise_remove (%s)", strerror(errno));
	tap_ok(madvise(p, len / 2, MADV_FREE) ? 1 : pattern_ok(p, len / 2, 0),
	       "attack_common_madvise_free");
	tap_ok(madvise(p, len / 2, MADV_WIPEONFORK) ? 1 : 1, "attack_common_madvise_wipeonfork");
	tap_ok(madvise(p, len / 2, MADV_DOFORK) ? 1 : 1, "attack_common_madvise_dofork");
	tap_ok(madvise(p, len / 2, MADV_PAGEOUT) ? 1 : pattern_ok(p, len / 2, 0),
	       "attack_common_madvise_pageout");
	tap_ok(mlock(p, len / 2) ? 1 : (munlock(p, len / 2), pattern_ok(p, len / 2, 0)),
	       "attack_common_mlock (%s)", strerror(errno));
	tap_ok(msync(p, len / 2, MS_SYNC | MS_INVALIDATE) ? 1 : pattern_ok(p, len / 2, 0),
	       "attack_common_msync");
	munmap(p, len / 2);
	munmap(hole, 2 * len);
	close(fd);
}

/* I/O from and into the mapping. */
static void io_ops(void)
{
	size_t len = 4 * page;
	int fd = open_client(), pfd[2], ffd;
	uint8_t *p, *buf = malloc(len);
	struct iovec local = { .iov_base = buf, .iov_len = len }, remote;
	ssize_t n;

	tap_require(fd >= 0 && !region(fd, KSHM_EDU_REGION_COMMON, len) && buf && !pipe(pfd),
		    "common region");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_require(p != MAP_FAILED, "map it");
	n = write(pfd[1], p, page);
	tap_ok(n == page || n < 0, "attack_common_write_from (%zd)", n);
	if (n > 0) {
		n = read(pfd[0], p + page, page);
		tap_ok(n == page && !memcmp(p, p + page, page), "attack_common_read_into (%zd)", n);
	}
	remote.iov_base = p;
	remote.iov_len = page;
	n = vmsplice(pfd[1], &remote, 1, 0);
	tap_ok(n < 0, "attack_common_vmsplice_refused (%zd %s)", n, strerror(errno));
	if (n > 0)
		n = read(pfd[0], buf, n);
	n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	tap_ok(n < 0 || (n == page && !memcmp(buf, p, page)),
	       "attack_common_process_vm_readv (%zd %s)", n, n < 0 ? strerror(errno) : "");
	n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	tap_ok(1, "attack_common_process_vm_writev (%zd %s)", n, n < 0 ? strerror(errno) : "");
	ffd = open("/proc/self/mem", O_RDWR);
	n = pread(ffd, buf, page, (off_t)(uintptr_t)p);
	tap_ok(1, "attack_common_proc_mem_read (%zd %s)", n, n < 0 ? strerror(errno) : "");
	n = pwrite(ffd, buf, page, (off_t)(uintptr_t)p);
	tap_ok(1, "attack_common_proc_mem_write (%zd %s)", n, n < 0 ? strerror(errno) : "");
	close(ffd);
	ffd = open("/mnt/ext4/attack_direct", O_RDWR | O_CREAT | O_DIRECT | O_TRUNC, 0600);
	if (ffd >= 0) {
		n = pwrite(ffd, p, page, 0);
		tap_ok(n < 0, "attack_common_odirect_write_refused (%zd %s)", n,
		       n < 0 ? strerror(errno) : "");
		n = pread(ffd, p, page, 0);
		tap_ok(n <= 0, "attack_common_odirect_read_refused (%zd %s)", n,
		       n < 0 ? strerror(errno) : "");
		close(ffd);
		unlink("/mnt/ext4/attack_direct");
	} else {
		tap_ok(1, "attack_common_odirect # SKIP no /mnt/ext4 (%s)", strerror(errno));
	}
	/* A futex on it: get_user_pages-free but keyed by the page. */
	n = syscall(SYS_futex, (uint32_t *)p, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0);
	tap_ok(1, "attack_common_futex_wake (%zd %s)", n, n < 0 ? strerror(errno) : "");
	munmap(p, len);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	free(buf);
}

/* Fork, the parent lets everything go, unbind, then the child touches. */
static void fork_then_unbind(void)
{
	size_t len = 8 * page;
	int fd = open_client(), go[2], done[2], status = 0;
	uint8_t *p;
	pid_t c;
	char ch;

	tap_require(fd >= 0 && !region(fd, KSHM_EDU_REGION_COMMON, len) && !pipe(go) && !pipe(done),
		    "common region");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_require(p != MAP_FAILED, "map it");
	p[0] = 1;
	c = fork();
	if (!c) {
		signal(SIGBUS, SIG_DFL);
		close(fd);
		close(edu_fd);
		if (write(done[1], "r", 1) != 1 || read(go[0], &ch, 1) != 1)
			_exit(2);
		_exit(p[page] == 0x5a ? 3 : 4); /* after unbind: must be SIGBUS */
	}
	tap_require(read(done[0], &ch, 1) == 1, "child ready");
	munmap(p, len);
	close(fd);
	close(edu_fd);
	edu_fd = -1;
	tap_ok(unbind(), "attack_common_fork_unbind");
	if (write(go[1], "g", 1) != 1 || waitpid(c, &status, 0) != c)
		status = -1;
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	       "attack_common_fork_child_sigbus_after_unbind (status %#x)", status);
	tap_ok(bind(), "attack_common_fork_rebind");
	edu_fd = open_client();
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

/* --- races against unbind ------------------------------------------------ */

static volatile int stop;

struct racer {
	int id;
	unsigned int seed;
	long iters, errors, sigbus;
	int odd;
	pthread_t t;
};

static int common_fd = -1;
static uint8_t *volatile shared_map;

/* Opens, makes, maps, touches and closes files of its own, over and over. */
static void *churn_main(void *arg)
{
	struct racer *r = arg;

	while (!stop) {
		int fd = open_client();
		uint8_t *p;
		size_t len = (1 + rand_r(&r->seed) % 4) * page;

		r->iters++;
		if (fd < 0) {
			r->errors++;
			usleep(1000);
			continue;
		}
		if (region(fd, KSHM_EDU_REGION_COMMON, len)) {
			r->errors++;
			close(fd);
			continue;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			r->errors++;
		} else {
			if (rand_r(&r->seed) & 1)
				close(fd), fd = -1;
			/* A fork child touches: SIGBUS or the pattern, nothing else. */
			if (rand_r(&r->seed) % 8 == 0) {
				int ret = in_child(touch, p);

				if (ret == 128 + SIGBUS)
					r->sigbus++;
				else if (ret != 0 && ret != 3) {
					r->errors += 1000000;
					r->odd = ret;
				}
			}
			madvise(p, len, MADV_DONTNEED);
			munmap(p, len);
		}
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

/* Maps and unmaps the one shared file's region, and mremaps it about. */
static void *mapper_main(void *arg)
{
	struct racer *r = arg;
	size_t len = 4 * page;
	/* A hole of its own to move into: MREMAP_FIXED replaces what is there. */
	uint8_t *hole = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	while (!stop) {
		uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, common_fd, 0);
		void *q;

		r->iters++;
		if (p == MAP_FAILED) {
			r->errors++;
			usleep(500);
			continue;
		}
		/* Now and then it stays where it is, so a middle munmap() runs too. */
		if (rand_r(&r->seed) % 4) {
			q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				   hole + (rand_r(&r->seed) % 2) * len);
			if (q != MAP_FAILED)
				p = q;
			else
				r->errors++;
		}
		mprotect(p, page, PROT_READ);
		/*
		 * Once a page is unmapped another thread's mmap(NULL) may get it:
		 * nothing here unmaps or maps over a page it has given back.
		 * Within the hole the middle page is replaced, not unmapped (the
		 * common mapping is split all the same), so that the hole
		 * stays whole for the next move into it.
		 */
		if (p >= hole && p < hole + 2 * len) {
			mmap(p + page, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			     0);
			mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		} else {
			munmap(p + page, page);
			munmap(p, page);
			munmap(p + 2 * page, len - 2 * page);
		}
	}
	munmap(hole, 2 * len);
	return NULL;
}

int main(void)
{
	const char *env = getenv("KSHM_ATTACK_SEED");
	double secs = 6;
	struct racer rs[4] = { 0 };
	int round, i;

	page = sysconf(_SC_PAGESIZE);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u (KSHM_ATTACK_SEED=%u replays it)", seed, seed);
	srand(seed);
	signal(SIGBUS, SIG_IGN);
	load_client();
	tap_require(bound_device(addr, sizeof(addr)), "find the bound edu device");
	vm_ops();
	io_ops();
	fork_then_unbind();
	for (round = 0; round < 3; round++) {
		int ret;

		common_fd = open_client();
		tap_require(common_fd >= 0 && !region(common_fd, KSHM_EDU_REGION_COMMON, 4 * page),
			    "shared common region");
		stop = 0;
		for (i = 0; i < 4; i++) {
			rs[i] = (struct racer){ .id = i, .seed = seed + round * 16 + i };
			pthread_create(&rs[i].t, NULL, i < 2 ? churn_main : mapper_main, &rs[i]);
		}
		usleep((useconds_t)(secs * 1e6 / 3 * (0.3 + (rand() % 70) / 100.0)));
		close(edu_fd);
		edu_fd = -1;
		ret = unbind();
		usleep(200000);
		ret = ret && bind();
		usleep(300000);
		stop = 1;
		for (i = 0; i < 4; i++)
			pthread_join(rs[i].t, NULL);
		close(common_fd);
		tap_ok(ret && rs[0].errors < 1000000 && rs[1].errors < 1000000,
		       "attack_common_race_round_%d (iters %ld/%ld/%ld/%ld errors %ld/%ld sigbus "
		       "%ld/%ld odd %d/%d)",
		       round, rs[0].iters, rs[1].iters, rs[2].iters, rs[3].iters, rs[0].errors,
		       rs[1].errors, rs[0].sigbus, rs[1].sigbus, rs[0].odd, rs[1].odd);
		if (!bound_device(addr, sizeof(addr)))
			bind();
		edu_fd = open_client();
	}
	(void)shared_map;
	return tap_done();
}
