// SPDX-License-Identifier: MIT
/*
 * kshmctl buf: register memory of kshmctl's own with the kernel, let the
 * kernel fill it, show it, release it; steps run in order in one process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kshm.h"
#include "kshmctl.h"

#define MAX_BUFS 64

/* The buffers this run registered: kshmctl owns the memory. */
static struct owned {
	uint32_t id;
	uint8_t *addr;
	uint64_t length;
} bufs[MAX_BUFS];
static int nbufs;

static struct owned *find_buf(const char *arg)
{
	int64_t v;
	int i;

	if (parse_int(arg, &v) || v <= 0) {
		usage_error("'%s' is not a buffer id", arg);
		return NULL;
	}
	for (i = 0; i < nbufs; i++)
		if (bufs[i].id == v)
			return &bufs[i];
	fprintf(stderr, "kshmctl: buffer %s was not registered in this run.\n", arg);
	return NULL;
}

/* ENOMEM from a registration is nearly always RLIMIT_MEMLOCK: say so. */
static int register_failed(int err)
{
	struct rlimit rl;

	if (err != -ENOMEM || getrlimit(RLIMIT_MEMLOCK, &rl))
		return fail("cannot register the buffer", err);
	fprintf(stderr,
		"kshmctl: cannot register the buffer: its pages would exceed "
		"RLIMIT_MEMLOCK (%llu KiB), which pinned memory is charged to; raise it "
		"with 'ulimit -l' or in /etc/security/limits.conf, or run with "
		"CAP_IPC_LOCK.\n",
		(unsigned long long)rl.rlim_cur / 1024);
	return 1;
}

