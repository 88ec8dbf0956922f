// SPDX-License-Identifier: MIT
/*
 * The sample client's request path (KSHM_EDU_IOC_SERVE): the application
 * submits factorial requests on a user-to-kernel ring, kshm_edu consumes
 * them with kshm_ring_consume(), runs each on the edu device's factorial
 * unit and posts its completion on a kernel-to-user ring.  Checked here:
 * every result against n! modulo 2^32 and its cookie, doorbells only while
 * the driver sleeps, malformed records, the hostile-ring cases of ring.c
 * through the client, who owns a taken ring, and each way a server ends
 * (signal, destroyed ring, unbind).  The random tests print their seed;
 * KSHM_RING_SEED=<n> replays one.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "edu.h"

#define COOKIE_READY 0xfeedULL

static unsigned int seed;

struct server {
	int kfd;
	uint32_t req, comp, max, done;
	int cpu; /* pinned there, or -1 */
	int ret;
	volatile int finished;
	pthread_t t;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int serve(int kfd, uint32_t req, uint32_t comp, uint32_t max, uint32_t *done)
{
	struct kshm_edu_serve s = { .size = sizeof(s),
				    .kshm_fd = kfd,
				    .req_ring_id = req,
				    .comp_ring_id = comp,
				    .max_requests = max };
	int ret = ioctl(edu_fd, KSHM_EDU_IOC_SERVE, &s) ? -errno : 0;

	if (done)
		*done = s.done;
	return ret;
}

/* Pin the calling thread to @cpu (-1: both), so that two threads really race. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (cpu < 0)
		CPU_SET(1, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	if (s->cpu >= 0)
		pin(s->cpu);

	s->ret = serve(s->kfd, s->req, s->comp, s->max, &s->done);
	s->finished = 1;
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
}

/* n! modulo 2^32: what the device computes. */
static uint32_t fact32(uint32_t n)
{
	uint32_t r = 1;

	while (n)
		r *= n--;
	return r;
}

/* Reserve one request record of @len payload bytes; 0 or -ENOSPC. */
static int put_req(struct kshm_ring *r, uint16_t type, uint32_t len, uint64_t cookie, uint32_t n,
		   uint32_t reserved)
{
	struct kshm_edu_fact_req q = { .cookie = cookie, .n = n, .__reserved = reserved };
	uint8_t *p = kshm_ring_reserve(r, len, type);

	if (!p)
		return -ENOSPC;
	memset(p, 0, len);
	memcpy(p, &q, len < sizeof(q) ? len : sizeof(q));
	return 0;
}

/* Publish what was reserved without ringing the doorbell. */
static void publish_quietly(struct kshm_ring *r)
{
	__atomic_store_n(&r->prod->pos, r->pos, __ATOMIC_RELEASE);
}

/* The next completion within @ms: 1, 0 for none, -1 for a record that is not one. */
static int next_done(struct kshm_ring *c, struct kshm_edu_fact_done *d, int ms)
{
	const struct kshm_ring_rec *rec = kshm_ring_next(c);
	int ok;

	if (!rec && ms) {
		kshm_ring_done(c);
		kshm_ring_wait(c, ms * 1000000ULL);
		rec = kshm_ring_next(c);
	}
	if (!rec)
		return 0;
	ok = rec->type == KSHM_EDU_REC_FACT_DONE && rec->len == sizeof(*d);
	memcpy(d, rec + 1, sizeof(*d));
	kshm_ring_done(c);
	return ok ? 1 : -1;
}

static int wait_flag(struct kshm_ring *r, uint32_t flag, int ms)
{
	double end = now_ms() + ms;

	while (!(__atomic_load_n(&r->cons->flags, __ATOMIC_ACQUIRE) & flag) && now_ms() < end)
		usleep(1000);
	return !!(__atomic_load_n(&r->cons->flags, __ATOMIC_ACQUIRE) & flag);
}

