// SPDX-License-Identifier: GPL-2.0
/*
 * Rings: lock-free record channels in a region's pages, one direction each
 * (include/uapi/linux/kshm_ring.h holds the protocol and its ordering
 * contract; the comments here name the pair of each barrier by its letter
 * there).
 *
 * Kernel-to-user: kshm_ring_reserve() and kshm_ring_commit() produce from
 * any context (hard IRQ included, on PREEMPT_RT too: the reservation lock
 * is a raw spinlock and wakeups go through an irq_work).  The application
 * writes only the consumer page; the kernel reads its position once per
 * reservation and never trusts it beyond that one use.
 *
 * User-to-kernel: a doorbell queues the consumer work, which copies each
 * header and payload into kernel memory once, then validates the copy.
 * Unknown types and set flags are counted and skipped; a length or
 * position that breaks the ring stops consumption for good (the
 * KSHM_RING_BROKEN flag), since nothing after it can be framed.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/irq_work.h>
#include <linux/log2.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <uapi/linux/kshm_ring.h>

#include "kshm.h"

#define KSHM_RING_MIN_DATA	4096ULL
#define KSHM_RING_MAX_DATA	(16ULL << 20)
#define KSHM_RING_MAX_PRODUCE	65536
/* Consumed bytes are handed back to the producer at least this often. */
#define KSHM_RING_CONS_BATCH	4096
/* The kernel consumer copies a payload into kernel memory this much at a time. */
#define KSHM_RING_CHUNK		4096

/**
 * struct kshm_ring - a ring's kernel state; the region holds it
 * @region: the region whose pages hold the ring (not a reference: the
 *	region owns the ring and frees it)
 * @kind: enum kshm_ring_kind
 * @flags: KSHM_RING_* of the create call
 * @size: bytes of record space, a power of two
 * @rec_max: the largest payload
 * @wc: the pages are write-combining: stores are fenced with wmb()
 * @cons: the consumer page, in the region's kernel mapping
 * @prod: the producer page
 * @data: the record space, mapped twice in a row
 * @lock: serialises kernel producers: @prod_pos, the header stores of
 *	reservations, @prod->pos, @prod->flags, @dropped, @space_waiters
 * @prod_pos: kernel-to-user: the next byte a reservation takes
 * @consume_lock: user-to-kernel: one consumer at a time; protects
 *	@cons_pos, @rec, and the writes of @hash and @broken (read locklessly)
 * @cons_pos: user-to-kernel: bytes consumed
 * @rec: user-to-kernel: the kernel's copy of a chunk of the record being
 *	consumed
 * @consume_work: user-to-kernel: consumes after a doorbell
 * @echo: user-to-kernel: the kernel-to-user ring KSHM_REC_ECHO records go
 *	to, holding a reference on its region, or NULL
 * @wake_work: wakes waiters and signals the eventfd, from any context
 * @wait: RING_WAIT callers and producers waiting for space
 * @space_waiters: producers waiting for space; KSHM_RING_WANT_WAKEUP in
 *	@prod->flags is up while there are any
 * @efd_lock: protects @efd
 * @efd: signalled when the sleeping side asked for it, or NULL
 * @kf: the file whose poll() reports the ring; the region holds it
 * @broken: consumption stopped on a bad length or position
 * @orphan: the region's handle is gone: no doorbell can come any more, and
 *	sleepers return EPIPE
 * @records: records produced or consumed
 * @bytes: their payload bytes
 * @dropped: records lost on a full ring
 * @invalid: records refused and skipped
 * @bad_pos: application positions that broke the invariant
 * @wakeups: wake_work runs
 * @doorbells: doorbell calls
 * @hash: FNV-1a of the payloads consumed
 * @seq_errors: KSHM_REC_SEQ records consumed that were not their pattern
 * @driver: user-to-kernel: a driver took the ring once
 *	(kshm_ring_from_fd_u2k()); the module's own consumer never runs on it
 *	again.  Set under @consume_lock, never cleared.
 * @taken: user-to-kernel: a driver holds the consumer role now; under
 *	@consume_lock
 * @notify_lock: protects @driver_wq
 * @driver_wq: the taker's wait queue, woken on a doorbell, a RING_WAIT
 *	and the ring's end, or NULL
 * @poll_wait: a client driver's poll() (kshm_ring_poll()), woken like the
 *	eventfd: only when the sleeping side raised KSHM_RING_WANT_WAKEUP
 * @rcu: frees the ring after an RCU grace period (wake_up_pollfree())
 */
struct kshm_ring {
	struct kshm_region *region;
	u32 kind;
	u32 flags;
	u64 size;
	u32 rec_max;
	bool wc;
	struct kshm_ring_cons *cons;
	struct kshm_ring_prod *prod;
	u8 *data;
	raw_spinlock_t lock;		/* protects kernel producer reservations */
	u64 prod_pos;
	struct mutex consume_lock;	/* one kernel consumer at a time */
	u64 cons_pos;
	u8 *rec;
	struct work_struct consume_work;
	struct kshm_ring *echo;
	struct irq_work wake_work;
	wait_queue_head_t wait;
	unsigned int space_waiters;
	spinlock_t efd_lock;		/* protects efd */
	struct eventfd_ctx *efd;
	struct kshm_file *kf;
	bool broken;
	bool orphan;
	atomic64_t records;
	atomic64_t bytes;
	u64 dropped;
	atomic64_t invalid;
	atomic64_t bad_pos;
	atomic64_t wakeups;
	atomic64_t doorbells;
	u64 hash;
	atomic64_t seq_errors;
	bool driver;
	bool taken;
	spinlock_t notify_lock;		/* protects driver_wq */
	wait_queue_head_t *driver_wq;
	wait_queue_head_t poll_wait;
	struct rcu_head rcu;
};

static inline u8 *kshm_ring_at(struct kshm_ring *ring, u64 pos)
{
	return ring->data + (pos & (ring->size - 1));
}

/* A producer's barrier before a release store: WC needs sfence on x86. */
static inline void kshm_ring_wc_fence(struct kshm_ring *ring)
{
	if (ring->wc)
		wmb();	/* WC stores: sfence before the caller's release store */
}

/* Bytes i & 0xff, twice: any 256 bytes of the pattern are one memcpy away. */
static u8 kshm_ring_pattern[512];

/*
 * The KSHM_REC_SEQ payload of @seq: the number, then bytes (seq + i) & 0xff.
 * Context: any.
 */
void kshm_ring_fill_seq(void *payload, u32 len, u64 seq)
{
	u8 *p = payload;
	u32 i, n;

	memcpy(p, &seq, sizeof(seq));
	for (i = sizeof(seq); i < len; i += n) {
		n = min_t(u32, len - i, 256);
		memcpy(p + i, kshm_ring_pattern + ((seq + i) & 0xff), n);
	}
}

/* Context: process (module init). */
void kshm_ring_init_module(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(kshm_ring_pattern); i++)
		kshm_ring_pattern[i] = (u8)i;
}

/* Wake who sleeps on the ring.  Context: irq_work (hard IRQ, or a thread on RT). */
static void kshm_ring_wake_fn(struct irq_work *work)
{
	struct kshm_ring *ring = container_of(work, struct kshm_ring, wake_work);
	unsigned long irqflags;
	u32 *sleeper;

	atomic64_inc(&ring->wakeups);
	wake_up_all(&ring->wait);
	/*
	 * The eventfd and poll() on the device only for a side that asked,
	 * in its flags word: a registered epoll costs no wakeup per record.
	 */
	sleeper = ring->kind == KSHM_RING_K2U ? &ring->cons->flags : &ring->prod->flags;
	if (!(READ_ONCE(*sleeper) & KSHM_RING_WANT_WAKEUP))
		return;
	/* A driver's ring has no /dev/kshm file. */
	if (ring->kf)
		wake_up_all(&ring->kf->event_wait);
	wake_up_all(&ring->poll_wait);
	spin_lock_irqsave(&ring->efd_lock, irqflags);
	if (ring->efd)
		kshm_eventfd_signal(ring->efd);
	spin_unlock_irqrestore(&ring->efd_lock, irqflags);
}

