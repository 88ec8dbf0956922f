// SPDX-License-Identifier: MIT
/*
 * Rings (include/uapi/linux/kshm_ring.h): creation and mapping rules, no
 * loss and order with several kernel producers (the engine's hard IRQ and
 * two threads), every wakeup path, need-wakeup, the kernel consumer, echo
 * round trips, and a hostile application scribbling on everything it can
 * write.  The random tests print their seed; KSHM_RING_SEED replays one.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#include "kshm.h"
#include "tap.h"

static long page;
static unsigned int seed;
/* Records per kernel producer thread in the ordering test. */
static unsigned long many = 5000000;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct kshm_info info_of(int fd)
{
	struct kshm_info info;

	tap_require(!kshm_get_info(fd, &info), "info");
	return info;
}

static int raw_create(int fd, uint32_t kind, uint64_t size, uint32_t flags, uint32_t echo,
		      struct kshm_ring_create *out)
{
	struct kshm_ring_create c = {
		.size = sizeof(c),
		.flags = flags,
		.kind = kind,
		.data_size = size,
		.echo_id = echo,
	};
	int ret = raw_ioctl(fd, KSHM_IOC_RING_CREATE, &c);

	if (out)
		*out = c;
	return ret;
}

static struct kshm_ring_stats stats_of(struct kshm_ring *r)
{
	struct kshm_ring_stats st;

	tap_require(!kshm_ring_stats(r, &st), "ring stats");
	return st;
}

/* Does @rec carry the KSHM_REC_SEQ pattern; its sequence number in *@seq. */
static int seq_payload_ok(const struct kshm_ring_rec *rec, uint64_t *seq)
{
	const uint8_t *p = (const uint8_t *)(rec + 1);
	uint32_t i;

	if (rec->len < 8)
		return 0;
	memcpy(seq, p, 8);
	for (i = 8; i < rec->len; i++)
		if (p[i] != (uint8_t)(*seq + i))
			return 0;
	return 1;
}

static void create_errors(int fd)
{
	struct kshm_ring_create c = { .size = sizeof(c),
				      .kind = KSHM_RING_K2U,
				      .data_size = 65536 };
	struct kshm_region_desc rd;
	struct kshm_ring k2u, u2k;
	int ro;

	tap_errno(raw_create(fd, 0, 65536, 0, 0, NULL), EINVAL, "ring_create_kind_0_einval");
	tap_errno(raw_create(fd, 3, 65536, 0, 0, NULL), EINVAL, "ring_create_kind_3_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 3 * 4096, 0, 0, NULL), EINVAL,
		  "ring_create_size_not_power_of_two_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 2048, 0, 0, NULL), EINVAL,
		  "ring_create_size_below_4096_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 32 << 20, 0, 0, NULL), EINVAL,
		  "ring_create_size_above_16_mib_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 0, 0, 0, NULL), EINVAL,
		  "ring_create_size_0_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 65536, 1U << 5, 0, NULL), EINVAL,
		  "ring_create_unknown_flag_einval");
	tap_errno(raw_create(fd, KSHM_RING_U2K, 65536, KSHM_RING_BLOCK, 0, NULL), EINVAL,
		  "ring_create_block_on_u2k_einval");
	c.__reserved = 1;
	tap_errno(raw_ioctl(fd, KSHM_IOC_RING_CREATE, &c), EINVAL, "ring_create_reserved_einval");
	tap_errno(raw_create(fd, KSHM_RING_K2U, 65536, 0, 1, NULL), EINVAL,
		  "ring_create_echo_on_k2u_einval");
	tap_errno(raw_create(fd, KSHM_RING_U2K, 65536, 0, 4000, NULL), ENOENT,
		  "ring_create_echo_unknown_enoent");
	tap_require(!kshm_region_create(fd, page, 0, &rd), "region");
	tap_errno(raw_create(fd, KSHM_RING_U2K, 65536, 0, rd.id, NULL), EINVAL,
		  "ring_create_echo_plain_region_einval");
	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 65536, KSHM_CACHE_WB, 0, 0, &u2k), "u2k");
	tap_errno(raw_create(fd, KSHM_RING_U2K, 65536, 0, u2k.id, NULL), EINVAL,
		  "ring_create_echo_u2k_einval");
	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &k2u), "k2u");
	tap_errno(raw_create(fd, KSHM_RING_U2K, 131072, 0, k2u.id, NULL), EINVAL,
		  "ring_create_echo_ring_smaller_than_its_records_einval");

	/* A ring's pages belong to its protocol: no fill, copy or plain engine. */
	tap_errno(kshm_region_fill(fd, k2u.id, 8, 0, 1, 0, 0), EINVAL, "ring_region_fill_einval");
	{
		char b[16];

		tap_errno(kshm_region_read(fd, k2u.id, 0, b, sizeof(b)), EINVAL,
			  "ring_region_copy_einval");
	}
	tap_errno(kshm_engine_start(fd, 0, k2u.id, 1000, 0, 64, 1), EINVAL,
		  "ring_region_plain_engine_einval");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_RING, rd.id, 1000, 0, 64, 1), EINVAL,
		  "engine_ring_target_plain_region_einval");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_RING, u2k.id, 1000, 0, 64, 1), EINVAL,
		  "engine_ring_target_u2k_einval");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_RING, k2u.id, 1000, 8, 64, 1), EINVAL,
		  "engine_ring_target_offset_einval");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_RING | KSHM_TARGET_BUF, k2u.id, 1000, 0, 64, 1),
		  EINVAL, "engine_ring_and_buf_einval");
	tap_errno(kshm_engine_start(fd, KSHM_TARGET_RING, k2u.id, 1000, 0, k2u.rec_max + 8, 1),
		  EINVAL, "engine_ring_record_above_rec_max_einval");

	/* The ring ioctls on what is not a ring, or not this kind. */
	{
		struct kshm_ring fake = { .fd = fd, .id = rd.id };
		struct kshm_ring gone = { .fd = fd, .id = 4000 };
		struct kshm_ring_stats st;

		tap_errno(kshm_ring_stats(&fake, &st), EINVAL, "ring_stats_plain_region_einval");
		tap_errno(kshm_ring_wait(&gone, 0), ENOENT, "ring_wait_unknown_enoent");
		tap_errno(kshm_ring_doorbell(&gone), ENOENT, "ring_doorbell_unknown_enoent");
		tap_errno(kshm_ring_kernel_produce(&u2k, 0, KSHM_REC_SEQ, 8, 1, 0, NULL), EINVAL,
			  "ring_produce_u2k_einval");
		tap_errno(kshm_ring_kernel_produce(&k2u, 0, KSHM_REC_SEQ, 4, 1, 0, NULL), EINVAL,
			  "ring_produce_len_below_8_einval");
		tap_errno(kshm_ring_kernel_produce(&k2u, 0, KSHM_REC_SEQ, k2u.rec_max + 8, 1, 0,
						   NULL),
			  EINVAL, "ring_produce_len_above_rec_max_einval");
		tap_errno(kshm_ring_kernel_produce(&k2u, 0, 0, 8, 1, 0, NULL), EINVAL,
			  "ring_produce_type_0_einval");
		tap_errno(kshm_ring_kernel_produce(&k2u, 0, KSHM_REC_SEQ, 8, 65537, 0, NULL),
			  EINVAL, "ring_produce_count_above_65536_einval");
		tap_errno(kshm_ring_kernel_produce(&k2u, KSHM_RING_PRODUCE_WAIT, KSHM_REC_SEQ, 8, 1,
						   0, NULL),
			  EINVAL, "ring_produce_wait_without_block_einval");
		tap_errno(kshm_ring_set_eventfd(&k2u, 0), EINVAL,
			  "ring_set_eventfd_not_eventfd_einval");
		tap_errno(kshm_ring_set_eventfd(&k2u, 999), EBADF, "ring_set_eventfd_bad_fd_ebadf");
		tap_errno(kshm_ring_set_eventfd(&k2u, -2), EINVAL,
			  "ring_set_eventfd_below_minus_1_einval");
		tap_zero(kshm_ring_set_eventfd(&k2u, -1), "ring_set_eventfd_none");
		{
			struct kshm_ring_wait w = { .size = sizeof(w),
						    .id = k2u.id,
						    .__reserved = 1 };
			struct kshm_ring_doorbell d = { .size = sizeof(d),
							.id = k2u.id,
							.__reserved = 1 };

			tap_errno(raw_ioctl(fd, KSHM_IOC_RING_WAIT, &w), EINVAL,
				  "ring_wait_reserved_einval");
			tap_errno(raw_ioctl(fd, KSHM_IOC_RING_DOORBELL, &d), EINVAL,
				  "ring_doorbell_reserved_einval");
			w.__reserved = 0;
			w.flags = 1;
			tap_errno(raw_ioctl(fd, KSHM_IOC_RING_WAIT, &w), EINVAL,
				  "ring_wait_flags_einval");
		}
		{
			/* A command without results never writes the caller's struct. */
			struct kshm_ring_doorbell *d = mmap(NULL, page, PROT_READ | PROT_WRITE,
							    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			d->size = sizeof(*d);
			d->id = k2u.id;
			mprotect(d, page, PROT_READ);
			tap_zero(raw_ioctl(fd, KSHM_IOC_RING_DOORBELL, d),
				 "ring_doorbell_struct_in_read_only_memory_works");
			munmap(d, page);
		}
	}

	/* Mutating ring commands need an fd opened for writing. */
	ro = open("/dev/kshm", O_RDONLY);
	tap_require(ro >= 0, "open O_RDONLY");
	tap_errno(raw_create(ro, KSHM_RING_K2U, 65536, 0, 0, NULL), EBADF,
		  "ring_create_rdonly_fd_ebadf");
	close(ro);
	kshm_ring_destroy(&k2u);
	kshm_ring_destroy(&u2k);
	kshm_region_destroy(fd, rd.id);
}

