# shellcheck shell=bash disable=SC2034  # STEP_NOTE is run-tests.sh's
# SPDX-License-Identifier: Apache-2.0
#
# tools/run-tests.sh sources this file before its functional step. It runs
# one more step, "nova-lab": the Nova lab, with its Keystone, for
# tests/functional/nova and the tests on real tokens
# (tools/lab/nova-start.sh; about a second when it already runs, about a
# minute from nothing, a few more the first time for the installs). When
# the step started the lab, the lab is stopped when run-tests.sh exits,
# whatever the outcome; a lab that was already running is left alone.
# NOVA_DRS_SKIP_NOVA=1 skips the step (the Nova tests then skip too).
#
# Needs run_step and STEP_NOTE from tools/run-tests.sh.

NOVA_LAB_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NOVA_LAB_STARTED=0

_nova_lab_step() {
    if [ "${NOVA_DRS_SKIP_NOVA:-0}" = 1 ]; then
        echo "NOVA_DRS_SKIP_NOVA=1: Nova lab not started"
        STEP_NOTE="skipped (NOVA_DRS_SKIP_NOVA=1)"
        return 0
    fi
    if "$NOVA_LAB_TOOLS/nova-status.sh"; then
        STEP_NOTE="already running"
        return 0
    fi
    NOVA_LAB_STARTED=1
    "$NOVA_LAB_TOOLS/nova-start.sh"
}

_nova_lab_stop() {
    if [ "$NOVA_LAB_STARTED" = 1 ]; then
        NOVA_LAB_STARTED=0
        "$NOVA_LAB_TOOLS/nova-stop.sh" || true
    fi
}

# Run the lab's stop before whatever EXIT trap run-tests.sh already has
# (trap -p prints it quoted for the shell).
_nova_lab_chain_trap() {
    eval "set -- $1"
    # shellcheck disable=SC2064  # the old command is expanded on purpose
    trap "_nova_lab_stop; ${3:-}" EXIT
}
_nova_lab_chain_trap "$(trap -p EXIT)"

run_step nova-lab _nova_lab_step