/*
 * After publishing a position: wake the other side if it sleeps.  @flags is
 * the sleeping side's flags word.  Context: any.
 */
static void kshm_ring_kick(struct kshm_ring *ring, u32 *flags)
{
	/*
	 * Pair W: our position store before reading the sleeper's flag; it
	 * stores the flag before looking at our position.  The full barrier
	 * also orders it before waitqueue_active(), paired with the barrier
	 * in set_current_state() of a waiter.
	 */
	smp_mb();	/* pair W, and set_current_state() of a waiter */
	if ((READ_ONCE(*flags) & KSHM_RING_WANT_WAKEUP) ||
	    /* waitqueue_active() is safe after the full barrier above */
	    waitqueue_active(&ring->wait))
		irq_work_queue(&ring->wake_work);
}

/*
 * The consumer position of a kernel-to-user ring, as the application left
 * it, or false when it breaks 0 <= prod - cons <= size.  Pair C: acquire,
 * so the consumer's reads of the space are done before we reuse it.
 * Context: any; with @ring->lock held for a reservation.
 */
static bool kshm_ring_user_cons(struct kshm_ring *ring, u64 prod, u64 *cons)
{
	*cons = smp_load_acquire(&ring->cons->pos);	/* pair C */
	return prod - *cons <= ring->size;
}

/*
 * Reserve a record; a full ring is -ENOSPC, counted as a drop only with
 * @drop.  Context: any; does not sleep.
 */
static void *__kshm_ring_reserve(struct kshm_ring *ring, u32 len, u16 type, bool drop)
{
	u64 need = KSHM_RING_REC_SPACE(len), cons;
	struct kshm_ring_rec *hdr;
	unsigned long irqflags;

	if (ring->kind != KSHM_RING_K2U || len > ring->rec_max || !type)
		return ERR_PTR(-EINVAL);
	raw_spin_lock_irqsave(&ring->lock, irqflags);
	if (!kshm_ring_user_cons(ring, ring->prod_pos, &cons) ||
	    ring->size - (ring->prod_pos - cons) < need) {
		if (ring->prod_pos - cons > ring->size)
			atomic64_inc(&ring->bad_pos);
		if (drop) {
			ring->dropped++;
			WRITE_ONCE(ring->prod->dropped, ring->dropped);
		}
		raw_spin_unlock_irqrestore(&ring->lock, irqflags);
		return ERR_PTR(-ENOSPC);
	}
	hdr = (struct kshm_ring_rec *)kshm_ring_at(ring, ring->prod_pos);
	WRITE_ONCE(hdr->type, type);
	WRITE_ONCE(hdr->flags, 0);
	WRITE_ONCE(hdr->len, len | KSHM_RING_REC_BUSY);
	ring->prod_pos += need;
	kshm_ring_wc_fence(ring);
	/* Pair P: the BUSY header before the position that covers it. */
	smp_store_release(&ring->prod->pos, ring->prod_pos);
	raw_spin_unlock_irqrestore(&ring->lock, irqflags);
	return hdr + 1;
}

/**
 * kshm_ring_reserve - reserve a record in a kernel-to-user ring
 * @ring: the ring
 * @len: payload bytes, at most the ring's rec_max
 * @type: the record type, nonzero
 *
 * Records reach the consumer in the order of their reservations, each
 * once it is committed: commit soon, a reservation not committed holds
 * back every later record.
 *
 * Context: any, hard IRQ included; does not sleep.
 * Return: the payload to write, 8-byte aligned and contiguous, then to
 * pass to kshm_ring_commit(); or ERR_PTR(-EINVAL) for a bad @len or @type
 * or a ring of the other kind, ERR_PTR(-ENOSPC) when the ring is full (the
 * record is counted as dropped).
 */
void *kshm_ring_reserve(struct kshm_ring *ring, u32 len, u16 type)
{
	return __kshm_ring_reserve(ring, len, type, true);
}

/**
 * kshm_ring_commit - hand a reserved record to the consumer
 * @ring: the ring kshm_ring_reserve() gave @payload from
 * @payload: the record, written
 *
 * Context: any, hard IRQ included; does not sleep.
 */
void kshm_ring_commit(struct kshm_ring *ring, void *payload)
{
	struct kshm_ring_rec *hdr = (struct kshm_ring_rec *)payload - 1;
	u32 len = READ_ONCE(hdr->len) & KSHM_RING_REC_LEN_MASK;

	kshm_ring_wc_fence(ring);
	/* Pair B: the payload before the header that says it is written. */
	smp_store_release(&hdr->len, len);
	atomic64_inc(&ring->records);
	atomic64_add(len, &ring->bytes);
	kshm_ring_kick(ring, &ring->cons->flags);
}

/**
 * kshm_ring_produce - copy one record into a kernel-to-user ring
 * @ring: the ring
 * @type: the record type, nonzero
 * @data: the payload
 * @len: its bytes
 *
 * Context: any, hard IRQ included; does not sleep.
 * Return: 0; -ENOSPC when the ring is full (the record is counted as
 * dropped), -EINVAL for a bad @len or @type or a user-to-kernel ring (and,
 * in a debug build, a ring the caller does not hold).
 */
int kshm_ring_produce(struct kshm_ring *ring, u16 type, const void *data, u32 len)
{
	void *p;

	if (kshm_debug_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING),
			      "a ring the caller does not hold"))
		return -EINVAL;
	p = kshm_ring_reserve(ring, len, type);

	if (IS_ERR(p))
		return PTR_ERR(p);
	memcpy(p, data, len);
	kshm_ring_commit(ring, p);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_produce, KSHM);

/*
 * Has the consumer of a kernel-to-user ring left room for @need bytes, or
 * broken its position (then waiting is pointless)?  Context: any.
 */
static bool kshm_ring_has_space(struct kshm_ring *ring, u64 need, bool *bad)
{
	u64 prod = READ_ONCE(ring->prod_pos), cons;

	*bad = !kshm_ring_user_cons(ring, prod, &cons);
	return *bad || READ_ONCE(ring->orphan) || ring->size - (prod - cons) >= need;
}

/*
 * Reserve, sleeping for space while the consumer frees none (a
 * KSHM_RING_BLOCK ring).  A consumer position that breaks the ring makes
 * it a drop instead.  Context: process.
 */
static void *kshm_ring_reserve_wait(struct kshm_ring *ring, u32 len, u16 type)
{
	u64 need = KSHM_RING_REC_SPACE(len);
	bool bad = false;
	void *p;
	int ret;

	for (;;) {
		p = __kshm_ring_reserve(ring, len, type, bad);
		if (PTR_ERR_OR_ZERO(p) != -ENOSPC || bad)
			return p;
		/* The flag stays up while any producer waits. */
		raw_spin_lock_irq(&ring->lock);
		if (!ring->space_waiters++)
			WRITE_ONCE(ring->prod->flags, KSHM_RING_WANT_WAKEUP);
		raw_spin_unlock_irq(&ring->lock);
		/* Pair W: our flag before we look at the consumer's position. */
		smp_mb();
		ret = wait_event_interruptible(ring->wait,
					       kshm_ring_has_space(ring, need, &bad));
		raw_spin_lock_irq(&ring->lock);
		if (!--ring->space_waiters)
			WRITE_ONCE(ring->prod->flags, 0);
		raw_spin_unlock_irq(&ring->lock);
		if (ret)
			return ERR_PTR(-EINTR);
		if (READ_ONCE(ring->orphan))
			return ERR_PTR(-EPIPE);
	}
}

