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
		fail=$((fail + 1)); echo "[host] not ok $2${3:+ # $3}"
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

echo "$pass $fail 0" >> "$counts"
[ "$fail" = 0 ]
