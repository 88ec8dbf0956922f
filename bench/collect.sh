#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Write each section a benchmark printed in the guest ("KSHM-BENCH-BEGIN
# name" ... "KSHM-BENCH-END") into FILE as the generated section
# "name SERIES", headed by the date of the run (the host's clock).  Fails
# when a section in WANTED is missing or did not end: a benchmark that
# crashed half-way writes nothing.
#
#   bench/collect.sh SERIES GUEST-OUTPUT FILE WANTED...
set -euo pipefail
series=${1:?usage: collect.sh SERIES GUEST-OUTPUT FILE WANTED...}
output=${2:?}
file=${3:?}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
date=$(date -u '+%Y-%m-%d %H:%M UTC')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in "$@"; do
	awk -v n="KSHM-BENCH-BEGIN $name" '
	$0 == n { on = 1; next }
	on && $0 == "KSHM-BENCH-END" { done = 1; exit }
	on { print }
	END { exit done ? 0 : 1 }' "$output" > "$tmp/body" ||
		{ echo "collect: section '$name' missing or cut short in $output" >&2; exit 1; }
	{ sed -n '1p' "$tmp/body"; printf '\nMeasured %s, `make bench`.\n' "$date"; sed '1d' "$tmp/body"; } |
		"$here/doc-section.sh" "$name $series" "$file"
done
