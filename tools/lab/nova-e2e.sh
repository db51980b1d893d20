#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Two real compute hosts for the end-to-end test (tests/functional/e2e),
# added to the running Nova lab (nova-start.sh): compute-a and compute-b,
# each a nova-compute with Nova's libvirt driver ([libvirt] virt_type =
# qemu: TCG, since this machine's /dev/kvm does not boot stock kernels) on
# a libvirtd of its own (libvirtd.sh start NAME INDEX), booting the lab's
# test guest (build-guest.sh) from the Glance stub's kernel, ramdisk and
# disk images (nova_lab_stub.py). See doc/source/nova-lab.rst.
#
#   nova-e2e.sh start    start them from a clean state (about 20 s), and
#                        write $NOVA_DRS_LAB_RUN/nova/e2e/hosts.json
#   nova-e2e.sh stop     delete their servers and compute services from
#                        Nova (when it answers), stop them and their
#                        libvirtd instances
#   nova-e2e.sh status   exit 0 when both are up in Nova
#
# What makes two hosts out of one machine:
#   * each libvirtd has its own hostname (UTS namespace; Nova's node name
#     and Placement's resource provider name), host UUID, and TCP address
#     127.0.0.INDEX for the migrations to it;
#   * each nova-compute runs in its libvirtd's mount namespace, where
#     instances_path is that host's own directory: local disks, so Nova
#     live-migrates with block migration, as between hosts without shared
#     storage;
#   * each host's guests run on a CPU of their own ([compute]
#     cpu_shared_set; Nova rewrites the guest's CPU set when it migrates
#     it), which that host's nova-drs agent measures ([drs_agent] cpu_set).

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

E2E_RUN=$NOVA_RUN/e2e
E2E_HOSTS=(compute-a compute-b)
HOSTS_CSV=compute-a,compute-b

# host_index NAME: its libvirtd.sh INDEX (127.0.0.INDEX), host_cpu NAME:
# the CPU its guests run on
host_index() { case "$1" in compute-a) echo 2 ;; *) echo 3 ;; esac; }
host_cpu() { case "$1" in compute-a) echo 0 ;; *) echo 1 ;; esac; }

compute_conf() {
    local name=$1 index cpu conf
    index=$(host_index "$name")
    cpu=$(host_cpu "$name")
    conf=$E2E_RUN/$name.conf
    cat > "$conf" <<EOF
[DEFAULT]
host = $name
compute_driver = libvirt.LibvirtDriver
state_path = $E2E_RUN/$name
# the same path on every host; in this nova-compute's mount namespace it is
# $LAB_DIR/libvirtd-$name/instances
instances_path = $LAB_DIR/instances
my_ip = 127.0.0.$index
use_cow_images = false
force_raw_images = true

[compute]
cpu_shared_set = $cpu

[libvirt]
virt_type = qemu
connection_uri = $("$LAB_TOOLS/libvirtd.sh" uri "$name")
live_migration_scheme = tcp
live_migration_inbound_addr = 127.0.0.$index
images_type = flat
cpu_mode = none
# balloon statistics every second, for the nova-drs agent
mem_stats_period_seconds = 1

# two serial ports on TCP: ttyS0 is the console (and console.log), the
# test guest reads its commands from ttyS1
[serial_console]
enabled = true
proxyclient_address = 127.0.0.$index
port_range = 10000:10099

[workarounds]
# as root, without sudo: privsep runs its helper directly (below)
disable_rootwrap = true
# the guest's kernel (a bzImage, AMI-style "aki" image) carries a boot
# sector signature, which Nova's image format inspector takes for an
# unsafe MBR disk when the destination of a migration fetches it again
disable_deep_image_inspection = true

[nova_sys_admin]
helper_command = $NOVA_VENV/bin/privsep-helper --config-file $NOVA_ETC/nova.conf --config-file $conf

[privsep_osbrick]
helper_command = $NOVA_VENV/bin/privsep-helper --config-file $NOVA_ETC/nova.conf --config-file $conf
EOF
}

hosts_json() {
    local name first=1
    printf '{"hosts": ['
    for name in "${E2E_HOSTS[@]}"; do
        [ "$first" = 1 ] || printf ', '
        first=0
        printf '{"name": "%s", "uri": "%s", "address": "127.0.0.%s", ' \
            "$name" "$("$LAB_TOOLS/libvirtd.sh" uri "$name")" \
            "$(host_index "$name")"
        printf '"cpu_set": "%s", "instances": "%s"}' "$(host_cpu "$name")" \
            "$LAB_DIR/libvirtd-$name/instances"
    done
    printf ']}\n'
}

# destroy_guests NAME: remove every domain of host NAME's libvirtd
destroy_guests() {
    local uri dom
    "$LAB_TOOLS/libvirtd.sh" status "$1" || return 0
    uri=$("$LAB_TOOLS/libvirtd.sh" uri "$1")
    for dom in $(virsh -q -c "$uri" list --all --name); do
        virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
        virsh -q -c "$uri" undefine "$dom" >/dev/null 2>&1 || true
    done
}

