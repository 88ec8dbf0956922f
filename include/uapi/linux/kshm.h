/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kshm: memory shared between a driver and an application.
 *
 * This header is the whole ABI between the kshm module and user space.
 *
 * Every command is an ioctl on an open /dev/kshm whose argument is a pointer
 * to a struct that begins with a __u32 @size (the size of the struct as the
 * caller knows it) and a __u32 @flags.  The module accepts any @size from
 * the first version of the struct up to a page: a caller built against an
 * older header passes a smaller struct, a newer caller passes a larger one
 * whose extra tail must be zero (else E2BIG).  Unknown flags and nonzero
 * reserved fields are rejected with EINVAL, unknown commands with ENOTTY.
 * Pointers travel as __u64.
 */
#ifndef _UAPI_LINUX_KSHM_H
#define _UAPI_LINUX_KSHM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KSHM_DEVICE_NAME	"kshm"
#define KSHM_ABI_VERSION	2

/*
 * Each region gets a window of the device file's offset space; mmap at
 * @mmap_offset (plus a page-aligned offset inside the region) maps it.
 * Regions are therefore at most a window (4 GiB).  A 32-bit process passes
 * mmap offsets in pages in 32 bits (2^44 bytes): it reaches regions with
 * ids below 4096 (ABI 1's 1 TiB windows gave it only 15).
 */
#define KSHM_MMAP_WINDOW_SHIFT	32

/*
 * The ioctl type and numbers: 0xBD, 0x00-0x1F, free in
 * Documentation/userspace-api/ioctl/ioctl-number.rst of Linux 6.1, 6.12 and
 * later (ABI 1 used 0xB6 0x40.., the DFL FPGA port ioctls' numbers).
 */
#define KSHM_IOCTL_TYPE		0xBD

enum {
	KSHM_CMD_BASE = 0x00,
	KSHM_CMD_INFO = KSHM_CMD_BASE,
	KSHM_CMD_REGION_CREATE,
	KSHM_CMD_REGION_DESTROY,
	KSHM_CMD_REGION_INFO,
	KSHM_CMD_BUF_REGISTER,
	KSHM_CMD_BUF_UNREGISTER,
	KSHM_CMD_BUF_INFO,
	KSHM_CMD_SET_EVENTFD,
	KSHM_CMD_FILL,
	KSHM_CMD_COPY,
	KSHM_CMD_CHECKSUM,
	KSHM_CMD_ENGINE_START,
	KSHM_CMD_ENGINE_STOP,
	/* Rings: include/uapi/linux/kshm_ring.h */
	KSHM_CMD_RING_CREATE,
	KSHM_CMD_RING_PRODUCE,
	KSHM_CMD_RING_WAIT,
	KSHM_CMD_RING_DOORBELL,
	KSHM_CMD_RING_SET_EVENTFD,
	KSHM_CMD_RING_STATS,
	KSHM_CMD_RING_READ,
	KSHM_CMD_REGION_EXPORT,
};

/*
 * Kernel memory the module's own operations (fill, copy, checksum, the test
 * engine) act on: a region of this file, or a buffer it registered.  In
 * their flags, KSHM_TARGET_BUF says @id names a buffer, else a region.
 */
#define KSHM_TARGET_BUF		(1U << 0)
/* KSHM_IOC_ENGINE_START only: @id is a kernel-to-user ring (kshm_ring.h) */
#define KSHM_TARGET_RING	(1U << 1)

/* kshm_region_create.flags */
/*
 * KSHM_REGION_USER_RDONLY: the application cannot write the region by any
 * path: a writable mmap is EPERM, mprotect(PROT_WRITE) EACCES, and a
 * KSHM_IOC_COPY into it EACCES.  KSHM_IOC_FILL stands for the driver's own
 * writes (as does the test engine) and stays allowed.
 */
