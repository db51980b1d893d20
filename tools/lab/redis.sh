#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Make sure Redis answers on 127.0.0.1:6379 for the coordination
# functional tests (tests/functional/balancer/test_coordination.py):
#
#   * a server that answers PING is reused as it is (about 10 ms);
#   * else the Debian package redis-server is installed when missing, and
#     started when installing did not start it (no systemd, as in CI
#     containers): daemonized, bound to the loopback only, without
#     persistence (the tests only need a live server).
#
# Idempotent. Run as root, or as a user with sudo. NOVA_DRS_SKIP_REDIS=1
# does nothing (the tests then skip). NOVA_DRS_REDIS_PORT chooses another
# port; the tests read NOVA_DRS_TEST_REDIS_URL (default
# redis://127.0.0.1:6379).

set -euo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${NOVA_DRS_REDIS_PORT:-6379}

if [ "${NOVA_DRS_SKIP_REDIS:-0}" = 1 ]; then
    lab_note "NOVA_DRS_SKIP_REDIS=1: not setting up Redis" \
        "(the coordination functional tests will be skipped)"
    exit 0
fi

# redis_ping: true when a Redis server answers PING on the port.
redis_ping() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" \
        && printf "PING\r\n" >&3 && read -r reply <&3 \
        && [[ $reply == +PONG* ]]' redis_ping "$PORT" 2>/dev/null
}

if redis_ping; then
    lab_note "Redis answers on 127.0.0.1:$PORT"
    exit 0
fi

lab_apt_install redis-server
if ! redis_ping; then
    lab_note "starting redis-server on 127.0.0.1:$PORT"
    lab_sudo mkdir -p /var/lib/redis /var/log/redis
    lab_sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 \
        --port "$PORT" --save "" --appendonly no --dir /var/lib/redis \
        --logfile /var/log/redis/ci.log
    lab_started redis "$PORT"
fi
for _ in $(seq 50); do
    if redis_ping; then
        lab_note "Redis answers on 127.0.0.1:$PORT"
        exit 0
    fi
    sleep 0.2
done
lab_die "Redis does not answer on 127.0.0.1:$PORT; see /var/log/redis/ci.log"
