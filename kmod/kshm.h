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
#include <linux/rbtree.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <uapi/linux/kshm.h>

struct device;
struct eventfd_ctx;
struct device;
struct file;

/* Pages in one region's window of the mmap offset space. */
#define KSHM_WINDOW_PAGES	(1UL << (KSHM_MMAP_WINDOW_SHIFT - PAGE_SHIFT))

/* Events a file holds for its reader before it reports an overflow. */
#define KSHM_EVENT_SLOTS	256

/**
 * struct kshm_file - state of one open /dev/kshm
 * @ref: the open file holds one; each buffer not yet released holds one, so
 *	a release that finishes after close() still has somewhere to report
 * @regions: region handles, id -> struct kshm_region.  The xarray's own lock
 *	serialises insertion, removal and the kref_get of a lookup, so a
 *	region found in the table cannot be freed under the finder.
 * @bytes: bytes of the regions in @regions, checked against max_file_size
 * @bufs: registered buffers, id -> struct kshm_buf, locked like @regions
 * @buf_lock: protects @buf_tree; serialises the overlap check and insertion
 *	of a registration with each other and with removals from @bufs
 * @buf_tree: the buffers in @bufs by user address (their ranges never
 *	overlap), so the overlap check costs O(log n)
 * @engine_lock: protects @engine (start, stop and release race otherwise)
 * @engine: the file's test engine, or NULL
 * @event_lock: protects @events, @event_head, @event_tail, @event_overflow,
 *	@event_overflow_pos and @eventfd
 * @events: ring of events not read yet
 * @event_head: next event to read (free-running)
 * @event_tail: next free slot (free-running)
 * @event_overflow: events were dropped since the last read
 * @event_overflow_pos: @event_tail when the first of them was dropped: the
 *	overflow event is read in that place, before any event queued later
 * @eventfd: signalled with each event, or NULL
 * @event_wait: readers and pollers wait here for events
 * @read_lock: one reader at a time, so peeked events stay at the head
 */
struct kshm_file {
	struct kref ref;
	struct xarray regions;
	atomic64_t bytes;
	struct xarray bufs;
	struct mutex buf_lock;		/* protects buf_tree */
	struct rb_root buf_tree;
	struct mutex engine_lock;	/* protects engine */
	struct kshm_engine *engine;
	spinlock_t event_lock;		/* protects the event ring, eventfd */
	struct kshm_event events[KSHM_EVENT_SLOTS];
	unsigned int event_head;
	unsigned int event_tail;
	bool event_overflow;
	unsigned int event_overflow_pos;
	struct eventfd_ctx *eventfd;
	wait_queue_head_t event_wait;
	struct mutex read_lock;		/* one reader at a time */
};

/**
 * struct kshm_buf - an application's buffer, pinned and mapped for the kernel
 * @ref: one for the handle in kshm_file.bufs, one per kernel user (an ioctl,
 *	the engine); the last one releases the buffer: unmaps, unpins,
 *	uncharges and reports it
 * @release_work: the release, when the last reference goes in the
 *	engine's hard IRQ, where it cannot sleep
 * @kf: the file to report the release to; holds a reference on it
 * @cancelled: set once unregistered; the engine stops at its next tick
 * @node: in kshm_file.buf_tree while the buffer has a handle
 * @id: handle in @kf
 * @access: KSHM_BUF_KERNEL_* flags
 * @addr: the user address registered
 * @length: bytes registered
 * @nr_pages: pages pinned
 * @pages: the pinned pages
 * @runs: some of @pages are runs of one large folio (unpinned run by run)
 * @device_wrote: a device may have written the pages (kshm_buf_dma_map())
 * @map_lock: serialises the first kernel users' making of @vaddr
 * @vaddr: vmap() of @pages, made by the first kernel user that needs it
 *	(kshm_buf_kaddr()), or NULL; once set, kept until the release
 * @user: charged for @nr_pages of RLIMIT_MEMLOCK, or NULL (CAP_IPC_LOCK)
 * @mm: the registering mm, whose pinned_vm counts @nr_pages
 *
 * Every field but @ref, @cancelled, @node and @vaddr is set before the
 * buffer is published and never changes.
 */
struct kshm_buf {
	struct kref ref;
	struct work_struct release_work;
	struct kshm_file *kf;
	bool cancelled;
	struct rb_node node;
	u32 id;
	u32 access;
	u64 addr;
	u64 length;
	unsigned long nr_pages;
	struct page **pages;
	bool runs;
	bool device_wrote;
	struct mutex map_lock;		/* protects the making of vaddr */
	void *vaddr;
	struct user_struct *user;
	struct mm_struct *mm;
};