#define KSHM_REGION_USER_RDONLY	(1U << 0)
#define KSHM_REGION_NODE	(1U << 1) /* allocate on kshm_region_create.node */

/* kshm_region_create.cache_mode: how every mapping of the pages caches them */
enum kshm_cache_mode {
	KSHM_CACHE_WB = 0,	/* write-back, normal memory (default) */
	KSHM_CACHE_WC = 1,	/* write-combining */
	KSHM_CACHE_UC = 2,	/* uncached (UC-) */
};

#define KSHM_NODE_ANY		(-1)

/**
 * struct kshm_info - what this module speaks and what it allows
 * @size: sizeof(struct kshm_info)
 * @flags: must be 0
 * @abi_version: out, KSHM_ABI_VERSION of the module
 * @page_size: out, the granule of regions and mappings
 * @max_region_size: out, largest region one create may ask for (bytes)
 * @max_file_size: out, most bytes of regions one open file may hold
 * @max_total_size: out, most bytes of regions the module may hold
 * @max_buf_size: out, largest buffer one registration may cover
 * @bufs_alive: out, registrations whose pages are still pinned (all files)
 * @buf_pages_pinned: out, pages those registrations pin
 * @pages_leaked: out, pages of WC/UC regions whose cache mode could not be
 *	set back to write-back: the module keeps them for ever rather than
 *	give the allocator pages with another memtype (each logged once)
 * @regions_alive: out, regions the module holds right now (all files)
 * @pages_alive: out, pages those regions hold right now
 *
 * The counters cover regions still mapped after destroy or close, so they
 * return to their start value only once every mapping is gone.
 */
struct kshm_info {
	__u32 size;
	__u32 flags;
	__u32 abi_version;
	__u32 page_size;
	__u64 max_region_size;
	__u64 max_file_size;
	__u64 max_total_size;
	__u64 regions_alive;
	__u64 pages_alive;
	__u64 max_buf_size;
	__u64 bufs_alive;
	__u64 buf_pages_pinned;
	__u64 pages_leaked;
};

/**
 * struct kshm_region_create - allocate a region of zeroed pages
 * @size: sizeof(struct kshm_region_create)
 * @flags: KSHM_REGION_USER_RDONLY, KSHM_REGION_NODE
 * @length: in/out, bytes wanted, rounded up to whole pages on return; 0 is
 *	    EINVAL, beyond max_region_size EFBIG, beyond the file's or the
 *	    module's total ENOSPC, beyond the memory cgroup's limit ENOMEM
 * @cache_mode: enum kshm_cache_mode; the kernel's own mappings of the pages
 *	    are changed to match, and restored when the pages are freed
 * @node: with KSHM_REGION_NODE, the NUMA node every page must come from
 *	    (EINVAL if it has no memory); else must be 0
 * @id: out, the region's handle in this open file
 * @__reserved: must be 0
 * @mmap_offset: out, the mmap offset that maps the region
 */
struct kshm_region_create {
	__u32 size;
	__u32 flags;
	__u64 length;
	__u32 cache_mode;
	__s32 node;
	__u32 id;
	__u32 __reserved;
	__u64 mmap_offset;
};

/**
 * struct kshm_region_destroy - drop a region's handle
 * @size: sizeof(struct kshm_region_destroy)
 * @flags: must be 0
 * @id: the handle; unknown or already destroyed is ENOENT
 * @__reserved: must be 0
 *
 * Mappings of the region stay valid: the pages are freed at the last munmap.
 */
struct kshm_region_destroy {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
};

/**
 * struct kshm_fill - the kernel writes a sequence into a region or buffer
 *	(the driver's own write: allowed into a KSHM_REGION_USER_RDONLY region)
 * @size: sizeof(struct kshm_fill)
 * @flags: KSHM_TARGET_BUF
 * @id: the region or buffer
 * @width: bytes per element: 1, 2, 4 or 8
 * @offset: byte offset of the first element, a multiple of @width
 * @count: number of elements
 * @start: value of the first element (truncated to @width)
 * @step: added to each next element (two's complement, so may be negative)
 *
 * The module writes element i = @start + i * @step through its own kernel
 * mapping, in native byte order.  A buffer must allow kernel writes.
 */
