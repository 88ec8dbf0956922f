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

/* The subcommand running, for the hint of a usage error; NULL before one. */
static const char *subcommand;

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
	fprintf(stderr, " (see kshmctl %s%s--help).\n", subcommand ? subcommand : "",
		subcommand ? " " : "");
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

/* @s as a JSON string: quoted, with '"', '\\' and control characters escaped. */
static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* One JSON object on one line, the same fields as the text. */
static void info_json(const struct kshm_info *info)
{
	const struct {
		const char *name;
		unsigned long long value;
	} f[] = {
		{ "abi_version", info->abi_version },
		{ "tool_abi_version", KSHM_ABI_VERSION },
		{ "page_size", info->page_size },
		{ "max_region_size", info->max_region_size },
		{ "max_file_size", info->max_file_size },
		{ "max_total_size", info->max_total_size },
		{ "max_buf_size", info->max_buf_size },
		{ "regions_alive", info->regions_alive },
		{ "pages_alive", info->pages_alive },
		{ "bufs_alive", info->bufs_alive },
		{ "buf_pages_pinned", info->buf_pages_pinned },
		{ "pages_leaked", info->pages_leaked },
	};
	size_t i;

	printf("{\"device\": ");
	json_string(dev_path());
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf(", \"%s\": %llu", f[i].name, f[i].value);
	printf("}\n");
}

static void info_text(const struct kshm_info *info)
{
	printf("device:          %s\n", dev_path());
	printf("abi version:     %u (this kshmctl speaks %u)\n", info->abi_version,
	       KSHM_ABI_VERSION);
	printf("page size:       %u bytes\n", info->page_size);
	printf("max region size: %llu bytes\n", (unsigned long long)info->max_region_size);
	printf("max per file:    %llu bytes\n", (unsigned long long)info->max_file_size);
	printf("max in total:    %llu bytes\n", (unsigned long long)info->max_total_size);
	printf("max buffer size: %llu bytes\n", (unsigned long long)info->max_buf_size);
	printf("regions alive:   %llu\n", (unsigned long long)info->regions_alive);
	printf("pages alive:     %llu\n", (unsigned long long)info->pages_alive);
	printf("buffers pinned:  %llu (%llu pages)\n", (unsigned long long)info->bufs_alive,
	       (unsigned long long)info->buf_pages_pinned);
	printf("pages leaked:    %llu\n", (unsigned long long)info->pages_leaked);
}

static int cmd_info(int argc, char **argv)
{
	struct kshm_info info;
	int fd, ret, json = 0;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--json")))
		return usage_error("info takes only --json, not '%s'", argv[argc - 1]);
	json = argc == 1;
	fd = open_dev();
	if (fd < 0)
		return 1;
	ret = kshm_get_info(fd, &info);
	kshm_close(fd);
	if (ret)
		return fail("cannot read the module's info", ret);
	if (json)
		info_json(&info);
	else
		info_text(&info);
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

static int cmd_demo(int argc, char **argv)
{
	struct kshm_region_desc r;
	void *map;
	int fd, ret, status;

	if (argc)
		return usage_error("demo takes no argument, not '%s'", argv[0]);
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

static const char info_help[] =
	"usage: kshmctl info [--json]\n"
	"Print the loaded module's ABI version, its limits (module parameters) and its\n"
	"counters of regions and pinned buffers; only reads.  With --json, one JSON object\n"
	"on one line: device, abi_version, tool_abi_version, page_size, max_region_size,\n"
	"max_file_size, max_total_size, max_buf_size, regions_alive, pages_alive,\n"
	"bufs_alive, buf_pages_pinned, pages_leaked (numbers; sizes in bytes).\n"
	"Example:\n"
	"  kshmctl info --json\n"
	"Exit status: 0 ok, 1 the module cannot be reached (one sentence says why),\n"
	"2 usage error.\n";

static const char demo_help[] =
	"usage: kshmctl demo\n"
	"The driver allocates a page and writes 10..1 into it as 16-bit values through its\n"
	"own mapping; kshmctl maps the page, prints the ten cells, writes 0xbeef after them\n"
	"and has the kernel read it back; then the region is destroyed and unmapped.\n"
	"Example:\n"
	"  kshmctl demo\n"
	"Exit status: 0 ok, 1 a step failed or a cell was wrong, 2 usage error.\n";

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
	int json; /* only reads, and has --json */
} commands[] = {
	{ "info", cmd_info, info_help, 1 },	  { "demo", cmd_demo, demo_help, 0 },
	{ "region", cmd_region, region_help, 0 }, { "buf", cmd_buf, buf_help, 0 },
	{ "ring", cmd_ring, ring_help, 0 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static int is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

static int usage(void)
{
	printf("usage: kshmctl SUBCOMMAND [ARG]...\n"
	       "       kshmctl SUBCOMMAND --help | kshmctl help [SUBCOMMAND] | kshmctl --help\n"
	       "Try kshm, the shared memory module, from the command line.  Subcommands:\n"
	       "  info [--json]                   ABI version, limits and counters of the module\n"
	       "  demo                            the driver fills a page with 10..1, kshmctl\n"
	       "                                  maps it and reads it\n"
	       "  region STEP [, STEP]...         create, map, fill, dump, list, destroy regions\n"
	       "  buf STEP [, STEP]...            register, fill, dump, checksum, unregister\n"
	       "                                  kshmctl's own memory\n"
	       "  ring watch|echo [OPTION]...     a ring the test engine feeds, or echo round "
	       "trips\n"
	       "Regions and buffers live as long as the file: they go when kshmctl exits.\n"
	       "The device is $KSHM_DEVICE, else %s.\n"
	       "Exit status: 0 ok; 1 the module refused or failed; 2 usage error.\n"
	       "Either error prints one sentence on standard error: the cause, and the fix.\n"
	       "See kshmctl(8).\n",
	       KSHM_DEFAULT_PATH);
	return 0;
}

/* kshmctl help [SUBCOMMAND] */
static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (!argc)
		return usage();
	if (argc > 1)
		return usage_error("help takes one subcommand, not %d words", argc);
	c = find_command(argv[0]);
	if (!c)
		return usage_error("'%s' is not a kshmctl subcommand", argv[0]);
	fputs(c->help, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;
	int i;

	if (argc < 2)
		return usage_error("a subcommand is needed: info, demo, region, buf or ring");
	if (is_help(argv[1]) && argc == 2)
		return usage();
	if (!strcmp(argv[1], "help"))
		return cmd_help(argc - 2, argv + 2);
	if (argv[1][0] == '-')
		return usage_error("'%s' is not an option before a subcommand (only --help is)",
				   argv[1]);
	c = find_command(argv[1]);
	if (!c)
		return usage_error("'%s' is not a kshmctl subcommand", argv[1]);
	subcommand = c->name;
	for (i = 2; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(c->help, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--json") && !c->json)
			return usage_error("%s has no --json output: only info, which only reads, "
					   "has one",
					   c->name);
	}
	return c->run(argc - 2, argv + 2);
}