/* Each side maps writable only what it writes; mprotect cannot lift it. */
static void mapping_rules(int fd)
{
	struct kshm_ring_create c;
	uint64_t size = 4 * page;
	void *p;

	tap_require(!raw_create(fd, KSHM_RING_K2U, size, 0, 0, &c), "k2u");
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c.mmap_offset + c.cons_off);
	tap_ok(p != MAP_FAILED, "ring_k2u_consumer_page_maps_writable");
	munmap(p, page);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c.mmap_offset + c.prod_off);
	tap_ok(p == MAP_FAILED && errno == EPERM, "ring_k2u_producer_page_writable_eperm");
	p = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 c.mmap_offset + c.data_off);
	tap_ok(p == MAP_FAILED && errno == EPERM, "ring_k2u_data_writable_eperm");
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c.mmap_offset);
	tap_ok(p == MAP_FAILED && errno == EPERM, "ring_k2u_consumer_and_producer_writable_eperm");
	p = mmap(NULL, 2 * size, PROT_READ, MAP_SHARED, fd, c.mmap_offset + c.data_off);
	tap_require(p != MAP_FAILED, "map data read-only");
	tap_ok(mprotect(p, 2 * size, PROT_READ | PROT_WRITE) && errno == EACCES,
	       "ring_k2u_data_mprotect_write_eacces");
	munmap(p, 2 * size);
	p = mmap(NULL, 2 * size + page, PROT_READ, MAP_SHARED, fd, c.mmap_offset + c.data_off);
	tap_ok(p == MAP_FAILED && errno == EINVAL, "ring_map_past_second_copy_einval");
	kshm_region_destroy(fd, c.id);

	tap_require(!raw_create(fd, KSHM_RING_U2K, size, 0, 0, &c), "u2k");
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, c.mmap_offset + c.cons_off);
	tap_ok(p == MAP_FAILED && errno == EPERM, "ring_u2k_consumer_page_writable_eperm");
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, c.mmap_offset + c.cons_off);
	tap_require(p != MAP_FAILED, "map consumer read-only");
	tap_ok(mprotect(p, page, PROT_READ | PROT_WRITE) && errno == EACCES,
	       "ring_u2k_consumer_mprotect_write_eacces");
	munmap(p, page);
	p = mmap(NULL, page + 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 c.mmap_offset + c.prod_off);
	tap_ok(p != MAP_FAILED, "ring_u2k_producer_and_data_map_writable");
	if (p != MAP_FAILED) {
		uint8_t *d = (uint8_t *)p + page;

		d[size - 3] = 0x5a;
		d[5] = 0xa5;
		tap_ok(d[2 * size - 3] == 0x5a && d[size + 5] == 0xa5,
		       "ring_data_mapped_twice_in_a_row");
		munmap(p, page + 2 * size);
	}
	kshm_region_destroy(fd, c.id);
}

/* Consume everything there is; check each record's pattern and order. */
static int drain_seq(struct kshm_ring *r, uint64_t *next_seq, uint32_t want_len, int *bad)
{
	const struct kshm_ring_rec *rec;
	uint64_t seq = 0;
	int n = 0;

	while ((rec = kshm_ring_next(r))) {
		if (rec->type != KSHM_REC_SEQ || !seq_payload_ok(rec, &seq) || seq != *next_seq ||
		    (want_len && rec->len != want_len))
			(*bad)++;
		*next_seq = seq + 1;
		n++;
	}
	kshm_ring_done(r);
	return n;
}