/*
 * Has a kernel-to-user ring a committed record at the consumer's position?
 * A reserved record still being written is not one: a sleeper woken for it
 * would find nothing.  The position is the application's: masked into the
 * data, any value reads in bounds.  Context: any.
 */
static bool kshm_ring_k2u_ready(struct kshm_ring *ring)
{
	u64 cons = READ_ONCE(ring->cons->pos);
	struct kshm_ring_rec *hdr = (struct kshm_ring_rec *)kshm_ring_at(ring, cons & ~7ULL);

	if (smp_load_acquire(&ring->prod->pos) == cons)	/* pair P */
		return false;
	return !(smp_load_acquire(&hdr->len) & KSHM_RING_REC_BUSY);	/* pair B */
}

/* Is there work for the application?  Context: any. */
static bool kshm_ring_ready(struct kshm_ring *ring)
{
	if (READ_ONCE(ring->orphan))
		return true;
	if (ring->kind == KSHM_RING_K2U)
		return kshm_ring_k2u_ready(ring);
	return READ_ONCE(ring->broken) ||
	       READ_ONCE(ring->cons->pos) ==
	       smp_load_acquire(&ring->prod->pos);	/* pair P */
}

/*
 * Does any kernel-to-user ring of @kf hold a committed record?  For poll()
 * on the device (EPOLLPRI).  Context: process.
 */
bool kshm_file_rings_ready(struct kshm_file *kf)
{
	struct kshm_region *r;
	unsigned long id;
	bool ready = false;

	xa_lock(&kf->regions);
	xa_for_each(&kf->regions, id, r) {
		if (r->ring && r->ring->kind == KSHM_RING_K2U &&
		    kshm_ring_k2u_ready(r->ring)) {
			ready = true;
			break;
		}
	}
	xa_unlock(&kf->regions);
	return ready;
}

/* --- the kernel consumer of user-to-kernel rings ------------------------------ */

/* Context: process, @ring->consume_lock held. */
static void kshm_ring_break(struct kshm_ring *ring)
{
	WRITE_ONCE(ring->broken, true);
	WRITE_ONCE(ring->cons->flags, READ_ONCE(ring->cons->flags) | KSHM_RING_BROKEN);
}

/*
 * The module's own handling of a record whose payload is @len bytes at
 * @pos: each chunk is copied once into @ring->rec and only the copy is
 * looked at (checked against the KSHM_REC_SEQ pattern, hashed, echoed).
 * Context: process, @ring->consume_lock held.
 */
static void kshm_ring_handle(struct kshm_ring *ring, u16 type, u64 pos, u32 len)
{
	bool seq_ok = len >= sizeof(u64);
	void *echo = NULL;
	u64 seq = 0, hash = ring->hash;
	u32 off, n, i;

	if (type == KSHM_REC_ECHO && ring->echo) {
		echo = kshm_ring_reserve(ring->echo, len, KSHM_REC_ECHO);
		if (IS_ERR(echo))
			echo = NULL;	/* counted as dropped by the echo ring */
	}
	for (off = 0; off < len; off += n) {
		n = min_t(u32, len - off, KSHM_RING_CHUNK);
		memcpy(ring->rec, kshm_ring_at(ring, pos + off), n);
		if (type == KSHM_REC_SEQ && seq_ok) {
			i = 0;
			if (!off) {
				memcpy(&seq, ring->rec, sizeof(seq));
				i = sizeof(seq);
			}
			for (; i < n; i++)
				if (ring->rec[i] != (u8)(seq + off + i))
					seq_ok = false;
		}
		if (echo)
			memcpy(echo + off, ring->rec, n);
		for (i = 0; i < n; i++)
			hash = (hash ^ ring->rec[i]) * 0x100000001b3ULL;
	}
	if (echo)
		kshm_ring_commit(ring->echo, echo);
	if (type == KSHM_REC_SEQ && !seq_ok)
		atomic64_inc(&ring->seq_errors);
	/* RING_STATS reads it without waiting for the consumer. */
	WRITE_ONCE(ring->hash, hash);
}

/*
 * Bytes the application produced past our position, from one acquire load
 * of its position; false, with the position counted and the ring broken,
 * when that cannot be (ahead by more than the ring, or behind us).
 * Context: process, @ring->consume_lock held.
 */
static bool kshm_ring_u2k_avail(struct kshm_ring *ring, u64 *avail)
{
	/* Pair P: the application's release store of its position. */
	u64 prod = smp_load_acquire(&ring->prod->pos);

	*avail = prod - ring->cons_pos;
	if (*avail <= ring->size)
		return true;
	atomic64_inc(&ring->bad_pos);
	kshm_ring_break(ring);
	return false;
}

/*
 * Copy the header at our position into @hdr, each field read once, and
 * check the copy against the @avail bytes produced.  Returns the record's
 * space; or 0 with the ring broken, for a position inside a header, a busy
 * bit, a length above rec_max or one crossing the producer's position:
 * nothing after such a record can be framed.
 * Context: process, @ring->consume_lock held.
 */
static u64 kshm_ring_u2k_hdr(struct kshm_ring *ring, struct kshm_ring_rec *hdr, u64 avail)
{
	const struct kshm_ring_rec *shared;
	u64 need;

	if (avail < sizeof(*hdr)) {
		kshm_ring_break(ring);
		return 0;
	}
	shared = (const struct kshm_ring_rec *)kshm_ring_at(ring, ring->cons_pos);
	hdr->len = READ_ONCE(shared->len);
	hdr->type = READ_ONCE(shared->type);
	hdr->flags = READ_ONCE(shared->flags);
	need = KSHM_RING_REC_SPACE(hdr->len & KSHM_RING_REC_LEN_MASK);
	if ((hdr->len & KSHM_RING_REC_BUSY) || hdr->len > ring->rec_max || need > avail) {
		kshm_ring_break(ring);
		return 0;
	}
	return need;
}

/* Type 0 and set flags are refused, whoever consumes.  Context: any. */
static bool kshm_ring_u2k_refused(const struct kshm_ring_rec *hdr)
{
	return hdr->flags || !hdr->type;
}

/*
 * Consume what the application produced, up to *@budget bytes.  Each
 * header is copied once into kernel memory and only the copy is looked at.
 * Returns true when it stopped for the budget with records left.
 * Context: process, @ring->consume_lock held.
 */
static bool kshm_ring_drain(struct kshm_ring *ring, u64 *budget)
{
	struct kshm_ring_rec hdr;
	u64 avail, need, done = 0;

	if (!kshm_ring_u2k_avail(ring, &avail))
		return false;
	while (avail) {
		if (!*budget)
			break;
		need = kshm_ring_u2k_hdr(ring, &hdr, avail);
		if (!need)
			break;	/* broken: nothing after it can be framed */
		if (kshm_ring_u2k_refused(&hdr) ||
		    (hdr.type != KSHM_REC_SEQ && hdr.type != KSHM_REC_ECHO)) {
			atomic64_inc(&ring->invalid);
		} else {
			kshm_ring_handle(ring, hdr.type, ring->cons_pos + sizeof(hdr), hdr.len);
			atomic64_inc(&ring->records);
			atomic64_add(hdr.len, &ring->bytes);
		}
		ring->cons_pos += need;
		avail -= need;
		done += need;
		*budget -= min(*budget, need);
		if (done >= KSHM_RING_CONS_BATCH) {
			/* Pair C: our reads of the space before handing it back. */
			smp_store_release(&ring->cons->pos, ring->cons_pos);
			done = 0;
			cond_resched();
		}
	}
	smp_store_release(&ring->cons->pos, ring->cons_pos);	/* pair C */
	return avail && !READ_ONCE(ring->broken);
}

