#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A private libvirtd for the agent's functional tests, next to (never
# instead of) the host's own: it runs in its own mount namespace with its
# configuration and state under $NOVA_DRS_LAB_DIR/libvirtd (default
# /var/tmp/nova-drs-lab), so tests may restart it and define guests without
# touching anything else. No systemd needed.
#
#   libvirtd.sh start     start it unless it already answers (idempotent)
#   libvirtd.sh stop      stop it (running guests keep running, as with
#                         any libvirtd restart)
#   libvirtd.sh restart   stop, then start
#   libvirtd.sh status    exit 0 when it answers
#   libvirtd.sh uri       print the URI to connect to
#   libvirtd.sh pid       print the pid of the running libvirtd
#
# With NAME and INDEX after the action (libvirtd.sh start compute-a 2) it
# is one of the end-to-end lab's "compute hosts" instead: state under
# $NOVA_DRS_LAB_DIR/libvirtd-NAME, its own UTS namespace whose hostname is
# NAME (Nova's libvirt driver names its node after it, and Placement wants
# every node's name unique), its own host UUID, and TCP without
# authentication on 127.0.0.INDEX for live migrations from its peers
# (INDEX 2-9; migration data on ports 49INDEX00-49INDEX49). In its mount
# namespace $NOVA_DRS_LAB_DIR/instances is its own directory
# (libvirtd-NAME/instances): the nova-compute of that host runs in the same
# namespace (libvirtd.sh pid NAME gives the process to nsenter), so that
# every host has local disks at the same path, as Nova expects.
#
# Guests run as root without a security driver and the socket accepts
# every local user: a test lab, not a production setup.

set -euo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=${2:-}
INDEX=${3:-}
if [ -n "$NAME" ]; then
    # INDEX matters only to start
    [[ "$NAME" =~ ^[a-z][a-z0-9-]*$ && ( "$INDEX" =~ ^[2-9]$ \
            || ( -z "$INDEX" && ! "${1:-}" =~ start ) ) ]] \
        || lab_die "usage: libvirtd.sh ACTION [NAME INDEX]: NAME of a-z," \
            "0-9 and -, INDEX 2-9"
    D=$LAB_DIR/libvirtd-$NAME
    LISTEN_ADDR=127.0.0.$INDEX
else
    D=$LAB_DIR/libvirtd
    LISTEN_ADDR=
fi
SOCK=$D/run/libvirt-sock
URI="qemu+unix:///system?socket=$SOCK"
PIDFILE=$D/libvirtd.pid

answers() {
    command -v virsh >/dev/null 2>&1 \
        && timeout 10 virsh -q -c "$URI" version >/dev/null 2>&1
}

daemon_pid() {
    lab_pidfile_pid "$PIDFILE"
}

configure() {
    [ -f "$D/etc/.nova-drs-lab" ] && return 0
    mkdir -p "$D"/{run,lib,log,cache}
    rm -rf "${D:?}/etc"
    cp -a /etc/libvirt "$D/etc"
    # no default network, no autostarted anything from the host's config
    find "$D/etc" -path '*/autostart/*' -delete
    # libvirt refuses to migrate between hosts of the same UUID
    cat >> "$D/etc/libvirtd.conf" <<CONF

# nova-drs lab instance
host_uuid = "6e6f7661-6472-4073-8c61-62000000000${INDEX:-1}"
listen_tls = 0
$(if [ -n "$LISTEN_ADDR" ]; then
    printf 'listen_tcp = 1\nlisten_addr = "%s"\nauth_tcp = "none"\n' \
        "$LISTEN_ADDR"
else
    echo 'listen_tcp = 0'
fi)
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0777"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
    cat >> "$D/etc/qemu.conf" <<CONF

# nova-drs lab instance
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
$(if [ -n "$LISTEN_ADDR" ]; then
    printf 'migration_address = "%s"\nmigration_host = "%s"\n' \
        "$LISTEN_ADDR" "$LISTEN_ADDR"
    printf 'migration_port_min = 49%s00\nmigration_port_max = 49%s49\n' \
        "$INDEX" "$INDEX"
fi)
CONF
    touch "$D/etc/.nova-drs-lab"
}

start() {
    if answers; then
        lab_note "libvirtd already answers at $URI"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || exec sudo -E "$0" start "$NAME" "$INDEX"
    lab_apt_install libvirt-daemon-system libvirt-clients qemu-system-x86 \
        util-linux
    if pid=$(daemon_pid); then
        lab_note "stale libvirtd $pid does not answer: stopping it"
        stop
    fi
    configure
    mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt \
        /var/cache/libvirt
    rm -f "$SOCK"
    # bind the lab's directories over the standard ones, privately; a
    # compute host of the end-to-end lab also gets its own hostname
    local uts=() own_host=:
    if [ -n "$NAME" ]; then
        uts=(--uts)
        mkdir -p "$D/instances" "$LAB_DIR/instances"
        own_host="hostname '$NAME' &&
            mount --bind '$D/instances' '$LAB_DIR/instances'"
    fi
    setsid unshare --mount "${uts[@]}" --propagation private sh -c "
        $own_host &&
        mount --bind '$D/etc' /etc/libvirt &&
        mount --bind '$D/run' /run/libvirt &&
        mount --bind '$D/lib' /var/lib/libvirt &&
        mount --bind '$D/log' /var/log/libvirt &&
        mount --bind '$D/cache' /var/cache/libvirt &&
        exec libvirtd ${LISTEN_ADDR:+--listen} \
            --pid-file /run/libvirt/libvirtd.pid" \
        > "$D/stdout.log" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 100); do
        answers && break
        if ! daemon_pid >/dev/null; then
            tail -n 20 "$D/stdout.log" >&2 || true
            lab_die "libvirtd exited at start (log: $D/stdout.log)"
        fi
        sleep 0.1
    done
    answers || lab_die "libvirtd does not answer at $URI after 10 s"
    lab_started libvirtd ${NAME:+"$NAME"}
    lab_note "libvirtd $(cat "$PIDFILE") answers at $URI"
}

stop() {
    local pid
    if ! pid=$(daemon_pid); then
        lab_note "libvirtd is not running"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || exec sudo -E "$0" stop "$NAME" "$INDEX"
    lab_stop_pid "$pid" 10
    rm -f "$PIDFILE"
    lab_note "stopped libvirtd $pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) answers ;;
    uri) echo "$URI" ;;
    pid) daemon_pid ;;
    *) echo "usage: $0 start|stop|restart|status|uri|pid [NAME INDEX]" >&2
       exit 2 ;;
esac
