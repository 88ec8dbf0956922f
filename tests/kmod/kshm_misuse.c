// SPDX-License-Identifier: GPL-2.0
/*
 * kshm_misuse: a test-only kshm client that misuses kshm's API for other
 * drivers on request (kshm_misuse.h), so that tests/guest/misuse.c can show
 * each misuse refused with its errno, and nothing freed twice or touched
 * after its put.  It reaches also the errors the sample client never makes
 * (a DMA direction or range a buffer does not allow, a broken ring's
 * doorbell, a common buffer mapped through a second device node), with a
 * platform device of its own for the DMA calls.  Never shipped.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/kshm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "kshm_misuse.h"

/* The device the DMA calls map for: 64-bit DMA, no IOMMU. */
static struct platform_device *kshm_misuse_pdev;

/* Held around a call made with KSHM_MISUSE_ATOMIC; protects nothing. */
static DEFINE_SPINLOCK(kshm_misuse_atomic_lock);

/**
 * struct kshm_misuse_state - the module's handles, one of each kind, shared
 *	by every open file (so that one region can be mapped through two
 *	device nodes)
 * @lock: serializes ioctls and mmaps (protects all below)
 * @region: the last region created; kept after its put, on purpose
 * @buf: the last buffer taken; likewise
 * @ring: the last ring created or taken; likewise
 * @dmabuf: the last dma-buf imported; likewise
 * @sgt: the last table kept by a KSHM_MISUSE_BUF_DMA_MAP_KEEP; likewise
 * @sgt_dir: its direction
 * @region_prev: @region before the last create (an address reused?)
 * @region_held: @region not yet put by a KSHM_MISUSE_REGION_PUT
 * @buf_held: likewise for @buf
 * @ring_held: 1 for kshm_ring_put(), 2 for kshm_ring_put_u2k(), 0 put
 * @dmabuf_held: likewise for @dmabuf
 * @wq: the user-to-kernel rings' wait queue
 *
 * Module exit puts what is still held, so a test that stops halfway leaks
 * nothing.
 */
struct kshm_misuse_state {
	struct mutex lock;	/* serializes ioctls and mmaps */
	struct kshm_region *region;
	struct kshm_buf *buf;
	struct kshm_ring *ring;
	struct kshm_dmabuf *dmabuf;
	struct sg_table *sgt;
	enum dma_data_direction sgt_dir;
	struct kshm_region *region_prev;
	bool region_held;
	bool buf_held;
	int ring_held;
	bool dmabuf_held;
	wait_queue_head_t wq;
};

static struct kshm_misuse_state kshm_misuse_st;

/*
 * Context: process; may be made atomic on purpose (KSHM_MISUSE_ATOMIC,
 * KSHM_MISUSE_RCU).
 */