/* Records of several sizes, many times round the ring, each checked. */
static void k2u_sizes(int fd)
{
	static const uint32_t lens[] = { 8, 16, 24, 1000, 4088, 4096 };
	struct kshm_ring r;
	uint64_t next = 0, produced, total = 0;
	unsigned int i, round;
	int bad = 0;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4 * 4096, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	tap_ok(r.rec_max == 4096, "ring_rec_max_is_a_quarter (%u)", r.rec_max);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (round = 0; round < 20; round++) {
			tap_require(!kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, lens[i], 3, next,
							      &produced),
				    "produce");
			total += produced;
			drain_seq(&r, &next, lens[i], &bad);
		}
	}
	tap_ok(!bad && next == total && total == 6 * 20 * 3,
	       "ring_k2u_records_of_every_size_across_the_end_arrive_whole (%d bad)", bad);
	tap_ok(stats_of(&r).records == total && !stats_of(&r).dropped,
	       "ring_k2u_stats_count_records");
	kshm_ring_destroy(&r);
}

static int ring_read(int fd, uint32_t id, void *buf, uint64_t len, struct kshm_ring_read *out)
{
	struct kshm_ring_read rd = {
		.size = sizeof(rd), .id = id, .buf = (uintptr_t)buf, .len = len
	};
	int ret = raw_ioctl(fd, KSHM_IOC_RING_READ, &rd);

	if (out)
		*out = rd;
	return ret;
}

/* The copy path: the same records through a system call, whole and in order. */
static void k2u_copy_path(int fd)
{
	static uint8_t buf[65536];
	struct kshm_ring r;
	struct kshm_ring_read rd;
	const struct kshm_ring_rec *rec;
	uint64_t next = 0, seq = 0, off, got = 0, pos, produced, total = 0;
	int bad = 0, round;
	void *ro;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 16384, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	tap_errno(ring_read(fd, r.id, buf, sizeof(buf), NULL), EAGAIN, "ring_read_empty_eagain");
	for (round = 0; round < 20; round++) {
		tap_require(!kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8 + 40 * round, 30, 0,
						      &produced),
			    "produce");
		total += produced;
		while (!ring_read(fd, r.id, buf, 1000, &rd)) {
			for (off = 0; off < rd.bytes; off += KSHM_RING_REC_SPACE(rec->len)) {
				rec = (const void *)(buf + off);
				if (!seq_payload_ok(rec, &seq) || seq != next)
					bad++;
				next = seq + 1;
				got++;
			}
		}
		next = 0;
	}
	tap_ok(!bad && got == total && total > 20 * 20,
	       "ring_read_copies_every_record_whole_in_order (%llu of %llu, %d bad)",
	       (unsigned long long)got, (unsigned long long)total, bad);
	tap_ok(r.cons->pos == r.prod->pos, "ring_read_moves_the_consumer_position");

	kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 800, 1, 0, NULL);
	tap_errno(ring_read(fd, r.id, buf, 100, NULL), EINVAL,
		  "ring_read_buffer_below_a_record_einval");
	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pos = r.cons->pos;
	tap_errno(ring_read(fd, r.id, ro, page, NULL), EFAULT, "ring_read_bad_buffer_efault");
	tap_ok(r.cons->pos == pos, "ring_read_fault_leaves_the_position");
	munmap(ro, page);
	r.cons->pos = pos + 8; /* inside the record */
	tap_errno(ring_read(fd, r.id, buf, sizeof(buf), NULL), EINVAL,
		  "ring_read_position_not_at_a_record_einval");
	r.cons->pos = pos;
	tap_ok(!ring_read(fd, r.id, buf, sizeof(buf), &rd) && rd.records == 1,
	       "ring_read_after_the_position_is_sane");
	kshm_ring_destroy(&r);
	{
		struct kshm_ring u;

		tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &u),
			    "u2k");
		tap_errno(ring_read(fd, u.id, buf, sizeof(buf), NULL), EINVAL,
			  "ring_read_u2k_einval");
		kshm_ring_destroy(&u);
	}
}

/* A full ring drops, counts the drops where the application sees them. */
static void k2u_drops(int fd)
{
	struct kshm_ring r;
	uint64_t produced = 0, next = 0;
	int bad = 0, n;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	tap_zero(kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 56, 100, 0, &produced),
		 "ring_k2u_full_produce_succeeds");
	tap_ok(produced == 4096 / 64, "ring_k2u_full_takes_what_fits (%llu)",
	       (unsigned long long)produced);
	tap_ok(r.prod->dropped == 100 - produced && stats_of(&r).dropped == 100 - produced,
	       "ring_k2u_drops_counted_in_producer_page_and_stats");
	n = drain_seq(&r, &next, 56, &bad);
	tap_ok(n == (int)produced && !bad, "ring_k2u_full_ring_never_overwrote_unread_records");
	kshm_ring_destroy(&r);
}

struct producer {
	struct kshm_ring *ring;
	uint16_t type;
	uint32_t len;
	uint64_t count;
	uint32_t flags;
	uint64_t produced;
	int err;
	volatile int stop;
	volatile int done;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t seq = 0, done;
	uint32_t chunk;

	while (seq < p->count && !p->stop) {
		chunk = p->count - seq > 4096 ? 4096 : (uint32_t)(p->count - seq);
		p->err = kshm_ring_kernel_produce(p->ring, p->flags, p->type, p->len, chunk, seq,
						  &done);
		if (p->err)
			break;
		p->produced += done;
		seq += chunk;
	}
	p->done = 1;
	return NULL;
}

/*
 * Order and no loss: the engine (hard IRQ) and two threads produce into one
 * ring while this thread consumes busily.  Per source, sequence numbers
 * only go up by one, except where records were dropped, and the gaps add
 * up to the drop counter.  The busy consumer never asks for a wakeup: the
 * ring must cause none.
 */
