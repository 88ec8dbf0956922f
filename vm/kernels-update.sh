#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Move the kernel pins: resolve the newest Debian package of each series and
# rewrite vm/kernels.lock with its exact version and sha256.
#
#   vm/kernels-update.sh        (make kernels-update)
#
# Every run of the harness fetches exactly what kernels.lock names; only this
# script changes it, so the kernels under test move only in a commit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock="$here/kernels.lock"

sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq

# The image package of the newest kernel of a series.
newest_image() {
	case "$1" in
	6.1) apt-cache depends linux-image-amd64 |
		sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' | head -1 ;;
	6.1-rt) apt-cache depends linux-image-rt-amd64 |
		sed -n 's/.*Depends: \(linux-image-6\.1\.[0-9]*-[0-9]*-rt-amd64\)$/\1/p' | head -1 ;;
	6.12) apt-cache pkgnames linux-image-6.12 |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -1 ;;
	esac
}

field() { # package[=version] field
	apt-cache show "$1" | sed -n "s/^$2: //p" | head -1
}

# One lock line: series package version sha256.
pin() { # series package [version]
	local v=${3:-$(apt-cache policy "$2" | sed -n 's/^ *Candidate: //p')}
	[ -n "$v" ] && [ "$v" != "(none)" ] || { echo "kernels-update: no $2 in the archive" >&2; exit 1; }
	printf '%-8s %-40s %-22s %s\n' "$1" "$2" "$v" "$(field "$2=$v" SHA256)"
}

# The image, its headers and the two packages the headers depend on.
pin_series() { # series
	local img rel deps
	img=$(newest_image "$1")
	[ -n "$img" ] || { echo "kernels-update: cannot resolve a $1 kernel" >&2; exit 1; }
	rel=${img#linux-image-}
	deps=$(field "linux-headers-$rel" Depends | tr ',' '\n')
	pin "$1" "$img"
	pin "$1" "linux-headers-$rel"
	pin "$1" "$(printf '%s\n' "$deps" | sed -n 's/^ *\(linux-headers-[^ ]*-common[^ ]*\).*/\1/p' | head -1)"
	pin "$1" "$(printf '%s\n' "$deps" | sed -n 's/^ *\(linux-kbuild-[^ ]*\).*/\1/p' | head -1)"
}

tmp=$(mktemp)
{
	echo "# Debian kernels under test: series package version sha256."
	echo "# Written by vm/kernels-update.sh (make kernels-update); do not edit by hand."
	echo "# 6.1-san is built from linux-source-6.1 of the packaged 6.1's version"
	echo "# with Debian's 6.1 config and vm/sanitizer.config."
	for s in 6.1 6.12 6.1-rt; do pin_series "$s"; done
} > "$tmp.head"
v61=$(awk '$1 == "6.1" && $2 ~ /^linux-image-/ {print $3}' "$tmp.head")
{ cat "$tmp.head"; pin 6.1-san linux-source-6.1 "$v61"; } > "$tmp"
rm -f "$tmp.head"
if cmp -s "$tmp" "$lock"; then
	echo "kernels-update: the pins are current"
else
	diff -u "$lock" "$tmp" || true
	mv "$tmp" "$lock"
	echo "kernels-update: $lock rewritten; commit it"
fi
rm -f "$tmp"
