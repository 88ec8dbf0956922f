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

#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "kshm.h"

atomic64_t kshm_regions_alive = ATOMIC64_INIT(0);
atomic64_t kshm_pages_alive = ATOMIC64_INIT(0);

/* The region ids that fit in the mmap offset space (loff_t is signed). */
#define KSHM_MAX_REGION_ID	((u32)((1ULL << (63 - KSHM_MMAP_WINDOW_SHIFT)) - 1))

u64 kshm_region_size_limit(void)
{
	return min_t(u64, READ_ONCE(kshm_max_region_size),
		     KSHM_WINDOW_PAGES << PAGE_SHIFT);
}

static void kshm_region_free_pages(struct kshm_region *r, unsigned long n)
{
	while (n--)
		__free_page(r->pages[n]);
	kvfree(r->pages);
}

static void kshm_region_free(struct kref *ref)
{
	struct kshm_region *r = container_of(ref, struct kshm_region, ref);

	vunmap(r->vaddr);
	kshm_region_free_pages(r, r->nr_pages);
	atomic64_sub(r->nr_pages, &kshm_pages_alive);
	atomic64_dec(&kshm_regions_alive);
	kfree(r);
}

static void kshm_region_put(struct kshm_region *r)
{
	kref_put(&r->ref, kshm_region_free);
}

static struct kshm_region *kshm_region_alloc(u64 length)
{
	gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN;
	unsigned long i, nr_pages = length >> PAGE_SHIFT;
	struct kshm_region *r;
	int ret = -ENOMEM;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->pages = kvmalloc_array(nr_pages, sizeof(*r->pages), GFP_KERNEL_ACCOUNT);
	if (!r->pages)
		goto out_free_region;
	for (i = 0; i < nr_pages; i++) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_free_pages;
		}
		r->pages[i] = alloc_page(gfp);
		if (!r->pages[i])
			goto out_free_pages;
		cond_resched();
	}
	r->vaddr = vmap(r->pages, nr_pages, VM_MAP, PAGE_KERNEL);
	if (!r->vaddr)
		goto out_free_pages;
	kref_init(&r->ref);
	r->length = length;
	r->nr_pages = nr_pages;
	atomic64_add(nr_pages, &kshm_pages_alive);
	atomic64_inc(&kshm_regions_alive);
	return r;

out_free_pages:
	kshm_region_free_pages(r, i);
out_free_region:
	kfree(r);
	return ERR_PTR(ret);
}

/* Take a reference on the region @id of @kf, or return ERR_PTR(-ENOENT). */
static struct kshm_region *kshm_region_get(struct kshm_file *kf, u32 id)
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

static void kshm_file_uncharge(struct kshm_file *kf, u64 bytes)
{
	atomic64_sub(bytes, &kf->bytes);
}

int kshm_ioctl_region_create(struct kshm_file *kf, void *arg)
{
	struct kshm_region_create *c = arg;
	struct kshm_region *r;
	u64 length;
	int ret;

	if (c->__reserved)
		return -EINVAL;
	if (!c->length)
		return -EINVAL;
	if (c->length > kshm_region_size_limit())
		return -EFBIG;
	length = PAGE_ALIGN(c->length);
	ret = kshm_file_charge(kf, length);
	if (ret)
		return ret;
	r = kshm_region_alloc(length);
	if (IS_ERR(r)) {
		ret = PTR_ERR(r);
		goto out_uncharge;
	}
	ret = xa_alloc(&kf->regions, &r->id, r,
		       XA_LIMIT(1, KSHM_MAX_REGION_ID), GFP_KERNEL_ACCOUNT);
	if (ret)
		goto out_put_region;
	c->length = length;
	c->id = r->id;
	c->mmap_offset = (u64)r->id << KSHM_MMAP_WINDOW_SHIFT;
	return 0;

out_put_region:
	kshm_region_put(r);
out_uncharge:
	kshm_file_uncharge(kf, length);
	return ret == -EBUSY ? -ENOSPC : ret;
}

int kshm_ioctl_region_destroy(struct kshm_file *kf, void *arg)
{
	struct kshm_region_destroy *d = arg;
	struct kshm_region *r;

	if (d->__reserved)
		return -EINVAL;
	r = xa_erase(&kf->regions, d->id);
	if (!r)
		return -ENOENT;
	kshm_file_uncharge(kf, r->length);
	kshm_region_put(r);
	return 0;
}

