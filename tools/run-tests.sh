#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The one test command of nova-drs (README, CI): on a fresh Debian 12 with
# Python 3 it installs what is missing, builds .venv, then runs, stopping
# at the first failure:
#
#   pep8        flake8 with the OpenStack hacking rules, bandit, reno lint
#   unit        pytest tests/unit (includes the config sample check)
#   agent-lab   libvirtd, the TCG test guest and RabbitMQ for the agent
#   nova-lab    a Nova control plane with fake computes (tools/lab)
#   databases   MariaDB and PostgreSQL for the balancer's database tests
#   redis       Redis, the tooz backend of the coordination tests
#   functional  pytest tests/functional (real libvirtd, RabbitMQ, Nova,
#               MariaDB, PostgreSQL, Redis)
#   bench       the planner, simulator, agent, scheduler plugin and metrics
#               intake benchmarks; each fails when one of its targets
#               is missed
#
# Environment:
#   NOVA_DRS_SKIP_BENCH=1   skip the benchmark (quick local runs)
#   NOVA_DRS_VENV=DIR       virtual environment to use (default: .venv)
#   PYTHON=python3.X        interpreter for the virtual environment

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tools/bootstrap-venv.sh
source tools/bootstrap-venv.sh

LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT

STEPS=()
TESTS_PASSED=0
TESTS_SKIPPED=0

summary() {
    local line
    drs_header "summary"
    for line in "${STEPS[@]}"; do
        printf '  %s\n' "$line"
    done
}

# run_step NAME COMMAND...: run one section, record its result and time,
# and stop everything at the first failure.
run_step() {
    local name=$1 start=$SECONDS rc=0
    shift
    drs_header "$name"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        STEPS+=("$(printf '%-11s FAILED (exit %d, %ds)' "$name" "$rc" \
            $((SECONDS - start)))")
        summary
        printf '\nrun-tests: %s failed\n' "$name" >&2
        exit "$rc"
    fi
    STEPS+=("$(printf '%-11s ok (%ds)%s' "$name" $((SECONDS - start)) \
        "${STEP_NOTE:+  $STEP_NOTE}")")
    STEP_NOTE=
}
STEP_NOTE=

# Add pytest's counts from its log to the totals of the final summary.
count_tests() {
    local last passed skipped
    last=$(grep -E '^=*.* in [0-9.]+s' "$1" | tail -n 1 || true)
    passed=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || true)
    skipped=$(grep -oE '[0-9]+ skipped' <<<"$last" | grep -oE '[0-9]+' \
        || true)
    TESTS_PASSED=$((TESTS_PASSED + ${passed:-0}))
    TESTS_SKIPPED=$((TESTS_SKIPPED + ${skipped:-0}))
    STEP_NOTE="${passed:-0} passed, ${skipped:-0} skipped"
}

step_bootstrap() {
    drs_bootstrap -e '.[bench]' -r test-requirements.txt
}

step_pep8() {
    flake8 nova_drs tests && echo "flake8: no problems found"
    bandit -c pyproject.toml -r nova_drs -q && echo "bandit: no issues"
    reno lint >/dev/null && echo "reno lint: release notes are valid"
}

step_unit() {
    local log=$LOG_DIR/unit.log rc=0
    python -m pytest tests/unit -q 2>&1 | tee "$log" || rc=$?
    [ "$rc" -eq 0 ] || return "$rc"
    count_tests "$log"
}

step_functional() {
    local log=$LOG_DIR/functional.log rc=0
    python -m pytest tests/functional -q 2>&1 | tee "$log" || rc=$?
    if [ "$rc" -eq 5 ]; then
        # pytest: "no tests collected". The functional tier is filled by
        # later work; until then an empty tier is not a failure.
        echo "functional: no tests collected yet (pytest exit 5), accepted"
        STEP_NOTE="no tests yet"
        return 0
    fi
    [ "$rc" -eq 0 ] || return "$rc"
    count_tests "$log"
}

step_bench() {
    if [ "${NOVA_DRS_SKIP_BENCH:-0}" = 1 ]; then
        echo "NOVA_DRS_SKIP_BENCH=1: benchmark skipped"
        STEP_NOTE="skipped (NOVA_DRS_SKIP_BENCH=1)"
        return 0
    fi
    # each exits non-zero when one of its targets is missed
    drs_header "bench: planner (nova-drs bench)"
    nova-drs bench
    drs_header "bench: simulator (nova-drs simulate --bench)"
    nova-drs simulate --bench
    drs_header "bench: agent (python -m nova_drs.agent.bench)"
    python -m nova_drs.agent.bench
    drs_header "bench: scheduler plugins (python -m nova_drs.scheduler.bench)"
    python -m nova_drs.scheduler.bench
    drs_header "bench: metrics intake (python -m nova_drs.notifications.bench)"
    python -m nova_drs.notifications.bench
}

run_step bootstrap step_bootstrap
run_step pep8 step_pep8
run_step unit step_unit
run_step agent-lab tools/lab/setup-agent-lab.sh
source tools/lab/nova-run-tests.sh  # step nova-lab: a Nova for the tests
run_step databases tools/lab/databases.sh
run_step redis tools/lab/redis.sh
run_step functional step_functional
run_step bench step_bench

summary
printf '\ntests: %d passed, 0 failed, %d skipped\n' \
    "$TESTS_PASSED" "$TESTS_SKIPPED"
