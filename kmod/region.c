// SPDX-License-Identifier: GPL-2.0
/*
 * kshm regions: zeroed pages the module allocates, maps for itself with
 * vmap() and lets an application mmap() from the device file.
 *
 * A region is reference counted: its handle in the file's table holds one
 * reference and every vma mapping it holds one, so destroy, close, munmap
 * and process exit may come in any order; the last one frees the pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/cc_platform.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/nodemask.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/kshm.h>
#ifdef CONFIG_X86
#include <asm/set_memory.h>
#endif

#include "kshm.h"

atomic64_t kshm_regions_alive = ATOMIC64_INIT(0);
atomic64_t kshm_pages_alive = ATOMIC64_INIT(0);
atomic64_t kshm_pages_leaked = ATOMIC64_INIT(0);

/* The region ids that fit in the mmap offset space (loff_t is signed). */
#define KSHM_MAX_REGION_ID	((u32)((1ULL << (63 - KSHM_MMAP_WINDOW_SHIFT)) - 1))

u64 kshm_region_size_limit(void)
{
	return min_t(u64, READ_ONCE(kshm_max_region_size),
		     KSHM_WINDOW_PAGES << PAGE_SHIFT);
}

/*
 * x86 PAT forbids two mappings of a page with different cache types, so the
 * kernel's linear mapping of WC/UC pages is changed to match ours (as the
 * TTM page pool does) and set back to write-back before the pages are freed.
 */
static int kshm_pages_set_cache(struct page **pages, unsigned long n, u32 mode)
{
#ifdef CONFIG_X86
	if (mode == KSHM_CACHE_WC)
		return set_pages_array_wc(pages, n);
	if (mode == KSHM_CACHE_UC)
		return set_pages_array_uc(pages, n);
	return 0;
#else
	return mode == KSHM_CACHE_WB ? 0 : -EOPNOTSUPP;
#endif
}

/*
 * Set the pages back to write-back.  If that fails they must not return to
 * the page allocator with another memtype: the caller leaks them instead.
 */
static int kshm_pages_restore_wb(struct page **pages, unsigned long n, u32 mode)
{
#ifdef CONFIG_X86
	int ret;

	if (mode == KSHM_CACHE_WB)
		return 0;
	/* The test build can make it fail (plant 4): the pages stay WC/UC. */
	ret = kshm_plant_wb_fault() ? -EIO : set_pages_array_wb(pages, n);
	if (ret) {
		atomic64_add(n, &kshm_pages_leaked);
		pr_err("cannot set %lu pages back to write-back (%d); leaking them\n",
		       n, ret);
	}
	return ret;
#else
	return 0;
#endif
}

static pgprot_t kshm_cache_pgprot(pgprot_t prot, u32 mode)
{
	if (mode == KSHM_CACHE_WC)
		return pgprot_writecombine(prot);
	if (mode == KSHM_CACHE_UC)
		return pgprot_noncached(prot);
	return prot;
}

/* The kernel's pgprot for a mapping of @r's pages.  Context: any. */
pgprot_t kshm_region_pgprot(struct kshm_region *r)
{
	return kshm_cache_pgprot(PAGE_KERNEL, r->cache_mode);
}

/*
 * page->private of the pages of WC/UC regions: a buffer registration must
 * refuse them (kshm_page_not_wb()), and GUP-fast, which never looks at the
 * vma and its VM_IO, would otherwise pin them.  An address of this module,
 * so no other owner of a page can have set the same value.
 */
#define KSHM_PAGE_NOT_WB	((unsigned long)&kshm_regions_alive)

/* Is @page one of a WC or UC region's?  Context: any. */
bool kshm_page_not_wb(struct page *page)
{
	return page_private(page) == KSHM_PAGE_NOT_WB;
}

static void kshm_region_free_pages(struct kshm_region *r, unsigned long n)
{
	while (n--) {
		set_page_private(r->pages[n], 0);
		__free_page(r->pages[n]);
	}
	kvfree(r->pages);
}

/* Reserve @nr pages of the module-wide budget, or fail with -ENOSPC. */
static int kshm_total_charge(unsigned long nr)
{
	u64 limit = READ_ONCE(kshm_max_total_size) >> PAGE_SHIFT;

	if (atomic64_add_return(nr, &kshm_pages_alive) > limit) {
		atomic64_sub(nr, &kshm_pages_alive);
		return -ENOSPC;
	}
	return 0;
}

