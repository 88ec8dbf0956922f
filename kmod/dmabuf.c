// SPDX-License-Identifier: GPL-2.0
/*
 * kshm and dma-buf, the kernel's object for sharing buffers between
 * drivers (Documentation/driver-api/dma-buf.rst).
 *
 * Export: KSHM_IOC_REGION_EXPORT makes a region a dma-buf.  The dma-buf
 * holds a reference on the region, so the pages live as long as it does,
 * whatever happens to the region's handle or its file; its owner keeps the
 * module in.  Each importing device gets the region's pages mapped for it,
 * an application's mmap() of the dma-buf maps them with the region's rules
 * (region.c), and the kernel mapping is the region's own.
 *
 * Import: kshm_dmabuf_import() attaches a client's device to any dma-buf
 * (kshm's, udmabuf's, a GPU's) and maps it, so the client streams into it
 * as into a registered buffer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/iosys-map.h>
#include <linux/kshm.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "kshm.h"

MODULE_IMPORT_NS(DMA_BUF);

/**
 * struct kshm_export - a region exported as a dma-buf (dma_buf.priv)
 * @region: the region; the dma-buf's reference, dropped at its release
 * @lock: protects @attachments and each one's mapping state
 * @attachments: struct kshm_export_attach of each attached device
 */
struct kshm_export {
	struct kshm_region *region;
	struct mutex lock;		/* protects attachments */
	struct list_head attachments;
};

/**
 * struct kshm_export_attach - one importing device (dma_buf_attachment.priv)
 * @node: in kshm_export.attachments
 * @dev: the device
 * @sgt: the region's pages, in segments the device can map
 * @dir: the direction @sgt is mapped with, while @mapped
 * @mapped: @sgt is mapped for @dev; one mapping at a time
 */
struct kshm_export_attach {
	struct list_head node;
	struct device *dev;
	struct sg_table sgt;
	enum dma_data_direction dir;
	bool mapped;
};

/* The longest segment @dev, or a bounce buffer on its way, maps at once. */
static unsigned int kshm_max_segment(struct device *dev)
{
	size_t max_seg = min_t(size_t, dma_get_max_seg_size(dev),
			       dma_max_mapping_size(dev));

	return max_t(size_t, max_seg & PAGE_MASK, PAGE_SIZE);
}

/* Context: process, from dma_buf_attach(). */
static int kshm_export_attach(struct dma_buf *dmabuf,
			      struct dma_buf_attachment *attach)
{
	struct kshm_export *ex = dmabuf->priv;
	struct kshm_region *r = ex->region;
	struct kshm_export_attach *a;
	int ret;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	ret = sg_alloc_table_from_pages_segment(&a->sgt, r->pages, r->nr_pages, 0,
						r->length,
						kshm_max_segment(attach->dev),
						GFP_KERNEL);
	if (ret) {
		kfree(a);
		return ret;
	}
	a->dev = attach->dev;
	attach->priv = a;
	mutex_lock(&ex->lock);
	list_add(&a->node, &ex->attachments);
	mutex_unlock(&ex->lock);
	return 0;
}

/* Context: process, from dma_buf_detach(), after the last unmap. */
static void kshm_export_detach(struct dma_buf *dmabuf,
			       struct dma_buf_attachment *attach)
{
	struct kshm_export *ex = dmabuf->priv;
	struct kshm_export_attach *a = attach->priv;

	mutex_lock(&ex->lock);
	list_del(&a->node);
	mutex_unlock(&ex->lock);
	sg_free_table(&a->sgt);
	kfree(a);
}

/*
 * Map the pages for the attachment's device.  The DMA layer copies them
 * to a bounce buffer if it uses one.  Context: process, with the dma-buf's
 * reservation lock held on kernels that take it (6.2 on).
 */
static struct sg_table *kshm_export_map(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
	struct kshm_export *ex = attach->dmabuf->priv;
	struct kshm_export_attach *a = attach->priv;
	int ret = -EBUSY;

	mutex_lock(&ex->lock);
	if (!a->mapped) {
		ret = dma_map_sgtable(a->dev, &a->sgt, dir, 0);
		if (!ret) {
			a->mapped = true;
			a->dir = dir;
		}
	}
	mutex_unlock(&ex->lock);
	return ret ? ERR_PTR(ret) : &a->sgt;
}

