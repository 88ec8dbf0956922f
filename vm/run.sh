#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot one Debian kernel in QEMU with kshm loaded and run something in it.
#
#   vm/run.sh [options] suite              run every program in --tests (TAP)
#   vm/run.sh [options] cmd 'COMMAND ...'  run one shell command
# options:
#   --kernel 6.1|6.12   which kernel (default 6.1)
#   --ko FILE           the module built for that kernel (required)
#   --bin DIR           programs copied to the guest's /bin (kshmctl)
#   --tests DIR         test programs copied to /tests
#   --extra FILE        copied to /extra/ (repeatable)
#   --root DIR          a tree copied over the guest's / (packages unpacked
#                       with the shared libraries their programs load)
#   --manifest FILE     suite: the programs that must report (one name a line)
#   --out DIR           where logs go (default: a temporary directory)
#   --node-mem SIZE     memory of each of the two NUMA nodes (default 1G)
#   --iommu             a q35 machine with QEMU's VT-d IOMMU, on in the guest;
#                       the edu device then keeps its own 28-bit DMA mask
# KSHM_QEMU replaces qemu-system-x86_64 (the harness's own tests use a fake);
# KSHM_VM_TIMEOUT bounds one boot in seconds (default 900); in a suite each
# test program gets KSHM_TEST_TIMEOUT seconds (default 240).
#
# suite: prints one line per test naming the kernel, appends
# "passed failed skipped todo" to OUT/counts (skips and expected failures,
# each with its reason, to OUT/skips and OUT/todos), exits 1 on any failure.
# It fails closed: a program of the manifest that did not report, one
# without its run bit, one whose TAP plan is missing or differs from the
# results it printed, one that crashed or exited non-zero, all fail.
# cmd: prints the command's output, exits with its status, or 1 if the
# module could not be unloaded or the kernel log shows a problem.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

series=6.1 ko= bindir= testdir= out= manifest= extras=() node_mem=1G iommu= rootdir=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) series=$2; shift 2 ;;
	--ko) ko=$2; shift 2 ;;
	--bin) bindir=$2; shift 2 ;;
	--tests) testdir=$2; shift 2 ;;
	--extra) extras+=("$2"); shift 2 ;;
	--root) rootdir=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--manifest) manifest=$2; shift 2 ;;
	--node-mem) node_mem=$2; shift 2 ;;
	--iommu) iommu=1; shift ;;
	*) break ;;
	esac
done
mode=${1:?mode: suite or cmd}
command=${2:-}
[ -f "$ko" ] || { echo "run: no module at '$ko'" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/kshm-vm.XXXXXX)
mkdir -p "$out"

kdir=$("$here/fetch-kernel.sh" "$series")
release=$(cat "$kdir/release")
tag="[$release]"

# --- the initramfs -----------------------------------------------------------
stage="$out/initramfs"
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/tests" "$stage/extra"
cp /bin/busybox "$stage/bin/busybox"
cp "$here/init.sh" "$stage/init" && chmod +x "$stage/init"
cp "$ko" "$stage/kshm.ko"
# The sample client and the test-only client built beside it
# (vm/build-module.sh), for tests that load them.
[ ! -f "$(dirname "$ko")/kshm_edu.ko" ] || cp "$(dirname "$ko")/kshm_edu.ko" "$stage/kshm_edu.ko"
[ ! -f "$(dirname "$ko")/kshm_misuse.ko" ] || cp "$(dirname "$ko")/kshm_misuse.ko" "$stage/kshm_misuse.ko"
# The guest's own modules (vm/guest-modules; built into the sanitizer
# kernel) and an ext4 image for the loop device.
mkdir -p "$stage/modules"
cp "$kdir/modules/"*.ko "$stage/modules/" 2>/dev/null || true
truncate -s 16M "$stage/ext4.img" && mkfs.ext4 -q -F -b 4096 "$stage/ext4.img"
[ -z "$bindir" ] || cp "$bindir"/* "$stage/bin/"
[ -z "$testdir" ] || cp "$testdir"/* "$stage/tests/"
for f in "${extras[@]+"${extras[@]}"}"; do
	cp "$f" "$stage/extra/"
done
[ -z "$rootdir" ] || cp -a "$rootdir/." "$stage/"
if [ "$mode" = suite ]; then
	cat > "$stage/kshm-run" <<'RUN'
suite_rc=0
for t in /tests/*; do
	name=${t##*/}
	if [ ! -x "$t" ]; then
		echo "KSHM-TEST-NOEXEC $name"
		suite_rc=1
		continue
	fi
	echo "KSHM-TEST-BEGIN $name"
	timeout @TEST_TIMEOUT@ "$t"
	trc=$?
	echo "KSHM-TEST-END $name rc=$trc"
	[ $trc -eq 0 ] || suite_rc=1
