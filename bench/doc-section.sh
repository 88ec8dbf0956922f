#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Replace the generated section NAME of a markdown FILE with stdin: the lines
# between "<!-- NAME begin -->" and "<!-- NAME end -->" (appended at the end
# of the file when it has no such section).  make bench uses it, so the
# tables in docs/ are never copied by hand.
#
#   bench/doc-section.sh NAME FILE < table.md
set -euo pipefail
name=${1:?usage: doc-section.sh NAME FILE}
file=${2:?usage: doc-section.sh NAME FILE}
body=$(mktemp)
trap 'rm -f "$body" "$body.new"' EXIT
cat > "$body"
begin="<!-- $name begin -->" end="<!-- $name end -->"
if ! grep -qxF "$begin" "$file"; then
	printf '\n%s\n%s\n' "$begin" "$end" >> "$file"
fi
awk -v b="$begin" -v e="$end" -v body="$body" '
$0 == b { print; while ((getline l < body) > 0) print l; skip = 1; next }
$0 == e { skip = 0 }
!skip { print }' "$file" > "$body.new"
grep -qxF "$end" "$body.new" || { echo "doc-section: no '$end' in $file" >&2; exit 1; }
mv "$body.new" "$file"
