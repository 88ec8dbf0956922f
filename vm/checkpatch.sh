#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the kernel's checkpatch.pl --strict on the kernel-side files.
#   vm/checkpatch.sh            check kmod/, include/uapi/ and include/linux/
#   vm/checkpatch.sh --path     only unpack it and print where it is
# checkpatch ships inside Debian's linux-source-6.1 tarball; its scripts are
# unpacked once into the cache, keyed by the package version.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${KSHM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kshm}
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "checkpatch: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 | tr '~:' '__')
dir="$cache/checkpatch-$ver"
if [ ! -f "$dir/.complete" ]; then
	rm -rf "$dir" && mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=2 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch "$dir/.complete"
fi
if [ "${1:-}" = --path ]; then
	echo "$dir/checkpatch.pl"
	exit 0
fi
cd "$top"
shopt -s nullglob
files=(kmod/*.c kmod/*.h include/uapi/linux/*.h include/linux/*.h samples/*/*.c tests/kmod/*.c)
perl "$dir/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES -f "${files[@]}"
