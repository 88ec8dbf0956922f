/* SPDX-License-Identifier: MIT */
/*
 * A tiny TAP producer for the guest tests: one line per check, the plan at
 * the end, exit status 1 if anything failed.
 */
#ifndef KSHM_TAP_H
#define KSHM_TAP_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kshm.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3))) static inline void tap_ok(int pass, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!pass)
		tap_failed++;
}

__attribute__((format(printf, 1, 2))) static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/*
 * A check that fails today because of a known product defect: TAP's
 * expected-failure mark, "# TODO <defect>", which the harness counts apart
 * and prints before its summary.  @defect names the item of the defects
 * issue; the fix removes the mark (a TODO that passes fails the run).
 */
__attribute__((format(printf, 3, 4))) static inline void tap_todo(int pass, const char *defect,
								  const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # TODO %s\n", defect);
	fflush(stdout);
}

/* Check that @ret (0 or -errno) is exactly -@want. */
static inline void tap_errno(int ret, int want, const char *name)
{
	tap_ok(ret == -want, "%s", name);
	if (ret != -want)
		tap_diag("  got %d (%s), want -%s", ret, ret ? strerror(-ret) : "success",
			 strerrorname_np(want));
}

/* Check that @ret is 0, naming the errno when it is not. */
static inline void tap_zero(int ret, const char *name)
{
	tap_ok(ret == 0, "%s", name);
	if (ret)
		tap_diag("  failed: %s", strerror(ret < 0 ? -ret : ret));
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

/* ioctl straight to the module, bypassing libkshm: 0 or -errno. */
static inline int raw_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* Die with a TAP bail-out when the test cannot even set itself up. */
static inline void tap_require(int ok, const char *what)
{
	if (!ok) {
		printf("Bail out! %s: %s\n", what, strerror(errno));
		exit(2);
	}
}

/*
 * Fork a child that runs @setup, tells us it is ready and then waits to be
 * killed.  Returns its pid once it is ready, or -1 if @setup failed.
 */
static inline pid_t spawn_ready(int (*setup)(void))
{
	int sync[2];
	pid_t pid;
	char c;

	if (pipe(sync))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(sync[0]);
		if (setup() || write(sync[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	if (read(sync[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(sync[0]);
	return pid;
}

/* SIGKILL @pid and reap it; true if SIGKILL is what ended it. */
static inline int kill_and_reap(pid_t pid)
{
	int status = 0;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* 64-bit FNV-1a, as KSHM_IOC_CHECKSUM computes it. */
static inline unsigned long long fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	unsigned long long h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

/* A number from /proc/self/status ("VmPin:") or /proc/vmstat, or -1. */
static inline long long proc_value(const char *file, const char *key)
{
	char line[256];
	long long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && (line[n] == ' ' || line[n] == ':' || line[n] == '\t'))
			v = atoll(line + n + (line[n] == ':'));
	if (f)
		fclose(f);
	return v;
}

/* Write @s to @path (a sysctl, a cgroup file); true if all of it went. */
static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return 0;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok;
}

/* /proc/vmstat, with every CPU's pending counter updates folded in first. */
static inline long long proc_vmstat(const char *key)
{
	int f = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (f >= 0) {
		if (write(f, "1", 1) != 1)
			tap_diag("stat_refresh: %s", strerror(errno));
		close(f);
	}
	return proc_value("/proc/vmstat", key);
}

/*
 * The page frame number of the page mapped at @addr in this process, from
 * /proc/self/pagemap (root sees PFNs); 0 if there is none.
 */
static inline unsigned long long pfn_at(const void *addr)
{
	unsigned long long ent = 0;
	long page = sysconf(_SC_PAGESIZE);
	int pm = open("/proc/self/pagemap", O_RDONLY);

	if (pm < 0)
		return 0;
	if (pread(pm, &ent, 8, (unsigned long)addr / page * 8) != 8 || !(ent >> 63))
		ent = 0; /* bit 63: present */
	close(pm);
	return ent & ((1ull << 55) - 1); /* bits 0-54 */
}

/* The kernel's flags (/proc/kpageflags) of page frame @pfn; ~0 if unknown. */
/* /proc/kpageflags: PG_dirty. */
#define KPF_DIRTY 4

static inline unsigned long long kpageflags_of(unsigned long long pfn)
{
	unsigned long long flags = ~0ull;
	int kf = open("/proc/kpageflags", O_RDONLY);

	if (kf < 0)
		return flags;
	if (!pfn || pread(kf, &flags, 8, pfn * 8) != 8)
		flags = ~0ull;
	close(kf);
	return flags;
}

/* The kernel's flags of the page mapped at @addr in this process, or ~0. */
static inline unsigned long long kpageflags_at(const void *addr)
{
	return kpageflags_of(pfn_at(addr));
}

/*
 * x86 PAT keeps a RAM page's memtype in its page flags: WC is PG_arch_1;
 * UC- is PG_uncached up to 6.1 and PG_arch_2 once PG_uncached was removed.
 * /proc/kpageflags shows them as these bits.
 */
#define KPF_ARCH     38
#define KPF_UNCACHED 39
#define KPF_ARCH_2   41

/* Do the page flags @flags show the memtype of @mode (enum kshm_cache_mode)? */
static inline int memtype_is(uint64_t flags, uint32_t mode)
{
	int arch = flags >> KPF_ARCH & 1;
	int uc = (flags >> KPF_UNCACHED & 1) | (flags >> KPF_ARCH_2 & 1);

	if (flags == ~0ull)
		return 0;
	switch (mode) {
	case KSHM_CACHE_WC:
		return arch && !uc;
	case KSHM_CACHE_UC:
		return !arch && uc;
	default:
		return !arch && !uc;
	}
}

/* Pages of the mapping at @addr on each node, from /proc/self/numa_maps. */
static inline int node_pages(void *addr, int node)
{
	char line[1024], key[16];
	unsigned long start;
	int n = -1;
	FILE *f;

	f = fopen("/proc/self/numa_maps", "r");
	if (!f)
		return -1;
	snprintf(key, sizeof(key), " N%d=", node);
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (sscanf(line, "%lx", &start) != 1 || start != (uintptr_t)addr)
			continue;
		p = strstr(line, key);
		n = p ? atoi(p + strlen(key)) : 0;
	}
	fclose(f);
	return n;
}

/*
 * The module's vmap() areas alive now (/proc/vmallocinfo names the caller
 * with its module): in a program without regions, its buffers' kernel
 * mappings.
 */
static inline int kshm_vmap_areas(void)
{
	FILE *f = fopen("/proc/vmallocinfo", "r");
	char line[512];
	int n = 0;

	tap_require(f != NULL, "open /proc/vmallocinfo");
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "[kshm]") && strstr(line, " vmap");
	fclose(f);
	return n;
}

#endif /* KSHM_TAP_H */
