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
#define KSHM_ABI_VERSION	1

/*
 * Each region gets a window of the device file's offset space; mmap at
 * @mmap_offset (plus a page-aligned offset inside the region) maps it.
 * Regions are therefore smaller than the window.
 */
#define KSHM_MMAP_WINDOW_SHIFT	40

#define KSHM_IOCTL_TYPE		0xB6

enum {
	KSHM_CMD_BASE = 0x40,
	KSHM_CMD_INFO = KSHM_CMD_BASE,
	KSHM_CMD_REGION_CREATE,
	KSHM_CMD_REGION_DESTROY,
	KSHM_CMD_REGION_FILL,
	KSHM_CMD_REGION_READ,
	KSHM_CMD_REGION_INFO,
	KSHM_CMD_ENGINE_START,
	KSHM_CMD_ENGINE_STOP,
};

/* kshm_region_create.flags */
#define KSHM_REGION_USER_RDONLY	(1U << 0) /* user mappings may not write */
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
 * struct kshm_region_fill - the kernel writes a sequence into a region
 * @size: sizeof(struct kshm_region_fill)
 * @flags: must be 0
 * @id: the region
 * @width: bytes per element: 1, 2, 4 or 8
 * @offset: byte offset of the first element, a multiple of @width
 * @count: number of elements
 * @start: value of the first element (truncated to @width)
 * @step: added to each next element (two's complement, so may be negative)
 *
 * The module writes element i = @start + i * @step through its own kernel
 * mapping of the region, in native byte order.
 */
struct kshm_region_fill {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 width;
	__u64 offset;
	__u64 count;
	__u64 start;
	__u64 step;
};

/**
 * struct kshm_region_read - the kernel copies region bytes to the caller
 * @size: sizeof(struct kshm_region_read)
 * @flags: must be 0
 * @id: the region
 * @__reserved: must be 0
 * @offset: first byte of the region to read
 * @length: bytes to read; the range must lie inside the region (EINVAL)
 * @addr: user buffer receiving them; a bad pointer is EFAULT
 *
 * The module reads through its own kernel mapping: this is how a test sees
 * that the kernel observes what the application wrote through mmap.
 */
struct kshm_region_read {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 offset;
	__u64 length;
	__u64 addr;
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

/**
 * struct kshm_engine_start - a test engine: an hrtimer writing a region
 * @size: sizeof(struct kshm_engine_start)
 * @flags: must be 0
 * @id: the region written
 * @period_us: timer period, 50..1000000 microseconds
 * @offset: first byte written, a multiple of 8
 * @length: bytes written each tick, a multiple of 8 from 16 to 65536
 * @max_ticks: stop after this many ticks; 0 runs until stopped
 *
 * Each tick runs in the timer's interrupt context and writes, as u64 in the
 * range, word i (i >= 1) = (tick << 32) | i, then word 0 = tick with release
 * order: a reader that loads word 0 with acquire sees every other word at
 * that tick or later.  One engine per open file (EBUSY); it holds the region
 * until it is stopped, so destroying the region does not stop it.
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

#define KSHM_IOC_INFO		_IO(KSHM_IOCTL_TYPE, KSHM_CMD_INFO)
#define KSHM_IOC_REGION_CREATE	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_CREATE)
#define KSHM_IOC_REGION_DESTROY	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_DESTROY)
#define KSHM_IOC_REGION_FILL	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_FILL)
#define KSHM_IOC_REGION_READ	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_READ)
#define KSHM_IOC_REGION_INFO	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_REGION_INFO)
#define KSHM_IOC_ENGINE_START	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_ENGINE_START)
#define KSHM_IOC_ENGINE_STOP	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_ENGINE_STOP)

#endif /* _UAPI_LINUX_KSHM_H */