static void kshm_file_uncharge(struct kshm_file *kf, u64 bytes)
{
	atomic64_sub(bytes, &kf->bytes);
}

/*
 * The last reference: pages, charges and the file's quota go together, so
 * a region destroyed but still mapped keeps counting against all three.
 * Context: process.
 */
static void kshm_region_free(struct kref *ref)
{
	struct kshm_region *r = container_of(ref, struct kshm_region, ref);

	if (r->ring)
		kshm_ring_free(r->ring);
	if (r->dev) {
		/* A driver that never revoked it: its device is still there. */
		if (!r->revoked)
			dma_free_coherent(r->dev, r->length, r->vaddr, r->dma);
		if (r->inode)
			iput(r->inode);
		put_device(r->dev);
	} else {
		vunmap(r->vaddr);
		if (kshm_pages_restore_wb(r->pages, r->nr_pages, r->cache_mode))
			kvfree(r->pages);
		else
			kshm_region_free_pages(r, r->nr_pages);
	}
	kshm_memlock_uncharge(r->nr_pages, r->user);
	atomic64_sub(r->nr_pages, &kshm_pages_alive);
	atomic64_dec(&kshm_regions_alive);
	if (r->kf) {
		kshm_file_uncharge(r->kf, r->length);
		kshm_file_put(r->kf);
	}
	kfree(r);
}

/*
 * Drop a reference to a region: the last one (its id's or a driver's, a
 * mapping's, a user's) frees the memory and its charges.  Other drivers
 * call kshm_region_put() (api.c) instead.
 * Context: process.
 */
void kshm_region_unref(struct kshm_region *r)
{
	kref_put(&r->ref, kshm_region_free);
}

static struct page *kshm_alloc_page(int node)
{
	/*
	 * Charged to the caller's memory cgroup; RETRY_MAYFAIL makes a cgroup
	 * at its limit fail the allocation instead of calling the OOM killer.
	 */
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN |
		    __GFP_RETRY_MAYFAIL;

	if (node == NUMA_NO_NODE)
		return alloc_page(gfp);
	return alloc_pages_node(node, gfp | __GFP_THISNODE, 0);
}

static int kshm_region_alloc_pages(struct kshm_region *r)
{
	unsigned long i;
	int ret;

	r->pages = kvmalloc_array(r->nr_pages, sizeof(*r->pages),
				  GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL);
	if (!r->pages)
		return -ENOMEM;
	for (i = 0; i < r->nr_pages; i++) {
		ret = -EINTR;
		if (fatal_signal_pending(current))
			goto out_free_pages;
		ret = -ENOMEM;
		r->pages[i] = kshm_alloc_page(r->node);
		if (!r->pages[i])
			goto out_free_pages;
		if (r->cache_mode != KSHM_CACHE_WB)
			set_page_private(r->pages[i], KSHM_PAGE_NOT_WB);
		cond_resched();
	}
	ret = kshm_pages_set_cache(r->pages, r->nr_pages, r->cache_mode);
	if (ret) {
		/*
		 * set_pages_array_*() released its memtypes but may have
		 * changed part of the direct map: such pages must never go
		 * back to the allocator.
		 */
		atomic64_add(r->nr_pages, &kshm_pages_leaked);
		pr_err("cannot set the cache mode of %lu pages (%d); leaking them\n",
		       r->nr_pages, ret);
		kvfree(r->pages);
		return ret;
	}
	r->vaddr = vmap(r->pages, r->nr_pages, VM_MAP,
			kshm_cache_pgprot(PAGE_KERNEL, r->cache_mode));
	if (!r->vaddr) {
		ret = -ENOMEM;
		goto out_restore_wb;
	}
	return 0;

out_restore_wb:
	if (kshm_pages_restore_wb(r->pages, r->nr_pages, r->cache_mode)) {
		kvfree(r->pages);
		return ret;
	}
out_free_pages:
	kshm_region_free_pages(r, i);
	return ret;
}

/*
 * A common buffer: memory contiguous in @dev's address space (and, without
 * an IOMMU, physically), coherent for it, zeroed, with a kernel address.
 * Context: process.
 */
