// SPDX-License-Identifier: MIT
/*
 * libkshm: thin wrappers over the /dev/kshm ioctls.  Errors come back as
 * -errno, converted in kshm_ioctl() and nowhere else.
 */
/* A 64-bit off_t even in 32-bit builds: region mmap offsets exceed 4 GiB. */
#define _FILE_OFFSET_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kshm.h"

static int kshm_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

int kshm_open(const char *path)
{
	int fd;

	if (!path)
		path = getenv("KSHM_DEVICE");
	if (!path || !*path)
		path = KSHM_DEFAULT_PATH;
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int kshm_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

int kshm_get_info(int fd, struct kshm_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return kshm_ioctl(fd, KSHM_IOC_INFO, info);
}

int kshm_region_create(int fd, uint64_t length, uint32_t flags, struct kshm_region_desc *out)
{
	return kshm_region_create_ex(fd, length, flags, KSHM_CACHE_WB, KSHM_NODE_ANY, out);
}

int kshm_region_create_ex(int fd, uint64_t length, uint32_t flags, uint32_t cache_mode, int node,
			  struct kshm_region_desc *out)
{
	struct kshm_region_create c = {
		.size = sizeof(c),
		.flags = flags,
		.length = length,
		.cache_mode = cache_mode,
	};
	int ret;

	if (node != KSHM_NODE_ANY) {
		c.flags |= KSHM_REGION_NODE;
		c.node = node;
	}
	ret = kshm_ioctl(fd, KSHM_IOC_REGION_CREATE, &c);
	if (ret)
		return ret;
	out->id = c.id;
	out->length = c.length;
	out->mmap_offset = c.mmap_offset;
	return 0;
}

int kshm_region_info(int fd, uint32_t id, uint32_t flags, struct kshm_region_info *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->flags = flags;
	out->id = id;
	return kshm_ioctl(fd, KSHM_IOC_REGION_INFO, out);
}

int kshm_region_destroy(int fd, uint32_t id)
{
	struct kshm_region_destroy d = { .size = sizeof(d), .id = id };

	return kshm_ioctl(fd, KSHM_IOC_REGION_DESTROY, &d);
}

int kshm_region_map(int fd, const struct kshm_region_desc *r, int prot, void **addrp)
{
	void *p = mmap(NULL, r->length, prot, MAP_SHARED, fd, (off_t)r->mmap_offset);

	if (p == MAP_FAILED)
		return -errno;
	*addrp = p;
	return 0;
}

int kshm_region_unmap(const struct kshm_region_desc *r, void *addr)
{
	return munmap(addr, r->length) < 0 ? -errno : 0;
}

static int kshm_fill(int fd, uint32_t flags, uint32_t id, uint32_t width, uint64_t offset,
		     uint64_t count, uint64_t start, int64_t step)
{
	struct kshm_fill f = {
		.size = sizeof(f),
		.flags = flags,
		.id = id,
		.width = width,
		.offset = offset,
		.count = count,
		.start = start,
		.step = (uint64_t)step,
	};

	return kshm_ioctl(fd, KSHM_IOC_FILL, &f);
}

int kshm_region_fill(int fd, uint32_t id, uint32_t width, uint64_t offset, uint64_t count,
		     uint64_t start, int64_t step)
{
	return kshm_fill(fd, 0, id, width, offset, count, start, step);
}

int kshm_buf_fill(int fd, uint32_t id, uint32_t width, uint64_t offset, uint64_t count,
		  uint64_t start, int64_t step)
{
	return kshm_fill(fd, KSHM_TARGET_BUF, id, width, offset, count, start, step);
}

int kshm_copy(int fd, const struct kshm_copy_end *src, const struct kshm_copy_end *dst,
	      uint64_t length)
{
	struct kshm_copy c = {
		.size = sizeof(c),
		.src = *src,
		.dst = *dst,
		.length = length,
	};

	return kshm_ioctl(fd, KSHM_IOC_COPY, &c);
}

int kshm_region_read(int fd, uint32_t id, uint64_t offset, void *buf, size_t len)
{
	struct kshm_copy_end src = { KSHM_MEM_REGION, id, offset };
	struct kshm_copy_end dst = { KSHM_MEM_USER, 0, (uintptr_t)buf };

	return kshm_copy(fd, &src, &dst, len);
}

int kshm_checksum(int fd, uint32_t flags, uint32_t id, uint64_t offset, uint64_t length,
		  uint64_t *sum)
{
	struct kshm_checksum c = {
		.size = sizeof(c),
		.flags = flags,
		.id = id,
		.offset = offset,
		.length = length,
	};
	int ret = kshm_ioctl(fd, KSHM_IOC_CHECKSUM, &c);

	if (!ret)
		*sum = c.sum;
	return ret;
}

int kshm_buf_register(int fd, const void *addr, size_t length, uint32_t access, uint32_t *id)
{
	struct kshm_buf_register r = {
		.size = sizeof(r),
		.flags = access,
		.addr = (uintptr_t)addr,
		.length = length,
	};
	int ret = kshm_ioctl(fd, KSHM_IOC_BUF_REGISTER, &r);

	if (!ret)
		*id = r.id;
	return ret;
}

int kshm_buf_unregister(int fd, uint32_t id)
{
	struct kshm_buf_unregister u = { .size = sizeof(u), .id = id };

	return kshm_ioctl(fd, KSHM_IOC_BUF_UNREGISTER, &u);
}

int kshm_buf_info(int fd, uint32_t id, struct kshm_buf_info *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->id = id;
	return kshm_ioctl(fd, KSHM_IOC_BUF_INFO, out);
}

int kshm_set_eventfd(int fd, int efd)
{
	struct kshm_set_eventfd s = { .size = sizeof(s), .fd = efd };

	return kshm_ioctl(fd, KSHM_IOC_SET_EVENTFD, &s);
}

int kshm_read_events(int fd, struct kshm_event *events, int max)
{
	ssize_t n = read(fd, events, (size_t)max * sizeof(*events));

	return n < 0 ? -errno : (int)(n / sizeof(*events));
}

int kshm_wait_buf_released(int fd, uint32_t id, int timeout_ms)
{
	struct kshm_event ev[16];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int i, n;

	for (;;) {
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0)
			return -errno;
		if (!n)
			return -ETIMEDOUT;
		n = kshm_read_events(fd, ev, 16);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return n;
		for (i = 0; i < n; i++)
			if (ev[i].type == KSHM_EVENT_BUF_RELEASED && ev[i].id == id)
				return 0;
	}
}

