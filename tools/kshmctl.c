// SPDX-License-Identifier: MIT
/*
 * kshmctl: try kshm from the command line.
 *
 *   kshmctl info    ABI version, limits and counters of the loaded module
 *   kshmctl demo    the driver allocates pages and writes 10..1 into them,
 *                   the application maps them and reads the values back
 *   kshmctl region  create, map, fill, dump, list and destroy regions
 *   kshmctl buf     register kshmctl's memory, let the kernel use it, release
 *   kshmctl ring    watch a ring the engine feeds, or time echo round trips
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kshm.h"
#include "kshmctl.h"

#define DEMO_CELLS 10

static const char *dev_path(void)
{
	const char *p = getenv("KSHM_DEVICE");

	return p && *p ? p : KSHM_DEFAULT_PATH;
}

/* Print one sentence for a failed step, with a hint where one helps. */
int fail(const char *what, int err)
{
	const char *hint = "";

	if (err == -ENOENT && !strncmp(what, "cannot open", 11))
		hint = " (is the module loaded? try: sudo insmod kmod/kshm.ko)";
	else if (err == -EACCES && !strncmp(what, "cannot open", 11))
		hint = " (run as root, or give your group access to the device)";
	else if (err == -EACCES)
		hint = " (the buffer was registered without that kernel access)";
	else if (err == -EFBIG)
		hint = " (larger than the module's max_region_size or max_buf_size; see kshmctl "
		       "info)";
	else if (err == -ENOSPC)
		hint = " (over the module's max_file_size or max_total_size; see kshmctl info)";
	fprintf(stderr, "kshmctl: %s: %s%s.\n", what, strerror(-err), hint);
	return 1;
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kshmctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see kshmctl help).\n");
	return 2;
}

int parse_int(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	if (*s == '-')
		*out = strtoll(s, &end, 0);
	else
		*out = (int64_t)strtoull(s, &end, 0);
	return !*s || *end || errno ? -EINVAL : 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned int shift = 0;
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (end == s || errno || *s == '-')
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 0:
		return 0;
	default:
		return -EINVAL;
	}
	if (end[1] || *out > UINT64_MAX >> shift)
		return -EINVAL;
	*out <<= shift;
	return 0;
}

void hexdump(const void *buf, size_t len, uint64_t base)
{
	const uint8_t *p = buf;
	size_t i, j;

	for (i = 0; i < len; i += 16) {
		printf("%08llx ", (unsigned long long)(base + i));
		for (j = i; j < i + 16; j++) {
			if (j % 8 == 0)
				putchar(' ');
			if (j < len)
				printf("%02x ", p[j]);
			else
				printf("   ");
		}
		printf(" |");
		for (j = i; j < i + 16 && j < len; j++)
			putchar(isprint(p[j]) ? p[j] : '.');
		printf("|\n");
	}
}

int open_dev(void)
{
	char what[300];
	int fd = kshm_open(NULL);

	if (fd < 0) {
		snprintf(what, sizeof(what), "cannot open %s", dev_path());
		fail(what, fd);
	}
	return fd;
}

static int run_step(const char *what, const struct step *steps, size_t nsteps, int fd, int argc,
		    char **argv)
{
	size_t i;

	for (i = 0; i < nsteps; i++)
		if (!strcmp(argv[0], steps[i].name))
			return steps[i].run(fd, argc - 1, argv + 1);
	return usage_error("'%s' is not a %s step", argv[0], what);
}

