// SPDX-License-Identifier: MIT
/*
 * kshmctl region: a short script of steps on regions, run in one process
 * because regions belong to the open file and go when kshmctl exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kshm.h"
#include "kshmctl.h"

#define MAX_MAPS 64

/* The regions this run mapped, so dump can read through the mapping. */
static struct mapped {
	uint32_t id;
	uint64_t length;
	uint8_t *addr;
} maps[MAX_MAPS];
static int nmaps;

static const char *const cache_names[] = { "wb", "wc", "uc" };

static const char *cache_name(uint32_t mode)
{
	return mode < 3 ? cache_names[mode] : "?";
}

/* "any" or the node's number, in @buf. */
static const char *node_label(int node, char buf[16])
{
	if (node == KSHM_NODE_ANY)
		return "any";
	snprintf(buf, 16, "%d", node);
	return buf;
}

static int parse_id(const char *s, uint32_t *id)
{
	int64_t v;

	*id = 0;
	if (parse_int(s, &v) || v <= 0 || v > UINT32_MAX)
		return usage_error("'%s' is not a region id", s);
	*id = v;
	return 0;
}

struct create_opts {
	uint32_t flags, cache;
	int node;
};

static int parse_create_option(const char *arg, struct create_opts *o)
{
	int64_t node;
	uint32_t m;

	for (m = 0; m < 3; m++) {
		if (!strcmp(arg, cache_names[m])) {
			o->cache = m;
			return 0;
		}
	}
	if (!strcmp(arg, "ro")) {
		o->flags |= KSHM_REGION_USER_RDONLY;
		return 0;
	}
	if (!strncmp(arg, "node=", 5) && !parse_int(arg + 5, &node) && node >= 0 &&
	    node < 1 << 20) {
		o->node = node;
		return 0;
	}
	return usage_error("create does not know '%s'", arg);
}

static int step_create(int fd, int argc, char **argv)
{
	struct create_opts o = { 0, KSHM_CACHE_WB, KSHM_NODE_ANY };
	struct kshm_region_desc r;
	char where[16];
	uint64_t size;
	int i, ret;

	if (argc < 1 || parse_size(argv[0], &size))
		return usage_error("create needs a SIZE such as 4096, 64K or 2M");
	for (i = 1; i < argc; i++)
		if (parse_create_option(argv[i], &o))
			return 2;
	ret = kshm_region_create_ex(fd, size, o.flags, o.cache, o.node, &r);
	if (ret)
		return fail("cannot create the region", ret);
	printf("region %u: %llu bytes, cache %s, node %s%s, mmap offset 0x%llx\n", r.id,
	       (unsigned long long)r.length, cache_name(o.cache), node_label(o.node, where),
	       o.flags & KSHM_REGION_USER_RDONLY ? ", read-only for applications" : "",
	       (unsigned long long)r.mmap_offset);
	return 0;
}

static int step_map(int fd, int argc, char **argv)
{
	struct kshm_region_info info;
	struct kshm_region_desc r;
	uint32_t id;
	void *p;
	int ret;

	if (argc != 1 || parse_id(argv[0], &id))
		return argc != 1 ? usage_error("map needs a region ID") : 2;
	if (nmaps == MAX_MAPS)
		return usage_error("at most %d maps in one run", MAX_MAPS);
	ret = kshm_region_info(fd, id, 0, &info);
	if (ret)
		return fail("cannot find the region", ret);
	r.id = id;
	r.length = info.length;
	r.mmap_offset = info.mmap_offset;
	ret = kshm_region_map(fd, &r,
			      info.region_flags & KSHM_REGION_USER_RDONLY ? PROT_READ
									  : PROT_READ | PROT_WRITE,
			      &p);
	if (ret)
		return fail("cannot map the region", ret);
	maps[nmaps++] = (struct mapped){ id, info.length, p };
	printf("region %u mapped at %p (%llu bytes)\n", id, p, (unsigned long long)info.length);
	return 0;
}

static int step_fill(int fd, int argc, char **argv)
{
	int64_t v[5] = { 0, 0, 0, 0, 1 };
	uint32_t id;
	int i, ret;

	if (argc < 5 || argc > 6)
		return usage_error("fill needs ID WIDTH OFFSET COUNT START [STEP]");
	if (parse_id(argv[0], &id))
		return 2;
	for (i = 1; i < argc; i++)
		if (parse_int(argv[i], &v[i - 1]))
			return usage_error("'%s' is not a number", argv[i]);
	ret = kshm_region_fill(fd, id, v[0], v[1], v[2], v[3], v[4]);
	if (ret)
		return fail("the kernel could not fill the region", ret);
	printf("region %u: the kernel wrote %lld x u%lld at offset %lld\n", id, (long long)v[2],
	       (long long)v[0] * 8, (long long)v[1]);
	return 0;
}

