#!/bin/bash
# Runs "devstack/plugin.sh <mode> [<phase>]" the way stack.sh does (sourced,
# after devstack/settings) with the stubs of stubs.sh instead of devstack.
# Usage: run-plugin.sh <mode> [<phase>]; the environment sets the paths.
set -o errexit -o pipefail
# shellcheck source=tests/unit/devstack/stubs.sh
source "$(dirname "${BASH_SOURCE[0]}")/stubs.sh"
# shellcheck source=devstack/settings
source "$NOVA_DRS_DIR/devstack/settings"
# shellcheck source=devstack/plugin.sh
source "$NOVA_DRS_DIR/devstack/plugin.sh" "$@"
