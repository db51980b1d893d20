#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Everything the agent's functional tests (tests/functional/agent) need,
# installed and started when missing; fast (about a second) when it is all
# there already:
#
#   * libvirt-python in the active Python environment (built against
#     libvirt-dev);
#   * the lab guest (tools/lab/build-guest.sh);
#   * a private libvirtd (tools/lab/libvirtd.sh);
#   * RabbitMQ on 127.0.0.1:5672 (tools/lab/rabbitmq.sh).
#
# Run it as root, or as a user with sudo. Python is $PYTHON, else the
# `python` on PATH (tools/run-tests.sh puts its virtual environment first).
# Exits non-zero with the reason when a part cannot be set up.

set -euo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${NOVA_DRS_SKIP_LIBVIRT:-0}" = 1 ]; then
    lab_note "NOVA_DRS_SKIP_LIBVIRT=1: not setting up the agent lab" \
        "(the agent's functional tests will be skipped)"
    exit 0
fi

PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3

if ! "$PY" -c 'import libvirt' 2>/dev/null; then
    lab_apt_install libvirt-dev pkg-config gcc python3-dev
    lab_note "installing libvirt-python into $("$PY" -c \
        'import sys; print(sys.prefix)')"
    "$PY" -m pip install -q --disable-pip-version-check \
        'libvirt-python>=6.0.0' \
        || lab_die "pip install libvirt-python failed"
fi
"$LAB_TOOLS/build-guest.sh"
"$LAB_TOOLS/libvirtd.sh" start
"$LAB_TOOLS/rabbitmq.sh"
lab_note "agent lab ready in $LAB_DIR"
