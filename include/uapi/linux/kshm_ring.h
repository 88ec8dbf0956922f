/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * kshm rings: lock-free channels in shared memory between the kernel and an
 * application, one direction each.  This header is the whole protocol: a
 * consumer or producer in any language needs nothing else.
 *
 * A ring lives in a region of its own (struct kshm_ring_create makes both):
 * it has a region id, an mmap offset, counts against the same limits, and
 * is freed with the region's last reference (destroy, close, munmap).
 *
 * Layout, at offsets from the region's mmap offset that the create call
 * returns (page-aligned):
 *
 *   @cons_off   one page: struct kshm_ring_cons, written by the consumer
 *   @prod_off   one page: struct kshm_ring_prod, written by the producer
 *   @data_off   @data_size bytes of records (a power of two), mapped twice
 *               in a row: map 2 * @data_size bytes there, and a record that
 *               runs past the end of the data continues, contiguously, in
 *               the second copy.  Records never wrap in memory.
 *
 * Each side may map writable only what it writes: for a kernel-to-user ring
 * the application writes the consumer page alone (a writable mapping of the
 * rest is EPERM, and mprotect cannot lift it: EACCES); for a user-to-kernel
 * ring it writes the producer page and the data, and maps the consumer page
 * read-only.  One mmap may span several parts if it asks no more than each
 * allows.
 *
 * Positions are free-running 64-bit byte counters: the byte at position p
 * is at data offset p & (@data_size - 1).  Both start at 0.  0 <= prod.pos
 * - cons.pos <= @data_size always holds for a sane peer; the kernel checks
 * it every time it reads a position the application writes.  Positions
 * are read and written as single 64-bit accesses (one instruction: a
 * 32-bit process uses an 8-byte atomic load or store, never two 4-byte
 * ones).
 *
 * A record is a struct kshm_ring_rec header followed by @len bytes of
 * payload, padded to 8 bytes: it occupies KSHM_RING_REC_SPACE(len) bytes
 * and begins 8-byte aligned.
 *
 * Ordering contract (each pair names the load it is paired with):
 *  - Producer: write the payload, then the header; then store prod.pos
 *    with release semantics.  Consumer: load prod.pos with acquire
 *    semantics, then read headers and payloads below it.  (Pair P.)
 *  - Kernel producers reserve space first and write later (several CPUs,
 *    hard IRQs): they publish prod.pos at reservation with a header whose
 *    len has KSHM_RING_REC_BUSY set, and clear BUSY with a release store
 *    once the record is written.  A consumer loads each header's len with
 *    acquire semantics (pair B) and stops at a BUSY record: records are seen
 *    in reservation order, never with a hole.
 *  - Consumer: read the record, then store cons.pos with release semantics;
 *    the producer loads cons.pos with acquire semantics before it reuses
 *    the space.  (Pair C.)
 *  - Need-wakeup: a side about to sleep sets its KSHM_RING_WANT_WAKEUP flag
 *    (the consumer in cons.flags, the producer waiting for space in
 *    prod.flags), then a full barrier, then looks at the ring once more and
 *    sleeps only if there is still nothing to do.  The other side, after
 *    publishing (a consumer: after storing cons.pos; a kernel producer:
 *    after the commit that clears BUSY), issues a full barrier and reads
 *    that flag: set, it wakes the sleeper (the kernel by itself; the
 *    application with KSHM_IOC_RING_DOORBELL).  Clear, no system call and
 *    no wakeup.  (Pair W: both barriers are full, store then load, on each
 *    side.)  "Nothing to do" for a consumer means: no record at its
 *    position, or one whose len still has KSHM_RING_REC_BUSY; for a
 *    producer, cons.pos unchanged since it found the ring full.  A consumer
 *    stores cons.pos for everything it took before it sleeps.
 *  - The kernel consumer of a user-to-kernel ring starts idle, with
 *    KSHM_RING_WANT_WAKEUP set in cons.flags: the first records need a
 *    doorbell.
 *  - x86 orders stores to write-combining memory only with sfence: a
 *    producer or consumer on a KSHM_CACHE_WC ring fences before each
 *    release store.  (Whether WC loads keep their order like write-back
 *    ones is not settled here: use KSHM_CACHE_WB rings unless a device
 *    needs WC.)
 *
 * KSHM_RING_BROKEN in cons.flags of a user-to-kernel ring: the kernel met a
 * position or record length it cannot frame and stopped for good; the
 * producer stops too (KSHM_IOC_RING_WAIT and the doorbell then fail with
 * EPIPE) and makes a new ring.  prod.dropped of a kernel-to-user ring
 * counts records lost on a full ring, and on a consumer position that
 * breaks the invariant.
 */
#ifndef _UAPI_LINUX_KSHM_RING_H
#define _UAPI_LINUX_KSHM_RING_H

#include <linux/types.h>
#include <linux/kshm.h>

/* struct kshm_ring_create.kind */
enum kshm_ring_kind {
	KSHM_RING_K2U = 1,	/* the kernel produces, the application consumes */
	KSHM_RING_U2K = 2,	/* the application produces, the kernel consumes */
};

