#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The one test command of nova-drs (README, CI): on a fresh Debian 12 with
# Python 3 it installs what is missing, builds .venv, then runs every step
# below, even after one has failed (only a failed bootstrap stops it), and
# ends with a summary of every step and the test totals; it exits non-zero
# when any step failed:
#
#   pep8        flake8 with the OpenStack hacking rules, bandit, reno lint,
#               the Sphinx documentation built with warnings as errors
#   unit        pytest tests/unit (includes the config sample check)
#   agent-lab   libvirtd, the TCG test guest and RabbitMQ for the agent
#   nova-lab    a Nova control plane with fake computes (tools/lab)
#   databases   MariaDB and PostgreSQL for the balancer's database tests
#   redis       Redis, the tooz backend of the coordination tests
#   functional  pytest tests/functional (real libvirtd, RabbitMQ, Nova,
#               MariaDB, PostgreSQL, Redis)
#   bench       the planner, simulator, agent, scheduler plugin and metrics
#               intake benchmarks, and the control plane's load test
#               (nova-drs-loadtest); each fails when one of its targets
#               is missed
#
# The lab steps install the Debian packages they need without enabling
# their daemons at boot (nor installing a kernel: the test guest's is
# unpacked from its package), start what the tests use, and the services
# they started are stopped when the command ends
# (tools/lab/stop-started.sh); the Nova lab likewise.
#
# Environment:
#   NOVA_DRS_SKIP_BENCH=1   skip the benchmark (quick local runs)
#   NOVA_DRS_TRACE_DIR=DIR  the PlanetLab/Bitbrains traces of the planner
#                           and simulator benchmarks (default: ../shared/
#                           traces beside the repository); without them
#                           those two are reported skipped in the summary
#   NOVA_DRS_VENV=DIR       virtual environment to use (default: .venv)
#   PYTHON=python3.X        interpreter for the virtual environment

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tools/bootstrap-venv.sh
source tools/bootstrap-venv.sh

LOG_DIR=$(mktemp -d)
# The lab steps record the services they start (lab_started in
# tools/lab/lib.sh); they are stopped when this command ends, whatever the
# outcome. Services that were running already are left alone.
export NOVA_DRS_LAB_STARTED=$LOG_DIR/started-services
stop_started() {
    [ -s "$NOVA_DRS_LAB_STARTED" ] || return 0
    drs_header "stopping the services the lab steps started"
    tools/lab/stop-started.sh "$NOVA_DRS_LAB_STARTED" || true
}
trap 'stop_started; rm -rf "$LOG_DIR"' EXIT

STEPS=()
FAILED_STEPS=()
TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0

summary() {
    local line
    drs_header "summary"
    for line in "${STEPS[@]}"; do
        printf '  %s\n' "$line"
    done
}

# run_step NAME COMMAND...: run one section and record its result, time
# and note (STEP_NOTE). A failure is recorded and the next steps still run.
# NOTE: a step function runs with errexit off (it is called in a "||"
# list): it must return the status of every command that matters itself.
run_step() {
    local name=$1 start=$SECONDS rc=0
    shift
    drs_header "$name"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        STEPS+=("$(printf '%-11s FAILED (exit %d, %ds)%s' "$name" "$rc" \
            $((SECONDS - start)) "${STEP_NOTE:+  $STEP_NOTE}")")
        FAILED_STEPS+=("$name")
    else
        STEPS+=("$(printf '%-11s ok (%ds)%s' "$name" \
            $((SECONDS - start)) "${STEP_NOTE:+  $STEP_NOTE}")")
    fi
    STEP_NOTE=
    return 0
}
STEP_NOTE=

# _count WORD LINE: the number before WORD in pytest's last line, or 0.
_count() {
    local n
    n=$(grep -oE "[0-9]+ $1" <<<"$2" | grep -oE '[0-9]+' || true)
    echo "${n:-0}"
}

# Add pytest's counts from its log to the totals of the final summary.
count_tests() {
    local last passed failed skipped
    last=$(grep -E '^=*.* in [0-9.]+s' "$1" | tail -n 1 || true)
    passed=$(_count passed "$last")
    failed=$(( $(_count failed "$last") + $(_count errors? "$last") ))
    skipped=$(_count skipped "$last")
    TESTS_PASSED=$((TESTS_PASSED + passed))
    TESTS_FAILED=$((TESTS_FAILED + failed))
    TESTS_SKIPPED=$((TESTS_SKIPPED + skipped))
    STEP_NOTE="$passed passed, $failed failed, $skipped skipped"
}