static void k2u_many_producers(int fd)
{
	struct kshm_ring r;
	struct producer pr[2] = {
		{ .ring = &r, .type = 10, .len = 16, .count = many },
		{ .ring = &r, .type = 11, .len = 40, .count = many },
	};
	pthread_t t[2];
	uint64_t next[3] = { 1, 0, 0 }, got[3] = { 0 }, gaps = 0, seq, ticks;
	const struct kshm_ring_rec *rec;
	struct kshm_ring_stats st;
	int bad = 0, src, i, live = 2;
	double start = now_ms();

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 1 << 20, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 50, 0, 24, 0), "engine");
	for (i = 0; i < 2; i++)
		tap_require(!pthread_create(&t[i], NULL, producer_main, &pr[i]), "thread");
	for (;;) {
		tap_require(now_ms() - start < 200000, "the producers finished within 200 s");
		while ((rec = kshm_ring_next(&r))) {
			src = rec->type == KSHM_REC_SEQ ? 0 : rec->type - 9;
			if (src < 0 || src > 2 || !seq_payload_ok(rec, &seq) || seq < next[src]) {
				bad++;
				continue;
			}
			gaps += seq - next[src];
			next[src] = seq + 1;
			got[src]++;
		}
		kshm_ring_done(&r);
		if (!live)
			break;
		if (pr[0].done && pr[1].done) {
			for (i = 0; i < 2; i++)
				pthread_join(t[i], NULL);
			kshm_engine_stop(fd, &ticks);
			live = 0; /* one more pass for the rest */
		}
	}
	/* Trailing drops of the engine have no later record to show a gap. */
	st = stats_of(&r);
	tap_diag("seed-free: %llu + %llu + %llu records (engine ticks %llu), %llu dropped, %.0f ms",
		 (unsigned long long)got[1], (unsigned long long)got[2], (unsigned long long)got[0],
		 (unsigned long long)ticks, (unsigned long long)st.dropped, now_ms() - start);
	tap_ok(!pr[0].err && !pr[1].err, "ring_many_producers_ran");
	tap_ok(!bad, "ring_many_producers_every_record_whole_and_in_order (%d bad)", bad);
	tap_ok(got[1] + got[2] == pr[0].produced + pr[1].produced && got[0] <= ticks &&
		       got[0] + got[1] + got[2] + st.dropped == ticks + 2 * many,
	       "ring_many_producers_nothing_lost_but_counted_drops");
	tap_ok(gaps + (ticks - (next[0] - 1)) + (2 * many - next[1] - next[2]) == st.dropped,
	       "ring_many_producers_gaps_equal_the_drop_counter (gaps %llu)",
	       (unsigned long long)gaps);
	tap_ok(st.wakeups == 0, "ring_busy_consumer_causes_no_wakeup (%llu)",
	       (unsigned long long)st.wakeups);
	kshm_ring_destroy(&r);
}

/* A KSHM_RING_BLOCK ring: a waiting producer drops nothing. */
static void k2u_backpressure(int fd)
{
	struct kshm_ring r;
	struct producer pr = { .ring = &r,
			       .type = KSHM_REC_SEQ,
			       .len = 120,
			       .count = 20000,
			       .flags = KSHM_RING_PRODUCE_WAIT };
	pthread_t t;
	uint64_t next = 0;
	int bad = 0;

	tap_require(
		!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, KSHM_RING_BLOCK, 0, &r),
		"k2u block");
	double end = now_ms() + 120000;

	tap_require(!pthread_create(&t, NULL, producer_main, &pr), "thread");
	while (next < pr.count && !bad) {
		tap_require(now_ms() < end, "the blocked producer finished within 120 s");
		if (!drain_seq(&r, &next, 120, &bad))
			kshm_ring_wait(&r, 100000000);
	}
	pthread_join(t, NULL);
	tap_ok(!pr.err && pr.produced == pr.count && next == pr.count && !bad,
	       "ring_block_producer_waits_for_space_and_loses_nothing");
	tap_ok(!stats_of(&r).dropped && !r.prod->dropped, "ring_block_drops_nothing");
	tap_ok(r.doorbells > 0, "ring_block_consumer_rang_for_the_waiting_producer (%llu)",
	       (unsigned long long)r.doorbells);
	kshm_ring_destroy(&r);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* poll, epoll, the ring's eventfd, blocking waits with and without timeout. */
static void wakeups(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	struct epoll_event ev = { .events = EPOLLPRI }, out;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct kshm_ring r;
	uint64_t next = 0, v, ticks;
	int ep, efd, bad = 0;
	double t0;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	ep = epoll_create1(0);
	efd = eventfd(0, EFD_NONBLOCK);
	tap_require(ep >= 0 && efd >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), "epoll");
	tap_zero(kshm_ring_set_eventfd(&r, efd), "ring_set_eventfd");

	next = 1; /* the engine's first tick */
	tap_ok(poll(&pfd, 1, 0) == 0, "ring_poll_empty_not_readable");
	tap_ok(epoll_wait(ep, &out, 1, 0) == 0, "ring_epoll_empty_not_readable");
	tap_errno(kshm_ring_wait(&r, 0), ETIMEDOUT, "ring_wait_timeout_0_empty_etimedout");
	t0 = now_ms();
	tap_errno(kshm_ring_wait(&r, 30000000), ETIMEDOUT, "ring_wait_timeout_empty_etimedout");
	tap_ok(now_ms() - t0 >= 25, "ring_wait_timeout_slept");

	/* Records that come while we sleep wake every kind of sleeper. */
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 20000, 0, 16, 1), "engine");
	tap_ok(kshm_ring_want_wakeup(&r, 1) == 0, "ring_want_wakeup_before_poll");
	tap_ok(poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLPRI), "ring_poll_wakes_on_record");
	kshm_engine_stop(fd, &ticks);
	drain_seq(&r, &next, 0, &bad);
	next = 1;
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 20000, 0, 16, 1), "engine");
	tap_ok(epoll_wait(ep, &out, 1, 10000) == 1, "ring_epoll_wakes_on_record");
	kshm_engine_stop(fd, &ticks);
	kshm_ring_want_wakeup(&r, 0);
	drain_seq(&r, &next, 0, &bad);
	pfd.events = POLLPRI;
	tap_ok(poll(&pfd, 1, 0) == 0, "ring_poll_not_ready_once_consumed");
	/* What the flag asked for so far has been signalled: start counting afresh. */
	if (read(efd, &v, 8) < 0)
		v = 0;
	next = 1;
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 20000, 0, 16, 1), "engine");
	tap_zero(kshm_ring_wait(&r, UINT64_MAX), "ring_wait_forever_wakes_on_record");
	kshm_engine_stop(fd, &ticks);
	drain_seq(&r, &next, 0, &bad);
	next = 1;
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 20000, 0, 16, 1), "engine");
	tap_zero(kshm_ring_wait(&r, 10000000000ULL), "ring_wait_timeout_wakes_on_record");
	kshm_engine_stop(fd, &ticks);
	drain_seq(&r, &next, 0, &bad);

	/* The eventfd: only when the consumer asked for a wakeup. */
	next = 1;
	tap_ok(read(efd, &v, 8) < 0 && errno == EAGAIN, "ring_eventfd_quiet_while_nobody_asked");
	tap_ok(kshm_ring_want_wakeup(&r, 1) == 0, "ring_want_wakeup_empty_says_sleep");
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 20000, 0, 16, 1), "engine");
	pfd.fd = efd;
	pfd.events = POLLIN;
	tap_ok(poll(&pfd, 1, 10000) == 1 && read(efd, &v, 8) == 8,
	       "ring_eventfd_signalled_when_consumer_asked");
	kshm_ring_want_wakeup(&r, 0);
	kshm_engine_stop(fd, &ticks);
	drain_seq(&r, &next, 0, &bad);
	tap_require(!kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8, 10, 0, NULL), "produce");
	usleep(100000); /* a wakeup would have run (an irq_work thread on RT) */
	tap_ok(read(efd, &v, 8) < 0 && errno == EAGAIN,
	       "ring_eventfd_not_signalled_after_flag_cleared");
	pfd.fd = fd;
	pfd.events = POLLIN;
	tap_ok(poll(&pfd, 1, 0) == 0, "ring_records_do_not_make_the_device_readable_for_read");
	pfd.events = POLLPRI;
	tap_ok(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLPRI),
	       "ring_records_make_the_device_pollpri");
	tap_ok(kshm_ring_want_wakeup(&r, 1) == 1,
	       "ring_want_wakeup_with_records_says_do_not_sleep");
	kshm_ring_want_wakeup(&r, 0);
	next = 0;
	drain_seq(&r, &next, 0, &bad);

	/* A signal ends a wait without timeout with EINTR. */
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	tap_errno(kshm_ring_wait(&r, UINT64_MAX), EINTR, "ring_wait_forever_signal_eintr");
	alarm(1);
	tap_errno(kshm_ring_wait(&r, 60000000000ULL), EINTR, "ring_wait_timeout_signal_eintr");
	tap_ok(!bad, "ring_wakeup_records_whole");
	kshm_ring_set_eventfd(&r, -1);
	close(efd);
	close(ep);
	kshm_ring_destroy(&r);
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

