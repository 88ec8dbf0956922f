# SPDX-License-Identifier: MIT
#
#   make demo     set up, build, boot a guest and run `kshmctl demo` there
#   make check    host tests, then the guest suite on every kernel in KERNELS
#   make vm-run RUN='cmd args' EXTRA='prog ...' [KERNEL=6.1|6.12]
#   make bench    every benchmark in bench/, in the guest, on 6.1 and 6.12;
#                 writes docs/benchmarks.md's tables (bench-buf and bench-ring halves)
#   make kernels-update   move the kernel pins (vm/kernels.lock) to the archive's newest
#
# Nothing here needs the host's own kernel headers: modules are built against
# the Debian kernels pinned in vm/kernels.lock, which vm/fetch-kernel.sh
# caches under ~/.cache/kshm (6.1-san, the sanitizer kernel, is built there
# from Debian's source by vm/build-sanitizer.sh).

KERNELS ?= 6.1 6.12 6.1-rt 6.1-san
KERNEL ?= 6.1
B := build

CC ?= gcc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS_KSHM := -Ilib/include -Iinclude/uapi -D_GNU_SOURCE
USER_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) $(CPPFLAGS_KSHM)

LIB_SRC := lib/kshm.c
LIB_HDR := lib/include/kshm.h include/uapi/linux/kshm.h include/uapi/linux/kshm_ring.h
TOOL_SRC := $(wildcard tools/*.c) tools/kshmctl.h
GUEST_TESTS := $(patsubst tests/guest/%.c,$(B)/guest-tests/%,$(wildcard tests/guest/*.c)) \
	$(patsubst tests/guest/%.sh,$(B)/guest-tests/%,$(wildcard tests/guest/*.sh))
# The same C tests built for i386 (gcc-multilib): the module's compat ioctl path.
GUEST_TESTS_M32 := $(patsubst tests/guest/%.c,$(B)/guest-tests/%-m32,$(wildcard tests/guest/*.c))
KMOD_SRC := $(wildcard kmod/*.c kmod/*.h samples/kshm_edu/* tests/kmod/*) kmod/Kbuild include/uapi/linux/kshm.h \
	include/uapi/linux/kshm_ring.h include/linux/kshm.h

all: lib tools guest-tests

# make demo sets up only the kernel it boots.
demo: KERNELS = $(KERNEL)

# --- libkshm -----------------------------------------------------------------
lib: $(B)/lib/libkshm.a $(B)/lib/libkshm.so.1

$(B)/lib/kshm.o: $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fPIC -c -o $@ $<

$(B)/lib/libkshm.a: $(B)/lib/kshm.o
	$(AR) rcs $@ $^

$(B)/lib/libkshm.so.1: $(B)/lib/kshm.o lib/libkshm.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libkshm.so.1 \
		-Wl,--version-script=lib/libkshm.map -o $@ $(B)/lib/kshm.o
	ln -sf libkshm.so.1 $(B)/lib/libkshm.so

# The ABI baseline the host tests compare the library against (lib/abi.sh):
# rewrite it only when libkshm's ABI is meant to change, and commit it.
abi-baseline: $(B)/lib/libkshm.so.1
	lib/abi.sh baseline $<

# --- kshmctl and the guest tests (static: the guest has no libc) ---------------
tools: $(B)/bin/kshmctl $(B)/bin/edu_reader

$(B)/bin/kshmctl: $(TOOL_SRC) $(B)/lib/libkshm.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -o $@ $(filter %.c,$^) $(B)/lib/libkshm.a

# kshmctl linked to libkshm.so.1, as make install and the packages install it.
$(B)/shared/kshmctl: $(TOOL_SRC) $(B)/lib/libkshm.so.1 $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(LDFLAGS) -o $@ $(filter %.c,$^) -L$(B)/lib -lkshm

# The application side of the sample client (samples/kshm_edu).
$(B)/bin/edu_reader: samples/edu_reader.c samples/kshm_edu/kshm_edu.h $(B)/lib/libkshm.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Isamples -static -o $@ $< $(B)/lib/libkshm.a -lpthread

guest-tests: $(GUEST_TESTS) $(GUEST_TESTS_M32)

$(B)/guest-tests/%: tests/guest/%.c tests/tap.h $(wildcard tests/guest/*.h) samples/kshm_edu/kshm_edu.h tests/kmod/kshm_misuse.h $(B)/lib/libkshm.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -Itests -static -o $@ $< $(B)/lib/libkshm.a

$(B)/guest-tests/%: tests/guest/%.sh
	@mkdir -p $(@D)
	install -m 0755 $< $@

# --- 32-bit: libkshm and the guest tests for i386 processes on the 64-bit guest --
# Large-file offsets for the tests' own mmap calls: region mmap offsets are beyond
# 4 GiB (libkshm sets its own).
M32_CFLAGS = $(USER_CFLAGS) -m32 -D_FILE_OFFSET_BITS=64

$(B)/lib32/kshm.o: $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(M32_CFLAGS) -c -o $@ $<

$(B)/lib32/libkshm.a: $(B)/lib32/kshm.o
	$(AR) rcs $@ $^

$(B)/guest-tests/%-m32: tests/guest/%.c tests/tap.h $(wildcard tests/guest/*.h) samples/kshm_edu/kshm_edu.h tests/kmod/kshm_misuse.h $(B)/lib32/libkshm.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(M32_CFLAGS) -Itests -static -o $@ $< $(B)/lib32/libkshm.a

# --- benchmarks (run in the guest; see bench/) ------------------------------------
bench-bin: $(B)/bench/bench_buf $(B)/bench/bench_region $(B)/bench/bench_ring

$(B)/bench/%: bench/%.c bench/bench.h $(B)/lib/libkshm.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -o $@ $< $(B)/lib/libkshm.a -luring

# The BPF ring buffer peer of bench_ring: clang, a libbpf skeleton, static.
$(B)/bench/ringbuf_peer.bpf.o: bench/ringbuf_peer.bpf.c
	@mkdir -p $(@D)
	clang -O2 -g -target bpf -I/usr/include/$(shell gcc -dumpmachine) -c -o $@ $<

$(B)/bench/ringbuf_peer.skel.h: $(B)/bench/ringbuf_peer.bpf.o
	bpftool gen skeleton $< name ringbuf_peer_bpf > $@

$(B)/bench/bench_ring: bench/bench_ring.c bench/bench.h $(B)/bench/ringbuf_peer.skel.h \
		$(B)/lib/libkshm.a $(LIB_HDR)
	$(CC) $(USER_CFLAGS) -I$(B)/bench -static -o $@ $< $(B)/lib/libkshm.a \
		-lbpf -lelf -lz -lpthread

# Rings against the BPF ring buffer on the packaged kernels; the tables go
# into docs/benchmarks.md (bench/doc-section.sh), never by hand.
BENCH_KERNELS ?= 6.1 6.12
bench-ring: setup all $(B)/bench/bench_ring $(addprefix kmod-,$(BENCH_KERNELS))
	@for k in $(BENCH_KERNELS); do \
		echo "== kshm rings vs the BPF ring buffer in Debian $$k (QEMU TCG; ratios only) =="; \
		$(call VM_RUN,$$k) --out $(B)/vm-bench-ring-$$k --extra $(B)/bench/bench_ring \
			cmd '/extra/bench_ring' || exit 1; \
		sed -n '/^### Rings on/,/^| ratio kshm/p' $(B)/vm-bench-ring-$$k/tests.txt \
			> $(B)/bench-ring-$$k.md; \
		grep -q '^| ratio kshm' $(B)/bench-ring-$$k.md || \
			{ echo "bench_ring on $$k printed no complete table"; exit 1; }; \
		bench/doc-section.sh "bench_ring $$k" docs/benchmarks.md < $(B)/bench-ring-$$k.md; \
	done

BENCH_SECTIONS = "bench_buf registration" "bench_buf scale" "bench_buf writes" \
	"bench_buf latency" "bench_region lives" "bench_region bandwidth" "bench_region cache modes" \
	"bench_edu"
bench: bench-ring bench-buf

bench-buf: setup all bench-bin $(addprefix kmod-,$(BENCH_KERNELS))
	@for k in $(BENCH_KERNELS); do \
		echo "== kshm benchmarks in Debian $$k (QEMU TCG; ratios only) =="; \
		$(call VM_RUN,$$k) --node-mem 3G --out $(B)/vm-bench-$$k \
			--extra $(B)/bench/bench_buf --extra $(B)/bench/bench_region \
			cmd '/extra/bench_buf && /extra/bench_region && \
				insmod /kshm_edu.ko dma_bits=40 && echo KSHM-BENCH-BEGIN bench_edu && \
				echo "### The sample client, samples/edu_reader: $$(uname -r)" && \
				echo && echo "\`\`\`" && edu_reader 32 1 && echo "\`\`\`" && \
				echo KSHM-BENCH-END && rmmod kshm_edu' || exit 1; \
		bench/collect.sh $$k $(B)/vm-bench-$$k/tests.txt docs/benchmarks.md \
			$(BENCH_SECTIONS) || exit 1; \
	done

# --- the module, once per kernel --------------------------------------------------
# build/kmod-<series>/ holds links to the sources so the kernels do not share
# object files.
kmod-%: $(KMOD_SRC)
	@vm/build-module.sh $*

modules: $(addprefix kmod-,$(KERNELS))

# --- set-up, demo, checks ------------------------------------------------------------
setup:
	vm/setup.sh $(KERNELS)

kernels-update:
	vm/kernels-update.sh

VM_RUN = vm/run.sh --kernel $(1) --ko $(B)/kmod-$(1)/kshm.ko --bin $(B)/bin

demo: setup all kmod-$(KERNEL)
	@echo "== kshmctl demo in Debian's $(KERNEL) kernel (QEMU) =="
	@$(call VM_RUN,$(KERNEL)) --out $(B)/vm-demo cmd 'kshmctl demo'

vm-run: all kmod-$(KERNEL)
	@$(call VM_RUN,$(KERNEL)) --tests $(B)/guest-tests --out $(B)/vm-run \
		$(foreach f,$(EXTRA),--extra $(f)) cmd '$(RUN)'

host-tests: setup all $(addprefix kmod-,$(KERNELS))
	KERNELS='$(KERNELS)' tests/host/run.sh

check: setup all $(addprefix kmod-,$(KERNELS))
	@KERNELS='$(KERNELS)' B=$(B) tests/check.sh

# Installs the library, its headers, its pkg-config file, kshmctl (linked to
# the installed libkshm.so.1) and the man pages; not the module (use
# packaging/dkms.conf, the kshm-dkms package, or `make -C kmod`).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
install: lib $(B)/shared/kshmctl
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(BINDIR)
	install -m 0644 $(B)/lib/libkshm.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(B)/lib/libkshm.so.1 $(DESTDIR)$(LIBDIR)/
	ln -sf libkshm.so.1 $(DESTDIR)$(LIBDIR)/libkshm.so
	install -m 0644 lib/include/kshm.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 include/uapi/linux/kshm.h include/uapi/linux/kshm_ring.h $(DESTDIR)$(INCLUDEDIR)/linux/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		lib/libkshm.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/libkshm.pc
	install -m 0755 $(B)/shared/kshmctl $(DESTDIR)$(BINDIR)/
	@# Every man page of man/, by section (kshmctl's, the library's).
	@for s in 1 3 8; do \
		set -- man/*.$$s; [ -e "$$1" ] || continue; \
		echo "install -m 0644 $$* $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -d $(DESTDIR)$(MANDIR)/man$$s && install -m 0644 "$$@" $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done

# Debian packages (debian/), source and binary, built from a copy of the
# tree's files (git's, and new ones not ignored) into $(B)/deb: kshm-dkms,
# libkshm1, libkshm-dev, kshm-tools.
deb:
	@rm -rf $(B)/deb && mkdir -p $(B)/deb
	@set -e; src=$(B)/deb/kshm-$$(dpkg-parsechangelog -SVersion); mkdir -p $$src; \
	git ls-files -z --cached --others --exclude-standard | xargs -0 sh -c \
		'for f; do [ ! -e "$$f" ] || cp --parents "$$f" "$$0" || exit 1; done' $$src; \
	(cd $$src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -us -uc); \
	rm -rf $$src
	@ls $(B)/deb/*.deb

clean:
	rm -rf $(B)

.PHONY: all lib abi-baseline tools guest-tests modules setup kernels-update demo vm-run host-tests check bench-ring \
	bench bench-buf bench-bin install deb clean
