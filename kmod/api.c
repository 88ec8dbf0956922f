// SPDX-License-Identifier: GPL-2.0
/*
 * kshm's API for other drivers (include/linux/kshm.h).
 *
 * An application registers memory and creates rings on /dev/kshm as it
 * always does, then hands the (kshm fd, id) pairs to another driver through
 * that driver's own ioctl.  The driver takes references here, maps the
 * buffer for its device's DMA, and posts completions to the ring.  The
 * buffer's release event still comes only after every reference is gone,
 * so once the driver has unmapped and put it, the device can no longer
 * touch the memory when the application learns it may free it.
 *
 * Windows counterparts: kshm_buf_from_fd() is MmProbeAndLockPages already
 * done for the driver (the pages are pinned at registration),
 * kshm_buf_kaddr() MmGetSystemAddressForMdlSafe, kshm_buf_dma_map() the
 * DMA adapter's MapTransfer over the part of the MDL a transfer uses,
 * kshm_ring_produce() the completion a KeSetEvent would announce, without a
 * system call per record.
 */
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/kshm.h>

#include "kshm.h"

/**
 * kshm_buf_from_fd - take a buffer an application registered
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the buffer's id (KSHM_IOC_BUF_REGISTER)
 * @access: what the caller will do: KSHM_BUF_KERNEL_READ and/or _WRITE,
 *	each of which the registration must allow
 *
 * The buffer stays pinned, and its release event waits, until
 * kshm_buf_put().  An unregister meanwhile only marks it cancelled
 * (kshm_buf_cancelled()): stop using it soon, then put it.
 *
 * Context: process, the application's (the descriptor is looked up in
 * the caller's file table).
 * Return: the buffer; ERR_PTR(-EBADF) for a bad descriptor, -EINVAL for
 * one that is not /dev/kshm or an access of neither or other bits,
 * -ENOENT for an unknown id, -EACCES for an access the registration
 * does not allow.
 */
struct kshm_buf *kshm_buf_from_fd(int fd, u32 id, u32 access)
{
	struct kshm_file *kf;
	struct kshm_buf *b;

	if (!access || access & ~(KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE))
		return ERR_PTR(-EINVAL);
	kf = kshm_file_from_fd(fd);
	if (IS_ERR(kf))
		return ERR_CAST(kf);
	b = kshm_buf_get(kf, id);
	if (!IS_ERR(b) && (b->access & access) != access) {
		kshm_buf_put(b);
		b = ERR_PTR(-EACCES);
	}
	kshm_file_put(kf);
	return b;
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_from_fd, KSHM);

/**
 * kshm_buf_length - the bytes the application registered
 * @b: a buffer from kshm_buf_from_fd()
 *
 * Context: any.
 * Return: the length; byte 0 is at the registered address, which need not
 * be page aligned.
 */
u64 kshm_buf_length(const struct kshm_buf *b)
{
	return b->length;
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_length, KSHM);

/**
 * kshm_buf_cancelled - has the application unregistered the buffer?
 * @b: a buffer from kshm_buf_from_fd()
 *
 * Its memory stays valid until the last put; a driver stops starting work
 * on it, finishes what the device is doing, and puts it.
 *
 * Context: any.
 * Return: true once unregistered (or its file closed).
 */
bool kshm_buf_cancelled(const struct kshm_buf *b)
{
	return READ_ONCE(b->cancelled);
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_cancelled, KSHM);

/*
 * Is @dev's DMA translated by an IOMMU (a DMA-API domain, not passthrough)?
 * Then the IOMMU places the buffer below the device's mask itself.
 * Context: any.
 */
bool kshm_dma_translated(struct device *dev)
{
	struct iommu_domain *d = iommu_get_domain_for_dev(dev);

	return d && (d->type & __IOMMU_DOMAIN_DMA_API);
}