/* The kernel consumer: random sizes, many wraps, counted and hashed. */
static void u2k_consumer(int fd)
{
	struct kshm_ring r;
	struct kshm_ring_stats st;
	uint64_t h = 0xcbf29ce484222325ULL, n = 20000, i, bytes = 0, submits = 0;
	uint8_t *p;
	uint32_t len;
	int ret = 0;

	srand(seed);
	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 16384, KSHM_CACHE_WB, 0, 0, &r), "u2k");
	for (i = 0; i < n; i++) {
		len = 8 + (uint32_t)rand() % (r.rec_max - 7);
		while (!(p = kshm_ring_reserve(&r, len, KSHM_REC_SEQ))) {
			ret |= kshm_ring_submit(&r);
			submits++;
			tap_require(kshm_ring_wait(&r, 10000000000ULL) == 0,
				    "the kernel consumer made room within 10 s");
		}
		memcpy(p, &i, 8);
		for (uint32_t j = 8; j < len; j++)
			p[j] = (uint8_t)(i + j);
		h = fnv(h, p, len);
		bytes += len;
		if (rand() % 4 == 0) {
			ret |= kshm_ring_submit(&r);
			submits++;
		}
	}
	ret |= kshm_ring_submit(&r);
	submits++;
	tap_zero(ret, "ring_u2k_submit_doorbells_succeed");
	tap_zero(kshm_ring_wait(&r, 10000000000ULL), "ring_u2k_wait_until_consumed");
	st = stats_of(&r);
	tap_ok(st.records == n && st.bytes == bytes, "ring_u2k_kernel_consumed_every_record");
	tap_ok(!st.seq_errors && !st.invalid && !st.broken, "ring_u2k_every_record_valid");
	tap_ok(st.hash == h, "ring_u2k_kernel_read_exactly_the_bytes_written");
	tap_diag("%llu records, %llu submits, %llu doorbells", (unsigned long long)n,
		 (unsigned long long)submits, (unsigned long long)r.doorbells);
	tap_ok(r.doorbells == st.doorbells && r.doorbells <= submits,
	       "ring_u2k_never_more_doorbells_than_submits");
	kshm_ring_destroy(&r);

	/* The kernel idle: exactly one doorbell per submit, none without. */
	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 16384, KSHM_CACHE_WB, 0, 0, &r), "u2k");
	for (i = 0; i < 3; i++) {
		p = kshm_ring_reserve(&r, 8, KSHM_REC_SEQ);
		memcpy(p, &i, 8);
		kshm_ring_submit(&r);
		kshm_ring_wait(&r, 10000000000ULL);
	}
	tap_ok(r.doorbells == 3 && stats_of(&r).records == 3,
	       "ring_u2k_idle_kernel_one_doorbell_per_submit");
	kshm_ring_destroy(&r);
}

/*
 * A user-to-kernel producer that sleeps on the ring's eventfd for space:
 * the kernel signals it once it has consumed, and only because it asked.
 */
static void u2k_producer_sleeps(int fd)
{
	struct kshm_ring r;
	struct pollfd pfd;
	uint64_t v, n = 0;
	int efd = eventfd(0, EFD_NONBLOCK);
	void *p;

	tap_require(efd >= 0 && !kshm_ring_create(fd, KSHM_RING_U2K, 4096, KSHM_CACHE_WB, 0, 0, &r),
		    "u2k");
	tap_zero(kshm_ring_set_eventfd(&r, efd), "ring_u2k_set_eventfd");
	while ((p = kshm_ring_reserve(&r, 56, KSHM_REC_SEQ))) {
		memcpy(p, &n, 8);
		for (int j = 8; j < 56; j++)
			((uint8_t *)p)[j] = (uint8_t)(n + j);
		n++;
	}
	tap_ok(n == 4096 / 64 && kshm_ring_want_wakeup(&r, 1) == 0,
	       "ring_u2k_full_producer_told_to_sleep");
	kshm_ring_submit(&r);
	pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
	tap_ok(poll(&pfd, 1, 10000) == 1 && read(efd, &v, 8) == 8,
	       "ring_u2k_sleeping_producer_woken_by_the_kernel");
	tap_ok(kshm_ring_want_wakeup(&r, 1) == 1, "ring_u2k_want_wakeup_sees_space_freed");
	kshm_ring_want_wakeup(&r, 0);
	tap_ok(kshm_ring_reserve(&r, 56, KSHM_REC_SEQ) != NULL,
	       "ring_u2k_space_there_after_wakeup");
	tap_ok(stats_of(&r).records == n && !stats_of(&r).seq_errors,
	       "ring_u2k_sleeping_producer_records_whole");
	kshm_ring_destroy(&r);
	close(efd);
}

