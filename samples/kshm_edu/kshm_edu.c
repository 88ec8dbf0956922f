// SPDX-License-Identifier: GPL-2.0
/*
 * kshm_edu: a sample kshm client that drives QEMU's edu PCI device.
 *
 * The application registers a buffer and creates a kernel-to-user ring on
 * /dev/kshm, then asks this driver (KSHM_EDU_IOC_STREAM on /dev/kshm_edu)
 * to stream blocks into the buffer.  For each 2 KiB block the driver fills
 * its DMA-coherent bounce page, has the device copy it into its own DMA
 * window and from there, by DMA through the IOMMU if there is one, into the
 * next page of the application's buffer; the device's interrupt then posts
 * one record into the ring.  The application sees blocks land without a
 * system call per block.
 *
 * The device's factorial unit serves requests (KSHM_EDU_IOC_SERVE): the
 * application submits them on a user-to-kernel ring, which this driver
 * consumes, and each completion, signalled by the unit's own interrupt,
 * goes back on a kernel-to-user ring.
 *
 * Each kshm call is marked with its Windows counterpart where it has one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/kref.h>
#include <linux/kshm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kshm_edu.h"

/* The edu device (QEMU docs/specs/edu.rst). */
#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_FACT		0x08	/* write n; read n! (32 bits) when done */
#define EDU_STATUS		0x20
#define EDU_STATUS_COMPUTING	0x01
#define EDU_STATUS_IRQFACT	0x80	/* interrupt when a factorial is done */
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_DMA_IRQ		0x4
#define EDU_IRQ_FACT		0x001
#define EDU_IRQ_DMA		0x100
#define EDU_WINDOW		0x40000	/* the device's 4 KiB DMA buffer */

static unsigned int dma_bits = 28;
module_param(dma_bits, uint, 0444);
MODULE_PARM_DESC(dma_bits, "DMA address bits the device decodes, 24..64 (QEMU's edu dma_mask; 28 by default)");

/* How long a DMA or a factorial may take before the device counts as dead. */
#define EDU_DMA_TIMEOUT		(5 * HZ)
#define EDU_FACT_TIMEOUT	(5 * HZ)

/* This sample drives one device: its node has one name. */
static atomic_t kshm_edu_bound = ATOMIC_INIT(0);

/**
 * struct kshm_edu - one bound edu device
 * @ref: the binding holds one, each open file one
 * @pdev: the PCI device, NULL once unbound
 * @bar: its registers
 * @misc: /dev/kshm_edu
 * @bounce: a DMA-coherent page the driver fills for the device to read
 * @bounce_dma: its bus address
 * @lock: one stream at a time; protects @pdev's use by streams and @dead
 * @stopping: the device is being unbound: a stream stops at its next block
 * @dead: a DMA never completed; the device's bus mastering is off for good
 * @dma_done: completed by the interrupt when a DMA has finished
 * @ring: the ring the interrupt posts to; set with @rec and @rec_addr
 *	before the DMA that needs them starts (the MMIO write that starts it
 *	orders the stores before it)
 * @rec: the record the interrupt posts
 * @rec_addr: the bus address of the block @rec announces
 * @post: the next DMA completion posts @rec
 * @fact_lock: one request server at a time: protects the factorial unit
 *	and @fact_dead
 * @fact_dead: a factorial never completed; the unit is not used again
 * @fact_done: completed by the interrupt when a factorial is done
 * @serve_wait: a server sleeps here for requests; kshm wakes it when the
 *	application rings the request ring's doorbell, unbind wakes it too
 */
struct kshm_edu {
	struct kref ref;
	struct pci_dev *pdev;
	void __iomem *bar;
	struct miscdevice misc;
	void *bounce;
	dma_addr_t bounce_dma;
	struct mutex lock;		/* one stream; protects pdev, dead */
	bool stopping;
	bool dead;
	struct completion dma_done;
	struct kshm_ring *ring;
	struct kshm_edu_block rec;
	dma_addr_t rec_addr;
	bool post;
	struct mutex fact_lock;		/* one server; the factorial unit */
	bool fact_dead;
	struct completion fact_done;
	wait_queue_head_t serve_wait;
};

static void kshm_edu_free(struct kref *ref)
{
	struct kshm_edu *edu = container_of(ref, struct kshm_edu, ref);

	mutex_destroy(&edu->fact_lock);
	mutex_destroy(&edu->lock);
	kfree(edu);
}

/*
 * The device's one MSI vector serves both units: the status bits say which
 * finished (both may have).  Context: hard IRQ.
 */