step_bootstrap() {
    drs_bootstrap -e '.[sim]' -r test-requirements.txt \
        -r doc/requirements.txt
}

# check NAME COMMAND...: run one check of a step, say how it went; the
# step fails when any of its checks does (FAILED_CHECKS).
check() {
    local name=$1 rc=0 start=$SECONDS
    shift
    "$@" || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "$name: ok ($((SECONDS - start))s)"
    else
        echo "$name: FAILED (exit $rc, $((SECONDS - start))s)"
        FAILED_CHECKS+=("$name")
    fi
}

step_pep8() {
    FAILED_CHECKS=()
    check flake8 flake8 nova_drs tests
    check bandit bandit -c pyproject.toml -r nova_drs -q
    check "reno lint" reno lint
    check "docs (sphinx, warnings are errors)" sphinx-build -W \
        --keep-going -q -b html doc/source doc/build/html
    [ "${#FAILED_CHECKS[@]}" -eq 0 ] || {
        STEP_NOTE="failed: ${FAILED_CHECKS[*]}"; return 1; }
}

# pytest_step NAME PATH [PYTEST_ARGS...]: one pytest run, its counts in
# the summary
pytest_step() {
    local log=$LOG_DIR/$1.log rc=0
    python -m pytest "${@:2}" -q 2>&1 | tee "$log" || rc=$?
    count_tests "$log"
    return "$rc"
}

# The unit tests share nothing (each makes its own SQLite database, temp
# files and fakes), so they run in one worker per core (pytest-xdist).
step_unit() {
    pytest_step unit tests/unit -n auto
}

# The functional tests in three runs. First those with QEMU guests (the
# agent's, and the end-to-end test's under TCG): they are CPU-bound and
# their timings are real-time (a guest allocating while the agent
# balloons it), so they run alone. Then the rest, one after the other
# (they share the labs' services, RabbitMQ, libvirtd, the Nova lab, and
# some stop or restart one), and meanwhile, in a second process, those
# that use none of them: each makes its own throwaway database (MariaDB,
# PostgreSQL, SQLite), its own API server on a free port or its own
# coordination group on Redis, which no test restarts.
FUNCTIONAL_GUESTS=(tests/functional/agent tests/functional/e2e)
FUNCTIONAL_ALONGSIDE=(tests/functional/db tests/functional/api/test_api.py
    tests/functional/balancer/test_coordination.py)

step_functional() {
    local rc=0 pid notes path ignore=()
    local log=$LOG_DIR/functional-alongside.log
    for path in "${FUNCTIONAL_GUESTS[@]}" "${FUNCTIONAL_ALONGSIDE[@]}"; do
        ignore+=(--ignore "$path")
    done
    # --durations: where the tier's time goes, for whoever trims it next
    pytest_step functional-guests "${FUNCTIONAL_GUESTS[@]}" \
        --durations=10 || rc=$?
    notes="with guests: $STEP_NOTE"
    python -m pytest "${FUNCTIONAL_ALONGSIDE[@]}" -q -p no:cacheprovider \
        > "$log" 2>&1 &
    pid=$!
    pytest_step functional tests/functional "${ignore[@]}" \
        --durations=20 || rc=$?
    notes="$notes; the rest: $STEP_NOTE"
    wait "$pid" || rc=$?
    drs_header "functional, alongside: ${FUNCTIONAL_ALONGSIDE[*]}"
    cat "$log"
    count_tests "$log"
    STEP_NOTE="$notes; alongside: $STEP_NOTE"
    return "$rc"
}

# the traces the planner and simulator benchmarks replay
trace_dir() {
    echo "${NOVA_DRS_TRACE_DIR:-$(cd .. && pwd)/shared/traces}"
}