static int step_dump(int fd, int argc, char **argv)
{
	uint64_t off = 0, len = 256;
	uint8_t *buf;
	uint32_t id;
	int i, ret;

	if (argc < 1 || argc > 3 || parse_id(argv[0], &id))
		return argc < 1 || argc > 3 ? usage_error("dump needs ID [OFFSET [LENGTH]]") : 2;
	if ((argc > 1 && parse_size(argv[1], &off)) || (argc > 2 && parse_size(argv[2], &len)))
		return usage_error("dump needs numbers for OFFSET and LENGTH");
	for (i = nmaps - 1; i >= 0; i--) {
		if (maps[i].id != id)
			continue;
		if (off >= maps[i].length || len > maps[i].length - off)
			return fail("cannot dump past the region's end", -EINVAL);
		printf("region %u, through the application's mapping:\n", id);
		hexdump(maps[i].addr + off, len, off);
		return 0;
	}
	buf = malloc(len ? len : 1);
	if (!buf)
		return fail("cannot allocate a buffer", -ENOMEM);
	ret = kshm_region_read(fd, id, off, buf, len);
	if (!ret) {
		printf("region %u, read by the kernel (not mapped here):\n", id);
		hexdump(buf, len, off);
	}
	free(buf);
	return ret ? fail("the kernel could not read the region", ret) : 0;
}

static int step_list(int fd, int argc, char **argv)
{
	struct kshm_region_info info;
	uint32_t id = 0;
	int n = 0;

	(void)argv;
	if (argc)
		return usage_error("list takes no argument");
	printf("%-6s %-12s %-5s %-5s %-10s %s\n", "ID", "BYTES", "CACHE", "NODE", "USER",
	       "MAPPINGS");
	while (!kshm_region_info(fd, id, KSHM_REGION_INFO_NEXT, &info)) {
		char node[16];

		printf("%-6u %-12llu %-5s %-5s %-10s %llu\n", info.id,
		       (unsigned long long)info.length, cache_name(info.cache_mode),
		       node_label(info.node, node),
		       info.region_flags & KSHM_REGION_USER_RDONLY ? "read" : "read-write",
		       (unsigned long long)info.mappings);
		id = info.id + 1;
		n++;
	}
	printf("%d region%s\n", n, n == 1 ? "" : "s");
	return 0;
}

static int step_destroy(int fd, int argc, char **argv)
{
	uint32_t id;
	int ret;

	if (argc != 1 || parse_id(argv[0], &id))
		return argc != 1 ? usage_error("destroy needs a region ID") : 2;
	ret = kshm_region_destroy(fd, id);
	if (ret)
		return fail("cannot destroy the region", ret);
	printf("region %u destroyed (mappings keep it until munmap)\n", id);
	return 0;
}

static const struct step steps[] = {
	{ "create", step_create }, { "map", step_map },	  { "fill", step_fill },
	{ "dump", step_dump },	   { "list", step_list }, { "destroy", step_destroy },
};

const char region_help[] =
	"usage: kshmctl region STEP [, STEP]...\n"
	"Run steps on regions (memory the module allocates), in order, in one open file;\n"
	"the regions go when kshmctl exits.  Steps:\n"
	"  create SIZE [wb|wc|uc] [node=N] [ro]     SIZE may end in K, M or G\n"
	"  map ID                                   mmap it into kshmctl\n"
	"  fill ID WIDTH OFFSET COUNT START [STEP]  the kernel writes START + i*STEP\n"
	"  dump ID [OFFSET [LENGTH]]                hexdump (through the mapping if mapped)\n"
	"  list                                     the file's regions\n"
	"  destroy ID                               drop the handle\n"
	"Example:\n"
	"  kshmctl region create 64K wc , fill 1 2 0 10 10 -1 , map 1 , dump 1 0 32\n"
	"Exit status: 0 ok, 1 a step failed (one sentence says why), 2 usage error.\n";

int cmd_region(int argc, char **argv)
{
	return run_script("region", steps, sizeof(steps) / sizeof(steps[0]), argc, argv);
}
