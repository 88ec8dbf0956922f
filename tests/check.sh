#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check: host tests, then the whole guest suite once per kernel.
# Ends with "N passed, M failed[, K skipped]" and exits non-zero on failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${B:-build}
out="$B/check"
rm -rf "$out" && mkdir -p "$out"
: > "$out/counts"

echo "== host tests =="
tests/host/run.sh "$out/counts"

for k in ${KERNELS:-6.1 6.12}; do
	echo "== guest suite on Debian $k (QEMU, TCG) =="
	start=$(date +%s)
	vm/run.sh --kernel "$k" --ko "$B/kmod-$k/kshm.ko" --bin "$B/bin" \
		--tests "$B/guest-tests" --out "$out/vm-$k" suite
	cat "$out/vm-$k/counts" >> "$out/counts"
	echo "   ($k: $(( $(date +%s) - start )) s; logs in $out/vm-$k/)"
done

read -r pass fail skip < <(awk '{p += $1; f += $2; s += $3}
	END {print p + 0, f + 0, s + 0}' "$out/counts")
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