/**
 * struct kshm_target - kernel memory an operation acts on
 * @region: the region, holding a reference, or NULL
 * @buf: the buffer, holding a reference, or NULL
 * @kaddr: byte 0 of it in the kernel's mapping
 * @length: its bytes
 */
struct kshm_target {
	struct kshm_region *region;
	struct kshm_buf *buf;
	void *kaddr;
	u64 length;
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
 *	until the region is freed; for a common buffer, the DMA layer's
 *	mapping of it
 * @dev: for a common buffer (a client's, kshm_region_create_coherent()),
 *	the device it was allocated for, holding a reference; else NULL, and
 *	@pages holds the pages
 * @dma: for a common buffer, its address in @dev's DMA space
 * @revoke_lock: for a common buffer: protects @revoked, @inode and the
 *	memory at @vaddr against kshm_region_revoke() (faults read, revoke
 *	writes)
 * @revoked: the common buffer's memory went back to the DMA layer
 * @inode: the inode whose mappings map the common buffer (a reference),
 *	for the revoke's zap, or NULL before the first mmap
 * @kf: the file whose max_file_size the region counts against until its
 *	pages are freed (a reference), or NULL before it is published
 * @user: charged for @nr_pages of RLIMIT_MEMLOCK, or NULL (CAP_IPC_LOCK)
 * @ring: the ring living in the pages (ring.c), freed with them, or NULL
 *
 * Every field but @ref, @mappings and a common buffer's @revoked, @inode
 * and @vaddr (under @revoke_lock) is set before the region is published
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
	struct device *dev;
	dma_addr_t dma;
	struct rw_semaphore revoke_lock;	/* common buffer: vs revoke */
	bool revoked;
	struct inode *inode;
	struct kshm_file *kf;
	struct user_struct *user;
	struct kshm_ring *ring;
};

/**
 * struct kshm_new_fd - a descriptor a command makes for its caller
 * @fd: reserved with get_unused_fd_flags(), not installed yet
 * @file: what it will name; the caller's reference, which fd_install()
 *	hands to the descriptor table, or NULL if the command made none
 */
struct kshm_new_fd {
	int fd;
	struct file *file;
};

/* Module parameters (main.c), read with READ_ONCE. */
extern unsigned long kshm_max_region_size;
extern unsigned long kshm_max_file_size;
extern unsigned long kshm_max_total_size;
extern unsigned long kshm_max_buf_size;
extern unsigned long kshm_max_bufs;
extern bool kshm_test_engine;

/* Where buffers are released; drained at module exit (main.c). */
extern struct workqueue_struct *kshm_wq;

/* Module-wide counters (region.c, buf.c). */
extern atomic64_t kshm_regions_alive;
extern atomic64_t kshm_pages_alive;
extern atomic64_t kshm_bufs_alive;
extern atomic64_t kshm_buf_pages_pinned;
extern atomic64_t kshm_pages_leaked;

void kshm_file_put(struct kshm_file *kf);
struct kshm_file *kshm_file_from_fd(int fd);
int kshm_memlock_charge(unsigned long nr, struct user_struct **userp);
void kshm_memlock_uncharge(unsigned long nr, struct user_struct *user);

u64 kshm_region_size_limit(void);
struct kshm_region *kshm_region_get(struct kshm_file *kf, u32 id);
void kshm_region_unref(struct kshm_region *r);
bool kshm_region_range_ok(struct kshm_region *r, u64 offset, u64 len);
bool kshm_page_not_wb(struct page *page);
bool kshm_vma_is_region(struct vm_area_struct *vma);
void kshm_file_release_regions(struct kshm_file *kf);
int kshm_file_mmap(struct kshm_file *kf, struct vm_area_struct *vma);
int kshm_region_mmap_client(struct kshm_region *r, struct vm_area_struct *vma);
struct kshm_region *kshm_region_create_client(struct kshm_region_create *c,
					      struct device *dev);

struct kshm_region *kshm_region_new(struct kshm_file *kf, struct kshm_region_create *c);
int kshm_region_publish(struct kshm_file *kf, struct kshm_region *r,
			struct kshm_region_create *c);
pgprot_t kshm_region_pgprot(struct kshm_region *r);
int kshm_ioctl_region_create(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_destroy(struct kshm_file *kf, void *arg);
void kshm_undo_region_create(struct kshm_file *kf, void *arg);
int kshm_ioctl_region_info(struct kshm_file *kf, void *arg);

void kshm_buf_unref(struct kshm_buf *b);
void kshm_buf_unref_atomic(struct kshm_buf *b);
struct kshm_buf *kshm_buf_get(struct kshm_file *kf, u32 id);
void *kshm_buf_vaddr(struct kshm_buf *b);
void kshm_file_release_bufs(struct kshm_file *kf);
void kshm_file_init_events(struct kshm_file *kf);
void kshm_file_free_events(struct kshm_file *kf);
void kshm_event_post(struct kshm_file *kf, u32 type, u32 id);
__poll_t kshm_events_poll(struct kshm_file *kf, struct file *file,
			  struct poll_table_struct *wait);
ssize_t kshm_events_read(struct kshm_file *kf, char __user *ubuf, size_t len,
			 bool nonblock);
int kshm_ioctl_buf_register(struct kshm_file *kf, void *arg);
int kshm_ioctl_buf_unregister(struct kshm_file *kf, void *arg);
void kshm_undo_buf_register(struct kshm_file *kf, void *arg);
int kshm_ioctl_buf_info(struct kshm_file *kf, void *arg);
int kshm_ioctl_set_eventfd(struct kshm_file *kf, void *arg);

int kshm_target_get(struct kshm_file *kf, bool buf, u32 id, u32 access,
		    struct kshm_target *t);
void kshm_target_put(struct kshm_target *t);
bool kshm_target_range_ok(const struct kshm_target *t, u64 offset, u64 len);
int kshm_ioctl_fill(struct kshm_file *kf, void *arg);
int kshm_ioctl_copy(struct kshm_file *kf, void *arg);
int kshm_ioctl_checksum(struct kshm_file *kf, void *arg);

struct kshm_ring;
void *kshm_ring_reserve(struct kshm_ring *ring, u32 len, u16 type);
void kshm_ring_commit(struct kshm_ring *ring, void *payload);
int kshm_ring_produce(struct kshm_ring *ring, u16 type, const void *data, u32 len);
void kshm_ring_fill_seq(void *payload, u32 len, u64 seq);
void kshm_ring_init_module(void);
void kshm_ring_free(struct kshm_ring *ring);
void kshm_ring_orphan(struct kshm_ring *ring);
bool kshm_file_rings_ready(struct kshm_file *kf);
struct kshm_ring *kshm_ring_get(struct kshm_file *kf, u32 id);
void kshm_ring_unref(struct kshm_ring *ring);
bool kshm_ring_is_k2u(const struct kshm_ring *ring);
int kshm_ring_take_u2k(struct kshm_ring *ring, struct wait_queue_head *wq);
void kshm_ring_untake_u2k(struct kshm_ring *ring);
int kshm_ring_rang(struct kshm_ring *ring);
struct page *kshm_ring_page(struct kshm_region *r, unsigned long index);
unsigned long kshm_ring_map_pages(struct kshm_region *r);
bool kshm_ring_page_writable(struct kshm_region *r, unsigned long index);
bool kshm_region_is_k2u_ring(struct kshm_region *r, u32 len);
void kshm_region_ring_tick(struct kshm_region *r, u32 len, u64 seq);
void kshm_eventfd_signal(struct eventfd_ctx *ctx);
int kshm_ioctl_ring_create(struct kshm_file *kf, void *arg);
void kshm_undo_ring_create(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_produce(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_wait(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_doorbell(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_set_eventfd(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_stats(struct kshm_file *kf, void *arg);
int kshm_ioctl_ring_read(struct kshm_file *kf, void *arg);

int kshm_region_map_vma(struct kshm_region *r, struct vm_area_struct *vma,
			unsigned long first);
int kshm_ioctl_region_export(struct kshm_file *kf, void *arg, struct kshm_new_fd *nfd);
bool kshm_dma_translated(struct device *dev);

void kshm_engine_release(struct kshm_file *kf);
int kshm_ioctl_engine_start(struct kshm_file *kf, void *arg);
int kshm_ioctl_engine_stop(struct kshm_file *kf, void *arg);
void kshm_undo_engine_start(struct kshm_file *kf, void *arg);

/*
 * api.c: the references other drivers hold, by the kind of put that drops
 * them, so that a put the caller does not hold, or a handle used after its
 * put or with a call of another kind, is refused instead of freeing or
 * touching what is no longer the caller's.
 */
enum kshm_handle_kind {
	KSHM_HANDLE_REGION = 1 << 0,	/* kshm_region_create*(); kshm_region_put() */
	KSHM_HANDLE_BUF = 1 << 1,	/* kshm_buf_from_fd(); kshm_buf_put() */
	KSHM_HANDLE_RING = 1 << 2,	/* kshm_ring_create(), _from_fd(); kshm_ring_put() */
	KSHM_HANDLE_RING_U2K = 1 << 3,	/* kshm_ring_from_fd_u2k(); kshm_ring_put_u2k() */
	KSHM_HANDLE_DMABUF = 1 << 4,	/* kshm_dmabuf_import(); kshm_dmabuf_release() */
	KSHM_HANDLE_BUF_MAP = 1 << 5,	/* kshm_buf_dma_map(); kshm_buf_dma_unmap() */
};

int kshm_handle_add(const void *obj, enum kshm_handle_kind kind,
		    const void *parent, struct module *owner);
bool kshm_handle_drop(const void *obj, enum kshm_handle_kind kind,
		      const void *parent, struct module *owner);
bool kshm_handle_held(const void *obj, unsigned int kinds);
void kshm_handles_exit(void);

/*
 * A misuse of the API by another driver: true (so the caller returns its
 * errno) when @cond holds, and said in one rate-limited line naming the
 * call and its caller; a debug build (KSHM_DEBUG=y) also warns, once per
 * kind of misuse.
 */
#ifdef KSHM_DEBUG
#define kshm_misuse_warn_once()	WARN_ONCE(1, "kshm: misuse (said above)\n")
#else
#define kshm_misuse_warn_once()	do { } while (0)
#endif

/*
 * The call as a driver writes it: __kshm_region_put() is what its
 * kshm_region_put() macro calls.  Context: any.
 */
static inline const char *kshm_api_name(const char *func)
{
	return func[0] == '_' && func[1] == '_' ? func + 2 : func;
}

#define kshm_misuse(cond, what)						\
({									\
	bool __bad = !!(cond);						\
									\
	if (unlikely(__bad)) {						\
		pr_warn_ratelimited("misuse: %s(): %s (from %pS)\n",	\
				    kshm_api_name(__func__), what,	\
				    __builtin_return_address(0));	\
		kshm_misuse_warn_once();				\
	}								\
	unlikely(__bad);						\
})

/* Checks only a debug build makes (calls allowed in any context, hot ones). */
#ifdef KSHM_DEBUG
#define kshm_debug_misuse(cond, what)	kshm_misuse(cond, what)
#else
#define kshm_debug_misuse(cond, what)	false
#endif

/*
 * A call that may sleep, made where it must not: an interrupt, a softirq,
 * with interrupts off, under a spinlock or preempt_disable() (the preempt
 * count), or in an RCU read-side section.  The last is also where a
 * spinlock_t or local_bh_disable() leaves a PREEMPT_RT kernel, whose
 * spinlock_t sleeps and raises no preempt count, but takes
 * rcu_read_lock(): might_sleep() counts rcu_preempt_depth() the same way.
 */
static inline bool kshm_atomic_context(void)
{
	return !in_task() || irqs_disabled() ||
	       (IS_ENABLED(CONFIG_PREEMPT_COUNT) && preempt_count()) ||
	       rcu_preempt_depth();
}

#define kshm_misuse_atomic()						\
	kshm_misuse(kshm_atomic_context(), "called where it may not sleep")

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

/* plant.c: a bug planted for the gate's own test; nothing otherwise. */
#ifdef KSHM_TEST_PLANT
void kshm_plant_bug(void);
bool kshm_plant_result_fault(void);
bool kshm_plant_publish_fault(void);
bool kshm_plant_wb_fault(void);
void kshm_plant_publish_window(void);
bool kshm_plant_vmap_fault(void);
void kshm_plant_first_use_window(void);
#else
static inline void kshm_plant_bug(void)
{
}

static inline bool kshm_plant_result_fault(void)
{
	return false;
}

static inline bool kshm_plant_publish_fault(void)
{
	return false;
}

static inline bool kshm_plant_wb_fault(void)
{
	return false;
}

static inline void kshm_plant_publish_window(void)
{
}

static inline bool kshm_plant_vmap_fault(void)
{
	return false;
}

static inline void kshm_plant_first_use_window(void)
{
}
#endif

#endif /* _KSHM_INTERNAL_H */
