/* SPDX-License-Identifier: MIT */
/*
 * What the guest programs of the sample client (samples/kshm_edu) share:
 * loading and unloading the client, streaming blocks and checking them,
 * finding the bound device and the unload order.
 * Each program includes it once; it holds static definitions.
 */
#ifndef KSHM_TESTS_EDU_H
#define KSHM_TESTS_EDU_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kshm.h"
#include "tap.h"
#include "../../samples/kshm_edu/kshm_edu.h"

#define BLK KSHM_EDU_BLOCK

static long page;

/* Is block @b what the driver gave the device for sequence number @seq? */
static inline int block_ok(const uint8_t *b, uint64_t seq)
{
	const uint64_t *w = (const uint64_t *)b;
	int j;

	for (j = 0; j < BLK / 8; j++)
		if (w[j] != seq * KSHM_EDU_MUL + j)
			return 0;
	return 1;
}

static inline int stream(int edu, int kfd, uint32_t buf, uint32_t ring, uint32_t blocks,
			 uint64_t seq, uint32_t *done)
{
	struct kshm_edu_stream s = { .size = sizeof(s),
				     .kshm_fd = kfd,
				     .buf_id = buf,
				     .ring_id = ring,
				     .blocks = blocks,
				     .seq = seq };
	int ret = ioctl(edu, KSHM_EDU_IOC_STREAM, &s) ? -errno : 0;

	if (done)
		*done = s.done;
	return ret;
}

/* Take every record there is; check them against the buffer @p. */
static inline int drain(struct kshm_ring *r, const uint8_t *p, uint64_t seq0, uint32_t *count)
{
	const struct kshm_ring_rec *rec;
	int bad = 0;

	while ((rec = kshm_ring_next(r))) {
		const struct kshm_edu_block *b = (const void *)(rec + 1);

		bad |= rec->type != KSHM_EDU_REC_BLOCK || rec->len != sizeof(*b) ||
		       b->index != *count || b->seq != seq0 + *count ||
		       !block_ok(p + (size_t)b->index * BLK, b->seq) ||
		       b->sum != fnv1a(p + (size_t)b->index * BLK, BLK);
		(*count)++;
	}
	kshm_ring_done(r);
	return !bad && !r->broken;
}

static int edu_fd = -1;

/* However the program ends, the client goes, so kshm can be unloaded. */
static inline void unload_client(void)
{
	if (edu_fd >= 0)
		close(edu_fd);
	syscall(SYS_delete_module, "kshm_edu", O_NONBLOCK);
}

/* Does an IOMMU translate for devices (vm/run.sh --iommu)? */
static inline int have_iommu(void)
{
	DIR *d = opendir("/sys/class/iommu");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n > 0;
}

/*
 * Load the client.  Behind an IOMMU the device keeps QEMU's 28-bit default
 * mask and the IOMMU maps the buffer below it; without one, vm/run.sh gives
 * the device 40 bits, all of the guest's memory.
 */
static inline void load_client(void)
{
	int fd = open("/kshm_edu.ko", O_RDONLY | O_CLOEXEC), iommu = have_iommu();

	tap_require(fd >= 0, "the sample client /kshm_edu.ko is in the guest");
	tap_ok(!syscall(SYS_finit_module, fd, iommu ? "dma_bits=28" : "dma_bits=40", 0),
	       "edu_client_loads (%s)", iommu ? "behind an IOMMU, 28-bit DMA" : "40-bit DMA");
	atexit(unload_client);
	close(fd);
	edu_fd = open("/dev/" KSHM_EDU_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	tap_require(edu_fd >= 0, "open /dev/kshm_edu (the edu device is bound)");
}

/* The PCI address the sample client is bound to, in @addr. */
static inline int bound_device(char *addr, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/drivers/kshm_edu");
	struct dirent *e;

	addr[0] = 0;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "0000:", 5))
			snprintf(addr, len, "%s", e->d_name);
	if (d)
		closedir(d);
	return addr[0] != 0;
}

/* kshm stays while its client is loaded; the client goes first. */
static inline void unload_order(void)
{
	tap_ok(!access("/sys/module/kshm/holders/kshm_edu", F_OK),
	       "edu_client_holds_kshm (sysfs holders)");
	tap_errno(syscall(SYS_delete_module, "kshm", O_NONBLOCK) ? -errno : 0, EWOULDBLOCK,
		  "edu_kshm_cannot_unload_under_its_client");
	tap_zero(syscall(SYS_delete_module, "kshm_edu", O_NONBLOCK) ? -errno : 0,
		 "edu_client_unloads_first");
}

#endif /* KSHM_TESTS_EDU_H */
