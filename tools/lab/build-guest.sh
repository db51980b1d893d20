#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Build the lab guest used by the agent's functional tests: a Debian
# kernel plus a ~1 MB busybox initramfs carrying the virtio balloon and
# block drivers and tools/lab/guest-init. It boots under QEMU TCG in a few
# seconds and needs no disk image.
#
# The kernel is the host's when one is installed in /boot with its modules;
# otherwise (a container, a cloud image booted another way) Debian's
# current linux-image-amd64 kernel package is downloaded and unpacked in a
# scratch directory, not installed: nothing lands in /boot, no initramfs
# is built and the host's boot loader is left alone.
#
# Output: $NOVA_DRS_LAB_DIR/guest/{vmlinuz,initrd.gz} (default
# /var/tmp/nova-drs-lab). Idempotent: does nothing when both are newer than
# guest-init and this script. Installs busybox-static, cpio and kmod when
# they are missing.

set -euo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$LAB_DIR/guest
MODULES=(virtio_pci virtio_balloon virtio_blk)

newest_kernel() {
    local v
    for v in $(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' \
            2>/dev/null | sort -V -r); do
        if [ -f "/boot/vmlinuz-$v" ]; then
            echo "$v"
            return
        fi
    done
}

if [ -f "$OUT/initrd.gz" ] && [ -f "$OUT/vmlinuz" ] \
        && [ "$OUT/initrd.gz" -nt "$LAB_TOOLS/guest-init" ] \
        && [ "$OUT/initrd.gz" -nt "$LAB_TOOLS/build-guest.sh" ]; then
    lab_note "guest is up to date in $OUT"
    exit 0
fi

# unpack_kernel DIR: unpack the kernel package linux-image-amd64 depends
# on into DIR (boot/vmlinuz-*, lib/modules/*) without installing it; print
# its version
unpack_kernel() {
    local dir=$1 pkg deb
    pkg=$(apt-cache depends --important linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        # the package lists may be missing on a fresh machine
        lab_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
            || lab_die "apt-get update failed"
        pkg=$(apt-cache depends --important linux-image-amd64 \
            | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ \
                { print $2; exit }')
    fi
    [ -n "$pkg" ] || lab_die "no Debian kernel package (linux-image-amd64)"
    lab_note "no kernel installed: unpacking $pkg (not installing it)" >&2
    # apt downloads as its own user (_apt) when run as root
    mkdir -p "$dir/deb"
    chmod 0755 "$dir"
    chown _apt "$dir/deb" 2>/dev/null || true
    (cd "$dir/deb" && apt-get download -q "$pkg" >&2) \
        || lab_die "apt-get download $pkg failed"
    deb=$(find "$dir/deb" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
    dpkg-deb -x "$deb" "$dir/kernel" || lab_die "cannot unpack $deb"
    rm -f "$deb"
    # the package's postinst would have made modules.dep: modprobe needs it
    depmod -b "$dir/kernel" "${pkg#linux-image-}" \
        || lab_die "depmod failed for the unpacked $pkg"
    echo "${pkg#linux-image-}"
}

lab_apt_install busybox-static cpio kmod gzip xz-utils

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# KROOT: where boot/ and lib/modules/ of the kernel are
KROOT=/
KVER=${KVER:-$(newest_kernel)}
if [ -z "$KVER" ]; then
    KVER=$(unpack_kernel "$work")
    KROOT=$work/kernel
fi
[ -n "$KVER" ] || lab_die "no kernel with modules found"
[ -r "$KROOT/boot/vmlinuz-$KVER" ] \
    || lab_die "cannot read $KROOT/boot/vmlinuz-$KVER"

root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
file -b /bin/busybox 2>/dev/null | grep -q 'statically linked' \
    || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' \
    || lab_die "/bin/busybox is not static (install busybox-static)"

# the modules and their dependencies, in load order, without duplicates
: > "$root/lib/modules/order"
while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    name=$(basename "$path")
    name=${name%%.ko*}
    grep -qx "$name" "$root/lib/modules/order" && continue
    case "$path" in
        *.ko.xz) xz -dc "$path" > "$root/lib/modules/$name.ko" ;;
        *.ko.zst) zstd -qdc "$path" > "$root/lib/modules/$name.ko" ;;
        *.ko.gz) gzip -dc "$path" > "$root/lib/modules/$name.ko" ;;
        *) cp "$path" "$root/lib/modules/$name.ko" ;;
    esac
    echo "$name" >> "$root/lib/modules/order"
done < <(modprobe -a --show-depends -d "$KROOT" -S "$KVER" "${MODULES[@]}")
# built-in drivers need no module
install -m 0755 "$LAB_TOOLS/guest-init" "$root/init"

mkdir -p "$OUT"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) \
    > "$work/initrd.gz"
cp "$KROOT/boot/vmlinuz-$KVER" "$work/vmlinuz"
mv "$work/initrd.gz" "$OUT/initrd.gz"
mv "$work/vmlinuz" "$OUT/vmlinuz"
chmod 0644 "$OUT/initrd.gz" "$OUT/vmlinuz"
chmod 0755 "$LAB_DIR" "$OUT"
lab_note "built $OUT (kernel $KVER, modules: $(tr '\n' ' ' \
    < "$root/lib/modules/order"))"
