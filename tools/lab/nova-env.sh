# shellcheck shell=bash disable=SC2034  # settings used by the sourcing scripts
# SPDX-License-Identifier: Apache-2.0
#
# Settings and helpers shared by the Nova lab scripts (nova-install.sh,
# nova-start.sh, nova-stop.sh); sourced, not run. The Nova lab is a real
# Nova 34 control plane for the balancer's functional tests: nova-api,
# placement-api, nova-conductor, nova-scheduler and fake nova-computes
# (fake.FakeLiveMigrateDriver), on RabbitMQ and MariaDB, all on 127.0.0.1;
# plus a real Keystone 30 and a second nova-api that validates its tokens,
# for the tests of authorization. See doc/source/nova-lab.rst.
#
# Environment (all optional):
#
#   NOVA_DRS_LAB_DIR        persistent lab directory (default
#                           /var/tmp/nova-drs-lab, shared with the agent lab)
#   NOVA_DRS_NOVA_VENV      Nova's own virtualenv (default $LAB_DIR/novavenv)
#   NOVA_DRS_LAB_RUN        runtime state (default /tmp/nova-drs-lab): the
#                           Nova lab's configs, pids, logs and instance
#                           state in nova/, MariaDB's pid and log when the
#                           lab had to start MariaDB itself
#   NOVA_DRS_NOVA_COMPUTES  number of fake computes, 1-9 (default 3)
#   NOVA_DRS_NOVA_PYTHON    interpreter for the virtualenv (default python3)
#   NOVA_DRS_DB_ROOT_PASSWORD  MariaDB root password, when root has one

# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NOVA_VENV=${NOVA_DRS_NOVA_VENV:-$LAB_DIR/novavenv}
LAB_RUN=${NOVA_DRS_LAB_RUN:-/tmp/nova-drs-lab}
NOVA_RUN=$LAB_RUN/nova
NOVA_COMPUTES=${NOVA_DRS_NOVA_COMPUTES:-3}
NOVA_PYTHON=${NOVA_DRS_NOVA_PYTHON:-python3}
NOVA_ETC=$NOVA_RUN/etc
# the checkout whose nova-drs the lab's nova-scheduler loads
REPO_DIR=$(cd "$LAB_TOOLS/../.." && pwd)
# The nova-drs database the lab's nova-scheduler reads through the nova-drs
# filter and weigher (doc/source/scheduler.rst), and that tests write: SQLite, in
# a directory anyone may write (tests need not run as root).
DRS_RUN=$NOVA_RUN/drs
DRS_DATABASE=$DRS_RUN/nova-drs.sqlite
# Held by each test of tests/functional/nova (tests/functional/nova/
# fixtures.py); nova-start.sh takes it before restarting a running lab.
NOVA_TESTS_LOCK=$LAB_RUN/nova-tests.lock

# Everything listens on loopback only.
NOVA_LAB_HOST=127.0.0.1
NOVA_API_PORT=8774
PLACEMENT_PORT=8778
# one small WSGI app answers for both Glance and Neutron
STUB_PORT=9696
NOVA_API_URL=http://$NOVA_LAB_HOST:$NOVA_API_PORT/v2.1
PLACEMENT_URL=http://$NOVA_LAB_HOST:$PLACEMENT_PORT

# Keystone, and the nova-api behind keystonemiddleware's auth_token (real
# tokens, Nova's own policy) that its catalog names as "compute"; the
# nova-api above keeps the lab's no-auth filter (tokens "user:project").
KEYSTONE_PORT=5000
NOVA_KS_API_PORT=8784
KEYSTONE_URL=http://$NOVA_LAB_HOST:$KEYSTONE_PORT
NOVA_KS_API_URL=http://$NOVA_LAB_HOST:$NOVA_KS_API_PORT/v2.1
# The catalog's "drs" endpoint (the nova-drs API): nothing listens there
# until a test starts nova-drs-api and points the endpoint at it.
DRS_API_CATALOG_URL=http://$NOVA_LAB_HOST:9799
# Keystone's runtime state: fernet and credential keys
KEYSTONE_RUN=$NOVA_RUN/keystone
# One cloud per lab user (openstack --os-cloud NAME), for the tests.
KEYSTONE_CLOUDS=$NOVA_RUN/etc/clouds.yaml
# The lab's passwords (tests only; read by nova_lab_keystone.py): the
# bootstrap admin "admin", the service users "nova" and "nova-drs", the
# test users drs-admin, alpha-member, beta-member and alpha-reader.
export NOVA_LAB_ADMIN_PASSWORD=drs-lab-admin
export NOVA_LAB_SERVICE_PASSWORD=drs-lab-service
export NOVA_LAB_USER_PASSWORD=drs-lab-user