struct kshm_fill {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 width;
	__u64 offset;
	__u64 count;
	__u64 start;
	__u64 step;
};

/* struct kshm_copy_end.kind */
enum kshm_mem_kind {
	KSHM_MEM_USER = 0,	/* @addr is a pointer in the caller's memory */
	KSHM_MEM_REGION = 1,	/* @id is a region, @addr an offset in it */
	KSHM_MEM_BUF = 2,	/* @id is a buffer, @addr an offset in it */
};

/**
 * struct kshm_copy_end - one side of a copy
 * @kind: enum kshm_mem_kind
 * @id: the region or buffer; 0 for KSHM_MEM_USER
 * @addr: a user pointer, or an offset in the region or buffer
 */
struct kshm_copy_end {
	__u32 kind;
	__u32 id;
	__u64 addr;
};

/**
 * struct kshm_copy - the kernel copies bytes (the METHOD_NEITHER path)
 * @size: sizeof(struct kshm_copy)
 * @flags: must be 0
 * @src: where the bytes come from
 * @dst: where they go
 * @length: bytes; 0, or a range outside a region or buffer, is EINVAL
 *
 * A user side is read or written with copy_from_user()/copy_to_user() in
 * the caller's context: any bad pointer is EFAULT, never a crash.  Region
 * and buffer sides go through the module's kernel mappings.  Both sides
 * user is EINVAL; a buffer written must allow kernel writes, a buffer read
 * must allow kernel reads (EACCES).
 */
struct kshm_copy {
	__u32 size;
	__u32 flags;
	struct kshm_copy_end src;
	struct kshm_copy_end dst;
	__u64 length;
};

/**
 * struct kshm_checksum - the kernel reads a range from a workqueue
 * @size: sizeof(struct kshm_checksum)
 * @flags: KSHM_TARGET_BUF
 * @id: the region or buffer (which must allow kernel reads)
 * @__reserved: must be 0
 * @offset: first byte
 * @length: bytes, nonzero, inside the target
 * @sum: out, 64-bit FNV-1a of the bytes
 *
 * The bytes are read by a work item on a kernel worker thread, through the
 * kernel mapping: this proves the mapping outside the caller's context.
 */
struct kshm_checksum {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 offset;
	__u64 length;
	__u64 sum;
};

/* kshm_region_info.flags */
#define KSHM_REGION_INFO_NEXT	(1U << 0) /* first region with id >= @id */

/**
 * struct kshm_region_info - describe a region of this open file
 * @size: sizeof(struct kshm_region_info)
 * @flags: KSHM_REGION_INFO_NEXT to iterate: pass @id 0, then last id + 1;
 *	ENOENT when there is no (further) region
 * @id: in/out, the region
 * @region_flags: out, the flags it was created with
 * @length: out, bytes
 * @mmap_offset: out
 * @cache_mode: out, enum kshm_cache_mode
 * @node: out, the node asked for, or KSHM_NODE_ANY
 * @mappings: out, vmas mapping it right now (all processes)
 */
struct kshm_region_info {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 region_flags;
	__u64 length;
	__u64 mmap_offset;
	__u32 cache_mode;
	__s32 node;
	__u64 mappings;
};

/* kshm_buf_register.flags: what the kernel may do with the buffer */
#define KSHM_BUF_KERNEL_READ	(1U << 0)
#define KSHM_BUF_KERNEL_WRITE	(1U << 1)

