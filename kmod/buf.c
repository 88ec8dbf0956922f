// SPDX-License-Identifier: GPL-2.0
/*
 * kshm buffers: memory the application allocated, pinned for as long as it
 * stays registered, and mapped into the kernel when the kernel first uses it.
 *
 * The Windows analogue is a METHOD_OUT_DIRECT request kept pending: the
 * registration is the pending request, unregister is its cancellation, and
 * the KSHM_EVENT_BUF_RELEASED event is its completion.  Until that event the
 * kernel may still touch the pages, so the application must not free them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hugetlb.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "kshm.h"

atomic64_t kshm_bufs_alive = ATOMIC64_INIT(0);
atomic64_t kshm_buf_pages_pinned = ATOMIC64_INIT(0);

/* Registrations one file may hold at once. */
#define KSHM_MAX_BUF_ID		65535

/*
 * Whatever max_buf_size says: page counts must fit pin_user_pages' int, and
 * the array of page pointers kvmalloc()'s INT_MAX bytes (512 GiB of pages
 * make a 1 GiB array).
 */
#define KSHM_BUF_SIZE_CAP	BIT_ULL(39)

/**
 * kshm_memlock_charge - charge pages the user cannot swap to RLIMIT_MEMLOCK
 * @nr: pages
 * @userp: set to the user charged (a reference), or NULL for CAP_IPC_LOCK
 *
 * As io_uring, AF_XDP and RDMA do: the user's locked_vm, against the
 * caller's RLIMIT_MEMLOCK; CAP_IPC_LOCK is exempt (checked without an audit
 * record, as io_uring does).  Context: process, the caller's.
 * Return: 0, or -ENOMEM over the limit.
 */
int kshm_memlock_charge(unsigned long nr, struct user_struct **userp)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	struct user_struct *user;
	unsigned long cur;

	*userp = NULL;
	if (ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK))
		return 0;
	user = get_uid(current_user());
	cur = atomic_long_read(&user->locked_vm);
	do {
		if (nr > limit || cur > limit - nr) {
			free_uid(user);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + nr));
	*userp = user;
	return 0;
}

/* Undo kshm_memlock_charge().  Context: any. */
void kshm_memlock_uncharge(unsigned long nr, struct user_struct *user)
{
	if (user) {
		atomic_long_sub(nr, &user->locked_vm);
		free_uid(user);
	}
}

/*
 * Charge the buffer to RLIMIT_MEMLOCK and count it in the mm's pinned_vm,
 * which /proc/PID/status shows as VmPin.
 */
static int kshm_buf_charge(struct kshm_buf *b)
{
	int ret = kshm_memlock_charge(b->nr_pages, &b->user);

	if (ret)
		return ret;
	b->mm = current->mm;
	mmgrab(b->mm);
	atomic64_add(b->nr_pages, &b->mm->pinned_vm);
	return 0;
}

static void kshm_buf_uncharge(struct kshm_buf *b)
{
	atomic64_sub(b->nr_pages, &b->mm->pinned_vm);
	mmdrop(b->mm);
	kshm_memlock_uncharge(b->nr_pages, b->user);
}

/*
 * May a long-term pin hold @page?  Anonymous, shmem (swap-backed) and
 * hugetlb pages, and pages of no file (a WB region's own pages): yes.
 * Pages of a regular file: EOPNOTSUPP, on every kernel; their filesystem
 * may write them back or truncate them under the pin (Linux 6.5 forbade it
 * for writes; 6.1 still allows it, io_uring on 6.1 refuses it).  A WC or UC
 * region's pages: EFAULT, as get_user_pages() says for their VM_IO vmas;
 * our write-back vmap of them would break PAT.  Checked on the pinned pages
 * themselves, so no remap after a check of the vmas can slip one in.
 */
static int kshm_page_check(struct folio *folio, struct page *page)
{
	if (folio_test_anon(folio) || folio_test_swapbacked(folio) ||
	    folio_test_hugetlb(folio))
		return 0;
	if (folio_mapping(folio))
		return -EOPNOTSUPP;
	return kshm_page_not_wb(page) ? -EFAULT : 0;
}