static irqreturn_t kshm_edu_irq(int irq, void *data)
{
	struct kshm_edu *edu = data;
	u32 status = ioread32(edu->bar + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	iowrite32(status, edu->bar + EDU_IRQ_ACK);
	if (status & EDU_IRQ_DMA) {
		if (READ_ONCE(edu->post)) {
			/* The block is the CPU's again (a bounce copies it). */
			dma_sync_single_for_cpu(&edu->pdev->dev, edu->rec_addr,
						KSHM_EDU_BLOCK, DMA_FROM_DEVICE);
			/* KeSetEvent's job, without a system call per block. */
			kshm_ring_produce(edu->ring, KSHM_EDU_REC_BLOCK, &edu->rec,
					  sizeof(edu->rec));
			WRITE_ONCE(edu->post, false);
		}
		complete(&edu->dma_done);
	}
	if (status & EDU_IRQ_FACT)
		complete(&edu->fact_done);
	return IRQ_HANDLED;
}

/*
 * Run one DMA of a block between @src and @dst and wait for its interrupt.
 * The device finishes every DMA it starts (in 100 ms of virtual time); the
 * wait is not interruptible, since nothing may unmap the memory under it.
 * A device that does not finish in EDU_DMA_TIMEOUT loses bus mastering,
 * so that it cannot write once the memory is unmapped, and counts as dead.
 * Context: process, under edu->lock.
 * Return: 0, or -EIO for a dead device.
 */
static int kshm_edu_dma(struct kshm_edu *edu, u64 src, u64 dst, bool to_ram)
{
	reinit_completion(&edu->dma_done);
	writeq(src, edu->bar + EDU_DMA_SRC);
	writeq(dst, edu->bar + EDU_DMA_DST);
	writeq(KSHM_EDU_BLOCK, edu->bar + EDU_DMA_COUNT);
	writeq(EDU_DMA_RUN | EDU_DMA_IRQ | (to_ram ? EDU_DMA_TO_RAM : 0),
	       edu->bar + EDU_DMA_CMD);
	if (wait_for_completion_timeout(&edu->dma_done, EDU_DMA_TIMEOUT))
		return 0;
	pci_clear_master(edu->pdev);
	WRITE_ONCE(edu->post, false);
	edu->dead = true;
	dev_err(&edu->pdev->dev, "a DMA did not finish: device disabled\n");
	return -EIO;
}

/* Walks a mapped buffer block by block. */
struct kshm_edu_cursor {
	struct scatterlist *sg;
	u64 off;
};

/*
 * The bus address of the next block, or 0 if it does not lie in one
 * segment (or the table ends).
 */
static dma_addr_t kshm_edu_next_block(struct kshm_edu_cursor *c)
{
	dma_addr_t addr;

	while (c->sg && c->off >= sg_dma_len(c->sg)) {
		c->off -= sg_dma_len(c->sg);
		c->sg = sg_next(c->sg);
	}
	if (!c->sg || c->off + KSHM_EDU_BLOCK > sg_dma_len(c->sg))
		return 0;
	addr = sg_dma_address(c->sg) + c->off;
	c->off += KSHM_EDU_BLOCK;
	return addr;
}

/* Fill the bounce page with block @seq; return its FNV-1a 64. */
static u64 kshm_edu_fill(struct kshm_edu *edu, u64 seq)
{
	__le64 *w = edu->bounce;
	u64 sum = 0xcbf29ce484222325ULL;
	const u8 *p = edu->bounce;
	unsigned int i;

	for (i = 0; i < KSHM_EDU_BLOCK / 8; i++)
		w[i] = cpu_to_le64(seq * KSHM_EDU_MUL + i);
	for (i = 0; i < KSHM_EDU_BLOCK; i++)
		sum = (sum ^ p[i]) * 0x100000001b3ULL;
	return sum;
}

/*
 * Stream @s->blocks blocks.  Context: process, the application's, under
 * edu->lock.
 */
static int kshm_edu_stream(struct kshm_edu *edu, struct kshm_edu_stream *s)
{
	struct device *dev = &edu->pdev->dev;
	struct kshm_edu_cursor c;
	struct sg_table *sgt;
	struct kshm_ring *ring;
	struct kshm_buf *b;
	u32 i;
	int ret;

	/* MmProbeAndLockPages, done at registration: take the pinned buffer. */
	b = kshm_buf_from_fd(s->kshm_fd, s->buf_id, KSHM_BUF_KERNEL_WRITE);
	if (IS_ERR(b))
		return PTR_ERR(b);
	ring = kshm_ring_from_fd(s->kshm_fd, s->ring_id);
	if (IS_ERR(ring)) {
		ret = PTR_ERR(ring);
		goto out_put_buf;
	}
	ret = -EINVAL;
	if (!s->blocks || (u64)s->blocks * KSHM_EDU_BLOCK > kshm_buf_length(b))
		goto out_put_ring;
	/* The DMA adapter's MapTransfer, for the blocks this stream writes. */
	sgt = kshm_buf_dma_map(b, dev, 0, (u64)s->blocks * KSHM_EDU_BLOCK,
			       DMA_FROM_DEVICE);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out_put_ring;
	}
	/* Blocks from a block-aligned start never straddle a page. */
	if (sgt->sgl->offset % KSHM_EDU_BLOCK)
		goto out_unmap;
	c = (struct kshm_edu_cursor){ .sg = sgt->sgl };
	for (i = 0; i < s->blocks; i++)
		if (!kshm_edu_next_block(&c))
			goto out_unmap;
	ret = 0;
	edu->ring = ring;
	c = (struct kshm_edu_cursor){ .sg = sgt->sgl };
	for (s->done = 0; s->done < s->blocks; s->done++) {
		/*
		 * The application unregistered (its IRP was cancelled), a
		 * signal came, or the device is going: stop between blocks.
		 */
		if (kshm_buf_cancelled(b) || signal_pending(current) ||
		    READ_ONCE(edu->stopping))
			break;
		i = s->done;
		edu->rec.seq = s->seq + i;
		edu->rec.sum = kshm_edu_fill(edu, s->seq + i);
		edu->rec.index = i;
		ret = kshm_edu_dma(edu, edu->bounce_dma, EDU_WINDOW, false);
		if (ret)
			break;
		edu->rec_addr = kshm_edu_next_block(&c);
		WRITE_ONCE(edu->post, true);
		ret = kshm_edu_dma(edu, EDU_WINDOW, edu->rec_addr, true);
		if (ret)
			break;
	}
	edu->ring = NULL;
	/* Nothing done and a signal: let the call be restarted. */
	if (!ret && !s->done && signal_pending(current))
		ret = -EINTR;
out_unmap:
	/* The device touches the buffer no more: unmap, then let it go. */
	kshm_buf_dma_unmap(b, dev, sgt, DMA_FROM_DEVICE);
out_put_ring:
	kshm_ring_put(ring);
out_put_buf:
	/* The last put sends the application its release event. */
	kshm_buf_put(b);
	return ret;
}

