#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Make sure a MariaDB answers on 127.0.0.1:3306 for the Nova lab.
#
#   mariadb.sh start    reuse a MariaDB that answers; otherwise install
#                       mariadb-server when missing and start it: with
#                       systemd when the machine runs it, else mariadbd
#                       directly (its pid then goes to
#                       $NOVA_DRS_LAB_RUN/mariadb.pid)
#   mariadb.sh stop     stop MariaDB only if `start` started it directly
#   mariadb.sh status   exit 0 when it answers
#
# SQLite cannot stand in: Placement's concurrent writes fail with
# "database is locked", and Nova then cannot schedule.

set -euo pipefail
# shellcheck source=tools/lab/nova-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/nova-env.sh"

SOCKET_DIR=/run/mysqld

answers() {
    tcp_answers "$DB_HOST" "$DB_PORT"
}

our_pid() {
    lab_pidfile_pid "$MARIADB_PIDFILE"
}

start() {
    if answers; then
        lab_note "MariaDB answers on $DB_HOST:$DB_PORT"
        return 0
    fi
    [ "$DB_HOST" = 127.0.0.1 ] \
        || lab_die "no MariaDB answers on $DB_HOST:$DB_PORT"
    lab_apt_install mariadb-server mariadb-client
    if [ -d /run/systemd/system ]; then
        lab_note "starting mariadb (systemd)"
        lab_sudo systemctl start mariadb
        lab_started systemd mariadb
    else
        [ "$(id -u)" -eq 0 ] || exec sudo -E "$0" start
        lab_note "starting mariadbd (no systemd)"
        mkdir -p "$SOCKET_DIR" "$LAB_RUN"
        chown mysql:mysql "$SOCKET_DIR"
        if [ ! -d /var/lib/mysql/mysql ]; then
            mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
                > "$LAB_RUN/mariadb-install.log" 2>&1 \
                || lab_die "mariadb-install-db failed: see" \
                    "$LAB_RUN/mariadb-install.log"
        fi
        # The pid file goes where the mysql user may write it.
        setsid mariadbd --user=mysql --bind-address="$DB_HOST" \
            --port="$DB_PORT" --socket="$SOCKET_DIR/mysqld.sock" \
            --pid-file="$SOCKET_DIR/mysqld.pid" --max-connections=500 \
            > "$LAB_RUN/mariadb.log" 2>&1 < /dev/null &
        echo $! > "$MARIADB_PIDFILE"
        lab_started mariadbd
    fi
    local _
    for _ in $(seq 150); do
        answers && break
        if [ -f "$MARIADB_PIDFILE" ] && ! our_pid >/dev/null; then
            tail -n 20 "$LAB_RUN/mariadb.log" >&2 || true
            rm -f "$MARIADB_PIDFILE"
            lab_die "mariadbd exited at start (log: $LAB_RUN/mariadb.log)"
        fi
        sleep 0.2
    done
    answers || lab_die "MariaDB does not answer on $DB_HOST:$DB_PORT"
    lab_note "MariaDB answers on $DB_HOST:$DB_PORT"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        rm -f "$MARIADB_PIDFILE"
        return 0
    fi
    lab_stop_pid "$pid" 30
    rm -f "$MARIADB_PIDFILE"
    lab_note "stopped mariadbd $pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
