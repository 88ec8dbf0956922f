// SPDX-License-Identifier: MIT
/*
 * Adversarial tests of kshm's misuse record (kmod/api.c), through the
 * test-only client (tests/kmod/kshm_misuse.c): puts and takes of one
 * handle racing from several threads and processes, calls from a timer,
 * thousands of references, the application closing or the client
 * unloading while the client holds handles, a put handle whose address a
 * new region took (not caught, by design: what happens), and a DMA
 * mapping unmapped twice.  The counters (bufs_alive, regions_alive, the
 * release events) must show every reference dropped exactly once.
 *
 * With "leak_u2k": leave a user-to-kernel ring taken by the client, try to
 * unload the client (refused: kshm pins it), ring the doorbell; the client
 * and kshm then stay loaded (not part of the suite).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kshm.h"
#include "tap.h"
#include "../kmod/kshm_misuse.h"

#define DMA_TO_DEVICE 1

static int mfd, kfd, kmsg;
static size_t page;

static long long call(unsigned int op, uint32_t flags, int fd, uint32_t id, uint64_t offset,
		      uint64_t len)
{
	struct kshm_misuse_arg a = {
		.flags = flags, .fd = fd, .id = id, .offset = offset, .len = len
	};

	if (ioctl(mfd, KSHM_MISUSE_IOC(op), &a))
		return -errno;
	return a.ret;
}

#define op(o)	     call(KSHM_MISUSE_##o, 0, -1, 0, 0, 0)
#define op_nolock(o) call(KSHM_MISUSE_##o, KSHM_MISUSE_UNLOCKED, -1, 0, 0, 0)

static void log_mark(void)
{
	lseek(kmsg, 0, SEEK_END);
}

static int log_says(const char *what)
{
	char rec[1024];
	int seen = 0;
	ssize_t n;

	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		seen |= !!strstr(rec, what);
	}
	return seen;
}

static struct kshm_info info(void)
{
	struct kshm_info i;

	tap_require(!kshm_get_info(kfd, &i), "kshm_get_info");
	return i;
}

static int load_client(void)
{
	int ko = open("/kshm_misuse.ko", O_RDONLY | O_CLOEXEC);
	int ret;

	if (ko < 0)
		return -errno;
	ret = syscall(SYS_finit_module, ko, "", 0) ? -errno : 0;
	close(ko);
	if (!ret) {
		mfd = open("/dev/kshm_misuse", O_RDWR | O_CLOEXEC);
		ret = mfd < 0 ? -errno : 0;
	}
	return ret;
}

static int unload_client(void)
{
	close(mfd);
	mfd = -1;
	return syscall(SYS_delete_module, "kshm_misuse", O_NONBLOCK) ? -errno : 0;
}

/* Does the client hold its buffer?  kshm_buf_kaddr() says. */
static int buf_held(void)
{
	return op(BUF_KADDR) == 0;
}

/* Put the client's buffer until kshm refuses: how many puts it took. */
static int buf_drain(void)
{
	int n = 0;

	while (buf_held() && n < 100000) {
		op(BUF_PUT);
		n++;
	}
	return n;
}

static uint8_t *mem;
static size_t mem_len;

static uint32_t buf_new(void)
{
	uint32_t id;

	tap_require(!kshm_buf_register(kfd, mem, mem_len,
				       KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &id),
		    "register a buffer");
	return id;
}

/* A thread of a race: @rounds calls of @op without the client's mutex. */
struct racer {
	pthread_t t;
	unsigned int op;
	int rounds;
	int fd, id;
	pthread_barrier_t *go;
};

static void *race_fn(void *p)
{
	struct racer *r = p;

	pthread_barrier_wait(r->go);
	for (int i = 0; i < r->rounds; i++)
		call(r->op, KSHM_MISUSE_UNLOCKED, r->fd, r->id, 0,
		     r->op == KSHM_MISUSE_BUF_DMA_MAP ? page : 0);
	return NULL;
}

