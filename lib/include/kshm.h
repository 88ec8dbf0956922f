/* SPDX-License-Identifier: MIT */
/*
 * libkshm: user-space side of kshm.
 *
 * Every int function returns 0 (or a count, where it says so) on success and
 * a negative errno on failure; errno itself is left alone.
 */
#ifndef KSHM_H
#define KSHM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kshm.h>
#include <linux/kshm_ring.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KSHM_DEFAULT_PATH "/dev/kshm"

/* What an application needs to know to map a region. */
struct kshm_region_desc {
	uint32_t id;
	uint64_t length; /* bytes, whole pages */
	uint64_t mmap_offset;
};

/* Open the device: @path, else $KSHM_DEVICE, else /dev/kshm.  Returns an fd. */
int kshm_open(const char *path);
int kshm_close(int fd);

/* ABI version, limits and the module's counters. */
int kshm_get_info(int fd, struct kshm_info *info);

/* Allocate @length bytes (rounded up to pages) of zeroed module memory. */
int kshm_region_create(int fd, uint64_t length, uint32_t flags, struct kshm_region_desc *out);
/*
 * The same with every option: @flags (KSHM_REGION_USER_RDONLY), a cache
 * mode (enum kshm_cache_mode) and a NUMA node (KSHM_NODE_ANY for none).
 */
int kshm_region_create_ex(int fd, uint64_t length, uint32_t flags, uint32_t cache_mode, int node,
			  struct kshm_region_desc *out);
/* Describe region @id; with KSHM_REGION_INFO_NEXT the first id >= @id. */
int kshm_region_info(int fd, uint32_t id, uint32_t flags, struct kshm_region_info *out);
/* Drop the handle; existing mappings keep the pages until munmap. */
int kshm_region_destroy(int fd, uint32_t id);

/* mmap the whole region (MAP_SHARED) with @prot; *@addrp gets the address. */
int kshm_region_map(int fd, const struct kshm_region_desc *r, int prot, void **addrp);
int kshm_region_unmap(const struct kshm_region_desc *r, void *addr);

/*
 * The kernel writes @count elements of @width bytes at @offset, through its
 * own mapping: element i is @start + i * @step.
 */
int kshm_region_fill(int fd, uint32_t id, uint32_t width, uint64_t offset, uint64_t count,
		     uint64_t start, int64_t step);
/* The kernel copies @len bytes at @offset of the region into @buf. */
int kshm_region_read(int fd, uint32_t id, uint64_t offset, void *buf, size_t len);

/*
 * Buffers: register @length bytes at @addr (any alignment) for the kernel
 * to read and/or write (KSHM_BUF_KERNEL_READ/WRITE).  The pages stay pinned
 * until the KSHM_EVENT_BUF_RELEASED event for the id, which comes after
 * kshm_buf_unregister() or close(): free the memory only then.
 */
int kshm_buf_register(int fd, const void *addr, size_t length, uint32_t access, uint32_t *id);
int kshm_buf_unregister(int fd, uint32_t id);
int kshm_buf_info(int fd, uint32_t id, struct kshm_buf_info *out);
/* kshm_region_fill() for a buffer the kernel may write. */
int kshm_buf_fill(int fd, uint32_t id, uint32_t width, uint64_t offset, uint64_t count,
		  uint64_t start, int64_t step);
/* Wait (poll, then read) until @id's release is reported; -ETIMEDOUT. */
int kshm_wait_buf_released(int fd, uint32_t id, int timeout_ms);

/* Events (read() on the device); returns how many were read. */
int kshm_read_events(int fd, struct kshm_event *events, int max);
/* Signal eventfd @efd with every event; -1 stops. */
int kshm_set_eventfd(int fd, int efd);

/* The kernel copies @length bytes between user memory, regions, buffers. */
int kshm_copy(int fd, const struct kshm_copy_end *src, const struct kshm_copy_end *dst,
	      uint64_t length);
/* FNV-1a 64 of a range, computed by a kernel worker (@flags KSHM_TARGET_BUF). */
int kshm_checksum(int fd, uint32_t flags, uint32_t id, uint64_t offset, uint64_t length,
		  uint64_t *sum);

/* The test engine: a kernel timer writing the region (see the uapi header). */
int kshm_engine_start(int fd, uint32_t flags, uint32_t id, uint32_t period_us, uint64_t offset,
		      uint64_t length, uint64_t max_ticks);