/*
 * Serve @req/@comp on a thread, and return once the driver holds the ring
 * and sleeps: a request published without a doorbell (the driver takes
 * what is queued when it starts) comes back, then its flag goes up.
 */
static void start_pinned_server(struct server *s, int kfd, struct kshm_ring *req,
				struct kshm_ring *comp, uint32_t max, int cpu)
{
	struct kshm_edu_fact_done d = { 0 };

	*s = (struct server){ .kfd = kfd, .req = req->id, .comp = comp->id, .max = max, .cpu = cpu };
	tap_require(!put_req(req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req), COOKIE_READY,
			     3, 0),
		    "reserve");
	publish_quietly(req);
	tap_require(!pthread_create(&s->t, NULL, server_main, s), "thread");
	tap_require(next_done(comp, &d, 10000) == 1 && d.cookie == COOKIE_READY && d.result == 6,
		    "the server took the request queued before it started");
	tap_require(wait_flag(req, KSHM_RING_WANT_WAKEUP, 10000), "the server sleeps");
}

static void start_server(struct server *s, int kfd, struct kshm_ring *req, struct kshm_ring *comp,
			 uint32_t max)
{
	start_pinned_server(s, kfd, req, comp, max, -1);
}

/*
 * Wait up to @ms for a server to return, then end it with signals (a
 * server that never returns fails its check rather than hanging the run).
 */
static void finish_server(struct server *s, int ms)
{
	double end = now_ms() + ms;

	while (!s->finished && now_ms() < end)
		usleep(1000);
	for (end = now_ms() + 10000; !s->finished && now_ms() < end; usleep(10000))
		pthread_kill(s->t, SIGUSR1);
	pthread_join(s->t, NULL);
}

static void stop_server(struct server *s)
{
	finish_server(s, 0);
}

static void make_rings(int kfd, struct kshm_ring *req, uint64_t req_size, struct kshm_ring *comp)
{
	tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, req_size, KSHM_CACHE_WB, 0, 0, req) &&
			    !kshm_ring_create(kfd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, comp),
		    "rings");
}

static struct kshm_ring_stats stats_of(struct kshm_ring *r)
{
	struct kshm_ring_stats st;

	tap_require(!kshm_ring_stats(r, &st), "stats");
	return st;
}

/*
 * Requests in one batch (one doorbell for the batch), then one submit per
 * request while the driver works: every result right, matched by cookie.
 */
static void serves_requests(int kfd)
{
	enum { BATCH = 32, SINGLE = 200, N = BATCH + SINGLE };
	static uint8_t seen[N];
	struct kshm_ring req, comp;
	struct kshm_edu_fact_done d;
	struct server s;
	uint64_t before;
	uint32_t i, got = 0, sent = 0, bad = 0;
	double end;

	make_rings(kfd, &req, 4096, &comp);
	start_server(&s, kfd, &req, &comp, N + 2);
	before = req.doorbells;
	for (i = 0; i < BATCH; i++)
		tap_require(!put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req),
				     1000 + i, i * 7 % 41, 0),
			    "reserve");
	kshm_ring_submit(&req);
	tap_ok(req.doorbells - before == 1, "edu_serve_a_batch_of_32_costs_one_doorbell (%llu)",
	       (unsigned long long)(req.doorbells - before));
	before = req.doorbells;
	end = now_ms() + 60000;
	for (sent = BATCH; got < N && now_ms() < end;) {
		if (sent < N) {
			i = sent;
			if (!put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req),
				     1000 + i, i == N - 1 ? KSHM_EDU_FACT_MAX : i % 41, 0)) {
				kshm_ring_submit(&req);
				sent++;
			}
		}
		while (next_done(&comp, &d, sent < N ? 0 : 100) == 1) {
			i = (uint32_t)(d.cookie - 1000);
			if (i >= N || seen[i]++ || d.status ||
			    d.n != (i < BATCH	 ? i * 7 % 41
				    : i == N - 1 ? KSHM_EDU_FACT_MAX
						 : i % 41) ||
			    d.result != fact32(d.n))
				bad++;
			got++;
		}
	}
	tap_ok(got == N && !bad,
	       "edu_serve_every_factorial_right_and_matched_to_its_cookie (%u of %u, %u bad)", got,
	       N, bad);
	tap_diag("%u requests submitted one by one: %llu doorbells", SINGLE,
		 (unsigned long long)(req.doorbells - before));
	tap_ok(req.doorbells - before < SINGLE,
	       "edu_serve_fewer_doorbells_than_submits_while_the_driver_works");
	tap_zero(kshm_ring_wait(&req, 10000000000ULL), "edu_serve_ring_wait_until_consumed");
	/* One more: the last of max_requests. */
	put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req), 1, 12, 0);
	kshm_ring_submit(&req);
	finish_server(&s, 10000);
	tap_ok(!s.ret && s.done == N + 2, "edu_serve_returns_after_max_requests (%d, %u)", s.ret,
	       s.done);
	tap_ok(stats_of(&req).records == N + 2 && !stats_of(&req).invalid && !stats_of(&req).broken,
	       "edu_serve_ring_stats_count_the_driver_s_records");
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