static void kshm_ring_consume_later(struct kshm_ring *ring);

/*
 * Consume until the application stops producing, or at most twice the ring
 * per doorbell: then stop, asking for another doorbell (or RING_WAIT), so
 * the kernel's work stays bounded by the application's own system calls.
 * Context: process (kshm_wq), holding a reference on the ring's region.
 */
static void kshm_ring_consume_fn(struct work_struct *work)
{
	struct kshm_ring *ring = container_of(work, struct kshm_ring, consume_work);
	struct kshm_region *region = ring->region;
	u64 budget = 2 * ring->size;

	mutex_lock(&ring->consume_lock);
	/* A driver took the ring: it consumes, this worker never again. */
	if (ring->driver) {
		mutex_unlock(&ring->consume_lock);
		kshm_region_unref(region);
		return;
	}
	WRITE_ONCE(ring->cons->flags, READ_ONCE(ring->cons->flags) & ~KSHM_RING_WANT_WAKEUP);
	while (!READ_ONCE(ring->broken)) {
		if (kshm_ring_drain(ring, &budget) || READ_ONCE(ring->broken))
			break;
		/* Idle: ask for a doorbell, then look once more (pair W). */
		WRITE_ONCE(ring->cons->flags,
			   READ_ONCE(ring->cons->flags) | KSHM_RING_WANT_WAKEUP);
		smp_mb();	/* pair W: the flag before the position */
		if (smp_load_acquire(&ring->prod->pos) == ring->cons_pos)	/* pair P */
			break;
		if (!budget)
			break;	/* records left, flag up: the next doorbell */
		WRITE_ONCE(ring->cons->flags,
			   READ_ONCE(ring->cons->flags) & ~KSHM_RING_WANT_WAKEUP);
	}
	/* Out of budget with records left: the flag asks for a doorbell. */
	if (!budget)
		WRITE_ONCE(ring->cons->flags,
			   READ_ONCE(ring->cons->flags) | KSHM_RING_WANT_WAKEUP);
	mutex_unlock(&ring->consume_lock);
	kshm_ring_kick(ring, &ring->prod->flags);
	/*
	 * A RING_WAIT caller waits for everything to be consumed: its system
	 * call asks for the next budget.  (kshm_ring_kick()'s full barrier
	 * orders waitqueue_active() after our stores.)
	 */
	if (!budget && waitqueue_active(&ring->wait))
		kshm_ring_consume_later(ring);
	kshm_region_unref(region);
}

/* Queue the consumer, which then holds a reference.  Context: process. */
static void kshm_ring_consume_later(struct kshm_ring *ring)
{
	kref_get(&ring->region->ref);
	if (!queue_work(kshm_wq, &ring->consume_work))
		kshm_region_unref(ring->region);
}

/* Wake the driver consuming @ring, if one does.  Context: any. */
static void kshm_ring_notify_driver(struct kshm_ring *ring)
{
	unsigned long irqflags;

	spin_lock_irqsave(&ring->notify_lock, irqflags);
	if (ring->driver_wq)
		wake_up_all(ring->driver_wq);
	spin_unlock_irqrestore(&ring->notify_lock, irqflags);
}

/*
 * The application asks a user-to-kernel ring's consumer to run: the
 * driver that took the ring, or else the module's own worker.  A doorbell
 * that races with a driver's take may still queue the worker, which then
 * finds the ring taken and does nothing.  Context: process.
 */
static void kshm_ring_u2k_doorbell(struct kshm_ring *ring)
{
	if (READ_ONCE(ring->driver))
		kshm_ring_notify_driver(ring);
	else
		kshm_ring_consume_later(ring);
}

/* --- creation and the ring's end --------------------------------------------- */

/* Context: any. */
static int kshm_ring_create_check(const struct kshm_ring_create *c)
{
	if (c->__reserved || c->id || c->rec_max)
		return -EINVAL;
	if (c->kind != KSHM_RING_K2U && c->kind != KSHM_RING_U2K)
		return -EINVAL;
	if (!is_power_of_2(c->data_size) || c->data_size < KSHM_RING_MIN_DATA ||
	    c->data_size < PAGE_SIZE || c->data_size > KSHM_RING_MAX_DATA)
		return -EINVAL;
	if (c->echo_id && c->kind != KSHM_RING_U2K)
		return -EINVAL;
	if ((c->flags & KSHM_RING_BLOCK) && c->kind != KSHM_RING_K2U)
		return -EINVAL;
	return 0;
}

/*
 * The region's pages: consumer page, producer page, then the data.
 * Context: process.
 */
static int kshm_ring_init(struct kshm_ring *ring, struct kshm_region *r)
{
	unsigned long n = ring->size >> PAGE_SHIFT, i;
	struct page **pages;

	pages = kvmalloc_array(2 * n, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < 2 * n; i++)
		pages[i] = r->pages[2 + i % n];
	ring->data = vmap(pages, 2 * n, VM_MAP, kshm_region_pgprot(r));
	kvfree(pages);
	if (!ring->data)
		return -ENOMEM;
	ring->cons = r->vaddr;
	ring->prod = r->vaddr + PAGE_SIZE;
	ring->region = r;
	ring->kf = r->kf;
	raw_spin_lock_init(&ring->lock);
	mutex_init(&ring->consume_lock);
	INIT_WORK(&ring->consume_work, kshm_ring_consume_fn);
	init_irq_work(&ring->wake_work, kshm_ring_wake_fn);
	init_waitqueue_head(&ring->wait);
	init_waitqueue_head(&ring->poll_wait);
	spin_lock_init(&ring->efd_lock);
	spin_lock_init(&ring->notify_lock);
	ring->hash = 0xcbf29ce484222325ULL;
	/* The kernel consumer starts idle: the first records need a doorbell. */
	if (ring->kind == KSHM_RING_U2K)
		ring->cons->flags = KSHM_RING_WANT_WAKEUP;
	return 0;
}

/*
 * kshm_ring_orphan - the ring's handle was destroyed (or its file closed)
 * @ring: the ring
 *
 * Mappings may live on, but nobody can ring, wait or produce through the
 * id any more: wake every sleeper, who returns EPIPE.  Context: process.
 */
void kshm_ring_orphan(struct kshm_ring *ring)
{
	WRITE_ONCE(ring->orphan, true);
	wake_up_all(&ring->wait);
	wake_up_all(&ring->poll_wait);
	kshm_ring_notify_driver(ring);
}

/*
 * With the region's last reference: nothing produces, consumes or wakes
 * any more (each holds a reference while it runs), but a wakeup may still
 * be queued.  Context: process.
 */
void kshm_ring_free(struct kshm_ring *ring)
{
	irq_work_sync(&ring->wake_work);
	/* A driver's poll table may still hold @poll_wait: let it go. */
	wake_up_pollfree(&ring->poll_wait);
	if (ring->efd)
		eventfd_ctx_put(ring->efd);
	if (ring->echo)
		kshm_region_unref(ring->echo->region);
	mutex_destroy(&ring->consume_lock);
	vunmap(ring->data);
	kvfree(ring->rec);
	/* Pollers woken with POLLFREE let go of @poll_wait under RCU. */
	kfree_rcu(ring, rcu);
}

/*
 * A ring as @c asks, in a new region for @kf, or for a driver when @kf is
 * NULL; not published.  @echo (a reference, or NULL) becomes the ring's.
 * On failure @echo is put.  Context: process.
 */
