#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Make sure MariaDB and PostgreSQL answer on 127.0.0.1 for the database
# functional tests (tests/functional/db), with the test user they use:
#
#   * MariaDB on 127.0.0.1:3306: tools/lab/mariadb.sh start (reuses a
#     server that answers; else installs mariadb-server and starts it,
#     without systemd when there is none);
#   * PostgreSQL on 127.0.0.1:5432: reuses a server that answers; else
#     installs postgresql from Debian and starts its cluster "main"
#     (created when missing) with systemctl, or with pg_ctlcluster
#     --skip-systemctl-redirect when there is no systemd;
#   * the user openstack_citest, password openstack_citest (OpenStack's
#     usual test credentials, as oslo.db's provisioning expects): on
#     MariaDB with every privilege on the databases named drs_ft_* only,
#     on PostgreSQL a role with CREATEDB. The tests create a database
#     with a random drs_ft_* name per test class, and drop it after.
#
# Idempotent; about a second when everything is there already (it then
# only checks that the test user can log in to both). Run as root, or as a
# user with sudo. NOVA_DRS_SKIP_DB=1 does nothing (the tests then skip).
# The tests connect as
#
#   mysql+pymysql://openstack_citest:openstack_citest@127.0.0.1:3306/
#   postgresql+psycopg2://openstack_citest:openstack_citest@127.0.0.1:5432/postgres
#
# unless NOVA_DRS_TEST_MYSQL_URL / NOVA_DRS_TEST_POSTGRESQL_URL say
# otherwise (then this script is not needed). NOVA_DRS_PG_PORT and
# NOVA_DRS_PG_CLUSTER choose another port and Debian cluster name.

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

if [ "${NOVA_DRS_SKIP_DB:-0}" = 1 ]; then
    lab_note "NOVA_DRS_SKIP_DB=1: not setting up the databases" \
        "(the database functional tests will be skipped)"
    exit 0
fi

T0=$(now)
TEST_USER=openstack_citest
TEST_PASSWORD=openstack_citest
PG_HOST=127.0.0.1
PG_PORT=${NOVA_DRS_PG_PORT:-5432}
# the Debian cluster to create and start when nothing answers on PG_PORT
PG_CLUSTER=${NOVA_DRS_PG_CLUSTER:-main}

# -- MariaDB ----------------------------------------------------------------

mariadb_user_ok() {
    local client
    client=$(mariadb_client) || return 1
    "$client" --connect-timeout=5 -h "$DB_HOST" -P "$DB_PORT" \
        -u "$TEST_USER" "-p$TEST_PASSWORD" -e 'SELECT 1' >/dev/null 2>&1
}

