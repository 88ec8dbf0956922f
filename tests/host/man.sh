# SPDX-License-Identifier: MIT
# Sourced by tests/host/run.sh (uses $top, result and skip): the man pages.
# Every page renders without a warning; every global symbol of libkshm.map
# has a page of its name (the page itself, or a .so link to its family's),
# which names it and declares it; kshmctl(8) has every subcommand with an
# example and every step of region and buf.

# man/NAME.3 as the page it stands for: a .so link's target, else itself.
man_page_of() {
	local f=$1 so
	so=$(sed -n '1s/^\.so man[0-9]\/\(.*\)$/\1/p' "$f")
	if [ -n "$so" ]; then echo "$top/man/$so"; else echo "$f"; fi
}

# The pages as an installation lays them out (the .so links name man3/...).
man_root=$(mktemp -d)
ln -s "$top/man" "$man_root/man3"
ln -s "$top/man" "$man_root/man8"
for f in "$top"/man/*.[38]; do
	name=$(basename "$f")
	sec=${name##*.}
	if head -1 "$f" | grep '^\.so ' > /dev/null; then
		target=$(man_page_of "$f")
		msg=$(cat "$f")
		[ "$(wc -l < "$f")" = 1 ] && [ -f "$target" ] &&
			! head -1 "$target" | grep '^\.so ' > /dev/null
		result $? "man/$name is one .so line to a page of the tree" "$msg"
	fi
	# soelim follows .so from the root, as man does in /usr/share/man.
	msg=$(cd "$man_root" && groff -s -man -Tutf8 -ww -z "man$sec/$name" 2>&1)
	[ -z "$msg" ]
	result $? "man/$name renders without a warning (groff -ww)" "$msg"
	if command -v mandoc > /dev/null; then
		msg=$(cd "$man_root" && mandoc -Tlint -W warning "$(man_page_of "$f")" 2>&1)
		[ -z "$msg" ]
		result $? "man/$name is mandoc -Tlint clean" "$msg"
	else
		skip "man/$name mandoc lint" "mandoc is not installed (make setup installs it)"
	fi
done
rm -rf "$man_root"

# Every global symbol of the map: man/SYM.3, naming it and declaring it.
msg=
for sym in $(awk '/global:/ { g = 1; next } /local:/ { g = 0 }
		  g && /^[ \t]*[a-z_0-9]+;/ { gsub(/[ \t;]/, ""); print }' "$top/lib/libkshm.map"); do
	f=$top/man/$sym.3
	if [ ! -f "$f" ]; then
		msg="$msg$sym: no man/$sym.3"$'\n'
		continue
	fi
	page=$(man_page_of "$f")
	sed -n '/^\.SH NAME/{n;p;}' "$page" | grep -E "(^|[ ,])$sym(,| )" > /dev/null ||
		msg="$msg$sym: $(basename "$page")'s NAME does not list it"$'\n'
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$page" | grep -E "[ *]$sym\(" > /dev/null ||
		msg="$msg$sym: $(basename "$page")'s SYNOPSIS does not declare it"$'\n'
done
[ -z "$msg" ]
result $? "every global symbol of lib/libkshm.map has a man page that names and declares it" "$msg"
msg=
for f in "$top"/man/*.3; do
	sym=$(basename "$f" .3)
	grep -E "^[[:space:]]*$sym;" "$top/lib/libkshm.map" > /dev/null || msg="$msg$sym.3 "
done
[ -z "$msg" ]
result $? "every section 3 page is of a symbol libkshm exports" "no symbol for: $msg"

# kshmctl(8): each subcommand of kshmctl.c's table with a section and an
# example; each step of region.c's and buf.c's tables documented.
page=$top/man/kshmctl.8
msg=
subs=$(grep -o '{ "[a-z]*", cmd_[a-z]*, [a-z]*_help,' "$top/tools/kshmctl.c" | cut -d'"' -f2)
for sub in $subs; do
	grep -E "^\.SS $sub( |$)" "$page" > /dev/null || msg="$msg$sub: no .SS section"$'\n'
	sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$page" | grep -E "^kshmctl $sub( |$)" > /dev/null ||
		msg="$msg$sub: no example"$'\n'
done
for tool in region buf; do
	for step in $(grep -o '{ "[a-z]*", step_[a-z]* }' "$top/tools/$tool.c" | cut -d'"' -f2); do
		sed -n "/^\.SS $tool steps/,/^\.SS /p" "$page" |
			grep -E "^\.BI? \"?$step( |\"|$)" > /dev/null ||
			msg="$msg$tool step $step: not in kshmctl.8"$'\n'
	done
done
[ -z "$msg" ] && [ "$(echo $subs | wc -w)" -ge 5 ]
result $? "kshmctl(8) has every subcommand ($(echo $subs)), an example of each, and every step" "$msg"