/* --- the request path: factorials ---------------------------------------------- */

/*
 * n! on the device's factorial unit, which computes in 32 bits: write n,
 * its interrupt says it is done, read the result.  A unit that does not
 * answer in EDU_FACT_TIMEOUT is not used again.
 * Context: process, under edu->fact_lock.
 * Return: 0, or -EIO.
 */
static int kshm_edu_fact(struct kshm_edu *edu, u32 n, u32 *result)
{
	reinit_completion(&edu->fact_done);
	iowrite32(EDU_STATUS_IRQFACT, edu->bar + EDU_STATUS);
	iowrite32(n, edu->bar + EDU_FACT);
	if (!wait_for_completion_timeout(&edu->fact_done, EDU_FACT_TIMEOUT)) {
		edu->fact_dead = true;
		return -EIO;
	}
	*result = ioread32(edu->bar + EDU_FACT);
	return 0;
}

/*
 * One request, @len payload bytes of @type copied into @rq (zeroed before
 * the copy): check the copy, run it, post its completion.
 * Context: process, under edu->fact_lock.
 * Return: 0, or -EIO for a device that did not answer.
 */
static int kshm_edu_serve_one(struct kshm_edu *edu, struct kshm_ring *comp,
			      u16 type, int len, const struct kshm_edu_fact_req *rq)
{
	struct kshm_edu_fact_done c = { .cookie = rq->cookie, .n = rq->n };

	if (type != KSHM_EDU_REC_FACT)
		c.status = -EBADMSG;
	else if (len != sizeof(*rq))
		c.status = -EMSGSIZE;
	else if (rq->n > KSHM_EDU_FACT_MAX || rq->__reserved)
		c.status = -EINVAL;
	else
		c.status = kshm_edu_fact(edu, rq->n, &c.result);
	/* The completion, as the stream's blocks: no system call per record. */
	kshm_ring_produce(comp, KSHM_EDU_REC_FACT_DONE, &c, sizeof(c));
	return c.status == -EIO ? -EIO : 0;
}

/*
 * Serve until @s->max_requests are done, sleeping while none is queued.
 * Context: process, the application's, under edu->fact_lock.
 */
