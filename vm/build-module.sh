#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build kmod/ against one cached Debian kernel into build/kmod-<series>/.
# Any compiler output other than kbuild's BTF notice fails the build.
# KSHM_KMOD_OUT builds elsewhere (the gate's planted-bug modules).
set -euo pipefail
series=${1:?usage: build-module.sh 6.1|6.12 [extra make args]}
shift
top=$(cd "$(dirname "$0")/.." && pwd)
kdir=$("$top/vm/fetch-kernel.sh" "$series")
out=${KSHM_KMOD_OUT:-$top/build/kmod-$series}
mkdir -p "$out"
ln -sf "$top"/kmod/*.c "$top"/kmod/*.h "$top"/kmod/Kbuild "$out"/
log=$(make -s -C "$kdir/kdir" M="$out" KSHM_INCLUDE="$top/include" "$@" modules 2>&1) || {
	printf '%s\n' "$log"
	echo "build-module: the module does not build against $(cat "$kdir/release")" >&2
	exit 1
}
log=$(printf '%s\n' "$log" | grep -v 'Skipping BTF generation' || true)
if [ -n "$log" ]; then
	printf '%s\n' "$log"
	echo "build-module: the $series build printed warnings (above)" >&2
	exit 1
fi
