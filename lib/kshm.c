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