/*
 * The DMA API's unmap, syncs included: an importer (V4L2, DRM...) relies
 * on it to make what its device wrote visible to the CPU.
 * Context: process, like the map.
 */
static void kshm_export_unmap(struct dma_buf_attachment *attach,
			      struct sg_table *sgt, enum dma_data_direction dir)
{
	struct kshm_export *ex = attach->dmabuf->priv;
	struct kshm_export_attach *a = attach->priv;

	mutex_lock(&ex->lock);
	dma_unmap_sgtable(a->dev, sgt, dir, 0);
	a->mapped = false;
	mutex_unlock(&ex->lock);
}

/*
 * Sync every mapped attachment in its own direction, as the DMA API
 * requires: for the CPU (@for_cpu), or back for the devices.
 * Context: process.
 */
static void kshm_export_sync(struct kshm_export *ex, bool for_cpu)
{
	struct kshm_export_attach *a;

	mutex_lock(&ex->lock);
	list_for_each_entry(a, &ex->attachments, node) {
		if (!a->mapped)
			continue;
		if (for_cpu)
			dma_sync_sgtable_for_cpu(a->dev, &a->sgt, a->dir);
		else
			dma_sync_sgtable_for_device(a->dev, &a->sgt, a->dir);
	}
	mutex_unlock(&ex->lock);
}

/*
 * The CPU is about to access the pages (DMA_BUF_IOCTL_SYNC, or a kernel
 * user of the vmap): what each device wrote is made visible.
 * Context: process.
 */
static int kshm_export_begin_cpu(struct dma_buf *dmabuf,
				 enum dma_data_direction dir)
{
	kshm_export_sync(dmabuf->priv, true);
	return 0;
}

/* The CPU is done: its writes are made visible to each device.  Context: process. */
static int kshm_export_end_cpu(struct dma_buf *dmabuf,
			       enum dma_data_direction dir)
{
	kshm_export_sync(dmabuf->priv, false);
	return 0;
}

/* Context: process (mmap of the dma-buf, or dma_buf_mmap() by a driver). */
static int kshm_export_mmap(struct dma_buf *dmabuf, struct vm_area_struct *vma)
{
	struct kshm_export *ex = dmabuf->priv;

	return kshm_region_map_vma(ex->region, vma, vma->vm_pgoff);
}

/* The region's own kernel mapping, valid until it is freed.  Context: any. */
static int kshm_export_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct kshm_export *ex = dmabuf->priv;

	iosys_map_set_vaddr(map, ex->region->vaddr);
	return 0;
}

/* The dma-buf's last reference.  Context: process. */
static void kshm_export_release(struct dma_buf *dmabuf)
{
	struct kshm_export *ex = dmabuf->priv;

	kshm_region_unref(ex->region);
	mutex_destroy(&ex->lock);
	kfree(ex);
}

static const struct dma_buf_ops kshm_export_ops = {
	.attach = kshm_export_attach,
	.detach = kshm_export_detach,
	.map_dma_buf = kshm_export_map,
	.unmap_dma_buf = kshm_export_unmap,
	.begin_cpu_access = kshm_export_begin_cpu,
	.end_cpu_access = kshm_export_end_cpu,
	.mmap = kshm_export_mmap,
	.vmap = kshm_export_vmap,
	.release = kshm_export_release,
};

/* A dma-buf of @r, holding the reference the caller gives it.  Context: process. */
static struct dma_buf *kshm_export_new(struct kshm_region *r, u32 flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	struct kshm_export *ex;
	struct dma_buf *dmabuf;

	ex = kzalloc(sizeof(*ex), GFP_KERNEL_ACCOUNT);
	if (!ex)
		return ERR_PTR(-ENOMEM);
	mutex_init(&ex->lock);
	INIT_LIST_HEAD(&ex->attachments);
	ex->region = r;
	info.ops = &kshm_export_ops;
	info.size = r->length;
	info.flags = flags & KSHM_REGION_EXPORT_RDWR ? O_RDWR : O_RDONLY;
	info.priv = ex;
	/* DEFINE_DMA_BUF_EXPORT_INFO's owner, THIS_MODULE, keeps kshm in. */
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		mutex_destroy(&ex->lock);
		kfree(ex);
	}
	return dmabuf;
}