/**
 * struct kshm_buf_register - give the kernel a buffer of the application's
 * @size: sizeof(struct kshm_buf_register)
 * @flags: KSHM_BUF_KERNEL_READ and/or KSHM_BUF_KERNEL_WRITE (one at least)
 * @id: out, the registration's handle in this open file
 * @__reserved: must be 0
 * @addr: first byte, any alignment; 0 or unmapped is EFAULT
 * @length: bytes, any length; 0 or @addr + @length overflowing is EINVAL,
 *	beyond max_buf_size EFBIG
 *
 * The pages are pinned (FOLL_LONGTERM, plus FOLL_WRITE for kernel writes);
 * the kernel maps them as one contiguous range when it first uses them
 * (FILL, COPY, CHECKSUM, ENGINE_START: ENOMEM if vmalloc space runs out,
 * EINTR for a fatal signal while another call is making that mapping),
 * and that mapping serves any context until the release.  They are charged to
 * RLIMIT_MEMLOCK unless the caller has CAP_IPC_LOCK (ENOMEM over it).  A
 * range overlapping a live registration of this file is EEXIST; memory the
 * kernel will not pin long-term (a PFN mapping, a read-only mapping for
 * kernel writes, DAX) gets the kernel's errno (EFAULT, EOPNOTSUPP).
 */
struct kshm_buf_register {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 addr;
	__u64 length;
};

/**
 * struct kshm_buf_unregister - ask for a registration's release
 * @size: sizeof(struct kshm_buf_unregister)
 * @flags: must be 0
 * @id: the registration; unknown, already unregistered or another file's
 *	is ENOENT
 * @__reserved: must be 0
 *
 * The handle is gone when this returns, but the kernel may still be using
 * the pages (an engine mid-write): they are unpinned when the last kernel
 * user is done, and only then does the file report the release (struct
 * kshm_event, poll, the eventfd).  Until then the buffer must not be freed.
 */
struct kshm_buf_unregister {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
};

/**
 * struct kshm_buf_info - describe a live registration of this file
 * @size: sizeof(struct kshm_buf_info)
 * @flags: must be 0
 * @id: the registration (ENOENT once unregistered)
 * @access: out, its KSHM_BUF_KERNEL_* flags
 * @addr: out
 * @length: out
 * @pages: out, pages pinned
 */
struct kshm_buf_info {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 access;
	__u64 addr;
	__u64 length;
	__u64 pages;
};

/**
 * struct kshm_set_eventfd - an eventfd the file signals with each event
 * @size: sizeof(struct kshm_set_eventfd)
 * @flags: must be 0
 * @fd: an eventfd, or -1 to stop signalling one; not an eventfd is EBADF
 *	or EINVAL
 * @__reserved: must be 0
 */
struct kshm_set_eventfd {
	__u32 size;
	__u32 flags;
	__s32 fd;
	__u32 __reserved;
};

/* struct kshm_event.type */
enum kshm_event_type {
	KSHM_EVENT_BUF_RELEASED = 1,	/* @id's pages are unpinned: free at will */
	KSHM_EVENT_OVERFLOW = 2,	/* events were lost: check with BUF_INFO */
};

/**
 * struct kshm_event - what read() on the device returns
 * @type: enum kshm_event_type
 * @id: the registration
 *
 * read() returns whole events, blocks while there are none (EAGAIN with
 * O_NONBLOCK), and a buffer smaller than one event is EINVAL.  poll()
 * reports EPOLLIN while events are waiting.
 */
struct kshm_event {
	__u32 type;
	__u32 id;
};

