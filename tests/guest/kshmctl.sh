#!/bin/sh
# SPDX-License-Identifier: MIT
# kshmctl against the real module: demo, info, region steps, error sentences,
# --help, --json and the exit status of each class (0 ok, 1 failed, 2 usage).
n=0 failed=0
check() { # name command...: ok when the command succeeds
	name=$1; shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name"; failed=1
	fi
}
has() { printf '%s\n' "$out" | grep -q -- "$1"; }

out=$(kshmctl demo 2>&1); rc=$?
check kshmctl_demo_succeeds [ $rc = 0 ]
check kshmctl_demo_prints_10_to_1 sh -c '
	i=0; for v in 10 9 8 7 6 5 4 3 2 1; do
		printf "%s\n" "$1" | grep -q "cell\[$i\] = $v\$" || exit 1; i=$((i + 1))
	done' - "$out"
check kshmctl_demo_kernel_reads_app_write has 'the kernel read 0xbeef'

out=$(kshmctl info 2>&1)
check kshmctl_info_abi has '^abi version: *2 '
check kshmctl_info_limits has '^max region size: *268435456 bytes'

out=$(kshmctl region create 64K wc node=1 , fill 1 2 0 10 10 -1 , map 1 , \
	dump 1 0 32 , create 8192 ro , list , destroy 1 , list 2>&1); rc=$?
check kshmctl_region_script_succeeds [ $rc = 0 ]
check kshmctl_region_create_reports has '^region 1: 65536 bytes, cache wc, node 1, mmap offset 0x100000000$'
check kshmctl_region_dump_through_mapping has '^00000000  0a 00 09 00 08 00 07 00  06 00 05 00 04 00 03 00  |................|$'
check kshmctl_region_list_shows_both has '^2      8192         wb    any   read       0$'
check kshmctl_region_list_mapping_count has '^1      65536        wc    1     read-write 1$'
check kshmctl_region_destroy_reports has '^region 1 destroyed'

out=$(kshmctl region create 4096 , dump 1 4000 16 2>&1)
check kshmctl_region_dump_by_kernel has '^region 1, read by the kernel'

out=$(kshmctl region destroy 7 2>&1); rc=$?
check kshmctl_region_unknown_id_one_sentence eval '[ $rc = 1 ] &&
	[ "$(printf "%s\n" "$out" | wc -l)" = 1 ] &&
	has "cannot destroy the region: No such file or directory\.\$"'
out=$(kshmctl region create 1G 2>&1); rc=$?
check kshmctl_region_too_large_names_limit eval '[ $rc = 1 ] && has max_region_size'
out=$(kshmctl region create 4096 node=9 2>&1); rc=$?
check kshmctl_region_bad_node_einval eval '[ $rc = 1 ] && has "Invalid argument"'
out=$(kshmctl region frobnicate 2>&1); rc=$?
check kshmctl_region_unknown_step_usage eval '[ $rc = 2 ] && has "frobnicate. is not a region step"'
out=$(kshmctl region create , , list 2>&1); rc=$?
check kshmctl_region_bad_script_usage [ $rc = 2 ]
out=$(kshmctl buf register 8K , fill 1 4 0 4 100 , dump 1 0 16 , checksum 1 , unregister 1 2>&1); rc=$?
check kshmctl_buf_script_succeeds [ $rc = 0 ]
check kshmctl_buf_register_reports has '^buffer 1: 8192 bytes at 0x[0-9a-f]*, pinned for the kernel to read and write$'
check kshmctl_buf_kernel_fill_shown has '^00000000  64 00 00 00 65 00 00 00  66 00 00 00 67 00 00 00  |d...e...f...g...|$'
check kshmctl_buf_checksum_by_kernel has '^buffer 1: FNV-1a 64 read by a kernel worker: 0x'
check kshmctl_buf_release_confirmed has '^buffer 1 released: the kernel no longer holds it$'

