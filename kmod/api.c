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
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/kshm.h>

#include "kshm.h"

/*
 * The references other drivers hold.  An entry counts the references of
 * one kind (enum kshm_handle_kind) that drivers hold on one object; each
 * is a real reference, so an object with an entry is alive, and a put or
 * a call whose handle has no entry of its kind is refused before it
 * touches the object.  What this cannot catch: a second put while another
 * reference of the same kind to the same object is held (the count is
 * shared), and a stale handle whose address a new object of the same kind
 * has taken since.
 */
struct kshm_handle {
	struct hlist_node node;	/* in kshm_handles */
	const void *obj;
	const void *parent;	/* KSHM_HANDLE_BUF_MAP: the buffer mapped */
	struct module *owner;	/* the module holding it, pinned; NULL: built in */
	unsigned int kind;
	unsigned int refs;
};

/*
 * Protects kshm_handles and every entry's refs.  Taken in any context, hard
 * IRQ included (kshm_ring_produce() of a debug build), so raw: a spinlock_t
 * sleeps on PREEMPT_RT.  Held only for a hash-chain walk.
 */
static DEFINE_RAW_SPINLOCK(kshm_handles_lock);
static DEFINE_HASHTABLE(kshm_handles, 6);

/*
 * The entry of @obj held as one of @kinds: by @owner, or by anyone when
 * @any_owner.  Context: kshm_handles_lock held.
 */
static struct kshm_handle *kshm_handle_find(const void *obj, unsigned int kinds,
					    bool any_owner, struct module *owner)
{
	struct kshm_handle *h;

	lockdep_assert_held(&kshm_handles_lock);
	hash_for_each_possible(kshm_handles, h, node, (unsigned long)obj)
		if (h->obj == obj && (h->kind & kinds) &&
		    (any_owner || h->owner == owner))
			return h;
	return NULL;
}

/*
 * Count a reference to @obj, a part of @parent (or NULL), that module
 * @owner takes as @kind.  @owner stays pinned while it holds any reference
 * of an entry: it cannot be unloaded before it gives back what it took.
 * Context: process.
 * Return: 0; -ENOMEM; -ENODEV for a module on its way out.
 */
int kshm_handle_add(const void *obj, enum kshm_handle_kind kind,
		    const void *parent, struct module *owner)
{
	struct kshm_handle *h, *new = kmalloc(sizeof(*new), GFP_KERNEL);

	if (!new)
		return -ENOMEM;
	if (!try_module_get(owner)) {
		kfree(new);
		return -ENODEV;
	}
	raw_spin_lock_irq(&kshm_handles_lock);
	h = kshm_handle_find(obj, kind, false, owner);
	if (h) {
		h->refs++;
	} else {
		new->obj = obj;
		new->parent = parent;
		new->owner = owner;
		new->kind = kind;
		new->refs = 1;
		hash_add(kshm_handles, &new->node, (unsigned long)obj);
		new = NULL;
	}
	raw_spin_unlock_irq(&kshm_handles_lock);
	if (new) {
		/* The entry pins the module already. */
		module_put(owner);
		kfree(new);
	}
	return 0;
}

/*
 * Uncount a reference to @obj of @kind, a part of @parent (or NULL), that
 * module @owner holds, before the caller drops the reference itself; the
 * entry's last one unpins the module.  Context: process.
 * Return: false when @owner holds none (nothing was changed).
 */
bool kshm_handle_drop(const void *obj, enum kshm_handle_kind kind,
		      const void *parent, struct module *owner)
{
	struct kshm_handle *h, *gone = NULL;

	raw_spin_lock_irq(&kshm_handles_lock);
	h = kshm_handle_find(obj, kind, false, owner);
	if (h && h->parent != parent)
		h = NULL;
	if (h && !--h->refs) {
		hash_del(&h->node);
		gone = h;
	}
	raw_spin_unlock_irq(&kshm_handles_lock);
	if (gone) {
		module_put(gone->owner);
		kfree(gone);
	}
	return h;
}

/*
 * Does a driver hold @obj as one of @kinds?
 * Context: any, hard IRQ included.
 */
bool kshm_handle_held(const void *obj, unsigned int kinds)
{
	unsigned long flags;
	bool held;

	raw_spin_lock_irqsave(&kshm_handles_lock, flags);
	held = kshm_handle_find(obj, kinds, true, NULL);
	raw_spin_unlock_irqrestore(&kshm_handles_lock, flags);
	return held;
}

