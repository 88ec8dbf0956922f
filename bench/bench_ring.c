// SPDX-License-Identifier: MIT
/*
 * kshm rings against the BPF ring buffer, in the guest.
 *
 * The same trigger for both: one ioctl on /dev/kshm makes the kernel
 * produce B records.  kshm: KSHM_IOC_RING_PRODUCE into a kshm ring.  BPF: a
 * kprobe on the module's KSHM_IOC_INFO handler runs a program that does
 * bpf_ringbuf_output() B times (bench/ringbuf_peer.bpf.c).  Both copy the
 * payload from kernel memory and put a sequence number in its first 8
 * bytes; both rings hold 4 MiB.  A consumer thread drains with libkshm or
 * with libbpf, busily or sleeping (RING_WAIT / ring_buffer__poll), and
 * checks the sequence numbers.
 *
 * The copy path: the same producer and ring, drained through
 * KSHM_IOC_RING_READ (a system call copying the records out) instead of the
 * shared mapping.
 *
 * Rounds interleave the two systems (order alternating), after a warm-up
 * round; each round times the whole run, first trigger to last record.
 * Prints one markdown table: min/median/p90 of records per second and the
 * kshm/BPF ratio of the medians, then system calls and blocking waits per
 * record, counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "kshm.h"
#include "bench.h"
#include "ringbuf_peer.skel.h"

#define ROUNDS	   5
#define RING_BYTES (4 << 20)

struct cfg {
	uint32_t len;
	uint32_t batch;
	int busy;
	uint64_t records;
};

struct result {
	double rate; /* records per second */
	uint64_t got;
	uint64_t dropped;
	uint64_t bad;
	uint64_t syscalls; /* triggers plus the consumer's */
	uint64_t waits;	   /* the consumer's blocking calls */
};

static int kfd;

/* --- the trigger ------------------------------------------------------------------ */

struct trigger {
	const struct cfg *c;
	struct kshm_ring *ring; /* kshm, else the BPF peer */
	volatile int done;
	uint64_t calls;
};

static void *trigger_main(void *arg)
{
	struct trigger *t = arg;
	uint64_t n = t->c->records / t->c->batch, i;
	struct kshm_info info = { .size = sizeof(info) };

	for (i = 0; i < n; i++) {
		if (t->ring)
			kshm_ring_kernel_produce(t->ring, 0, KSHM_REC_SEQ, t->c->len, t->c->batch,
						 i * t->c->batch, NULL);
		else
			ioctl(kfd, KSHM_IOC_INFO, &info);
		t->calls++;
	}
	t->done = 1;
	return NULL;
}

/* --- kshm --------------------------------------------------------------------------- */

static struct result run_kshm(const struct cfg *c)
{
	struct kshm_ring r;
	struct trigger t = { .c = c };
	struct result res = { 0 };
	const struct kshm_ring_rec *rec;
	uint64_t next = 0, seq;
	pthread_t th;
	double t0, t1;

	if (kshm_ring_create(kfd, KSHM_RING_K2U, RING_BYTES, KSHM_CACHE_WB, 0, 0, &r)) {
		fprintf(stderr, "kshm ring create failed\n");
		exit(1);
	}
	t.ring = &r;
	t0 = now_us();
	pthread_create(&th, NULL, trigger_main, &t);
	for (;;) {
		int any = 0;

		while ((rec = kshm_ring_next(&r))) {
			memcpy(&seq, rec + 1, 8);
			if (seq < next)
				res.bad++;
			next = seq + 1;
			res.got++;
			any = 1;
		}
		if (any)
			kshm_ring_done(&r);
		if (t.done && !any && r.pos == __atomic_load_n(&r.prod->pos, __ATOMIC_ACQUIRE))
			break;
		if (!any && !c->busy) {
			kshm_ring_wait(&r, 100000000);
			res.syscalls++;
			res.waits++;
		}
	}
	t1 = now_us();
	pthread_join(th, NULL);
	res.dropped = r.prod->dropped;
	res.syscalls += t.calls;
	res.rate = res.got / ((t1 - t0) / 1e6);
	kshm_ring_destroy(&r);
	return res;
}

/* --- the copy path: the same ring, drained through a system call -------------------- */