done
(exit $suite_rc)
RUN
	sed -i "s/@TEST_TIMEOUT@/${KSHM_TEST_TIMEOUT:-240}/" "$stage/kshm-run"
else
	printf '%s\n' "$command" > "$stage/kshm-run"
fi
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initramfs.cpio.gz"

# --- boot --------------------------------------------------------------------
# QEMU's edu PCI device serves the sample client: without an IOMMU, with 40
# DMA address bits (its 28-bit default reaches only the first 256 MiB) and
# every DMA bounced (swiotlb=force); with --iommu, its own 28 bits.
# Two NUMA nodes of 1 GiB (--node-mem), one single-core socket each (a socket split
# across nodes makes the guest kernel warn), so node placement is real.
if [ -n "$iommu" ]; then
	machine=(-machine q35 -device intel-iommu -device edu)
	append=" intel_iommu=on"
else
	machine=(-device edu,dma_mask=0xffffffffff)
	# Every DMA through a bounce buffer: a driver that reads a block
	# before syncing it for the CPU reads stale data.  No ACPI interrupt
	# routing: the edu device uses MSI, and evaluating the i440fx's _PRT
	# took the sanitizer kernel over 30 s a probe (AE_AML_LOOP_TIMEOUT).
	append=" swiotlb=force acpi=noirq"
fi
boot() {
	rm -f "$out/console.log" "$out/output.log"
	timeout --foreground -k 10 "${KSHM_VM_TIMEOUT:-900}" \
		"${KSHM_QEMU:-qemu-system-x86_64}" -accel tcg,thread=multi -smp 2,sockets=2,cores=1,threads=1 -m "$((2 * ${node_mem%G}))G" \
		-object memory-backend-ram,id=mem0,size="$node_mem" \
		-object memory-backend-ram,id=mem1,size="$node_mem" \
		-numa node,nodeid=0,cpus=0,memdev=mem0 \
		-numa node,nodeid=1,cpus=1,memdev=mem1 \
		"${machine[@]}" \
		-nodefaults -display none -monitor none -no-reboot \
		-kernel "$kdir/vmlinuz" -initrd "$out/initramfs.cpio.gz" \
		-append "console=ttyS0 loglevel=4 log_buf_len=8M panic=-1 mitigations=off$append" \
		-serial "file:$out/console.log" -serial "file:$out/output.log" \
		</dev/null || true
	touch "$out/console.log" "$out/output.log"
	tr -d '\r' < "$out/output.log" > "$out/output.txt"
	sed -n '/^KSHM-DMESG-BEGIN$/,/^KSHM-DMESG-END$/p' "$out/output.txt" > "$out/dmesg.log"
	sed '/^KSHM-DMESG-BEGIN$/,/^KSHM-DMESG-END$/d' "$out/output.txt" > "$out/tests.txt"
}

# Echo the log checker's exit code (0 clean, 1 bad, 3 bad before load).
# The console carries errors and worse as they happen (all there is after a
# crash); the guest's final dmesg dump carries everything else.
judge_log() {
	local rc=0 drc=0
	"$here/check-log.sh" "$out/console.log" > "$out/log-problems.txt" || rc=$?
	if [ -s "$out/dmesg.log" ]; then
		"$here/check-log.sh" "$out/dmesg.log" | sed 's/console\.log:/dmesg.log:/' \
			>> "$out/log-problems.txt" || drc=$?
		[ "$rc" = 1 ] || [ "$drc" = 0 ] || rc=$drc
	fi
	echo "$rc"
}

# A boot that died before the harness announced the module load, with no
# test output at all, is the one case that boots again (Debian's 6.12 under
# multi-threaded TCG rarely oopses in early boot).  Anything else counts.
died_early() {
	! grep -q '^KSHM-GUEST-END' "$out/output.txt" &&
	! grep -q 'kshm-harness: loading module' "$out/console.log" &&
	! grep -qv '^KSHM-GUEST-BEGIN' "$out/output.txt"
}

