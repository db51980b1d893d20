# SPDX-License-Identifier: Apache-2.0
"""Deleting queues nova-drs processes left on the broker.

Queues declared through oslo.messaging outlive the processes that read
them: a notifier declares ``<topic>.<priority>`` so that nothing sent is
lost, and a listener pool's queue stays bound to its exchange. A load test
or a test run that used throwaway topics or pools deletes them when it
ends, or each run would leave its last messages on the broker, and a pool
queue bound to Nova's exchange would keep filling with Nova's
notifications. RabbitMQ only (the only driver oslo.messaging supports for
notifications in production).
"""

import logging

import kombu
from oslo_config import cfg
import oslo_messaging

LOG = logging.getLogger(__name__)


def _broker_urls(transport_url):
    """kombu's ``;``-separated alternates for an oslo.messaging URL."""
    url = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), transport_url)
    if url.transport not in ('rabbit', 'amqp'):
        raise ValueError('%s: not a RabbitMQ transport URL' % url.transport)
    return ';'.join(
        'amqp://%s:%s@%s:%s/%s' % (
            h.username or 'guest', h.password or 'guest',
            h.hostname or '127.0.0.1', h.port or 5672,
            url.virtual_host or '')
        for h in url.hosts)


def delete_queues(transport_url, names, timeout=10.0):
    """Delete the queues ``names``, best effort.

    A queue that is not there counts as deleted (RabbitMQ's delete is
    idempotent). Errors are logged, never raised: whoever cleans up has
    its own result to give.

    :returns: how many of ``names`` are now gone
    """
    deleted = 0
    try:
        with kombu.Connection(_broker_urls(transport_url),
                              connect_timeout=timeout) as conn:
            channel = conn.channel()
            for name in names:
                try:
                    channel.queue_delete(queue=name)
                    deleted += 1
                except Exception as e:  # the broker closed the channel
                    LOG.warning('cannot delete queue %s: %s', name, e)
                    channel = conn.channel()
    except Exception as e:  # unreachable broker, bad URL
        LOG.warning('cannot delete %d queue(s) on the broker: %s',
                    len(names) - deleted, e)
    return deleted
