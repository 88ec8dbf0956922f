#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host-side tests: the kernel-log checker on captured excerpts, and the
# user-space pieces that need no kernel.  Appends "passed failed 0" to $1.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
counts=${1:-/dev/null}
pass=0 fail=0
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

# The harness itself, with a fake QEMU replaying logs: a crash before the
# module was loaded boots again once and says so; a crash after it does not.
fake_boot() { # dir console1 output1 [console2 output2]
	local d=$1; mkdir -p "$d"; rm -f "$d/boots"
	cp "$2" "$d/console.1"; cp "$3" "$d/output.1"
	[ $# -lt 5 ] || { cp "$4" "$d/console.2"; cp "$5" "$d/output.2"; }
	FAKE_QEMU_DIR=$d KSHM_QEMU="$top/tests/host/fake-qemu.sh" \
		"$top/vm/run.sh" --kernel 6.1 --ko "$top/build/kmod-6.1/kshm.ko" \
		--out "$d/vm" cmd true > "$d/report" 2>&1
}
work=$(mktemp -d /tmp/kshm-host.XXXXXX)
logs="$top/tests/host/logs"
printf 'KSHM-GUEST-BEGIN\nKSHM-MODULE-LOADED\nKSHM-RMMOD rc=0\nKSHM-GUEST-END rc=0\n' > "$work/good.out"
: > "$work/none.out"
fake_boot "$work/retry" "$logs/early-int3-before-load.early.log" "$work/none.out" \
	"$logs/boot-6.1-demo.clean.log" "$work/good.out"; rc=$?
[ $rc = 0 ] && [ "$(cat "$work/retry/boots")" = 2 ] &&
	grep -q 'failed before kshm was loaded.*booting again once' "$work/retry/report"
result $? "harness boots again once after a crash before the module loaded" "$(cat "$work/retry/report")"
fake_boot "$work/twice" "$logs/early-int3-before-load.early.log" "$work/none.out" \
	"$logs/early-int3-before-load.early.log" "$work/none.out"; rc=$?
[ $rc != 0 ] && [ "$(cat "$work/twice/boots")" = 2 ]
result $? "harness fails when the early crash happens twice"
fake_boot "$work/late" "$logs/null-deref-oops-6.1.bad.log" "$work/good.out"; rc=$?
[ $rc != 0 ] && [ "$(cat "$work/late/boots")" = 1 ] &&
	grep -q 'not ok kernel log clean' "$work/late/report" &&
	grep -q 'Oops' "$work/late/report"
result $? "harness fails at once on a crash after the module loaded, naming it"
printf 'KSHM-GUEST-BEGIN\nKSHM-MODULE-LOADED\nKSHM-RMMOD rc=0\nKSHM-GUEST-END rc=3\n' > "$work/rc3.out"
fake_boot "$work/status" "$logs/boot-6.1-demo.clean.log" "$work/rc3.out"; rc=$?
[ $rc = 3 ]
result $? "vm-run exits with the command's own status" "exit $rc"
fake_boot "$work/badlog" "$logs/warn-on-6.1.bad.log" "$work/good.out"; rc=$?
[ $rc = 1 ] && grep -q 'WARNING: CPU' "$work/badlog/report"
result $? "vm-run fails a command that succeeded when the kernel log is bad" "exit $rc"
printf 'KSHM-GUEST-BEGIN\nKSHM-MODULE-LOADED\nKSHM-RMMOD rc=1\nKSHM-GUEST-END rc=0\n' > "$work/busy.out"
fake_boot "$work/busy" "$logs/boot-6.1-demo.clean.log" "$work/busy.out"; rc=$?
[ $rc = 1 ] && grep -q 'not ok module unloads' "$work/busy/report"
result $? "vm-run fails when the module cannot be unloaded" "exit $rc"
rm -rf "$work"

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

# User code in the one .clang-format; kernel style and sparse on the real
# kernel headers.
msg=$(cd "$top" && clang-format --dry-run -Werror lib/*.c lib/include/kshm.h tools/*.c \
	tools/*.h tests/tap.h tests/guest/*.c bench/*.c bench/*.h 2>&1)
result $? "user code is clang-format clean" "$msg"
msg=$("$top/vm/checkpatch.sh" 2>&1)
result $? "kernel code is checkpatch --strict clean" "$msg"
for k in ${KERNELS:-6.1 6.12}; do
	msg=$("$top/vm/build-module.sh" "$k" C=2 2>&1)
	result $? "kernel code is sparse clean and warning-free against $k" "$msg"
done

echo "$pass $fail 0" >> "$counts"
[ "$fail" = 0 ]
