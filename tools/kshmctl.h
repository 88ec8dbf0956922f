/* SPDX-License-Identifier: MIT */
/* kshmctl: helpers shared by its subcommands. */
#ifndef KSHMCTL_H
#define KSHMCTL_H

#include <stddef.h>
#include <stdint.h>

/* Print "kshmctl: WHAT: strerror(-err) (hint)." and return 1. */
int fail(const char *what, int err);
/*
 * Print "kshmctl: MSG (see kshmctl SUB --help)." for a usage error and
 * return 2, the exit status of every usage error.
 */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Open the device, printing why not; returns the fd or -1. */
int open_dev(void);
/* Parse a number with an optional K, M or G suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *out);
/* Parse a signed or unsigned integer in any C base. */
int parse_int(const char *s, int64_t *out);
/* hexdump -C style, offsets counted from @base. */
void hexdump(const void *buf, size_t len, uint64_t base);

/* One step of a "kshmctl region" or "kshmctl buf" script. */
struct step {
	const char *name;
	int (*run)(int fd, int argc, char **argv);
};

/*
 * Open the device and run the steps of @argv, separated by "," arguments,
 * in order, each found by name in @steps; stop at the first that fails and
 * return its status.  @what names the subcommand in messages.
 */
int run_script(const char *what, const struct step *steps, size_t nsteps, int argc, char **argv);

int cmd_region(int argc, char **argv);
int cmd_buf(int argc, char **argv);
int cmd_ring(int argc, char **argv);

/* What "kshmctl SUB --help" prints. */
extern const char region_help[];
extern const char buf_help[];
extern const char ring_help[];

#endif /* KSHMCTL_H */