printf 'hello' > /tmp/kshmctl-file
truncate -s 4096 /tmp/kshmctl-file
out=$(kshmctl buf register file=/tmp/kshmctl-file , fill 1 1 5 1 33 , dump 1 0 16 2>&1); rc=$?
check kshmctl_buf_file_registered [ $rc = 0 ]
check kshmctl_buf_file_shown has '^00000000  68 65 6c 6c 6f 21 00 00'
check kshmctl_buf_file_written_through eval '[ "$(head -c 6 /tmp/kshmctl-file)" = "hello!" ]'
out=$(kshmctl buf register 4K read , fill 1 1 0 1 0 2>&1); rc=$?
check kshmctl_buf_fill_read_only_explained eval '[ $rc = 1 ] && has "registered without that kernel access"'
out=$(kshmctl buf unregister 3 2>&1); rc=$?
check kshmctl_buf_unknown_id_one_sentence eval '[ $rc = 1 ] && has "buffer 3 was not registered in this run"'

out=$(kshmctl ring watch seconds=2 len=32 period=200 2>&1); rc=$?
check kshmctl_ring_watch_succeeds [ $rc = 0 ]
check kshmctl_ring_watch_prints_each_second has '^  1\.[0-9] s  *[1-9][0-9]* records  *[0-9]*/s  *0 dropped'
check kshmctl_ring_watch_all_in_order has '^total: [1-9][0-9]* records received, 0 dropped, 0 out of order'
out=$(kshmctl ring watch size=3000 2>&1); rc=$?
check kshmctl_ring_watch_bad_size_one_sentence eval '[ $rc = 1 ] &&
	[ "$(printf "%s\n" "$out" | wc -l)" = 1 ] && has "power of two"'
out=$(kshmctl ring watch frob=1 2>&1); rc=$?
check kshmctl_ring_watch_unknown_option_usage eval '[ $rc = 2 ] && has "frob=1. is not a ring watch option"'
out=$(kshmctl ring echo 200 len=100 2>&1); rc=$?
check kshmctl_ring_echo_reports eval '[ $rc = 0 ] &&
	has "^200 echo round trips of 100 bytes: p50 [0-9]* us, p99 [0-9]* us, max [0-9]* us$"'

# --help: usage on standard output, nothing on standard error, status 0.
usage_shown() { # name args...
	name=$1; shift
	out=$(kshmctl "$@" 2>/tmp/kshmctl-err); rc=$?
	check "$name" eval '[ $rc = 0 ] && [ ! -s /tmp/kshmctl-err ] &&
		has "^usage: kshmctl SUBCOMMAND" && has "^  ring watch|echo" &&
		has "^Exit status: 0 ok; 1 .*; 2 usage error\.$"'
}
usage_shown kshmctl_dash_dash_help_prints_usage --help
usage_shown kshmctl_dash_h_prints_usage -h
usage_shown kshmctl_help_prints_usage help
for sub in info demo region buf ring; do
	out=$(kshmctl $sub --help 2>/tmp/kshmctl-err); rc=$?
	check kshmctl_${sub}_help eval '[ $rc = 0 ] && [ ! -s /tmp/kshmctl-err ] &&
		has "^usage: kshmctl $sub" && has "^Exit status: 0 ok, 1 " && has "^Example"'
	help=$(kshmctl help $sub 2>&1); rc=$?
	check kshmctl_help_${sub}_same_text eval '[ $rc = 0 ] && [ "$help" = "$out" ]'
done
out=$(kshmctl region create 4K , list --help 2>&1); rc=$?
check kshmctl_help_anywhere_runs_nothing eval '[ $rc = 0 ] && has "^usage: kshmctl region" &&
	! has "^region 1"'
out=$(kshmctl region create 4K , dump 1 0 -1 2>/dev/null); rc=$?
check kshmctl_minus_one_is_not_help eval '[ $rc = 2 ] && ! has usage'