static struct kshm_region *kshm_ring_new(struct kshm_file *kf,
					 struct kshm_ring_create *c,
					 struct kshm_region *echo)
{
	struct kshm_region_create rc = {
		.cache_mode = c->cache_mode,
		.length = 2 * PAGE_SIZE + c->data_size,
	};
	struct kshm_ring *ring;
	struct kshm_region *r;
	int ret = -ENOMEM;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		goto out_put_echo;
	ring->kind = c->kind;
	ring->flags = c->flags;
	ring->size = c->data_size;
	ring->rec_max = c->data_size / 4;
	ring->wc = c->cache_mode == KSHM_CACHE_WC;
	ring->echo = echo ? echo->ring : NULL;
	if (c->kind == KSHM_RING_U2K) {
		ring->rec = kvmalloc(KSHM_RING_CHUNK, GFP_KERNEL_ACCOUNT);
		if (!ring->rec)
			goto out_free_ring;
	}
	r = kf ? kshm_region_new(kf, &rc) : kshm_region_create_client(&rc, NULL);
	if (IS_ERR(r)) {
		ret = PTR_ERR(r);
		goto out_free_rec;
	}
	ret = kshm_ring_init(ring, r);
	if (ret)
		goto out_put_region;
	/* From here the region frees the ring, and puts @echo. */
	r->ring = ring;
	c->rec_max = ring->rec_max;
	c->cons_off = 0;
	c->prod_off = PAGE_SIZE;
	c->data_off = 2 * PAGE_SIZE;
	return r;

out_put_region:
	kshm_region_unref(r);
out_free_rec:
	kvfree(ring->rec);
out_free_ring:
	kfree(ring);
out_put_echo:
	if (echo)
		kshm_region_unref(echo);
	return ERR_PTR(ret);
}

/* Context: process, from the ioctl system call. */
int kshm_ioctl_ring_create(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_create *c = arg;
	struct kshm_region_create rc = { };
	struct kshm_region *r, *echo = NULL;
	int ret;

	ret = kshm_ring_create_check(c);
	if (ret)
		return ret;
	if (c->echo_id) {
		echo = kshm_region_get(kf, c->echo_id);
		if (IS_ERR(echo))
			return PTR_ERR(echo);
		/* It must take every record this ring can hold: none is lost uncounted. */
		if (!echo->ring || echo->ring->kind != KSHM_RING_K2U ||
		    echo->ring->rec_max < c->data_size / 4) {
			kshm_region_unref(echo);
			return -EINVAL;
		}
	}
	r = kshm_ring_new(kf, c, echo);
	if (IS_ERR(r))
		return PTR_ERR(r);
	/*
	 * Once published, a destroy of the predictable id may free the ring
	 * at once: nothing of it is read after kshm_region_publish().
	 */
	ret = kshm_region_publish(kf, r, &rc);
	if (ret) {
		kshm_region_unref(r);
		return ret;
	}
	c->id = rc.id;
	c->mmap_offset = rc.mmap_offset;
	return 0;
}

/**
 * __kshm_ring_create - a ring for a driver and its application
 * @kind: KSHM_RING_K2U (the driver produces) or KSHM_RING_U2K (the
 *	application produces, the driver is its one consumer)
 * @data_size: bytes of record space: a power of two, 4 KiB to 16 MiB
 * @cache_mode: KSHM_CACHE_WB or _WC
 * @wq: for KSHM_RING_U2K, the driver's wait queue, woken by
 *	kshm_ring_doorbell() and at the ring's end (it must live as long as
 *	the ring); NULL for KSHM_RING_K2U
 * @owner: the caller's module (THIS_MODULE, given by kshm_ring_create())
 *
 * The ring lives in a region of its own, laid out as KSHM_IOC_RING_CREATE
 * reports (the consumer page at page 0, the producer page at page 1, the
 * record space twice from page 2), that the driver maps into its
 * application with kshm_ring_mmap() from its own mmap; records are at most
 * kshm_ring_rec_max() bytes; kshm_ring_put() drops it (never
 * kshm_ring_put_u2k(), which is for rings taken from a descriptor).  A
 * user-to-kernel ring is consumed with
 * kshm_ring_consume(); the application's doorbell reaches the driver
 * through the driver's own file, which passes it on with
 * kshm_ring_doorbell().  Charged like kshm_region_create().
 *
 * Context: process, the application's (its RLIMIT_MEMLOCK is charged).
 * Return: the ring, with one reference for the caller (kshm_ring_put());
 * ERR_PTR(-EINVAL) for another kind, size or cache mode, a @wq given for
 * a kernel-to-user ring or none for a user-to-kernel ring, or a call
 * where it may not sleep; -EFBIG beyond max_region_size, -ENOSPC,
 * -ENOMEM, -EINTR on a fatal signal.
 */
struct kshm_ring *__kshm_ring_create(u32 kind, u64 data_size, u32 cache_mode,
				     struct wait_queue_head *wq,
				     struct module *owner)
{
	struct kshm_ring_create c = {
		.kind = kind,
		.data_size = data_size,
		.cache_mode = cache_mode,
	};
	struct kshm_region *r;
	int ret;

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	ret = kshm_ring_create_check(&c);
	if (ret)
		return ERR_PTR(ret);
	if ((kind == KSHM_RING_K2U && wq) || (kind == KSHM_RING_U2K && !wq) ||
	    (cache_mode != KSHM_CACHE_WB && cache_mode != KSHM_CACHE_WC))
		return ERR_PTR(-EINVAL);
	r = kshm_ring_new(NULL, &c, NULL);
	if (IS_ERR(r))
		return ERR_CAST(r);
	/* A new ring has no other taker: this cannot fail. */
	if (kind == KSHM_RING_U2K)
		WARN_ON_ONCE(kshm_ring_take_u2k(r->ring, wq));
	if (kshm_handle_add(r->ring, KSHM_HANDLE_RING, NULL, owner)) {
		kshm_region_unref(r);
		return ERR_PTR(-ENOMEM);
	}
	return r->ring;
}
EXPORT_SYMBOL_NS_GPL(__kshm_ring_create, KSHM);

/**
 * kshm_ring_doorbell - the application rang a driver's ring
 * @ring: a ring from kshm_ring_create()
 *
 * For a driver that answers libkshm's doorbell (KSHM_IOC_RING_DOORBELL,
 * id 0) on its own file: a user-to-kernel ring wakes the driver's wait
 * queue; a kernel-to-user ring wakes producers waiting for space.
 * Context: process.
 * Return: 0, or -EPIPE for a ring the kernel broke; -EINVAL for a ring
 * the caller does not hold, or a call where it may not sleep.
 */
int kshm_ring_doorbell(struct kshm_ring *ring)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING),
			"a ring the caller does not hold"))
		return -EINVAL;
	return kshm_ring_rang(ring);
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_doorbell, KSHM);

/*
 * The application rang @ring's doorbell: wake its consumer (user-to-kernel)
 * or its producers waiting for room (kernel-to-user).
 * Context: process.  Return: 0, or -EPIPE for a broken ring.
 */
int kshm_ring_rang(struct kshm_ring *ring)
{
	atomic64_inc(&ring->doorbells);
	if (READ_ONCE(ring->broken))
		return -EPIPE;
	if (ring->kind == KSHM_RING_U2K)
		kshm_ring_u2k_doorbell(ring);
	else
		wake_up_all(&ring->wait);
	return 0;
}