/**
 * kshm_buf_dma_map - map part of a buffer for a device's DMA
 * @b: a buffer from kshm_buf_from_fd()
 * @dev: the device
 * @offset: the first byte to map, from byte 0 of the buffer
 * @len: bytes to map, 1 at least, within the buffer
 * @dir: DMA_TO_DEVICE needs kernel read access, DMA_FROM_DEVICE kernel
 *	write access, DMA_BIDIRECTIONAL both
 *
 * The table covers [@offset, @offset + @len) exactly: its first segment
 * starts at that byte's offset in its page, and no segment is longer than
 * the device (or a bounce buffer on its way) can map at once.  Map only
 * what the device will use: under a bounce buffer the whole range holds
 * bounce space until the unmap.
 *
 * Without an IOMMU translating for it, a device must reach all of memory
 * (its mask not below what the platform needs): kshm does not rely on
 * bounce buffers below a small mask, which may not exist.
 *
 * The mapping holds its own reference on the buffer, so the buffer is not
 * released, and its application not told, before kshm_buf_dma_unmap(),
 * whatever order the driver puts things in.  The device's writes reach the
 * pages (and so the application) only where the driver syncs them for the
 * CPU (dma_sync_single_for_cpu() on the bus addresses): do it before
 * announcing them.  The unmap copies nothing back, so the application's own
 * writes elsewhere in the range are never overwritten by a stale bounce
 * copy.  A buffer the device may write is marked dirty when it is released.
 *
 * Context: process.
 * Return: the mapped table; ERR_PTR(-EACCES) for a direction the
 * registration does not allow, -EINVAL for another direction or a range
 * outside the buffer, -ECANCELED for a cancelled buffer, -ERANGE for a
 * device that cannot reach all of memory and has no IOMMU, -ENOMEM, or
 * the DMA layer's error.
 */
struct sg_table *kshm_buf_dma_map(struct kshm_buf *b, struct device *dev,
				  u64 offset, u64 len,
				  enum dma_data_direction dir)
{
	u32 need = dir == DMA_TO_DEVICE ? KSHM_BUF_KERNEL_READ :
		   dir == DMA_FROM_DEVICE ? KSHM_BUF_KERNEL_WRITE :
		   KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE;
	u64 first = offset_in_page(b->addr) + offset;
	struct sg_table *sgt;
	size_t max_seg;
	int ret;

	if (dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE &&
	    dir != DMA_BIDIRECTIONAL)
		return ERR_PTR(-EINVAL);
	if (!len || len > b->length || offset > b->length - len)
		return ERR_PTR(-EINVAL);
	if ((b->access & need) != need)
		return ERR_PTR(-EACCES);
	if (READ_ONCE(b->cancelled))
		return ERR_PTR(-ECANCELED);
	if (!kshm_dma_translated(dev) && dma_addressing_limited(dev))
		return ERR_PTR(-ERANGE);
	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	/* No segment longer than the device, or a bounce buffer, can take. */
	max_seg = min_t(size_t, dma_get_max_seg_size(dev), dma_max_mapping_size(dev));
	ret = sg_alloc_table_from_pages_segment(sgt, b->pages + (first >> PAGE_SHIFT),
						DIV_ROUND_UP(offset_in_page(first) + len,
							     PAGE_SIZE),
						offset_in_page(first), len,
						max(max_seg & PAGE_MASK, PAGE_SIZE),
						GFP_KERNEL);
	if (ret)
		goto out_free_sgt;
	ret = dma_map_sgtable(dev, sgt, dir, 0);
	if (ret)
		goto out_free_table;
	/* Device writes bypass the kernel mapping: the unpin must dirty. */
	if (dir != DMA_TO_DEVICE)
		WRITE_ONCE(b->device_wrote, true);
	/* The mapping keeps the pages: no release before the unmap. */
	kref_get(&b->ref);
	return sgt;

out_free_table:
	sg_free_table(sgt);
out_free_sgt:
	kfree(sgt);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_dma_map, KSHM);

/**
 * kshm_buf_dma_unmap - undo kshm_buf_dma_map()
 * @b: the buffer
 * @dev: the device it was mapped for
 * @sgt: the table kshm_buf_dma_map() returned
 * @dir: the direction it was mapped with
 *
 * Call it once the device can no longer touch the buffer.  It copies
 * nothing back from a bounce buffer (what the device wrote reached the
 * pages where the driver synced it), and drops the mapping's reference,
 * which may release the buffer.
 * Context: process.
 */
