#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build kmod/ against one cached Debian kernel into build/kmod-<series>/,
# then the sample client samples/kshm_edu against it (kshm_edu.ko beside),
# and the test-only client tests/kmod (kshm_misuse.ko beside).
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
# The sample client (samples/kshm_edu), out of tree against kshm's symbols,
# as a driver author builds theirs; its .ko lands beside kshm.ko.
sample="$out/kshm_edu"
# Built afresh each time: the symbol versions it records are kshm's of now.
rm -rf "$sample" && mkdir -p "$sample"
ln -sf "$top"/samples/kshm_edu/*.c "$top"/samples/kshm_edu/*.h "$top"/samples/kshm_edu/Kbuild \
	"$sample"/
log+=$'\n'$(make -s -C "$kdir/kdir" M="$sample" KSHM_INCLUDE="$top/include" \
	KBUILD_EXTRA_SYMBOLS="$out/Module.symvers" "$@" modules 2>&1) || {
	printf '%s\n' "$log"
	echo "build-module: the sample client does not build against $(cat "$kdir/release")" >&2
	exit 1
}
cp "$sample/kshm_edu.ko" "$out/kshm_edu.ko"
# The test-only client that misuses the API on purpose (tests/kmod).
misuse="$out/kshm_misuse"
rm -rf "$misuse" && mkdir -p "$misuse"
ln -sf "$top"/tests/kmod/*.c "$top"/tests/kmod/*.h "$top"/tests/kmod/Kbuild "$misuse"/
log+=$'\n'$(make -s -C "$kdir/kdir" M="$misuse" KSHM_INCLUDE="$top/include" \
	KBUILD_EXTRA_SYMBOLS="$out/Module.symvers" "$@" modules 2>&1) || {
	printf '%s\n' "$log"
	echo "build-module: the test client tests/kmod does not build against $(cat "$kdir/release")" >&2
	exit 1
}
cp "$misuse/kshm_misuse.ko" "$out/kshm_misuse.ko"
log=$(printf '%s\n' "$log" | grep -v 'Skipping BTF generation' | grep -v '^$' || true)
if [ -n "$log" ]; then
	printf '%s\n' "$log"
	echo "build-module: the $series build printed warnings (above)" >&2
	exit 1
fi