/* kshm_ring_cons.flags / kshm_ring_prod.flags */
#define KSHM_RING_WANT_WAKEUP	(1U << 0) /* the writer of this page sleeps */
/* kshm_ring_cons.flags of a user-to-kernel ring, set by the kernel */
#define KSHM_RING_BROKEN	(1U << 1) /* bad position or record: consumption stopped */

/**
 * struct kshm_ring_cons - the consumer's page (its first bytes)
 * @pos: bytes consumed (free-running)
 * @flags: KSHM_RING_WANT_WAKEUP; KSHM_RING_BROKEN (kernel consumer)
 * @__pad: 0
 */
struct kshm_ring_cons {
	__u64 pos;
	__u32 flags;
	__u32 __pad;
};

/**
 * struct kshm_ring_prod - the producer's page (its first bytes)
 * @pos: bytes produced (free-running)
 * @flags: KSHM_RING_WANT_WAKEUP (a kernel producer waits for space)
 * @__pad: 0
 * @dropped: kernel-to-user: records the kernel dropped on a full ring
 */
struct kshm_ring_prod {
	__u64 pos;
	__u32 flags;
	__u32 __pad;
	__u64 dropped;
};

/**
 * struct kshm_ring_rec - the header of a record
 * @len: payload bytes, at most the ring's @rec_max; KSHM_RING_REC_BUSY
 *	while a kernel producer is still writing it
 * @type: the producer's record type; 0 is invalid
 * @flags: must be 0
 */
struct kshm_ring_rec {
	__u32 len;
	__u16 type;
	__u16 flags;
};

#define KSHM_RING_REC_BUSY	(1U << 31)
#define KSHM_RING_REC_LEN_MASK	(KSHM_RING_REC_BUSY - 1)
#define KSHM_RING_REC_SPACE(len) \
	((__u64)sizeof(struct kshm_ring_rec) + (((__u64)(len) + 7) & ~(__u64)7))

/*
 * Record types the module's own consumer and test producers use; a
 * driver's ring defines its own.
 */
enum kshm_ring_rec_type {
	/* Payload: __u64 sequence number, then bytes (seq + i) & 0xff. */
	KSHM_REC_SEQ = 1,
	/* The kernel consumer writes the same record to the echo ring. */
	KSHM_REC_ECHO = 2,
};

/* kshm_ring_create.flags */
#define KSHM_RING_BLOCK		(1U << 0) /* a producer that may sleep waits for space */

/**
 * struct kshm_ring_create - make a ring and the region it lives in
 * @size: sizeof(struct kshm_ring_create)
 * @flags: KSHM_RING_BLOCK (kernel-to-user only)
 * @kind: enum kshm_ring_kind
 * @cache_mode: enum kshm_cache_mode of the ring's memory
 * @data_size: bytes of record space, a power of two from 4096 to 16 MiB
 *	and at least a page (EINVAL)
 * @echo_id: user-to-kernel only: a kernel-to-user ring of this file, at
 *	least as large, that the kernel consumer copies KSHM_REC_ECHO
 *	records to (a full one counts them as dropped); 0 for none
 * @id: out, the region (KSHM_IOC_REGION_DESTROY and REGION_INFO take it)
 * @rec_max: out, the largest payload a record may have (@data_size / 4)
 * @mmap_offset: out, of the region
 * @cons_off: out, of the consumer page from @mmap_offset
 * @prod_off: out, of the producer page
 * @data_off: out, of the data (map 2 * @data_size bytes there)
 * @__reserved: 0
 */
struct kshm_ring_create {
	__u32 size;
	__u32 flags;
	__u32 kind;
	__u32 cache_mode;
	__u64 data_size;
	__u32 echo_id;
	__u32 id;
	__u32 rec_max;
	__u32 __reserved;
	__u64 mmap_offset;
	__u64 cons_off;
	__u64 prod_off;
	__u64 data_off;
};

/* kshm_ring_produce.flags */
#define KSHM_RING_PRODUCE_WAIT	(1U << 0) /* sleep for space (a KSHM_RING_BLOCK ring) */

/**
 * struct kshm_ring_produce - the kernel produces KSHM_REC_SEQ records
 *	(a test producer, in the caller's context; EPERM unless the module
 *	was loaded with test_engine=1, like the engine)
 * @size: sizeof(struct kshm_ring_produce)
 * @flags: KSHM_RING_PRODUCE_WAIT
 * @id: a kernel-to-user ring
 * @len: payload bytes of each record, 8..rec_max
 * @count: records to produce, 1..65536
 * @seq: sequence number of the first; each next is one more
 * @type: the record type written (KSHM_REC_SEQ, or any nonzero value)
 * @__reserved: must be 0
 * @produced: out, records written (the rest were dropped on a full ring,
 *	or a signal came: EINTR if none was written; EPIPE if the ring's
 *	handle was destroyed while a producer waited for space)
 */
struct kshm_ring_produce {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 len;
	__u32 count;
	__u16 type;
	__u16 __reserved;
	__u64 seq;
	__u64 produced;
};