int kshm_engine_stop(int fd, uint64_t *ticks);

/*
 * Rings (the protocol: <linux/kshm_ring.h>).  A struct kshm_ring is one
 * process's view of a ring: its mappings and its own position.  One thread
 * consumes (or produces) through it at a time.
 */
struct kshm_ring {
	int fd;
	uint32_t id;
	uint32_t kind;
	uint32_t rec_max;
	uint32_t cache_mode; /* enum kshm_cache_mode: WC fences stores */
	int broken;	     /* the kernel's records made no sense: stop */
	uint64_t size;	     /* bytes of record space */
	struct kshm_ring_cons *cons;
	struct kshm_ring_prod *prod;
	uint8_t *data;	    /* the record space, mapped twice */
	uint64_t pos;	    /* ours: next to consume, or next to produce */
	uint64_t cached;    /* the other side's position, last seen */
	uint64_t doorbells; /* doorbell calls made through this view */
	void *cons_map, *rest_map;
	size_t cons_len, rest_len;
};

/*
 * Create a ring (enum kshm_ring_kind) of @data_size bytes and map it, each
 * part writable only where this side writes.
 */
int kshm_ring_create(int fd, uint32_t kind, uint64_t data_size, uint32_t cache_mode, uint32_t flags,
		     uint32_t echo_id, struct kshm_ring *ring);
/* Unmap and destroy it. */
int kshm_ring_destroy(struct kshm_ring *ring);
/*
 * Map a ring another driver made (kshm_ring_create() of the kernel API) at
 * @offset of that driver's @fd, with the kind, size, record limit and cache
 * mode the driver reports; each part writable only where this side writes.
 * Such a ring has no kshm id: kshm_ring_wait(), _doorbell() and
 * _set_eventfd() are the driver's business (poll() its file instead).
 * kshm_ring_unmap() undoes it.
 */
int kshm_ring_map(int fd, uint64_t offset, uint32_t kind, uint64_t data_size, uint32_t rec_max,
		  uint32_t cache_mode, struct kshm_ring *ring);
int kshm_ring_unmap(struct kshm_ring *ring);

/*
 * Kernel-to-user, consuming: the next committed record, or NULL (none yet;
 * or @ring->broken set: a record the kernel cannot have written).  Its
 * space stays the application's until kshm_ring_done() hands back every
 * record taken so far (and rings the doorbell if a kernel producer waits
 * for space): call it before sleeping, or RING_WAIT returns at once.
 */
const struct kshm_ring_rec *kshm_ring_next(struct kshm_ring *ring);
int kshm_ring_done(struct kshm_ring *ring);

/*
 * User-to-kernel, producing: space for a record of @len payload bytes, or
 * NULL when the ring is full (or @len exceeds @rec_max: check it first);
 * kshm_ring_submit() publishes every record reserved so far and rings the
 * doorbell only if the kernel consumer asked; -EPIPE once the kernel
 * stopped the ring on a bad record (KSHM_RING_BROKEN).
 */
void *kshm_ring_reserve(struct kshm_ring *ring, uint32_t len, uint16_t type);
int kshm_ring_submit(struct kshm_ring *ring);

/*
 * Before sleeping on the ring's eventfd or poll(): ask for a wakeup (@on),
 * and learn whether there is work already (1: do not sleep).  Work is a
 * committed record for a consumer; for a producer, space the kernel freed
 * since its last kshm_ring_reserve() failed, or the ring's end.  Clear the
 * flag (@on 0) when awake.
 */
int kshm_ring_want_wakeup(struct kshm_ring *ring, int on);
/* Sleep in the kernel until there is work (see struct kshm_ring_wait). */
int kshm_ring_wait(struct kshm_ring *ring, uint64_t timeout_ns);
int kshm_ring_doorbell(struct kshm_ring *ring);
int kshm_ring_set_eventfd(struct kshm_ring *ring, int efd);
int kshm_ring_stats(struct kshm_ring *ring, struct kshm_ring_stats *st);
/* The kernel's test producer: @count KSHM_REC_SEQ-pattern records. */
int kshm_ring_kernel_produce(struct kshm_ring *ring, uint32_t flags, uint16_t type, uint32_t len,
			     uint32_t count, uint64_t seq, uint64_t *produced);

#ifdef __cplusplus
}
#endif

#endif /* KSHM_H */