DB_HOST=127.0.0.1
DB_PORT=3306
# set only when the lab started MariaDB itself (nova-stop.sh stops it)
MARIADB_PIDFILE=$LAB_RUN/mariadb.pid
# Databases and user of their own, so that a MariaDB shared with other
# work is not disturbed.
DB_USER=drs_lab
DB_PASSWORD=drs_lab
DB_API=drs_lab_nova_api
DB_CELL0=drs_lab_nova_cell0
DB_CELL1=drs_lab_nova
DB_PLACEMENT=drs_lab_placement
DB_KEYSTONE=drs_lab_keystone

RABBIT_HOST=127.0.0.1
RABBIT_PORT=5672
RABBIT_VHOST=nova_drs_lab

# The pinned Nova release (and Keystone of the same release, 2026.2) and
# the versions they were tested with.
NOVA_PINS=(nova==34.0.0 openstack-placement==16.0.0 keystone==30.0.0
           'PyMySQL>=1.0.0')
NOVA_CONSTRAINTS=$LAB_TOOLS/nova-constraints.txt

# tcp_answers HOST PORT: exit 0 when something accepts connections there.
tcp_answers() {
    timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# nova_venv_stamp: the name of the file that marks a complete install of
# the current pins and constraints.
nova_venv_stamp() {
    local sum
    sum=$({
        printf '%s\n' "${NOVA_PINS[@]}"
        cat "$NOVA_CONSTRAINTS"
    } | sha1sum | cut -c1-12)
    echo "$NOVA_VENV/.nova-drs-lab-$sum"
}

# now: seconds since the epoch, with decimals (for timings)
now() {
    date +%s.%N
}

# since T0: seconds elapsed since T0, one decimal
since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# mariadb_client: the MariaDB command line client's name.
mariadb_client() {
    if command -v mariadb >/dev/null 2>&1; then
        echo mariadb
    elif command -v mysql >/dev/null 2>&1; then
        echo mysql
    else
        return 1
    fi
}

# db_root ARGS...: run the MariaDB client as the database's root user:
# over TCP (a root without password, or NOVA_DRS_DB_ROOT_PASSWORD), else
# over the local socket (Debian's default: root authenticated as the
# system's root user).
db_root() {
    local client pw=()
    client=$(mariadb_client) || lab_die "no MariaDB client (mariadb-client)"
    if [ -n "${NOVA_DRS_DB_ROOT_PASSWORD:-}" ]; then
        pw=("-p$NOVA_DRS_DB_ROOT_PASSWORD")
    fi
    if "$client" --connect-timeout=5 -h "$DB_HOST" -P "$DB_PORT" -u root \
            "${pw[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
        "$client" --connect-timeout=5 -h "$DB_HOST" -P "$DB_PORT" -u root \
            "${pw[@]}" "$@"
    else
        lab_sudo "$client" --connect-timeout=5 -u root "${pw[@]}" "$@"
    fi
}

# service_pid NAME: the pid of lab service NAME when it runs, else fail.
service_pid() {
    local file=$NOVA_RUN/pids/$1.pid pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    # the pid must still be ours (pids are reused)
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$NOVA_VENV/" || return 1
    echo "$pid"
}

# lab_services: the names of every service the lab runs.
lab_services() {
    local n
    echo keystone stub placement-api nova-api nova-api-keystone \
        nova-conductor nova-scheduler
    for n in $(seq 1 "$NOVA_COMPUTES"); do
        echo "nova-compute-$n"
    done
}

# lab_config_stamp: a digest of what the lab's configuration is made from
# (these scripts and the settings that change it). A lab started with
# other scripts is not ready: nova-start.sh restarts it with the new
# configuration.
lab_config_stamp() {
    {
        cat "$LAB_TOOLS/nova-env.sh" "$LAB_TOOLS/nova-start.sh" \
            "$LAB_TOOLS/nova_lab_stub.py" "$LAB_TOOLS/nova_lab_keystone.py"
        printf '%s\n' "$NOVA_COMPUTES" "${NOVA_DRS_NOVA_DEBUG:-false}" \
            "${NOVA_DRS_NOVA_NOTIFICATIONS:-messagingv2}" "$REPO_DIR"
    } | sha1sum | cut -c1-12
}

# lab_ready: exit 0 when every service runs, with the configuration of
# these scripts, and Nova is ready for tests: the computes are up with
# their resource providers, and a Keystone token of a lab user works on
# the keystonemiddleware nova-api.
lab_ready() {
    local name
    for name in $(lab_services); do
        service_pid "$name" >/dev/null || return 1
    done
    if [ "$(cat "$NOVA_RUN/config.stamp" 2>/dev/null)" != \
            "$(lab_config_stamp)" ]; then
        echo "the lab runs with an older configuration (restart it with" \
            "nova-start.sh)"
        return 1
    fi
    "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_lab_keystone.py" check \
        "$KEYSTONE_CLOUDS" || return 1
    "$NOVA_VENV/bin/python" "$LAB_TOOLS/nova_lab_check.py" "$NOVA_API_URL" \
        "$PLACEMENT_URL" "$NOVA_COMPUTES" "$@"
}
