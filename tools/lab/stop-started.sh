#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stop the services a run of the test command started: tools/run-tests.sh
# calls it when it ends with the list its lab steps wrote (lab_started in
# tools/lab/lib.sh, one "KIND ARGS" a line), newest first. Services that
# were running before the run are not in the list and keep running.
#
#   stop-started.sh LIST
#
# KIND is one of
#
#   systemd UNIT              systemctl stop UNIT
#   initd NAME                /etc/init.d/NAME stop
#   rabbitmq                  rabbitmqctl stop (started -detached)
#   mariadbd                  tools/lab/mariadb.sh stop
#   pgcluster VERSION NAME    pg_ctlcluster VERSION NAME stop
#   redis PORT                SHUTDOWN of the Redis on 127.0.0.1:PORT
#   libvirtd [NAME]           tools/lab/libvirtd.sh stop [NAME]
#
# A service that will not stop is reported; the others are still stopped.
# Exit status 1 when one could not be stopped.

set -uo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIST=${1:?usage: stop-started.sh LIST}
[ -s "$LIST" ] || exit 0

# stop_one KIND ARGS...
stop_one() {
    local kind=$1
    shift
    case "$kind" in
        systemd) lab_sudo systemctl stop "$1" ;;
        initd) lab_sudo "/etc/init.d/$1" stop ;;
        rabbitmq) lab_sudo rabbitmqctl -q stop ;;
        mariadbd) "$LAB_TOOLS/mariadb.sh" stop ;;
        pgcluster) lab_sudo pg_ctlcluster --skip-systemctl-redirect "$1" \
            "$2" stop ;;
        redis) redis-cli -h 127.0.0.1 -p "$1" shutdown nosave ;;
        libvirtd) "$LAB_TOOLS/libvirtd.sh" stop "$@" ;;
        *) lab_note "unknown kind of service: $kind"; return 1 ;;
    esac
}

failed=0
declare -A done_
while read -r line; do
    # a service recorded twice (a restart) is stopped once
    [ -n "$line" ] && [ -z "${done_[$line]:-}" ] || continue
    done_[$line]=1
    lab_note "stopping what the tests started: $line"
    # shellcheck disable=SC2086  # KIND and ARGS are words
    stop_one $line || {
        lab_note "could not stop: $line"
        failed=1
    }
done < <(tac "$LIST")
exit "$failed"
