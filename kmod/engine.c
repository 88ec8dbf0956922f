// SPDX-License-Identifier: GPL-2.0
/*
 * The test engine: an hrtimer that writes a region or a buffer through the
 * module's kernel mapping, in hard interrupt context, while the application
 * reads it.  It proves that kernel addresses are usable from any context,
 * and that an unregistered buffer is released only once the kernel is done.
 */
#include <linux/hrtimer.h>
#include <linux/slab.h>

#include "kshm.h"

#define KSHM_ENGINE_MIN_PERIOD_US	50
#define KSHM_ENGINE_MAX_PERIOD_US	1000000
#define KSHM_ENGINE_MAX_LENGTH		65536

/**
 * struct kshm_engine - one running test engine
 * @timer: fires every @period, in hard IRQ context
 * @target: the region or buffer written; the engine holds a reference
 * @target_dropped: the timer callback already dropped @target's reference
 *	(an unregistered buffer); read by the stop path after hrtimer_cancel()
 * @words: the range written, inside @target's kernel mapping
 * @nr_words: u64 words in the range
 * @period: time between ticks
 * @ticks: ticks done; written only by the timer callback, read by the stop
 *	path after hrtimer_cancel() has waited the callback out
 * @max_ticks: stop after this many ticks, or 0
 * @wc: the target is write-combining memory, whose stores x86 orders only
 *	with wmb() (sfence), not with smp_store_release()
 * @ring: with KSHM_TARGET_RING, the ring's region (@target holds it); each
 *	tick produces one KSHM_REC_SEQ record of @ring_len bytes, sequence
 *	number the tick
 * @ring_len: payload bytes of those records
 */
struct kshm_engine {
	struct hrtimer timer;
	struct kshm_target target;
	bool target_dropped;
	u64 *words;
	unsigned long nr_words;
	ktime_t period;
	u64 ticks;
	u64 max_ticks;
	bool wc;
	struct kshm_region *ring;
	u32 ring_len;
};

static enum hrtimer_restart kshm_engine_tick(struct hrtimer *timer)
{
	struct kshm_engine *e = container_of(timer, struct kshm_engine, timer);
	struct kshm_buf *buf = e->target.buf;
	u64 tick;
	unsigned long i;