/**
 * kshm_ring_mmap - map a driver's ring into its application
 * @ring: a ring from kshm_ring_create()
 * @vma: from the driver's mmap, @vma->vm_pgoff set to the ring's first page
 *	to map
 *
 * As kshm_region_mmap(), and each side may map writable only the pages it
 * writes: the application of a kernel-to-user ring only the consumer page,
 * of a user-to-kernel ring all but the consumer page (-EPERM otherwise).
 * Context: process (a driver's mmap), may sleep.
 * Return: 0 or -errno as kshm_region_mmap(); -EINVAL for a ring the
 * caller does not hold.
 */
int kshm_ring_mmap(struct kshm_ring *ring, struct vm_area_struct *vma)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING),
			"a ring the caller does not hold"))
		return -EINVAL;
	return kshm_region_mmap_client(ring->region, vma);
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_mmap, KSHM);

/**
 * kshm_ring_rec_max - the largest record payload a ring takes
 * @ring: a ring
 * Context: any.
 * Return: the bytes.
 */
u32 kshm_ring_rec_max(const struct kshm_ring *ring)
{
	if (kshm_debug_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING | KSHM_HANDLE_RING_U2K),
			      "a ring the caller does not hold"))
		return 0;
	return ring->rec_max;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_rec_max, KSHM);

/* Context: process, from the ioctl system call. */
void kshm_undo_ring_create(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_create *c = arg;
	struct kshm_region_destroy d = { .id = c->id };

	kshm_ioctl_region_destroy(kf, &d);
}

/* The ring @id of @kf, holding its region, or an ERR_PTR.  Context: process. */
/*
 * Ring @id of @kf, holding a reference on its region, or ERR_PTR(-ENOENT,
 * -EINVAL for a region that is not a ring).  Context: any.
 */
struct kshm_ring *kshm_ring_get(struct kshm_file *kf, u32 id)
{
	struct kshm_region *r = kshm_region_get(kf, id);

	if (IS_ERR(r))
		return ERR_CAST(r);
	if (!r->ring) {
		kshm_region_unref(r);
		return ERR_PTR(-EINVAL);
	}
	return r->ring;
}

/*
 * Drop a reference to a ring's region (other drivers: kshm_ring_put() in
 * api.c).  Context: process (the last reference frees the ring's pages).
 */
void kshm_ring_unref(struct kshm_ring *ring)
{
	kshm_region_unref(ring->region);
}

/* Is @ring a kernel-to-user ring?  Context: any. */
bool kshm_ring_is_k2u(const struct kshm_ring *ring)
{
	return ring->kind == KSHM_RING_K2U;
}

/* --- ioctls --------------------------------------------------------------------- */