static struct result run_copy(const struct cfg *c)
{
	static uint8_t buf[65536];
	struct kshm_ring r;
	struct trigger t = { .c = c };
	struct result res = { 0 };
	const struct kshm_ring_rec *rec;
	struct kshm_ring_read rd;
	uint64_t next = 0, seq, off;
	pthread_t th;
	double t0, t1;
	int ret;

	if (kshm_ring_create(kfd, KSHM_RING_K2U, RING_BYTES, KSHM_CACHE_WB, 0, 0, &r)) {
		fprintf(stderr, "kshm ring create failed\n");
		exit(1);
	}
	t.ring = &r;
	t0 = now_us();
	pthread_create(&th, NULL, trigger_main, &t);
	for (;;) {
		rd = (struct kshm_ring_read){
			.size = sizeof(rd), .id = r.id, .buf = (uintptr_t)buf, .len = sizeof(buf)
		};
		ret = ioctl(kfd, KSHM_IOC_RING_READ, &rd) ? -errno : 0;
		res.syscalls++;
		if (!ret) {
			for (off = 0; off < rd.bytes; off += KSHM_RING_REC_SPACE(rec->len)) {
				rec = (const void *)(buf + off);
				memcpy(&seq, rec + 1, 8);
				if (seq < next)
					res.bad++;
				next = seq + 1;
				res.got++;
			}
			continue;
		}
		if (t.done && r.cons->pos == __atomic_load_n(&r.prod->pos, __ATOMIC_ACQUIRE))
			break;
		if (!c->busy) {
			kshm_ring_wait(&r, 100000000);
			res.syscalls++;
			res.waits++;
		}
	}
	t1 = now_us();
	pthread_join(th, NULL);
	res.dropped = r.prod->dropped;
	res.syscalls += t.calls;
	res.rate = res.got / ((t1 - t0) / 1e6);
	kshm_ring_destroy(&r);
	return res;
}

/* --- the BPF ring buffer ------------------------------------------------------------- */

struct bpf_ctx {
	uint64_t next;
	struct result *res;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct bpf_ctx *b = ctx;
	uint64_t seq;

	(void)size;
	memcpy(&seq, data, 8);
	if (seq < b->next)
		b->res->bad++;
	b->next = seq + 1;
	b->res->got++;
	return 0;
}

static struct result run_bpf(const struct cfg *c)
{
	struct ringbuf_peer_bpf *skel;
	struct ring_buffer *rb;
	struct trigger t = { .c = c };
	struct result res = { 0 };
	struct bpf_ctx b = { .res = &res };
	static uint8_t pattern[4096];
	uint32_t k = 0;
	pthread_t th;
	double t0, t1;
	int n;

	skel = ringbuf_peer_bpf__open();
	if (!skel) {
		fprintf(stderr, "bpf open failed\n");
		exit(1);
	}
	skel->rodata->batch = c->batch;
	skel->rodata->rec_len = c->len;
	if (ringbuf_peer_bpf__load(skel) || ringbuf_peer_bpf__attach(skel)) {
		fprintf(stderr, "bpf load/attach failed: %s\n", strerror(errno));
		exit(1);
	}
	bpf_map_update_elem(bpf_map__fd(skel->maps.src), &k, pattern, 0);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.rb), on_record, &b, NULL);
	if (!rb) {
		fprintf(stderr, "ring_buffer__new failed\n");
		exit(1);
	}
	t0 = now_us();
	pthread_create(&th, NULL, trigger_main, &t);
	for (;;) {
		n = c->busy ? ring_buffer__consume(rb) : ring_buffer__poll(rb, 100);
		if (!c->busy) {
			res.syscalls++;
			res.waits++;
		}
		if (t.done && n == 0 && ring_buffer__consume(rb) == 0)
			break;
	}
	t1 = now_us();
	pthread_join(th, NULL);
	res.dropped = skel->bss->dropped;
	res.syscalls += t.calls;
	res.rate = res.got / ((t1 - t0) / 1e6);
	ring_buffer__free(rb);
	ringbuf_peer_bpf__destroy(skel);
	return res;
}

/* --- rounds and the table ------------------------------------------------------------ */

enum peer { PEER_BPF, PEER_COPY };