boot
logrc=$(judge_log)
if died_early; then
	echo "$tag note: the guest died before the harness loaded kshm and ran no test; booting again once. What the first boot showed:"
	if [ -s "$out/log-problems.txt" ]; then
		sed 's/^/  /' "$out/log-problems.txt"
	else
		echo "  no kernel report; the last console lines were:"
		tail -n 10 "$out/console.log" | tr -d '\r' | sed 's/^/    /'
	fi
	cp "$out/console.log" "$out/console-first-boot.log"
	boot
	logrc=$(judge_log)
fi
ended=0; grep -q '^KSHM-GUEST-END' "$out/output.txt" && ended=1

# --- report ------------------------------------------------------------------
pass=0 fail=0 skip=0 todo=0
: > "$out/skips"; : > "$out/todos"
result() { # status name [detail]
	case "$1" in
	ok) pass=$((pass + 1)) ;;
	skip) skip=$((skip + 1)); echo "$tag $2${3:+ # $3}" >> "$out/skips" ;;
	todo) todo=$((todo + 1)); echo "$tag $2${3:+ # $3}" >> "$out/todos" ;;
	*) fail=$((fail + 1)) ;;
	esac
	# A command's own output stands alone: only problems are added to it.
	[ "$mode" = cmd ] && [ "$1" = ok ] && return
	printf '%s %s %s%s\n' "$tag" "$1" "$2" "${3:+ # $3}"
}

# One TAP result line of program $cur: "[not ]ok N - description[ # directive]".
# The directive is what follows the first " # ", SKIP or TODO in any case,
# and must give a reason.  Results are numbered 1, 2, ... in order.  Skips
# of what the guest is built to provide (hugetlb, the second NUMA node),
# named in the description or the reason, are failures; a kernel built
# without a feature (THP on PREEMPT_RT) is a reason the test may give.
tap_line() {
	local line=$1 ok=1 n num desc dir= word reason
	case "$line" in "not ok"*) ok=0 ;; esac
	nres=$((nres + 1))
	n=${line#not ok}; n=${n#ok}; n=${n# }
	num=${n%%[!0-9]*}; n=${n#"$num"}; n=${n# }; n=${n#- }
	desc=$n
	case "$n" in *" # "*) desc=${n%%" # "*}; dir=${n#*" # "} ;; esac
	[ "$num" = "$nres" ] ||
		result "not ok" "$cur: $desc" "numbered '${num}', but it is result $nres"
	word=$(printf '%s' "${dir%% *}" | tr '[:lower:]' '[:upper:]')
	reason=${dir#* }; [ "$reason" != "$dir" ] || reason=
	case "$word:$ok" in
	TODO:0) if [ -n "$reason" ]; then
			result todo "$cur: $desc" "$reason"
		else
			nfail=1; result "not ok" "$cur: $desc" "TODO without the defect it waits for"
		fi ;;
	TODO:1) result "not ok" "$cur: $desc" "passes but is marked TODO ($reason): remove the mark" ;;
	SKIP:1) if [ -z "$reason" ]; then
			result "not ok" "$cur: $desc" "skipped without a reason"
		elif printf '%s %s' "$desc" "$reason" | grep -Eqi 'hugetlb|huge ?page|numa|(^|[^a-z])node'; then
			result "not ok" "$cur: $desc" "skipped, but the guest is built to provide it: $reason"
		else
			result skip "$cur: $desc" "$reason"
		fi ;;
	*:1) result ok "$cur: $desc" ;;
	*) nfail=1; result "not ok" "$cur: $desc" ;;
	esac
}

# The end of program $cur: exit status $1 and its plan against its results.
tap_end() {
	local trc=$1
	if [ "$trc" -ge 128 ]; then
		result "not ok" "$cur" "killed by signal $((trc - 128))"
	elif [ "$trc" = 124 ]; then
		result "not ok" "$cur" "timed out"
	elif [ "$trc" != 0 ] && [ "$nfail" = 0 ]; then
		result "not ok" "$cur" "exited with status $trc"
	fi
	if [ -z "$plan" ]; then
		result "not ok" "$cur" "no TAP plan (1..N) after $nres results"
	elif [ "$plan" = 0 ]; then
		result "not ok" "$cur" "TAP plan 1..0: the program ran no check"
	elif [ "$plan" != "$nres" ]; then
		result "not ok" "$cur" "TAP plan 1..$plan, but $nres results"
	fi
	echo "$cur" >> "$out/reported"
}