/**
 * struct kshm_ring_wait - sleep until a ring has work for the caller
 * @size: sizeof(struct kshm_ring_wait)
 * @flags: must be 0
 * @id: the ring
 * @__reserved: must be 0
 * @timeout_ns: 0 does not sleep; beyond 2^62 waits for ever
 *
 * Kernel-to-user: until a committed record is at the consumer's position.
 * User-to-kernel: until the kernel has consumed everything produced.  0
 * when so, ETIMEDOUT, EINTR on a signal, EPIPE for a KSHM_RING_BROKEN ring
 * or one whose handle was destroyed while the caller slept.  Waiting on a
 * user-to-kernel ring also asks the kernel to consume: its consumer does at
 * most twice the ring's size per doorbell, then raises WANT_WAKEUP.
 * poll() on the device reports EPOLLPRI while any kernel-to-user ring of
 * the file has a committed record (EPOLLIN stays for read()'s events), and
 * each ring can signal an eventfd of its own (KSHM_IOC_RING_SET_EVENTFD);
 * both wake only a consumer that raised KSHM_RING_WANT_WAKEUP.
 */
struct kshm_ring_wait {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 timeout_ns;
};

/**
 * struct kshm_ring_doorbell - tell the kernel a ring moved
 * @size: sizeof(struct kshm_ring_doorbell)
 * @flags: must be 0
 * @id: the ring: user-to-kernel, records were produced; kernel-to-user,
 *	space was freed (for a producer waiting on KSHM_RING_BLOCK)
 * @__reserved: must be 0
 */
struct kshm_ring_doorbell {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
};

/**
 * struct kshm_ring_set_eventfd - an eventfd this ring signals
 * @size: sizeof(struct kshm_ring_set_eventfd)
 * @flags: must be 0
 * @id: the ring
 * @fd: an eventfd, or -1 for none
 *
 * Signalled when the ring's consumer (kernel-to-user) or waiting producer
 * (user-to-kernel) set KSHM_RING_WANT_WAKEUP and there is work.
 */
struct kshm_ring_set_eventfd {
	__u32 size;
	__u32 flags;
	__u32 id;
	__s32 fd;
};

/**
 * struct kshm_ring_stats - the kernel's own counters of a ring
 * @size: sizeof(struct kshm_ring_stats)
 * @flags: must be 0
 * @id: the ring
 * @__reserved: must be 0
 * @records: records produced (kernel-to-user) or consumed (user-to-kernel)
 * @bytes: their payload bytes
 * @dropped: records dropped on a full ring
 * @invalid: user-to-kernel: records refused (unknown type, flags set)
 * @bad_pos: positions the application wrote that broke the invariant
 * @wakeups: times the ring woke its sleepers (RING_WAIT callers, and
 *	poll() and the eventfd for a side that asked)
 * @doorbells: KSHM_IOC_RING_DOORBELL calls on it
 * (kernel-to-user @dropped also counts records lost to a bad consumer
 * position)
 * @broken: nonzero once a user-to-kernel ring stopped on a bad record
 *	length or position (KSHM_RING_BROKEN)
 * @seq_errors: KSHM_REC_SEQ records consumed whose payload was not the
 *	pattern of their sequence number
 * @hash: FNV-1a over the payloads of the records consumed, in order
 */
struct kshm_ring_stats {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 records;
	__u64 bytes;
	__u64 dropped;
	__u64 invalid;
	__u64 bad_pos;
	__u64 wakeups;
	__u64 doorbells;
	__u64 broken;
	__u64 seq_errors;
	__u64 hash;
};

/**
 * struct kshm_ring_read - the copy path: the kernel copies records out of a
 *	kernel-to-user ring into the caller's buffer, as read() would
 * @size: sizeof(struct kshm_ring_read)
 * @flags: must be 0
 * @id: a kernel-to-user ring
 * @__reserved: must be 0
 * @buf: where the records go, each as in the ring (header, then payload
 *	padded to 8 bytes)
 * @len: bytes at @buf
 * @bytes: out, bytes copied: whole committed records from the consumer
 *	position, which moves past them
 * @records: out, how many
 *
 * For an application that does not map the ring, and the benchmark of the
 * copy path against shared memory.  No record yet is EAGAIN; @len smaller
 * than the next record, or a consumer position whose header cannot be a
 * record's, EINVAL (the kernel checks what it can: a position inside a
 * record may look like one); a bad @buf EFAULT, with the position where
 * it was.
 */
struct kshm_ring_read {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 buf;
	__u64 len;
	__u64 bytes;
	__u64 records;
};

#define KSHM_IOC_RING_CREATE	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_CREATE)
#define KSHM_IOC_RING_PRODUCE	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_PRODUCE)
#define KSHM_IOC_RING_WAIT	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_WAIT)
#define KSHM_IOC_RING_DOORBELL	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_DOORBELL)
#define KSHM_IOC_RING_SET_EVENTFD _IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_SET_EVENTFD)
#define KSHM_IOC_RING_STATS	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_STATS)
#define KSHM_IOC_RING_READ	_IO(KSHM_IOCTL_TYPE, KSHM_CMD_RING_READ)

#endif /* _UAPI_LINUX_KSHM_RING_H */
