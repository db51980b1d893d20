# SPDX-License-Identifier: Apache-2.0
"""Which intake partition a compute host's notifications go to.

The agents and the balancer must agree without talking to each other, so
the partition is a pure function of the host name and the partition count
(``[drs_agent] partitions`` on the agents, ``[drs_listener] partitions``
on the balancers: the same number): the first eight bytes of the host
name's SHA-256, modulo the count. Not Python's ``hash()``, which is
salted per process.

Each partition has its own notification topic, ``<topic>.<count>.p<n>``
(e.g. ``drs_notifications.64.p007``). The count is part of the name, so an
agent and a balancer configured with different counts never mix their
partitions: the agent's notifications wait in queues no balancer reads,
which the broker's monitoring shows (``doc/source/balancer.rst``).
"""

import hashlib

#: 0: no partitions (one topic for every host, the earlier scheme)
UNPARTITIONED = 0


def partition_of(host, count):
    """The partition (0 .. count - 1) of ``host``.

    :raises ValueError: ``count`` is not positive
    """
    if count <= 0:
        raise ValueError('the partition count must be positive, not %r'
                         % (count,))
    digest = hashlib.sha256(host.encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'big') % count


def partition_topic(topic, partition, count):
    """The notification topic of one partition."""
    return '%s.%d.p%03d' % (topic, count, partition)


def topic_for(topic, host, count):
    """The topic ``host``'s agent publishes to (``topic`` itself at 0)."""
    if count == UNPARTITIONED:
        return topic
    return partition_topic(topic, partition_of(host, count), count)


def ring_key(partition):
    """The key of a partition on the replicas' hash ring."""
    return 'partition-%d' % partition
