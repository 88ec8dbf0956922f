// SPDX-License-Identifier: GPL-2.0
/*
 * kshm notifications: the events a file reports (a buffer released), read()
 * and poll() on the device, and an eventfd the application registers.
 */
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "kshm.h"

/* Events copied out per round of read(); more rounds if the buffer allows. */
#define KSHM_READ_BATCH	32

void kshm_file_init_events(struct kshm_file *kf)
{
	spin_lock_init(&kf->event_lock);
	init_waitqueue_head(&kf->event_wait);
	mutex_init(&kf->read_lock);
}

void kshm_file_free_events(struct kshm_file *kf)
{
	if (kf->eventfd)
		eventfd_ctx_put(kf->eventfd);
	mutex_destroy(&kf->read_lock);
}

/* Context: any where a spinlock_t may be taken. */
void kshm_eventfd_signal(struct eventfd_ctx *ctx)
{
#ifdef KSHM_EVENTFD_SIGNAL_NO_COUNT
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* Queue an event for the reader; process context. */
void kshm_event_post(struct kshm_file *kf, u32 type, u32 id)
{
	spin_lock(&kf->event_lock);
	if (kf->event_tail - kf->event_head < KSHM_EVENT_SLOTS) {
		kf->events[kf->event_tail % KSHM_EVENT_SLOTS] =
			(struct kshm_event){ .type = type, .id = id };
		kf->event_tail++;
	} else if (!kf->event_overflow) {
		kf->event_overflow = true;
		kf->event_overflow_pos = kf->event_tail;
	}
	if (kf->eventfd)
		kshm_eventfd_signal(kf->eventfd);
	spin_unlock(&kf->event_lock);
	wake_up_interruptible(&kf->event_wait);
}

static bool kshm_events_pending(struct kshm_file *kf)
{
	bool pending;

	spin_lock(&kf->event_lock);
	pending = kf->event_tail != kf->event_head || kf->event_overflow;
	spin_unlock(&kf->event_lock);
	return pending;
}

/*
 * Copy up to @max events to @out without consuming them.  An overflow is
 * reported as an event of its own in the place the first event was lost:
 * after the events queued before it, before those queued after.
 */
static unsigned int kshm_events_peek(struct kshm_file *kf,
				     struct kshm_event *out, unsigned int max,
				     bool *overflow)
{
	unsigned int n = 0, end;

	spin_lock(&kf->event_lock);
	end = kf->event_overflow ? kf->event_overflow_pos : kf->event_tail;
	while (n < max && kf->event_head + n != end) {
		out[n] = kf->events[(kf->event_head + n) % KSHM_EVENT_SLOTS];
		n++;
	}
	*overflow = !n && kf->event_overflow;
	if (*overflow)
		out[n++] = (struct kshm_event){ .type = KSHM_EVENT_OVERFLOW };
	spin_unlock(&kf->event_lock);
	return n;
}

static void kshm_events_consume(struct kshm_file *kf, unsigned int n,
				bool overflow)
{
	spin_lock(&kf->event_lock);
	if (overflow)
		kf->event_overflow = false;
	else
		kf->event_head += n;
	spin_unlock(&kf->event_lock);
}

/* Copy out what is queued now; read_lock keeps the peeked events at the head. */
static ssize_t kshm_events_copy(struct kshm_file *kf, char __user *ubuf,
				size_t len)
{
	struct kshm_event batch[KSHM_READ_BATCH];
	size_t done = 0;
	unsigned int n;
	bool overflow;

	while (len - done >= sizeof(batch[0])) {
		n = min_t(size_t, KSHM_READ_BATCH, (len - done) / sizeof(batch[0]));
		n = kshm_events_peek(kf, batch, n, &overflow);
		if (!n)
			break;
		if (copy_to_user(ubuf + done, batch, n * sizeof(batch[0])))
			return done ? done : -EFAULT;
		kshm_events_consume(kf, n, overflow);
		done += n * sizeof(batch[0]);
	}
	return done;
}

ssize_t kshm_events_read(struct kshm_file *kf, char __user *ubuf, size_t len,
			 bool nonblock)
{
	ssize_t ret;

	if (len < sizeof(struct kshm_event))
		return -EINVAL;
	for (;;) {
		if (mutex_lock_interruptible(&kf->read_lock))
			return -ERESTARTSYS;
		ret = kshm_events_copy(kf, ubuf, len);
		mutex_unlock(&kf->read_lock);
		if (ret)
			return ret;
		if (nonblock)
			return -EAGAIN;
		if (wait_event_interruptible(kf->event_wait,
					     kshm_events_pending(kf)))
			return -ERESTARTSYS;
	}
}

__poll_t kshm_events_poll(struct kshm_file *kf, struct file *file,
			  struct poll_table_struct *wait)
{
	__poll_t mask;

	poll_wait(file, &kf->event_wait, wait);
	mask = kshm_events_pending(kf) ? EPOLLIN | EPOLLRDNORM : 0;

	/*
	 * A kernel-to-user ring with a record: EPOLLPRI, not EPOLLIN, which
	 * promises read() an event.  Rings wake event_wait only for a consumer
	 * that raised KSHM_RING_WANT_WAKEUP (ring.c).
	 */
	if (kshm_file_rings_ready(kf))
		mask |= EPOLLPRI;
	return mask;
}

int kshm_ioctl_set_eventfd(struct kshm_file *kf, void *arg)
{
	struct kshm_set_eventfd *s = arg;
	struct eventfd_ctx *ctx = NULL, *old;

	if (s->__reserved || s->fd < -1)
		return -EINVAL;
	if (s->fd >= 0) {
		ctx = eventfd_ctx_fdget(s->fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	spin_lock(&kf->event_lock);
	old = kf->eventfd;
	kf->eventfd = ctx;
	spin_unlock(&kf->event_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}