/*
 * Malformed records: each one the driver can frame gets an error
 * completion and the ring goes on; type 0 and set flags are kshm's to
 * refuse (counted in invalid, no completion).
 */
static void malformed_records(int kfd)
{
	struct kshm_ring req, comp;
	struct kshm_edu_fact_done d[8];
	struct kshm_ring_rec *h;
	struct server s;
	int n = 0, sz = sizeof(struct kshm_edu_fact_req);

	make_rings(kfd, &req, 4096, &comp);
	start_server(&s, kfd, &req, &comp, 7);
	put_req(&req, 77, sz, 1, 5, 0);
	put_req(&req, KSHM_EDU_REC_FACT, 8, 2, 0, 0);
	put_req(&req, KSHM_EDU_REC_FACT, sz + 8, 3, 5, 0);
	put_req(&req, KSHM_EDU_REC_FACT, sz, 4, KSHM_EDU_FACT_MAX + 1, 0);
	put_req(&req, KSHM_EDU_REC_FACT, sz, 5, 5, 1);
	put_req(&req, 0, sz, 6, 5, 0);
	put_req(&req, KSHM_EDU_REC_FACT, sz, 7, 5, 0);
	h = (struct kshm_ring_rec *)(req.data + ((req.pos - KSHM_RING_REC_SPACE(sz)) & 4095));
	h->flags = 1;
	put_req(&req, KSHM_EDU_REC_FACT, sz, 8, 5, 0);
	kshm_ring_submit(&req);
	finish_server(&s, 10000);
	while (n < 8 && next_done(&comp, &d[n], 0) == 1)
		n++;
	tap_ok(!s.ret && s.done == 7 && n == 6, "edu_serve_malformed_records_each_completed (%d)",
	       n);
	tap_ok(n > 0 && d[0].cookie == 1 && d[0].status == -EBADMSG,
	       "edu_serve_wrong_type_completes_ebadmsg");
	tap_ok(n > 1 && d[1].cookie == 2 && d[1].status == -EMSGSIZE,
	       "edu_serve_short_record_completes_emsgsize");
	tap_ok(n > 2 && d[2].cookie == 3 && d[2].status == -EMSGSIZE,
	       "edu_serve_long_record_completes_emsgsize");
	tap_ok(n > 3 && d[3].cookie == 4 && d[3].status == -EINVAL,
	       "edu_serve_n_beyond_the_maximum_completes_einval");
	tap_ok(n > 4 && d[4].cookie == 5 && d[4].status == -EINVAL,
	       "edu_serve_reserved_field_set_completes_einval");
	tap_ok(n > 5 && d[5].cookie == 8 && !d[5].status && d[5].result == 120,
	       "edu_serve_type_0_and_flags_skipped_next_served");
	tap_ok(stats_of(&req).invalid == 2 && !stats_of(&req).broken,
	       "edu_serve_type_0_and_flags_counted_invalid_ring_not_broken");
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

/*
 * A request ring the driver cannot frame, with its position written by
 * hand: @len in the header at the consumer's position, the producer's
 * position @delta from the record's end.  The driver returns EPIPE.
 */
static struct kshm_ring_stats broken_by(int kfd, uint32_t len, int64_t delta, int *ret)
{
	struct kshm_ring req, comp;
	struct kshm_ring_stats st;
	struct kshm_ring_rec *h;
	struct server s;

	make_rings(kfd, &req, 4096, &comp);
	start_server(&s, kfd, &req, &comp, 10);
	h = (struct kshm_ring_rec *)(req.data + (req.pos & 4095));
	h->len = len;
	h->type = KSHM_EDU_REC_FACT;
	h->flags = 0;
	__atomic_store_n(&req.prod->pos, req.pos + 64 + delta, __ATOMIC_RELEASE);
	kshm_ring_doorbell(&req);
	finish_server(&s, 10000);
	*ret = s.ret;
	st = stats_of(&req);
	st.flags = req.cons->flags;
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
	return st;
}

static void hostile_positions(int kfd)
{
	struct kshm_ring_stats st;
	int ret;

	st = broken_by(kfd, 2000, 0, &ret);
	tap_ok(ret == -EPIPE && st.broken && (st.flags & KSHM_RING_BROKEN) && !st.bad_pos,
	       "edu_serve_length_above_rec_max_breaks_the_ring_epipe");
	st = broken_by(kfd, 56, -16, &ret);
	tap_ok(ret == -EPIPE && st.broken, "edu_serve_record_crossing_the_producer_breaks_it");
	st = broken_by(kfd, 8, 4096, &ret);
	tap_ok(ret == -EPIPE && st.broken && st.bad_pos == 1,
	       "edu_serve_producer_ahead_by_more_than_the_ring_counted_breaks_it");
	st = broken_by(kfd, 8, -64 - 8, &ret);
	tap_ok(ret == -EPIPE && st.broken && st.bad_pos == 1,
	       "edu_serve_producer_behind_the_consumer_counted_breaks_it");
	st = broken_by(kfd, KSHM_RING_REC_BUSY | 8, 0, &ret);
	tap_ok(ret == -EPIPE && st.broken, "edu_serve_busy_bit_breaks_it");
}

struct scribbler {
	struct kshm_ring *r;
	unsigned int seed;
	int flip; /* 1: flip the length at the consumer's position only */
	volatile int stop;
};

static void *scribble_main(void *arg)
{
	struct scribbler *s = arg;
	volatile uint64_t *w = (volatile uint64_t *)s->r->prod;
	size_t nwords = (page + 2 * s->r->size) / 8;
	unsigned int st = s->seed;
	volatile struct kshm_ring_rec *h;
	uint64_t v;
	int i;

	while (!s->stop) {
		if (s->flip) {
			v = __atomic_load_n(&s->r->cons->pos, __ATOMIC_RELAXED);
			/* Room for 1000 bytes: a length read as 1000 frames a record. */
			if (__atomic_load_n(&s->r->prod->pos, __ATOMIC_RELAXED) - v < 2048)
				continue;
			h = (void *)(s->r->data + (v & (s->r->size - 1)));
			/* Each value holds a while: either read may see either. */
			h->len = 1000;
			for (i = 0; i < 200; i++)
				__asm__ volatile("" ::: "memory");
			h->len = 16;
			for (i = 0; i < 200; i++)
				__asm__ volatile("" ::: "memory");
			continue;
		}
		v = (uint64_t)rand_r(&st) << 40 ^ (uint64_t)rand_r(&st) << 20 ^ rand_r(&st);
		if (rand_r(&st) % 4 == 0)
			v = -(uint64_t)(rand_r(&st) % 64);
		w[rand_r(&st) % nwords] = v;
	}
	return NULL;
}

/* Two seconds of random values over the producer page and the data. */
static void hostile_scribble(int kfd)
{
	struct kshm_ring req, comp;
	struct scribbler sc = { .r = &req, .seed = seed };
	struct server s;
	pthread_t t;
	double end;

	make_rings(kfd, &req, 8192, &comp);
	start_server(&s, kfd, &req, &comp, 1000000);
	tap_diag("scribbling on the request ring for 2 s, seed %u", sc.seed);
	tap_require(!pthread_create(&t, NULL, scribble_main, &sc), "scribbler");
	for (end = now_ms() + 2000; now_ms() < end && !s.finished;) {
		kshm_ring_doorbell(&req);
		usleep(500);
	}
	sc.stop = 1;
	pthread_join(t, NULL);
	stop_server(&s);
	tap_diag("server: %d, %u served; ring: records %llu invalid %llu bad_pos %llu broken %llu",
		 s.ret, s.done, (unsigned long long)stats_of(&req).records,
		 (unsigned long long)stats_of(&req).invalid,
		 (unsigned long long)stats_of(&req).bad_pos,
		 (unsigned long long)stats_of(&req).broken);
	tap_ok(s.finished && (s.ret == -EPIPE || s.ret == -EINTR) &&
		       (!stats_of(&req).broken || (req.cons->flags & KSHM_RING_BROKEN)),
	       "edu_serve_scribbled_request_ring_returns (%d)", s.ret);
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

/*
 * The length at the consumer's position flips between 16 and 1000 while the
 * driver consumes 16-byte records: a consumer that checked one read of the
 * length and copied by another would write 1000 bytes into the driver's
 * 16-byte request.  Every 8-byte word of the data is a header {16, FACT},
 * so the records frame whatever length was read.
 */
static void length_flipped_while_consumed(int kfd)
{
	struct kshm_ring req, comp;
	struct kshm_ring_rec hw = { .len = 16, .type = KSHM_EDU_REC_FACT };
	struct scribbler sc = { .r = &req, .flip = 1 };
	struct kshm_edu_fact_done d;
	uint32_t got = 0, sized = 0, wrong = 0;
	struct server s;
	pthread_t t;
	uint64_t cons;
	size_t i;
	double end;

	make_rings(kfd, &req, 16384, &comp);
	/* The driver consumes on CPU 0; the flipper and this thread run on CPU 1. */
	start_pinned_server(&s, kfd, &req, &comp, 1000000, 0);
	pin(1);
	for (i = 0; i < req.size; i += 8)
		memcpy(req.data + ((req.pos + i) & (req.size - 1)), &hw, 8);
	tap_require(!pthread_create(&t, NULL, scribble_main, &sc), "flipper");
	for (end = now_ms() + 2000; now_ms() < end && !s.finished;) {
		cons = __atomic_load_n(&req.cons->pos, __ATOMIC_ACQUIRE);
		__atomic_store_n(&req.prod->pos, cons + req.size - 1024, __ATOMIC_RELEASE);
		if (req.cons->flags & KSHM_RING_WANT_WAKEUP)
			kshm_ring_doorbell(&req);
		while (next_done(&comp, &d, 0) == 1) {
			got++;
			sized += d.status == -EMSGSIZE;
			wrong += d.status != -EMSGSIZE && d.status != -EINVAL;
		}
		usleep(200);
	}
	sc.stop = 1;
	pthread_join(t, NULL);
	stop_server(&s);
	tap_diag("%u completions, %u for a length read as 1000; server %d, %u served", got, sized,
		 s.ret, s.done);
	tap_diag("ring: records %llu invalid %llu bad_pos %llu broken %llu, cons %llu prod %llu",
		 (unsigned long long)stats_of(&req).records,
		 (unsigned long long)stats_of(&req).invalid,
		 (unsigned long long)stats_of(&req).bad_pos,
		 (unsigned long long)stats_of(&req).broken, (unsigned long long)req.cons->pos,
		 (unsigned long long)req.prod->pos);
	/*
	 * A flip that lands late (the flipper preempted between its reads of
	 * the positions and its store) may frame a 1000-byte record across
	 * the producer's position: the ring then breaks, as it must.  What
	 * one read guarantees is that no completion is wrong and nothing is
	 * overwritten (a second read overflowed the driver's request: the
	 * guest's stack protector panicked).
	 */
	tap_ok(got > 10 && !wrong &&
		       ((s.ret == -EINTR && !stats_of(&req).broken) ||
			(s.ret == -EPIPE && stats_of(&req).broken)),
	       "edu_serve_length_flipped_while_consumed_each_record_framed_by_one_read");
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
	pin(-1);
}

/* Who consumes a taken ring, and every bad input's errno. */
static void ownership_and_errors(int kfd)
{
	struct kshm_ring req, comp, other;
	struct kshm_edu_serve bad = { .size = sizeof(bad) - 1 };
	struct kshm_edu_fact_done d;
	struct server s;
	uint64_t pos;

	make_rings(kfd, &req, 4096, &comp);
	tap_require(!kshm_ring_create(kfd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &other),
		    "ring");
	start_server(&s, kfd, &req, &comp, 10);
	alarm(10); /* a second taker would wait for the device: bounded */
	tap_errno(serve(kfd, req.id, comp.id, 1, NULL), EBUSY,
		  "edu_serve_request_ring_taken_twice_ebusy");
	alarm(0);
	tap_errno(serve(kfd, comp.id, comp.id, 1, NULL), EINVAL,
		  "edu_serve_kernel_to_user_ring_as_requests_einval");
	tap_errno(serve(kfd, other.id, other.id, 1, NULL), EINVAL,
		  "edu_serve_user_to_kernel_ring_as_completions_einval");
	tap_errno(serve(kfd, 4242, comp.id, 1, NULL), ENOENT, "edu_serve_unknown_ring_enoent");
	tap_errno(serve(-1, other.id, comp.id, 1, NULL), EBADF, "edu_serve_bad_kshm_fd_ebadf");
	tap_errno(serve(kfd, other.id, comp.id, 0, NULL), EINVAL, "edu_serve_zero_requests_einval");
	tap_errno(ioctl(edu_fd, KSHM_EDU_IOC_SERVE, &bad) ? -errno : 0, EINVAL,
		  "edu_serve_struct_size_wrong_einval");
	/* A signal while the server sleeps ends it. */
	pthread_kill(s.t, SIGUSR1);
	finish_server(&s, 10000);
	tap_ok(s.ret == -EINTR && s.done == 1, "edu_serve_signal_while_idle_eintr (%d, %u)", s.ret,
	       s.done);
	/* Given back, the ring is not kshm's again: a doorbell consumes nothing. */
	put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req), 9, 10, 0);
	publish_quietly(&req);
	pos = req.cons->pos;
	kshm_ring_doorbell(&req);
	usleep(300000);
	tap_ok(req.cons->pos == pos && !stats_of(&req).invalid,
	       "edu_serve_kshm_never_drains_a_ring_a_driver_took");
	tap_ok(!serve(kfd, req.id, comp.id, 1, NULL) && next_done(&comp, &d, 0) == 1 &&
		       d.cookie == 9 && d.result == 3628800,
	       "edu_serve_request_ring_taken_again_after_the_first_returned");
	kshm_ring_destroy(&other);
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

/* The application destroys the request ring while the server sleeps. */
static void ring_destroyed_while_waiting(int kfd)
{
	struct kshm_ring req, comp;
	struct server s;
	int i;

	make_rings(kfd, &req, 4096, &comp);
	start_server(&s, kfd, &req, &comp, 10);
	kshm_ring_destroy(&req);
	for (i = 0; i < 1000 && !s.finished; i++)
		usleep(10000);
	tap_ok(s.finished, "edu_serve_returns_when_the_request_ring_is_destroyed");
	stop_server(&s);
	tap_ok(s.ret == -EPIPE, "edu_serve_destroyed_request_ring_epipe (%d)", s.ret);
	kshm_ring_destroy(&comp);
}

/* Unbind the device while a server sleeps; bind it again. */
static void unbind_while_serving(int kfd)
{
	struct kshm_ring req, comp;
	char addr[300] = "";
	struct server s;

	tap_require(bound_device(addr, sizeof(addr)), "find the bound edu device");
	make_rings(kfd, &req, 4096, &comp);
	start_server(&s, kfd, &req, &comp, 10);
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/unbind", addr), "edu_serve_unbind");
	stop_server(&s);
	tap_ok(s.ret == -ENODEV, "edu_serve_returns_enodev_at_unbind (%d)", s.ret);
	close(edu_fd);
	tap_ok(write_file("/sys/bus/pci/drivers/kshm_edu/bind", addr), "edu_serve_bind_again");
	edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	tap_require(edu_fd >= 0, "open /dev/kshm_edu again");
	/* The ring outlived its taker: a new server takes it. */
	put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req), 1, 4, 0);
	kshm_ring_submit(&req);
	tap_zero(serve(kfd, req.id, comp.id, 1, NULL), "edu_serve_after_rebind");
	kshm_ring_destroy(&req);
	kshm_ring_destroy(&comp);
}

