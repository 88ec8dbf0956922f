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
 *	block, posted from the device's interrupt
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
#define KSHM_EDU_IOC_STREAM_DMABUF _IOWR(0xBE, 0x02, struct kshm_edu_stream_dmabuf)

#endif /* _UAPI_KSHM_EDU_H */
