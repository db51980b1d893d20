# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Shared helpers of the agent lab scripts in tools/lab/; sourced, not run.
#
#   NOVA_DRS_LAB_DIR   where the lab lives (default /var/tmp/nova-drs-lab):
#                      guest/ (kernel, initramfs), libvirtd/ (the private
#                      libvirtd's state), run/ (guest consoles and sockets)

# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_DIR=${NOVA_DRS_LAB_DIR:-/var/tmp/nova-drs-lab}
# shellcheck disable=SC2034
LAB_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

lab_note() {
    printf '%s: %s\n' "$(basename "$0")" "$*"
}

lab_die() {
    printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

# lab_sudo CMD...: run CMD as root (directly, or through sudo).
lab_sudo() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        lab_die "need root for: $*; run as root or install sudo"
    fi
}

# lab_apt_install PKG...: install Debian packages that are not installed.
lab_apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || lab_die "missing packages ${missing[*]} and no apt-get"
    lab_note "installing Debian packages: ${missing[*]}"
    lab_sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "${missing[@]}" \
        || {
            # the package lists may be stale on a fresh machine
            lab_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
                && lab_sudo env DEBIAN_FRONTEND=noninteractive \
                    apt-get -o DPkg::Lock::Timeout=600 install -y -q \
                    --no-install-recommends "${missing[@]}"
        } || lab_die "apt-get install ${missing[*]} failed"
}

# lab_pidfile_pid FILE: print the pid recorded in FILE if that process
# is alive; fail otherwise.
lab_pidfile_pid() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# lab_stop_pid PID SECONDS: ask PID to stop, wait up to SECONDS for it to
# exit, then kill it.
lab_stop_pid() {
    local pid=$1 _
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}
