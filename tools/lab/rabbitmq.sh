#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Make sure a RabbitMQ broker answers on $NOVA_DRS_RABBIT_HOST:5672
# (default 127.0.0.1) for the agent's functional tests. When one already
# answers it is used as it is (guest/guest, the Debian default); otherwise
# rabbitmq-server is installed from Debian (not enabled at boot) and
# started, with or without systemd (recorded for tools/run-tests.sh to
# stop, see lab_started). Idempotent and fast when the broker is up.

set -euo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=${NOVA_DRS_RABBIT_HOST:-127.0.0.1}
PORT=${NOVA_DRS_RABBIT_PORT:-5672}

answers() {
    timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

if answers; then
    lab_note "RabbitMQ answers on $HOST:$PORT"
    exit 0
fi
[ "$HOST" = 127.0.0.1 ] || [ "$HOST" = localhost ] \
    || lab_die "nothing answers on $HOST:$PORT and it is not this machine"

lab_apt_install rabbitmq-server
lab_note "starting rabbitmq-server"
if [ -d /run/systemd/system ]; then
    lab_sudo systemctl start rabbitmq-server
    lab_started systemd rabbitmq-server
elif [ -x /etc/init.d/rabbitmq-server ]; then
    lab_sudo /etc/init.d/rabbitmq-server start
    lab_started initd rabbitmq-server
else
    lab_sudo su rabbitmq -s /bin/sh -c 'rabbitmq-server -detached'
    lab_started rabbitmq
fi
for _ in $(seq 120); do
    answers && break
    sleep 0.5
done
answers || lab_die "RabbitMQ does not answer on $HOST:$PORT after 60 s"
lab_note "RabbitMQ answers on $HOST:$PORT"