# Usage errors: exactly 2, one sentence naming the cause and where help is,
# nothing on standard output.
usage_case() { # name expected-text hint-subcommand args...
	name=$1 want=$2 sub=$3; shift 3
	out=$(kshmctl "$@" 2>/tmp/kshmctl-err); rc=$?
	err=$(cat /tmp/kshmctl-err)
	check "kshmctl_usage_$name" eval '[ $rc = 2 ] && [ -z "$out" ] &&
		[ "$(printf "%s\n" "$err" | wc -l)" = 1 ] &&
		printf "%s\n" "$err" | grep -q -- "^kshmctl: $want.* (see kshmctl $sub--help)\.\$"'
}
usage_case no_subcommand 'a subcommand is needed' ''
usage_case unknown_subcommand "'bogus' is not a kshmctl subcommand" '' bogus
usage_case unknown_option "'-x' is not an option" '' -x
usage_case help_unknown "'bogus' is not a kshmctl subcommand" '' help bogus
usage_case info_argument "info takes only --json, not 'extra'" 'info ' info extra
usage_case demo_argument 'demo takes no argument' 'demo ' demo now
usage_case json_on_region 'region has no --json output' 'region ' region list --json
usage_case region_no_step 'region needs a step' 'region ' region
usage_case region_unknown_step "'frob' is not a region step" 'region ' region frob
usage_case buf_bad_access "'rwx' is not read, write or rw" 'buf ' buf register 4K rwx
usage_case ring_no_mode "ring takes 'watch' or 'echo'" 'ring ' ring

# --json on info: one object on one line, flat, keys in snake case, values
# strings without escapes or unsigned numbers; the same values as the text.
out=$(kshmctl info --json 2>/tmp/kshmctl-err); rc=$?
echo "# info --json: $out"
check kshmctl_info_json_succeeds eval '[ $rc = 0 ] && [ ! -s /tmp/kshmctl-err ]'
check kshmctl_info_json_one_line [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]
check kshmctl_info_json_is_a_flat_object sh -c 'printf "%s\n" "$1" | grep -Eq \
	"^\{\"[a-z_]+\": (\"[^\"\\\\]*\"|[0-9]+)(, \"[a-z_]+\": (\"[^\"\\\\]*\"|[0-9]+))*\}\$"' - "$out"
check kshmctl_info_json_values eval 'has "^{\"device\": \"/dev/kshm\", \"abi_version\": 2, " &&
	has "\"max_region_size\": 268435456, " && has "\"pages_leaked\": 0}\$"'
nkeys=$(printf '%s\n' "$out" | grep -o '"[a-z_]*":' | sort -u | wc -l)
check kshmctl_info_json_13_distinct_keys [ "$nkeys" = 13 ]
ln -sf /dev/kshm '/tmp/k"s\hm'
out=$(KSHM_DEVICE='/tmp/k"s\hm' kshmctl info --json 2>&1)
check kshmctl_info_json_escapes_the_path has '^{"device": "/tmp/k\\"s\\\\hm", "abi_version"'
out=$(KSHM_DEVICE=/nonexistent/kshm kshmctl info --json 2>/tmp/kshmctl-err); rc=$?
check kshmctl_info_json_failure_status_1 eval '[ $rc = 1 ] && [ -z "$out" ] &&
	[ "$(wc -l < /tmp/kshmctl-err)" = 1 ] &&
	grep -q "^kshmctl: cannot open /nonexistent/kshm: No such file" /tmp/kshmctl-err'

# Without CAP_IPC_LOCK the memlock limit applies, and kshmctl says which.
mkdir -p /etc
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' > /etc/passwd
chmod 0666 /dev/kshm
out=$(su -s /bin/sh nobody -c 'ulimit -l 64; kshmctl buf register 1M' 2>&1); rc=$?
chmod 0600 /dev/kshm
check kshmctl_buf_memlock_names_the_limit eval '[ $rc = 1 ] &&
	has "exceed RLIMIT_MEMLOCK (64 KiB).*ulimit -l.*CAP_IPC_LOCK"'
echo "1..$n"
exit $failed
