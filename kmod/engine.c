// SPDX-License-Identifier: GPL-2.0
/*
 * The test engine: an hrtimer that writes a region through the module's
 * kernel mapping, in hard interrupt context, while the application reads it.
 * It proves that a region's kernel address is usable from any context.
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
 * @region: the region written; the engine holds a reference to it
 * @words: the range written, inside @region's kernel mapping
 * @nr_words: u64 words in the range
 * @period: time between ticks
 * @ticks: ticks done; written only by the timer callback, read by the stop
 *	path after hrtimer_cancel() has waited the callback out
 * @max_ticks: stop after this many ticks, or 0
 */
struct kshm_engine {
	struct hrtimer timer;
	struct kshm_region *region;
	u64 *words;
	unsigned long nr_words;
	ktime_t period;
	u64 ticks;
	u64 max_ticks;
};

static enum hrtimer_restart kshm_engine_tick(struct hrtimer *timer)
{
	struct kshm_engine *e = container_of(timer, struct kshm_engine, timer);
	u64 tick = ++e->ticks;
	unsigned long i;

	for (i = 1; i < e->nr_words; i++)
		WRITE_ONCE(e->words[i], tick << 32 | i);
	/*
	 * Publish the tick after the words: pairs with the reader's acquire
	 * load of word 0 (struct kshm_engine_start in the uapi header).
	 */
	smp_store_release(&e->words[0], tick);
	if (e->max_ticks && tick >= e->max_ticks)
		return HRTIMER_NORESTART;
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

static struct kshm_engine *kshm_engine_create(struct kshm_file *kf,
					      const struct kshm_engine_start *s)
{
	struct kshm_engine *e;
	struct kshm_region *r;

	r = kshm_region_get(kf, s->id);
	if (IS_ERR(r))
		return ERR_CAST(r);
	if (!kshm_region_range_ok(r, s->offset, s->length)) {
		kshm_region_put(r);
		return ERR_PTR(-EINVAL);
	}
	e = kzalloc(sizeof(*e), GFP_KERNEL_ACCOUNT);
	if (!e) {
		kshm_region_put(r);
		return ERR_PTR(-ENOMEM);
	}
	e->region = r;
	e->words = r->vaddr + s->offset;
	e->nr_words = s->length / 8;
	e->period = ns_to_ktime((u64)s->period_us * NSEC_PER_USEC);
	e->max_ticks = s->max_ticks;
	hrtimer_init(&e->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	e->timer.function = kshm_engine_tick;
	return e;
}

/* Stop @e for good and free it; returns the ticks it ran. */
static u64 kshm_engine_destroy(struct kshm_engine *e)
{
	u64 ticks;

	/* Waits for a running callback: after this nothing writes the region. */
	hrtimer_cancel(&e->timer);
	ticks = e->ticks;
	kshm_region_put(e->region);
	kfree(e);
	return ticks;
}

int kshm_ioctl_engine_start(struct kshm_file *kf, void *arg)
{
	struct kshm_engine_start *s = arg;
	struct kshm_engine *e;
	int ret;

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