/*
 * At module exit (no client is loaded, so none can call): references a
 * client unloaded without putting leak their objects; say so.
 * Context: process.
 */
void kshm_handles_exit(void)
{
	struct hlist_node *tmp;
	struct kshm_handle *h;
	unsigned int n = 0;
	int bkt;

	hash_for_each_safe(kshm_handles, bkt, tmp, h, node) {
		n += h->refs;
		hash_del(&h->node);
		kfree(h);
	}
	if (n)
		pr_err("other drivers never put %u references; leaking them\n", n);
}

/**
 * __kshm_buf_from_fd - take a buffer an application registered
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the buffer's id (KSHM_IOC_BUF_REGISTER)
 * @access: what the caller will do: KSHM_BUF_KERNEL_READ and/or _WRITE,
 *	each of which the registration must allow
 * @owner: the caller's module (THIS_MODULE, given by kshm_buf_from_fd())
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
 * does not allow, -ENOMEM; -EINVAL for a call where it may not sleep.
 */
struct kshm_buf *__kshm_buf_from_fd(int fd, u32 id, u32 access,
				    struct module *owner)
{
	struct kshm_file *kf;
	struct kshm_buf *b;

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	if (!access || access & ~(KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE))
		return ERR_PTR(-EINVAL);
	kf = kshm_file_from_fd(fd);
	if (IS_ERR(kf))
		return ERR_CAST(kf);
	b = kshm_buf_get(kf, id);
	if (!IS_ERR(b) && (b->access & access) != access) {
		kshm_buf_unref(b);
		b = ERR_PTR(-EACCES);
	}
	kshm_file_put(kf);
	if (!IS_ERR(b) && kshm_handle_add(b, KSHM_HANDLE_BUF, NULL, owner)) {
		kshm_buf_unref(b);
		b = ERR_PTR(-ENOMEM);
	}
	return b;
}
EXPORT_SYMBOL_NS_GPL(__kshm_buf_from_fd, KSHM);

/**
 * __kshm_buf_put - drop a reference from kshm_buf_from_fd()
 * @b: the buffer
 * @owner: the caller's module (THIS_MODULE, given by kshm_buf_put())
 *
 * The last reference releases the buffer at once (unmaps, unpins, reports
 * KSHM_EVENT_BUF_RELEASED): a driver's last put is the application's
 * signal that the memory is its own again.  A buffer the caller does not
 * hold (put twice) is refused and left alone; so is a call where it may
 * not sleep.
 *
 * The Windows counterpart: completing the IRP whose buffer it was.
 * Context: process.
 */
void __kshm_buf_put(struct kshm_buf *b, struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(b, KSHM_HANDLE_BUF, NULL, owner),
			"a buffer the caller does not hold (put twice?)"))
		return;
	kshm_buf_unref(b);
}
EXPORT_SYMBOL_NS_GPL(__kshm_buf_put, KSHM);

/**
 * kshm_buf_kaddr - byte 0 of a buffer in the kernel's contiguous mapping
 * @b: a buffer from kshm_buf_from_fd()
 *
 * The first call maps the pages (read-only unless the registration lets
 * the kernel write, so a bug faults); the mapping stays until the buffer
 * is released, so any later context, hard IRQ included, may use it.
 *
 * The Windows counterpart: MmGetSystemAddressForMdlSafe.
 * Context: process (the first call vmap()s).
 * Return: the address; ERR_PTR(-ENOMEM) when vmalloc space runs out,
 * -EINTR on a fatal signal while another first caller maps, -EINVAL for
 * a buffer the caller does not hold or a call where it may not sleep.
 */
