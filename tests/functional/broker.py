# SPDX-License-Identifier: Apache-2.0
"""Tidy the shared RabbitMQ after the suites that publish to it."""

import kombu
import oslo_messaging

from nova_drs import config


def delete_queues(transport_url, names):
    """Delete queues on the broker of ``transport_url``, best effort.

    Notifiers declare ``<topic>.<priority>`` queues so that nothing sent
    is lost; a test topic nobody consumes afterwards would otherwise keep
    its messages on the broker for good.
    """
    url = oslo_messaging.TransportURL.parse(config.load(), transport_url)
    host = url.hosts[0]
    with kombu.Connection(hostname=host.hostname or '127.0.0.1',
                          port=host.port or 5672,
                          userid=host.username or 'guest',
                          password=host.password or 'guest',
                          virtual_host=url.virtual_host or '/',
                          connect_timeout=5) as conn:
        for name in names:
            try:
                conn.channel().queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
