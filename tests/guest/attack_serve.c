// SPDX-License-Identifier: MIT
/*
 * Attacks on the sample's SERVE (random writes to the request ring's
 * shared pages while served, the ring destroyed mid-serve, two servers at
 * once) and on RLIMIT_MEMLOCK for the sample's REGION and RING as a user
 * without CAP_IPC_LOCK: refused with ENOMEM over the limit, given back
 * with the file.  Bounded in time; the seed is printed.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "edu.h"

static unsigned int seed;

struct server {
	int kfd;
	uint32_t req, comp, max;
	struct kshm_edu_serve s;
	int ret;
	pthread_t t;
};

static void *server_main(void *arg)
{
	struct server *s = arg;

	s->s = (struct kshm_edu_serve){ .size = sizeof(s->s),
					.kshm_fd = s->kfd,
					.req_ring_id = s->req,
					.comp_ring_id = s->comp,
					.max_requests = s->max };
	s->ret = ioctl(edu_fd, KSHM_EDU_IOC_SERVE, &s->s) ? -errno : 0;
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Random words written all over the request ring's writable pages. */
static void hostile_serve(int kfd, int mode)
{
	struct kshm_ring req, comp;
	struct server sv[2] = { 0 };
	time_t end = time(NULL) + 3;
	long writes = 0;
	int i;

	tap_require(
		!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &req) &&
			!kshm_ring_create(kfd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &comp),
		"rings");
	for (i = 0; i < 2; i++)
		sv[i] = (struct server){ .kfd = kfd, .req = req.id, .comp = comp.id, .max = ~0u };
	pthread_create(&sv[0].t, NULL, server_main, &sv[0]);
	if (mode == 2) {
		/*
		 * A second server while the first holds the ring: once a
		 * completion comes back, the first is serving, and nothing
		 * has broken the ring yet, so the second must be refused.
		 */
		uint32_t got = 0;

		for (i = 0; i < 20000 && !got; i++) {
			struct kshm_edu_fact_req *rq =
				kshm_ring_reserve(&req, sizeof(*rq), KSHM_EDU_REC_FACT);

			if (rq) {
				rq->n = 5;
				kshm_ring_submit(&req);
			}
			while (kshm_ring_next(&comp))
				got++;
			kshm_ring_done(&comp);
			usleep(1000);
		}
		tap_require(got, "the first server serves");
		pthread_create(&sv[1].t, NULL, server_main, &sv[1]);
		pthread_join(sv[1].t, NULL);
		tap_ok(sv[1].ret == -EBUSY, "attack_serve_second_server_ebusy (%d)", sv[1].ret);
	}
	while (time(NULL) < end) {
		struct kshm_edu_fact_req *rq =
			kshm_ring_reserve(&req, sizeof(*rq), KSHM_EDU_REC_FACT);

		if (rq) {
			rq->n = rand_r(&seed) % 20;
			rq->cookie = writes;
			kshm_ring_submit(&req);
		}
		if (mode >= 1) {
			/* Scribble anywhere the application may write. */
			uint32_t *w = (uint32_t *)req.data;
			uint32_t k = rand_r(&seed) % (4096 / 4);

			w[k] = rand_r(&seed);
			if (rand_r(&seed) % 16 == 0 && req.prod)
				((volatile uint64_t *)req.prod)[rand_r(&seed) % 4] =
					((uint64_t)rand_r(&seed) << 32) | rand_r(&seed);
			kshm_ring_doorbell(&req);
		}
		writes++;
		while (kshm_ring_next(&comp))
			;
		kshm_ring_done(&comp);
		if (mode == 3 && writes == 2000)
			break;
	}
	if (mode == 3) {
		/* Destroy the request ring under the server. */
		tap_ok(!kshm_ring_destroy(&req), "attack_serve_destroy_mid_serve");
		usleep(100000);
	}
	pthread_kill(sv[0].t, SIGUSR1);
	pthread_join(sv[0].t, NULL);
	tap_ok(1, "attack_serve_mode_%d (writes %ld; server 0: %d done %u; server 1: %d done %u)",
	       mode, writes, sv[0].ret, sv[0].s.done, sv[1].ret, sv[1].s.done);
	if (mode != 3)
		kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

static int region(int fd, uint32_t flags, uint64_t length)
{
	struct kshm_edu_region r = {
		.size = sizeof(r), .flags = flags, .node = KSHM_NODE_ANY, .length = length
	};

	return ioctl(fd, KSHM_EDU_IOC_REGION, &r) ? -errno : 0;
}

static int ring(int fd, uint64_t data_size)
{
	struct kshm_edu_ring g = { .size = sizeof(g),
				   .kind = KSHM_RING_K2U,
				   .data_size = data_size };

	return ioctl(fd, KSHM_EDU_IOC_RING, &g) ? -errno : 0;
}

/* As nobody, RLIMIT_MEMLOCK 256 KiB. */
static int memlock_child(void)
{
	struct rlimit rl = { 256 << 10, 256 << 10 };
	int a, b, c, fails = 0;
	uint8_t *p;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
		return 100;
	a = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	b = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	c = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	if (a < 0 || b < 0 || c < 0)
		return 101;
#define CHECK(x, want)                                                           \
	do {                                                                     \
		int r_ = (x);                                                    \
		if (r_ != (want)) {                                              \
			printf("# memlock: %s = %d, want %d\n", #x, r_, (want)); \
			fails++;                                                 \
		}                                                                \
	} while (0)
	CHECK(region(a, 0, 256 << 10), 0);
	CHECK(region(b, 0, 4096), -ENOMEM);
	CHECK(region(b, KSHM_EDU_REGION_COMMON, 4096), -ENOMEM);
	CHECK(ring(b, 4096), -ENOMEM);
	p = mmap(NULL, 256 << 10, PROT_READ, MAP_SHARED, a, 0);
	CHECK(p == MAP_FAILED, 0);
	close(a); /* the mapping still holds it */
	CHECK(region(b, 0, 4096), -ENOMEM);
	munmap(p, 256 << 10);
	CHECK(region(b, KSHM_EDU_REGION_COMMON, 128 << 10), 0);
	CHECK(ring(c, 64 << 10), 0);
	CHECK(region(c, 0, 128 << 10), -ENOMEM);
	close(b);
	close(c);
	a = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	CHECK(region(a, KSHM_EDU_REGION_COMMON, 256 << 10), 0);
	close(a);
	a = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	CHECK(ring(a, 128 << 10), 0);
	close(a);
	/* A ring too large for the limit whatever is charged. */
	a = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR);
	CHECK(ring(a, 1 << 20), -ENOMEM);
	CHECK(region(a, 0, 1 << 20), -ENOMEM);
	close(a);
	return fails;
}

static void memlock(void)
{
	int status = -1;
	pid_t c;

	chmod("/dev/" KSHM_EDU_DEVICE_NAME, 0666);
	fflush(stdout);
	c = fork();
	if (!c)
		_exit(memlock_child());
	if (waitpid(c, &status, 0) != c)
		status = -1;
	tap_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	       "attack_memlock_nobody_charged_refused_given_back (exit %d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(void)
{
	const char *env = getenv("KSHM_ATTACK_SEED");
	struct sigaction sa = { .sa_handler = on_usr1 };
	int kfd, mode;

	page = sysconf(_SC_PAGESIZE);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u (KSHM_ATTACK_SEED=%u replays it)", seed, seed);
	sigaction(SIGUSR1, &sa, NULL);
	load_client();
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	memlock();
	for (mode = 0; mode < 4; mode++)
		hostile_serve(kfd, mode);
	kshm_close(kfd);
	return tap_done();
}
