#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stop the Nova lab started by tools/lab/nova-start.sh: its services
# (Keystone and both nova-api included), by their recorded pids (nothing
# else is touched), and MariaDB when nova-start.sh had to start it itself
# (not with NOVA_DRS_KEEP_MARIADB=1).
# RabbitMQ is left running: the agent lab uses it too. The databases and
# the logs stay until the next start; --purge removes them as well.
#
# Idempotent: nothing to do when nothing runs.

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

purge=0
case "${1:-}" in
    --purge) purge=1 ;;
    "") ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

stopped=()
pids=()
if [ -d "$NOVA_RUN/pids" ]; then
    for file in "$NOVA_RUN"/pids/*.pid; do
        [ -f "$file" ] || continue
        name=$(basename "$file" .pid)
        if pid=$(service_pid "$name"); then
            kill "$pid" 2>/dev/null && pids+=("$pid") && stopped+=("$name")
        fi
        rm -f "$file"
    done
fi
# wait up to 15 s for a clean exit, then kill what is left
for _ in $(seq 75); do
    alive=0
    for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
done
for pid in "${pids[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
done
if [ "${#stopped[@]}" -gt 0 ]; then
    lab_note "stopped ${stopped[*]}"
else
    lab_note "no Nova lab service was running"
fi

if [ "$purge" = 1 ]; then
    if tcp_answers "$DB_HOST" "$DB_PORT"; then
        db_root -e "DROP DATABASE IF EXISTS $DB_API;
            DROP DATABASE IF EXISTS $DB_CELL0;
            DROP DATABASE IF EXISTS $DB_CELL1;
            DROP DATABASE IF EXISTS $DB_PLACEMENT;
            DROP DATABASE IF EXISTS $DB_KEYSTONE;" \
            && lab_note "dropped the lab databases"
    fi
    rm -rf "$NOVA_RUN"
    lab_note "removed $NOVA_RUN"
fi

if [ "${NOVA_DRS_KEEP_MARIADB:-0}" != 1 ]; then
    "$LAB_TOOLS/mariadb.sh" stop
fi
