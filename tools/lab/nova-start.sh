#!/usr/bin/env bash
# shellcheck disable=SC2119  # lab_ready and db_root take optional args
# SPDX-License-Identifier: Apache-2.0
#
# Start the Nova lab for the balancer's functional tests (doc/source/nova-lab.rst):
# placement-api, nova-api, nova-conductor, nova-scheduler and
# $NOVA_DRS_NOVA_COMPUTES (default 3) nova-compute services named
# fake-host-1.. with compute_driver = fake.FakeLiveMigrateDriver, plus a
# Glance/Neutron stub, all on 127.0.0.1, workers = 1. RabbitMQ and MariaDB
# are reused when they answer, else installed and started.
#
# Also a real Keystone (fernet tokens, database in the same MariaDB) and a
# second nova-api, nova-api-keystone, on the same Nova databases and cell
# but behind keystonemiddleware's auth_token: it validates real tokens and
# applies Nova's default policy to their roles. Keystone's catalog names it
# as "compute" (with placement, the stub as image and network, and a "drs"
# endpoint for the nova-drs API of the tests), and nova_lab_keystone.py
# creates the test identities (projects drs-alpha and drs-beta; users
# drs-admin, alpha-member, beta-member, alpha-reader, and the service
# users nova and nova-drs) and writes $KEYSTONE_CLOUDS, a clouds.yaml
# with one cloud per user. Keystone's setup runs alongside Nova's schema
# sync, so it adds only a few seconds.
#
# nova-scheduler also loads the nova-drs filter and weigher
# (DRSHotspotFilter, DRSLoadWeigher) of this checkout, installed into
# Nova's virtualenv without dependencies, and reads their data from a
# SQLite nova-drs database that tests write ($DRS_DATABASE, see
# doc/source/scheduler.rst); while it is empty they change nothing.
#
# Idempotent: when the lab already runs and is ready this takes about a
# second and changes nothing. Otherwise whatever is left of an earlier lab
# is stopped and the lab starts from empty databases (about a minute on a
# 2-core machine), then waits until every compute is up and has its
# resource provider in Placement. A lab started by other versions of these
# scripts is not ready (lab_config_stamp): it is restarted, after the Nova
# test running on it, if any, has finished (the tests' lock).
#
# Exit status 0 when the lab is ready. Output on failure names the log to
# read ($NOVA_DRS_LAB_RUN/nova/log, default /tmp/nova-drs-lab/nova/log).
#
# Clients reach it with keystoneauth's admin_token plugin, token "admin":
#   Nova      http://127.0.0.1:8774/v2.1
#   Placement http://127.0.0.1:8778
# or with real tokens (openstack --os-cloud alpha-member, clouds.yaml in
# $NOVA_DRS_LAB_RUN/nova/etc):
#   Keystone  http://127.0.0.1:5000/v3
#   Nova      http://127.0.0.1:8784/v2.1 (the catalog's compute endpoint)

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

T0=$(now)
case "$NOVA_COMPUTES" in
    [1-9]) ;;
    *) lab_die "NOVA_DRS_NOVA_COMPUTES must be 1-9, not $NOVA_COMPUTES" ;;
esac

if [ -x "$NOVA_VENV/bin/python" ] && lab_ready >/dev/null 2>&1; then
    lab_note "Nova lab already running and ready ($(since "$T0") s)"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"

# One start at a time (parallel test workers, run-tests and a developer);
# a second caller waits, then finds the lab ready.
mkdir -p "$LAB_RUN"
exec 9> "$LAB_RUN/nova-start.lock"
# Labs started before run() closed the lock for its services left them
# holding it: a service that holds it is no other start in progress (it is
# stopped below, which releases it).
lock_held_by_services() {
    local name pid
    for name in $(lab_services); do
        pid=$(service_pid "$name") || continue
        if find "/proc/$pid/fd" -lname "$LAB_RUN/nova-start.lock" \
                2>/dev/null | grep -q .; then
            return 0
        fi
    done
    return 1
}
if lock_held_by_services; then
    lab_note "the running lab's services hold $LAB_RUN/nova-start.lock"
else
    flock 9
fi
if lab_ready >/dev/null 2>&1; then
    lab_note "Nova lab already running and ready ($(since "$T0") s)"
    exit 0
fi