static int own_ring(int fd, uint32_t kind, uint64_t size, struct kshm_edu_ring *g)
{
	*g = (struct kshm_edu_ring){ .size = sizeof(*g), .kind = kind, .data_size = size };
	return ioctl(fd, KSHM_EDU_IOC_RING, g) ? -errno : 0;
}

/*
 * The driver's own rings, made for its file (no /dev/kshm ring at all):
 * requests on its user-to-kernel ring, whose doorbell libkshm rings
 * through the driver's file, completions on its kernel-to-user ring,
 * waited for with poll() on the file.
 */
static void own_rings(int kfd)
{
	enum { N = 64 };
	struct kshm_ring_doorbell db = { .size = sizeof(db), .id = 1 };
	struct kshm_edu_ring gq, gc, g;
	struct kshm_ring req, comp;
	struct kshm_edu_fact_done d;
	struct pollfd pfd = { .fd = edu_fd, .events = POLLIN };
	struct server sv = { .kfd = kfd, .max = N, .cpu = -1 };
	const struct kshm_ring_rec *rec;
	uint32_t i, got = 0, good = 0;
	int other = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	double end;

	tap_require(other >= 0, "open a second file");
	tap_errno(own_ring(edu_fd, 3, 8192, &g), EINVAL, "edu_own_ring_unknown_kind_einval");
	tap_errno(raw_ioctl(other, KSHM_IOC_RING_DOORBELL, &db), EINVAL,
		  "edu_own_ring_doorbell_with_an_id_einval");
	db.id = 0;
	db.flags = 1;
	tap_errno(raw_ioctl(other, KSHM_IOC_RING_DOORBELL, &db), EINVAL,
		  "edu_own_ring_doorbell_with_flags_einval");
	db.flags = 0;
	db.__reserved = 1;
	tap_errno(raw_ioctl(other, KSHM_IOC_RING_DOORBELL, &db), EINVAL,
		  "edu_own_ring_doorbell_reserved_nonzero_einval");
	db.__reserved = 0;
	db.size = sizeof(db) - 4;
	tap_errno(raw_ioctl(other, KSHM_IOC_RING_DOORBELL, &db), EINVAL,
		  "edu_own_ring_doorbell_size_wrong_einval");
	db.size = sizeof(db);
	tap_errno(raw_ioctl(other, KSHM_IOC_RING_DOORBELL, &db), ENXIO,
		  "edu_own_ring_doorbell_without_a_request_ring_enxio");
	tap_errno(ioctl(other, KSHM_EDU_IOC_SERVE,
			&(struct kshm_edu_serve){ .size = sizeof(struct kshm_edu_serve),
						  .max_requests = 1 })
			  ? -errno
			  : 0,
		  ENXIO, "edu_own_ring_serve_without_the_file_rings_enxio");
	close(other);
	tap_zero(own_ring(edu_fd, KSHM_RING_U2K, 8192, &gq), "edu_own_request_ring_create");
	tap_zero(own_ring(edu_fd, KSHM_RING_K2U, 65536, &gc), "edu_own_completion_ring_create");
	tap_errno(own_ring(edu_fd, KSHM_RING_U2K, 8192, &g), EBUSY,
		  "edu_own_request_ring_second_create_ebusy");
	tap_ok(gq.mmap_offset == KSHM_EDU_REQ_RING_OFFSET && gq.rec_max == 2048,
	       "edu_own_request_ring_layout (rec_max %u)", gq.rec_max);
	tap_require(!kshm_ring_map(edu_fd, gq.mmap_offset, KSHM_RING_U2K, 8192, gq.rec_max,
				   KSHM_CACHE_WB, &req) &&
			    !kshm_ring_map(edu_fd, gc.mmap_offset, KSHM_RING_K2U, 65536, gc.rec_max,
					   KSHM_CACHE_WB, &comp),
		    "map both rings");
	tap_require(!pthread_create(&sv.t, NULL, server_main, &sv), "server");
	for (i = 0; i < N; i++) {
		tap_require(!put_req(&req, KSHM_EDU_REC_FACT, sizeof(struct kshm_edu_fact_req), i,
				     i % 13, 0),
			    "reserve");
		tap_require(!kshm_ring_submit(&req), "submit (the doorbell goes through the file)");
		usleep(1000);
	}
	for (end = now_ms() + 30000; got < N && now_ms() < end;) {
		while ((rec = kshm_ring_next(&comp))) {
			memcpy(&d, rec + 1, sizeof(d));
			good += rec->type == KSHM_EDU_REC_FACT_DONE && d.cookie == got &&
				!d.status && d.result == fact32(got % 13);
			got++;
		}
		kshm_ring_done(&comp);
		if (got < N && !kshm_ring_want_wakeup(&comp, 1))
			poll(&pfd, 1, 1000);
		kshm_ring_want_wakeup(&comp, 0);
	}
	finish_server(&sv, 10000);
	tap_ok(sv.ret == 0 && sv.done == N, "edu_own_rings_served (%d, %u done)", sv.ret, sv.done);
	tap_ok(good == N, "edu_own_rings_every_result_right (%u of %u)", good, got);
	tap_ok(req.doorbells >= 1 && req.doorbells <= N,
	       "edu_own_request_ring_doorbells_through_the_file (%llu)",
	       (unsigned long long)req.doorbells);
	kshm_ring_unmap(&req);
	kshm_ring_unmap(&comp);
}

int main(void)
{
	const char *env = getenv("KSHM_RING_SEED");
	struct sigaction sa = { .sa_handler = on_signal };
	int kfd;

	page = sysconf(_SC_PAGESIZE);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u (KSHM_RING_SEED=%u replays it)", seed, seed);
	tap_require(!sigaction(SIGUSR1, &sa, NULL) && !sigaction(SIGALRM, &sa, NULL),
		    "SIGUSR1 and SIGALRM without SA_RESTART");
	load_client();
	kfd = kshm_open(NULL);
	tap_require(kfd >= 0, "open /dev/kshm");
	serves_requests(kfd);
	malformed_records(kfd);
	hostile_positions(kfd);
	ownership_and_errors(kfd);
	ring_destroyed_while_waiting(kfd);
	hostile_scribble(kfd);
	length_flipped_while_consumed(kfd);
	own_rings(kfd);
	unbind_while_serving(kfd);
	kshm_close(kfd);
	close(edu_fd);
	edu_fd = -1;
	unload_order();
	return tap_done();
}
