#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetch one pinned Debian kernel (image + headers) into the cache, never
# installing it.
#
#   vm/fetch-kernel.sh 6.1|6.12|6.1-rt|6.1-san   prints the kernel's cache directory
#
# The directory holds vmlinuz, the headers (KDIR=<dir>/kdir), a file
# "release" with the kernel's uname -r, and modules/: the modules the guest
# loads (vm/guest-modules, with their dependencies, in load order).  vm/kernels.lock names the exact
# packages and their sha256; a warm cache needs no network.  A pinned version
# that has left the archive falls back to the newest of its series, with a
# warning naming both versions.  6.1-san is built from source by
# vm/build-sanitizer.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
series=${1:?usage: fetch-kernel.sh 6.1|6.12|6.1-rt|6.1-san}
cache=${KSHM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kshm}
lock=${KSHM_KERNELS_LOCK:-$here/kernels.lock}
mkdir -p "$cache"

log() { printf 'fetch-kernel: %s\n' "$*" >&2; }

[ "$series" != 6.1-san ] || exec "$here/build-sanitizer.sh"

# The pins of this series: "package version sha256" lines.
pins=$(awk -v s="$series" '$1 == s {print $2, $3, $4}' "$lock")
[ -n "$pins" ] || { log "no kernel series '$series' in $lock (want 6.1, 6.12, 6.1-rt or 6.1-san)"; exit 2; }
image=$(printf '%s\n' "$pins" | awk '$1 ~ /^linux-image-/ {print $1; exit}')
version=$(printf '%s\n' "$pins" | awk '$1 ~ /^linux-image-/ {print $2; exit}')
release=${image#linux-image-}
dir="$cache/${release}_${version//[~:]/_}"
wanted=$(grep -v '^#' "$here/guest-modules" | xargs)
# A cache made for another list of guest modules is made again.
have() { [ -f "$1/.complete" ] && [ "$(cat "$1/modules/wanted" 2>/dev/null)" = "$wanted" ]; }
if have "$dir"; then
	echo "$dir"
	exit 0
fi

# One fetch of a kernel at a time on this machine (clones share the cache);
# a cache made for another guest module list is replaced, never half-made.
exec 9> "$cache/.fetch-$series.lock"
flock 9
if have "$dir"; then
	echo "$dir"
	exit 0
fi

sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
# apt downloads as the unprivileged _apt user: give it a directory it can write.
debs=$(mktemp -d /tmp/kshm-debs.XXXXXX)
chmod 0777 "$debs"
trap 'rm -rf "$debs"' EXIT

download() { # package=version ...
	(cd "$debs" && apt-get download -q "$@" >&2)
}

# Everything pinned, each checked against its sha256.
fetch_pinned() {
	local p v sum f
	while read -r p v sum; do
		download "$p=$v" || return 1
		f=$(ls "$debs/${p}_"*.deb)
		echo "$sum  $f" | sha256sum -c --quiet - >&2 ||
			{ log "$p $v does not match its sha256 in $lock"; exit 1; }
	done <<< "$pins"
}

# The pinned version has left the archive: take the newest of the series.
fetch_newest() {
	local img rel deps hdrs
	case "$series" in
	6.1) img=$(apt-cache depends linux-image-amd64 |
		sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | head -1) ;;
	6.1-rt) img=$(apt-cache depends linux-image-rt-amd64 |
		sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-rt-amd64\)$/\1/p' | head -1) ;;
	6.12) img=$(apt-cache pkgnames linux-image-6.12 |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1) ;;
	esac
	[ -n "$img" ] || { log "cannot resolve any $series kernel in the archive"; exit 1; }
	rel=${img#linux-image-}
	deps=$(apt-cache show "linux-headers-$rel" | sed -n 's/^Depends: //p' | head -1 | tr ',' '\n')
	hdrs=$(printf '%s\n' "$deps" | sed -n 's/^ *\(linux-headers-[^ ]*-common[^ ]*\).*/\1/p
		s/^ *\(linux-kbuild-[^ ]*\).*/\1/p')
	release=$rel
	version=$(apt-cache show "$img" | sed -n 's/^Version: //p' | head -1)
	log "WARNING: the pinned $image $(printf '%s\n' "$pins" | awk 'NR == 1 {print $2}')" \
	    "could not be downloaded (it has left the archive, or the archive is out of reach);" \
	    "testing the newest $series kernel, $img $version, instead." \
	    "Run 'make kernels-update' and commit vm/kernels.lock to pin it."
	dir="$cache/${release}_${version//[~:]/_}"
	! have "$dir" || { echo "$dir"; exit 0; }
	rm -f "$debs"/*.deb
	# shellcheck disable=SC2086
	download "$img" "linux-headers-$rel" $hdrs
}

log "fetching Debian kernel $release ($version) into $dir"
$sudo apt-get update -qq >&2 || log "apt-get update failed; using the lists we have"
fetch_pinned || fetch_newest

rm -rf "$dir" && mkdir -p "$dir/root"
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
echo "$version" > "$dir/version"
# The guest's modules, dependencies first, uncompressed (busybox insmod).
# The package has no modules.dep (depmod makes it on install): modinfo.
mods="$dir/root/lib/modules/$release"
mkdir -p "$dir/modules"
n=0
add_module() {
	local f dep name
	f=$(find "$mods" "$dir/root/usr/lib/modules/$release" \( -name "$1.ko*" -o \
		-name "${1//_/-}.ko*" \) 2>/dev/null | head -1 || true)
	[ -n "$f" ] || { log "no module $1 in $release"; exit 1; }
	name=$(basename "$f")
	name=${name%.xz}
	name=${name%.zst}
	! ls "$dir/modules/"*"-$name" >/dev/null 2>&1 || return 0
	for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
		add_module "$dep"
	done
	n=$((n + 1))
	case "$f" in
	*.xz) xz -dc "$f" > "$dir/modules/$(printf %03d $n)-$name" ;;
	*.zst) zstd -dcq "$f" > "$dir/modules/$(printf %03d $n)-$name" ;;
	*) cp "$f" "$dir/modules/$(printf %03d $n)-$name" ;;
	esac
}
for m in $wanted; do
	add_module "$m"
done
echo "$wanted" > "$dir/modules/wanted"
# Keep the cache small: the rest of the modules tree is not needed.
rm -rf "$dir/root/lib/modules" "$dir/root/usr/lib/modules" "$dir/root/boot"
touch "$dir/.complete"
echo "$dir"
