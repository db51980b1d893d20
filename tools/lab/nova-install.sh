#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Install what the Nova lab (doc/source/nova-lab.rst) needs, and nothing that is
# there already:
#
#   * MariaDB: mariadb-server from Debian, only when no MariaDB answers on
#     127.0.0.1:3306 (a running one is reused; then only its command line
#     client is installed, when missing);
#   * RabbitMQ: tools/lab/rabbitmq.sh (reuses a broker that answers);
#   * Nova's own virtualenv, $NOVA_DRS_NOVA_VENV (default
#     /var/tmp/nova-drs-lab/novavenv), apart from the project's: nova
#     34.0.0, openstack-placement 16.0.0 and keystone 30.0.0 pin a whole
#     OpenStack release that must not meet the project's own (newer or
#     older) libraries. Keystone shares Nova's virtualenv: same release,
#     same libraries (it adds Flask, pysaml2 and a few small ones).
#
# Versions: nova, placement and keystone are pinned to the release the lab
# is tested with. Everything else is held to
# tools/lab/nova-constraints.txt, the set that was installed and tested
# with them: Nova declares lower bounds only and relies on OpenStack's
# upper-constraints (which this project's machines cannot download), so a
# newer SQLAlchemy, eventlet or oslo library published after the release
# may break it.
#
# Idempotent: a second run takes about a second. Run as root (or with
# sudo for the apt part).

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

T0=$(now)

# -- MariaDB ----------------------------------------------------------------
if tcp_answers "$DB_HOST" "$DB_PORT"; then
    lab_note "MariaDB answers on $DB_HOST:$DB_PORT: reusing it"
    mariadb_client >/dev/null || lab_apt_install mariadb-client
else
    lab_apt_install mariadb-server mariadb-client
fi

# -- RabbitMQ ---------------------------------------------------------------
"$LAB_TOOLS/rabbitmq.sh"

# -- Nova's virtualenv ------------------------------------------------------
STAMP=$(nova_venv_stamp)
if [ -f "$STAMP" ] && "$NOVA_VENV/bin/python" -c \
        'import nova, placement, keystone' 2>/dev/null; then
    lab_note "Nova virtualenv $NOVA_VENV is up to date"
else
    command -v "$NOVA_PYTHON" >/dev/null 2>&1 || lab_apt_install python3
    if ! "$NOVA_PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        lab_apt_install python3-venv
    fi
    if [ ! -x "$NOVA_VENV/bin/pip" ]; then
        rm -rf "$NOVA_VENV"
        mkdir -p "$(dirname "$NOVA_VENV")"
        "$NOVA_PYTHON" -m venv "$NOVA_VENV" \
            || lab_die "cannot create the virtualenv $NOVA_VENV"
    fi
    lab_note "pip install ${NOVA_PINS[*]} into $NOVA_VENV (about a minute)"
    t=$(now)
    "$NOVA_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$NOVA_CONSTRAINTS" "${NOVA_PINS[@]}" \
        || lab_die "pip install into $NOVA_VENV failed"
    rm -f "$NOVA_VENV"/.nova-drs-lab-*
    touch "$STAMP"
    lab_note "pip install took $(since "$t") s"
fi
lab_note "Nova lab installed ($(since "$T0") s)"
