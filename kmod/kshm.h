/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kshm internals shared by the module's files.
 */
#ifndef _KSHM_INTERNAL_H
#define _KSHM_INTERNAL_H

#include <linux/atomic.h>
#include <linux/hrtimer.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <uapi/linux/kshm.h>

/* Pages in one region's window of the mmap offset space. */
#define KSHM_WINDOW_PAGES	(1UL << (KSHM_MMAP_WINDOW_SHIFT - PAGE_SHIFT))

/**
 * struct kshm_file - state of one open /dev/kshm
 * @regions: region handles, id -> struct kshm_region.  The xarray's own lock
 *	serialises insertion, removal and the kref_get of a lookup, so a
 *	region found in the table cannot be freed under the finder.
 * @bytes: bytes of the regions in @regions, checked against max_file_size
 * @engine_lock: protects @engine (start, stop and release race otherwise)
 * @engine: the file's test engine, or NULL
 */
struct kshm_file {
	struct xarray regions;
	atomic64_t bytes;
	struct mutex engine_lock;	/* protects engine */
	struct kshm_engine *engine;
};

/**
 * struct kshm_region - pages allocated by the module, shared with user space
 * @ref: one reference for the handle in kshm_file.regions, one per vma
 *	mapping it, one per ioctl using it; the pages go with the last
 * @mappings: vmas mapping the region now (for kshm_region_info)
 * @id: handle in the owning file
 * @flags: KSHM_REGION_* it was created with
 * @cache_mode: enum kshm_cache_mode of every mapping of @pages
 * @node: NUMA node asked for, or NUMA_NO_NODE
 * @length: bytes, a whole number of pages
 * @nr_pages: entries in @pages
 * @pages: the pages, each holding one reference of ours
 * @vaddr: the kernel's contiguous mapping of @pages, valid from any context
 *	until the region is freed
 *
 * Every field but @ref and @mappings is set before the region is published
 * and never changes, so holders of a reference read them without a lock.
 */
struct kshm_region {
	struct kref ref;
	atomic_t mappings;
	u32 id;
	u32 flags;
	u32 cache_mode;
	int node;
	u64 length;
	unsigned long nr_pages;
	struct page **pages;
	void *vaddr;
};

/* Module parameters (main.c), read with READ_ONCE. */
extern unsigned long kshm_max_region_size;
extern unsigned long kshm_max_file_size;
extern unsigned long kshm_max_total_size;

/* Module-wide counters (region.c). */
extern atomic64_t kshm_regions_alive;
extern atomic64_t kshm_pages_alive;

u64 kshm_region_size_limit(void);
struct kshm_region *kshm_region_get(struct kshm_file *kf, u32 id);
void kshm_region_put(struct kshm_region *r);
bool kshm_region_range_ok(struct kshm_region *r, u64 offset, u64 len);
void kshm_file_release_regions(struct kshm_file *kf);
int kshm_region_mmap(struct kshm_file *kf, struct vm_area_struct *vma);

int kshm_ioctl_region_create(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_destroy(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_fill(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_read(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_info(struct kshm_file *kf, void *arg);

void kshm_engine_release(struct kshm_file *kf);
int kshm_ioctl_engine_start(struct kshm_file *kf, void *arg);
int kshm_ioctl_engine_stop(struct kshm_file *kf, void *arg);

/*
 * vm_flags became read-only behind helpers in 6.3; Kbuild defines
 * KSHM_HAVE_VM_FLAGS_SET when the kernel's headers have them.
 */
static inline void kshm_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
#ifdef KSHM_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void kshm_vm_flags_clear(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
#ifdef KSHM_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

#endif /* _KSHM_INTERNAL_H */