int kshm_ioctl_ring_produce(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_produce *p = arg;
	struct kshm_ring *ring;
	bool wait = p->flags & KSHM_RING_PRODUCE_WAIT;
	u64 bytes = 0;
	void *rec;
	u32 i;
	int ret = 0;

	/* A test producer, like the engine: only where tests run. */
	if (!READ_ONCE(kshm_test_engine))
		return -EPERM;
	if (p->__reserved || p->produced || !p->count ||
	    p->count > KSHM_RING_MAX_PRODUCE || p->len < sizeof(u64) || !p->type)
		return -EINVAL;
	ring = kshm_ring_get(kf, p->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	if (ring->kind != KSHM_RING_K2U || p->len > ring->rec_max ||
	    (wait && !(ring->flags & KSHM_RING_BLOCK))) {
		ret = -EINVAL;
		goto out_put_ring;
	}
	for (i = 0; i < p->count; i++) {
		/* Every 64 records or 1 MiB: any signal ends the call, like write(). */
		if (i && (!(i % 64) || bytes >= SZ_1M)) {
			bytes = 0;
			if (signal_pending(current)) {
				ret = p->produced ? 0 : -EINTR;
				break;
			}
			cond_resched();
		}
		bytes += p->len;
		rec = wait ? kshm_ring_reserve_wait(ring, p->len, p->type) :
			     kshm_ring_reserve(ring, p->len, p->type);
		if (IS_ERR(rec)) {
			if (PTR_ERR(rec) != -ENOSPC) {
				ret = p->produced ? 0 : PTR_ERR(rec);
				break;
			}
			continue;
		}
		kshm_ring_fill_seq(rec, p->len, p->seq + i);
		kshm_ring_commit(ring, rec);
		p->produced++;
	}
out_put_ring:
	kshm_ring_unref(ring);
	return ret;
}

/* Context: process, from the ioctl system call. */
int kshm_ioctl_ring_wait(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_wait *w = arg;
	struct kshm_ring *ring;
	long ret;

	if (w->__reserved)
		return -EINVAL;
	ring = kshm_ring_get(kf, w->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	if (READ_ONCE(ring->broken)) {
		ret = -EPIPE;
		goto out_put_ring;
	}
	if (kshm_ring_ready(ring)) {
		ret = 0;
		goto out_put_ring;
	}
	if (!w->timeout_ns) {
		ret = -ETIMEDOUT;
		goto out_put_ring;
	}
	/*
	 * Waiting for the kernel to consume is asking it to: the consumer
	 * stops after a budget of work per doorbell.
	 */
	if (ring->kind == KSHM_RING_U2K)
		kshm_ring_u2k_doorbell(ring);
	if (w->timeout_ns > (1ULL << 62))
		ret = wait_event_interruptible(ring->wait, kshm_ring_ready(ring));
	else
		ret = wait_event_interruptible_hrtimeout(ring->wait, kshm_ring_ready(ring),
							 ns_to_ktime(w->timeout_ns));
	if (!ret && (READ_ONCE(ring->broken) || READ_ONCE(ring->orphan)))
		ret = -EPIPE;
out_put_ring:
	kshm_ring_unref(ring);
	if (ret == -ETIME)
		return -ETIMEDOUT;
	/* A timeout cannot be restarted as it was given: like poll(), EINTR. */
	return ret == -ERESTARTSYS ? -EINTR : ret;
}

/* Context: process, from the ioctl system call. */
int kshm_ioctl_ring_doorbell(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_doorbell *d = arg;
	struct kshm_ring *ring;
	int ret;

	if (d->__reserved)
		return -EINVAL;
	ring = kshm_ring_get(kf, d->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	ret = kshm_ring_rang(ring);
	kshm_ring_unref(ring);
	return ret;
}

/* Context: process, from the ioctl system call. */
int kshm_ioctl_ring_set_eventfd(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_set_eventfd *s = arg;
	struct eventfd_ctx *ctx = NULL, *old;
	struct kshm_ring *ring;

	if (s->fd < -1)
		return -EINVAL;
	ring = kshm_ring_get(kf, s->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	if (s->fd >= 0) {
		ctx = eventfd_ctx_fdget(s->fd);
		if (IS_ERR(ctx)) {
			kshm_ring_unref(ring);
			return PTR_ERR(ctx);
		}
	}
	spin_lock_irq(&ring->efd_lock);
	old = ring->efd;
	ring->efd = ctx;
	spin_unlock_irq(&ring->efd_lock);
	if (old)
		eventfd_ctx_put(old);
	kshm_ring_unref(ring);
	return 0;
}

/* Context: process, from the ioctl system call. */
int kshm_ioctl_ring_stats(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_stats *st = arg;
	struct kshm_ring *ring;
	unsigned long irqflags;

	if (st->__reserved)
		return -EINVAL;
	ring = kshm_ring_get(kf, st->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	st->records = atomic64_read(&ring->records);
	st->bytes = atomic64_read(&ring->bytes);
	raw_spin_lock_irqsave(&ring->lock, irqflags);
	st->dropped = ring->dropped;
	raw_spin_unlock_irqrestore(&ring->lock, irqflags);
	st->invalid = atomic64_read(&ring->invalid);
	st->bad_pos = atomic64_read(&ring->bad_pos);
	st->wakeups = atomic64_read(&ring->wakeups);
	st->doorbells = atomic64_read(&ring->doorbells);
	st->broken = READ_ONCE(ring->broken);
	/* Never waits for the consumer. */
	st->seq_errors = atomic64_read(&ring->seq_errors);
	st->hash = READ_ONCE(ring->hash);
	kshm_ring_unref(ring);
	return 0;
}

/*
 * The copy path: whole committed records from the consumer position into
 * the caller's buffer, then the position past them.  The position is the
 * application's: a header there is checked like any untrusted one.
 * Context: process, from the ioctl system call.
 */
int kshm_ioctl_ring_read(struct kshm_file *kf, void *arg)
{
	struct kshm_ring_read *rd = arg;
	void __user *ubuf = u64_to_user_ptr(rd->buf);
	struct kshm_ring_rec *hdr;
	struct kshm_ring *ring;
	u64 cons, prod, need;
	u32 len;
	int ret = 0;

	if (rd->__reserved || rd->bytes || rd->records)
		return -EINVAL;
	ring = kshm_ring_get(kf, rd->id);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	if (ring->kind != KSHM_RING_K2U) {
		ret = -EINVAL;
		goto out_put_ring;
	}
	cons = READ_ONCE(ring->cons->pos);
	prod = smp_load_acquire(&ring->prod->pos);	/* pair P */
	if (prod - cons > ring->size) {
		atomic64_inc(&ring->bad_pos);
		ret = -EINVAL;
		goto out_put_ring;
	}
	while (cons != prod) {
		hdr = (struct kshm_ring_rec *)kshm_ring_at(ring, cons);
		len = smp_load_acquire(&hdr->len);	/* pair B */
		if (len & KSHM_RING_REC_BUSY)
			break;
		need = KSHM_RING_REC_SPACE(len);
		if (len > ring->rec_max || need > prod - cons || (cons & 7) ||
		    !READ_ONCE(hdr->type)) {
			ret = -EINVAL;	/* not a position at a record */
			break;
		}
		if (rd->bytes + need > rd->len) {
			if (!rd->bytes)
				ret = -EINVAL;
			break;
		}
		if (copy_to_user(ubuf + rd->bytes, hdr, need)) {
			ret = -EFAULT;
			break;
		}
		rd->bytes += need;
		rd->records++;
		cons += need;
		if (fatal_signal_pending(current))
			break;
	}
	if (rd->records) {
		ret = 0;
		smp_store_release(&ring->cons->pos, cons);	/* pair C */
		/* Pair W, for a producer waiting for space. */
		smp_mb();	/* the position before the producer's flag */
		if (READ_ONCE(ring->prod->flags) & KSHM_RING_WANT_WAKEUP)
			wake_up_all(&ring->wait);
	} else if (!ret) {
		ret = -EAGAIN;
	}
out_put_ring:
	kshm_ring_unref(ring);
	return ret;
}

/* --- the engine's ring target ------------------------------------------------- */

/* Is @r a kernel-to-user ring that takes @len-byte records?  Context: any. */
bool kshm_region_is_k2u_ring(struct kshm_region *r, u32 len)
{
	return r->ring && r->ring->kind == KSHM_RING_K2U && len <= r->ring->rec_max;
}

/* One KSHM_REC_SEQ record of sequence @seq.  Context: any (the engine's hard IRQ). */
void kshm_region_ring_tick(struct kshm_region *r, u32 len, u64 seq)
{
	void *rec = kshm_ring_reserve(r->ring, len, KSHM_REC_SEQ);

	if (IS_ERR(rec))
		return;
	kshm_ring_fill_seq(rec, len, seq);
	kshm_ring_commit(r->ring, rec);
}

/* --- mappings ---------------------------------------------------------------- */

/*
 * The page at @index of a ring region's mmap space (the data twice), or
 * NULL past it.  Context: any.
 */
struct page *kshm_ring_page(struct kshm_region *r, unsigned long index)
{
	unsigned long n = r->ring->size >> PAGE_SHIFT;

	if (index < 2)
		return r->pages[index];
	if (index - 2 >= 2 * n)
		return NULL;
	return r->pages[2 + (index - 2) % n];
}

/* Pages of a ring region's mmap space.  Context: any. */
unsigned long kshm_ring_map_pages(struct kshm_region *r)
{
	return 2 + 2 * (r->ring->size >> PAGE_SHIFT);
}

/* May the application write the ring page at @index?  Context: any. */
bool kshm_ring_page_writable(struct kshm_region *r, unsigned long index)
{
	if (r->ring->kind == KSHM_RING_K2U)
		return index == 0;
	return index != 0;
}

/* --- a driver's consumer, and a client's poll() --------------------------------- */

/*
 * Make a driver the consumer of a user-to-kernel ring, for
 * kshm_ring_from_fd_u2k(): from here on the module's own worker never
 * consumes it.  @wq is woken on each doorbell, RING_WAIT and at the ring's
 * end.  Context: process.
 * Return: 0; -EINVAL for a kernel-to-user ring; -EBUSY while another
 * driver holds it.
 */
int kshm_ring_take_u2k(struct kshm_ring *ring, struct wait_queue_head *wq)
{
	int ret = 0;

	if (ring->kind != KSHM_RING_U2K)
		return -EINVAL;
	/* Waits for the worker if it is consuming now: never two consumers. */
	mutex_lock(&ring->consume_lock);
	if (ring->taken) {
		ret = -EBUSY;
	} else {
		ring->taken = true;
		WRITE_ONCE(ring->driver, true);
		spin_lock_irq(&ring->notify_lock);
		ring->driver_wq = wq;
		spin_unlock_irq(&ring->notify_lock);
	}
	mutex_unlock(&ring->consume_lock);
	return ret;
}

/**
 * __kshm_ring_put_u2k - give back a ring from kshm_ring_from_fd_u2k()
 * @ring: the ring
 * @owner: the caller's module (THIS_MODULE, given by kshm_ring_put_u2k())
 *
 * Ends the caller's consumer role (another driver may take the ring; the
 * module's own consumer does not come back) and drops the reference.  Its
 * wait queue is never woken through the ring after this returns.
 *
 * A ring the caller does not hold this way (put twice, or taken with
 * kshm_ring_from_fd() or made by kshm_ring_create()) is refused and left
 * alone; so is a call where it may not sleep.
 *
 * Context: process (the last reference frees the ring's pages).
 */
void __kshm_ring_put_u2k(struct kshm_ring *ring, struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(ring, KSHM_HANDLE_RING_U2K, NULL, owner),
			"a ring the caller did not take with kshm_ring_from_fd_u2k() (put twice?)"))
		return;
	kshm_ring_untake_u2k(ring);
	kshm_ring_unref(ring);
}
EXPORT_SYMBOL_NS_GPL(__kshm_ring_put_u2k, KSHM);

/*
 * End a taker's consumer role (kshm_ring_take_u2k()): its wait queue is
 * never woken through the ring after this returns.  Context: process.
 */
void kshm_ring_untake_u2k(struct kshm_ring *ring)
{
	mutex_lock(&ring->consume_lock);
	ring->taken = false;
	spin_lock_irq(&ring->notify_lock);
	ring->driver_wq = NULL;
	spin_unlock_irq(&ring->notify_lock);
	mutex_unlock(&ring->consume_lock);
}

/* Raise (@on) or drop the kernel consumer's KSHM_RING_WANT_WAKEUP.  Context: process. */
static void kshm_ring_u2k_want_wakeup(struct kshm_ring *ring, bool on)
{
	u32 flags = READ_ONCE(ring->cons->flags);

	if (!!(flags & KSHM_RING_WANT_WAKEUP) != on)
		WRITE_ONCE(ring->cons->flags, flags ^ KSHM_RING_WANT_WAKEUP);
}

/*
 * The header of the next record for a driver, in @hdr: its space, or 0
 * with *@err -EAGAIN (nothing produced: KSHM_RING_WANT_WAKEUP is up, so
 * the next submit rings the doorbell) or -EPIPE (broken, or orphaned).
 * Context: process, @ring->consume_lock held.
 */
static u64 kshm_ring_u2k_next(struct kshm_ring *ring, struct kshm_ring_rec *hdr, int *err)
{
	u64 avail;

	*err = -EPIPE;
	if (READ_ONCE(ring->broken) || READ_ONCE(ring->orphan) ||
	    !kshm_ring_u2k_avail(ring, &avail))
		return 0;
	if (!avail) {
		/* Idle: ask for a doorbell, then look once more. */
		kshm_ring_u2k_want_wakeup(ring, true);
		smp_mb();	/* pair W: the flag before the position */
		if (!kshm_ring_u2k_avail(ring, &avail))
			return 0;
		*err = -EAGAIN;
		if (!avail)
			return 0;
	}
	/* Busy: the producer's submits need no doorbell. */
	kshm_ring_u2k_want_wakeup(ring, false);
	*err = -EPIPE;
	return kshm_ring_u2k_hdr(ring, hdr, avail);
}

/**
 * kshm_ring_consume - take one record from a user-to-kernel ring
 * @ring: a ring from kshm_ring_from_fd_u2k()
 * @type: out: the record's type, nonzero
 * @buf: where its payload goes
 * @len: bytes at @buf
 *
 * Copies the next record's payload (its first @len bytes, if it is longer)
 * out of the shared memory once, then hands its space back to the
 * application.  The payload is the application's: validate the copy in
 * @buf, never the ring.  The header is checked here, as the module's own
 * consumer checks it: a record of type 0 or with flags set is counted
 * (KSHM_IOC_RING_STATS @invalid) and skipped; a length or position that
 * cannot be framed breaks the ring for good (KSHM_RING_BROKEN, @broken;
 * a position is counted in @bad_pos too).  Records consumed count in
 * @records and @bytes.
 *
 * With nothing left, KSHM_RING_WANT_WAKEUP goes up, so the application's
 * next kshm_ring_submit() rings the doorbell, which wakes the wait queue
 * given to kshm_ring_from_fd_u2k(); while the driver finds records, the
 * flag stays down and the application makes no system call.
 *
 * Context: process; may sleep (one consumer of a ring at a time).
 * Return: the record's payload length (above @len: the record was
 * truncated); -EAGAIN when there is none (or after skipping a ring's worth
 * of refused records: call again); -EPIPE once the ring is broken,
 * or the application destroyed it or closed its file; -EINVAL for a
 * kernel-to-user ring, a ring the caller does not hold, or a call where
 * it may not sleep.
 */
int kshm_ring_consume(struct kshm_ring *ring, u16 *type, void *buf, u32 len)
{
	struct kshm_ring_rec hdr;
	u64 need, moved = 0;
	int ret;

	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING | KSHM_HANDLE_RING_U2K),
			"a ring the caller does not hold"))
		return -EINVAL;
	if (ring->kind != KSHM_RING_U2K)
		return -EINVAL;
	mutex_lock(&ring->consume_lock);
	while ((need = kshm_ring_u2k_next(ring, &hdr, &ret))) {
		moved += need;
		if (kshm_ring_u2k_refused(&hdr)) {
			atomic64_inc(&ring->invalid);
			/* Refused records skipped: a ring's worth per call at most. */
			if (moved >= ring->size)
				ret = -EAGAIN;
		} else {
			/* The payload, once; the driver looks at its copy only. */
			memcpy(buf, kshm_ring_at(ring, ring->cons_pos + sizeof(hdr)),
			       min(len, hdr.len));
			*type = hdr.type;
			atomic64_inc(&ring->records);
			atomic64_add(hdr.len, &ring->bytes);
			ret = hdr.len;
		}
		ring->cons_pos += need;
		/* Pair C: our reads of the space before handing it back. */
		smp_store_release(&ring->cons->pos, ring->cons_pos);
		if (ret != -EPIPE)
			break;
	}
	mutex_unlock(&ring->consume_lock);
	/* A producer waiting for space, or for everything consumed. */
	if (moved)
		kshm_ring_kick(ring, &ring->prod->flags);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_consume, KSHM);