void *kshm_buf_kaddr(struct kshm_buf *b)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(b, KSHM_HANDLE_BUF),
			"a buffer the caller does not hold"))
		return ERR_PTR(-EINVAL);
	return kshm_buf_vaddr(b);
}
EXPORT_SYMBOL_NS_GPL(kshm_buf_kaddr, KSHM);

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
	if (kshm_debug_misuse(!kshm_handle_held(b, KSHM_HANDLE_BUF),
			      "a buffer the caller does not hold"))
		return 0;
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
	if (kshm_debug_misuse(!kshm_handle_held(b, KSHM_HANDLE_BUF),
			      "a buffer the caller does not hold"))
		return true;
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
 * __kshm_buf_dma_map - map part of a buffer for a device's DMA
 * @b: a buffer from kshm_buf_from_fd()
 * @dev: the device
 * @offset: the first byte to map, from byte 0 of the buffer
 * @len: bytes to map, 1 at least, within the buffer
 * @dir: DMA_TO_DEVICE needs kernel read access, DMA_FROM_DEVICE kernel
 *	write access, DMA_BIDIRECTIONAL both
 * @owner: the caller's module (THIS_MODULE, given by kshm_buf_dma_map())
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
 * the DMA layer's error; -EINVAL for a buffer the caller does not hold or
 * a call where it may not sleep.
 */
struct sg_table *__kshm_buf_dma_map(struct kshm_buf *b, struct device *dev,
				    u64 offset, u64 len,
				    enum dma_data_direction dir,
				    struct module *owner)
{
	u32 need = dir == DMA_TO_DEVICE ? KSHM_BUF_KERNEL_READ :
		   dir == DMA_FROM_DEVICE ? KSHM_BUF_KERNEL_WRITE :
		   KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE;
	u64 first = offset_in_page(b->addr) + offset;
	struct sg_table *sgt;
	size_t max_seg;
	int ret;

	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(b, KSHM_HANDLE_BUF),
			"a buffer the caller does not hold"))
		return ERR_PTR(-EINVAL);
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
	/* The unmap gives the mapping back once, and for this buffer only. */
	ret = kshm_handle_add(sgt, KSHM_HANDLE_BUF_MAP, b, owner);
	if (ret)
		goto out_unmap;
	/* Device writes bypass the kernel mapping: the unpin must dirty. */
	if (dir != DMA_TO_DEVICE)
		WRITE_ONCE(b->device_wrote, true);
	/* The mapping keeps the pages: no release before the unmap. */
	kref_get(&b->ref);
	return sgt;

out_unmap:
	dma_unmap_sgtable(dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
out_free_table:
	sg_free_table(sgt);
out_free_sgt:
	kfree(sgt);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(__kshm_buf_dma_map, KSHM);

/**
 * __kshm_buf_dma_unmap - undo kshm_buf_dma_map()
 * @b: the buffer
 * @dev: the device it was mapped for
 * @sgt: the table kshm_buf_dma_map() returned
 * @dir: the direction it was mapped with
 * @owner: the caller's module (THIS_MODULE, given by kshm_buf_dma_unmap())
 *
 * Call it once the device can no longer touch the buffer.  It copies
 * nothing back from a bounce buffer (what the device wrote reached the
 * pages where the driver synced it), and drops the mapping's reference,
 * which may release the buffer (so it may come after kshm_buf_put()).
 * A table the caller does not hold (unmapped twice), or one of another
 * buffer, is refused and left alone (misuse); so is a call where it may
 * not sleep, the mapping kept.
 * Context: process.
 */
void __kshm_buf_dma_unmap(struct kshm_buf *b, struct device *dev,
			  struct sg_table *sgt, enum dma_data_direction dir,
			  struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(sgt, KSHM_HANDLE_BUF_MAP, b, owner),
			"a mapping the caller does not hold, or of another buffer"))
		return;
	dma_unmap_sgtable(dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	sg_free_table(sgt);
	kfree(sgt);
	kshm_buf_unref(b);
}
EXPORT_SYMBOL_NS_GPL(__kshm_buf_dma_unmap, KSHM);

/**
 * __kshm_ring_from_fd - take a kernel-to-user ring an application created
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the ring's id (KSHM_IOC_RING_CREATE with KSHM_RING_K2U)
 * @owner: the caller's module (THIS_MODULE, given by kshm_ring_from_fd())
 *
 * The ring stays valid until kshm_ring_put(); records produced after the
 * application destroyed it reach nobody, and are not an error.
 *
 * Context: process, the application's.
 * Return: the ring; ERR_PTR(-EBADF), -EINVAL for a descriptor that is not
 * /dev/kshm or a region that is not a kernel-to-user ring, or a call where
 * it may not sleep; -ENOENT; -ENOMEM.
 */