/* Run @n racers, racer i making ops[i % nops]. */
static void race(const unsigned int *ops, int nops, int n, int rounds, int fd, uint32_t id)
{
	struct racer r[8];
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, n);
	for (int i = 0; i < n; i++) {
		r[i] = (struct racer){
			.op = ops[i % nops], .rounds = rounds, .fd = fd, .id = id, .go = &go
		};
		tap_require(!pthread_create(&r[i].t, NULL, race_fn, &r[i]), "a racer");
	}
	for (int i = 0; i < n; i++)
		pthread_join(r[i].t, NULL);
	pthread_barrier_destroy(&go);
}

/*
 * Four references to one buffer, eight puts racing: exactly four drop one,
 * the registration's reference survives every round.
 */
static void race_puts(void)
{
	static const unsigned int put[] = { KSHM_MISUSE_BUF_PUT };
	uint64_t base = info().bufs_alive;
	uint32_t id = buf_new();
	int early = 0, left = 0;

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 4; i++)
			call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0);
		race(put, 1, 8, 1, -1, 0);
		left += buf_held();
		early += kshm_wait_buf_released(kfd, id, 0) == 0;
	}
	tap_ok(!left, "attack_racing_puts_drop_every_reference");
	tap_ok(!early, "attack_racing_puts_never_drop_the_registrations_reference");
	tap_ok(info().bufs_alive == base + 1, "attack_racing_puts_buffer_still_registered");
	tap_zero(kshm_buf_unregister(kfd, id), "attack_racing_puts_unregister");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_racing_puts_released_once");
	tap_ok(info().bufs_alive == base, "attack_racing_puts_bufs_alive_back");
}

/*
 * Takes, puts, kaddrs and DMA maps of one buffer racing: then every
 * reference left is put, and the buffer is released at its unregister.
 */
static void race_take_put(void)
{
	static const unsigned int ops[] = { KSHM_MISUSE_BUF_TAKE,  KSHM_MISUSE_BUF_PUT,
					    KSHM_MISUSE_BUF_KADDR, KSHM_MISUSE_BUF_PUT,
					    KSHM_MISUSE_BUF_TAKE,  KSHM_MISUSE_BUF_DMA_MAP };
	uint64_t base = info().bufs_alive;
	uint32_t id = buf_new();

	race(ops, 6, 6, 300, kfd, id);
	buf_drain();
	tap_ok(!buf_held(), "attack_take_put_race_drained");
	tap_ok(kshm_wait_buf_released(kfd, id, 0) == -ETIMEDOUT,
	       "attack_take_put_race_registration_kept");
	tap_zero(kshm_buf_unregister(kfd, id), "attack_take_put_race_unregister");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_take_put_race_released");
	tap_ok(info().bufs_alive == base, "attack_take_put_race_bufs_alive_back");
}

/* The same from processes: each child puts once, four references held. */
static void race_processes(void)
{
	uint64_t base = info().bufs_alive;
	uint32_t id = buf_new();
	pid_t pid[6];
	int bad = 0;

	for (int i = 0; i < 4; i++)
		call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0);
	for (int i = 0; i < 6; i++) {
		pid[i] = fork();
		tap_require(pid[i] >= 0, "fork");
		if (!pid[i]) {
			for (int j = 0; j < 2; j++)
				call(KSHM_MISUSE_BUF_PUT, KSHM_MISUSE_UNLOCKED, -1, 0, 0, 0);
			_exit(0);
		}
	}
	for (int i = 0; i < 6; i++) {
		int st;

		bad |= waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st);
	}
	tap_ok(!bad, "attack_process_puts_children_exit");
	tap_ok(!buf_held(), "attack_process_puts_drop_every_reference");
	tap_ok(kshm_wait_buf_released(kfd, id, 0) == -ETIMEDOUT,
	       "attack_process_puts_registration_kept");
	tap_zero(kshm_buf_unregister(kfd, id), "attack_process_puts_unregister");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_process_puts_released");
	tap_ok(info().bufs_alive == base, "attack_process_puts_bufs_alive_back");
}