stop_computes() {
    local name pid
    for name in "${E2E_HOSTS[@]}"; do
        if pid=$(service_pid "e2e-$name"); then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$NOVA_RUN/pids/e2e-$name.pid"
    done
}

stop() {
    [ "$(id -u)" -eq 0 ] || exec sudo -E "$0" stop
    # the computes first: a running one would record its node again right
    # after Nova deleted it with its service (the next start then finds
    # two nodes of one name)
    stop_computes
    if tcp_answers "$NOVA_LAB_HOST" "$NOVA_API_PORT" \
            && [ -x "$NOVA_VENV/bin/python" ]; then
        "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_e2e_hosts.py" \
            "$NOVA_API_URL" remove "$HOSTS_CSV" \
            || lab_note "Nova did not remove every server (see above)"
    fi
    for name in "${E2E_HOSTS[@]}"; do
        destroy_guests "$name"
        "$LAB_TOOLS/libvirtd.sh" stop "$name"
    done
    rm -f "$E2E_RUN/hosts.json"
    lab_note "end-to-end hosts stopped"
}

start() {
    local t0 name pid
    t0=$(now)
    [ "$(id -u)" -eq 0 ] || exec sudo -E "$0" start
    [ "$(nproc)" -ge 2 ] || lab_die "the end-to-end hosts need 2 CPUs" \
        "(one for each host's guests), this machine has $(nproc)"
    "$LAB_TOOLS/nova-start.sh"
    # qemu-img: Nova's libvirt driver inspects and converts images with it
    lab_apt_install qemu-utils libvirt-dev pkg-config gcc python3-dev
    "$LAB_TOOLS/build-guest.sh"
    if ! "$NOVA_VENV/bin/python" -c 'import libvirt' 2>/dev/null; then
        lab_note "pip install libvirt-python into $NOVA_VENV"
        "$NOVA_VENV/bin/python" -m pip install -q \
            --disable-pip-version-check -c "$NOVA_CONSTRAINTS" \
            libvirt-python || lab_die "pip install libvirt-python failed"
    fi

    # a clean state: no compute, guest, disk or node identity left over
    stop_computes
    mkdir -p "$E2E_RUN"
    for name in "${E2E_HOSTS[@]}"; do
        destroy_guests "$name"
        "$LAB_TOOLS/libvirtd.sh" stop "$name"
        rm -rf "${LAB_DIR:?}/libvirtd-$name/instances" "${E2E_RUN:?}/$name"
        mkdir -p "$E2E_RUN/$name"
        "$LAB_TOOLS/libvirtd.sh" start "$name" "$(host_index "$name")"
        compute_conf "$name"
    done
    # Compute services left in Nova by an earlier run that did not stop
    # would be found again with other node identities: remove them
    "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_e2e_hosts.py" "$NOVA_API_URL" \
        remove "$HOSTS_CSV" >/dev/null \
        || lab_die "cannot remove the compute services of an earlier run"

    for name in "${E2E_HOSTS[@]}"; do
        pid=$("$LAB_TOOLS/libvirtd.sh" pid "$name")
        setsid nsenter --mount --target "$pid" \
            "$NOVA_VENV/bin/nova-compute" \
            --config-file "$NOVA_ETC/nova.conf" \
            --config-file "$E2E_RUN/$name.conf" \
            > "$NOVA_RUN/log/e2e-$name.log" 2>&1 < /dev/null 8>&- 9>&- &
        echo $! > "$NOVA_RUN/pids/e2e-$name.pid"
    done
    for _ in $(seq 120); do
        for name in "${E2E_HOSTS[@]}"; do
            if ! service_pid "e2e-$name" >/dev/null; then
                tail -n 25 "$NOVA_RUN/log/e2e-$name.log" >&2 || true
                lab_die "nova-compute of $name exited: see" \
                    "$NOVA_RUN/log/e2e-$name.log"
            fi
        done
        if "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_lab_check.py" \
                "$NOVA_API_URL" "$PLACEMENT_URL" "$HOSTS_CSV" \
                > "$E2E_RUN/check.log" 2>&1; then
            break
        fi
        sleep 1
    done
    "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_lab_check.py" "$NOVA_API_URL" \
        "$PLACEMENT_URL" "$HOSTS_CSV" > "$E2E_RUN/check.log" 2>&1 \
        || lab_die "$(cat "$E2E_RUN/check.log"); see the logs in" \
            "$NOVA_RUN/log"
    "$NOVA_VENV/bin/nova-manage" --config-file "$NOVA_ETC/nova.conf" \
        --config-file "$NOVA_ETC/db.conf" cell_v2 discover_hosts \
        >> "$E2E_RUN/check.log" 2>&1
    hosts_json > "$E2E_RUN/hosts.json"
    lab_note "end-to-end hosts ${E2E_HOSTS[*]} up ($(since "$t0") s);" \
        "$E2E_RUN/hosts.json"
}

status() {
    "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_lab_check.py" "$NOVA_API_URL" \
        "$PLACEMENT_URL" "$HOSTS_CSV"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