/*
 * Is @vma a mapping of a regular file (not shmem/tmpfs/memfd, not
 * hugetlbfs, not a kshm region, not anonymous memory with a file, as a
 * private mapping of /dev/zero is, not a PFN or I/O mapping, which
 * get_user_pages refuses itself)?
 */
static bool kshm_vma_regular_file(struct vm_area_struct *vma)
{
	return vma->vm_file && !vma_is_anonymous(vma) &&
	       !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
	       !shmem_file(vma->vm_file) && !is_vm_hugetlb_page(vma) &&
	       !kshm_vma_is_region(vma);
}

/*
 * Refuse a range that maps a regular file before pinning anything, shared
 * or private, so every kernel gives EOPNOTSUPP (6.12's get_user_pages
 * refuses some such pins itself with EFAULT, and unshares private ones).
 * kshm_page_check() then catches a remap racing this check.
 * Context: process, the caller's.
 */
static int kshm_buf_check_vmas(u64 start, u64 end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	int ret = 0;

	mmap_read_lock(mm);
	for (vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = find_vma(mm, vma->vm_end)) {
		if (kshm_vma_regular_file(vma)) {
			ret = -EOPNOTSUPP;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * How many of @pages from @i on (of @nr) are the next pages of one folio
 * in a row?  They share every property kshm_page_check() looks at and are
 * unpinned together: a 2 MiB hugetlb folio costs one step, not 512.
 */
static unsigned long kshm_folio_run(struct folio *folio, struct page **pages,
				    unsigned long i, unsigned long nr)
{
	unsigned long pfn = page_to_pfn(pages[i]), n = 1, left;

	if (!folio_test_large(folio))
		return 1;
	left = min(nr - i, folio_nr_pages(folio) - (pfn - folio_pfn(folio)));
	while (n < left && page_to_pfn(pages[i + n]) == pfn + n)
		n++;
	return n;
}

/* Pin @nr pages from @start with @gup: 0, or -errno with nothing pinned. */
static int kshm_pin_range(u64 start, unsigned long nr, unsigned int gup,
			  struct page **pages)
{
	int pinned = pin_user_pages_fast(start, nr, gup, pages);

	if (pinned == nr)
		return 0;
	/* A hole part-way: release what was pinned at once. */
	if (pinned > 0)
		unpin_user_pages(pages, pinned);
	return pinned < 0 ? pinned : -EFAULT;
}

/*
 * Pin every page of the buffer, all or nothing.  A registration the kernel
 * only reads is still pinned for writing where the memory is writable:
 * that breaks copy-on-write and the shared zero page now, so the kernel
 * sees what the application writes later (6.1 would otherwise pin the zero
 * page of untouched memory).  Read-only memory is pinned as it is.
 */
static int kshm_buf_pin(struct kshm_buf *b)
{
	u64 start = b->addr & PAGE_MASK;
	struct folio *folio;
	unsigned long i, n;
	int ret;

	ret = kshm_buf_check_vmas(start, b->addr + b->length);
	if (ret)
		return ret;
	b->pages = kvmalloc_array(b->nr_pages, sizeof(*b->pages),
				  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!b->pages)
		return -ENOMEM;
	ret = kshm_pin_range(start, b->nr_pages, FOLL_LONGTERM | FOLL_WRITE,
			     b->pages);
	if (ret == -EFAULT && !(b->access & KSHM_BUF_KERNEL_WRITE))
		ret = kshm_pin_range(start, b->nr_pages, FOLL_LONGTERM, b->pages);
	if (ret)
		goto out_free_pages;
	for (i = 0; i < b->nr_pages; i += n) {
		folio = page_folio(b->pages[i]);
		ret = kshm_page_check(folio, b->pages[i]);
		if (ret)
			goto out_unpin;
		/* Only the next frame can continue a run: read no folio else. */
		n = 1;
		if (i + 1 < b->nr_pages &&
		    page_to_pfn(b->pages[i + 1]) == page_to_pfn(b->pages[i]) + 1)
			n = kshm_folio_run(folio, b->pages, i, b->nr_pages);
		b->runs |= n > 1;
	}
	return 0;

out_unpin:
	unpin_user_pages(b->pages, b->nr_pages);
out_free_pages:
	kvfree(b->pages);
	return ret;
}

/*
 * Unpin every page.  Pages the kernel may have written must reach their
 * backing store, so they are marked dirty; every CPU write of the kernel to
 * a buffer goes through @b->vaddr and every device write through a DMA
 * mapping that set @b->device_wrote, so a buffer with neither was never
 * written and its pages are left as the application left them.  Runs of a large folio
 * go in one call each; without any, one call for all.
 */
static void kshm_buf_unpin(struct kshm_buf *b)
{
	bool dirty = (b->access & KSHM_BUF_KERNEL_WRITE) &&
		     (b->vaddr || READ_ONCE(b->device_wrote));
	unsigned long i, n;

	if (!b->runs) {
		unpin_user_pages_dirty_lock(b->pages, b->nr_pages, dirty);
	} else {
		for (i = 0; i < b->nr_pages; i += n) {
			n = kshm_folio_run(page_folio(b->pages[i]), b->pages, i,
					   b->nr_pages);
			unpin_user_page_range_dirty_lock(b->pages[i], n, dirty);
		}
	}
	kvfree(b->pages);
}

static void kshm_buf_release(struct kshm_buf *b)
{
	struct kshm_file *kf = b->kf;

	if (b->vaddr)
		vunmap(b->vaddr);
	mutex_destroy(&b->map_lock);
	kshm_buf_unpin(b);
	kshm_buf_uncharge(b);
	atomic64_sub(b->nr_pages, &kshm_buf_pages_pinned);
	atomic64_dec(&kshm_bufs_alive);
	/* A buffer never published, or undone, has nobody to tell. */
	if (READ_ONCE(b->id))
		kshm_event_post(kf, KSHM_EVENT_BUF_RELEASED, b->id);
	kfree(b);
	kshm_file_put(kf);
}

static void kshm_buf_release_work(struct work_struct *work)
{
	kshm_buf_release(container_of(work, struct kshm_buf, release_work));
}

static void kshm_buf_last_put(struct kref *ref)
{
	kshm_buf_release(container_of(ref, struct kshm_buf, ref));
}

static void kshm_buf_last_put_atomic(struct kref *ref)
{
	struct kshm_buf *b = container_of(ref, struct kshm_buf, ref);

	queue_work(kshm_wq, &b->release_work);
}

/*
 * Drop a reference to a buffer (other drivers: kshm_buf_put() in api.c).
 * The last one releases it at once (unmaps, unpins, reports
 * KSHM_EVENT_BUF_RELEASED), so close() and exit have released every idle
 * buffer when they return, and a driver's last put is the application's
 * signal that the memory is its own again.
 *
 * Context: process.
 */
void kshm_buf_unref(struct kshm_buf *b)
{
	might_sleep();
	kref_put(&b->ref, kshm_buf_last_put);
}

/* Drop a reference in any context (the engine's hard IRQ): release later. */
void kshm_buf_unref_atomic(struct kshm_buf *b)
{
	kref_put(&b->ref, kshm_buf_last_put_atomic);
}

/* Context: any. */
struct kshm_buf *kshm_buf_get(struct kshm_file *kf, u32 id)
{
	struct kshm_buf *b;

	xa_lock(&kf->bufs);
	b = xa_load(&kf->bufs, id);
	if (b)
		kref_get(&b->ref);
	xa_unlock(&kf->bufs);
	return b ? b : ERR_PTR(-ENOENT);
}

/*
 * Byte 0 of a buffer (a reference held) in the kernel's contiguous mapping
 * (other drivers: kshm_buf_kaddr() in api.c).
 *
 * Registration pins the pages and stops there, as io_uring's does: a
 * buffer the kernel never touches never costs a vmap().  The first kernel
 * user maps the pages (read-only for the kernel unless it may write, so a
 * bug faults), under @b->map_lock so that racing first users make one
 * mapping between them; it stays until the release, so any later context,
 * the engine's hard IRQ included, uses it without sleeping.
 *
 * Context: process (vmap() sleeps).
 * Return: the address; ERR_PTR(-ENOMEM) when vmalloc space runs out, or
 * -EINTR when a fatal signal ends the wait for another first user.
 */
void *kshm_buf_vaddr(struct kshm_buf *b)
{
	/* Pairs with the smp_store_release() below: a mapping seen is made. */
	void *vaddr = smp_load_acquire(&b->vaddr);

	might_sleep();
	if (!vaddr) {
		/* A second first user waits here, killably. */
		if (mutex_lock_killable(&b->map_lock))
			return ERR_PTR(-EINTR);
		vaddr = b->vaddr;
		if (!vaddr && !kshm_plant_vmap_fault()) {
			vaddr = vmap(b->pages, b->nr_pages, VM_MAP,
				     b->access & KSHM_BUF_KERNEL_WRITE ?
				     PAGE_KERNEL : PAGE_KERNEL_RO);
			kshm_plant_first_use_window();
			if (vaddr) {
				/*
				 * Pairs with the smp_load_acquire() above: the
				 * page tables vmap() wrote come before the pointer.
				 */
				smp_store_release(&b->vaddr, vaddr);
			}
		}
		mutex_unlock(&b->map_lock);
		if (!vaddr)
			return ERR_PTR(-ENOMEM);
	}
	return vaddr + offset_in_page(b->addr);
}

static int kshm_buf_register_check(const struct kshm_buf_register *r)
{
	u64 end;

	if (r->__reserved || !r->flags || !r->length ||
	    check_add_overflow(r->addr, r->length, &end))
		return -EINVAL;
	if (r->length > min_t(u64, READ_ONCE(kshm_max_buf_size), KSHM_BUF_SIZE_CAP))
		return -EFBIG;
	if (!r->addr || !access_ok(u64_to_user_ptr(r->addr), r->length))
		return -EFAULT;
	return 0;
}

/* Pin and charge a new buffer; the caller publishes it. */
static struct kshm_buf *kshm_buf_create(struct kshm_file *kf,
					const struct kshm_buf_register *r)
{
	struct kshm_buf *b;
	int ret;

	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->access = r->flags;
	b->addr = r->addr;
	b->length = r->length;
	b->nr_pages = DIV_ROUND_UP(offset_in_page(r->addr) + r->length, PAGE_SIZE);
	ret = kshm_buf_charge(b);
	if (ret)
		goto out_free_buf;
	ret = kshm_buf_pin(b);
	if (ret)
		goto out_uncharge;
	kref_init(&b->ref);
	INIT_WORK(&b->release_work, kshm_buf_release_work);
	mutex_init(&b->map_lock);
	return b;

out_uncharge:
	kshm_buf_uncharge(b);
out_free_buf:
	kfree(b);
	return ERR_PTR(ret);
}

/*
 * Link @b into @kf's tree of registered ranges, unless it overlaps one:
 * -EEXIST.  The ranges in the tree never overlap, so a range wholly before
 * (after) a node can only meet the nodes on its left (right).
 * Context: process, under buf_lock.
 */
static int kshm_buf_link(struct kshm_file *kf, struct kshm_buf *b)
{
	struct rb_node **link = &kf->buf_tree.rb_node, *parent = NULL;
	u64 end = b->addr + b->length;
	struct kshm_buf *o;

	lockdep_assert_held(&kf->buf_lock);
	while (*link) {
		parent = *link;
		o = rb_entry(parent, struct kshm_buf, node);
		if (end <= o->addr)
			link = &parent->rb_left;
		else if (b->addr >= o->addr + o->length)
			link = &parent->rb_right;
		else
			return -EEXIST;
	}
	rb_link_node(&b->node, parent, link);
	rb_insert_color(&b->node, &kf->buf_tree);
	return 0;
}

/*
 * Give @b a handle in @kf, unless it overlaps a live registration.
 * Context: process.
 */
static int kshm_buf_publish(struct kshm_file *kf, struct kshm_buf *b)
{
	int ret;

	mutex_lock(&kf->buf_lock);
	ret = kshm_buf_link(kf, b);
	if (ret)
		goto out_unlock;
	ret = xa_alloc(&kf->bufs, &b->id, b, XA_LIMIT(1, KSHM_MAX_BUF_ID),
		       GFP_KERNEL_ACCOUNT);
	/* Test build only: an xa_alloc() that failed after choosing an id. */
	if (!ret && kshm_plant_publish_fault()) {
		xa_erase(&kf->bufs, b->id);
		ret = -ENOMEM;
	}
	if (ret)
		rb_erase(&b->node, &kf->buf_tree);
out_unlock:
	mutex_unlock(&kf->buf_lock);
	return ret == -EBUSY ? -ENOSPC : ret;
}

/*
 * Take buffer @id out of @kf's table and tree: no new user can find it,
 * and its range is free for a new registration.
 * Return: the buffer, with the table's reference, or NULL.  Context: process.
 */
static struct kshm_buf *kshm_buf_unpublish(struct kshm_file *kf, u32 id)
{
	struct kshm_buf *b;

	mutex_lock(&kf->buf_lock);
	b = xa_erase(&kf->bufs, id);
	if (b)
		rb_erase(&b->node, &kf->buf_tree);
	mutex_unlock(&kf->buf_lock);
	return b;
}

int kshm_ioctl_buf_register(struct kshm_file *kf, void *arg)
{
	struct kshm_buf_register *r = arg;
	struct kshm_buf *b;
	int ret;

	ret = kshm_buf_register_check(r);
	if (ret)
		return ret;
	/* A place among the module's registrations first, given back if unused. */
	if (atomic64_inc_return(&kshm_bufs_alive) > READ_ONCE(kshm_max_bufs)) {
		atomic64_dec(&kshm_bufs_alive);
		return -ENOSPC;
	}
	b = kshm_buf_create(kf, r);
	if (IS_ERR(b)) {
		atomic64_dec(&kshm_bufs_alive);
		return PTR_ERR(b);
	}
	atomic64_add(b->nr_pages, &kshm_buf_pages_pinned);
	kref_get(&kf->ref);
	b->kf = kf;
	/*
	 * Once published, an unregister of the (predictable) id may drop the
	 * handle's reference at any moment: hold our own until we have read
	 * the id.
	 */
	kref_get(&b->ref);
	ret = kshm_buf_publish(kf, b);
	if (ret) {
		/*
		 * Never published: released at once, without an event.  A
		 * failed xa_alloc() may have left a candidate id in b->id.
		 */
		b->id = 0;
		kshm_buf_unref(b);
	} else {
		kshm_plant_publish_window();
		r->id = b->id;
	}
	kshm_buf_unref(b);
	return ret;
}

/* Take @b out of the table: no new user can find it; the engine stops. */
static void kshm_buf_cancel(struct kshm_buf *b)
{
	WRITE_ONCE(b->cancelled, true);
	kshm_buf_unref(b);
}

/*
 * The caller never learned the id: release the buffer without an event (a
 * release of an id nobody knows would only confuse a later registration).
 */
void kshm_undo_buf_register(struct kshm_file *kf, void *arg)
{
	struct kshm_buf_register *r = arg;
	struct kshm_buf *b = kshm_buf_unpublish(kf, r->id);

	if (b) {
		WRITE_ONCE(b->id, 0);
		kshm_buf_cancel(b);
	}
}

int kshm_ioctl_buf_unregister(struct kshm_file *kf, void *arg)
{
	struct kshm_buf_unregister *u = arg;
	struct kshm_buf *b;

	if (u->__reserved)
		return -EINVAL;
	b = kshm_buf_unpublish(kf, u->id);
	if (!b)
		return -ENOENT;
	kshm_buf_cancel(b);
	return 0;
}

int kshm_ioctl_buf_info(struct kshm_file *kf, void *arg)
{
	struct kshm_buf_info *info = arg;
	struct kshm_buf *b;
	int ret = 0;

	/* The fields copied are fixed for the buffer's life. */
	xa_lock(&kf->bufs);
	b = xa_load(&kf->bufs, info->id);
	if (b) {
		info->access = b->access;
		info->addr = b->addr;
		info->length = b->length;
		info->pages = b->nr_pages;
	} else {
		ret = -ENOENT;
	}
	xa_unlock(&kf->bufs);
	return ret;
}

void kshm_file_release_bufs(struct kshm_file *kf)
{
	struct kshm_buf *b;
	unsigned long id;

	xa_for_each(&kf->bufs, id, b) {
		b = kshm_buf_unpublish(kf, id);
		if (b)
			kshm_buf_cancel(b);
	}
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&kf->buf_tree));
	xa_destroy(&kf->bufs);
}
