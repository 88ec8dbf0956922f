#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the sanitizer kernel once per machine and print its cache directory
# (the same layout as vm/fetch-kernel.sh: vmlinuz, kdir, release).
#
#   vm/build-sanitizer.sh        (vm/fetch-kernel.sh 6.1-san calls it)
#
# Source: the pinned linux-source-6.1 package (vm/kernels.lock), the same
# version as the packaged 6.1 kernel.  Config: that kernel's own .config
# (from its headers package) plus vm/sanitizer.config.  The cache key is the
# source version and a hash of both configs, so a config change rebuilds.
# About 15 minutes at make -j2 and some 3 GB of objects.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KSHM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kshm}
lock=${KSHM_KERNELS_LOCK:-$here/kernels.lock}
frag="$here/sanitizer.config"
log() { printf 'build-sanitizer: %s\n' "$*" >&2; }

read -r pkg version sum < <(awk '$1 == "6.1-san" {print $2, $3, $4; exit}' "$lock")
[ -n "${sum:-}" ] || { log "no 6.1-san line in $lock"; exit 2; }
base=$("$here/fetch-kernel.sh" 6.1)
key=$(cat "$base/kdir/.config" "$frag" | sha256sum | cut -c1-12)
dir="$cache/sanitizer-6.1_${version//[~:]/_}_$key"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

# One build at a time on this machine (clones share the cache).
exec 9> "$cache/.sanitizer.lock"
flock 9
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
extract_source() {
	debs=$(mktemp -d /tmp/kshm-debs.XXXXXX)
	chmod 0777 "$debs"
	trap 'rm -rf "$debs"' EXIT
	if (cd "$debs" && apt-get download -q "$pkg=$version" >&2); then
		echo "$sum  $(ls "$debs"/*.deb)" | sha256sum -c --quiet - >&2 ||
			{ log "$pkg $version does not match its sha256 in $lock"; exit 1; }
	else
		# The pin left the archive: the source of the 6.1 kernel in use (it
		# falls back the same way), else the newest.
		want=$(cat "$base/version" 2>/dev/null || true)
		apt-cache show "$pkg=$want" >/dev/null 2>&1 ||
			want=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
		log "WARNING: the pinned $pkg $version has left the archive; building $pkg $want" \
		    "instead. Run 'make kernels-update' and commit vm/kernels.lock to pin it."
		(cd "$debs" && apt-get download -q "$pkg=$want" >&2) ||
			{ log "cannot download $pkg $want either"; exit 1; }
	fi
	# Unpacked aside and renamed whole: an interrupted unpack is never reused.
	rm -rf "$dir/unpack" && mkdir -p "$dir/unpack"
	dpkg-deb --fsys-tarfile "$debs"/*.deb |
		tar -xO --wildcards './usr/src/linux-source-*.tar.xz' | tar -xJ -C "$dir/unpack"
	mv "$dir/unpack/linux-source-6.1" "$dir/linux-source-6.1"
	rm -rf "$dir/unpack"
	src="$dir/linux-source-6.1"
}

# One sanitizer tree per machine.  The tree of another config of the same
# source is rebuilt in place (kbuild remakes only what the change touches);
# those of older pins are dropped.
old=$(ls -d "$cache/sanitizer-6.1_${version//[~:]/_}_"*/linux-source-6.1 2>/dev/null | head -1 || true)
mkdir -p "$dir"
if [ -n "$old" ] && [ "$old" != "$dir/linux-source-6.1" ]; then
	log "rebuilding the sanitizer kernel ($pkg $version) for config $key from the objects in $old"
	mv "$old" "$dir/"
fi
find "$cache" -maxdepth 1 -name 'sanitizer-6.1_*' ! -name "${dir##*/}" -exec rm -rf {} +
if [ -d "$dir/linux-source-6.1" ]; then
	src="$dir/linux-source-6.1"
else
	log "building the sanitizer kernel ($pkg $version, config $key) into $dir; about 15 minutes"
	extract_source
fi
cp "$base/kdir/.config" "$src/.config"
cat "$frag" >> "$src/.config"
make -s -C "$src" olddefconfig >&2

# Every option of the fragment must have survived olddefconfig.
missing=$(grep -E '^CONFIG_' "$frag" | while IFS= read -r want; do
	opt=${want%%=*} val=${want#*=}
	if [ "$val" = n ]; then
		grep -qx "$opt=y" "$src/.config" && echo "$want"
	else
		grep -qxF "$want" "$src/.config" || echo "$want"
	fi
done || true)
[ -z "$missing" ] || { log "olddefconfig dropped: $missing"; exit 1; }

make -s -C "$src" -j"$(nproc)" bzImage >&2
# scripts/module.lds and the rest external modules need.
make -s -C "$src" modules_prepare >&2
cp "$src/vmlinux.symvers" "$src/Module.symvers"
ln -sfn "$src" "$dir/kdir"
cp "$src/arch/x86/boot/bzImage" "$dir/vmlinuz"
# The guest modules are built in (vm/sanitizer.config): nothing to load.
mkdir -p "$dir/modules"
make -s -C "$src" kernelrelease > "$dir/release"
touch "$dir/.complete"
log "done: $(cat "$dir/release")"
echo "$dir"