int kshm_engine_start(int fd, uint32_t flags, uint32_t id, uint32_t period_us, uint64_t offset,
		      uint64_t length, uint64_t max_ticks)
{
	struct kshm_engine_start e = {
		.size = sizeof(e),
		.flags = flags,
		.id = id,
		.period_us = period_us,
		.offset = offset,
		.length = length,
		.max_ticks = max_ticks,
	};

	return kshm_ioctl(fd, KSHM_IOC_ENGINE_START, &e);
}

int kshm_engine_stop(int fd, uint64_t *ticks)
{
	struct kshm_engine_stop e = { .size = sizeof(e) };
	int ret = kshm_ioctl(fd, KSHM_IOC_ENGINE_STOP, &e);

	if (!ret && ticks)
		*ticks = e.ticks;
	return ret;
}

/* --- rings (include/uapi/linux/kshm_ring.h) -------------------------------------- */

/*
 * Map the ring whose consumer page is at @offset of @fd, laid out as
 * KSHM_IOC_RING_CREATE reports: each side maps writable only what it
 * writes.  @ring->kind, size and cache_mode are set.
 */
static int kshm_ring_map_at(struct kshm_ring *ring, int fd, uint64_t offset)
{
	int cons_prot = ring->kind == KSHM_RING_K2U ? PROT_READ | PROT_WRITE : PROT_READ;
	int rest_prot = ring->kind == KSHM_RING_K2U ? PROT_READ : PROT_READ | PROT_WRITE;
	long page = sysconf(_SC_PAGESIZE);

	ring->fd = fd;
	ring->cons_len = page;
	ring->rest_len = page + 2 * ring->size;
	ring->cons_map = mmap(NULL, ring->cons_len, cons_prot, MAP_SHARED, fd, (off_t)offset);
	if (ring->cons_map == MAP_FAILED)
		return -errno;
	ring->rest_map =
		mmap(NULL, ring->rest_len, rest_prot, MAP_SHARED, fd, (off_t)(offset + page));
	if (ring->rest_map == MAP_FAILED) {
		int ret = -errno;

		munmap(ring->cons_map, ring->cons_len);
		return ret;
	}
	ring->cons = ring->cons_map;
	ring->prod = ring->rest_map;
	ring->data = (uint8_t *)ring->rest_map + page;
	return 0;
}

