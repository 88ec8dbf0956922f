// SPDX-License-Identifier: MIT
/*
 * Region benchmarks, run in the guest next to the module (make bench): what
 * a cache mode costs to set up and tear down.  WC and UC regions change the
 * kernel's own mapping of every page (and flush caches and TLBs) on create
 * and again on free; the peer is a write-back region of the same size.
 *
 * Under QEMU's software emulation the ratio is the result, not the times;
 * how fast the CPU reads WC or UC memory is not measurable under emulation
 * (it ignores caching attributes), so it is not reported here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"
#include "kshm.h"

#define ROUNDS 15

/* Median microseconds to create, map, unmap and destroy @len bytes in @mode. */
static double cycle_us(int fd, uint64_t len, uint32_t mode)
{
	struct kshm_region_desc r;
	double t[ROUNDS], t0;
	void *p;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		t0 = now_us();
		ret = kshm_region_create_ex(fd, len, 0, mode, KSHM_NODE_ANY, &r);
		if (!ret)
			ret = kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &p);
		if (ret) {
			fprintf(stderr, "bench: region: %s\n", strerror(-ret));
			exit(1);
		}
		kshm_region_unmap(&r, p);
		kshm_region_destroy(fd, r.id);
		t[i] = now_us() - t0;
	}
	return median(t, ROUNDS);
}

int main(void)
{
	static const char *const names[] = { "wc", "uc" };
	uint64_t len = 16 << 20;
	double wb, other, mib = len / (double)(1 << 20);
	int fd = kshm_open(NULL), m;

	if (fd < 0) {
		fprintf(stderr, "bench: open /dev/kshm: %s\n", strerror(-fd));
		return 1;
	}
	printf("| operation | kshm mode | write-back (peer) | mode / write-back |\n"
	       "|---|---|---|---|\n");
	wb = cycle_us(fd, len, KSHM_CACHE_WB);
	for (m = 0; m < 2; m++) {
		other = cycle_us(fd, len, KSHM_CACHE_WC + m);
		printf("| create+map+unmap+destroy, %s, per MiB | %.1f us | %.1f us | %.2f |\n",
		       names[m], other / mib, wb / mib, other / wb);
	}
	kshm_close(fd);
	return 0;
}