# -- what the lab stands on ------------------------------------------------
"$LAB_TOOLS/nova-install.sh"
"$LAB_TOOLS/mariadb.sh" start

# nova-drs of this checkout, for nova-scheduler's filter and weigher. Its
# dependencies stay out: the plugins need only what Nova has (oslo.db,
# SQLAlchemy, PyMySQL, alembic), and nova-drs' own pins must not meet
# Nova's.
# (checked from / : the current directory must not make it importable)
if ! (cd / && "$NOVA_VENV/bin/python" - "$REPO_DIR" <<'PY' >/dev/null 2>&1
import os, sys
import nova_drs.scheduler.filters as f
sys.exit(0 if os.path.realpath(f.__file__).startswith(
    os.path.realpath(sys.argv[1]) + os.sep) else 1)
PY
); then
    lab_note "installing nova-drs ($REPO_DIR) into $NOVA_VENV (no deps)"
    "$NOVA_VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --no-deps -e "$REPO_DIR" \
        || lab_die "pip install -e $REPO_DIR into $NOVA_VENV failed"
fi
T_DEPS=$(now)

# A virtual host of its own keeps the lab's queues apart from other users
# of a shared broker; without rabbitmqctl (a remote broker) use "/".
transport_vhost=/
if [ "$RABBIT_HOST" = 127.0.0.1 ] && command -v rabbitmqctl >/dev/null 2>&1
then
    if ! rabbitmqctl -q list_vhosts 2>/dev/null | grep -qx "$RABBIT_VHOST"
    then
        rabbitmqctl -q add_vhost "$RABBIT_VHOST" >/dev/null 2>&1 || true
    fi
    if rabbitmqctl -q set_permissions -p "$RABBIT_VHOST" guest '.*' '.*' \
            '.*' >/dev/null 2>&1; then
        transport_vhost=$RABBIT_VHOST
        # Nova's versioned notifications have no consumer on the default
        # queue (the balancer reads its own pool): keep it bounded
        rabbitmqctl -q set_policy -p "$RABBIT_VHOST" --apply-to queues \
            nova-notifications '^versioned_notifications\.' \
            '{"max-length": 1000}' >/dev/null 2>&1 || true
    fi
fi
TRANSPORT_URL="rabbit://guest:guest@$RABBIT_HOST:$RABBIT_PORT/$transport_vhost"
[ "$transport_vhost" = / ] && TRANSPORT_URL="${TRANSPORT_URL%/}/"

# -- leftovers of an earlier lab, then a clean state ------------------------
# A lab that still runs (started with another configuration) may be in use
# by a Nova test of another process: wait for it to finish. A caller that
# holds the lock itself would wait for the timeout, then go on.
lab_running=0
for name in $(lab_services); do
    if service_pid "$name" >/dev/null; then
        lab_running=1
    fi
done
if [ "$lab_running" = 1 ]; then
    exec 8>> "$NOVA_TESTS_LOCK"
    lab_note "restarting the running lab once no Nova test uses it"
    flock -w "${NOVA_DRS_NOVA_LOCK_TIMEOUT:-120}" 8 \
        || lab_note "a Nova test still holds $NOVA_TESTS_LOCK: restarting" \
            "anyway"
fi
NOVA_DRS_KEEP_MARIADB=1 "$LAB_TOOLS/nova-stop.sh" >/dev/null
rm -rf "$NOVA_RUN"
mkdir -p "$NOVA_ETC" "$NOVA_RUN/pids" "$NOVA_RUN/log" "$NOVA_RUN/locks"

lab_note "creating the databases ($DB_API, $DB_CELL0, $DB_CELL1," \
    "$DB_PLACEMENT, $DB_KEYSTONE)"
