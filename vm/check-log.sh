#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Judge a guest kernel log (the serial console capture).
#
#   vm/check-log.sh CONSOLE_LOG
#
# Exit 0: clean.  Exit 1: the log shows a kernel problem; the offending lines
# are printed.  Exit 3: it does, but every such line comes before the
# harness announced the module load (a crash kshm cannot have caused).
# KSHM_LOG_EXPECTED (an awk regex, test builds only) names a line a planted
# fault makes the module print on purpose: such lines are not problems.
# A taint other than O (out-of-tree, 4096) and E (unsigned, 8192) is a
# problem too; the guest init reports it as "kshm-harness: tainted=N".
set -u
log=${1:?usage: check-log.sh CONSOLE_LOG}
[ -r "$log" ] || { echo "check-log: cannot read $log" >&2; exit 1; }

# Strip the carriage returns of the serial line before matching.
tr -d '\r' < "$log" | awk -v allowed_taint=12288 -v expected="${KSHM_LOG_EXPECTED:-}" '
BEGIN {
	# Reports, never mere mentions: a kmemleak kernel prints "kmemleak:
	# Kernel memory leak detector initialized" at boot; a leak report
	# says "unreferenced object".
	n = split("Oops|kernel BUG at|^BUG:|[^A-Z]BUG:|WARNING:|\\[ cut here \\]|" \
		  "general protection fault|invalid opcode:|Kernel panic|" \
		  "detected stall|self-detected stall|soft lockup|hard LOCKUP|" \
		  "blocked for more than [0-9]+ seconds|" \
		  "possible circular locking|possible recursive locking|" \
		  "inconsistent lock state|Invalid wait context|" \
		  "sleeping function called from invalid context|" \
		  "scheduling while atomic|" \
		  "KASAN:|unreferenced object|suspected memory leak|" \
		  "kmemleak: .*disabled|kmemleak: Cannot allocate|kmemleak: .*pool empty|" \
		  "lockdep is turned off|kshm: .*leaking them|UBSAN:|KCSAN:|KFENCE:|" \
		  "Call Trace:|page allocation failure|Bad page|" \
		  "list_add corruption|list_del corruption|" \
		  "ODEBUG: .*object type|" \
		  "x86/PAT:.*freeing invalid memtype|conflicting memory types|" \
		  "unable to handle|Unable to handle|" \
		  "DMAR: \\[DMA |DMAR: DRHD: handling fault", pat, "|")
	loaded = 0; bad = 0; late = 0
}
/kshm-harness: loading module/ { loaded = NR }
{
	hit = 0
	for (i = 1; i <= n; i++)
		if ($0 ~ pat[i]) { hit = 1; break }
	if (!hit && match($0, /kshm-harness: tainted=[0-9]+/)) {
		t = substr($0, RSTART + 22, RLENGTH - 22) + 0
		# awk has no bitwise and: test the allowed bits away.
		rest = t
		if (int(rest / 8192) % 2) rest -= 8192
		if (int(rest / 4096) % 2) rest -= 4096
		if (rest != 0) hit = 1
	}
	if (hit && expected != "" && $0 ~ expected)
		hit = 0
	if (hit) {
		bad++
		if (loaded) late++
		if (bad <= 40) printf "  console.log:%d: %s\n", NR, $0
	}
}
END {
	if (bad > 40) printf "  ... %d more\n", bad - 40
	if (!bad) exit 0
	exit late ? 1 : 3
}'