static s64 kshm_misuse_call(struct kshm_misuse_state *f, struct file *file,
			    unsigned int op, struct kshm_misuse_arg *a)
{
	struct device *dev = &kshm_misuse_pdev->dev;
	struct kshm_dmabuf *d;
	struct kshm_region *r;
	struct kshm_ring *ring;
	struct sg_table *sgt;
	struct kshm_buf *b;
	u64 payload = 0;
	u16 type;
	void *p;

	switch (op) {
	case KSHM_MISUSE_REGION_CREATE:
		if (a->flags & KSHM_MISUSE_COHERENT)
			r = kshm_region_create_coherent(dev, a->len, 0);
		else
			r = kshm_region_create(a->len, KSHM_CACHE_WB, NUMA_NO_NODE, 0);
		if (IS_ERR(r))
			return PTR_ERR(r);
		f->region_prev = f->region;
		f->region = r;
		f->region_held = true;
		return 0;
	case KSHM_MISUSE_REGION_PUT:
		f->region_held = false;
		kshm_region_put(f->region);
		return 0;
	case KSHM_MISUSE_REGION_REVOKE:
		kshm_region_revoke(f->region);
		return 0;
	case KSHM_MISUSE_BUF_TAKE:
	case KSHM_MISUSE_BUF_TAKE_READ:
		b = kshm_buf_from_fd(a->fd, a->id, op == KSHM_MISUSE_BUF_TAKE_READ ?
				     KSHM_BUF_KERNEL_READ :
				     KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE);
		if (IS_ERR(b))
			return PTR_ERR(b);
		f->buf = b;
		f->buf_held = true;
		return 0;
	case KSHM_MISUSE_BUF_PUT:
		f->buf_held = false;
		kshm_buf_put(f->buf);
		return 0;
	case KSHM_MISUSE_BUF_KADDR:
		p = kshm_buf_kaddr(f->buf);
		return IS_ERR(p) ? PTR_ERR(p) : 0;
	case KSHM_MISUSE_BUF_DMA_MAP:
	case KSHM_MISUSE_BUF_DMA_UNMAP_TWICE:
		sgt = kshm_buf_dma_map(f->buf, dev, a->offset, a->len, a->id);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		kshm_buf_dma_unmap(f->buf, dev, sgt, a->id);
		if (op == KSHM_MISUSE_BUF_DMA_UNMAP_TWICE)
			kshm_buf_dma_unmap(f->buf, dev, sgt, a->id);
		return 0;
	case KSHM_MISUSE_RING_CREATE:
		ring = kshm_ring_create(a->id, 4096, KSHM_CACHE_WB,
					a->id == KSHM_RING_U2K ? &f->wq : NULL);
		if (IS_ERR(ring))
			return PTR_ERR(ring);
		f->ring = ring;
		f->ring_held = 1;
		return 0;
	case KSHM_MISUSE_RING_TAKE:
	case KSHM_MISUSE_RING_TAKE_U2K:
		ring = op == KSHM_MISUSE_RING_TAKE ? kshm_ring_from_fd(a->fd, a->id) :
		       kshm_ring_from_fd_u2k(a->fd, a->id, &f->wq);
		if (IS_ERR(ring))
			return PTR_ERR(ring);
		f->ring = ring;
		f->ring_held = op == KSHM_MISUSE_RING_TAKE ? 1 : 2;
		return 0;
	case KSHM_MISUSE_RING_PUT:
		f->ring_held = 0;
		kshm_ring_put(f->ring);
		return 0;
	case KSHM_MISUSE_RING_PUT_U2K:
		f->ring_held = 0;
		kshm_ring_put_u2k(f->ring);
		return 0;
	case KSHM_MISUSE_RING_CONSUME:
		return kshm_ring_consume(f->ring, &type, &payload, sizeof(payload));
	case KSHM_MISUSE_RING_PRODUCE:
		return kshm_ring_produce(f->ring, 1, &payload, sizeof(payload));
	case KSHM_MISUSE_RING_DOORBELL:
		return kshm_ring_doorbell(f->ring);
	case KSHM_MISUSE_RING_POLL:
		return (__force u32)kshm_ring_poll(f->ring, file, NULL);
	case KSHM_MISUSE_DMABUF_IMPORT:
		d = kshm_dmabuf_import(a->fd, dev, DMA_BIDIRECTIONAL);
		if (IS_ERR(d))
			return PTR_ERR(d);
		f->dmabuf = d;
		f->dmabuf_held = true;
		return 0;
	case KSHM_MISUSE_REGION_LEAK:
		f->region_held = false;
		f->region = NULL;
		return 0;
	case KSHM_MISUSE_BUF_DMA_MAP_KEEP:
		sgt = kshm_buf_dma_map(f->buf, dev, a->offset, a->len, a->id);
		if (IS_ERR(sgt))
			return PTR_ERR(sgt);
		f->sgt = sgt;
		f->sgt_dir = a->id;
		return 0;
	case KSHM_MISUSE_BUF_DMA_UNMAP:
		kshm_buf_dma_unmap(f->buf, dev, f->sgt, f->sgt_dir);
		return 0;
	case KSHM_MISUSE_RING_LEAK:
		f->ring_held = 0;
		f->ring = NULL;
		return 0;
	case KSHM_MISUSE_REGION_REUSED:
		return f->region && f->region == f->region_prev;
	case KSHM_MISUSE_DMABUF_RELEASE:
		f->dmabuf_held = false;
		kshm_dmabuf_release(f->dmabuf);
		return 0;
	}
	return -ENOTTY;
}

/* One call made from a timer (softirq). */
struct kshm_misuse_timer_call {
	struct timer_list timer;
	struct kshm_misuse_state *f;
	struct file *file;
	unsigned int op;
	struct kshm_misuse_arg *a;
	struct completion done;
};

/* Context: softirq (a timer). */
static void kshm_misuse_timer_fn(struct timer_list *t)
{
	struct kshm_misuse_timer_call *c = from_timer(c, t, timer);

	c->a->ret = kshm_misuse_call(c->f, c->file, c->op, c->a);
	complete(&c->done);
}

/* Make the call from a timer and wait for it.  Context: process. */
static void kshm_misuse_call_softirq(struct kshm_misuse_state *f, struct file *file,
				     unsigned int op, struct kshm_misuse_arg *a)
{
	struct kshm_misuse_timer_call c = { .f = f, .file = file, .op = op, .a = a };

	init_completion(&c.done);
	timer_setup_on_stack(&c.timer, kshm_misuse_timer_fn, 0);
	mod_timer(&c.timer, jiffies + 1);
	wait_for_completion(&c.done);
	del_timer_sync(&c.timer);
	destroy_timer_on_stack(&c.timer);
}