/* Echo: what the application sends comes back through a kernel-to-user ring. */
static void echo_round_trips(int fd)
{
	struct kshm_ring in, out;
	const struct kshm_ring_rec *rec;
	uint8_t msg[1024];
	uint8_t *p;
	uint32_t len;
	int i, ok = 0;

	srand(seed + 1);
	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 16384, KSHM_CACHE_WB, 0, 0, &out), "k2u");
	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 16384, KSHM_CACHE_WB, 0, out.id, &in),
		    "u2k echo");
	for (i = 0; i < 300; i++) {
		len = (uint32_t)rand() % sizeof(msg);
		for (uint32_t j = 0; j < len; j++)
			msg[j] = (uint8_t)rand();
		p = kshm_ring_reserve(&in, len, KSHM_REC_ECHO);
		tap_require(p != NULL, "reserve");
		memcpy(p, msg, len);
		kshm_ring_submit(&in);
		while (!(rec = kshm_ring_next(&out)))
			tap_require(kshm_ring_wait(&out, 10000000000ULL) == 0,
				    "the echo came back within 10 s");
		ok += rec->type == KSHM_REC_ECHO && rec->len == len && !memcmp(rec + 1, msg, len);
		kshm_ring_done(&out);
	}
	tap_ok(ok == 300, "ring_echo_round_trips_of_random_sizes (%d of 300)", ok);
	kshm_ring_destroy(&in);
	kshm_ring_destroy(&out);
}

/* --- a hostile application ------------------------------------------------------- */

struct scribbler {
	volatile uint64_t *words;
	size_t nwords;
	unsigned int seed;
	volatile int stop;
};

static void *scribble_main(void *arg)
{
	struct scribbler *s = arg;
	unsigned int st = s->seed;
	uint64_t v;

	while (!s->stop) {
		v = (uint64_t)rand_r(&st) << 40 ^ (uint64_t)rand_r(&st) << 20 ^ rand_r(&st);
		if (rand_r(&st) % 4 == 0)
			v = -(uint64_t)(rand_r(&st) % 64); /* near 2^64 */
		s->words[rand_r(&st) % s->nwords] = v;
	}
	return NULL;
}

/*
 * The consumer page of a kernel-to-user ring is all the application can
 * write: positions ahead, far behind, near 2^64, random.  The kernel counts
 * them, stays in bounds, and the ring works again once the position is sane.
 */
static void hostile_k2u(int fd)
{
	struct kshm_ring r;
	struct producer pr = { .ring = &r, .type = KSHM_REC_SEQ, .len = 32, .count = 2000000 };
	struct scribbler s = { .nwords = 2, .seed = seed };
	pthread_t t[2];
	uint64_t produced, next, ticks, prod;
	int bad = 0;
	double end;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 8192, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	prod = r.prod->pos;
	r.cons->pos = prod + 8;
	tap_zero(kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8, 1, 0, &produced),
		 "ring_hostile_cons_ahead_produce_returns");
	tap_ok(!produced && stats_of(&r).bad_pos == 1,
	       "ring_hostile_cons_ahead_counted_nothing_written");
	r.cons->pos = prod - 8192 - 8;
	kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8, 1, 0, &produced);
	tap_ok(!produced && stats_of(&r).bad_pos == 2, "ring_hostile_cons_far_behind_counted");
	r.cons->pos = prod + (1ULL << 63);
	kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8, 1, 0, &produced);
	tap_ok(!produced && stats_of(&r).bad_pos == 3,
	       "ring_hostile_cons_half_the_space_away_counted");
	tap_ok(r.prod->pos == prod && stats_of(&r).dropped == 3,
	       "ring_hostile_bad_cons_drops_producer_position_untouched");
	/* 2^64 - 8 is 8 bytes behind position 0: sane, it only costs space. */
	r.cons->pos = UINT64_MAX - 7;
	kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 8, 1000, 0, &produced);
	tap_ok(produced == (8192 - 8) / 16 && stats_of(&r).bad_pos == 3,
	       "ring_hostile_cons_wrapped_below_0_is_a_position_like_any (%llu)",
	       (unsigned long long)produced);
	r.cons->pos = r.prod->pos;

	s.words = (volatile uint64_t *)r.cons;
	tap_diag("scribbling on the consumer page for 2 s, seed %u", seed);
	tap_require(!kshm_engine_start(fd, KSHM_TARGET_RING, r.id, 50, 0, 16, 0), "engine");
	tap_require(!pthread_create(&t[0], NULL, producer_main, &pr), "producer");
	tap_require(!pthread_create(&t[1], NULL, scribble_main, &s), "scribbler");
	end = now_ms() + 2000;
	while (now_ms() < end)
		usleep(10000);
	s.stop = 1;
	pthread_join(t[1], NULL);
	kshm_engine_stop(fd, &ticks);
	pr.stop = 1;
	pthread_join(t[0], NULL);
	tap_ok(!pr.err, "ring_hostile_scribbling_producer_kept_going");
	tap_ok(stats_of(&r).bad_pos > 3, "ring_hostile_scribbling_bad_positions_counted (%llu)",
	       (unsigned long long)stats_of(&r).bad_pos);
	/* Sane again: records flow and are whole. */
	r.cons->pos = r.prod->pos;
	r.pos = r.cached = r.prod->pos;
	next = 7;
	kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 64, 50, 7, &produced);
	tap_ok(produced == 50 && drain_seq(&r, &next, 64, &bad) == 50 && !bad,
	       "ring_hostile_k2u_works_again_after_scribbling");
	kshm_ring_destroy(&r);
}

/* A user-to-kernel ring with raw records and a position written by hand. */
static struct kshm_ring_stats u2k_send_raw(int fd, uint32_t len, uint16_t type, uint16_t flags,
					   int64_t pos_delta, int then_valid)
{
	struct kshm_ring r;
	struct kshm_ring_rec *rec;
	struct kshm_ring_stats st;
	uint8_t *p;
	uint64_t seq = 0;

	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 8192, KSHM_CACHE_WB, 0, 0, &r), "u2k");
	rec = (struct kshm_ring_rec *)r.data;
	rec->len = len;
	rec->type = type;
	rec->flags = flags;
	if (len <= 4096) {
		p = (uint8_t *)(rec + 1);
		memcpy(p, &seq, 8);
		for (uint32_t j = 8; j < len; j++)
			p[j] = (uint8_t)j;
	}
	/* A length the ring cannot hold: the position says 64 bytes. */
	r.pos = len <= 8192 ? KSHM_RING_REC_SPACE(len) : 64;
	if (then_valid) {
		p = kshm_ring_reserve(&r, 8, KSHM_REC_SEQ);
		memset(p, 0, 8);
	}
	__atomic_store_n(&r.prod->pos, r.pos + pos_delta, __ATOMIC_RELEASE);
	kshm_ring_doorbell(&r);
	kshm_ring_wait(&r, 5000000000ULL);
	st = stats_of(&r);
	st.flags = r.cons->flags;
	/* Both say EPIPE once broken. */
	st.__reserved = (kshm_ring_wait(&r, 0) == -EPIPE) + (kshm_ring_doorbell(&r) == -EPIPE);
	kshm_ring_destroy(&r);
	return st;
}