static int kshm_region_alloc_coherent(struct kshm_region *r, struct device *dev)
{
	unsigned long i;

	init_rwsem(&r->revoke_lock);
	/*
	 * An encrypted guest's DMA memory is shared (decrypted): the
	 * application's mapping would need the DMA layer's protections.
	 */
	if (cc_platform_has(CC_ATTR_MEM_ENCRYPT))
		return -EOPNOTSUPP;
	r->vaddr = dma_alloc_coherent(dev, r->length, &r->dma,
				      GFP_KERNEL | __GFP_NOWARN);
	if (!r->vaddr)
		return -ENOMEM;
	/* The faults map it page by page: a pool without pages cannot be. */
	for (i = 0; i < r->nr_pages; i++) {
		void *p = r->vaddr + (i << PAGE_SHIFT);

		if (is_vmalloc_addr(p) ? !vmalloc_to_page(p) : !virt_addr_valid(p)) {
			dma_free_coherent(dev, r->length, r->vaddr, r->dma);
			return -EOPNOTSUPP;
		}
	}
	/* The last mapping may go after the driver let go of the device. */
	r->dev = get_device(dev);
	return 0;
}

/*
 * A region as @c asks, its pages from the page allocator or, with @dev, a
 * common buffer for that device; charged to the module's total and to the
 * caller's RLIMIT_MEMLOCK, not yet any file's.  Context: process.
 */
static struct kshm_region *kshm_region_alloc(const struct kshm_region_create *c,
					     struct device *dev)
{
	struct kshm_region *r;
	int ret;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->length = c->length;
	r->nr_pages = c->length >> PAGE_SHIFT;
	r->flags = c->flags;
	r->cache_mode = c->cache_mode;
	r->node = c->flags & KSHM_REGION_NODE ? c->node : NUMA_NO_NODE;
	ret = kshm_total_charge(r->nr_pages);
	if (ret)
		goto out_free_region;
	/* Memory the user cannot swap, like mlock: RLIMIT_MEMLOCK. */
	ret = kshm_memlock_charge(r->nr_pages, &r->user);
	if (ret)
		goto out_uncharge_total;
	ret = dev ? kshm_region_alloc_coherent(r, dev) : kshm_region_alloc_pages(r);
	if (ret)
		goto out_uncharge_memlock;
	kref_init(&r->ref);
	atomic_set(&r->mappings, 0);
	atomic64_inc(&kshm_regions_alive);
	return r;

out_uncharge_memlock:
	kshm_memlock_uncharge(r->nr_pages, r->user);
out_uncharge_total:
	atomic64_sub(r->nr_pages, &kshm_pages_alive);
out_free_region:
	kfree(r);
	return ERR_PTR(ret);
}

/* Take a reference on the region @id of @kf, or return ERR_PTR(-ENOENT). */
struct kshm_region *kshm_region_get(struct kshm_file *kf, u32 id)
{
	struct kshm_region *r;

	xa_lock(&kf->regions);
	r = xa_load(&kf->regions, id);
	if (r)
		kref_get(&r->ref);
	xa_unlock(&kf->regions);
	return r ? r : ERR_PTR(-ENOENT);
}

/* Reserve @bytes of the file's quota, or fail with -ENOSPC. */
static int kshm_file_charge(struct kshm_file *kf, u64 bytes)
{
	u64 limit = READ_ONCE(kshm_max_file_size);

	if (atomic64_add_return(bytes, &kf->bytes) > limit) {
		atomic64_sub(bytes, &kf->bytes);
		return -ENOSPC;
	}
	return 0;
}

static int kshm_region_create_check(const struct kshm_region_create *c)
{
	if (c->__reserved || !c->length)
		return -EINVAL;
	if (c->cache_mode != KSHM_CACHE_WB && c->cache_mode != KSHM_CACHE_WC &&
	    c->cache_mode != KSHM_CACHE_UC)
		return -EINVAL;
	if (!(c->flags & KSHM_REGION_NODE))
		return c->node ? -EINVAL : 0;
	if (c->node < 0 || c->node >= MAX_NUMNODES ||
	    !node_state(c->node, N_MEMORY))
		return -EINVAL;
	return 0;
}

/*
 * A region for @kf as @c asks, charged, not yet published: its last
 * reference gives everything back.  Context: process.
 */
struct kshm_region *kshm_region_new(struct kshm_file *kf, struct kshm_region_create *c)
{
	struct kshm_region *r;
	int ret;