static void one_case(const struct cfg *c, enum peer peer)
{
	struct result (*run_peer)(const struct cfg *) = peer == PEER_BPF ? run_bpf : run_copy;
	double k[ROUNDS], b[ROUNDS];
	struct result rk = { 0 }, rb = { 0 };
	uint64_t kgot = 0, bgot = 0;
	int i;

	run_kshm(c); /* warm-up */
	run_peer(c);
	for (i = 0; i < ROUNDS; i++) {
		struct result xk, xb;

		/* Alternate which system goes first. */
		if (i % 2) {
			xb = run_peer(c);
			xk = run_kshm(c);
		} else {
			xk = run_kshm(c);
			xb = run_peer(c);
		}
		k[i] = xk.rate;
		b[i] = xb.rate;
		rk.syscalls += xk.syscalls;
		rk.waits += xk.waits;
		rk.dropped += xk.dropped;
		rk.bad += xk.bad;
		kgot += xk.got;
		rb.syscalls += xb.syscalls;
		rb.waits += xb.waits;
		rb.dropped += xb.dropped;
		rb.bad += xb.bad;
		bgot += xb.got;
	}
	printf("| ring %u B, %u per call, %s consumer, vs %s | %.2f / %.2f / %.2f | "
	       "%.2f / %.2f / %.2f | %.3f / %.3f | %.3f / %.3f | %llu / %llu | %s | %.2f |\n",
	       c->len, c->batch, c->busy ? "busy" : "sleeping",
	       peer == PEER_BPF ? "BPF ringbuf" : "the copy path (RING_READ)",
	       percentile(k, ROUNDS, 0) / 1e6, percentile(k, ROUNDS, 50) / 1e6,
	       percentile(k, ROUNDS, 90) / 1e6, percentile(b, ROUNDS, 0) / 1e6,
	       percentile(b, ROUNDS, 50) / 1e6, percentile(b, ROUNDS, 90) / 1e6,
	       (double)rk.syscalls / (kgot ? kgot : 1), (double)rb.syscalls / (bgot ? bgot : 1),
	       (double)rk.waits / (kgot ? kgot : 1), (double)rb.waits / (bgot ? bgot : 1),
	       (unsigned long long)rk.dropped, (unsigned long long)rb.dropped,
	       rk.bad || rb.bad ? "**out of order**" : "ok",
	       percentile(k, ROUNDS, 50) / percentile(b, ROUNDS, 50));
	fflush(stdout);
}

/* --- what the trigger itself costs ---------------------------------------------------- */

/* Calls per second of the INFO ioctl, bare or under the peer's kprobe with no record. */
static double info_rate(int with_kprobe)
{
	struct ringbuf_peer_bpf *skel = NULL;
	struct kshm_info info = { .size = sizeof(info) };
	double t0;
	int i, n = 100000;

	if (with_kprobe) {
		skel = ringbuf_peer_bpf__open();
		if (skel)
			skel->rodata->batch = 0;
		if (!skel || ringbuf_peer_bpf__load(skel) || ringbuf_peer_bpf__attach(skel)) {
			fprintf(stderr, "bpf load/attach failed\n");
			exit(1);
		}
	}
	t0 = now_us();
	for (i = 0; i < n; i++)
		ioctl(kfd, KSHM_IOC_INFO, &info);
	t0 = n / ((now_us() - t0) / 1e6);
	if (skel)
		ringbuf_peer_bpf__destroy(skel);
	return t0;
}

static void trigger_cost(void)
{
	double bare[ROUNDS], probed[ROUNDS];
	int i;

	info_rate(0);
	info_rate(1);
	for (i = 0; i < ROUNDS; i++) {
		bare[i] = info_rate(0);
		probed[i] = info_rate(1);
	}
	printf("\n| trigger alone (M calls/s, min / median / p90) | bare | under the peer's "
	       "kprobe, 0 records | ratio |\n");
	printf("|---|---|---|---|\n");
	printf("| KSHM_IOC_INFO ioctl | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %.2f |\n",
	       percentile(bare, ROUNDS, 0) / 1e6, percentile(bare, ROUNDS, 50) / 1e6,
	       percentile(bare, ROUNDS, 90) / 1e6, percentile(probed, ROUNDS, 0) / 1e6,
	       percentile(probed, ROUNDS, 50) / 1e6, percentile(probed, ROUNDS, 90) / 1e6,
	       percentile(bare, ROUNDS, 50) / percentile(probed, ROUNDS, 50));
}

/* --- latency: an echo round trip against an eventfd ping-pong ------------------------ */