db_root <<SQL
DROP DATABASE IF EXISTS $DB_API;
DROP DATABASE IF EXISTS $DB_CELL0;
DROP DATABASE IF EXISTS $DB_CELL1;
DROP DATABASE IF EXISTS $DB_PLACEMENT;
DROP DATABASE IF EXISTS $DB_KEYSTONE;
CREATE DATABASE $DB_API CHARACTER SET utf8mb4;
CREATE DATABASE $DB_CELL0 CHARACTER SET utf8mb4;
CREATE DATABASE $DB_CELL1 CHARACTER SET utf8mb4;
CREATE DATABASE $DB_PLACEMENT CHARACTER SET utf8mb4;
CREATE DATABASE $DB_KEYSTONE CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`drs_lab_%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`drs_lab_%\`.* TO '$DB_USER'@'localhost';
SQL

# -- configuration ----------------------------------------------------------
DB_URL="mysql+pymysql://$DB_USER:$DB_PASSWORD@$DB_HOST:$DB_PORT"

# keystoneauth settings with which Nova reaches Placement and Neutron
admin_token_auth() {
    printf 'auth_type = admin_token\nendpoint = %s\ntoken = admin\n' "$1"
}

# Read by every Nova service. No database settings here: nova-compute
# refuses to start when it sees any ("No DB access allowed").
cat > "$NOVA_ETC/nova.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT_URL
compute_driver = fake.FakeLiveMigrateDriver
state_path = $NOVA_RUN/state
my_ip = $NOVA_LAB_HOST
debug = ${NOVA_DRS_NOVA_DEBUG:-false}
graceful_shutdown_timeout = 5

[api]
auth_strategy = keystone

[wsgi]
api_paste_config = $NOVA_ETC/api-paste.ini

[placement]
$(admin_token_auth "$PLACEMENT_URL")

[glance]
api_servers = http://$NOVA_LAB_HOST:$STUB_PORT

[neutron]
$(admin_token_auth "http://$NOVA_LAB_HOST:$STUB_PORT")
endpoint_override = http://$NOVA_LAB_HOST:$STUB_PORT

[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10

[conductor]
workers = 1

[oslo_concurrency]
lock_path = $NOVA_RUN/locks

[oslo_messaging_notifications]
driver = ${NOVA_DRS_NOVA_NOTIFICATIONS:-messagingv2}

# the lab's project ids are not Keystone's (there is none): no quotas, so
# that tests can boot servers big enough to load a 1000-vCPU fake host
[quota]
driver = nova.quota.NoopQuotaDriver

[notifications]
notification_format = versioned
# instance.update on every state change, e.g. metadata (opt-out) set
notify_on_state_change = vm_and_task_state

[vnc]
enabled = false
EOF

# Only nova-scheduler reads this: the nova-drs filter and weigher on top of
# Nova's defaults (Nova 34's enabled_filters), reading the lab's nova-drs
# database often and trusting it briefly, so that tests need not wait.
cat > "$NOVA_ETC/scheduler.conf" <<EOF
[filter_scheduler]
available_filters = nova.scheduler.filters.all_filters
available_filters = nova_drs.scheduler.filters.DRSHotspotFilter
enabled_filters = ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,DRSHotspotFilter
weight_classes = nova.scheduler.weights.all_weighers
weight_classes = nova_drs.scheduler.weighers.DRSLoadWeigher

[drs_scheduler]
refresh_interval = 0.5
max_age = 5
warning_interval = 30
# strict, so that the tests see the filter's own decisions
pass_all_when_all_rejected = false

[drs_database]
connection = sqlite:///$DRS_DATABASE
EOF

# Only nova-api, nova-conductor, nova-scheduler and nova-manage read this.
cat > "$NOVA_ETC/db.conf" <<EOF
[api_database]
connection = $DB_URL/$DB_API
max_pool_size = 5
max_overflow = 10

[database]
connection = $DB_URL/$DB_CELL1
max_pool_size = 5
max_overflow = 10
EOF

cat > "$NOVA_ETC/placement.conf" <<EOF
[DEFAULT]
debug = ${NOVA_DRS_NOVA_DEBUG:-false}

[api]
# token "admin" is an admin, any other token a member: tests only
auth_strategy = noauth2

[placement_database]
connection = $DB_URL/$DB_PLACEMENT
max_pool_size = 5
max_overflow = 10
EOF

# Nova's own paste file with keystonemiddleware's auth_token swapped for
# the lab's filter (nova_lab_noauth.py); the pipelines stay as shipped.
sed -e '/^\[filter:authtoken\]/,/^\[/ s#^paste\.filter_factory = .*#paste.filter_factory = nova_lab_noauth:NoAuthFilter.factory#' \
    "$NOVA_VENV/etc/nova/api-paste.ini" > "$NOVA_ETC/api-paste.ini"
grep -q '^paste.filter_factory = nova_lab_noauth:' "$NOVA_ETC/api-paste.ini" \
    || lab_die "could not replace authtoken in $NOVA_ETC/api-paste.ini"

# -- Keystone, and the nova-api that validates its tokens --------------------
mkdir -p "$KEYSTONE_RUN/fernet-keys" "$KEYSTONE_RUN/credential-keys"
chmod 0700 "$KEYSTONE_RUN/fernet-keys" "$KEYSTONE_RUN/credential-keys"
cat > "$NOVA_ETC/keystone.conf" <<EOF
[DEFAULT]
debug = ${NOVA_DRS_NOVA_DEBUG:-false}

[database]
connection = $DB_URL/$DB_KEYSTONE
max_pool_size = 5
max_overflow = 10

[token]
provider = fernet

[fernet_tokens]
key_repository = $KEYSTONE_RUN/fernet-keys

[credential]
key_repository = $KEYSTONE_RUN/credential-keys

[identity]
# tests authenticate with passwords often: bcrypt's cheapest cost (a lab
# only; the default, 12, costs about 0.25 s of CPU per password check)
password_hash_rounds = 4
# bcrypt's own limit (a longer limit makes keystone warn at each check)
max_password_length = 72

[cache]
# one keystone process: an in-process cache is coherent, and makes token
# validations (every request of every lab service) about 3 times cheaper
enabled = true
backend = dogpile.cache.memory
EOF

# Nova's paste file as shipped: keystonemiddleware's auth_token validates
# the tokens. Nova's WSGI module takes the first file of
# OS_NOVA_CONFIG_FILES as its paste file; the last adds auth_token's
# settings, read by this nova-api only.
cp "$NOVA_VENV/etc/nova/api-paste.ini" "$NOVA_ETC/api-paste-keystone.ini"
cat > "$NOVA_ETC/nova-api-keystone.conf" <<EOF
[keystone_authtoken]
www_authenticate_uri = $KEYSTONE_URL
auth_url = $KEYSTONE_URL
auth_type = password
username = nova
password = $NOVA_LAB_SERVICE_PASSWORD
user_domain_id = default
project_name = service
project_domain_id = default
EOF

# Each compute gets other reservations and allocation ratios, so that tests
# can tell that the balancer reads Placement's values rather than defaults.
compute_conf() {
    case "$1" in
        1) echo 'reserved_host_cpus = 2
reserved_host_memory_mb = 1024
cpu_allocation_ratio = 2.0
ram_allocation_ratio = 1.5' ;;
        2) echo 'reserved_host_cpus = 0
reserved_host_memory_mb = 512
cpu_allocation_ratio = 4.0
ram_allocation_ratio = 1.0' ;;
        *) echo 'reserved_host_cpus = 1
reserved_host_memory_mb = 2048
cpu_allocation_ratio = 8.0
ram_allocation_ratio = 1.25' ;;
    esac
}
for n in $(seq 1 "$NOVA_COMPUTES"); do
    mkdir -p "$NOVA_RUN/compute-$n/instances"
    cat > "$NOVA_ETC/compute-$n.conf" <<EOF
[DEFAULT]
host = fake-host-$n
state_path = $NOVA_RUN/compute-$n
instances_path = $NOVA_RUN/compute-$n/instances
$(compute_conf "$n")
EOF
done
T_CONF=$(now)

PY=$NOVA_VENV/bin/python

# run NAME COMMAND...: start a service in its own session, log and pid
# under $NOVA_RUN; with no open file but its log: not this script's locks
# (fds 8 and 9), nor any its caller left open (a lock taken with flock(1)
# around this script), which the service would otherwise hold as long as
# it runs.
run() {
    local name=$1 fd
    shift
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ]; then
                eval "exec $fd>&-"
            fi
        done
        exec setsid "$@" > "$NOVA_RUN/log/$name.log" 2>&1 < /dev/null
    ) &
    echo $! > "$NOVA_RUN/pids/$name.pid"
}

# -- Keystone, in the background --------------------------------------------
# Its schema, keys and bootstrap (admin, the default roles, the identity
# endpoint), then the service, then the catalog and the test identities:
# all while Nova's schemas sync, so that Keystone is ready about when
# Nova's services start. The keys need no database: made during db_sync.
KEYSTONE_MANAGE=("$NOVA_VENV/bin/keystone-manage" --config-file
                 "$NOVA_ETC/keystone.conf")
{
    "${KEYSTONE_MANAGE[@]}" fernet_setup --keystone-user root \
        --keystone-group root &
    keys=$!
    "${KEYSTONE_MANAGE[@]}" credential_setup --keystone-user root \
        --keystone-group root
    "${KEYSTONE_MANAGE[@]}" db_sync
    wait "$keys"
    "${KEYSTONE_MANAGE[@]}" bootstrap \
        --bootstrap-password "$NOVA_LAB_ADMIN_PASSWORD" \
        --bootstrap-public-url "$KEYSTONE_URL/v3" \
        --bootstrap-internal-url "$KEYSTONE_URL/v3" \
        --bootstrap-admin-url "$KEYSTONE_URL/v3" \
        --bootstrap-region-id RegionOne
    OS_KEYSTONE_CONFIG_DIR=$NOVA_ETC OS_KEYSTONE_CONFIG_FILES=keystone.conf \
        run keystone "$PY" "$LAB_TOOLS/nova_lab_wsgi.py" "$NOVA_LAB_HOST" \
        "$KEYSTONE_PORT" keystone.wsgi.api:application
    "$PY" "$LAB_TOOLS/nova_lab_keystone.py" setup "$KEYSTONE_URL" \
        "$KEYSTONE_CLOUDS" 90 \
        "compute=nova=$NOVA_KS_API_URL" \
        "placement=placement=$PLACEMENT_URL" \
        "image=glance-stub=http://$NOVA_LAB_HOST:$STUB_PORT" \
        "network=neutron-stub=http://$NOVA_LAB_HOST:$STUB_PORT" \
        "drs=nova-drs=$DRS_API_CATALOG_URL"
} > "$NOVA_RUN/log/keystone-setup.log" 2>&1 &
KEYSTONE_SETUP=$!

# -- database schemas ------------------------------------------------------
NOVA_MANAGE=("$NOVA_VENV/bin/nova-manage" --config-file "$NOVA_ETC/nova.conf"
             --config-file "$NOVA_ETC/db.conf")
lab_note "syncing the database schemas (about 20 s)"
{
    "${NOVA_MANAGE[@]}" api_db sync
    "${NOVA_MANAGE[@]}" cell_v2 map_cell0 \
        --database_connection "$DB_URL/$DB_CELL0"
    "${NOVA_MANAGE[@]}" cell_v2 create_cell --name cell1
    "${NOVA_MANAGE[@]}" db sync
    # placement-manage ignores OS_PLACEMENT_CONFIG_DIR: name the file
    "$NOVA_VENV/bin/placement-manage" --config-file "$NOVA_ETC/placement.conf" \
        db sync
    # the nova-drs database, empty: the plugins pass every host
    mkdir -p "$DRS_RUN"
    chmod 1777 "$DRS_RUN"
    "$NOVA_VENV/bin/python" -c 'import sys
from nova_drs.db import migration
migration.upgrade(None, connection=sys.argv[1])' "sqlite:///$DRS_DATABASE"
    chmod 0666 "$DRS_DATABASE"
} > "$NOVA_RUN/log/db-sync.log" 2>&1 \
    || lab_die "database setup failed: see $NOVA_RUN/log/db-sync.log"
T_DB=$(now)

# -- services ----------------------------------------------------------------
lab_note "starting $(lab_services | grep -vx keystone | tr '\n' ' ')"
run stub "$PY" "$LAB_TOOLS/nova_lab_wsgi.py" "$NOVA_LAB_HOST" "$STUB_PORT" \
    nova_lab_stub:application
OS_PLACEMENT_CONFIG_DIR=$NOVA_ETC run placement-api \
    "$PY" "$LAB_TOOLS/nova_lab_wsgi.py" "$NOVA_LAB_HOST" "$PLACEMENT_PORT" \
    placement.wsgi.api:application
OS_NOVA_CONFIG_DIR=$NOVA_ETC \
    OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;db.conf" run nova-api \
    "$PY" "$LAB_TOOLS/nova_lab_wsgi.py" "$NOVA_LAB_HOST" "$NOVA_API_PORT" \
    nova.wsgi.osapi_compute:application
ks_api_files="api-paste-keystone.ini;nova.conf;db.conf"
ks_api_files+=";nova-api-keystone.conf"
OS_NOVA_CONFIG_DIR=$NOVA_ETC OS_NOVA_CONFIG_FILES=$ks_api_files \
    run nova-api-keystone "$PY" "$LAB_TOOLS/nova_lab_wsgi.py" \
    "$NOVA_LAB_HOST" "$NOVA_KS_API_PORT" nova.wsgi.osapi_compute:application
run nova-conductor "$NOVA_VENV/bin/nova-conductor" \
    --config-file "$NOVA_ETC/nova.conf" --config-file "$NOVA_ETC/db.conf"
run nova-scheduler "$NOVA_VENV/bin/nova-scheduler" \
    --config-file "$NOVA_ETC/nova.conf" --config-file "$NOVA_ETC/db.conf" \
    --config-file "$NOVA_ETC/scheduler.conf"
for n in $(seq 1 "$NOVA_COMPUTES"); do
    run "nova-compute-$n" "$NOVA_VENV/bin/nova-compute" \
        --config-file "$NOVA_ETC/nova.conf" \
        --config-file "$NOVA_ETC/compute-$n.conf"
done

# Keystone, its catalog and the test identities (usually ready by now).
wait "$KEYSTONE_SETUP" || {
    tail -n 5 "$NOVA_RUN/log/keystone-setup.log" >&2
    lab_die "Keystone setup failed: see $NOVA_RUN/log/keystone-setup.log" \
        "and keystone.log"
}
T_KEYSTONE=$(now)

# Wait until every compute is up with a resource provider; give up early
# when a service died.
ready=0
for _ in $(seq 1 "${NOVA_DRS_NOVA_START_TIMEOUT:-240}"); do
    for name in $(lab_services); do
        if ! service_pid "$name" >/dev/null; then
            tail -n 25 "$NOVA_RUN/log/$name.log" >&2 || true
            lab_die "$name exited at start: see $NOVA_RUN/log/$name.log"
        fi
    done
    if "$PY" "$LAB_TOOLS/nova_lab_check.py" "$NOVA_API_URL" "$PLACEMENT_URL" \
            "$NOVA_COMPUTES" > "$NOVA_RUN/log/check.log" 2>&1; then
        ready=1
        break
    fi
    sleep 1
done
if [ "$ready" != 1 ]; then
    cat "$NOVA_RUN/log/check.log" >&2
    lab_die "the Nova lab is not ready: see the logs in $NOVA_RUN/log"
fi
# a member's token works on the keystonemiddleware nova-api
"$PY" "$LAB_TOOLS/nova_lab_keystone.py" check "$KEYSTONE_CLOUDS" \
    >> "$NOVA_RUN/log/keystone-setup.log" 2>&1 || {
        tail -n 5 "$NOVA_RUN/log/keystone-setup.log" >&2
        lab_die "nova-api-keystone refuses a Keystone token: see" \
            "$NOVA_RUN/log/nova-api-keystone.log"
    }
# map the new computes to cell1 now rather than at the scheduler's next
# periodic discovery
"${NOVA_MANAGE[@]}" cell_v2 discover_hosts >> "$NOVA_RUN/log/db-sync.log" 2>&1
# this configuration is what runs now (lab_ready compares it)
lab_config_stamp > "$NOVA_RUN/config.stamp"
T_END=$(now)

lab_note "$(cat "$NOVA_RUN/log/check.log")"
lab_note "timings: install/deps $(awk -v a="$T0" -v b="$T_DEPS" \
    'BEGIN{printf "%.1f", b-a}') s, config $(awk -v a="$T_DEPS" \
    -v b="$T_CONF" 'BEGIN{printf "%.1f", b-a}') s, db sync $(awk \
    -v a="$T_CONF" -v b="$T_DB" 'BEGIN{printf "%.1f", b-a}') s, services \
$(awk -v a="$T_DB" -v b="$T_END" 'BEGIN{printf "%.1f", b-a}') s (waited \
$(awk -v a="$T_DB" -v b="$T_KEYSTONE" 'BEGIN{printf "%.1f", b-a}') s of them \
for Keystone's setup);" "total $(since "$T0") s"
lab_note "Nova $NOVA_API_URL, Placement $PLACEMENT_URL (token admin)," \
    "logs in $NOVA_RUN/log"
lab_note "Keystone $KEYSTONE_URL/v3, Nova with real tokens $NOVA_KS_API_URL," \
    "clouds.yaml $KEYSTONE_CLOUDS"
