#!/bin/bash
# shellcheck shell=bash
#
# devstack/plugin.sh: the nova-drs devstack plugin. stack.sh and
# unstack.sh/clean.sh source it as "plugin.sh <mode> [<phase>]" after
# devstack/settings; see devstack/README.rst.

_XTRACE_NOVA_DRS_PLUGIN=$(set +o | grep xtrace)
set -o xtrace

# shellcheck source=devstack/lib/nova-drs
source "$NOVA_DRS_DIR/devstack/lib/nova-drs"

# The directory of the console scripts setup_develop installed.
NOVA_DRS_BIN_DIR=$(get_python_exec_prefix)

if is_service_enabled drs-agent drs-balancer drs-api; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing nova-drs"
        install_nova_drs
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring nova-drs"
        configure_nova_drs
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting nova-drs"
        start_nova_drs
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_nova_drs
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_nova_drs
    fi
fi

$_XTRACE_NOVA_DRS_PLUGIN
