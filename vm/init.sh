#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the test guest: load kshm, run what /kshm-run says, unload, report.
# Test output goes to the second serial port; the kernel log to the first.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/tests:/extra
export HOME=/tmp
exec >/dev/ttyS1 2>&1 </dev/null

# At KERN_ERR, so the console shows it at the console loglevel vm/run.sh sets.
kmsg() { echo "<3>kshm-harness: $*" > /dev/kmsg; }

echo "KSHM-GUEST-BEGIN $(uname -r)"
# Kernels built with kmemleak: forget what boot itself left behind, so the
# scan at the end reports only what was lost while kshm was loaded.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	echo clear > /sys/kernel/debug/kmemleak
fi
kmsg "loading module"
if insmod /kshm.ko test_engine=1; then
	echo "KSHM-MODULE-LOADED"
	cd /tmp
	. /kshm-run
	rc=$?
	if rmmod kshm; then
		echo "KSHM-RMMOD rc=0"
	else
		echo "KSHM-RMMOD rc=1"
	fi
else
	echo "KSHM-INSMOD-FAILED"
	rc=1
fi
# Kernels built with kmemleak: scan now so leaks reach the log checker
# (an object counts once it is 5 s old).
if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	while IFS= read -r line; do
		echo "<3>kmemleak: $line" > /dev/kmsg
	done < /sys/kernel/debug/kmemleak
fi
kmsg "tainted=$(cat /proc/sys/kernel/tainted)"
kmsg "done"
# The whole kernel log, warnings included (the console shows only errors and
# worse: a console driver called from hard IRQ trips lockdep on 6.1).
echo "KSHM-DMESG-BEGIN"
dmesg
echo "KSHM-DMESG-END"
echo "KSHM-GUEST-END rc=$rc"
poweroff -f
