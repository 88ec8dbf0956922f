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
 * system call per block.  KSHM_EDU_IOC_STREAM_DMABUF streams the same way
 * into any dma-buf (a kshm region exported, a udmabuf).  Each open file may
 * also have a region of its own (plain, or a common buffer the device DMAs
 * into) and a ring of its own, mapped through /dev/kshm_edu.
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
#include <linux/poll.h>
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
 * @rec_sync: it lies in a streaming mapping, to sync for the CPU before
 *	@rec is posted (a common buffer needs none)
 * @post: the next DMA completion posts @rec
 * @fact_lock: one request server at a time: protects the factorial unit
 *	and @fact_dead
 * @fact_dead: a factorial never completed; the unit is not used again
 * @fact_done: completed by the interrupt when a factorial is done
 * @serve_wait: a server sleeps here for requests; kshm wakes it when the
 *	application rings the request ring's doorbell, unbind wakes it too
 * @files_lock: protects @files
 * @files: the open files (struct kshm_edu_file), whose common buffers
 *	unbind revokes
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
	bool rec_sync;
	bool post;
	struct mutex fact_lock;		/* one server; the factorial unit */
	bool fact_dead;
	struct completion fact_done;
	wait_queue_head_t serve_wait;
	struct mutex files_lock;	/* protects files */
	struct list_head files;
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
			if (edu->rec_sync)
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

/**
 * struct kshm_edu_job - one stream, whatever memory it goes to
 * @sgt: the memory, mapped for the device
 * @length: its bytes
 * @ring: where the records go
 * @buf: a registered buffer, whose cancel stops the stream, or NULL
 * @sync: the memory is a streaming mapping: each block is synced for the
 *	CPU before its record is posted (a common buffer needs none)
 * @blocks: how many
 * @seq: the first block's sequence number
 * @done: out, blocks written
 */
struct kshm_edu_job {
	struct sg_table *sgt;
	u64 length;
	struct kshm_ring *ring;
	struct kshm_buf *buf;
	bool sync;
	u32 blocks;
	u64 seq;
	u32 done;
};

/*
 * Stream @j->blocks blocks into @j->sgt.  Context: process, the
 * application's, under edu->lock.
 */
