# SPDX-License-Identifier: MIT
# Sourced by tests/host/run.sh: how kshm installs.  make install's layout;
# the Debian packages (make deb) unpacked with dpkg -x into a throwaway root,
# every file where Debian puts it; a program built against them with nothing
# but pkg-config; lintian; dkms build of the packaged module source against
# the pinned 6.1 headers; and that module, loaded in a 6.1 guest, driven by
# the packaged kshmctl and libkshm.so.1.  Nothing is installed on the host.

pk=$(mktemp -d /tmp/kshm-pkg.XXXXXX)
pk_t0=$(date +%s)
pk_ver=$(cd "$top" && dpkg-parsechangelog -SVersion)
pk_ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# Sorted file lists (symlinks included, directories not), compared whole.
pk_same() { # name want got
	[ "$2" = "$3" ] || { diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") |
		sed -n 's/^</missing:/p; s/^>/unexpected:/p'; return 1; }
}
pk_man() { # section-glob prefix: the man pages of man/ as installed
	local m
	for m in "$top"/man/*.$1; do
		[ -e "$m" ] && echo "$2/man${m##*.}/${m##*/}${3:-}"
	done
}

# A consumer of libkshm: pkg-config's flags only, sysroot at $1.
cat > "$pk/consumer.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <kshm.h>

int main(void)
{
	struct kshm_info info;
	int fd, rc;

	setenv("KSHM_DEVICE", "/nonexistent/kshm", 1);
	fd = kshm_open(NULL);
	rc = kshm_get_info(-1, &info);
	printf("kshm_open: %d, kshm_get_info(-1): %d, ABI %d\n", fd, rc, KSHM_ABI_VERSION);
	return !(fd == -ENOENT && rc == -EBADF);
}
EOF
pk_consumer() { # sysroot libdir name: build and run it, shared and static
	local pc flags ldd_out
	pc=(env PKG_CONFIG_SYSROOT_DIR="$1" PKG_CONFIG_LIBDIR="$1$2/pkgconfig" pkg-config)
	flags=$("${pc[@]}" --cflags --libs libkshm) || return 1
	echo "pkg-config: $flags"
	# shellcheck disable=SC2086
	cc -Wall -Wextra -Werror -o "$pk/$3" "$pk/consumer.c" $flags || return 1
	ldd_out=$(LD_LIBRARY_PATH="$1$2" ldd "$pk/$3")
	printf '%s\n' "$ldd_out" | grep -q "libkshm.so.1 => $1$2/libkshm.so.1 " ||
		{ echo "libkshm.so.1 is not the one in $1$2:"; printf '%s\n' "$ldd_out"; return 1; }
	LD_LIBRARY_PATH="$1$2" "$pk/$3" || return 1
	flags=$("${pc[@]}" --static --cflags --libs libkshm) || return 1
	# shellcheck disable=SC2086
	cc -Wall -Wextra -Werror -static -o "$pk/$3-static" "$pk/consumer.c" $flags &&
		"$pk/$3-static"
}

# --- make install, as the README describes it ----------------------------------
msg=$(make -s -C "$top" install DESTDIR="$pk/inst" PREFIX=/usr/local 2>&1) &&
want=$({ printf '%s\n' /usr/local/bin/kshmctl /usr/local/include/kshm.h \
		/usr/local/include/linux/kshm.h /usr/local/include/linux/kshm_ring.h \
		/usr/local/lib/libkshm.a /usr/local/lib/libkshm.so /usr/local/lib/libkshm.so.1 \
		/usr/local/lib/pkgconfig/libkshm.pc
	pk_man '[138]' /usr/local/share/man; } | sort) &&
got=$(cd "$pk/inst" && find . ! -type d | sed 's|^\.||' | sort) &&
msg=$(pk_same "make install" "$want" "$got") &&
[ "$(readlink "$pk/inst/usr/local/lib/libkshm.so")" = libkshm.so.1 ] &&
msg=$(readelf -d "$pk/inst/usr/local/bin/kshmctl") &&
printf '%s\n' "$msg" | grep -q 'NEEDED.*\[libkshm.so.1\]'
result $? "make install DESTDIR= PREFIX=/usr/local lays out what the README says" "$msg"
msg=$(pk_consumer "$pk/inst" /usr/local/lib inst-consumer 2>&1)
result $? "a program built with pkg-config against make install's tree runs" "$msg"