int kshm_ring_create(int fd, uint32_t kind, uint64_t data_size, uint32_t cache_mode, uint32_t flags,
		     uint32_t echo_id, struct kshm_ring *ring)
{
	struct kshm_ring_create c = {
		.size = sizeof(c),
		.flags = flags,
		.kind = kind,
		.cache_mode = cache_mode,
		.data_size = data_size,
		.echo_id = echo_id,
	};
	struct kshm_region_destroy d = { .size = sizeof(d) };
	int ret;

	memset(ring, 0, sizeof(*ring));
	ret = kshm_ioctl(fd, KSHM_IOC_RING_CREATE, &c);
	if (ret)
		return ret;
	ring->id = c.id;
	ring->kind = kind;
	ring->cache_mode = cache_mode;
	ring->size = data_size;
	ring->rec_max = c.rec_max;
	ret = kshm_ring_map_at(ring, fd, c.mmap_offset + c.cons_off);
	if (ret) {
		d.id = c.id;
		kshm_ioctl(fd, KSHM_IOC_REGION_DESTROY, &d);
	}
	return ret;
}

int kshm_ring_map(int fd, uint64_t offset, uint32_t kind, uint64_t data_size, uint32_t rec_max,
		  uint32_t cache_mode, struct kshm_ring *ring)
{
	memset(ring, 0, sizeof(*ring));
	if ((kind != KSHM_RING_K2U && kind != KSHM_RING_U2K) || !data_size ||
	    (data_size & (data_size - 1)) || !rec_max)
		return -EINVAL;
	ring->kind = kind;
	ring->cache_mode = cache_mode;
	ring->size = data_size;
	ring->rec_max = rec_max;
	return kshm_ring_map_at(ring, fd, offset);
}

int kshm_ring_unmap(struct kshm_ring *ring)
{
	munmap(ring->rest_map, ring->rest_len);
	munmap(ring->cons_map, ring->cons_len);
	return 0;
}

int kshm_ring_destroy(struct kshm_ring *ring)
{
	kshm_ring_unmap(ring);
	return kshm_region_destroy(ring->fd, ring->id);
}

/* The record at @pos: the data is mapped twice, so it never wraps. */
static struct kshm_ring_rec *kshm_ring_rec_at(const struct kshm_ring *ring, uint64_t pos)
{
	return (struct kshm_ring_rec *)(ring->data + (pos & (ring->size - 1)));
}

static int kshm_ring_doorbell_call(struct kshm_ring *ring)
{
	struct kshm_ring_doorbell d = { .size = sizeof(d), .id = ring->id };

	ring->doorbells++;
	return kshm_ioctl(ring->fd, KSHM_IOC_RING_DOORBELL, &d);
}

/* x86 orders stores to write-combining memory only with sfence. */
static void kshm_ring_wc_fence(const struct kshm_ring *ring)
{
#if defined(__x86_64__) || defined(__i386__)
	if (ring->cache_mode == KSHM_CACHE_WC)
		__asm__ __volatile__("sfence" ::: "memory");
#else
	(void)ring;
#endif
}

const struct kshm_ring_rec *kshm_ring_next(struct kshm_ring *ring)
{
	struct kshm_ring_rec *rec;
	uint32_t len;

	if (ring->kind != KSHM_RING_K2U || ring->broken)
		return NULL;
	if (ring->pos == ring->cached) {
		/* Pair P: the kernel's release store of its position. */
		ring->cached = __atomic_load_n(&ring->prod->pos, __ATOMIC_ACQUIRE);
		if (ring->pos == ring->cached)
			return NULL;
	}
	rec = kshm_ring_rec_at(ring, ring->pos);
	/* Pair B: a record is readable once its BUSY bit is clear. */
	len = __atomic_load_n(&rec->len, __ATOMIC_ACQUIRE);
	if (len & KSHM_RING_REC_BUSY)
		return NULL;
	/* The kernel never writes such a record: do not walk off the ring. */
	if (len > ring->rec_max || ring->cached - ring->pos < KSHM_RING_REC_SPACE(len)) {
		ring->broken = 1;
		return NULL;
	}
	ring->pos += KSHM_RING_REC_SPACE(len);
	return rec;
}

