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
# The guest's modules, dependencies first (vm/run.sh), then ext4 on a loop
# device at /mnt/ext4 for the tests of regular-file pages.
for m in /modules/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" || echo "KSHM-GUEST-MODULE-FAILED ${m##*/}"
done
mkdir -p /mnt/ext4
losetup /dev/loop0 /ext4.img && mount -t ext4 /dev/loop0 /mnt/ext4 ||
	echo "KSHM-EXT4-FAILED (the tests that need it fail)"
# Kernels built with kmemleak: forget what boot itself left behind, so the
# scan at the end reports only what was lost while kshm was loaded.  An
# object is reported only by a scan that finds its contents unchanged since
# the one before: always two scans.
kmemleak=/sys/kernel/debug/kmemleak
if [ -e $kmemleak ]; then
	echo scan > $kmemleak && echo scan > $kmemleak && echo clear > $kmemleak ||
		echo "KSHM-KMEMLEAK-FAILED before the load"
fi
# On the test port first: from here on a crash is never retried.
echo "KSHM-INSMOD"
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
# (an object counts once it is 5 s old, and on the second scan).  The
# harness requires the marker on such kernels: a kmemleak that switched
# itself off fails the run instead of passing it.
if [ -e $kmemleak ]; then
	sleep 6
	if echo scan > $kmemleak && echo scan > $kmemleak; then
		echo "KSHM-KMEMLEAK-SCANNED"
	else
		echo "KSHM-KMEMLEAK-FAILED at the end"
	fi
	while IFS= read -r line; do
		echo "<3>kmemleak: $line" > /dev/kmsg
	done < $kmemleak
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
