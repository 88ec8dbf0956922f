#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetch one Debian kernel (image + headers) into the cache, never installing it.
#
#   vm/fetch-kernel.sh 6.1|6.12     prints the cache directory of that kernel
#
# The directory holds vmlinuz, the unpacked headers (KDIR=<dir>/kdir) and a
# file "release" with the kernel's uname -r.  Package names are resolved at
# run time because the archive drops old ABIs.
set -euo pipefail

series=${1:?usage: fetch-kernel.sh 6.1|6.12}
cache=${KSHM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kshm}
mkdir -p "$cache"

log() { printf 'fetch-kernel: %s\n' "$*" >&2; }

apt_updated=
apt_update_once() {
	[ -n "$apt_updated" ] && return
	apt-get update -qq >&2 || log "apt-get update failed; using the lists we have"
	apt_updated=1
}

# Print the uname -r of the newest amd64 kernel of the series.
resolve_release() {
	local img
	case "$series" in
	6.1)
		img=$(apt-cache depends linux-image-amd64 2>/dev/null |
		      sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | head -1)
		;;
	6.12)
		img=$(apt-cache pkgnames linux-image-6.12 2>/dev/null |
		      grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1)
		;;
	*)
		log "unknown kernel series '$series' (want 6.1 or 6.12)"; exit 2 ;;
	esac
	[ -n "$img" ] && echo "${img#linux-image-}"
}

release=$(resolve_release || true)
if [ -z "$release" ]; then
	apt_update_once
	release=$(resolve_release || true)
fi
if [ -z "$release" ]; then
	# Offline with a warm cache: fall back to the newest cached release.
	release=$(ls -d "$cache"/"$series".*/ 2>/dev/null | sort -V | tail -1 | xargs -r basename || true)
	[ -n "$release" ] || { log "cannot resolve a $series kernel package"; exit 1; }
	release=$(cat "$cache/$release/release")
fi

version=$(apt-cache show "linux-image-$release" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
safe_version=${version:-cached}
safe_version=${safe_version//[~:]/_}
dir="$cache/${release}_${safe_version}"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

log "fetching Debian kernel $release ($version) into $dir"
apt_update_once
rm -rf "$dir" && mkdir -p "$dir/root"
# apt downloads as the unprivileged _apt user: give it a directory it can write.
debs=$(mktemp -d /tmp/kshm-debs.XXXXXX)
chmod 0777 "$debs"
trap 'rm -rf "$debs"' EXIT
hdr_common=$(apt-cache show "linux-headers-$release" | sed -n 's/^Depends: //p' | head -1 |
	     tr ',' '\n' | sed -n 's/^ *\(linux-headers-[^ ]*-common\).*/\1/p' | head -1)
kbuild=$(apt-cache show "linux-headers-$release" | sed -n 's/^Depends: //p' | head -1 |
	 tr ',' '\n' | sed -n 's/^ *\(linux-kbuild-[^ ]*\).*/\1/p' | head -1)
(cd "$debs" && apt-get download -q "linux-image-$release" "linux-headers-$release" \
	"$hdr_common" "$kbuild" >&2)
for deb in "$debs"/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done

kdir="$dir/root/usr/src/linux-headers-$release"
# The arch Makefile includes the -common tree by an absolute path; point it
# at the unpacked copy.
sed -i "s|/usr/src/linux-headers-|$dir/root/usr/src/linux-headers-|g" \
	"$kdir/Makefile" "$kdir/arch/x86/Makefile" 2>/dev/null || true
ln -sfn "$kdir" "$dir/kdir"
cp "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
echo "$release" > "$dir/release"
# Keep the cache small: the modules tree is not needed.
rm -rf "$dir/root/lib/modules" "$dir/root/usr/lib/modules" "$dir/root/boot"
touch "$dir/.complete"
echo "$dir"