setup_mariadb() {
    "$LAB_TOOLS/mariadb.sh" start
    mariadb_client >/dev/null || lab_apt_install mariadb-client
    if mariadb_user_ok; then
        lab_note "MariaDB: user $TEST_USER can log in"
        return 0
    fi
    lab_note "MariaDB: creating user $TEST_USER (databases drs_ft_*)"
    # 'localhost' and '127.0.0.1': MariaDB names a TCP client on the
    # loopback either way, depending on name resolution.
    db_root --batch <<EOF
CREATE USER IF NOT EXISTS '$TEST_USER'@'localhost'
    IDENTIFIED BY '$TEST_PASSWORD';
CREATE USER IF NOT EXISTS '$TEST_USER'@'127.0.0.1'
    IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
GRANT ALL PRIVILEGES ON \`drs\\_ft\\_%\`.* TO '$TEST_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`drs\\_ft\\_%\`.* TO '$TEST_USER'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF
    mariadb_user_ok || lab_die "MariaDB: $TEST_USER cannot log in on" \
        "$DB_HOST:$DB_PORT after it was created (an anonymous user?" \
        "see SELECT user, host FROM mysql.user)"
}

# -- PostgreSQL ---------------------------------------------------------------

pg_answers() {
    tcp_answers "$PG_HOST" "$PG_PORT"
}

pg_user_ok() {
    command -v psql >/dev/null 2>&1 || return 1
    PGPASSWORD=$TEST_PASSWORD PGCONNECT_TIMEOUT=5 psql -w -h "$PG_HOST" \
        -p "$PG_PORT" -U "$TEST_USER" -d postgres -Atqc 'SELECT 1' \
        >/dev/null 2>&1
}

# pg_admin ARGS...: psql as the postgres superuser: over TCP when that
# is allowed without a password, else over the local socket as the
# postgres system user (Debian's default "peer" authentication).
pg_admin() {
    if PGCONNECT_TIMEOUT=5 psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres \
            -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
        psql -w -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- psql -p "$PG_PORT" -d postgres "$@"
    else
        lab_sudo -u postgres psql -p "$PG_PORT" -d postgres "$@"
    fi
}

pg_version() {
    # the newest installed server
    find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' \
        2>/dev/null | sort -n | tail -n 1
}

start_postgresql() {
    local version status=0
    lab_apt_install postgresql postgresql-client
    # the package may have started its cluster
    pg_answers && return 0
    version=$(pg_version)
    [ -n "$version" ] || lab_die "PostgreSQL installed but no server" \
        "found in /usr/lib/postgresql"
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' \
            | grep -qx "$version $PG_CLUSTER"; then
        lab_note "PostgreSQL: creating cluster $version/$PG_CLUSTER"
        lab_sudo pg_createcluster --port="$PG_PORT" "$version" \
            "$PG_CLUSTER" >/dev/null
    fi
    pg_ctlcluster "$version" "$PG_CLUSTER" status >/dev/null 2>&1 \
        || status=$?
    if [ "$status" -eq 0 ]; then
        lab_die "PostgreSQL cluster $version/$PG_CLUSTER runs but does" \
            "not answer on $PG_HOST:$PG_PORT (see pg_lsclusters)"
    elif [ -d /run/systemd/system ]; then
        lab_note "starting PostgreSQL $version/$PG_CLUSTER (systemd)"
        lab_sudo systemctl start "postgresql@$version-$PG_CLUSTER"
        lab_started systemd "postgresql@$version-$PG_CLUSTER"
    else
        lab_note "starting PostgreSQL $version/$PG_CLUSTER (no systemd)"
        lab_sudo pg_ctlcluster --skip-systemctl-redirect "$version" \
            "$PG_CLUSTER" start
        lab_started pgcluster "$version" "$PG_CLUSTER"
    fi
    local _
    for _ in $(seq 150); do
        pg_answers && return 0
        sleep 0.2
    done
    lab_die "PostgreSQL does not answer on $PG_HOST:$PG_PORT (log:" \
        "/var/log/postgresql/postgresql-$version-$PG_CLUSTER.log)"
}

setup_postgresql() {
    if pg_answers; then
        lab_note "PostgreSQL answers on $PG_HOST:$PG_PORT"
        command -v psql >/dev/null 2>&1 || lab_apt_install postgresql-client
    else
        [ "$PG_HOST" = 127.0.0.1 ] \
            || lab_die "no PostgreSQL answers on $PG_HOST:$PG_PORT"
        start_postgresql
        lab_note "PostgreSQL answers on $PG_HOST:$PG_PORT"
    fi
    if pg_user_ok; then
        lab_note "PostgreSQL: role $TEST_USER can log in"
        return 0
    fi
    lab_note "PostgreSQL: creating role $TEST_USER (CREATEDB)"
    pg_admin -v ON_ERROR_STOP=1 -q >/dev/null <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_USER') THEN
        CREATE ROLE $TEST_USER LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
    ELSE
        ALTER ROLE $TEST_USER LOGIN CREATEDB PASSWORD '$TEST_PASSWORD';
    END IF;
END
\$\$;
EOF
    pg_user_ok || lab_die "PostgreSQL: $TEST_USER cannot log in on" \
        "$PG_HOST:$PG_PORT with its password; pg_hba.conf needs a" \
        "'host all all 127.0.0.1/32 scram-sha-256' line (Debian's default)"
}

setup_mariadb
setup_postgresql
lab_note "databases ready ($(since "$T0") s)"