struct kshm_ring *__kshm_ring_from_fd(int fd, u32 id, struct module *owner)
{
	struct kshm_file *kf;
	struct kshm_ring *ring;

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	kf = kshm_file_from_fd(fd);
	if (IS_ERR(kf))
		return ERR_CAST(kf);
	ring = kshm_ring_get(kf, id);
	if (!IS_ERR(ring) && !kshm_ring_is_k2u(ring)) {
		kshm_ring_unref(ring);
		ring = ERR_PTR(-EINVAL);
	}
	kshm_file_put(kf);
	if (!IS_ERR(ring) && kshm_handle_add(ring, KSHM_HANDLE_RING, NULL, owner)) {
		kshm_ring_unref(ring);
		ring = ERR_PTR(-ENOMEM);
	}
	return ring;
}
EXPORT_SYMBOL_NS_GPL(__kshm_ring_from_fd, KSHM);

/**
 * __kshm_ring_put - drop a ring from kshm_ring_from_fd() or kshm_ring_create()
 * @ring: the ring
 * @owner: the caller's module (THIS_MODULE, given by kshm_ring_put())
 *
 * A ring the caller does not hold this way (put twice, or taken with
 * kshm_ring_from_fd_u2k(), which kshm_ring_put_u2k() gives back) is
 * refused and left alone; so is a call where it may not sleep.
 * Context: process (the last reference frees the ring's pages).
 */
void __kshm_ring_put(struct kshm_ring *ring, struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(ring, KSHM_HANDLE_RING, NULL, owner),
			"a ring the caller does not hold this way (put twice?)"))
		return;
	kshm_ring_unref(ring);
}
EXPORT_SYMBOL_NS_GPL(__kshm_ring_put, KSHM);

/* Count a new region as its creator's.  Context: process. */
static struct kshm_region *kshm_region_handle(struct kshm_region *r,
					      struct module *owner)
{
	if (!IS_ERR(r) && kshm_handle_add(r, KSHM_HANDLE_REGION, NULL, owner)) {
		kshm_region_unref(r);
		return ERR_PTR(-ENOMEM);
	}
	return r;
}

/**
 * __kshm_region_create - allocate a region for a driver to share
 * @length: bytes, 1 at least; rounded up to whole pages
 * @cache_mode: KSHM_CACHE_WB, _WC or _UC, for every mapping of it
 * @node: the NUMA node its pages come from, or NUMA_NO_NODE for any
 * @flags: 0 or KSHM_REGION_USER_RDONLY (applications may only read it)
 * @owner: the caller's module (THIS_MODULE, given by kshm_region_create())
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
 * for a cache mode the platform cannot set; -EINVAL for a call where it
 * may not sleep.
 */
struct kshm_region *__kshm_region_create(u64 length, u32 cache_mode, int node,
					 u32 flags, struct module *owner)
{
	struct kshm_region_create c = {
		.length = length,
		.cache_mode = cache_mode,
		.flags = flags,
	};

	if (kshm_misuse_atomic() || flags & KSHM_REGION_NODE)
		return ERR_PTR(-EINVAL);
	if (node != NUMA_NO_NODE) {
		c.flags |= KSHM_REGION_NODE;
		c.node = node;
	}
	return kshm_region_handle(kshm_region_create_client(&c, NULL), owner);
}
EXPORT_SYMBOL_NS_GPL(__kshm_region_create, KSHM);

/**
 * __kshm_region_create_coherent - allocate a common buffer for a device
 * @dev: the device that will DMA into it, its DMA mask already set
 * @length: bytes, 1 at least; rounded up to whole pages
 * @flags: 0 or KSHM_REGION_USER_RDONLY
 * @owner: the caller's module (THIS_MODULE, given by kshm_region_create_coherent())
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
 * for a device whose coherent pool has no pages to map; -EINVAL for a
 * call where it may not sleep.
 */
struct kshm_region *__kshm_region_create_coherent(struct device *dev,
						  u64 length, u32 flags,
						  struct module *owner)
{
	struct kshm_region_create c = {
		.length = length,
		.cache_mode = KSHM_CACHE_WB,
		.flags = flags,
	};

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	return kshm_region_handle(kshm_region_create_client(&c, dev), owner);
}
EXPORT_SYMBOL_NS_GPL(__kshm_region_create_coherent, KSHM);

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
	if (kshm_debug_misuse(!kshm_handle_held(r, KSHM_HANDLE_REGION),
			      "a region the caller does not hold"))
		return NULL;
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
	if (kshm_debug_misuse(!kshm_handle_held(r, KSHM_HANDLE_REGION),
			      "a region the caller does not hold"))
		return 0;
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
 * buffer, or was revoked (in a debug build, also for a region the caller
 * does not hold).
 */