/* A user-to-kernel ring: consumes, doorbells, polls and puts racing. */
static void race_ring(void)
{
	static const unsigned int ops[] = { KSHM_MISUSE_RING_CONSUME,  KSHM_MISUSE_RING_PUT_U2K,
					    KSHM_MISUSE_RING_DOORBELL, KSHM_MISUSE_RING_POLL,
					    KSHM_MISUSE_RING_PUT_U2K,  KSHM_MISUSE_RING_CONSUME };
	uint64_t base = info().regions_alive;
	struct kshm_ring u;

	tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u),
		    "a user-to-kernel ring");
	for (int round = 0; round < 30; round++) {
		if (call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0))
			break;
		for (int i = 0; i < 4; i++) {
			void *p = kshm_ring_reserve(&u, 8, 1);

			if (p)
				memset(p, i, 8);
		}
		kshm_ring_submit(&u);
		race(ops, 6, 6, 3, -1, 0);
	}
	/* Every take given back: a new one is no EBUSY (the log is rate-limited by now). */
	tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0),
		 "attack_ring_race_taken_again");
	tap_zero(op(RING_PUT_U2K), "attack_ring_race_given_back");
	tap_zero(kshm_ring_destroy(&u), "attack_ring_race_destroyed");
	tap_ok(info().regions_alive == base, "attack_ring_race_regions_alive_back");
}

/* Calls from a timer: produce allowed, the sleeping ones refused. */
static void softirq(void)
{
	uint32_t id = buf_new();
	struct kshm_ring r;

	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "attack_softirq_buf_taken");
	log_mark();
	tap_zero(call(KSHM_MISUSE_BUF_PUT, KSHM_MISUSE_SOFTIRQ, -1, 0, 0, 0),
		 "attack_softirq_buf_put_returns");
	tap_ok(log_says("kshm_buf_put(): called where it may not sleep"),
	       "attack_softirq_buf_put_is_logged");
	tap_ok(buf_held(), "attack_softirq_buf_put_kept_the_reference");
	tap_errno(call(KSHM_MISUSE_BUF_KADDR, KSHM_MISUSE_SOFTIRQ, -1, 0, 0, 0), EINVAL,
		  "attack_softirq_buf_kaddr_einval");
	tap_errno(call(KSHM_MISUSE_BUF_TAKE, KSHM_MISUSE_SOFTIRQ, kfd, id, 0, 0), EINVAL,
		  "attack_softirq_buf_take_einval");
	tap_ok(buf_drain() == 1, "attack_softirq_one_reference_to_put");
	kshm_buf_unregister(kfd, id);
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_softirq_buf_released");

	tap_require(!kshm_ring_create(kfd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r),
		    "a kernel-to-user ring");
	tap_zero(call(KSHM_MISUSE_RING_TAKE, 0, kfd, r.id, 0, 0), "attack_softirq_ring_taken");
	tap_zero(call(KSHM_MISUSE_RING_PRODUCE, KSHM_MISUSE_SOFTIRQ, -1, 0, 0, 0),
		 "attack_softirq_produce");
	tap_ok(kshm_ring_next(&r) != NULL, "attack_softirq_record_arrives");
	kshm_ring_done(&r);
	tap_errno(call(KSHM_MISUSE_RING_DOORBELL, KSHM_MISUSE_SOFTIRQ, -1, 0, 0, 0), EINVAL,
		  "attack_softirq_doorbell_einval");
	tap_zero(call(KSHM_MISUSE_RING_PUT, KSHM_MISUSE_SOFTIRQ, -1, 0, 0, 0),
		 "attack_softirq_ring_put_returns");
	tap_zero(op(RING_DOORBELL), "attack_softirq_ring_put_kept_it");
	tap_zero(op(RING_PUT), "attack_softirq_ring_put");
	tap_errno(op(RING_DOORBELL), EINVAL, "attack_softirq_ring_gone_after_the_real_put");
	tap_zero(kshm_ring_destroy(&r), "attack_softirq_ring_destroyed");
}