#define SAMPLES 2000

static int efd_a, efd_b;

static void *pong_main(void *arg)
{
	uint64_t v;
	int i;

	(void)arg;
	for (i = 0; i < SAMPLES + 100; i++) {
		if (read(efd_a, &v, 8) != 8)
			break;
		v = 1;
		if (write(efd_b, &v, 8) != 8)
			break;
	}
	return NULL;
}

static void latency(void)
{
	static double k[SAMPLES], e[SAMPLES];
	struct kshm_ring in, out;
	const struct kshm_ring_rec *rec;
	pthread_t th;
	uint64_t v = 1;
	double t0;
	void *p;
	int i;

	kshm_ring_create(kfd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &out);
	kshm_ring_create(kfd, KSHM_RING_U2K, 65536, KSHM_CACHE_WB, 0, out.id, &in);
	efd_a = eventfd(0, 0);
	efd_b = eventfd(0, 0);
	pthread_create(&th, NULL, pong_main, NULL);
	for (i = -100; i < SAMPLES; i++) {
		t0 = now_us();
		p = kshm_ring_reserve(&in, 8, KSHM_REC_ECHO);
		memcpy(p, &v, 8);
		kshm_ring_submit(&in);
		while (!(rec = kshm_ring_next(&out)))
			kshm_ring_wait(&out, 1000000000);
		kshm_ring_done(&out);
		if (i >= 0)
			k[i] = now_us() - t0;
		t0 = now_us();
		if (write(efd_a, &v, 8) != 8 || read(efd_b, &v, 8) != 8)
			break;
		if (i >= 0)
			e[i] = now_us() - t0;
	}
	pthread_join(th, NULL);
	printf("\n| round trip (µs) | p50 | p99 | max |\n|---|---|---|---|\n");
	printf("| kshm echo: U2K ring, kernel worker, K2U ring, RING_WAIT | %.0f | %.0f | %.0f |\n",
	       percentile(k, SAMPLES, 50), percentile(k, SAMPLES, 99), percentile(k, SAMPLES, 100));
	printf("| eventfd ping-pong between two threads | %.0f | %.0f | %.0f |\n",
	       percentile(e, SAMPLES, 50), percentile(e, SAMPLES, 99), percentile(e, SAMPLES, 100));
	printf("| ratio kshm / eventfd (p50) | %.2f | | |\n",
	       percentile(k, SAMPLES, 50) / percentile(e, SAMPLES, 50));
	kshm_ring_destroy(&in);
	kshm_ring_destroy(&out);
}

int main(void)
{
	static const struct cfg cases[] = {
		{ 8, 1, 1, 100000 },   { 8, 64, 1, 640000 },   { 8, 1, 0, 100000 },
		{ 8, 64, 0, 640000 },  { 64, 64, 1, 640000 },  { 64, 64, 0, 640000 },
		{ 4096, 1, 1, 20000 }, { 4096, 64, 1, 64000 }, { 4096, 64, 0, 64000 },
	};
	/* The copy path: the same producer and ring, drained by RING_READ. */
	static const struct cfg copy_cases[] = {
		{ 8, 64, 1, 640000 },
		{ 8, 64, 0, 640000 },
		{ 64, 64, 1, 640000 },
		{ 4096, 64, 1, 64000 },
	};
	struct utsname u;
	time_t now = time(NULL);
	unsigned int i;

	kfd = kshm_open(NULL);
	if (kfd < 0) {
		fprintf(stderr, "cannot open /dev/kshm\n");
		return 1;
	}
	uname(&u);
	libbpf_set_print(NULL);
	printf("### Rings on %s, %s", u.release, ctime(&now));
	printf("\nRecords per second in millions (min / median / p90 of %d rounds), then "
	       "system calls and blocking waits per record, drops, order check, and the "
	       "kshm/peer ratio of the medians.\n\n",
	       ROUNDS);
	printf("| case | kshm M rec/s | peer M rec/s | syscalls/rec kshm / peer | "
	       "waits/rec kshm / peer | drops kshm / peer | order | kshm/peer |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		one_case(&cases[i], PEER_BPF);
	for (i = 0; i < sizeof(copy_cases) / sizeof(copy_cases[0]); i++)
		one_case(&copy_cases[i], PEER_COPY);
	trigger_cost();
	latency();
	return 0;
}