/**
 * struct kshm_engine_start - a test engine: an hrtimer writing kernel memory
 * @size: sizeof(struct kshm_engine_start)
 * @flags: KSHM_TARGET_BUF or KSHM_TARGET_RING
 * @id: the region or buffer written (a buffer must allow kernel writes)
 * @period_us: timer period, 50..1000000 microseconds
 * @offset: first byte written, a multiple of 8
 * @length: bytes written each tick, a multiple of 8 from 16 to 65536
 * @max_ticks: stop after this many ticks; 0 runs until stopped
 *
 * Each tick runs in the timer's interrupt context and writes, as u64 in the
 * range, word i (i >= 1) = (tick << 32) | i, then word 0 = tick with release
 * order: a reader that loads word 0 with acquire sees every other word at
 * that tick or later.  One engine per open file (EBUSY).  The module
 * refuses engines (EPERM) unless loaded with test_engine=1.  It holds a region
 * until it is stopped, so destroying the region does not stop it; a buffer
 * being unregistered stops it at its next tick, and only then is the
 * buffer released.
 *
 * With KSHM_TARGET_RING, @id is a kernel-to-user ring (kshm_ring.h) and
 * @offset must be 0: each tick produces one KSHM_REC_SEQ record of @length
 * payload bytes whose sequence number is the tick (1, 2, ...), from the
 * timer's hard IRQ; a full ring drops it.
 */
struct kshm_engine_start {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 period_us;
	__u64 offset;
	__u64 length;
	__u64 max_ticks;
};

/**
 * struct kshm_engine_stop - stop this file's engine (ENOENT if none)
 * @size: sizeof(struct kshm_engine_stop)
 * @flags: must be 0
 * @ticks: out, ticks it ran; once this returns it writes no more
 */
struct kshm_engine_stop {
	__u32 size;
	__u32 flags;
	__u64 ticks;
};

/* kshm_region_export.flags, like DRM PRIME's DRM_CLOEXEC and DRM_RDWR */
#define KSHM_REGION_EXPORT_CLOEXEC	(1U << 0) /* the fd is close-on-exec */
#define KSHM_REGION_EXPORT_RDWR		(1U << 1) /* the fd may map it writable */

/**
 * struct kshm_region_export - a region as a dma-buf, for any other driver
 * @size: sizeof(struct kshm_region_export)
 * @flags: KSHM_REGION_EXPORT_CLOEXEC, KSHM_REGION_EXPORT_RDWR
 * @id: the region; unknown is ENOENT, a ring's region EINVAL
 * @__reserved: must be 0
 * @fd: out, a new descriptor of the dma-buf, opened read-write with
 *	KSHM_REGION_EXPORT_RDWR (EACCES for a KSHM_REGION_USER_RDONLY
 *	region), else read-only: a writable mmap of it is EACCES
 *
 * The dma-buf holds the region: destroying the region or closing the file
 * leaves it valid, and the pages are freed only once it and every mapping
 * are gone.  Its size is the region's length; mmap() of it maps the
 * region's pages with the region's cache mode (shared mappings only);
 * importing drivers map the same pages for their devices.
 */
struct kshm_region_export {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__s32 fd;
};

#define KSHM_IOC_INFO		_IO(KSHM_IOCTL_TYPE, KSHM_CMD_INFO)
#define KSHM_IOC_REGION_CREATE	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_CREATE)
#define KSHM_IOC_REGION_DESTROY	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_DESTROY)
#define KSHM_IOC_REGION_INFO	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_INFO)
#define KSHM_IOC_BUF_REGISTER	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_BUF_REGISTER)
#define KSHM_IOC_BUF_UNREGISTER	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_BUF_UNREGISTER)
#define KSHM_IOC_BUF_INFO	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_BUF_INFO)
#define KSHM_IOC_SET_EVENTFD	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_SET_EVENTFD)
#define KSHM_IOC_FILL		_IO(KSHM_IOCTL_TYPE, KSHM_CMD_FILL)
#define KSHM_IOC_COPY		_IO(KSHM_IOCTL_TYPE, KSHM_CMD_COPY)
#define KSHM_IOC_CHECKSUM	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_CHECKSUM)
#define KSHM_IOC_ENGINE_START	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_ENGINE_START)
#define KSHM_IOC_ENGINE_STOP	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_ENGINE_STOP)
#define KSHM_IOC_REGION_EXPORT	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_EXPORT)

#endif /* _UAPI_LINUX_KSHM_H */
