#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Quickstart: install nova-drs into .venv (the same bootstrap as
# tools/run-tests.sh) and run the simulator on the sample traces bundled
# with it (PlanetLab VMs on a small overcommitted cluster): what would no
# balancing, the `hotspot` strategy and the `balance` strategy have done,
# with autoballooning on. Writes an HTML report with plots.
#
# Extra arguments go to `nova-drs simulate`, e.g.
#   tools/try-nova-drs.sh --trace bitbrains
#   tools/try-nova-drs.sh --strategies none,hotspot --balloon off

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tools/bootstrap-venv.sh
source tools/bootstrap-venv.sh

drs_header "install"
drs_bootstrap -e .

REPORT=nova-drs-report
drs_header "nova-drs simulate --report $REPORT $*"
nova-drs simulate --report "$REPORT" "$@"

# your own cluster: a snapshot (here the example one) replaying the
# sample traces, its hosts and placement as exported
SNAPSHOT=nova_drs/data/example-snapshot.json
drs_header "nova-drs simulate --snapshot $SNAPSHOT --no-report"
nova-drs simulate --snapshot "$SNAPSHOT" --strategies none,hotspot \
    --no-report

cat <<EOT

Open $REPORT/index.html for the plots. Replay a whole PlanetLab day, or
your own traces, with for example:

    .venv/bin/nova-drs simulate --trace-dir /path/to/traces/planetlab \\
        --day 20110303 --hosts 200

simulate your own cluster from its snapshot (nova-drs snapshot export):

    .venv/bin/nova-drs simulate --snapshot cluster.json --trace bitbrains

and plan migrations for a cluster snapshot (format: doc/source/snapshot-format.rst):

    .venv/bin/nova-drs plan --snapshot nova_drs/data/example-snapshot.json
EOT