/* Anonymous memory of @size bytes, or the whole of file @path, shared. */
static uint8_t *get_memory(const char *what, uint64_t *len)
{
	struct stat st;
	uint8_t *p;
	int f;

	if (strncmp(what, "file=", 5)) {
		if (parse_size(what, len) || !*len) {
			usage_error("register needs SIZE or file=PATH");
			return NULL;
		}
		p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else {
		f = open(what + 5, O_RDWR);
		if (f < 0 || fstat(f, &st) || !st.st_size) {
			fail(f < 0 ? "cannot open the file" : "the file is empty",
			     f < 0 ? -errno : -EINVAL);
			if (f >= 0)
				close(f);
			return NULL;
		}
		*len = st.st_size;
		p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
		close(f);
	}
	if (p == MAP_FAILED) {
		fail("cannot map the memory", -errno);
		return NULL;
	}
	return p;
}

static int step_register(int fd, int argc, char **argv)
{
	uint32_t access = KSHM_BUF_KERNEL_READ | KSHM_BUF_KERNEL_WRITE, id;
	uint64_t len;
	uint8_t *p;
	int ret;

	if (argc < 1 || argc > 2)
		return usage_error("register needs SIZE or file=PATH, then read, write or rw");
	if (argc == 2 && !strcmp(argv[1], "read"))
		access = KSHM_BUF_KERNEL_READ;
	else if (argc == 2 && !strcmp(argv[1], "write"))
		access = KSHM_BUF_KERNEL_WRITE;
	else if (argc == 2 && strcmp(argv[1], "rw"))
		return usage_error("'%s' is not read, write or rw", argv[1]);
	if (nbufs == MAX_BUFS)
		return usage_error("at most %d buffers in one run", MAX_BUFS);
	p = get_memory(argv[0], &len);
	if (!p)
		return 1;
	ret = kshm_buf_register(fd, p, len, access, &id);
	if (ret) {
		munmap(p, len);
		return register_failed(ret);
	}
	bufs[nbufs++] = (struct owned){ id, p, len };
	printf("buffer %u: %llu bytes at %p, pinned for the kernel to %s\n", id,
	       (unsigned long long)len, (void *)p,
	       access == KSHM_BUF_KERNEL_READ	 ? "read"
	       : access == KSHM_BUF_KERNEL_WRITE ? "write"
						 : "read and write");
	return 0;
}

static int step_fill(int fd, int argc, char **argv)
{
	int64_t v[5] = { 0, 0, 0, 0, 1 };
	struct owned *b;
	int i, ret;

	if (argc < 5 || argc > 6)
		return usage_error("fill needs ID WIDTH OFFSET COUNT START [STEP]");
	b = find_buf(argv[0]);
	if (!b)
		return 1;
	for (i = 1; i < argc; i++)
		if (parse_int(argv[i], &v[i - 1]))
			return usage_error("'%s' is not a number", argv[i]);
	ret = kshm_buf_fill(fd, b->id, v[0], v[1], v[2], v[3], v[4]);
	if (ret)
		return fail("the kernel could not fill the buffer", ret);
	printf("buffer %u: the kernel wrote %lld x u%lld at offset %lld\n", b->id, (long long)v[2],
	       (long long)v[0] * 8, (long long)v[1]);
	return 0;
}

static int step_dump(int fd, int argc, char **argv)
{
	uint64_t off = 0, len = 256;
	struct owned *b;

	(void)fd;
	if (argc < 1 || argc > 3)
		return usage_error("dump needs ID [OFFSET [LENGTH]]");
	b = find_buf(argv[0]);
	if (!b)
		return 1;
	if ((argc > 1 && parse_size(argv[1], &off)) || (argc > 2 && parse_size(argv[2], &len)))
		return usage_error("dump needs numbers for OFFSET and LENGTH");
	if (off >= b->length || len > b->length - off)
		return fail("cannot dump past the buffer's end", -EINVAL);
	printf("buffer %u, as the application sees it:\n", b->id);
	hexdump(b->addr + off, len, off);
	return 0;
}

static int step_checksum(int fd, int argc, char **argv)
{
	struct owned *b;
	uint64_t sum;
	int ret;

	if (argc != 1)
		return usage_error("checksum needs a buffer ID");
	b = find_buf(argv[0]);
	if (!b)
		return 1;
	ret = kshm_checksum(fd, KSHM_TARGET_BUF, b->id, 0, b->length, &sum);
	if (ret)
		return fail("the kernel could not read the buffer", ret);
	printf("buffer %u: FNV-1a 64 read by a kernel worker: 0x%016llx\n", b->id,
	       (unsigned long long)sum);
	return 0;
}

static int step_unregister(int fd, int argc, char **argv)
{
	struct owned *b;
	int ret;

	if (argc != 1)
		return usage_error("unregister needs a buffer ID");
	b = find_buf(argv[0]);
	if (!b)
		return 1;
	ret = kshm_buf_unregister(fd, b->id);
	if (!ret)
		ret = kshm_wait_buf_released(fd, b->id, 10000);
	if (ret)
		return fail("cannot release the buffer", ret);
	printf("buffer %u released: the kernel no longer holds it\n", b->id);
	return 0;
}

static const struct step steps[] = {
	{ "register", step_register },
	{ "fill", step_fill },
	{ "dump", step_dump },
	{ "checksum", step_checksum },
	{ "unregister", step_unregister },
};

const char buf_help[] =
	"usage: kshmctl buf STEP [, STEP]...\n"
	"Register kshmctl's own memory with the kernel and run steps on it, in order, in\n"
	"one open file; what is left registered is released when kshmctl exits.  Steps:\n"
	"  register SIZE|file=PATH [read|write|rw]  pin it for the kernel (default rw)\n"
	"  fill ID WIDTH OFFSET COUNT START [STEP]  the kernel writes START + i*STEP\n"
	"  dump ID [OFFSET [LENGTH]]                hexdump of the application's memory\n"
	"  checksum ID                              FNV-1a 64 read by a kernel worker\n"
	"  unregister ID                            release, and wait until the kernel let go\n"
	"Example:\n"
	"  kshmctl buf register 8K , fill 1 4 0 4 100 , dump 1 0 16 , unregister 1\n"
	"Exit status: 0 ok, 1 a step failed (one sentence says why), 2 usage error.\n";

int cmd_buf(int argc, char **argv)
{
	return run_script("buf", steps, sizeof(steps) / sizeof(steps[0]), argc, argv);
}