step_bench() {
    if [ "${NOVA_DRS_SKIP_BENCH:-0}" = 1 ]; then
        echo "NOVA_DRS_SKIP_BENCH=1: benchmark skipped"
        STEP_NOTE="skipped (NOVA_DRS_SKIP_BENCH=1)"
        return 0
    fi
    # each exits non-zero when one of its targets is missed; every one
    # runs, and the step fails when any did
    local traces skipped=()
    traces=$(trace_dir)
    FAILED_CHECKS=()
    if [ -d "$traces/planetlab" ]; then
        # 100 to 10,000 hosts, and the 100,000-host / 1M-instance region
        # in its busiest scenario (the 30,000-host row of the default
        # sizes is left to runs by hand: the region's growth ratio says
        # more)
        drs_header "bench: planner (nova-drs bench --region)"
        check "planner bench" nova-drs bench --trace-dir "$traces" \
            --sizes 100,1000,10000 --region --tight-sizes 200
        drs_header "bench: simulator (nova-drs simulate --bench)"
        check "simulator bench" nova-drs simulate --bench \
            --trace-dir "$traces"
        drs_header "bench: packing (nova-drs simulate --pack-bench)"
        check "packing bench" nova-drs simulate --pack-bench \
            --trace-dir "$traces"
        drs_header "bench: consolidation (python -m nova_drs.bench.consolidation)"
        check "consolidation bench" python -m nova_drs.bench.consolidation \
            --trace-dir "$traces"
    else
        echo "no PlanetLab traces in $traces (NOVA_DRS_TRACE_DIR): the" \
            "planner and simulator benchmarks are NOT run"
        skipped=(planner simulator packing consolidation)
    fi
    if [ -d "$traces/bitbrains_rnd" ]; then
        # 3 seeds of 40 VMs at the agent's 10 s period (12 h of trace)
        # and at a 300 s period (48 h), under a minute; at 300 s holding
        # at 0.95x the oracle is an aim, printed, not enforced (issue 18,
        # doc/source/simulator.rst); --hours-10s 48 --full gives the full
        # table
        drs_header "bench: balloon capacity (python -m nova_drs.simulator.capacity_bench)"
        check "capacity bench" python -m nova_drs.simulator.capacity_bench \
            --trace-dir "$traces" --periods 10,300
    else
        echo "no Bitbrains traces in $traces: the capacity benchmark is" \
            "NOT run"
        skipped+=(capacity)
    fi
    drs_header "bench: agent (python -m nova_drs.agent.bench)"
    check "agent bench" python -m nova_drs.agent.bench
    drs_header "bench: scheduler plugins (python -m nova_drs.scheduler.bench)"
    check "scheduler bench" python -m nova_drs.scheduler.bench
    drs_header "bench: metrics intake (python -m nova_drs.notifications.bench)"
    check "intake bench" python -m nova_drs.notifications.bench
    # 10,000 hosts at a 30 s interval: this 2-core machine also generates
    # every agent's reports (doc/source/loadtest.rst)
    drs_header "bench: control plane (nova-drs-loadtest)"
    check "load test" nova-drs-loadtest --hosts 10000 --interval 30 \
        --window 30 --hotspots 6 --kill-hotspots 3 \
        --json "$LOG_DIR/loadtest.json"
    if [ "${#skipped[@]}" -gt 0 ]; then
        STEP_NOTE="${skipped[*]} NOT RUN: no traces in $traces"
    fi
    if [ "${#FAILED_CHECKS[@]}" -gt 0 ]; then
        STEP_NOTE="failed: ${FAILED_CHECKS[*]}${STEP_NOTE:+; $STEP_NOTE}"
        return 1
    fi
}

run_step bootstrap step_bootstrap
if [ "${#FAILED_STEPS[@]}" -gt 0 ]; then
    summary
    printf '\nrun-tests: bootstrap failed: nothing else can run\n' >&2
    exit 1
fi
run_step pep8 step_pep8
run_step unit step_unit
run_step agent-lab tools/lab/setup-agent-lab.sh
source tools/lab/nova-run-tests.sh  # step nova-lab: a Nova for the tests
run_step databases tools/lab/databases.sh
run_step redis tools/lab/redis.sh
# a test that restarts a lab service must not have it counted as started
# by this command
export -n NOVA_DRS_LAB_STARTED
run_step functional step_functional
run_step bench step_bench

summary
printf '\ntests: %d passed, %d failed, %d skipped\n' \
    "$TESTS_PASSED" "$TESTS_FAILED" "$TESTS_SKIPPED"
if [ "${#FAILED_STEPS[@]}" -gt 0 ]; then
    printf 'run-tests: FAILED: %s\n' "${FAILED_STEPS[*]}" >&2
    exit 1
fi