if [ "$mode" = suite ]; then
	cur= plan= nres=0 nfail=0
	: > "$out/reported"
	while IFS= read -r line; do
		case "$line" in
		"KSHM-TEST-BEGIN "*)
			[ -z "$cur" ] || result "not ok" "$cur" "never finished"
			cur=${line#KSHM-TEST-BEGIN }; plan= nres=0 nfail=0 ;;
		"KSHM-TEST-END "*) tap_end "${line##*rc=}"; cur= ;;
		"KSHM-TEST-NOEXEC "*) result "not ok" "${line#KSHM-TEST-NOEXEC }" \
			"the test file has no run bit"; echo "${line#KSHM-TEST-NOEXEC }" >> "$out/reported" ;;
		"1.."*|"Bail out!"*|"ok"|"ok "*|"not ok"|"not ok "*)
			if [ -z "$cur" ]; then
				result "not ok" "a TAP line outside any program" "$line"
				continue
			fi
			case "$line" in
			"1.."*) plan=${line#1..}; plan=${plan%% *} ;;
			"Bail out!"*) nfail=1; result "not ok" "$cur" "${line#Bail out! }" ;;
			*) tap_line "$line" ;;
			esac ;;
		"#"*) printf '%s   %s\n' "$tag" "$line" ;;
		esac
	done < "$out/tests.txt"
	[ -z "$cur" ] || result "not ok" "$cur" "never finished (the guest stopped in it)"
	if [ -n "$manifest" ]; then
		while read -r prog; do
			case "$prog" in ''|'#'*) continue ;; esac
			grep -qxF "$prog" "$out/reported" ||
				result "not ok" "$prog" "in the manifest, but it did not report"
		done < "$manifest"
	fi
else
	grep -v '^KSHM-' "$out/tests.txt" || true
fi

if grep -q '^KSHM-MODULE-LOADED' "$out/output.txt"; then
	result ok "module loads"
else
	result "not ok" "module loads" "insmod failed or the guest never got there"
fi
if grep -q '^KSHM-RMMOD rc=0' "$out/output.txt"; then
	result ok "module unloads"
else
	result "not ok" "module unloads" "rmmod failed or never ran"
fi
if [ $ended = 0 ]; then
	result "not ok" "guest ran to the end" "no end marker; last console lines:"
	tail -n 30 "$out/console.log" | tr -d '\r' | sed 's/^/  /'
fi
# The dump must be whole: lockdep and PAT reports are below the console's
# level and live only there.
if [ $ended = 1 ] && ! { grep -q 'kshm-harness: loading module' "$out/dmesg.log" &&
		       grep -q 'kshm-harness: done' "$out/dmesg.log"; }; then
	result "not ok" "kernel log dumped whole" "the guest's dmesg dump lacks the harness's first or last line"
fi
# A kernel with kmemleak must have scanned at the end.
if grep -qx 'CONFIG_DEBUG_KMEMLEAK=y' "$kdir/kdir/.config" 2>/dev/null &&
	! grep -q '^KSHM-KMEMLEAK-SCANNED' "$out/output.txt"; then
	result "not ok" "kmemleak scanned" \
		"$(grep '^KSHM-KMEMLEAK-FAILED' "$out/output.txt" || echo 'no scan marker')"
fi
if [ "$logrc" = 0 ]; then
	result ok "kernel log clean"
else
	result "not ok" "kernel log clean" "offending lines (full log: $out/console.log):"
	cat "$out/log-problems.txt"
fi

echo "$pass $fail $skip $todo" >> "$out/counts"
if [ "$mode" = cmd ] && [ "$fail" = 0 ]; then
	echo "$tag kshm loaded and unloaded cleanly; the kernel log shows no problem"
fi
if [ "$mode" = cmd ]; then
	crc=$(sed -n 's/^KSHM-GUEST-END rc=//p' "$out/output.txt")
	[ "$fail" = 0 ] || exit 1
	exit "${crc:-1}"
fi
[ "$fail" = 0 ]
