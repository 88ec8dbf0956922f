/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kshm_misuse: a test-only kshm client (tests/kmod/kshm_misuse.c) that
 * calls kshm's API for other drivers as the guest test tests/guest/misuse.c
 * tells it to, wrongly on purpose: twice, after a put, with the wrong kind
 * of handle, from where it may not sleep.  Never shipped.
 */
#ifndef KSHM_MISUSE_H
#define KSHM_MISUSE_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct kshm_misuse_arg - one call
 * @flags: KSHM_MISUSE_ATOMIC: make the call under a spinlock;
 *	KSHM_MISUSE_RCU: in an RCU read-side section; KSHM_MISUSE_UNLOCKED and
 *	KSHM_MISUSE_SOFTIRQ (below); and per call
 *	(REGION_CREATE: KSHM_MISUSE_COHERENT; RING_CREATE and DMA_MAP: the
 *	ring kind or DMA direction in @id)
 * @fd: a descriptor of the caller (/dev/kshm, a dma-buf)
 * @id: a buffer or ring id; a kind or direction (above)
 * @__pad: 0
 * @offset: DMA_MAP's first byte
 * @len: DMA_MAP's bytes; REGION_CREATE's
 * @ret: out: what the kshm call returned: 0 or -errno (0 for a call that
 *	returns nothing; RING_POLL's event mask)
 */
struct kshm_misuse_arg {
	__u32 flags;
	__s32 fd;
	__u32 id;
	__u32 __pad;
	__u64 offset;
	__u64 len;
	__s64 ret;
};

#define KSHM_MISUSE_ATOMIC	(1U << 0)
#define KSHM_MISUSE_COHERENT	(1U << 1)
#define KSHM_MISUSE_RCU		(1U << 2)
/* tests/guest/attack_misuse.c: without the client's mutex (races between threads) */
#define KSHM_MISUSE_UNLOCKED	(1U << 3)
/* ... or from a timer (softirq), the ioctl waiting for it */
#define KSHM_MISUSE_SOFTIRQ	(1U << 4)

/* The module's one handle of each kind is kept after its put, on purpose. */
enum kshm_misuse_op {
	KSHM_MISUSE_REGION_CREATE = 1,	/* kshm_region_create*() */
	KSHM_MISUSE_REGION_PUT,		/* kshm_region_put() */
	KSHM_MISUSE_REGION_REVOKE,	/* kshm_region_revoke() */
	KSHM_MISUSE_BUF_TAKE,		/* kshm_buf_from_fd(@fd, @id, read+write) */
	KSHM_MISUSE_BUF_TAKE_READ,	/* kshm_buf_from_fd(@fd, @id, read) */
	KSHM_MISUSE_BUF_PUT,		/* kshm_buf_put() */
	KSHM_MISUSE_BUF_KADDR,		/* kshm_buf_kaddr() */
	KSHM_MISUSE_BUF_DMA_MAP,	/* kshm_buf_dma_map(), unmapped at once */
	KSHM_MISUSE_RING_CREATE,	/* kshm_ring_create(@id, 4096, WB) */
	KSHM_MISUSE_RING_TAKE,		/* kshm_ring_from_fd(@fd, @id) */
	KSHM_MISUSE_RING_TAKE_U2K,	/* kshm_ring_from_fd_u2k(@fd, @id) */
	KSHM_MISUSE_RING_PUT,		/* kshm_ring_put() */
	KSHM_MISUSE_RING_PUT_U2K,	/* kshm_ring_put_u2k() */
	KSHM_MISUSE_RING_CONSUME,	/* kshm_ring_consume() */
	KSHM_MISUSE_RING_PRODUCE,	/* kshm_ring_produce(), 8 bytes */
	KSHM_MISUSE_RING_DOORBELL,	/* kshm_ring_doorbell() */
	KSHM_MISUSE_RING_POLL,		/* kshm_ring_poll(): @ret the mask */
	KSHM_MISUSE_DMABUF_IMPORT,	/* kshm_dmabuf_import(@fd, DMA_BIDIRECTIONAL) */
	KSHM_MISUSE_DMABUF_RELEASE,	/* kshm_dmabuf_release() */
	KSHM_MISUSE_REGION_LEAK,	/* forget the region without a put */
	KSHM_MISUSE_BUF_DMA_UNMAP_TWICE,	/* kshm_buf_dma_map(), unmapped twice */
	KSHM_MISUSE_BUF_DMA_MAP_KEEP,	/* kshm_buf_dma_map(), the table kept */
	KSHM_MISUSE_BUF_DMA_UNMAP,	/* kshm_buf_dma_unmap() of it; kept after */
	KSHM_MISUSE_RING_LEAK,		/* forget the ring without a put */
	KSHM_MISUSE_REGION_REUSED,	/* @ret 1: the last create reused the put one's address */
};

#define KSHM_MISUSE_IOC(op)	_IOWR(0xE6, op, struct kshm_misuse_arg)

/* mmap offsets: the module's region at 0, its ring here. */
#define KSHM_MISUSE_RING_OFFSET	(1ULL << 30)

#endif /* KSHM_MISUSE_H */