/*
 * KSHM_IOC_REGION_EXPORT: the dma-buf and its descriptor are made here;
 * main.c installs the descriptor once the result has reached the caller.
 * Context: process, from the ioctl.
 */
int kshm_ioctl_region_export(struct kshm_file *kf, void *arg, struct kshm_new_fd *nfd)
{
	struct kshm_region_export *e = arg;
	struct kshm_region *r;
	struct dma_buf *dmabuf;
	int ret, fd;

	if (e->__reserved)
		return -EINVAL;
	r = kshm_region_get(kf, e->id);
	if (IS_ERR(r))
		return PTR_ERR(r);
	/* A ring's pages belong to its protocol, not to other devices. */
	ret = -EINVAL;
	if (r->ring)
		goto out_put_region;
	ret = -EACCES;
	if ((e->flags & KSHM_REGION_EXPORT_RDWR) &&
	    (r->flags & KSHM_REGION_USER_RDONLY))
		goto out_put_region;
	fd = get_unused_fd_flags(e->flags & KSHM_REGION_EXPORT_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0) {
		ret = fd;
		goto out_put_region;
	}
	/* From here the dma-buf holds our reference on the region. */
	dmabuf = kshm_export_new(r, e->flags);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto out_put_fd;
	}
	e->fd = fd;
	nfd->fd = fd;
	nfd->file = dmabuf->file;
	return 0;

out_put_fd:
	put_unused_fd(fd);
out_put_region:
	kshm_region_unref(r);
	return ret;
}

/**
 * struct kshm_dmabuf - a dma-buf a client driver imported for its device
 * @dmabuf: the buffer, holding a reference
 * @attach: the device's attachment
 * @sgt: its mapping for the device
 * @dir: the direction of @sgt
 */
struct kshm_dmabuf {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	enum dma_data_direction dir;
};

/*
 * The dma-buf locking rules changed in 6.2: from then on the plain map
 * needs the reservation lock, which the _unlocked calls take.
 */
static struct sg_table *kshm_dmabuf_map(struct dma_buf_attachment *attach,
					enum dma_data_direction dir)
{
#ifdef KSHM_HAVE_DMA_BUF_UNLOCKED
	return dma_buf_map_attachment_unlocked(attach, dir);
#else
	return dma_buf_map_attachment(attach, dir);
#endif
}

static void kshm_dmabuf_unmap(struct dma_buf_attachment *attach,
			      struct sg_table *sgt, enum dma_data_direction dir)
{
#ifdef KSHM_HAVE_DMA_BUF_UNLOCKED
	dma_buf_unmap_attachment_unlocked(attach, sgt, dir);
#else
	dma_buf_unmap_attachment(attach, sgt, dir);
#endif
}

/**
 * __kshm_dmabuf_import - map any dma-buf for a device's DMA
 * @fd: a dma-buf descriptor of the calling process (a kshm region's from
 *	KSHM_IOC_REGION_EXPORT, udmabuf's, any exporter's)
 * @dev: the device
 * @dir: DMA_TO_DEVICE, DMA_FROM_DEVICE or DMA_BIDIRECTIONAL
 * @owner: the caller's module (THIS_MODULE, given by kshm_dmabuf_import())
 *
 * Attaches @dev to the dma-buf and maps it whole; kshm_dmabuf_sgt() gives
 * the table, kshm_dmabuf_length() its bytes.  The handle holds the dma-buf,
 * so its memory stays until kshm_dmabuf_release(), whatever the
 * application does with the descriptor.  As with kshm_buf_dma_map(), a
 * device that cannot reach all of memory is refused unless an IOMMU
 * translates for it, and what the device writes reaches the CPU where the
 * driver syncs it (dma_sync_single_for_cpu() on the bus addresses).
 *
 * Context: process, the application's (the descriptor is looked up in the
 * caller's file table); not under the dma-buf's reservation lock.
 * Return: the handle; ERR_PTR(-EBADF) for a bad descriptor, -EINVAL for
 * one that is not a dma-buf or another direction, -EACCES for a device
 * write through a descriptor opened read-only, -ERANGE for a device
 * that cannot reach all of memory and has no IOMMU, -ENOMEM, or the
 * exporter's error (kshm's exporter: -EBUSY when @dev has it mapped
 * already, the DMA layer's error); -EINVAL for a call where it may not
 * sleep.
 */