/* Thousands of references: of one buffer, and to a thousand buffers. */
static void many(void)
{
	enum { REFS = 3000, BUFS = 1000 };
	uint64_t base = info().bufs_alive;
	static uint32_t ids[BUFS];
	uint32_t id = buf_new();
	int bad = 0, fd;
	uint8_t *pages;

	for (int i = 0; i < REFS; i++)
		bad |= !!call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0);
	tap_ok(!bad, "attack_many_refs_taken");
	for (int i = 0; i < REFS - 1; i++)
		op(BUF_PUT);
	tap_ok(buf_held(), "attack_many_refs_last_one_still_held");
	op(BUF_PUT);
	tap_ok(!buf_held(), "attack_many_refs_all_put");
	kshm_buf_unregister(kfd, id);
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_many_refs_released");

	/* A thousand entries, on a file of their own (a thousand release events). */
	fd = kshm_open(NULL);
	pages = mmap(NULL, BUFS * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_require(fd >= 0 && pages != MAP_FAILED, "a second /dev/kshm, a page a buffer");
	memset(pages, 2, BUFS * page);
	bad = 0;
	for (int i = 0; i < BUFS; i++) {
		bad |= kshm_buf_register(fd, pages + i * page, page, KSHM_BUF_KERNEL_READ, &ids[i]);
		bad |= !!call(KSHM_MISUSE_BUF_TAKE_READ, 0, fd, ids[i], 0, 0);
	}
	tap_ok(!bad, "attack_many_bufs_taken");
	tap_ok(info().bufs_alive == base + BUFS, "attack_many_bufs_alive");
	/* Each put through a second take, which makes it the client's buffer. */
	bad = 0;
	for (int i = 0; i < BUFS; i++) {
		bad |= !!call(KSHM_MISUSE_BUF_TAKE_READ, 0, fd, ids[i], 0, 0);
		op(BUF_PUT);
		op(BUF_PUT);
		bad |= buf_held();
	}
	tap_ok(!bad, "attack_many_bufs_each_put_twice_and_no_more");
	tap_ok(info().bufs_alive == base + BUFS, "attack_many_bufs_still_registered");
	kshm_close(fd);
	munmap(pages, BUFS * page);
	tap_ok(info().bufs_alive == base, "attack_many_bufs_released_at_close");
}

/* The application closes /dev/kshm while the client holds a buffer and two rings. */
static void app_close(void)
{
	int fd = kshm_open(NULL);
	struct kshm_ring r, u;
	uint64_t bufs = info().bufs_alive, regions = info().regions_alive;
	uint32_t id;

	tap_require(fd >= 0, "a second /dev/kshm");
	tap_require(!kshm_buf_register(fd, mem, mem_len,
				       KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, &id),
		    "register");
	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u), "u2k");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, fd, id, 0, 0), "attack_close_buf_taken");
	tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, fd, u.id, 0, 0), "attack_close_u2k_taken");
	kshm_ring_unmap(&r);
	kshm_ring_unmap(&u);
	kshm_close(fd);
	tap_ok(info().bufs_alive == bufs + 1, "attack_close_buf_kept_by_the_client");
	tap_errno(call(KSHM_MISUSE_BUF_DMA_MAP, 0, -1, DMA_TO_DEVICE, 0, page), ECANCELED,
		  "attack_close_dma_map_ecanceled");
	tap_zero(op(BUF_KADDR), "attack_close_kaddr_still_works");
	tap_errno(op(RING_CONSUME), EPIPE, "attack_close_consume_epipe");
	tap_zero(op(RING_PUT_U2K), "attack_close_u2k_put");
	tap_zero(op(BUF_PUT), "attack_close_buf_put");
	tap_ok(info().bufs_alive == bufs, "attack_close_bufs_alive_back");
	tap_ok(info().regions_alive == regions, "attack_close_regions_alive_back");
}

