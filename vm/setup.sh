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
# make deb and its host tests; without recommends, so that dkms does not
# pull in the host's own kernel headers (the tests build against the cache).
need_norec=(debhelper dh-dkms dkms lintian pkgconf)
missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			echo "$p"
	done
}
mapfile -t missing < <(missing "${need[@]}")
mapfile -t missing_norec < <(missing "${need_norec[@]}")
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_norec[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]} ${missing_norec[*]}"
	sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	[ ${#missing[@]} = 0 ] ||
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	[ ${#missing_norec[@]} = 0 ] ||
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
			"${missing_norec[@]}" >/dev/null
fi
"$here/checkpatch.sh" --path >/dev/null
for s in "${@:-6.1 6.12 6.1-rt 6.1-san}"; do
	for k in $s; do
		"$here/fetch-kernel.sh" "$k" >/dev/null
	done
done
