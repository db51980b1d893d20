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

# The test command starts the daemons the tests need itself (and stops
# them after, see lab_started), so a package install must neither start
# them nor enable them at boot, as Debian's maintainer scripts do: while
# lab_apt_install runs apt-get, a policy-rc.d of its own (when the machine
# has none) refuses every start, and afterwards the units the install
# enabled are disabled again.
LAB_POLICY_RC=/usr/sbin/policy-rc.d
LAB_POLICY_MARK='# nova-drs lab: no daemon starts while packages install'

# _lab_enabled_units: the systemd units enabled at boot, sorted
_lab_enabled_units() {
    command -v systemctl >/dev/null 2>&1 || return 0
    systemctl list-unit-files --state=enabled --no-legend 2>/dev/null \
        | awk '{ print $1 }' | sort
}

_lab_apt_get() {
    lab_sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# lab_apt_install PKG...: install Debian packages that are not installed,
# without starting or enabling their daemons.
lab_apt_install() {
    local missing=() pkg before unit own_policy=0 rc=0
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || lab_die "missing packages ${missing[*]} and no apt-get"
    lab_note "installing Debian packages: ${missing[*]}"
    before=$(_lab_enabled_units)
    # a policy of the machine's own (a container's "exit 101") is kept;
    # one this function left behind when it was killed is reused
    if [ ! -e "$LAB_POLICY_RC" ] \
            || grep -qxF "$LAB_POLICY_MARK" "$LAB_POLICY_RC" 2>/dev/null; then
        printf '#!/bin/sh\n%s\nexit 101\n' "$LAB_POLICY_MARK" \
            | lab_sudo tee "$LAB_POLICY_RC" >/dev/null \
            && lab_sudo chmod 0755 "$LAB_POLICY_RC" && own_policy=1
    fi
    _lab_apt_get install -y -q --no-install-recommends "${missing[@]}" \
        || {
            # the package lists may be stale on a fresh machine
            _lab_apt_get update -q \
                && _lab_apt_get install -y -q --no-install-recommends \
                    "${missing[@]}"
        } || rc=$?
    if [ "$own_policy" = 1 ]; then
        lab_sudo rm -f "$LAB_POLICY_RC"
    fi
    for unit in $(comm -13 <(echo "$before") <(_lab_enabled_units)); do
        lab_note "not enabling $unit at boot (the lab starts what it uses)"
        lab_sudo systemctl disable --quiet "$unit" 2>/dev/null || true
    done
    [ "$rc" -eq 0 ] || lab_die "apt-get install ${missing[*]} failed"
}

# lab_started KIND ARGS...: record that this script started a service, in
# the file $NOVA_DRS_LAB_STARTED names (tools/run-tests.sh sets it for its
# lab steps and, when it ends, stops every service recorded there with
# tools/lab/stop-started.sh). Without it nothing is recorded: a lab set up
# by hand keeps running. KIND and ARGS are those of stop-started.sh.
lab_started() {
    [ -n "${NOVA_DRS_LAB_STARTED:-}" ] || return 0
    echo "$*" >> "$NOVA_DRS_LAB_STARTED"
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