/**
 * kshm_ring_consumable - has a user-to-kernel ring work for its driver?
 * @ring: a ring from kshm_ring_from_fd_u2k()
 *
 * For the condition a driver sleeps on (wait_event() on the wait queue it
 * gave kshm_ring_from_fd_u2k()): true when kshm_ring_consume() would not
 * return -EAGAIN.
 *
 * Context: any.
 * Return: true when the application's position is not the consumer's (a
 * record, or a position the consumer will refuse), or the ring is broken
 * or orphaned; false for a kernel-to-user ring.
 */
bool kshm_ring_consumable(struct kshm_ring *ring)
{
	if (kshm_debug_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING | KSHM_HANDLE_RING_U2K),
			      "a ring the caller does not hold"))
		return false;
	if (ring->kind != KSHM_RING_U2K)
		return false;
	return READ_ONCE(ring->broken) || READ_ONCE(ring->orphan) ||
	       smp_load_acquire(&ring->prod->pos) !=	/* pair P */
	       READ_ONCE(ring->cons->pos);
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_consumable, KSHM);

/**
 * kshm_ring_poll - a ring's readiness, for a client driver's poll()
 * @ring: a ring from kshm_ring_from_fd() or kshm_ring_from_fd_u2k()
 * @file: the client's file being polled
 * @wait: the poll table
 *
 * The events are the application's: EPOLLIN | EPOLLRDNORM while a
 * kernel-to-user ring has a committed record at its consumer's position;
 * EPOLLOUT | EPOLLWRNORM while a user-to-kernel ring has room for a record
 * of the largest size (rec_max); EPOLLERR for a broken user-to-kernel
 * ring; EPOLLHUP once the application destroyed the ring.  As with poll()
 * on /dev/kshm, a ring wakes its pollers only when the application side
 * raised KSHM_RING_WANT_WAKEUP (kshm_ring_want_wakeup() in libkshm) before
 * it slept, so an idle epoll costs no wakeup per record.
 *
 * The poll table holds on to the ring's wait queue: keep the reference
 * until the client's file is released, not only until an ioctl returns.
 *
 * Context: process.
 * Return: the events; EPOLLERR alone for a ring the caller does not hold.
 */
__poll_t kshm_ring_poll(struct kshm_ring *ring, struct file *file, poll_table *wait)
{
	__poll_t mask = 0;
	u64 prod, cons;

	if (kshm_misuse(!kshm_handle_held(ring, KSHM_HANDLE_RING | KSHM_HANDLE_RING_U2K),
			"a ring the caller does not hold"))
		return EPOLLERR;
	poll_wait(file, &ring->poll_wait, wait);
	if (READ_ONCE(ring->orphan))
		mask |= EPOLLHUP;
	if (ring->kind == KSHM_RING_K2U) {
		if (kshm_ring_k2u_ready(ring))
			mask |= EPOLLIN | EPOLLRDNORM;
		return mask;
	}
	if (READ_ONCE(ring->broken))
		return mask | EPOLLERR;
	/* The application's position: only compared, never used. */
	prod = READ_ONCE(ring->prod->pos);
	cons = READ_ONCE(ring->cons->pos);
	if (prod - cons <= ring->size &&
	    ring->size - (prod - cons) >= KSHM_RING_REC_SPACE(ring->rec_max))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_poll, KSHM);
