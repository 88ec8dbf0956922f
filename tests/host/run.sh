#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host-side tests: the kernel-log checker on captured excerpts, the
# user-space pieces that need no kernel, and the packages (packaging.sh).
# Appends "passed failed 0" to $1.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
counts=${1:-/dev/null}
pass=0 fail=0 skip=0
skips=$counts.skips; [ "$counts" != /dev/null ] || skips=/dev/null
: > "$skips"
# skip name reason: counted, and listed by make check with its reason.
skip() {
	skip=$((skip + 1)); echo "[host] skip $1 # $2"
	echo "[host] $1 # $2" >> "$skips"
}
result() { # 0|1 name [detail]
	if [ "$1" = 0 ]; then
		pass=$((pass + 1)); echo "[host] ok $2"
	else
		fail=$((fail + 1)); echo "[host] not ok $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/  /'
	fi
}

# Each excerpt is named <what>.<verdict>.log; verdict clean=0, bad=1, early=3.
for log in "$top"/tests/host/logs/*.log; do
	name=$(basename "$log" .log)
	want=${name##*.}
	case "$want" in clean) want=0 ;; bad) want=1 ;; early) want=3 ;; esac
	got=0
	report=$("$top/vm/check-log.sh" "$log") || got=$?
	if [ "$got" = "$want" ] && { [ "$want" = 0 ] || [ -n "$report" ]; }; then
		result 0 "check-log verdict on ${name%.*}"
	else
		result 1 "check-log verdict on ${name%.*}" "exit $got, want $want"
		printf '%s\n' "$report"
	fi
done

# The harness and the gate themselves (fake QEMU, stub steps, planted bugs).
. "$top/tests/host/harness.sh"

ctl="$top/build/bin/kshmctl"
msg=$(KSHM_DEVICE=/nonexistent/kshm "$ctl" info 2>&1); rc=$?
[ $rc = 1 ] && [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] &&
	printf '%s' "$msg" | grep -q 'cannot open /nonexistent/kshm: No such file or directory (is the module loaded'
result $? "kshmctl without the module says so in one sentence" "$msg"
msg=$(KSHM_DEVICE=/dev/null "$ctl" info 2>&1); rc=$?
[ $rc = 1 ] && printf '%s' "$msg" | grep -q "cannot read the module's info: Inappropriate ioctl"
result $? "kshmctl on a device that is not kshm reports ENOTTY" "$msg"
"$ctl" bogus >/dev/null 2>&1; rc=$?
[ $rc = 2 ]
result $? "kshmctl rejects an unknown subcommand with status 2"

# libkshm's ABI: the exported symbols are the map's, which kshm.h declares,
# and abidiff finds no change against the committed baseline (lib/abi.sh).
lib="$top/build/lib/libkshm.so.1"
msg=$("$top/lib/abi.sh" symbols "$lib" 2>&1)
result $? "libkshm exports exactly lib/libkshm.map's symbols, each declared in kshm.h" "$msg"
msg=$("$top/lib/abi.sh" check "$lib" 2>&1)
result $? "libkshm's ABI is lib/libkshm.abi's (abidiff)" "$msg"

# The man pages: they render, and every exported symbol has one (man.sh).
. "$top/tests/host/man.sh"

# User code in the one .clang-format; kernel style and sparse on the real
# kernel headers.
msg=$(cd "$top" && clang-format --dry-run -Werror lib/*.c lib/include/kshm.h tools/*.c \
	tools/*.h tests/tap.h tests/guest/*.c tests/guest/*.h bench/*.c bench/*.h samples/*.c 2>&1)
result $? "user code is clang-format clean" "$msg"
msg=$("$top/vm/checkpatch.sh" 2>&1)
result $? "kernel code is checkpatch --strict clean" "$msg"
for k in ${KERNELS:-6.1 6.12}; do
	msg=$("$top/vm/build-module.sh" "$k" C=2 2>&1)
	result $? "kernel code is sparse clean and warning-free against $k" "$msg"
done

# How kshm installs: make install, the Debian packages, DKMS (one 6.1 boot).
. "$top/tests/host/packaging.sh"

echo "$pass $fail $skip" >> "$counts"
[ "$fail" = 0 ]
