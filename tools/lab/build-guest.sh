#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Build the lab guest used by the agent's functional tests: the host's
# Debian kernel plus a ~1 MB busybox initramfs carrying the virtio balloon
# and block drivers and tools/lab/guest-init. It boots under QEMU TCG in a
# few seconds and needs no disk image.
#
# Output: $NOVA_DRS_LAB_DIR/guest/{vmlinuz,initrd.gz} (default
# /var/tmp/nova-drs-lab). Idempotent: does nothing when both are newer than
# guest-init and this script. Installs linux-image-amd64, busybox-static,
# cpio and kmod when they are missing.

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

lab_apt_install busybox-static cpio kmod gzip xz-utils
KVER=${KVER:-$(newest_kernel)}
if [ -z "$KVER" ]; then
    lab_apt_install linux-image-amd64
    KVER=$(newest_kernel)
fi
[ -n "$KVER" ] || lab_die "no kernel with modules found in /boot"
[ -r "/boot/vmlinuz-$KVER" ] || lab_die "cannot read /boot/vmlinuz-$KVER"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
done < <(modprobe -a --show-depends -S "$KVER" "${MODULES[@]}")
# built-in drivers need no module
install -m 0755 "$LAB_TOOLS/guest-init" "$root/init"

mkdir -p "$OUT"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) \
    > "$work/initrd.gz"
cp "/boot/vmlinuz-$KVER" "$work/vmlinuz"
mv "$work/initrd.gz" "$OUT/initrd.gz"
mv "$work/vmlinuz" "$OUT/vmlinuz"
chmod 0644 "$OUT/initrd.gz" "$OUT/vmlinuz"
chmod 0755 "$LAB_DIR" "$OUT"
lab_note "built $OUT (kernel $KVER, modules: $(tr '\n' ' ' \
    < "$root/lib/modules/order"))"
