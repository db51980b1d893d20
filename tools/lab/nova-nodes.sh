#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# One more nova-compute on the running Nova lab, with many fake nodes (as
# an Ironic-style multi-node compute): for measuring the balancer's reads
# of Nova and Placement against a real Nova with hundreds or thousands of
# compute nodes and resource providers (doc/source/nova-lab.rst, "Many
# compute nodes"). The lab's own computes (fake-host-1..) are not touched.
#
#   nova-nodes.sh start HOST NODES   start nova-compute HOST with NODES
#                                    fake nodes (restart it, when it runs
#                                    with another count: only the new
#                                    nodes are created), wait until every
#                                    node has its resource provider, then
#                                    disable the service (the scheduler
#                                    places no test server there), map
#                                    HOST to its cell and wait until
#                                    Nova's API lists every node
#   nova-nodes.sh delete HOST        stop it and delete its service from
#                                    Nova (which deletes its compute nodes
#                                    and their resource providers)
#
# The service runs tools/lab/nova_lab_multinode.py (Nova's nova-compute
# with a fake driver subclass that reports NODES nodes), with
# update_resources_interval = 3600: the resource tracker's periodic
# update of a thousand nodes would otherwise keep a core busy, and the
# nodes' inventories do not change. nova-stop.sh stops it with the lab.
#
# Timings on the 2-core test machine: see doc/source/nova-lab.rst.

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

usage() {
    echo "usage: $0 start HOST NODES | delete HOST" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action=$1
host=$2
case "$host" in
    fake-host-[0-9]*) lab_die "$host is a name of the lab's own computes" ;;
    *[!a-z0-9-]*|"") lab_die "HOST: lowercase letters, digits and '-'" ;;
esac
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"
[ -f "$NOVA_ETC/nova.conf" ] || lab_die "the Nova lab is not running" \
    "(tools/lab/nova-start.sh)"

name=nova-compute-$host
PY=$NOVA_VENV/bin/python
NODES_PY=("$PY" "$LAB_TOOLS/nova_lab_nodes.py" "$NOVA_API_URL"
          "$PLACEMENT_URL")
NOVA_MANAGE=("$NOVA_VENV/bin/nova-manage" --config-file "$NOVA_ETC/nova.conf"
             --config-file "$NOVA_ETC/db.conf")

stop_service() {
    local pid
    pid=$(service_pid "$name") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 75); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$NOVA_RUN/pids/$name.pid"
}

case "$action" in
start)
    [ $# -eq 3 ] || usage
    nodes=$3
    case "$nodes" in
        ''|*[!0-9]*|0) lab_die "NODES must be a number of 1 or more" ;;
    esac
    T0=$(now)
    conf=$NOVA_ETC/$name.conf
    running=$(cat "$NOVA_RUN/$name.nodes" 2>/dev/null || echo 0)
    if service_pid "$name" >/dev/null && [ "$running" = "$nodes" ]; then
        lab_note "$host already runs with $nodes nodes"
    else
        stop_service
        mkdir -p "$NOVA_RUN/$name/instances"
        # the service's local node identity, as a real compute keeps it
        # (state_path/compute_id): a nova-compute that finds its service
        # in the database refuses to start without it. The first node's.
        (cd "$LAB_TOOLS" && "$PY" -c 'import sys, nova_lab_multinode as m
print(m.node_uuid(sys.argv[1]))' "$host") > "$NOVA_RUN/$name/compute_id"
        cat > "$conf" <<EOF
[DEFAULT]
host = $host
compute_driver = lab_multinode.MultiNodeFakeDriver
state_path = $NOVA_RUN/$name
instances_path = $NOVA_RUN/$name/instances
update_resources_interval = 3600
EOF
        lab_note "starting $host with $nodes fake nodes"
        (
            for fd in /proc/"$BASHPID"/fd/*; do
                fd=${fd##*/}
                if [ "$fd" -gt 2 ]; then
                    eval "exec $fd>&-"
                fi
            done
            NOVA_DRS_LAB_FAKE_NODES=$nodes exec setsid "$PY" \
                "$LAB_TOOLS/nova_lab_multinode.py" \
                --config-file "$NOVA_ETC/nova.conf" --config-file "$conf" \
                >> "$NOVA_RUN/log/$name.log" 2>&1 < /dev/null
        ) &
        echo $! > "$NOVA_RUN/pids/$name.pid"
        echo "$nodes" > "$NOVA_RUN/$name.nodes"
    fi
    "${NODES_PY[@]}" wait "$host" "$nodes" \
        "${NOVA_DRS_NOVA_NODES_TIMEOUT:-1800}" "$NOVA_RUN/pids/$name.pid" \
        || lab_die "$host is not ready: see $NOVA_RUN/log/$name.log"
    # Nova's API lists the nodes of a host only once the host is mapped to
    # its cell: a reader listing hypervisors before missed every node of
    # $host (Placement had their providers). nova-scheduler's periodic
    # discovery maps it within [scheduler] discover_hosts_in_cells_interval
    # (10 s); else nova-manage does, as nova-start.sh does for its computes
    # (not first: it takes 5-30 s to start on the loaded test machine; its
    # failure, e.g. the scheduler mapping the host at the same moment, is
    # judged by the listing that follows)
    if ! "${NODES_PY[@]}" listed "$host" "$nodes" 30; then
        "${NOVA_MANAGE[@]}" cell_v2 discover_hosts \
            >> "$NOVA_RUN/log/$name.log" 2>&1 || true
        "${NODES_PY[@]}" listed "$host" "$nodes" 120 \
            || lab_die "Nova does not list the nodes of $host: see" \
                "$NOVA_RUN/log/$name.log"
    fi
    lab_note "$host ready with $nodes nodes ($(since "$T0") s)"
    ;;
delete)
    [ $# -eq 2 ] || usage
    T0=$(now)
    stop_service
    rm -f "$NOVA_RUN/$name.nodes"
    "${NODES_PY[@]}" delete "$host" "${NOVA_DRS_NOVA_NODES_TIMEOUT:-1800}" \
        || lab_die "could not delete the service $host"
    lab_note "$host deleted ($(since "$T0") s)"
    ;;
*)
    usage
    ;;
esac