static void hostile_u2k(int fd)
{
	struct kshm_ring_stats st;

	st = u2k_send_raw(fd, 16, 77, 0, 0, 1);
	tap_ok(st.invalid == 1 && st.records == 1 && !st.broken,
	       "ring_hostile_unknown_type_counted_skipped_next_consumed");
	st = u2k_send_raw(fd, 16, KSHM_REC_SEQ, 1, 0, 1);
	tap_ok(st.invalid == 1 && st.records == 1 && !st.broken,
	       "ring_hostile_flags_set_counted_skipped_next_consumed");
	st = u2k_send_raw(fd, 16, 0, 0, 0, 1);
	tap_ok(st.invalid == 1 && st.records == 1, "ring_hostile_type_0_counted_skipped");
	st = u2k_send_raw(fd, 0, KSHM_REC_SEQ, 0, 0, 1);
	tap_ok(st.records == 2 && st.seq_errors == 1 && !st.broken,
	       "ring_hostile_length_0_consumed_as_a_wrong_record");
	st = u2k_send_raw(fd, 2049, KSHM_REC_SEQ, 0, 0, 0);
	tap_ok(st.broken && (st.flags & KSHM_RING_BROKEN) && !st.records,
	       "ring_hostile_length_above_rec_max_breaks_the_ring");
	st = u2k_send_raw(fd, 1u << 30, KSHM_REC_SEQ, 0, 0, 0);
	tap_ok(st.broken && !st.records, "ring_hostile_length_larger_than_the_ring_breaks_it");
	st = u2k_send_raw(fd, KSHM_RING_REC_BUSY | 8, KSHM_REC_SEQ, 0, 0, 0);
	tap_ok(st.broken && !st.records, "ring_hostile_busy_bit_breaks_it");
	st = u2k_send_raw(fd, 64, KSHM_REC_SEQ, 0, -16, 0);
	tap_ok(st.broken && !st.records,
	       "ring_hostile_record_crossing_the_producer_position_breaks_it");
	st = u2k_send_raw(fd, 8, KSHM_REC_SEQ, 0, 8192 + 64, 0);
	tap_ok(st.broken && st.bad_pos == 1 && !st.records,
	       "ring_hostile_producer_ahead_by_more_than_the_ring_counted_breaks_it");
	st = u2k_send_raw(fd, 8, KSHM_REC_SEQ, 0, -(int64_t)KSHM_RING_REC_SPACE(8) - 8, 0);
	tap_ok(st.broken && st.bad_pos == 1, "ring_hostile_producer_behind_the_consumer_breaks_it");
	st = u2k_send_raw(fd, 8, KSHM_REC_SEQ, 0, -4, 0);
	tap_ok(st.broken && !st.records, "ring_hostile_producer_inside_a_header_breaks_it");
	tap_ok(st.__reserved == 2, "ring_broken_wait_and_doorbell_epipe");
}

/* Random bytes over everything the application may write, with doorbells. */
static void hostile_u2k_scribble(int fd)
{
	struct kshm_ring r;
	struct scribbler s = { .seed = seed + 2 };
	struct kshm_ring_stats st;
	pthread_t t;
	double end;
	int i;

	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, 8192, KSHM_CACHE_WB, 0, 0, &r), "u2k");
	s.words = (volatile uint64_t *)r.prod;
	s.nwords = (page + 2 * 8192) / 8;
	tap_diag("scribbling on the producer page and data for 2 s, seed %u", s.seed);
	tap_require(!pthread_create(&t, NULL, scribble_main, &s), "scribbler");
	end = now_ms() + 2000;
	for (i = 0; now_ms() < end; i++) {
		if (i % 64 == 0)
			r.prod->pos = (uint64_t)rand() % 64 * 8; /* sometimes sane */
		kshm_ring_doorbell(&r);
		usleep(500);
	}
	s.stop = 1;
	pthread_join(t, NULL);
	kshm_ring_wait(&r, 2000000000ULL);
	st = stats_of(&r);
	tap_diag("records %llu invalid %llu bad_pos %llu broken %llu",
		 (unsigned long long)st.records, (unsigned long long)st.invalid,
		 (unsigned long long)st.bad_pos, (unsigned long long)st.broken);
	tap_ok(st.broken && (r.cons->flags & KSHM_RING_BROKEN) && r.cons->pos <= 8192 * 64,
	       "ring_hostile_scribbled_u2k_stops_in_bounds");
	kshm_ring_destroy(&r);
}

/*
 * The kernel consumer does at most twice the ring per doorbell: an
 * application that only moves its position over records already there
 * (each move costs it one store) gets that much work and no more until it
 * makes another system call.
 */
static void u2k_work_per_doorbell_bounded(int fd)
{
	struct kshm_ring r;
	uint64_t size = 16 << 20, len = size / 4 - 8, moves = 0, i;
	double end;
	uint8_t *p;

	tap_require(!kshm_ring_create(fd, KSHM_RING_U2K, size, KSHM_CACHE_WB, 0, 0, &r), "u2k");
	for (i = 0; i < 4; i++) {
		p = kshm_ring_reserve(&r, (uint32_t)len, KSHM_REC_ECHO);
		tap_require(p != NULL, "reserve");
		memset(p, (int)i, len);
	}
	kshm_ring_submit(&r);
	end = now_ms() + 1000;
	while (now_ms() < end) {
		/* One more of the same records, for one store, whenever there is room. */
		if (__atomic_load_n(&r.prod->pos, __ATOMIC_RELAXED) -
			    __atomic_load_n(&r.cons->pos, __ATOMIC_ACQUIRE) <=
		    size / 4 * 3) {
			__atomic_store_n(&r.prod->pos, r.prod->pos + size / 4, __ATOMIC_RELEASE);
			moves++;
		}
		usleep(100);
	}
	tap_diag("%llu records consumed for 1 doorbell and %llu position moves",
		 (unsigned long long)stats_of(&r).records, (unsigned long long)moves);
	tap_ok(stats_of(&r).records <= 8 && r.doorbells == 1 && moves >= 4,
	       "ring_u2k_consumer_work_bounded_per_doorbell");
	tap_ok(r.cons->flags & KSHM_RING_WANT_WAKEUP,
	       "ring_u2k_consumer_out_of_budget_asks_for_a_doorbell");
	tap_ok(!stats_of(&r).broken, "ring_u2k_moved_positions_were_sane");
	kshm_ring_destroy(&r);
}

/* Sleepers on a ring whose handle goes away wake with EPIPE. */
static void *waiter_main(void *arg)
{
	struct kshm_ring *r = arg;

	return (void *)(intptr_t)kshm_ring_wait(r, UINT64_MAX);
}

