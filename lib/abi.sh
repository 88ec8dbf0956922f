#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# libkshm's ABI: what the shared library exports, against what the project
# promises.
#   lib/abi.sh symbols LIB    the map's global symbols (with their version
#                             nodes), the library's dynamic symbols and the
#                             functions kshm.h declares are the same set
#   lib/abi.sh check LIB      abidiff against the committed baseline,
#                             lib/libkshm.abi: any change fails (abidiff
#                             calls a parameter's new type only a change)
#   lib/abi.sh baseline LIB   rewrite lib/libkshm.abi (make abi-baseline):
#                             only when the ABI is meant to change
# The baseline records no paths (no corpus path, no compilation directory,
# no source locations), so a clone anywhere compares equal.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
map=$top/lib/libkshm.map
header=$top/lib/include/kshm.h
baseline=$top/lib/libkshm.abi

# name@@VERSION for every global of the map.
map_symbols() {
	awk '/^[A-Z0-9_.]+ *\{/ { node = $1; sect = "" }
	     /^[ \t]*global:/ { sect = "g"; next }
	     /^[ \t]*local:/ { sect = "l"; next }
	     sect == "g" && /^[ \t]*[a-z_0-9]+;/ { gsub(/[ \t;]/, ""); print $0 "@@" node }' \
		"$map" | sort
}

# The version nodes the map defines.
map_nodes() { awk '/^[A-Z0-9_.]+ *\{/ { print $1 }' "$map" | sort; }

# Every defined dynamic symbol but the version nodes, as name@@VERSION.
lib_symbols() { nm -D --defined-only "$1" | awk '$2 != "A" { print $3 }' | sort; }
lib_nodes() { nm -D --defined-only "$1" | awk '$2 == "A" { print $3 }' | sort; }

# The functions kshm.h declares (not static inline ones), by the compiler.
header_functions() {
	local tmp
	tmp=$(mktemp -d) || return 1
	echo '#include "kshm.h"' > "$tmp/h.c"
	gcc -I"$top/lib/include" -I"$top/include/uapi" -fsyntax-only -aux-info "$tmp/aux" \
		"$tmp/h.c" || { rm -rf "$tmp"; return 1; }
	grep -F "/* $header:" "$tmp/aux" | grep -v ' static ' |
		sed -E 's/.*[ *]([A-Za-z_0-9]+) \(.*/\1/' | sort
	rm -rf "$tmp"
}

# diff with a label; prints nothing and succeeds when equal.
same() { # label-a label-b file-a file-b
	diff -u --label "$1" --label "$2" "$3" "$4"
}

symbols() {
	local lib=$1 tmp ok=0
	tmp=$(mktemp -d) || return 1
	map_symbols > "$tmp/map"
	lib_symbols "$lib" > "$tmp/lib"
	same "lib/libkshm.map (globals)" "$lib (nm -D --defined-only)" "$tmp/map" "$tmp/lib" || ok=1
	map_nodes > "$tmp/mapn"
	lib_nodes "$lib" > "$tmp/libn"
	same "lib/libkshm.map (version nodes)" "$lib (version nodes)" "$tmp/mapn" "$tmp/libn" ||
		ok=1
	sed 's/@@.*//' "$tmp/map" > "$tmp/mapf"
	header_functions > "$tmp/hdr" || ok=1
	same "lib/libkshm.map (globals)" "lib/include/kshm.h (declared functions)" \
		"$tmp/mapf" "$tmp/hdr" || ok=1
	[ -s "$tmp/map" ] || { echo "no global symbol in $map"; ok=1; }
	rm -rf "$tmp"
	return $ok
}

# (grep reads all of readelf's output: with -q, pipefail would see a SIGPIPE.)
has_debug_info() { readelf -S "$1" | grep '\.debug_info' > /dev/null; }

dump() { # lib: the ABI as abidw sees it, without any path
	if ! has_debug_info "$1"; then
		echo "$1 has no debug information (build it with -g, as CFLAGS does by default)" >&2
		return 1
	fi
	abidw --no-corpus-path --no-comp-dir-path --no-show-locs "$1"
}

check() {
	local lib=$1 out rc
	command -v abidiff > /dev/null || {
		echo "abidiff is missing: install abigail-tools (make setup does)"
		return 1
	}
	[ -f "$baseline" ] || { echo "no baseline $baseline: run make abi-baseline"; return 1; }
	if ! has_debug_info "$lib"; then
		echo "$lib has no debug information (build it with -g, as CFLAGS does by default)"
		return 1
	fi
	out=$(abidiff --no-show-locs "$baseline" "$lib" 2>&1)
	rc=$?
	[ $rc = 0 ] && return 0
	printf '%s\n' "$out"
	# abidiff's status is a bit field: 1 error, 2 usage, 4 change, 8 incompatible.
	if [ $((rc & 3)) != 0 ]; then
		echo "abidiff failed (status $rc)"
	elif [ $((rc & 8)) != 0 ]; then
		echo "libkshm's ABI changed incompatibly (abidiff status $rc: a symbol went):" \
			"undo the change, or bump the soname and run make abi-baseline"
	else
		# A parameter's type changing is only "a change" to abidiff, so
		# every change fails here, not only those abidiff calls incompatible.
		echo "libkshm's ABI changed (abidiff status $rc: a type or a signature changed, or" \
			"a symbol came): undo it; if it is meant, keep old callers working (new" \
			"symbols in a new version node of lib/libkshm.map, documented), then run" \
			"make abi-baseline"
	fi
	return 1
}

case "${1:-}:${2:-}" in
symbols:?*) symbols "$2" ;;
check:?*) check "$2" ;;
baseline:?*) dump "$2" > "$baseline.tmp" && mv "$baseline.tmp" "$baseline" ;;
*)
	echo "usage: lib/abi.sh symbols|check|baseline LIB" >&2
	exit 2
	;;
esac
