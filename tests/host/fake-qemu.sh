#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stands in for qemu-system-x86_64 in the harness's own tests: boot number N
# writes $FAKE_QEMU_DIR/console.N and output.N to the two serial files.
set -eu
n=$(( $(cat "$FAKE_QEMU_DIR/boots" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$FAKE_QEMU_DIR/boots"
serial=()
while [ $# -gt 0 ]; do
	[ "$1" = -serial ] && serial+=("${2#file:}")
	shift
done
cp "$FAKE_QEMU_DIR/console.$n" "${serial[0]}"
cp "$FAKE_QEMU_DIR/output.$n" "${serial[1]}"