static int kshm_edu_run(struct kshm_edu *edu, struct kshm_edu_job *j)
{
	struct kshm_edu_cursor c = { .sg = j->sgt->sgl };
	int ret = 0;
	u32 i;

	/* Blocks from a block-aligned start never straddle a page. */
	if (!j->blocks || (u64)j->blocks * KSHM_EDU_BLOCK > j->length ||
	    j->sgt->sgl->offset % KSHM_EDU_BLOCK)
		return -EINVAL;
	for (i = 0; i < j->blocks; i++)
		if (!kshm_edu_next_block(&c))
			return -EINVAL;
	edu->ring = j->ring;
	edu->rec_sync = j->sync;
	c = (struct kshm_edu_cursor){ .sg = j->sgt->sgl };
	for (j->done = 0; j->done < j->blocks; j->done++) {
		/*
		 * The application unregistered (its IRP was cancelled), a
		 * signal came, or the device is going: stop between blocks.
		 */
		if ((j->buf && kshm_buf_cancelled(j->buf)) ||
		    signal_pending(current) || READ_ONCE(edu->stopping))
			break;
		i = j->done;
		edu->rec.seq = j->seq + i;
		edu->rec.sum = kshm_edu_fill(edu, j->seq + i);
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
	if (!ret && !j->done && signal_pending(current))
		ret = -EINTR;
	return ret;
}

/*
 * Stream into a buffer the application registered on /dev/kshm.
 * Context: process, the application's, under edu->lock.
 */
static int kshm_edu_stream(struct kshm_edu *edu, struct kshm_edu_stream *s,
			   struct kshm_ring *ring)
{
	struct kshm_edu_job j = {
		.ring = ring, .sync = true, .blocks = s->blocks, .seq = s->seq,
	};
	struct device *dev = &edu->pdev->dev;
	int ret;

	/* MmProbeAndLockPages, done at registration: take the pinned buffer. */
	j.buf = kshm_buf_from_fd(s->kshm_fd, s->buf_id, KSHM_BUF_KERNEL_WRITE);
	if (IS_ERR(j.buf))
		return PTR_ERR(j.buf);
	ret = -EINVAL;
	j.length = (u64)s->blocks * KSHM_EDU_BLOCK;
	if (!s->blocks || j.length > kshm_buf_length(j.buf))
		goto out_put_buf;
	/* The DMA adapter's MapTransfer, for the blocks this stream writes. */
	j.sgt = kshm_buf_dma_map(j.buf, dev, 0, j.length, DMA_FROM_DEVICE);
	if (IS_ERR(j.sgt)) {
		ret = PTR_ERR(j.sgt);
		goto out_put_buf;
	}
	ret = kshm_edu_run(edu, &j);
	s->done = j.done;
	/* The device touches the buffer no more: unmap, then let it go. */
	kshm_buf_dma_unmap(j.buf, dev, j.sgt, DMA_FROM_DEVICE);
out_put_buf:
	/* The last put sends the application its release event. */
	kshm_buf_put(j.buf);
	return ret;
}

/*
 * Stream into any dma-buf.  Context: process, the application's, under
 * edu->lock.
 */
static int kshm_edu_stream_dmabuf(struct kshm_edu *edu,
				  struct kshm_edu_stream_dmabuf *s,
				  struct kshm_ring *ring)
{
	struct kshm_edu_job j = {
		.ring = ring, .sync = true, .blocks = s->blocks, .seq = s->seq,
	};
	struct kshm_dmabuf *d;
	int ret;

	/* Another driver's memory, attached and mapped for this device. */
	d = kshm_dmabuf_import(s->dmabuf_fd, &edu->pdev->dev, DMA_FROM_DEVICE);
	if (IS_ERR(d))
		return PTR_ERR(d);
	j.sgt = kshm_dmabuf_sgt(d);
	j.length = kshm_dmabuf_length(d);
	ret = kshm_edu_run(edu, &j);
	s->done = j.done;
	/* The device touches it no more: unmap, detach, let it go. */
	kshm_dmabuf_release(d);
	return ret;
}

/*
 * Stream into the file's common buffer, at its bus address.
 * Context: process, the application's, under edu->lock.
 */
static int kshm_edu_region_stream(struct kshm_edu *edu, struct kshm_region *region,
				  struct kshm_edu_stream *s, struct kshm_ring *ring)
{
	struct scatterlist sg;
	struct sg_table sgt = { .sgl = &sg, .nents = 1, .orig_nents = 1 };
	struct kshm_edu_job j = {
		.sgt = &sgt, .length = kshm_region_length(region), .ring = ring,
		.blocks = s->blocks, .seq = s->seq,
	};
	int ret;

	if (s->buf_id)
		return -EINVAL;
	/* AllocateCommonBuffer's logical address: one segment for the device. */
	sg_init_table(&sg, 1);
	sg_dma_address(&sg) = kshm_region_dma_addr(region);
	sg_dma_len(&sg) = kshm_region_length(region);
	ret = kshm_edu_run(edu, &j);
	s->done = j.done;
	return ret;
}

/**
 * struct kshm_edu_file - one open /dev/kshm_edu
 * @edu: the device, holding a reference
 * @lock: protects @region, @common, @ring and @req
 * @region: the file's region (KSHM_EDU_IOC_REGION), holding a reference, or
 *	NULL
 * @common: @region is a common buffer of the device
 * @ring: the file's own kernel-to-user ring (KSHM_EDU_IOC_RING), holding a
 *	reference, or NULL; protected by @lock like @region
 * @req: the file's own user-to-kernel ring, the same way
 * @node: in @edu->files
 */
struct kshm_edu_file {
	struct kshm_edu *edu;
	struct mutex lock;		/* protects region, common, ring, req */
	struct kshm_region *region;
	bool common;
	struct kshm_ring *ring;
	struct kshm_ring *req;
	struct list_head node;
};

/*
 * Give @f its region, written through the kernel's address.
 * Context: process, the application's (its RLIMIT_MEMLOCK is charged).
 */
static int kshm_edu_region(struct kshm_edu_file *f, struct kshm_edu_region *a)
{
	struct kshm_region *r;
	__le64 *w;
	u64 j;
	int ret;

	if (a->flags & ~(KSHM_EDU_REGION_COMMON | KSHM_EDU_REGION_RDONLY))
		return -EINVAL;
	mutex_lock(&f->lock);
	ret = -EBUSY;
	if (f->region)
		goto out_unlock;
	/* Under edu->lock: the device is bound while its buffer is made. */
	ret = -EINTR;
	if (mutex_lock_interruptible(&f->edu->lock))
		goto out_unlock;
	if (!f->edu->pdev)
		r = ERR_PTR(-ENODEV);
	else if (a->flags & KSHM_EDU_REGION_COMMON)
		/* AllocateCommonBuffer. */
		r = a->cache_mode || a->node != KSHM_NODE_ANY ? ERR_PTR(-EINVAL) :
		    kshm_region_create_coherent(&f->edu->pdev->dev, a->length,
						a->flags & KSHM_EDU_REGION_RDONLY ?
						KSHM_REGION_USER_RDONLY : 0);
	else
		/* MmAllocatePagesForMdlEx, with a node and a cache type. */
		r = kshm_region_create(a->length, a->cache_mode,
				       a->node == KSHM_NODE_ANY ? NUMA_NO_NODE : a->node,
				       a->flags & KSHM_EDU_REGION_RDONLY ?
				       KSHM_REGION_USER_RDONLY : 0);
	mutex_unlock(&f->edu->lock);
	ret = PTR_ERR_OR_ZERO(r);
	if (ret)
		goto out_unlock;
	/* MmGetSystemAddressForMdlSafe: the kernel's view, usable anywhere. */
	w = kshm_region_kaddr(r);
	for (j = 0; j < kshm_region_length(r) / 8; j++)
		w[j] = cpu_to_le64(j ^ KSHM_EDU_MUL);
	f->region = r;
	f->common = a->flags & KSHM_EDU_REGION_COMMON;
out_unlock:
	mutex_unlock(&f->lock);
	return ret;
}

/*
 * Give @f a ring of its own, of either kind.
 * Context: process, the application's (its RLIMIT_MEMLOCK is charged).
 */
static int kshm_edu_ring(struct kshm_edu_file *f, struct kshm_edu_ring *a)
{
	bool u2k = a->kind == KSHM_RING_U2K;
	struct kshm_ring **slot = u2k ? &f->req : &f->ring;
	struct kshm_ring *ring;
	int ret = -EBUSY;

	if ((!u2k && a->kind != KSHM_RING_K2U) || a->__pad || a->rec_max || a->mmap_offset)
		return -EINVAL;
	mutex_lock(&f->lock);
	if (*slot)
		goto out_unlock;
	/*
	 * Completions: the channel KeSetEvent would be, without the system
	 * calls.  Requests: the driver consumes them, woken by the doorbell.
	 */
	ring = kshm_ring_create(a->kind, a->data_size, KSHM_CACHE_WB,
				u2k ? &f->edu->serve_wait : NULL);
	ret = PTR_ERR_OR_ZERO(ring);
	if (ret)
		goto out_unlock;
	*slot = ring;
	a->rec_max = kshm_ring_rec_max(ring);
	a->mmap_offset = u2k ? KSHM_EDU_REQ_RING_OFFSET : KSHM_EDU_RING_OFFSET;
out_unlock:
	mutex_unlock(&f->lock);
	return ret;
}

/* libkshm's doorbell for the file's request ring.  Context: process. */
static int kshm_edu_doorbell(struct kshm_edu_file *f, void __user *uarg)
{
	struct kshm_ring_doorbell d;
	struct kshm_ring *req;

	if (copy_from_user(&d, uarg, sizeof(d)))
		return -EFAULT;
	if (d.size != sizeof(d) || d.flags || d.id || d.__reserved)
		return -EINVAL;
	mutex_lock(&f->lock);
	req = f->req;
	mutex_unlock(&f->lock);
	/* Kept as long as the file: no reference needed. */
	return req ? kshm_ring_doorbell(req) : -ENXIO;
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

/*
 * Requests from @s->req_ring_id (0: the file's own, which this driver
 * consumes already), completions to @s->comp_ring_id (0: the file's own).
 * Context: process, the application's.
 */
static int kshm_edu_serve(struct kshm_edu_file *f, struct kshm_edu_serve *s)
{
	struct kshm_edu *edu = f->edu;
	struct kshm_ring *req, *comp;
	int ret;

	mutex_lock(&f->lock);
	req = f->req;
	comp = f->ring;
	mutex_unlock(&f->lock);
	/* The file's own rings live as long as it: no reference needed. */
	if ((!s->req_ring_id && !req) || (!s->comp_ring_id && !comp))
		return -ENXIO;
	/*
	 * The application's request ring on /dev/kshm: this driver becomes
	 * its only consumer, and kshm wakes serve_wait at its doorbell.
	 */
	if (s->req_ring_id) {
		req = kshm_ring_from_fd_u2k(s->kshm_fd, s->req_ring_id, &edu->serve_wait);
		if (IS_ERR(req))
			return PTR_ERR(req);
	}
	if (s->comp_ring_id) {
		comp = kshm_ring_from_fd(s->kshm_fd, s->comp_ring_id);
		if (IS_ERR(comp)) {
			ret = PTR_ERR(comp);
			goto out_put_req;
		}
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
	if (s->comp_ring_id)
		kshm_ring_put(comp);
out_put_req:
	/* Give the request ring back: another call may consume it. */
	if (s->req_ring_id)
		kshm_ring_put_u2k(req);
	return ret;
}

/* Context: process, from the ioctl system call. */
static long kshm_edu_ioctl_serve(struct kshm_edu_file *f, struct kshm_edu_serve __user *arg)
{
	struct kshm_edu_serve s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.size != sizeof(s) || !s.max_requests || s.done)
		return -EINVAL;
	ret = kshm_edu_serve(f, &s);
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
	struct kshm_edu_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	kref_get(&edu->ref);
	f->edu = edu;
	mutex_lock(&edu->files_lock);
	list_add(&f->node, &edu->files);
	mutex_unlock(&edu->files_lock);
	file->private_data = f;
	return 0;
}

/* The last close: the application's mappings hold the region on their own. */
static int kshm_edu_release(struct inode *inode, struct file *file)
{
	struct kshm_edu_file *f = file->private_data;

	/* Under files_lock: an unbind revokes the region, or we put it first. */
	mutex_lock(&f->edu->files_lock);
	list_del(&f->node);
	if (f->region)
		kshm_region_put(f->region);
	mutex_unlock(&f->edu->files_lock);
	if (f->ring)
		kshm_ring_put(f->ring);
	if (f->req)
		kshm_ring_put(f->req);
	kref_put(&f->edu->ref, kshm_edu_free);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

/*
 * Offset 0 maps the file's region, KSHM_EDU_RING_OFFSET its ring.
 * Context: process.
 */
static int kshm_edu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kshm_edu_file *f = file->private_data;
	unsigned long ring_pgoff = KSHM_EDU_RING_OFFSET >> PAGE_SHIFT;
	unsigned long req_pgoff = KSHM_EDU_REQ_RING_OFFSET >> PAGE_SHIFT;
	int ret = -ENXIO;

	mutex_lock(&f->lock);
	/* kshm counts pages from each object's own start. */
	if (vma->vm_pgoff >= req_pgoff) {
		vma->vm_pgoff -= req_pgoff;
		if (f->req)
			ret = kshm_ring_mmap(f->req, vma);
	} else if (vma->vm_pgoff >= ring_pgoff) {
		vma->vm_pgoff -= ring_pgoff;
		if (f->ring)
			ret = kshm_ring_mmap(f->ring, vma);
	} else if (f->region) {
		/* MmMapLockedPagesSpecifyCache(UserMode); kshm keeps the lifetimes. */
		ret = kshm_region_mmap(f->region, vma);
	}
	mutex_unlock(&f->lock);
	return ret;
}

/* Readable while the file's ring holds a record.  Context: process. */
static __poll_t kshm_edu_poll(struct file *file, struct poll_table_struct *wait)
{
	struct kshm_edu_file *f = file->private_data;
	struct kshm_ring *ring;

	mutex_lock(&f->lock);
	ring = f->ring;
	mutex_unlock(&f->lock);
	/* Set once, then kept as long as the file: no reference needed. */
	return ring ? kshm_ring_poll(ring, file, wait) : EPOLLERR;
}

/*
 * The ring a stream posts to: the file's own for @ring_id 0 (no reference:
 * it lives as long as the file), else the application's on /dev/kshm
 * (a reference, which *@put says to drop).  Context: process.
 */
static struct kshm_ring *kshm_edu_stream_ring(struct kshm_edu_file *f, int kshm_fd,
					      u32 ring_id, bool *put)
{
	struct kshm_ring *ring;

	*put = ring_id;
	if (ring_id)
		return kshm_ring_from_fd(kshm_fd, ring_id);
	mutex_lock(&f->lock);
	ring = f->ring;
	mutex_unlock(&f->lock);
	return ring ? ring : ERR_PTR(-ENXIO);
}

/* Take the device for one stream: 0 (edu->lock held), or an errno. */
static int kshm_edu_claim(struct kshm_edu *edu)
{
	int ret;

	if (mutex_lock_interruptible(&edu->lock))
		return -EINTR;
	ret = !edu->pdev ? -ENODEV : edu->dead ? -EIO : 0;
	if (ret)
		mutex_unlock(&edu->lock);
	return ret;
}

/*
 * KSHM_EDU_IOC_STREAM and _REGION_STREAM: @s is the caller's request.
 * Context: process.
 */
static int kshm_edu_do_stream(struct kshm_edu_file *f, unsigned int cmd,
			      struct kshm_edu_stream *s)
{
	struct kshm_region *region;
	struct kshm_ring *ring;
	bool common, put;
	int ret;

	mutex_lock(&f->lock);
	region = f->region;
	common = f->common;
	mutex_unlock(&f->lock);
	/* The file's region lives as long as it: no reference needed. */
	if (cmd == KSHM_EDU_IOC_REGION_STREAM && !region)
		return -ENXIO;
	if (cmd == KSHM_EDU_IOC_REGION_STREAM && !common)
		return -EINVAL;
	ring = kshm_edu_stream_ring(f, s->kshm_fd, s->ring_id, &put);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	ret = kshm_edu_claim(f->edu);
	if (ret)
		goto out_put_ring;
	if (cmd == KSHM_EDU_IOC_STREAM)
		ret = kshm_edu_stream(f->edu, s, ring);
	else
		ret = kshm_edu_region_stream(f->edu, region, s, ring);
	mutex_unlock(&f->edu->lock);
out_put_ring:
	if (put)
		kshm_ring_put(ring);
	return ret;
}

/* KSHM_EDU_IOC_STREAM_DMABUF.  Context: process. */
static int kshm_edu_do_stream_dmabuf(struct kshm_edu_file *f,
				     struct kshm_edu_stream_dmabuf *s)
{
	struct kshm_ring *ring;
	bool put;
	int ret;

	ring = kshm_edu_stream_ring(f, s->kshm_fd, s->ring_id, &put);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	ret = kshm_edu_claim(f->edu);
	if (!ret) {
		ret = kshm_edu_stream_dmabuf(f->edu, s, ring);
		mutex_unlock(&f->edu->lock);
	}
	if (put)
		kshm_ring_put(ring);
	return ret;
}

static long kshm_edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kshm_edu_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	union {
		struct kshm_edu_stream stream;
		struct kshm_edu_stream_dmabuf dmabuf;
		struct kshm_edu_region region;
		struct kshm_edu_ring ring;
	} a;
	int ret;

	/* Its answer counts what was served, whatever ended the call. */
	if (cmd == KSHM_EDU_IOC_SERVE)
		return kshm_edu_ioctl_serve(f, uarg);
	if (cmd == KSHM_IOC_RING_DOORBELL)
		return kshm_edu_doorbell(f, uarg);
	/* Every request leads with its size; the number says which it is. */
	switch (cmd) {
	case KSHM_EDU_IOC_STREAM:
	case KSHM_EDU_IOC_REGION_STREAM:
	case KSHM_EDU_IOC_STREAM_DMABUF:
	case KSHM_EDU_IOC_REGION:
	case KSHM_EDU_IOC_RING:
		break;
	default:
		return -ENOTTY;
	}
	if (copy_from_user(&a, uarg, _IOC_SIZE(cmd)))
		return -EFAULT;
	if (a.stream.size != _IOC_SIZE(cmd))
		return -EINVAL;
	switch (cmd) {
	case KSHM_EDU_IOC_REGION:
		return kshm_edu_region(f, &a.region);
	case KSHM_EDU_IOC_RING:
		/* A ring the caller never learned of stays the file's: no undo. */
		ret = kshm_edu_ring(f, &a.ring);
		break;
	case KSHM_EDU_IOC_STREAM_DMABUF:
		ret = kshm_edu_do_stream_dmabuf(f, &a.dmabuf);
		break;
	default:
		ret = kshm_edu_do_stream(f, cmd, &a.stream);
	}
	if (!ret && copy_to_user(uarg, &a, _IOC_SIZE(cmd)))
		ret = -EFAULT;
	return ret;
}

static const struct file_operations kshm_edu_fops = {
	.owner = THIS_MODULE,
	.open = kshm_edu_open,
	.release = kshm_edu_release,
	.unlocked_ioctl = kshm_edu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kshm_edu_mmap,
	.poll = kshm_edu_poll,
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
	mutex_init(&edu->files_lock);
	INIT_LIST_HEAD(&edu->files);
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
 * The device goes: its common buffers go back to the DMA layer now (no
 * stream runs, and no new buffer can be made: pdev is NULL), and the
 * applications mapping them get SIGBUS.  Context: process.
 */
static void kshm_edu_revoke_common(struct kshm_edu *edu)
{
	struct kshm_edu_file *f;

	mutex_lock(&edu->files_lock);
	list_for_each_entry(f, &edu->files, node) {
		mutex_lock(&f->lock);
		if (f->region && f->common)
			kshm_region_revoke(f->region);
		mutex_unlock(&f->lock);
	}
	mutex_unlock(&edu->files_lock);
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
	/* The device cannot DMA any more: its common buffers go now. */
	kshm_edu_revoke_common(edu);
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