# --- the packages -----------------------------------------------------------------
msg=$(make -s -C "$top" B="$pk/b" deb 2>&1)
result $? "make deb builds the packages" "$(printf '%s\n' "$msg" | tail -n 30)"
debs=$pk/b/deb
pk_doc() { echo "/usr/share/doc/$1/changelog.gz"; echo "/usr/share/doc/$1/copyright"; }
pk_want() { # package: the files it must hold, no more
	local s=/usr/src/kshm-$pk_ver l=/usr/lib/$pk_ma
	pk_doc "$1"
	case "$1" in
	kshm-dkms)
		echo "$s/dkms.conf"
		(cd "$top" && ls kmod/Kbuild kmod/Makefile kmod/*.c kmod/*.h include/linux/*.h \
			include/uapi/linux/*.h) | grep -vx kmod/plant.c | sed "s|^|$s/|" ;;
	libkshm1) echo "$l/libkshm.so.1" ;;
	libkshm-dev)
		printf '%s\n' /usr/include/kshm.h /usr/include/linux/kshm.h \
			/usr/include/linux/kshm_ring.h "$l/libkshm.a" "$l/libkshm.so" \
			"$l/pkgconfig/libkshm.pc"
		pk_man 3 /usr/share/man .gz ;;
	kshm-tools)
		echo /usr/bin/kshmctl; echo /usr/lib/udev/rules.d/99-kshm.rules
		pk_man '[18]' /usr/share/man .gz ;;
	esac
}
root=$pk/root
mkdir -p "$root"
for p in kshm-dkms libkshm1 libkshm-dev kshm-tools; do
	deb=$(ls "$debs/${p}_${pk_ver}_"*.deb 2>/dev/null)
	if [ ! -f "$deb" ]; then
		result 1 "package $p holds what Debian policy puts in it" "no $p .deb in $debs"
		continue
	fi
	got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort)
	msg=$(pk_same "$p" "$(pk_want "$p" | sort)" "$got")
	result $? "package $p holds what Debian policy puts in it" "$msg"
	dpkg -x "$deb" "$root"
	mkdir -p "$pk/ctl/$p" && dpkg-deb -e "$deb" "$pk/ctl/$p"
done
pk_dep() { dpkg-deb -f "$debs/${1}_${pk_ver}_"*.deb "${2:-Depends}" 2>/dev/null; }

l=$root/usr/lib/$pk_ma
msg=$(readelf -d "$l/libkshm.so.1" 2>&1) &&
printf '%s\n' "$msg" | grep -q 'SONAME.*\[libkshm.so.1\]' &&
[ "$(readlink "$l/libkshm.so")" = libkshm.so.1 ] &&
[ "$(pk_dep libkshm1 Multi-Arch)" = same ] &&
pk_dep libkshm-dev | grep -q "libkshm1 (= $pk_ver)" &&
pk_dep kshm-tools | grep -q 'libkshm1 (>= ' &&
readelf -d "$root/usr/bin/kshmctl" | grep -q 'NEEDED.*\[libkshm.so.1\]'
result $? "libkshm1 has its soname, libkshm-dev's .so and the packages' dependencies point to it" "$msg"
msg=$(cat "$l/pkgconfig/libkshm.pc" 2>&1) &&
printf '%s\n' "$msg" | grep -qx "libdir=/usr/lib/$pk_ma" &&
printf '%s\n' "$msg" | grep -qx 'includedir=/usr/include' &&
printf '%s\n' "$msg" | grep -qx "Version: $pk_ver"
result $? "libkshm.pc names the multiarch libdir, /usr/include and the version" "$msg"
msg=$(pk_consumer "$root" "/usr/lib/$pk_ma" deb-consumer 2>&1)
result $? "a program built with only pkg-config against libkshm-dev and libkshm1 runs" "$msg"

# kshm-dkms: DKMS's configuration, rebuilt for new kernels.
conf=$root/usr/src/kshm-$pk_ver/dkms.conf
grep -qx "PACKAGE_VERSION=\"$pk_ver\"" "$conf" && grep -qx 'AUTOINSTALL="yes"' "$conf" &&
pk_dep kshm-dkms | grep -q dkms &&
grep -qx 'DKMS_NAME=kshm' "$pk/ctl/kshm-dkms/postinst" &&
grep -qx "DKMS_VERSION=$pk_ver" "$pk/ctl/kshm-dkms/postinst" &&
grep -q '/usr/lib/dkms/common.postinst' "$pk/ctl/kshm-dkms/postinst"
result $? "kshm-dkms: dkms.conf of version $pk_ver, AUTOINSTALL, dkms adds it on install" \
	"$(cat "$conf" "$pk/ctl/kshm-dkms/postinst" 2>&1)"

# kshm-tools: the udev rule and the group its postinst makes (stubs record
# what it would run).
cmp -s "$root/usr/lib/udev/rules.d/99-kshm.rules" "$top/packaging/99-kshm.rules" &&
grep -q '^KERNEL=="kshm", SUBSYSTEM=="misc", GROUP="kshm", MODE="0660"$' \
	"$root/usr/lib/udev/rules.d/99-kshm.rules"
result $? "kshm-tools installs the udev rule giving /dev/kshm to group kshm, mode 0660"
mkdir -p "$pk/stub"
for c in addgroup udevadm; do
	printf '#!/bin/sh\necho "%s $*" >> "%s/ran"\n' "$c" "$pk" > "$pk/stub/$c"
done
printf '#!/bin/sh\n[ -n "$KSHM_STUB_GROUP" ]\n' > "$pk/stub/getent"
chmod +x "$pk/stub/"*
: > "$pk/ran"
PATH=$pk/stub:$PATH sh -e "$pk/ctl/kshm-tools/postinst" configure >/dev/null 2>&1 &&
ran_new=$(cat "$pk/ran") && : > "$pk/ran" &&
KSHM_STUB_GROUP=1 PATH=$pk/stub:$PATH sh -e "$pk/ctl/kshm-tools/postinst" configure \
	>/dev/null 2>&1 && ran_again=$(cat "$pk/ran") &&
[ "$ran_new" = "addgroup --system --quiet kshm" ] && [ -z "$ran_again" ]
result $? "kshm-tools' postinst adds the system group kshm once" \
	"first configure ran: ${ran_new:-nothing}; with the group there: ${ran_again:-nothing}"

# lintian: no errors; its warnings are printed.
lintian --fail-on error "$debs/kshm_${pk_ver}_"*.changes > "$pk/lintian" 2>&1
rc=$?
msg=$(grep -v 'root privileges' "$pk/lintian")
[ -z "$msg" ] || printf '%s\n' "$msg" | sed 's/^/[host]   lintian: /'
result "$rc" "lintian finds no error in the source and binary packages" "$msg"

# --- DKMS builds the packaged source; a 6.1 guest loads that module ---------------
kdir=$("$top/vm/fetch-kernel.sh" 6.1) && rel=$(cat "$kdir/release")
mkdir -p "$pk/dkms"
dkms_before=$(find /var/lib/dkms 2>/dev/null)
msg=$(dkms build -m kshm -v "$pk_ver" -k "$rel" --kernelsourcedir "$kdir/kdir" \
	--dkmstree "$pk/dkms" --sourcetree "$root/usr/src" 2>&1)
rc=$?
ko=$pk/dkms/kshm/$pk_ver/$rel/$(uname -m)/module/kshm.ko
mlog=$(dirname "$ko")/../log/make.log
[ $rc = 0 ] && [ -f "$ko" ] && modinfo -F vermagic "$ko" | grep -q "^$rel " &&
! grep -qEi 'warning|error' "$mlog" && [ "$(find /var/lib/dkms 2>/dev/null)" = "$dkms_before" ]
result $? "dkms build of kshm-dkms's source against the pinned $rel headers, warning-free" \
	"$msg$(cat "$mlog" 2>/dev/null)"

# The guest gets libkshm1 and kshm-tools unpacked, with the loader and
# libraries kshmctl needs from the host, and no other kshmctl.
groot=$pk/groot
mkdir -p "$groot" "$pk/gtests"
for p in libkshm1 kshm-tools; do dpkg -x "$debs/${p}_${pk_ver}_"*.deb "$groot"; done
gl=/usr/lib/$pk_ma
ldd_out=$(LD_LIBRARY_PATH=$groot$gl ldd "$groot/usr/bin/kshmctl" 2>&1)
for f in $(printf '%s\n' "$ldd_out" | grep -v "$groot" | grep -o '/[^ ]*'); do
	mkdir -p "$groot$(dirname "$f")" && cp -L "$f" "$groot$f"
done
install -m 0755 "$top/tests/guest/kshmctl.sh" "$pk/gtests/kshmctl"
cat > "$pk/gtests/packaged" <<EOF
#!/bin/sh
# kshmctl is the packaged one, on the packaged libkshm.so.1.
n=0
check() { n=\$((n + 1)); if "\$@"; then echo "ok \$n - \$name"; else echo "not ok \$n - \$name"; fi; }
name=kshmctl_is_usr_bin_kshmctl check [ "\$(command -v kshmctl)" = /usr/bin/kshmctl ]
out=\$(LD_DEBUG=libs kshmctl info 2>&1); rc=\$?
name=kshmctl_info_succeeds check [ \$rc = 0 ]
name=libkshm_from_libkshm1 check eval 'printf "%s\n" "\$out" | grep -q "calling init: $gl/libkshm.so.1"'
echo "1..\$n"
EOF
chmod +x "$pk/gtests/packaged"
printf 'kshmctl\npackaged\n' > "$pk/manifest"
if [ -f "$ko" ] && printf '%s\n' "$ldd_out" | grep -q "libkshm.so.1 => $groot$gl/libkshm.so.1"; then
	msg=$("$top/vm/run.sh" --kernel 6.1 --ko "$ko" --root "$groot" --tests "$pk/gtests" \
		--manifest "$pk/manifest" --out "$pk/vm" suite 2>&1)
	rc=$?
	[ $rc = 0 ] && read -r gp gf _ < "$pk/vm/counts" && [ "$gf" = 0 ] && [ "$gp" -gt 3 ]
	result $? "the DKMS-built module in a $rel guest, driven by kshm-tools' kshmctl (${gp:-0} checks)" \
		"$(printf '%s\n' "$msg" | grep -v '\] ok ')"
else
	result 1 "the DKMS-built module in a $rel guest, driven by kshm-tools' kshmctl" \
		"no module built, or kshmctl does not find the packaged libkshm.so.1: $ldd_out"
fi

echo "[host] (packaging tests: $(( $(date +%s) - pk_t0 )) s)"
[ -n "${KSHM_KEEP_PKG:-}" ] || rm -rf "$pk"