struct kshm_dmabuf *__kshm_dmabuf_import(int fd, struct device *dev,
					 enum dma_data_direction dir,
					 struct module *owner)
{
	struct kshm_dmabuf *d;
	int ret;

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	if (dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE &&
	    dir != DMA_BIDIRECTIONAL)
		return ERR_PTR(-EINVAL);
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return ERR_PTR(-ENOMEM);
	d->dir = dir;
	d->dmabuf = dma_buf_get(fd);
	if (IS_ERR(d->dmabuf)) {
		ret = PTR_ERR(d->dmabuf);
		goto out_free;
	}
	/* A device writes only through a descriptor its owner may write. */
	ret = -EACCES;
	if (dir != DMA_TO_DEVICE && !(d->dmabuf->file->f_mode & FMODE_WRITE))
		goto out_put;
	ret = -ERANGE;
	if (!kshm_dma_translated(dev) && dma_addressing_limited(dev))
		goto out_put;
	d->attach = dma_buf_attach(d->dmabuf, dev);
	if (IS_ERR(d->attach)) {
		ret = PTR_ERR(d->attach);
		goto out_put;
	}
	d->sgt = kshm_dmabuf_map(d->attach, dir);
	if (IS_ERR(d->sgt)) {
		ret = PTR_ERR(d->sgt);
		goto out_detach;
	}
	ret = kshm_handle_add(d, KSHM_HANDLE_DMABUF, NULL, owner);
	if (ret)
		goto out_unmap;
	return d;

out_unmap:
	kshm_dmabuf_unmap(d->attach, d->sgt, dir);
out_detach:
	dma_buf_detach(d->dmabuf, d->attach);
out_put:
	dma_buf_put(d->dmabuf);
out_free:
	kfree(d);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(__kshm_dmabuf_import, KSHM);

/**
 * kshm_dmabuf_sgt - the imported dma-buf's mapping for the device
 * @d: a handle from kshm_dmabuf_import()
 *
 * Context: any.
 * Return: the table, valid until kshm_dmabuf_release(); its DMA addresses
 * and lengths are the device's.
 */
struct sg_table *kshm_dmabuf_sgt(const struct kshm_dmabuf *d)
{
	if (kshm_debug_misuse(!kshm_handle_held(d, KSHM_HANDLE_DMABUF),
			      "a dma-buf the caller does not hold"))
		return NULL;
	return d->sgt;
}
EXPORT_SYMBOL_NS_GPL(kshm_dmabuf_sgt, KSHM);

/**
 * kshm_dmabuf_length - the imported dma-buf's size
 * @d: a handle from kshm_dmabuf_import()
 *
 * Context: any.
 * Return: bytes, a whole number of pages.
 */
u64 kshm_dmabuf_length(const struct kshm_dmabuf *d)
{
	if (kshm_debug_misuse(!kshm_handle_held(d, KSHM_HANDLE_DMABUF),
			      "a dma-buf the caller does not hold"))
		return 0;
	return d->dmabuf->size;
}
EXPORT_SYMBOL_NS_GPL(kshm_dmabuf_length, KSHM);

/**
 * __kshm_dmabuf_release - undo kshm_dmabuf_import()
 * @d: the handle
 * @owner: the caller's module (THIS_MODULE, given by kshm_dmabuf_release())
 *
 * Call it once the device can no longer touch the memory: it unmaps,
 * detaches the device and drops the dma-buf, which may free the memory
 * (a kshm region's pages go with its last holder).  A handle the caller
 * does not hold (released twice) is refused and left alone; so is a call
 * where it may not sleep.
 * Context: process, not under the dma-buf's reservation lock.
 */
void __kshm_dmabuf_release(struct kshm_dmabuf *d, struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(d, KSHM_HANDLE_DMABUF, NULL, owner),
			"a dma-buf the caller does not hold (released twice?)"))
		return;
	kshm_dmabuf_unmap(d->attach, d->sgt, d->dir);
	dma_buf_detach(d->dmabuf, d->attach);
	dma_buf_put(d->dmabuf);
	kfree(d);
}
EXPORT_SYMBOL_NS_GPL(__kshm_dmabuf_release, KSHM);