int run_script(const char *what, const struct step *steps, size_t nsteps, int argc, char **argv)
{
	int fd, start = 0, i, ret = 0;

	if (!argc)
		return usage_error("%s needs a step", what);
	fd = open_dev();
	if (fd < 0)
		return 1;
	for (i = 0; i <= argc && !ret; i++) {
		if (i < argc && strcmp(argv[i], ","))
			continue;
		if (i == start)
			ret = usage_error("an empty step");
		else
			ret = run_step(what, steps, nsteps, fd, i - start, argv + start);
		start = i + 1;
	}
	/* Closing releases what the script left registered or created. */
	kshm_close(fd);
	return ret;
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
	printf("abi version:     %u (this kshmctl speaks %u)\n", info.abi_version,
	       KSHM_ABI_VERSION);
	printf("page size:       %u bytes\n", info.page_size);
	printf("max region size: %llu bytes\n", (unsigned long long)info.max_region_size);
	printf("max per file:    %llu bytes\n", (unsigned long long)info.max_file_size);
	printf("max in total:    %llu bytes\n", (unsigned long long)info.max_total_size);
	printf("max buffer size: %llu bytes\n", (unsigned long long)info.max_buf_size);
	printf("regions alive:   %llu\n", (unsigned long long)info.regions_alive);
	printf("pages alive:     %llu\n", (unsigned long long)info.pages_alive);
	printf("buffers pinned:  %llu (%llu pages)\n", (unsigned long long)info.bufs_alive,
	       (unsigned long long)info.buf_pages_pinned);
	printf("pages leaked:    %llu\n", (unsigned long long)info.pages_leaked);
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
			fprintf(stderr, "kshmctl: cell %d holds %u, expected %d.\n", i, cells[i],
				DEMO_CELLS - i);
			return 1;
		}
	}
	cells[DEMO_CELLS] = 0xbeef;
	ret = kshm_region_read(fd, r->id, DEMO_CELLS * sizeof(*cells), &back, sizeof(back));
	if (ret)
		return fail("the kernel could not read the region back", ret);
	printf("the application wrote 0xbeef into cell[%d]; the kernel read 0x%x\n", DEMO_CELLS,
	       back);
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
	ret = kshm_region_fill(fd, r.id, sizeof(uint16_t), 0, DEMO_CELLS, DEMO_CELLS, -1);
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
	fprintf(f,
		"usage: kshmctl info | demo | region STEP [, STEP]... | buf STEP [, STEP]... | "
		"ring ...\n"
		"  info    ABI version, limits and counters of the loaded module\n"
		"  demo    the driver fills pages with 10..1, the application maps and reads them\n"
		"  region  run steps on regions, in order, in one open file:\n"
		"    create SIZE [wb|wc|uc] [node=N] [ro]   SIZE may end in K, M or G\n"
		"    map ID                                 mmap it into kshmctl\n"
		"    fill ID WIDTH OFFSET COUNT START [STEP] the kernel writes START + i*STEP\n"
		"    dump ID [OFFSET [LENGTH]]              hexdump (through the mapping if "
		"mapped)\n"
		"    list                                   the file's regions\n"
		"    destroy ID\n"
		"  e.g. kshmctl region create 64K wc , fill 1 2 0 10 10 -1 , map 1 , dump 1 0 32\n"
		"  buf     register kshmctl's own memory with the kernel, in one open file:\n"
		"    register SIZE|file=PATH [read|write|rw]  pin it for the kernel (default rw)\n"
		"    fill ID WIDTH OFFSET COUNT START [STEP]  the kernel writes START + i*STEP\n"
		"    dump ID [OFFSET [LENGTH]]                hexdump of the application's memory\n"
		"    checksum ID                              FNV-1a 64 read by a kernel worker\n"
		"    unregister ID                            release, and wait until the kernel "
		"let go\n"
		"  e.g. kshmctl buf register 8K , fill 1 4 0 4 100 , dump 1 0 16 , unregister 1\n"
		"  ring watch [seconds=S] [size=BYTES] [len=BYTES] [period=US]\n"
		"          the test engine feeds a kernel-to-user ring; print records, rate,\n"
		"          drops and wakeups each second (needs test_engine=1)\n"
		"  ring echo [COUNT] [len=BYTES]\n"
		"          records through a user-to-kernel ring, echoed back by the kernel;\n"
		"          print the round trip's p50, p99 and max\n"
		"Regions and buffers live as long as the file: they go when kshmctl exits.\n"
		"The device is $KSHM_DEVICE, else %s.\n",
		KSHM_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "info"))
		return cmd_info();
	if (argc == 2 && !strcmp(argv[1], "demo"))
		return cmd_demo();
	if (argc >= 2 && !strcmp(argv[1], "region"))
		return cmd_region(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "buf"))
		return cmd_buf(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "ring"))
		return cmd_ring(argc - 2, argv + 2);
	if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
