/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The sample kshm client's interface (/dev/kshm_edu): QEMU's edu PCI device
 * streams blocks by DMA into a buffer the application registered on
 * /dev/kshm, and the driver posts one record per block into a
 * kernel-to-user kshm ring when the device's interrupt says it landed.
 */
#ifndef _UAPI_KSHM_EDU_H
#define _UAPI_KSHM_EDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KSHM_EDU_DEVICE_NAME	"kshm_edu"
/*
 * Half the device's 4 KiB DMA window: QEMU 7.2's edu treats a transfer
 * that ends at the window's end as out of bounds and aborts the machine.
 */
#define KSHM_EDU_BLOCK		2048

/**
 * struct kshm_edu_stream - stream blocks into a registered buffer
 * @size: sizeof(struct kshm_edu_stream)
 * @kshm_fd: the caller's descriptor of /dev/kshm
 * @buf_id: a buffer registered there with KSHM_BUF_KERNEL_WRITE; block i
 *	lands at byte i * KSHM_EDU_BLOCK of it; its address must be a multiple
 *	of KSHM_EDU_BLOCK, so that no block straddles two pages
 * @ring_id: a kernel-to-user ring there: one KSHM_EDU_REC_BLOCK record per
 *	block, posted from the device's interrupt; 0 for this file's own ring
 *	(KSHM_EDU_IOC_RING)
 * @blocks: how many; 1 at least, and no more than fit in the buffer
 * @done: out: blocks written, fewer when the buffer was unregistered, a
 *	signal came or the device went away (EINTR when a signal came before
 *	the first block; EIO for a device that stopped answering)
 * @seq: the first block's sequence number; block i carries @seq + i
 *
 * Block with sequence number s holds KSHM_EDU_BLOCK / 8 little-endian
 * 64-bit words, word j being s * KSHM_EDU_MUL + j.
 */
struct kshm_edu_stream {
	__u32 size;
	__s32 kshm_fd;
	__u32 buf_id;
	__u32 ring_id;
	__u32 blocks;
	__u32 done;
	__u64 seq;
};

/**
 * struct kshm_edu_stream_dmabuf - stream blocks into a dma-buf
 * @size: sizeof(struct kshm_edu_stream_dmabuf)
 * @dmabuf_fd: any dma-buf: a kshm region exported with
 *	KSHM_IOC_REGION_EXPORT, a udmabuf, another driver's; block i lands at
 *	byte i * KSHM_EDU_BLOCK of it
 * @kshm_fd: the caller's descriptor of /dev/kshm, for the ring
 * @ring_id: a kernel-to-user ring there, as for KSHM_EDU_IOC_STREAM
 * @blocks: how many; 1 at least, and no more than fit in the dma-buf
 * @done: out, as for KSHM_EDU_IOC_STREAM; the driver holds the dma-buf
 *	until it returns, so closing its descriptor does not stop it
 * @seq: the first block's sequence number
 */
struct kshm_edu_stream_dmabuf {
	__u32 size;
	__s32 dmabuf_fd;
	__s32 kshm_fd;
	__u32 ring_id;
	__u32 blocks;
	__u32 done;
	__u64 seq;
};

#define KSHM_EDU_MUL		0x9e3779b97f4a7c15ULL
#define KSHM_EDU_REC_BLOCK	1

/**
 * struct kshm_edu_block - the record posted for each block
 * @seq: its sequence number
 * @sum: FNV-1a 64 of its bytes, as the driver gave them to the device
 * @index: its place in the buffer, in blocks
 * @__reserved: 0
 */
struct kshm_edu_block {
	__u64 seq;
	__u64 sum;
	__u32 index;
	__u32 __reserved;
};

#define KSHM_EDU_IOC_STREAM	_IOWR(0xBE, 0x01, struct kshm_edu_stream)
#define KSHM_EDU_IOC_STREAM_DMABUF	_IOWR(0xBE, 0x02, struct kshm_edu_stream_dmabuf)

/**
 * struct kshm_edu_region - give this open file its region
 * @size: sizeof(struct kshm_edu_region)
 * @flags: KSHM_EDU_REGION_COMMON for a common buffer the device can DMA
 *	into (KSHM_EDU_IOC_REGION_STREAM; its cache mode is WB and its node
 *	any), KSHM_EDU_REGION_RDONLY for one the application may only read
 * @cache_mode: KSHM_CACHE_WB, _WC or _UC
 * @node: the NUMA node of its pages, or KSHM_NODE_ANY
 * @length: bytes; mmap() /dev/kshm_edu at offset 0 to map them
 *
 * One region a file; it lives until the file is closed and every mapping
 * of it is gone.  The driver writes word j (little-endian 64 bits) of it
 * as j ^ KSHM_EDU_MUL through its kernel address when it creates it.
 */
struct kshm_edu_region {
	__u32 size;
	__u32 flags;
	__u32 cache_mode;
	__s32 node;
	__u64 length;
};

#define KSHM_EDU_REGION_COMMON	(1U << 0)
#define KSHM_EDU_REGION_RDONLY	(1U << 1)