int kshm_ring_done(struct kshm_ring *ring)
{
	if (ring->kind != KSHM_RING_K2U)
		return -EINVAL;
	kshm_ring_wc_fence(ring);
	/* Pair C: our reads of the records before the kernel reuses them. */
	__atomic_store_n(&ring->cons->pos, ring->pos, __ATOMIC_RELEASE);
	/* Pair W: our position before the producer's flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ring->prod->flags, __ATOMIC_RELAXED) & KSHM_RING_WANT_WAKEUP)
		return kshm_ring_doorbell_call(ring);
	return 0;
}

int kshm_ring_want_wakeup(struct kshm_ring *ring, int on)
{
	uint32_t *flags = ring->kind == KSHM_RING_K2U ? &ring->cons->flags : &ring->prod->flags;
	const struct kshm_ring_rec *rec;

	kshm_ring_wc_fence(ring);
	__atomic_store_n(flags, on ? KSHM_RING_WANT_WAKEUP : 0, __ATOMIC_RELAXED);
	if (!on)
		return 0;
	/* Pair W: the flag before we look at the ring once more. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (ring->kind == KSHM_RING_K2U) {
		/* Work: a committed record at our position (pairs P and B). */
		if (__atomic_load_n(&ring->prod->pos, __ATOMIC_ACQUIRE) == ring->pos)
			return 0;
		rec = kshm_ring_rec_at(ring, ring->pos);
		return !(__atomic_load_n(&rec->len, __ATOMIC_ACQUIRE) & KSHM_RING_REC_BUSY);
	}
	/* Work for a producer: space freed since it last looked, or the end. */
	return __atomic_load_n(&ring->cons->pos, __ATOMIC_ACQUIRE) != ring->cached ||
	       (__atomic_load_n(&ring->cons->flags, __ATOMIC_RELAXED) & KSHM_RING_BROKEN);
}

void *kshm_ring_reserve(struct kshm_ring *ring, uint32_t len, uint16_t type)
{
	uint64_t need = KSHM_RING_REC_SPACE(len);
	struct kshm_ring_rec *rec;

	if (ring->kind != KSHM_RING_U2K || len > ring->rec_max)
		return NULL;
	if (ring->size - (ring->pos - ring->cached) < need) {
		/* Pair C: the kernel's reads before we overwrite the space. */
		ring->cached = __atomic_load_n(&ring->cons->pos, __ATOMIC_ACQUIRE);
		if (ring->size - (ring->pos - ring->cached) < need)
			return NULL;
	}
	rec = kshm_ring_rec_at(ring, ring->pos);
	rec->len = len;
	rec->type = type;
	rec->flags = 0;
	ring->pos += need;
	return rec + 1;
}

int kshm_ring_submit(struct kshm_ring *ring)
{
	if (ring->kind != KSHM_RING_U2K)
		return -EINVAL;
	if (__atomic_load_n(&ring->cons->flags, __ATOMIC_RELAXED) & KSHM_RING_BROKEN)
		return -EPIPE;
	kshm_ring_wc_fence(ring);
	/* Pair P: the records before the position that covers them. */
	__atomic_store_n(&ring->prod->pos, ring->pos, __ATOMIC_RELEASE);
	/* Pair W: our position before the kernel consumer's flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ring->cons->flags, __ATOMIC_RELAXED) & KSHM_RING_WANT_WAKEUP)
		return kshm_ring_doorbell_call(ring);
	return 0;
}

int kshm_ring_doorbell(struct kshm_ring *ring)
{
	return kshm_ring_doorbell_call(ring);
}

int kshm_ring_wait(struct kshm_ring *ring, uint64_t timeout_ns)
{
	struct kshm_ring_wait w = { .size = sizeof(w), .id = ring->id, .timeout_ns = timeout_ns };

	return kshm_ioctl(ring->fd, KSHM_IOC_RING_WAIT, &w);
}

int kshm_ring_set_eventfd(struct kshm_ring *ring, int efd)
{
	struct kshm_ring_set_eventfd s = { .size = sizeof(s), .id = ring->id, .fd = efd };

	return kshm_ioctl(ring->fd, KSHM_IOC_RING_SET_EVENTFD, &s);
}

int kshm_ring_stats(struct kshm_ring *ring, struct kshm_ring_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->id = ring->id;
	return kshm_ioctl(ring->fd, KSHM_IOC_RING_STATS, st);
}

int kshm_ring_kernel_produce(struct kshm_ring *ring, uint32_t flags, uint16_t type, uint32_t len,
			     uint32_t count, uint64_t seq, uint64_t *produced)
{
	struct kshm_ring_produce p = {
		.size = sizeof(p),
		.flags = flags,
		.id = ring->id,
		.len = len,
		.count = count,
		.type = type,
		.seq = seq,
	};
	int ret = kshm_ioctl(ring->fd, KSHM_IOC_RING_PRODUCE, &p);

	if (produced)
		*produced = p.produced;
	return ret;
}