	/* Unregistered: stop touching the pages and let the release go on. */
	if (buf && READ_ONCE(buf->cancelled)) {
		e->target_dropped = true;
		kshm_buf_unref_atomic(buf);
		return HRTIMER_NORESTART;
	}
	tick = ++e->ticks;
	if (e->ring) {
		kshm_region_ring_tick(e->ring, e->ring_len, tick);
		goto next;
	}
	for (i = 1; i < e->nr_words; i++)
		WRITE_ONCE(e->words[i], tick << 32 | i);
	/*
	 * Publish the tick after the words: pairs with the reader's acquire
	 * load of word 0 (struct kshm_engine_start in the uapi header).
	 */
	if (e->wc)
		wmb();	/* WC stores are ordered by sfence only: words first */
	smp_store_release(&e->words[0], tick);	/* pairs with the reader's acquire */
next:
	if (e->max_ticks && tick >= e->max_ticks) {
		/* Done for good: a buffer must not wait for ENGINE_STOP. */
		if (buf) {
			e->target_dropped = true;
			kshm_buf_unref_atomic(buf);
		}
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(timer, e->period);
	return HRTIMER_RESTART;
}

static int kshm_engine_check(const struct kshm_engine_start *s)
{
	if (s->period_us < KSHM_ENGINE_MIN_PERIOD_US ||
	    s->period_us > KSHM_ENGINE_MAX_PERIOD_US)
		return -EINVAL;
	if (s->offset % 8 || s->length % 8 || s->length < 16 ||
	    s->length > KSHM_ENGINE_MAX_LENGTH)
		return -EINVAL;
	return 0;
}

/*
 * Target the kernel-to-user ring @s->id: records of @s->length bytes.
 * Context: process.
 */
static int kshm_engine_ring(struct kshm_engine *e, struct kshm_file *kf,
			    const struct kshm_engine_start *s)
{
	struct kshm_region *r;

	if ((s->flags & KSHM_TARGET_BUF) || s->offset)
		return -EINVAL;
	r = kshm_region_get(kf, s->id);
	if (IS_ERR(r))
		return PTR_ERR(r);
	if (!kshm_region_is_k2u_ring(r, s->length)) {
		kshm_region_unref(r);
		return -EINVAL;
	}
	e->target.region = r;
	e->ring = r;
	e->ring_len = s->length;
	return 0;
}

static int kshm_engine_words(struct kshm_engine *e, struct kshm_file *kf,
			     const struct kshm_engine_start *s);

static struct kshm_engine *kshm_engine_create(struct kshm_file *kf,
					      const struct kshm_engine_start *s)
{
	struct kshm_engine *e;
	int ret;

	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e)
		return ERR_PTR(-ENOMEM);
	if (s->flags & KSHM_TARGET_RING)
		ret = kshm_engine_ring(e, kf, s);
	else
		ret = kshm_engine_words(e, kf, s);
	if (ret)
		goto out_free_engine;
	e->period = ns_to_ktime((u64)s->period_us * NSEC_PER_USEC);
	e->max_ticks = s->max_ticks;
	hrtimer_init(&e->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	e->timer.function = kshm_engine_tick;
	return e;

out_free_engine:
	kfree(e);
	return ERR_PTR(ret);
}

/*
 * Target the words of a region or buffer: @s->length bytes at @s->offset.
 * Context: process.
 */
static int kshm_engine_words(struct kshm_engine *e, struct kshm_file *kf,
			     const struct kshm_engine_start *s)
{
	int ret;

	ret = kshm_target_get(kf, s->flags & KSHM_TARGET_BUF, s->id,
			      KSHM_BUF_KERNEL_WRITE, &e->target);
	if (ret)
		return ret;
	ret = -EINVAL;
	if (!kshm_target_range_ok(&e->target, s->offset, s->length))
		goto out_put_target;
	e->words = e->target.kaddr + s->offset;
	/* A buffer may start anywhere: the words themselves must be aligned. */
	if (!IS_ALIGNED((unsigned long)e->words, 8))
		goto out_put_target;
	e->nr_words = s->length / 8;
	e->wc = e->target.region && e->target.region->cache_mode == KSHM_CACHE_WC;
	return 0;

out_put_target:
	kshm_target_put(&e->target);
	return ret;
}

/* Stop @e for good and free it; returns the ticks it ran. */
static u64 kshm_engine_destroy(struct kshm_engine *e)
{
	u64 ticks;

	/* Waits for a running callback: after this nothing writes the target. */
	hrtimer_cancel(&e->timer);
	ticks = e->ticks;
	if (!e->target_dropped)
		kshm_target_put(&e->target);
	kfree(e);
	return ticks;
}

int kshm_ioctl_engine_start(struct kshm_file *kf, void *arg)
{
	struct kshm_engine_start *s = arg;
	struct kshm_engine *e;
	int ret;

	/* A timer in hard IRQ at up to 20 kHz is for tests, not for everyone. */
	if (!kshm_test_engine)
		return -EPERM;
	ret = kshm_engine_check(s);
	if (ret)
		return ret;
	e = kshm_engine_create(kf, s);
	if (IS_ERR(e))
		return PTR_ERR(e);
	mutex_lock(&kf->engine_lock);
	if (kf->engine) {
		mutex_unlock(&kf->engine_lock);
		kshm_engine_destroy(e);
		return -EBUSY;
	}
	kf->engine = e;
	hrtimer_start(&e->timer, e->period, HRTIMER_MODE_REL_HARD);
	mutex_unlock(&kf->engine_lock);
	return 0;
}

static struct kshm_engine *kshm_engine_take(struct kshm_file *kf)
{
	struct kshm_engine *e;

	mutex_lock(&kf->engine_lock);
	e = kf->engine;
	kf->engine = NULL;
	mutex_unlock(&kf->engine_lock);
	return e;
}

int kshm_ioctl_engine_stop(struct kshm_file *kf, void *arg)
{
	struct kshm_engine_stop *s = arg;
	struct kshm_engine *e = kshm_engine_take(kf);

	if (!e)
		return -ENOENT;
	s->ticks = kshm_engine_destroy(e);
	return 0;
}

void kshm_engine_release(struct kshm_file *kf)
{
	struct kshm_engine *e = kshm_engine_take(kf);

	if (e)
		kshm_engine_destroy(e);
}

/* The caller is told the start failed: stop the engine it started. */
void kshm_undo_engine_start(struct kshm_file *kf, void *arg)
{
	kshm_engine_release(kf);
}