static int kshm_edu_serve_loop(struct kshm_edu *edu, struct kshm_ring *req,
			       struct kshm_ring *comp, struct kshm_edu_serve *s)
{
	struct kshm_edu_fact_req rq;
	u16 type = 0;
	int len, ret;

	while (s->done < s->max_requests) {
		if (signal_pending(current))
			return -EINTR;
		if (READ_ONCE(edu->stopping))
			return -ENODEV;
		memset(&rq, 0, sizeof(rq));
		/* The next request, copied out of the shared ring once. */
		len = kshm_ring_consume(req, &type, &rq, sizeof(rq));
		if (len == -EAGAIN) {
			/* KeWaitForSingleObject on the request event: a doorbell ends it. */
			if (wait_event_interruptible(edu->serve_wait,
						     kshm_ring_consumable(req) ||
						     READ_ONCE(edu->stopping)))
				return -EINTR;
			continue;
		}
		if (len < 0)
			return len;	/* -EPIPE: destroyed, or broken */
		ret = kshm_edu_serve_one(edu, comp, type, len, &rq);
		s->done++;
		if (ret)
			return ret;
	}
	return 0;
}

/* Context: process, the application's. */
static int kshm_edu_serve(struct kshm_edu *edu, struct kshm_edu_serve *s)
{
	struct kshm_ring *req, *comp;
	int ret;

	/*
	 * The request ring: this driver becomes its only consumer, and
	 * kshm wakes serve_wait when the application rings its doorbell.
	 */
	req = kshm_ring_from_fd_u2k(s->kshm_fd, s->req_ring_id, &edu->serve_wait);
	if (IS_ERR(req))
		return PTR_ERR(req);
	comp = kshm_ring_from_fd(s->kshm_fd, s->comp_ring_id);
	if (IS_ERR(comp)) {
		ret = PTR_ERR(comp);
		goto out_put_req;
	}
	if (mutex_lock_interruptible(&edu->fact_lock)) {
		ret = -EINTR;
		goto out_put_comp;
	}
	/* Unbind sets stopping before it waits for fact_lock. */
	ret = READ_ONCE(edu->stopping) ? -ENODEV : edu->fact_dead ? -EIO :
	      kshm_edu_serve_loop(edu, req, comp, s);
	mutex_unlock(&edu->fact_lock);
out_put_comp:
	kshm_ring_put(comp);
out_put_req:
	/* Give the request ring back: another call may consume it. */
	kshm_ring_put_u2k(req);
	return ret;
}

/* Context: process, from the ioctl system call. */
static long kshm_edu_ioctl_serve(struct kshm_edu *edu, struct kshm_edu_serve __user *arg)
{
	struct kshm_edu_serve s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.size != sizeof(s) || !s.max_requests || s.done)
		return -EINVAL;
	ret = kshm_edu_serve(edu, &s);
	/* What was served counts whatever ended the call. */
	if (copy_to_user(arg, &s, sizeof(s)) && !ret)
		ret = -EFAULT;
	return ret;
}

/*
 * Unbind: a server returns ENODEV at its next request (one the device is
 * computing finishes first); wait for it.  Context: process.
 */
static void kshm_edu_serve_stop(struct kshm_edu *edu)
{
	wake_up_all(&edu->serve_wait);
	mutex_lock(&edu->fact_lock);
	mutex_unlock(&edu->fact_lock);
}

static int kshm_edu_open(struct inode *inode, struct file *file)
{
	struct kshm_edu *edu = container_of(file->private_data, struct kshm_edu, misc);

	kref_get(&edu->ref);
	file->private_data = edu;
	return 0;
}

static int kshm_edu_release(struct inode *inode, struct file *file)
{
	struct kshm_edu *edu = file->private_data;

	kref_put(&edu->ref, kshm_edu_free);
	return 0;
}

static long kshm_edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kshm_edu *edu = file->private_data;
	struct kshm_edu_stream s;
	int ret;

	if (cmd == KSHM_EDU_IOC_SERVE)
		return kshm_edu_ioctl_serve(edu, (void __user *)arg);
	if (cmd != KSHM_EDU_IOC_STREAM)
		return -ENOTTY;
	if (copy_from_user(&s, (void __user *)arg, sizeof(s)))
		return -EFAULT;
	if (s.size != sizeof(s))
		return -EINVAL;
	if (mutex_lock_interruptible(&edu->lock))
		return -EINTR;
	ret = !edu->pdev ? -ENODEV : edu->dead ? -EIO : kshm_edu_stream(edu, &s);
	mutex_unlock(&edu->lock);
	if (!ret && copy_to_user((void __user *)arg, &s, sizeof(s)))
		ret = -EFAULT;
	return ret;
}