void kshm_buf_dma_unmap(struct kshm_buf *b, struct device *dev,
			struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_unmap_sgtable(dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
	kshm_buf_put(b);
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_dma_unmap, KSHM);

/**
 * kshm_ring_from_fd - take a kernel-to-user ring an application created
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the ring's id (KSHM_IOC_RING_CREATE with KSHM_RING_K2U)
 *
 * The ring stays valid until kshm_ring_put(); records produced after the
 * application destroyed it reach nobody, and are not an error.
 *
 * Context: process, the application's.
 * Return: the ring; ERR_PTR(-EBADF), -EINVAL for a descriptor that is not
 * /dev/kshm or a region that is not a kernel-to-user ring, -ENOENT.
 */
struct kshm_ring *kshm_ring_from_fd(int fd, u32 id)
{
	struct kshm_file *kf = kshm_file_from_fd(fd);
	struct kshm_ring *ring;

	if (IS_ERR(kf))
		return ERR_CAST(kf);
	ring = kshm_ring_get(kf, id);
	if (!IS_ERR(ring) && !kshm_ring_is_k2u(ring)) {
		kshm_ring_put(ring);
		ring = ERR_PTR(-EINVAL);
	}
	kshm_file_put(kf);
	return ring;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_from_fd, KSHM);

/**
 * kshm_region_create - allocate a region for a driver to share
 * @length: bytes, 1 at least; rounded up to whole pages
 * @cache_mode: KSHM_CACHE_WB, _WC or _UC, for every mapping of it
 * @node: the NUMA node its pages come from, or NUMA_NO_NODE for any
 * @flags: 0 or KSHM_REGION_USER_RDONLY (applications may only read it)
 *
 * Zeroed pages, mapped for the kernel at kshm_region_kaddr() and into an
 * application by kshm_region_mmap() from the driver's own mmap.  The pages
 * are charged to the module's max_total_size and to the calling process's
 * RLIMIT_MEMLOCK (unless it has CAP_IPC_LOCK), so call it from the
 * application's system call.  They live until the driver's reference and
 * every mapping are gone, in any order.
 *
 * The Windows counterpart: MmAllocatePagesForMdl(Ex) and, for the kernel,
 * MmGetSystemAddressForMdlSafe.
 *
 * Context: process, may sleep.
 * Return: the region, with one reference for the caller; ERR_PTR(-EINVAL)
 * for a zero length, an unknown cache mode or flag, or a node without
 * memory; -EFBIG beyond max_region_size; -ENOSPC beyond max_total_size;
 * -ENOMEM (also RLIMIT_MEMLOCK); -EINTR on a fatal signal; -EOPNOTSUPP
 * for a cache mode the platform cannot set.
 */
struct kshm_region *kshm_region_create(u64 length, u32 cache_mode, int node,
				       u32 flags)
{
	struct kshm_region_create c = {
		.length = length,
		.cache_mode = cache_mode,
		.flags = flags,
	};

	might_sleep();
	if (flags & KSHM_REGION_NODE)
		return ERR_PTR(-EINVAL);
	if (node != NUMA_NO_NODE) {
		c.flags |= KSHM_REGION_NODE;
		c.node = node;
	}
	return kshm_region_create_client(&c, NULL);
}
EXPORT_SYMBOL_NS_GPL(kshm_region_create, KSHM);

/**
 * kshm_region_create_coherent - allocate a common buffer for a device
 * @dev: the device that will DMA into it, its DMA mask already set
 * @length: bytes, 1 at least; rounded up to whole pages
 * @flags: 0 or KSHM_REGION_USER_RDONLY
 *
 * For devices without scatter-gather: dma_alloc_coherent() memory,
 * contiguous at kshm_region_dma_addr() in @dev's DMA space (and physically,
 * where no IOMMU translates), coherent for the device, zeroed, mapped for
 * the kernel at kshm_region_kaddr() and into an application by
 * kshm_region_mmap() like any region.  Charged as kshm_region_create().
 * The bus address is the driver's alone: never hand it to an application.
 *
 * The memory is @dev's: in remove(), once the device's DMA into it has
 * stopped, call kshm_region_revoke(), which takes it from the application
 * and frees it while the device is still there.  The region holds a
 * reference on @dev until it is freed.
 *
 * The Windows counterpart: the DMA adapter's AllocateCommonBuffer.
 *
 * Context: process, may sleep.
 * Return: the region, with one reference for the caller; ERR_PTR(-EINVAL)
 * for a zero length or an unknown flag, -EFBIG, -ENOSPC or -ENOMEM as
 * kshm_region_create(); -EOPNOTSUPP in a guest with encrypted memory, or
 * for a device whose coherent pool has no pages to map.
 */
struct kshm_region *kshm_region_create_coherent(struct device *dev, u64 length,
						u32 flags)
{
	struct kshm_region_create c = {
		.length = length,
		.cache_mode = KSHM_CACHE_WB,
		.flags = flags,
	};

	might_sleep();
	return kshm_region_create_client(&c, dev);
}
EXPORT_SYMBOL_NS_GPL(kshm_region_create_coherent, KSHM);

/**
 * kshm_region_kaddr - the kernel's address of a region's byte 0
 * @r: a region from kshm_region_create*()
 *
 * Contiguous, in the region's cache mode, valid until the last reference
 * goes (a common buffer's: until kshm_region_revoke()).
 * Context: any.
 * Return: the address.
 */
void *kshm_region_kaddr(struct kshm_region *r)
{
	return r->vaddr;
}
EXPORT_SYMBOL_NS_GPL(kshm_region_kaddr, KSHM);

/**
 * kshm_region_length - a region's length in bytes (whole pages)
 * @r: a region from kshm_region_create*()
 * Context: any.
 * Return: the length.
 */
u64 kshm_region_length(const struct kshm_region *r)
{
	return r->length;
}
EXPORT_SYMBOL_NS_GPL(kshm_region_length, KSHM);

/**
 * kshm_region_dma_addr - where a common buffer starts for its device
 * @r: a region from kshm_region_create_coherent()
 *
 * Context: any.
 * Return: the bus address of byte 0, for the device the region was made
 * for; DMA_MAPPING_ERROR (and a warning) for a region that is no common
 * buffer, or was revoked.
 */
dma_addr_t kshm_region_dma_addr(const struct kshm_region *r)
{
	if (WARN_ONCE(!r->dev || READ_ONCE(r->revoked),
		      "kshm: the DMA address of a region that is no common buffer, or revoked"))
		return DMA_MAPPING_ERROR;
	return r->dma;
}
EXPORT_SYMBOL_NS_GPL(kshm_region_dma_addr, KSHM);

/**
 * kshm_region_mmap - map a region into an application, from a driver's mmap
 * @r: a region from kshm_region_create*()
 * @vma: the vma the driver's mmap file operation was given, with
 *	@vma->vm_pgoff set to the region's first page to map (a driver with
 *	several regions at several offsets subtracts its own offset first)
 *
 * The mapping must be shared (MAP_SHARED), within the region, and not
 * writable for a KSHM_REGION_USER_RDONLY region (mprotect cannot make it
 * so later); it cannot grow, is left out of core dumps, and holds its own
 * reference on @r, so the driver may put its own at any time.  The vma
 * keeps the driver's file, so the driver's release() comes only after the
 * application has unmapped.
 *
 * The Windows counterpart: MmMapLockedPagesSpecifyCache(UserMode), with
 * the lifetime handled.
 *
 * Context: process (a driver's mmap), may sleep.
 * Return: 0; -EINVAL for a private mapping or a range outside the region,
 * -EPERM for a writable mapping of a read-only region, -ENOMEM.
 */
int kshm_region_mmap(struct kshm_region *r, struct vm_area_struct *vma)
{
	might_sleep();
	return kshm_region_mmap_client(r, vma);
}
EXPORT_SYMBOL_NS_GPL(kshm_region_mmap, KSHM);

/**
 * kshm_ring_from_fd_u2k - take a user-to-kernel ring to consume
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the ring's id (KSHM_IOC_RING_CREATE with KSHM_RING_U2K)
 * @wq: woken when the application rings the ring's doorbell (its submit
 *	found KSHM_RING_WANT_WAKEUP up, or it called KSHM_IOC_RING_WAIT), and
 *	when it destroys the ring; may be NULL.  It must live until
 *	kshm_ring_put_u2k().
 *
 * The caller becomes the ring's one consumer (kshm_ring_consume()): from
 * now on kshm's own consumer never drains it, even after the driver gives
 * it back with kshm_ring_put_u2k(), when another driver may take it.
 *
 * Context: process, the application's; may sleep.
 * Return: the ring; ERR_PTR(-EBADF), -EINVAL for a descriptor that is not
 * /dev/kshm or a region that is not a user-to-kernel ring, -ENOENT,
 * -EBUSY while another taker holds the ring.
 */
struct kshm_ring *kshm_ring_from_fd_u2k(int fd, u32 id, struct wait_queue_head *wq)
{
	struct kshm_file *kf = kshm_file_from_fd(fd);
	struct kshm_ring *ring;
	int ret;

	if (IS_ERR(kf))
		return ERR_CAST(kf);
	ring = kshm_ring_get(kf, id);
	kshm_file_put(kf);
	if (IS_ERR(ring))
		return ring;
	ret = kshm_ring_take_u2k(ring, wq);
	if (ret) {
		kshm_ring_put(ring);
		return ERR_PTR(ret);
	}
	return ring;
}
EXPORT_SYMBOL_NS_GPL(kshm_ring_from_fd_u2k, KSHM);