/*
 * A region put (and freed), a new one created: at the same address the
 * stale handle is the new one (not caught, by design).  Its put takes the
 * new region's reference, so the owner's own put is refused: a leak of
 * nothing, a refusal, never a double free.
 */
static void aba(void)
{
	uint64_t base = info().regions_alive;
	int reused;

	tap_zero(call(KSHM_MISUSE_REGION_CREATE, 0, -1, 0, 0, page), "attack_aba_first_region");
	tap_zero(op(REGION_PUT), "attack_aba_first_put");
	tap_ok(info().regions_alive == base, "attack_aba_first_freed");
	tap_zero(call(KSHM_MISUSE_REGION_CREATE, 0, -1, 0, 0, page), "attack_aba_second_region");
	reused = op(REGION_REUSED) == 1;
	tap_diag("the second region %s the first one's address", reused ? "took" : "did not take");
	/* The stale put (the first owner's second put) lands on the second region. */
	tap_zero(op(REGION_PUT), "attack_aba_stale_put_returns");
	tap_ok(info().regions_alive == base, "attack_aba_stale_put_freed_the_new_region");
	log_mark();
	tap_zero(op(REGION_PUT), "attack_aba_owners_put_returns");
	tap_ok(log_says("kshm_region_put(): a region the caller does not hold"),
	       "attack_aba_owners_put_refused_and_logged");
	tap_errno(mmap(NULL, page, PROT_READ, MAP_SHARED, mfd, 0) == MAP_FAILED ? -errno : 0,
		  EINVAL, "attack_aba_owners_mmap_einval");
}

/*
 * A DMA mapping unmapped twice: the second unmap must be refused (the
 * mapping's reference was given back once), the buffer left registered.
 */
static void dma_unmap_twice(void)
{
	uint8_t *mem2 = aligned_alloc(page, page);
	uint64_t base = info().bufs_alive;
	uint32_t id = buf_new(), id2;
	int other;

	tap_require(mem2 != NULL, "memory");
	memset(mem2, 3, page);
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "attack_unmap_buf_taken");
	tap_zero(call(KSHM_MISUSE_BUF_DMA_MAP_KEEP, 0, -1, DMA_TO_DEVICE, 0, page),
		 "attack_unmap_mapped");
	tap_zero(op(BUF_DMA_UNMAP), "attack_unmap_unmapped");
	tap_zero(op(BUF_PUT), "attack_unmap_buf_put");
	tap_ok(kshm_wait_buf_released(kfd, id, 0) == -ETIMEDOUT, "attack_unmap_still_registered");
	log_mark();
	tap_zero(op(BUF_DMA_UNMAP), "attack_unmap_twice_returns");
	tap_ok(log_says("kshm: misuse: kshm_buf_dma_unmap()"), "attack_unmap_twice_is_logged");
	tap_ok(kshm_wait_buf_released(kfd, id, 0) == -ETIMEDOUT,
	       "attack_unmap_twice_leaves_the_registrations_reference");
	tap_zero(kshm_buf_unregister(kfd, id), "attack_unmap_unregister");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_unmap_released");
	tap_ok(info().bufs_alive == base, "attack_unmap_bufs_alive_back");

	/* A mapping of one buffer unmapped with another buffer's handle. */
	id = buf_new();
	other = kshm_buf_register(kfd, mem2, page, KSHM_BUF_KERNEL_READ, &id2);
	tap_require(!other, "a second buffer");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "attack_unmap_other_first_taken");
	tap_zero(call(KSHM_MISUSE_BUF_DMA_MAP_KEEP, 0, -1, DMA_TO_DEVICE, 0, page),
		 "attack_unmap_other_first_mapped");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE_READ, 0, kfd, id2, 0, 0),
		 "attack_unmap_other_second_taken");
	log_mark();
	tap_zero(op(BUF_DMA_UNMAP), "attack_unmap_other_returns");
	tap_ok(log_says("kshm: misuse: kshm_buf_dma_unmap()"), "attack_unmap_other_is_logged");
	tap_zero(op(BUF_PUT), "attack_unmap_other_second_put");
	kshm_buf_unregister(kfd, id2);
	tap_zero(kshm_wait_buf_released(kfd, id2, 10000), "attack_unmap_other_second_released");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "attack_unmap_other_first_again");
	tap_zero(op(BUF_DMA_UNMAP), "attack_unmap_other_first_unmapped");
	tap_ok(buf_drain() == 2, "attack_unmap_other_first_two_puts");
	kshm_buf_unregister(kfd, id);
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_unmap_other_first_released");
	tap_ok(info().bufs_alive == base, "attack_unmap_other_bufs_alive_back");
	free(mem2);
}

