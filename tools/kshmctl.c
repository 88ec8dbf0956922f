// SPDX-License-Identifier: MIT
/*
 * kshmctl: try kshm from the command line.
 *
 *   kshmctl info    ABI version, limits and counters of the loaded module
 *   kshmctl demo    the driver allocates pages and writes 10..1 into them,
 *                   the application maps them and reads the values back
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kshm.h"

#define DEMO_CELLS 10

static const char *dev_path(void)
{
	const char *p = getenv("KSHM_DEVICE");

	return p && *p ? p : KSHM_DEFAULT_PATH;
}

/* Print one sentence for a failed step, with a hint where one helps. */
static int fail(const char *what, int err)
{
	const char *hint = "";

	if (err == -ENOENT && !strncmp(what, "cannot open", 11))
		hint = " (is the module loaded? try: sudo insmod kmod/kshm.ko)";
	else if (err == -EACCES && !strncmp(what, "cannot open", 11))
		hint = " (run as root, or give your group access to the device)";
	else if (err == -EFBIG)
		hint = " (larger than the module's max_region_size; see kshmctl info)";
	else if (err == -ENOSPC)
		hint = " (over the module's max_file_size; see kshmctl info)";
	fprintf(stderr, "kshmctl: %s: %s%s.\n", what, strerror(-err), hint);
	return 1;
}

static int open_dev(void)
{
	char what[300];
	int fd = kshm_open(NULL);

	if (fd < 0) {
		snprintf(what, sizeof(what), "cannot open %s", dev_path());
		fail(what, fd);
	}
	return fd;
}

static int cmd_info(void)
{
	struct kshm_info info;
	int fd, ret;

	fd = open_dev();
	if (fd < 0)
		return 1;
	ret = kshm_get_info(fd, &info);
	kshm_close(fd);
	if (ret)
		return fail("cannot read the module's info", ret);
	printf("device:          %s\n", dev_path());
	printf("abi version:     %u (this kshmctl speaks %u)\n",
	       info.abi_version, KSHM_ABI_VERSION);
	printf("page size:       %u bytes\n", info.page_size);
	printf("max region size: %llu bytes\n",
	       (unsigned long long)info.max_region_size);
	printf("max per file:    %llu bytes\n",
	       (unsigned long long)info.max_file_size);
	printf("regions alive:   %llu\n", (unsigned long long)info.regions_alive);
	printf("pages alive:     %llu\n", (unsigned long long)info.pages_alive);
	return 0;
}

/* Check the cells and let the kernel read back what the application wrote. */
static int demo_verify(int fd, const struct kshm_region_desc *r, uint16_t *cells)
{
	uint16_t back;
	int i, ret;

	for (i = 0; i < DEMO_CELLS; i++) {
		printf("  cell[%d] = %u\n", i, cells[i]);
		if (cells[i] != DEMO_CELLS - i) {
			fprintf(stderr, "kshmctl: cell %d holds %u, expected %d.\n",
				i, cells[i], DEMO_CELLS - i);
			return 1;
		}
	}
	cells[DEMO_CELLS] = 0xbeef;
	ret = kshm_region_read(fd, r->id, DEMO_CELLS * sizeof(*cells), &back,
			       sizeof(back));
	if (ret)
		return fail("the kernel could not read the region back", ret);
	printf("the application wrote 0xbeef into cell[%d]; the kernel read 0x%x\n",
	       DEMO_CELLS, back);
	return back == 0xbeef ? 0 : 1;
}

static int cmd_demo(void)
{
	struct kshm_region_desc r;
	void *map;
	int fd, ret, status;

	fd = open_dev();
	if (fd < 0)
		return 1;
	ret = kshm_region_create(fd, 4096, 0, &r);
	if (ret) {
		kshm_close(fd);
		return fail("cannot create a region", ret);
	}
	printf("the driver allocated region %u: %llu zeroed bytes\n", r.id,
	       (unsigned long long)r.length);
	ret = kshm_region_fill(fd, r.id, sizeof(uint16_t), 0, DEMO_CELLS,
			       DEMO_CELLS, -1);
	if (!ret)
		ret = kshm_region_map(fd, &r, PROT_READ | PROT_WRITE, &map);
	if (ret) {
		kshm_close(fd);
		return fail("cannot fill and map the region", ret);
	}
	printf("the driver wrote 10..1 as u16 through its kernel mapping;\n");
	printf("the application mapped the pages at %p and reads:\n", map);
	status = demo_verify(fd, &r, map);
	ret = kshm_region_destroy(fd, r.id);
	if (!ret)
		ret = kshm_region_unmap(&r, map);
	kshm_close(fd);
	if (ret)
		return fail("cannot release the region", ret);
	printf("region destroyed and unmapped: the pages are freed\n");
	return status;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kshmctl info | demo\n"
		"  info   ABI version, limits and counters of the loaded module\n"
		"  demo   the driver fills pages with 10..1, the application maps and reads them\n"
		"The device is $KSHM_DEVICE, else %s.\n", KSHM_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "info"))
		return cmd_info();
	if (argc == 2 && !strcmp(argv[1], "demo"))
		return cmd_demo();
	if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