static const struct file_operations kshm_edu_fops = {
	.owner = THIS_MODULE,
	.open = kshm_edu_open,
	.release = kshm_edu_release,
	.unlocked_ioctl = kshm_edu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static int kshm_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct kshm_edu *edu;
	int ret;

	if (dma_bits < 24 || dma_bits > 64) {
		dev_err(&pdev->dev, "dma_bits=%u: the device decodes 24 to 64 bits\n", dma_bits);
		return -EINVAL;
	}
	if (atomic_cmpxchg(&kshm_edu_bound, 0, 1)) {
		dev_err(&pdev->dev, "this sample drives one edu device; another is bound\n");
		return -EBUSY;
	}
	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu) {
		atomic_set(&kshm_edu_bound, 0);
		return -ENOMEM;
	}
	kref_init(&edu->ref);
	mutex_init(&edu->lock);
	init_completion(&edu->dma_done);
	mutex_init(&edu->fact_lock);
	init_completion(&edu->fact_done);
	init_waitqueue_head(&edu->serve_wait);
	edu->pdev = pdev;
	ret = pci_enable_device(pdev);
	if (ret)
		goto out_put;
	ret = pci_request_region(pdev, 0, KBUILD_MODNAME);
	if (ret)
		goto out_disable;
	edu->bar = pci_iomap(pdev, 0, 0);
	if (!edu->bar) {
		ret = -ENOMEM;
		goto out_release_region;
	}
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(dma_bits));
	if (ret)
		goto out_unmap_bar;
	pci_set_master(pdev);
	/* AllocateCommonBuffer: a page the device reads blocks from. */
	edu->bounce = dma_alloc_coherent(&pdev->dev, KSHM_EDU_BLOCK, &edu->bounce_dma,
					 GFP_KERNEL);
	if (!edu->bounce) {
		ret = -ENOMEM;
		goto out_clear_master;
	}
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0)
		goto out_free_bounce;
	ret = request_irq(pci_irq_vector(pdev, 0), kshm_edu_irq, 0, KBUILD_MODNAME, edu);
	if (ret)
		goto out_free_vectors;
	edu->misc = (struct miscdevice){
		.minor = MISC_DYNAMIC_MINOR,
		.name = KSHM_EDU_DEVICE_NAME,
		.fops = &kshm_edu_fops,
		.parent = &pdev->dev,
	};
	ret = misc_register(&edu->misc);
	if (ret)
		goto out_free_irq;
	pci_set_drvdata(pdev, edu);
	return 0;

out_free_irq:
	free_irq(pci_irq_vector(pdev, 0), edu);
out_free_vectors:
	pci_free_irq_vectors(pdev);
out_free_bounce:
	dma_free_coherent(&pdev->dev, KSHM_EDU_BLOCK, edu->bounce, edu->bounce_dma);
out_clear_master:
	pci_clear_master(pdev);
out_unmap_bar:
	pci_iounmap(pdev, edu->bar);
out_release_region:
	pci_release_region(pdev, 0);
out_disable:
	pci_disable_device(pdev);
out_put:
	kref_put(&edu->ref, kshm_edu_free);
	atomic_set(&kshm_edu_bound, 0);
	return ret;
}

/*
 * Unbind: no new opens; a running stream stops at its next block (the DMA
 * in flight finishes first), and later calls on files still open are
 * ENODEV.  Context: process.
 */
static void kshm_edu_remove(struct pci_dev *pdev)
{
	struct kshm_edu *edu = pci_get_drvdata(pdev);

	misc_deregister(&edu->misc);
	WRITE_ONCE(edu->stopping, true);
	mutex_lock(&edu->lock);
	edu->pdev = NULL;
	mutex_unlock(&edu->lock);
	kshm_edu_serve_stop(edu);
	free_irq(pci_irq_vector(pdev, 0), edu);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	dma_free_coherent(&pdev->dev, KSHM_EDU_BLOCK, edu->bounce, edu->bounce_dma);
	pci_iounmap(pdev, edu->bar);
	pci_release_region(pdev, 0);
	pci_disable_device(pdev);
	kref_put(&edu->ref, kshm_edu_free);
	atomic_set(&kshm_edu_bound, 0);
}

static const struct pci_device_id kshm_edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, kshm_edu_ids);

static struct pci_driver kshm_edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = kshm_edu_ids,
	.probe = kshm_edu_probe,
	.remove = kshm_edu_remove,
};
module_pci_driver(kshm_edu_driver);

MODULE_IMPORT_NS(KSHM);
MODULE_DESCRIPTION("kshm sample: QEMU's edu device DMAs into application memory");
MODULE_LICENSE("GPL");
