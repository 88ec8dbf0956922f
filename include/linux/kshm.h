/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kshm for other drivers: allocate regions (common buffers included) and
 * rings, and map them into an application through the driver's own file;
 * accept memory an application registered on /dev/kshm, or any dma-buf,
 * map it for a device's DMA, post records to the application through a
 * kshm ring from any context, hard IRQ included, and consume the records
 * it submits on another ring.
 *
 * Handles are reference counted and opaque; each function's kernel-doc (in
 * kmod/api.c) says which contexts may call it.  The calls that hand out or
 * give back a handle are macros passing the caller's THIS_MODULE: kshm pins
 * that module while it holds any handle, so it cannot be unloaded first.
 * The symbols are in the KSHM namespace: a client says
 * MODULE_IMPORT_NS(KSHM).  docs/kernel-api.md
 * walks through samples/kshm_edu, a PCI driver built on this API.
 */
#ifndef _LINUX_KSHM_H
#define _LINUX_KSHM_H

#include <linux/dma-direction.h>
#include <linux/module.h>
#include <linux/types.h>
#include <uapi/linux/kshm.h>
#include <uapi/linux/kshm_ring.h>

struct device;
struct file;
struct poll_table_struct;
struct wait_queue_head;
struct sg_table;
struct vm_area_struct;
struct kshm_buf;
struct kshm_dmabuf;
struct kshm_region;
struct kshm_ring;

/* Regions a driver allocates and maps into its application. */
struct kshm_region *__kshm_region_create(u64 length, u32 cache_mode, int node,
					 u32 flags, struct module *owner);
#define kshm_region_create(length, cache_mode, node, flags)	\
	__kshm_region_create(length, cache_mode, node, flags, THIS_MODULE)
struct kshm_region *__kshm_region_create_coherent(struct device *dev,
						  u64 length, u32 flags,
						  struct module *owner);
#define kshm_region_create_coherent(dev, length, flags)	\
	__kshm_region_create_coherent(dev, length, flags, THIS_MODULE)
void *kshm_region_kaddr(struct kshm_region *r);
u64 kshm_region_length(const struct kshm_region *r);
dma_addr_t kshm_region_dma_addr(const struct kshm_region *r);
int kshm_region_mmap(struct kshm_region *r, struct vm_area_struct *vma);
void kshm_region_revoke(struct kshm_region *r);
void __kshm_region_put(struct kshm_region *r, struct module *owner);
#define kshm_region_put(r)	\
	__kshm_region_put(r, THIS_MODULE)

/* Buffers an application registered (KSHM_IOC_BUF_REGISTER). */
struct kshm_buf *__kshm_buf_from_fd(int fd, u32 id, u32 access,
				    struct module *owner);
#define kshm_buf_from_fd(fd, id, access)	\
	__kshm_buf_from_fd(fd, id, access, THIS_MODULE)
void __kshm_buf_put(struct kshm_buf *b, struct module *owner);
#define kshm_buf_put(b)	\
	__kshm_buf_put(b, THIS_MODULE)
u64 kshm_buf_length(const struct kshm_buf *b);
bool kshm_buf_cancelled(const struct kshm_buf *b);
void *kshm_buf_kaddr(struct kshm_buf *b);
struct sg_table *__kshm_buf_dma_map(struct kshm_buf *b, struct device *dev,
				    u64 offset, u64 len,
				    enum dma_data_direction dir,
				    struct module *owner);
#define kshm_buf_dma_map(b, dev, offset, len, dir)	\
	__kshm_buf_dma_map(b, dev, offset, len, dir, THIS_MODULE)
void __kshm_buf_dma_unmap(struct kshm_buf *b, struct device *dev,
			  struct sg_table *sgt, enum dma_data_direction dir,
			  struct module *owner);
#define kshm_buf_dma_unmap(b, dev, sgt, dir)	\
	__kshm_buf_dma_unmap(b, dev, sgt, dir, THIS_MODULE)

/* Rings a driver creates and maps into its application. */
struct kshm_ring *__kshm_ring_create(u32 kind, u64 data_size, u32 cache_mode,
				     struct wait_queue_head *wq,
				     struct module *owner);
#define kshm_ring_create(kind, data_size, cache_mode, wq)	\
	__kshm_ring_create(kind, data_size, cache_mode, wq, THIS_MODULE)
int kshm_ring_doorbell(struct kshm_ring *ring);
int kshm_ring_mmap(struct kshm_ring *ring, struct vm_area_struct *vma);
u32 kshm_ring_rec_max(const struct kshm_ring *ring);

/* Any dma-buf (a kshm region exported, udmabuf, ...) mapped for a device. */
struct kshm_dmabuf *__kshm_dmabuf_import(int fd, struct device *dev,
					 enum dma_data_direction dir,
					 struct module *owner);
#define kshm_dmabuf_import(fd, dev, dir)	\
	__kshm_dmabuf_import(fd, dev, dir, THIS_MODULE)
struct sg_table *kshm_dmabuf_sgt(const struct kshm_dmabuf *d);
u64 kshm_dmabuf_length(const struct kshm_dmabuf *d);
void __kshm_dmabuf_release(struct kshm_dmabuf *d, struct module *owner);
#define kshm_dmabuf_release(d)	\
	__kshm_dmabuf_release(d, THIS_MODULE)

/* Kernel-to-user rings an application created (KSHM_IOC_RING_CREATE). */
struct kshm_ring *__kshm_ring_from_fd(int fd, u32 id, struct module *owner);
#define kshm_ring_from_fd(fd, id)	\
	__kshm_ring_from_fd(fd, id, THIS_MODULE)
void __kshm_ring_put(struct kshm_ring *ring, struct module *owner);
#define kshm_ring_put(ring)	\
	__kshm_ring_put(ring, THIS_MODULE)
int kshm_ring_produce(struct kshm_ring *ring, u16 type, const void *data,
		      u32 len);

/*
 * User-to-kernel rings: a driver takes one and is its only consumer;
 * @wq is woken when the application rings the doorbell.
 */
struct kshm_ring *__kshm_ring_from_fd_u2k(int fd, u32 id,
					  struct wait_queue_head *wq,
					  struct module *owner);
#define kshm_ring_from_fd_u2k(fd, id, wq)	\
	__kshm_ring_from_fd_u2k(fd, id, wq, THIS_MODULE)
void __kshm_ring_put_u2k(struct kshm_ring *ring, struct module *owner);
#define kshm_ring_put_u2k(ring)	\
	__kshm_ring_put_u2k(ring, THIS_MODULE)
int kshm_ring_consume(struct kshm_ring *ring, u16 *type, void *buf, u32 len);
bool kshm_ring_consumable(struct kshm_ring *ring);

/* Readiness of either kind, as the application sees it, for a client's poll(). */
__poll_t kshm_ring_poll(struct kshm_ring *ring, struct file *file,
			struct poll_table_struct *wait);

#endif /* _LINUX_KSHM_H */
