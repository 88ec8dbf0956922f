#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what building and booting kshm needs, then fetch the kernels.
#   vm/setup.sh [series ...]      (default: 6.1 6.12 6.1-rt 6.1-san)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=(gcc gcc-multilib make libc6-dev qemu-system-x86 busybox-static cpio gzip
      dwarves bc flex bison libelf-dev kmod sparse linux-source-6.1 liburing-dev
      clang-format e2fsprogs xz-utils clang libbpf-dev bpftool
      abigail-tools groff-base man-db mandoc)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
"$here/checkpatch.sh" --path >/dev/null
for s in "${@:-6.1 6.12 6.1-rt 6.1-san}"; do
	for k in $s; do
		"$here/fetch-kernel.sh" "$k" >/dev/null
	done
done
