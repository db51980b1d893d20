#!/usr/bin/env bash
# shellcheck disable=SC2119  # lab_ready and db_root take optional args
# SPDX-License-Identifier: Apache-2.0
#
# Is the Nova lab running and ready? Exit 0 when it is, 1 when not. Ready:
# every service runs (Keystone and nova-api-keystone included), with the
# configuration of the current scripts; the computes are up with their
# resource providers; a lab user's Keystone token works on the
# keystonemiddleware nova-api (lab_ready in nova-env.sh).
#
#   nova-status.sh            say so
#   nova-status.sh -q         say nothing
#   nova-status.sh --memory   also print each service's memory (RSS and
#                             PSS, MiB, child processes included)

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

quiet=0
memory=0
case "${1:-}" in
    -q) quiet=1 ;;
    --memory) memory=1 ;;
    "") ;;
    *) echo "usage: $0 [-q|--memory]" >&2; exit 2 ;;
esac

# descendants PID: PID and all its descendants
descendants() {
    local child
    echo "$1"
    for child in $(pgrep -P "$1" || true); do
        descendants "$child"
    done
}

# kib FIELD PID...: the sum of a smaps_rollup field, in KiB
kib() {
    local field=$1 pid total=0 value
    shift
    for pid in "$@"; do
        value=$(awk -v f="$field:" '$1 == f { print $2 }' \
            "/proc/$pid/smaps_rollup" 2>/dev/null || true)
        total=$((total + ${value:-0}))
    done
    echo "$total"
}

if [ "$memory" = 1 ]; then
    total_rss=0
    total_pss=0
    printf '%-18s %6s %9s %9s\n' service procs 'RSS MiB' 'PSS MiB'
    for name in $(lab_services); do
        pid=$(service_pid "$name") || {
            printf '%-18s not running\n' "$name"
            continue
        }
        mapfile -t pids < <(descendants "$pid")
        rss=$(kib Rss "${pids[@]}")
        pss=$(kib Pss "${pids[@]}")
        total_rss=$((total_rss + rss))
        total_pss=$((total_pss + pss))
        printf '%-18s %6d %9d %9d\n' "$name" "${#pids[@]}" $((rss / 1024)) \
            $((pss / 1024))
    done
    printf '%-18s %6s %9d %9d\n' 'total (Nova)' '' $((total_rss / 1024)) \
        $((total_pss / 1024))
    for name in mariadbd beam.smp; do
        mapfile -t pids < <(pgrep -x "$name" || true)
        if [ "${#pids[@]}" -eq 0 ] || [ -z "${pids[0]}" ]; then
            continue
        fi
        printf '%-18s %6d %9d %9d  (shared service)\n' "$name" "${#pids[@]}" \
            $(($(kib Rss "${pids[@]}") / 1024)) \
            $(($(kib Pss "${pids[@]}") / 1024))
    done
fi

if [ -x "$NOVA_VENV/bin/python" ] && out=$(lab_ready 2>&1); then
    [ "$quiet" = 1 ] || lab_note "$out"
    exit 0
fi
[ "$quiet" = 1 ] || lab_note "the Nova lab is not ready${out:+: $out}"
exit 1