/*
 * The client cannot unload while it holds a buffer and a ring of an
 * application that is still open (kshm pins its module); once it gives
 * them back it can, and the release event comes.
 */
static void client_unload(void)
{
	uint64_t base = info().bufs_alive;
	struct kshm_ring u;
	uint32_t id = buf_new();

	tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u), "u2k");
	tap_zero(call(KSHM_MISUSE_BUF_TAKE, 0, kfd, id, 0, 0), "attack_unload_buf_taken");
	tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0), "attack_unload_ring_taken");
	tap_errno(unload_client(), EWOULDBLOCK, "attack_unload_refused_while_the_client_holds");
	mfd = open("/dev/kshm_misuse", O_RDWR | O_CLOEXEC);
	tap_require(mfd >= 0, "open /dev/kshm_misuse again");
	tap_zero(op(BUF_PUT), "attack_unload_buf_put");
	tap_zero(op(RING_PUT_U2K), "attack_unload_ring_put");
	tap_zero(unload_client(), "attack_unload_client_unloads_once_it_gave_back");
	tap_zero(kshm_buf_unregister(kfd, id), "attack_unload_unregister");
	tap_zero(kshm_wait_buf_released(kfd, id, 10000), "attack_unload_buf_released");
	tap_ok(info().bufs_alive == base, "attack_unload_bufs_alive_back");
	tap_zero(kshm_ring_doorbell(&u), "attack_unload_doorbell_after_the_client_went");
	tap_zero(kshm_ring_destroy(&u), "attack_unload_ring_destroyed");
	tap_zero(load_client(), "attack_unload_client_reloads");
}

int main(int argc, char **argv)
{
	page = sysconf(_SC_PAGESIZE);
	mem_len = 2 * page;
	mem = aligned_alloc(page, mem_len);
	tap_require(mem != NULL, "memory");
	memset(mem, 1, mem_len);
	kfd = kshm_open(NULL);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	tap_require(kfd >= 0 && kmsg >= 0, "open /dev/kshm and /dev/kmsg");
	tap_require(!load_client(), "load the test client /kshm_misuse.ko");

	if (argc > 1 && !strcmp(argv[1], "leak_u2k")) {
		struct kshm_ring u;

		tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u),
			    "u2k");
		tap_zero(call(KSHM_MISUSE_RING_TAKE_U2K, 0, kfd, u.id, 0, 0), "leak_u2k_taken");
		tap_zero(op(RING_LEAK), "leak_u2k_forgotten");
		tap_errno(unload_client(), EWOULDBLOCK, "leak_u2k_client_cannot_unload");
		tap_zero(kshm_ring_doorbell(&u), "leak_u2k_doorbell");
		tap_zero(kshm_ring_destroy(&u), "leak_u2k_destroyed");
		return tap_done();
	}

	race_puts();
	race_take_put();
	race_processes();
	race_ring();
	softirq();
	app_close();
	aba();
	client_unload();
	many();
	/* Last: without its fix, an oops. */
	dma_unmap_twice();

	/*
	 * kshm's misuse lines are rate-limited per call site (10 in 5 s): let
	 * the window the races filled pass, so the next program's log checks
	 * (tests/guest/misuse.c) see their lines.
	 */
	sleep(6);
	tap_zero(unload_client(), "attack_client_unloads");
	kshm_close(kfd);
	return tap_done();
}