void kshm_file_release_regions(struct kshm_file *kf)
{
	struct kshm_region *r;
	unsigned long id;

	xa_for_each(&kf->regions, id, r) {
		xa_erase(&kf->regions, id);
		kshm_region_put(r);
	}
	xa_destroy(&kf->regions);
}

/* Is [@offset, @offset + @len) a nonempty range inside @r? */
static bool kshm_region_range_ok(struct kshm_region *r, u64 offset, u64 len)
{
	return len && len <= r->length && offset <= r->length - len;
}

static void kshm_fill_sequence(void *dst, u32 width, u64 count, u64 v, u64 step)
{
	u64 i;

	for (i = 0; i < count; i++, v += step) {
		switch (width) {
		case 1:
			((u8 *)dst)[i] = v;
			break;
		case 2:
			((u16 *)dst)[i] = v;
			break;
		case 4:
			((u32 *)dst)[i] = v;
			break;
		default:
			((u64 *)dst)[i] = v;
			break;
		}
		if ((i & 0xffff) == 0xffff)
			cond_resched();
	}
}

int kshm_ioctl_region_fill(struct kshm_file *kf, void *arg)
{
	struct kshm_region_fill *f = arg;
	struct kshm_region *r;
	u64 bytes;
	int ret = 0;

	if (f->width != 1 && f->width != 2 && f->width != 4 && f->width != 8)
		return -EINVAL;
	if (f->offset % f->width || check_mul_overflow(f->count, (u64)f->width, &bytes))
		return -EINVAL;
	r = kshm_region_get(kf, f->id);
	if (IS_ERR(r))
		return PTR_ERR(r);
	if (kshm_region_range_ok(r, f->offset, bytes))
		kshm_fill_sequence(r->vaddr + f->offset, f->width, f->count,
				   f->start, f->step);
	else
		ret = -EINVAL;
	kshm_region_put(r);
	return ret;
}

int kshm_ioctl_region_read(struct kshm_file *kf, void *arg)
{
	struct kshm_region_read *rd = arg;
	struct kshm_region *r;
	int ret = 0;

	if (rd->__reserved)
		return -EINVAL;
	r = kshm_region_get(kf, rd->id);
	if (IS_ERR(r))
		return PTR_ERR(r);
	if (!kshm_region_range_ok(r, rd->offset, rd->length))
		ret = -EINVAL;
	else if (copy_to_user(u64_to_user_ptr(rd->addr), r->vaddr + rd->offset,
			      rd->length))
		ret = -EFAULT;
	kshm_region_put(r);
	return ret;
}

static void kshm_vm_open(struct vm_area_struct *vma)
{
	struct kshm_region *r = vma->vm_private_data;

	kref_get(&r->ref);
}

static void kshm_vm_close(struct vm_area_struct *vma)
{
	kshm_region_put(vma->vm_private_data);
}

/*
 * mmap inserts every page up front; a fault only comes after something
 * zapped the page tables (madvise(MADV_DONTNEED)), and gets the same page.
 */
static vm_fault_t kshm_vm_fault(struct vm_fault *vmf)
{
	struct kshm_region *r = vmf->vma->vm_private_data;
	unsigned long index = vmf->pgoff & (KSHM_WINDOW_PAGES - 1);

	if (index >= r->nr_pages)
		return VM_FAULT_SIGBUS;
	vmf->page = r->pages[index];
	get_page(vmf->page);
	return 0;
}

static const struct vm_operations_struct kshm_vm_ops = {
	.open = kshm_vm_open,
	.close = kshm_vm_close,
	.fault = kshm_vm_fault,
};

int kshm_region_mmap(struct kshm_file *kf, struct vm_area_struct *vma)
{
	unsigned long first = vma->vm_pgoff & (KSHM_WINDOW_PAGES - 1);
	unsigned long nr = vma_pages(vma);
	u64 id = vma->vm_pgoff / KSHM_WINDOW_PAGES;
	struct kshm_region *r;
	int ret;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (id > KSHM_MAX_REGION_ID)
		return -ENXIO;
	r = kshm_region_get(kf, id);
	if (IS_ERR(r))
		return -ENXIO;
	ret = -EINVAL;
	if (first >= r->nr_pages || nr > r->nr_pages - first)
		goto out_put_region;
	kshm_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	ret = vm_insert_pages(vma, vma->vm_start, r->pages + first, &nr);
	if (ret)
		goto out_put_region;
	/* The reference taken above now belongs to the vma. */
	vma->vm_private_data = r;
	vma->vm_ops = &kshm_vm_ops;
	return 0;

out_put_region:
	kshm_region_put(r);
	return ret;
}