/* Context: process. */
static long kshm_misuse_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kshm_misuse_state *f = &kshm_misuse_st;
	struct kshm_misuse_arg a;

	if (_IOC_TYPE(cmd) != 0xE6 || cmd != KSHM_MISUSE_IOC(_IOC_NR(cmd)))
		return -ENOTTY;
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	if (!(a.flags & KSHM_MISUSE_UNLOCKED))
		mutex_lock(&f->lock);
	if (a.flags & KSHM_MISUSE_ATOMIC) {
		spin_lock(&kshm_misuse_atomic_lock);
		a.ret = kshm_misuse_call(f, file, _IOC_NR(cmd), &a);
		spin_unlock(&kshm_misuse_atomic_lock);
	} else if (a.flags & KSHM_MISUSE_RCU) {
		/* Preemptible RCU raises no preempt count: still no sleeping. */
		rcu_read_lock();
		a.ret = kshm_misuse_call(f, file, _IOC_NR(cmd), &a);
		rcu_read_unlock();
	} else if (a.flags & KSHM_MISUSE_SOFTIRQ) {
		kshm_misuse_call_softirq(f, file, _IOC_NR(cmd), &a);
	} else {
		a.ret = kshm_misuse_call(f, file, _IOC_NR(cmd), &a);
	}
	if (!(a.flags & KSHM_MISUSE_UNLOCKED))
		mutex_unlock(&f->lock);
	if (a.ret == -ENOTTY)
		return -ENOTTY;
	return copy_to_user((void __user *)arg, &a, sizeof(a)) ? -EFAULT : 0;
}

/* Offset 0 maps the file's region, KSHM_MISUSE_RING_OFFSET its ring.  Context: process. */
static int kshm_misuse_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kshm_misuse_state *f = &kshm_misuse_st;
	unsigned long ring_pgoff = KSHM_MISUSE_RING_OFFSET >> PAGE_SHIFT;
	int ret = -ENODEV;

	mutex_lock(&f->lock);
	if (vma->vm_pgoff >= ring_pgoff) {
		vma->vm_pgoff -= ring_pgoff;
		if (f->ring)
			ret = kshm_ring_mmap(f->ring, vma);
	} else if (f->region) {
		ret = kshm_region_mmap(f->region, vma);
	}
	mutex_unlock(&f->lock);
	return ret;
}

/* What the test left held.  Context: process (module exit: no file is open). */
static void kshm_misuse_put_all(struct kshm_misuse_state *f)
{
	if (f->dmabuf_held)
		kshm_dmabuf_release(f->dmabuf);
	if (f->ring_held == 1)
		kshm_ring_put(f->ring);
	else if (f->ring_held == 2)
		kshm_ring_put_u2k(f->ring);
	if (f->buf_held)
		kshm_buf_put(f->buf);
	if (f->region_held)
		kshm_region_put(f->region);
}

static const struct file_operations kshm_misuse_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kshm_misuse_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kshm_misuse_mmap,
};

static struct miscdevice kshm_misuse_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kshm_misuse",
	.fops = &kshm_misuse_fops,
	.mode = 0666,
};

static int __init kshm_misuse_init(void)
{
	struct platform_device_info info = {
		.name = "kshm_misuse",
		.id = PLATFORM_DEVID_NONE,
		.dma_mask = DMA_BIT_MASK(64),
	};
	int ret;

	mutex_init(&kshm_misuse_st.lock);
	init_waitqueue_head(&kshm_misuse_st.wq);
	kshm_misuse_pdev = platform_device_register_full(&info);
	if (IS_ERR(kshm_misuse_pdev))
		return PTR_ERR(kshm_misuse_pdev);
	ret = misc_register(&kshm_misuse_misc);
	if (ret)
		goto out_unregister_pdev;
	return 0;

out_unregister_pdev:
	platform_device_unregister(kshm_misuse_pdev);
	return ret;
}

static void __exit kshm_misuse_exit(void)
{
	misc_deregister(&kshm_misuse_misc);
	kshm_misuse_put_all(&kshm_misuse_st);
	platform_device_unregister(kshm_misuse_pdev);
}

module_init(kshm_misuse_init);
module_exit(kshm_misuse_exit);

MODULE_DESCRIPTION("Test-only kshm client that misuses the API on request");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(KSHM);