#define KSHM_EDU_IOC_REGION		_IOW(0xBE, 0x03, struct kshm_edu_region)
/*
 * Stream blocks into the file's common buffer, as KSHM_EDU_IOC_STREAM does
 * into a registered buffer: block i lands at byte i * KSHM_EDU_BLOCK;
 * @buf_id is ignored and must be 0.
 */
#define KSHM_EDU_IOC_REGION_STREAM	_IOWR(0xBE, 0x04, struct kshm_edu_stream)

/**
 * struct kshm_edu_ring - give this open file a ring of its own
 * @size: sizeof(struct kshm_edu_ring)
 * @kind: KSHM_RING_K2U (records from the driver: stream blocks and
 *	completions) or KSHM_RING_U2K (requests to the driver)
 * @data_size: bytes of record space, a power of two from 4 KiB to 16 MiB
 * @rec_max: out (0 in): the largest record
 * @__pad: 0
 * @mmap_offset: out (0 in): where mmap() of /dev/kshm_edu finds it
 *	(KSHM_EDU_RING_OFFSET, KSHM_EDU_REQ_RING_OFFSET), laid out as
 *	<linux/kshm_ring.h> says (libkshm's kshm_ring_map() maps it)
 *
 * One ring of each kind a file, write-back.  Streams with @ring_id 0 post
 * to the file's kernel-to-user ring, and poll() on the file reports it
 * (EPOLLIN); KSHM_EDU_IOC_SERVE with ring ids 0 serves the file's
 * user-to-kernel ring into its kernel-to-user ring, and the file answers
 * libkshm's doorbell (KSHM_IOC_RING_DOORBELL, id 0) for it.
 */
struct kshm_edu_ring {
	__u32 size;
	__u32 kind;
	__u64 data_size;
	__u32 rec_max;
	__u32 __pad;
	__u64 mmap_offset;
};

#define KSHM_EDU_RING_OFFSET		(1ULL << 30)
#define KSHM_EDU_REQ_RING_OFFSET	(2ULL << 30)
#define KSHM_EDU_IOC_RING	_IOWR(0xBE, 0x05, struct kshm_edu_ring)

/*
 * The request path: the application submits factorial requests on a
 * user-to-kernel kshm ring, the device's factorial unit computes each (in
 * 32 bits: the result is n! modulo 2^32), and its interrupt's completion
 * comes back as a record on a kernel-to-user ring.
 */
#define KSHM_EDU_REC_FACT	2	/* request: struct kshm_edu_fact_req */
#define KSHM_EDU_REC_FACT_DONE	3	/* completion: struct kshm_edu_fact_done */
#define KSHM_EDU_FACT_MAX	1000	/* the largest n the device is given */

/**
 * struct kshm_edu_fact_req - a request record's payload
 * @cookie: the application's, returned in the completion
 * @n: compute n!, 0..KSHM_EDU_FACT_MAX
 * @__reserved: 0
 */
struct kshm_edu_fact_req {
	__u64 cookie;
	__u32 n;
	__u32 __reserved;
};

/**
 * struct kshm_edu_fact_done - a completion record's payload
 * @cookie: the request's (as much of it as the record held)
 * @n: the request's
 * @result: n! modulo 2^32, when @status is 0
 * @status: 0; -EBADMSG for a record of another type; -EMSGSIZE for a
 *	payload that is not a struct kshm_edu_fact_req; -EINVAL for @n
 *	beyond KSHM_EDU_FACT_MAX or a nonzero reserved field; -EIO for a
 *	device that did not answer
 * @__reserved: 0
 */
struct kshm_edu_fact_done {
	__u64 cookie;
	__u32 n;
	__u32 result;
	__s32 status;
	__u32 __reserved;
};

/**
 * struct kshm_edu_serve - run the requests of a ring on the device
 * @size: sizeof(struct kshm_edu_serve)
 * @kshm_fd: the caller's descriptor of /dev/kshm
 * @req_ring_id: a user-to-kernel ring there (EINVAL otherwise): the
 *	driver becomes its consumer, EBUSY while another call holds it; 0
 *	for this file's own (KSHM_EDU_IOC_RING)
 * @comp_ring_id: a kernel-to-user ring: one KSHM_EDU_REC_FACT_DONE
 *	record per request (a full ring drops it, counted in prod.dropped);
 *	0 for this file's own
 * @max_requests: return once this many were served; 1 at least
 * @done: out, written back whatever the return: requests served, each
 *	with its completion (error completions included)
 *
 * Sleeps while no request is queued.  0 once @max_requests were served;
 * EINTR on a signal; EPIPE when the application destroyed the request
 * ring or broke it (see the rings' KSHM_RING_BROKEN); ENODEV when the
 * device is unbound; EIO when it did not answer.  One call runs at a time
 * on the device; another waits (interruptibly).  Records of type 0 or with
 * flags set are skipped by kshm (counted in the ring's stats), with no
 * completion.
 */
struct kshm_edu_serve {
	__u32 size;
	__s32 kshm_fd;
	__u32 req_ring_id;
	__u32 comp_ring_id;
	__u32 max_requests;
	__u32 done;
};

#define KSHM_EDU_IOC_SERVE	_IOWR(0xBE, 0x06, struct kshm_edu_serve)

#endif /* _UAPI_KSHM_EDU_H */