static void orphaned_sleepers(int fd)
{
	struct kshm_ring a, b;
	struct producer pr = { .ring = &b,
			       .type = KSHM_REC_SEQ,
			       .len = 56,
			       .count = 10,
			       .flags = KSHM_RING_PRODUCE_WAIT };
	pthread_t tw, tp;
	void *ret;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, 0, 0, &a), "k2u");
	tap_require(
		!kshm_ring_create(fd, KSHM_RING_K2U, 4096, KSHM_CACHE_WB, KSHM_RING_BLOCK, 0, &b),
		"k2u block");
	tap_require(!kshm_ring_kernel_produce(&b, 0, KSHM_REC_SEQ, 56, 64, 0, NULL), "fill");
	pthread_create(&tw, NULL, waiter_main, &a);
	pthread_create(&tp, NULL, producer_main, &pr);
	usleep(300000);
	tap_zero(kshm_region_destroy(fd, a.id), "ring_destroy_with_a_waiter");
	tap_zero(kshm_region_destroy(fd, b.id), "ring_destroy_with_a_blocked_producer");
	pthread_join(tw, &ret);
	tap_ok((intptr_t)ret == -EPIPE, "ring_wait_woken_by_destroy_epipe (%d)",
	       (int)(intptr_t)ret);
	pthread_join(tp, NULL);
	tap_ok(pr.err == -EPIPE && !pr.produced,
	       "ring_blocked_producer_woken_by_destroy_epipe (%d)", pr.err);
	munmap(a.rest_map, a.rest_len);
	munmap(a.cons_map, a.cons_len);
	munmap(b.rest_map, b.rest_len);
	munmap(b.cons_map, b.cons_len);
}

/* Any signal ends a long RING_PRODUCE with what it produced so far. */
static volatile int stop_keeper;

static void *keeper_main(void *arg)
{
	struct kshm_ring *r = arg;

	while (!stop_keeper)
		__atomic_store_n(&r->cons->pos, __atomic_load_n(&r->prod->pos, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
	return NULL;
}

static void produce_interrupted(int fd)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct kshm_ring r;
	uint64_t produced = 0;
	pthread_t t;
	int ret;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 16 << 20, KSHM_CACHE_WB, 0, 0, &r), "k2u");
	pthread_create(&t, NULL, keeper_main, &r);
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	ret = kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, r.rec_max, 65536, 0, &produced);
	stop_keeper = 1;
	pthread_join(t, NULL);
	tap_ok(!ret && produced > 0 && produced < 65536,
	       "ring_produce_ends_on_a_signal_with_its_count (%d, %llu)", ret,
	       (unsigned long long)produced);
	kshm_ring_destroy(&r);
}

/* --- lifetimes --------------------------------------------------------------------- */

static int child_fd;

static int busy_child(void)
{
	static struct kshm_ring k2u, u2k, echo;
	static struct producer pr;
	pthread_t t;

	child_fd = kshm_open(NULL);
	if (child_fd < 0 ||
	    kshm_ring_create(child_fd, KSHM_RING_K2U, 65536, KSHM_CACHE_WB, KSHM_RING_BLOCK, 0,
			     &k2u) ||
	    kshm_ring_create(child_fd, KSHM_RING_K2U, 65536, KSHM_CACHE_WC, 0, 0, &echo) ||
	    kshm_ring_create(child_fd, KSHM_RING_U2K, 65536, KSHM_CACHE_WB, 0, echo.id, &u2k) ||
	    kshm_engine_start(child_fd, KSHM_TARGET_RING, k2u.id, 50, 0, 64, 0))
		return 1;
	for (int i = 0; i < 100; i++) {
		void *p = kshm_ring_reserve(&u2k, 100, KSHM_REC_ECHO);

		if (!p)
			break;
		memset(p, i, 100);
	}
	kshm_ring_submit(&u2k);
	kshm_ring_doorbell(&u2k);
	pr = (struct producer){ .ring = &k2u,
				.type = KSHM_REC_SEQ,
				.len = 256,
				.count = 1 << 30,
				.flags = KSHM_RING_PRODUCE_WAIT };
	return pthread_create(&t, NULL, producer_main, &pr);
}

/* Killed with records in flight and a producer asleep: everything goes. */
static void kill_in_flight(int fd)
{
	struct kshm_info before = info_of(fd), after;
	pid_t pid = spawn_ready(busy_child);
	double end;

	tap_require(pid > 0, "child");
	usleep(200000);
	tap_ok(kill_and_reap(pid), "ring_kill_with_records_in_flight");
	end = now_ms() + 10000;
	do {
		usleep(20000);
		after = info_of(fd);
	} while (after.regions_alive != before.regions_alive && now_ms() < end);
	tap_ok(after.regions_alive == before.regions_alive &&
		       after.pages_alive == before.pages_alive,
	       "ring_kill_frees_every_ring");
}

/* Destroyed while mapped: the mapping still works; the pages go at munmap. */
static void destroy_while_mapped(int fd)
{
	struct kshm_info before = info_of(fd);
	struct kshm_ring r;
	uint64_t next = 0;
	int bad = 0;

	tap_require(!kshm_ring_create(fd, KSHM_RING_K2U, 8192, KSHM_CACHE_WC, 0, 0, &r), "k2u wc");
	tap_require(!kshm_ring_kernel_produce(&r, 0, KSHM_REC_SEQ, 24, 10, 0, NULL), "produce");
	tap_zero(kshm_region_destroy(fd, r.id), "ring_destroy_while_mapped");
	tap_ok(drain_seq(&r, &next, 24, &bad) == 10 && !bad,
	       "ring_wc_records_readable_after_destroy");
	munmap(r.rest_map, r.rest_len);
	munmap(r.cons_map, r.cons_len);
	tap_ok(info_of(fd).regions_alive == before.regions_alive, "ring_freed_at_last_munmap");
}

int main(void)
{
	const char *env = getenv("KSHM_RING_SEED");
	struct utsname u;
	int fd;

	page = sysconf(_SC_PAGESIZE);
	seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	tap_diag("seed %u (KSHM_RING_SEED=%u replays it)", seed, seed);
	/* KASAN makes the sanitizer kernel several times slower: fewer records. */
	if (!uname(&u) && strstr(u.release, "-san"))
		many = 200000;
	tap_diag("ordering test: 2 x %lu records from threads, plus the engine's", many);
	fd = kshm_open(NULL);
	tap_require(fd >= 0, "open /dev/kshm");
	create_errors(fd);
	mapping_rules(fd);
	k2u_sizes(fd);
	k2u_drops(fd);
	k2u_copy_path(fd);
	k2u_many_producers(fd);
	k2u_backpressure(fd);
	wakeups(fd);
	u2k_consumer(fd);
	u2k_producer_sleeps(fd);
	echo_round_trips(fd);
	hostile_k2u(fd);
	hostile_u2k(fd);
	hostile_u2k_scribble(fd);
	u2k_work_per_doorbell_bounded(fd);
	orphaned_sleepers(fd);
	produce_interrupted(fd);
	kill_in_flight(fd);
	destroy_while_mapped(fd);
	kshm_close(fd);
	return tap_done();
}