dma_addr_t kshm_region_dma_addr(const struct kshm_region *r)
{
	if (kshm_debug_misuse(!kshm_handle_held(r, KSHM_HANDLE_REGION),
			      "a region the caller does not hold") ||
	    kshm_misuse(!r->dev || READ_ONCE(r->revoked),
			"a region that is no common buffer, or revoked"))
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
 * or a region the caller does not hold; -EPERM for a writable mapping of a
 * read-only region, -ENOMEM.
 */
int kshm_region_mmap(struct kshm_region *r, struct vm_area_struct *vma)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(r, KSHM_HANDLE_REGION),
			"a region the caller does not hold"))
		return -EINVAL;
	return kshm_region_mmap_client(r, vma);
}
EXPORT_SYMBOL_NS_GPL(kshm_region_mmap, KSHM);

/**
 * __kshm_region_put - drop the reference kshm_region_create*() gave
 * @r: the region
 * @owner: the caller's module (THIS_MODULE, given by kshm_region_put())
 *
 * The last reference (the driver's or a mapping's, in any order) frees the
 * memory and its charges; a common buffer's memory goes at
 * kshm_region_revoke() if that comes first.  A region the caller does not
 * hold (put twice) is refused and left alone; so is a call where it may
 * not sleep.
 * Context: process.
 */
void __kshm_region_put(struct kshm_region *r, struct module *owner)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_drop(r, KSHM_HANDLE_REGION, NULL, owner),
			"a region the caller does not hold (put twice?)"))
		return;
	kshm_region_unref(r);
}
EXPORT_SYMBOL_NS_GPL(__kshm_region_put, KSHM);

/**
 * __kshm_ring_from_fd_u2k - take a user-to-kernel ring to consume
 * @fd: the application's descriptor of /dev/kshm, in the calling process
 * @id: the ring's id (KSHM_IOC_RING_CREATE with KSHM_RING_U2K)
 * @wq: woken when the application rings the ring's doorbell (its submit
 *	found KSHM_RING_WANT_WAKEUP up, or it called KSHM_IOC_RING_WAIT), and
 *	when it destroys the ring; may be NULL.  It must live until
 *	kshm_ring_put_u2k().
 * @owner: the caller's module (THIS_MODULE, given by kshm_ring_from_fd_u2k())
 *
 * The caller becomes the ring's one consumer (kshm_ring_consume()): from
 * now on kshm's own consumer never drains it, even after the driver gives
 * it back with kshm_ring_put_u2k(), when another driver may take it.
 *
 * Context: process, the application's; may sleep.
 * Return: the ring; ERR_PTR(-EBADF), -EINVAL for a descriptor that is not
 * /dev/kshm or a region that is not a user-to-kernel ring, or a call where
 * it may not sleep; -ENOENT, -EBUSY while another taker holds the ring,
 * -ENOMEM.
 */
struct kshm_ring *__kshm_ring_from_fd_u2k(int fd, u32 id,
					  struct wait_queue_head *wq,
					  struct module *owner)
{
	struct kshm_file *kf;
	struct kshm_ring *ring;
	int ret;

	if (kshm_misuse_atomic())
		return ERR_PTR(-EINVAL);
	kf = kshm_file_from_fd(fd);
	if (IS_ERR(kf))
		return ERR_CAST(kf);
	ring = kshm_ring_get(kf, id);
	kshm_file_put(kf);
	if (IS_ERR(ring))
		return ring;
	/* Counted first: a take is not undone (kshm's consumer stays off). */
	ret = kshm_handle_add(ring, KSHM_HANDLE_RING_U2K, NULL, owner);
	if (ret)
		goto out_unref;
	ret = kshm_ring_take_u2k(ring, wq);
	if (ret)
		goto out_uncount;
	return ring;

out_uncount:
	kshm_handle_drop(ring, KSHM_HANDLE_RING_U2K, NULL, owner);
out_unref:
	kshm_ring_unref(ring);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(__kshm_ring_from_fd_u2k, KSHM);