	ret = kshm_region_create_check(c);
	if (ret)
		return ERR_PTR(ret);
	if (c->length > kshm_region_size_limit())
		return ERR_PTR(-EFBIG);
	c->length = PAGE_ALIGN(c->length);
	ret = kshm_file_charge(kf, c->length);
	if (ret)
		return ERR_PTR(ret);
	r = kshm_region_alloc(c, NULL);
	if (IS_ERR(r)) {
		kshm_file_uncharge(kf, c->length);
		return r;
	}
	/* From here the region's last reference gives the quota back. */
	kref_get(&kf->ref);
	r->kf = kf;
	return r;
}

/*
 * Give @r an id in @kf and fill in @c's results; the caller's reference
 * stays the caller's.  Context: process.
 */
int kshm_region_publish(struct kshm_file *kf, struct kshm_region *r,
			struct kshm_region_create *c)
{
	int ret;

	/*
	 * Once published, a destroy of the (predictable) id may drop the
	 * handle's reference at any moment: hold our own until we have read
	 * the id.  xa_alloc() sets r->id before the entry becomes visible.
	 */
	kref_get(&r->ref);
	ret = xa_alloc(&kf->regions, &r->id, r,
		       XA_LIMIT(1, KSHM_MAX_REGION_ID), GFP_KERNEL_ACCOUNT);
	if (ret) {
		kshm_region_unref(r);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	kshm_plant_publish_window();
	c->id = r->id;
	c->mmap_offset = (u64)r->id << KSHM_MMAP_WINDOW_SHIFT;
	kshm_region_unref(r);
	return 0;
}

int kshm_ioctl_region_create(struct kshm_file *kf, void *arg)
{
	struct kshm_region_create *c = arg;
	struct kshm_region *r;
	int ret;

	r = kshm_region_new(kf, c);
	if (IS_ERR(r))
		return PTR_ERR(r);
	ret = kshm_region_publish(kf, r, c);
	if (ret)
		kshm_region_unref(r);
	return ret;
}

/*
 * The caller never learned the id: take the region back.  A thread of the
 * caller that destroyed the id meanwhile (and got it reused) only undoes
 * its own file's region.
 */
void kshm_undo_region_create(struct kshm_file *kf, void *arg)
{
	struct kshm_region_create *c = arg;
	struct kshm_region *r = xa_erase(&kf->regions, c->id);

	if (r)
		kshm_region_unref(r);
}

static void kshm_region_unpublished(struct kshm_region *r);

int kshm_ioctl_region_destroy(struct kshm_file *kf, void *arg)
{
	struct kshm_region_destroy *d = arg;
	struct kshm_region *r;

	if (d->__reserved)
		return -EINVAL;
	r = xa_erase(&kf->regions, d->id);
	if (!r)
		return -ENOENT;
	kshm_region_unpublished(r);
	kshm_region_unref(r);
	return 0;
}

/*
 * The handle of @r is gone: nobody can name it any more, so whoever sleeps
 * on its ring for the other side must wake.  Context: process.
 */
static void kshm_region_unpublished(struct kshm_region *r)
{
	if (r->ring)
		kshm_ring_orphan(r->ring);
}

void kshm_file_release_regions(struct kshm_file *kf)
{
	struct kshm_region *r;
	unsigned long id;

	xa_for_each(&kf->regions, id, r) {
		xa_erase(&kf->regions, id);
		kshm_region_unpublished(r);
		kshm_region_unref(r);
	}
	xa_destroy(&kf->regions);
}

/* Is [@offset, @offset + @len) a nonempty range inside @r? */
bool kshm_region_range_ok(struct kshm_region *r, u64 offset, u64 len)
{
	return len && len <= r->length && offset <= r->length - len;
}

int kshm_ioctl_region_info(struct kshm_file *kf, void *arg)
{
	struct kshm_region_info *info = arg;
	unsigned long index = info->id;
	struct kshm_region *r;
	int ret = 0;

	/* The fields copied are fixed for the region's life, or atomic. */
	xa_lock(&kf->regions);
	if (info->flags & KSHM_REGION_INFO_NEXT)
		r = xa_find(&kf->regions, &index, KSHM_MAX_REGION_ID, XA_PRESENT);
	else
		r = xa_load(&kf->regions, index);
	if (r) {
		info->id = r->id;
		info->region_flags = r->flags;
		info->length = r->length;
		info->mmap_offset = (u64)r->id << KSHM_MMAP_WINDOW_SHIFT;
		info->cache_mode = r->cache_mode;
		info->node = r->node == NUMA_NO_NODE ? KSHM_NODE_ANY : r->node;
		info->mappings = atomic_read(&r->mappings);
	} else {
		ret = -ENOENT;
	}
	xa_unlock(&kf->regions);
	return ret;
}

static void kshm_vm_open(struct vm_area_struct *vma)
{
	struct kshm_region *r = vma->vm_private_data;

	kref_get(&r->ref);
	atomic_inc(&r->mappings);
}

static void kshm_vm_close(struct vm_area_struct *vma)
{
	struct kshm_region *r = vma->vm_private_data;

	atomic_dec(&r->mappings);
	kshm_region_unref(r);
}

/* The page at @index of @r's mmap space, or NULL past its end.  Context: any. */
static struct page *kshm_region_page(struct kshm_region *r, unsigned long index)
{
	if (r->ring)
		return kshm_ring_page(r, index);
	/* A common buffer has no page array: kshm_common_fault() maps it. */
	return r->pages && index < r->nr_pages ? r->pages[index] : NULL;
}

/* Pages of @r's mmap space: a ring's data appears twice.  Context: any. */
static unsigned long kshm_region_map_pages(struct kshm_region *r)
{
	return r->ring ? kshm_ring_map_pages(r) : r->nr_pages;
}

/* May the application write every page of [@first, @first + @nr)?  Context: any. */
static bool kshm_region_user_writable(struct kshm_region *r, unsigned long first,
				      unsigned long nr)
{
	unsigned long i;

	if (r->flags & KSHM_REGION_USER_RDONLY)
		return false;
	for (i = 0; r->ring && i < nr; i++)
		if (!kshm_ring_page_writable(r, first + i))
			return false;
	return true;
}

/*
 * Insert the pages of [@first, @first + @nr) of @r's mmap space.
 * Context: process (mmap), may sleep.
 */
static int kshm_region_insert(struct kshm_region *r, struct vm_area_struct *vma,
			      unsigned long first, unsigned long nr)
{
	struct page **pages = r->pages + first;
	unsigned long i;
	int ret;

	if (r->ring) {
		pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
		if (!pages)
			return -ENOMEM;
		for (i = 0; i < nr; i++)
			pages[i] = kshm_region_page(r, first + i);
	}
	ret = vm_insert_pages(vma, vma->vm_start, pages, &nr);
	if (r->ring)
		kvfree(pages);
	return ret;
}

/*
 * A common buffer's page @index, by PFN: the DMA layer's memory is in the
 * kernel's linear map, or (behind an IOMMU) in a vmalloc area of its own.
 * Context: process, @r->revoke_lock held, @r not revoked.
 */
static unsigned long kshm_common_pfn(struct kshm_region *r, unsigned long index)
{
	void *p = r->vaddr + (index << PAGE_SHIFT);

	return is_vmalloc_addr(p) ? vmalloc_to_pfn(p) : page_to_pfn(virt_to_page(p));
}

/*
 * A common buffer is mapped page by page as the application touches it,
 * until kshm_region_revoke() takes the memory away: then SIGBUS.
 * Context: process (a page fault).
 */
static vm_fault_t kshm_common_fault(struct vm_fault *vmf, struct kshm_region *r,
				    unsigned long index)
{
	vm_fault_t ret = VM_FAULT_SIGBUS;

	/* Pairs with kshm_region_revoke(): no PFN inserted after its zap. */
	down_read(&r->revoke_lock);
	if (!r->revoked && index < r->nr_pages)
		ret = vmf_insert_pfn(vmf->vma, vmf->address, kshm_common_pfn(r, index));
	up_read(&r->revoke_lock);
	return ret;
}

/*
 * mmap inserts every page up front; a fault only comes after something
 * zapped the page tables (madvise(MADV_DONTNEED)), and gets the same page.
 * Context: process (a page fault).
 */
static vm_fault_t kshm_vm_fault(struct vm_fault *vmf)
{
	struct kshm_region *r = vmf->vma->vm_private_data;
	unsigned long index = vmf->pgoff & (KSHM_WINDOW_PAGES - 1);

	if (r->dev)
		return kshm_common_fault(vmf, r, index);
	vmf->page = kshm_region_page(r, index);
	if (!vmf->page)
		return VM_FAULT_SIGBUS;
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct kshm_vm_ops = {
	.open = kshm_vm_open,
	.close = kshm_vm_close,
	.fault = kshm_vm_fault,
};

/* Is @vma a mapping of a kshm region?  Context: any, mmap_lock held. */
bool kshm_vma_is_region(struct vm_area_struct *vma)
{
	return vma->vm_ops == &kshm_vm_ops;
}

/*
 * The file a region's mappings hold instead of /dev/kshm's: with the device
 * file free of mappings, its last close() is the cleanup (IRP_MJ_CLEANUP:
 * registrations released, engine stopped) even while the application still
 * maps regions; the vmas' own region references are the close
 * (IRP_MJ_CLOSE: pages freed with the last).  Its owner keeps the module in
 * while anything maps a region.
 */
static const struct file_operations kshm_region_fops = {
	.owner = THIS_MODULE,
	.llseek = noop_llseek,
};

/* Let @vma hold a file of its own instead of the device file. */
static int kshm_vma_detach_device(struct vm_area_struct *vma)
{
	struct file *f;

	f = anon_inode_getfile("[kshm-region]", &kshm_region_fops, NULL,
			       vma->vm_file->f_flags & O_ACCMODE);
	if (IS_ERR(f))
		return PTR_ERR(f);
	vma_set_file(vma, f);	/* takes its own reference */
	fput(f);
	return 0;
}

/*
 * A common buffer's mapping: by PFN and VM_IO, so nothing can pin the DMA
 * layer's memory (a buffer registration of it is EFAULT), filled by
 * faults.  The inode it maps is kept for kshm_region_revoke()'s zap.
 * Context: process (mmap).
 */
static int kshm_common_mmap(struct kshm_region *r, struct vm_area_struct *vma)
{
	/* The address space the core links the vma into. */
	struct inode *inode = vma->vm_file->f_mapping->host;
	int ret = 0;

	down_write(&r->revoke_lock);
	if (!r->revoked && !r->inode)
		r->inode = igrab(inode);
	if (r->revoked || !r->inode)
		ret = -ENODEV;
	else if (r->inode != inode)
		ret = -EINVAL;	/* one address space maps it, so one zap revokes */
	up_write(&r->revoke_lock);
	if (!ret)
		kshm_vm_flags_set(vma, VM_IO | VM_PFNMAP);
	return ret;
}

/**
 * kshm_region_map_vma - map part of a region into a vma
 * @r: the region
 * @vma: a vma being mmapped (of the device file, a dma-buf's, or another
 *	driver's file)
 * @first: the page of @r's mmap space that @vma starts at
 *
 * Every rule of a region's mapping holds: shared mappings only, in the
 * region's cache mode, not growable, never writable where the application
 * may not write (a writable @vma is EPERM, and mprotect() cannot make it
 * writable later).  The vma takes a reference of its own on @r.
 *
 * Context: process (mmap), may sleep.
 * Return: 0; -EINVAL for a private mapping or a range beyond @r, -EPERM,
 * -ENODEV for a revoked common buffer, or vm_insert_pages()'s error.
 */
int kshm_region_map_vma(struct kshm_region *r, struct vm_area_struct *vma,
			unsigned long first)
{
	unsigned long nr = vma_pages(vma);
	int ret;

	/* VM_MAYSHARE: a shared mapping of an O_RDONLY fd has no VM_SHARED. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (first >= kshm_region_map_pages(r) || nr > kshm_region_map_pages(r) - first)
		return -EINVAL;
	/* A read-only region, or a part of a ring the other side writes. */
	if (!kshm_region_user_writable(r, first, nr)) {
		if (vma->vm_flags & VM_WRITE)
			return -EPERM;
		/* mprotect(PROT_WRITE) must fail later too. */
		kshm_vm_flags_clear(vma, VM_MAYWRITE);
	}
	kshm_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	/*
	 * WC/UC pages must never get a write-back mapping: VM_IO keeps
	 * get_user_pages() (and so a buffer registration, which would vmap
	 * them write-back) away from them, as DRM/TTM do.
	 */
	if (r->cache_mode != KSHM_CACHE_WB)
		kshm_vm_flags_set(vma, VM_IO);
	vma->vm_page_prot = kshm_cache_pgprot(vma->vm_page_prot, r->cache_mode);
	if (r->dev)
		ret = kshm_common_mmap(r, vma);
	else
		ret = kshm_region_insert(r, vma, first, nr);
	if (ret)
		return ret;
	kref_get(&r->ref);
	vma->vm_private_data = r;
	vma->vm_ops = &kshm_vm_ops;
	atomic_inc(&r->mappings);
	return 0;
}

int kshm_file_mmap(struct kshm_file *kf, struct vm_area_struct *vma)
{
	u64 id = vma->vm_pgoff / KSHM_WINDOW_PAGES;
	struct kshm_region *r;
	int ret;

	/* Before the lookup, as ever: MAP_PRIVATE is EINVAL for any offset. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (id > KSHM_MAX_REGION_ID)
		return -ENXIO;
	r = kshm_region_get(kf, id);
	if (IS_ERR(r))
		return -ENXIO;
	ret = kshm_vma_detach_device(vma);
	if (!ret)
		ret = kshm_region_map_vma(r, vma, vma->vm_pgoff & (KSHM_WINDOW_PAGES - 1));
	/* On success the vma holds a reference of its own. */
	kshm_region_unref(r);
	return ret;
}

/*
 * For other drivers (api.c): map @r into @vma through the driver's own
 * file, from @r's page @vma->vm_pgoff.  The vma takes its own reference.
 * Context: process (the driver's mmap), may sleep.
 */
int kshm_region_mmap_client(struct kshm_region *r, struct vm_area_struct *vma)
{
	/* The fault handler finds a page from vm_pgoff within one window. */
	if (vma->vm_pgoff >= KSHM_WINDOW_PAGES)
		return -EINVAL;
	return kshm_region_map_vma(r, vma, vma->vm_pgoff);
}

/*
 * For other drivers (api.c): a region not in any file's table, as @c asks;
 * with @dev, a common buffer for that device.  Charged to the module's
 * total and the caller's RLIMIT_MEMLOCK; the caller holds its only
 * reference.  Context: process.
 */
struct kshm_region *kshm_region_create_client(struct kshm_region_create *c,
					      struct device *dev)
{
	int ret;

	ret = kshm_region_create_check(c);
	if (ret)
		return ERR_PTR(ret);
	if (c->flags & ~(KSHM_REGION_USER_RDONLY | KSHM_REGION_NODE))
		return ERR_PTR(-EINVAL);
	if (dev && (c->cache_mode != KSHM_CACHE_WB || c->flags & KSHM_REGION_NODE))
		return ERR_PTR(-EINVAL);
	if (c->length > kshm_region_size_limit())
		return ERR_PTR(-EFBIG);
	c->length = PAGE_ALIGN(c->length);
	return kshm_region_alloc(c, dev);
}

/**
 * kshm_region_revoke - take a common buffer's memory back from everyone
 * @r: a region from kshm_region_create_coherent()
 *
 * Call it in remove() (or whenever the device goes), after the device's
 * DMA into the buffer has stopped: the application's mappings lose the
 * memory (a later access is SIGBUS, a later mmap ENODEV) and the memory
 * goes back to the DMA layer now, while the device is still there.  The
 * region itself, emptied, lives on until its last reference.  Mappings
 * are zapped through the address space that mapped the buffer (the device
 * node's, or the file's f_mapping): other mappings of it that kshm made
 * fault their pages back in; a driver's own remap_pfn_range() mappings of
 * it do not.  A region the caller does not hold, or that is no common
 * buffer, is left alone (misuse); so is a call where it may not sleep.
 *
 * Context: process, may sleep.
 */
void kshm_region_revoke(struct kshm_region *r)
{
	if (kshm_misuse_atomic() ||
	    kshm_misuse(!kshm_handle_held(r, KSHM_HANDLE_REGION),
			"a region the caller does not hold") ||
	    kshm_misuse(!r->dev, "a region that is no common buffer"))
		return;
	/* Pairs with kshm_common_fault() and kshm_common_mmap(). */
	down_write(&r->revoke_lock);
	if (!r->revoked) {
		r->revoked = true;
		if (r->inode)
			unmap_mapping_range(r->inode->i_mapping, 0, 0, 1);
		dma_free_coherent(r->dev, r->length, r->vaddr, r->dma);
		r->vaddr = NULL;
	}
	up_write(&r->revoke_lock);
}
EXPORT_SYMBOL_NS_GPL(kshm_region_revoke, KSHM);
