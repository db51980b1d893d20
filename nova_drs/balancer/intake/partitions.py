# SPDX-License-Identifier: Apache-2.0
"""Partitioned metrics intake: each replica reads only its own hosts.

With ``[drs_listener] partitions`` N > 0 an agent publishes to the topic
of its host's partition (:mod:`nova_drs.notifications.partition`), whose
queue ``<topic>.<N>.p<n>.sample`` is the one queue of that partition,
shared by whichever replica owns it. The replicas share the N partitions on
the coordination hash ring (:meth:`nova_drs.balancer.coordination.membership.
Coordinator.owned_partitions`); a host belongs to the owner of its
partition. :class:`PartitionedIntake` consumes the queues of the partitions
this replica owns, with one oslo.messaging listener over all of them, and
starts it again over the new set whenever ownership changes
(:meth:`PartitionedIntake.rebalance`, called on every membership change):

* a partition given up: the listener is stopped first, which finishes and
  acknowledges the batches in hand; what was fetched but not handled is
  returned to the queue by the broker when the channel closes;
* a partition taken over: its queue kept whatever arrived while nobody
  read it (a replica killed: until the survivors saw its membership
  expire), and the new owner reads it from there. Nothing is lost.
* a message is acknowledged after it was handled, by one replica: a queue
  delivers each message to one consumer. A replica that dies after
  handling a batch and before acknowledging it has it delivered again to
  the next owner, which has not seen it (the host view drops a sample it
  has already taken, by run and sequence number, so a redelivery to the
  same replica changes nothing either).

Upgrades. Agents still publishing to ``[drs_listener] topic`` itself
(``[drs_agent] partitions`` 0) reach its default queue ``<topic>.sample``,
which every replica also reads, as competing consumers: a report of a host
this replica owns is taken in at once, any other is forwarded unchanged
(same publisher id, event type and payload, so its signature still
verifies) to its partition's topic, where its owner reads it. Hotspot
notifications stay urgent: one more hop through the broker.
"""

import threading
import time

from oslo_log import log as logging
import oslo_messaging

from nova_drs.balancer.intake import listener
from nova_drs.notifications import partition as partition_mod
from nova_drs.notifications import signing
from nova_drs import periodic

LOG = logging.getLogger(__name__)


class _LegacyEndpoint:
    """The unpartitioned queue: take own hosts' reports, forward others."""

    def __init__(self, intake):
        self.intake = intake
        self._lock = threading.Lock()
        #: reports taken in here (own hosts) and forwarded
        self.taken = 0
        self.forwarded = 0

    def sample(self, messages):
        mine, foreign = [], []
        for message in messages:
            host = self.intake.host_of(message)
            if host is None or self.intake.owns(host):
                # not an agent's: the endpoint drops (and counts) it
                mine.append(message)
            else:
                foreign.append((host, message))
        for host, message in foreign:
            self.intake.forward(host, message)
        if mine:
            self.intake.endpoint.sample(mine)
        with self._lock:
            self.taken += len(mine)
            self.forwarded += len(foreign)
        return oslo_messaging.NotificationResult.HANDLED


class PartitionedIntake:
    """Reads the owned partitions' queues into a :class:`MetricsHandler`.

    Same interface as
    :class:`nova_drs.balancer.intake.listener.MetricsListener` (``start``,
    ``stop``, ``stats``, ``queue``), plus :meth:`rebalance`.

    :param conf: configuration (``[drs_listener]``, oslo.messaging's
        transport options)
    :param handler: where checked notifications go (the host view)
    :param coordinator: the replica's
        :class:`~nova_drs.balancer.coordination.membership.Coordinator`, made
        with ``partitions=[drs_listener] partitions``
    :param transport: a notification transport; by default one is made
        from the configuration at :meth:`start`
    """

    def __init__(self, conf, handler, coordinator, transport=None,
                 clock=time.monotonic):
        opts = conf.drs_listener
        self.conf = conf
        self.count = opts.partitions
        if self.count <= 0:
            raise ValueError('[drs_listener] partitions is not set')
        if coordinator.partitions != self.count:
            raise ValueError('the coordinator shares %d partitions, the '
                             'intake %d' % (coordinator.partitions,
                                            self.count))
        self.topic = opts.topic
        self.coordinator = coordinator
        self.endpoint = listener.MetricsEndpoint(
            handler, opts.drop_log_interval, clock,
            verifier=signing.Verifier.from_conf(conf),
            max_clock_skew=opts.max_clock_skew)
        self.legacy = _LegacyEndpoint(self)
        self._transport = transport
        self._own_transport = transport is None
        self._lock = threading.Lock()
        self._server = None
        self._legacy_server = None
        self._notifiers = {}
        self._started = False
        self._runner = None
        #: the partitions read now
        self.owned = frozenset()
        self.rebalances = 0

    # -- what the legacy endpoint needs --

    @staticmethod
    def host_of(message):
        """The agent's host from the publisher id, or None."""
        match = listener._PUBLISHER_RE.match(
            message.get('publisher_id') or '') if isinstance(
                message.get('publisher_id'), str) else None
        return match.group(1) if match else None

    def owns(self, host):
        return self.coordinator.owns(host)

    def forward(self, host, message):
        """Publish ``message`` again to the topic of ``host``'s partition."""
        topic = partition_mod.topic_for(self.topic, host, self.count)
        notifier = self._notifiers.get(topic)
        if notifier is None:
            notifier = oslo_messaging.Notifier(
                self._transport, driver='messagingv2', topics=[topic])
            self._notifiers[topic] = notifier
        notifier.prepare(publisher_id=message['publisher_id']).sample(
            {}, message.get('event_type'), message.get('payload'))

    # -- life cycle --

    @property
    def queue(self):
        """The queues read now, as one string (for logs and status)."""
        return ', '.join(self.queues())

    def queues(self):
        return ['%s.sample' % partition_mod.partition_topic(
            self.topic, p, self.count) for p in sorted(self.owned)]

    def _listener(self, topics, endpoint):
        opts = self.conf.drs_listener
        return oslo_messaging.get_batch_notification_listener(
            self._transport,
            [oslo_messaging.Target(topic=t) for t in topics],
            [endpoint], executor='threading', allow_requeue=False,
            pool=None, batch_size=opts.batch_size,
            batch_timeout=opts.batch_timeout)

    def start(self):
        with self._lock:
            if self._started:
                return
            if self._transport is None:
                self._transport = oslo_messaging.get_notification_transport(
                    self.conf)
            # agents of earlier releases, and ones not reconfigured yet
            self._legacy_server = self._listener([self.topic], self.legacy)
            self._legacy_server.start()
            self._started = True
            LOG.info('Partitioned intake: %d partitions of topic %s; also '
                     'reading %s.sample for agents without partitions',
                     self.count, self.topic, self.topic)
        self.rebalance()
        # Rebalance every heartbeat interval, which catches a lease that
        # starts or ends between two membership events, and at once on a
        # membership change. NOTE: not in the coordinator's heartbeat
        # thread: stopping a listener waits for the batches in hand.
        self._runner = periodic.Periodic('drs-partitions', [periodic.Task(
            self._follow, self.coordinator.interval, name='the rebalance')])
        self._runner.start()
        self.coordinator.add_listener(self._on_change)

    def _on_change(self, change):
        runner = self._runner
        if runner is not None:
            runner.run_soon(self._follow)

    def _follow(self):
        if not self._started:
            return
        try:
            self.rebalance()
        except Exception:
            LOG.exception('Partitioned intake: could not follow the '
                          'partitions owned; trying again')

    def rebalance(self):
        """Read the partitions owned now; returns True when they changed.

        Called on every membership change, and periodically by the
        service (a lease gained or lost without a membership event).
        """
        with self._lock:
            if not self._started:
                return False
            owned = self.coordinator.owned_partitions()
            if owned == self.owned:
                return False
            old, server = self.owned, self._server
            self._server = None
            if server is not None:
                # NOTE: stopped before anyone else may start reading them:
                # batches in hand are finished and acknowledged first
                server.stop()
                server.wait()
            self.owned = owned
            if owned:
                self._server = self._listener(
                    [partition_mod.partition_topic(self.topic, p, self.count)
                     for p in sorted(owned)], self.endpoint)
                self._server.start()
            self.rebalances += 1
        LOG.info('Partitioned intake: reading %d of %d partitions (%d '
                 'taken over, %d given up)', len(owned), self.count,
                 len(owned - old), len(old - owned))
        return True

    def stop(self):
        self._started = False
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.stop()
            runner.wait()
        with self._lock:
            servers = [s for s in (self._server, self._legacy_server) if s]
            self._server = self._legacy_server = None
            self.owned = frozenset()
            listener.stop_servers(servers)
            if self._own_transport and self._transport is not None:
                self._transport.cleanup()
                self._transport = None
            self._notifiers = {}

    def stats(self):
        stats = self.endpoint.stats()
        with self.legacy._lock:
            stats['legacy'] = {'taken': self.legacy.taken,
                               'forwarded': self.legacy.forwarded}
        stats['partitions'] = {'count': self.count,
                               'owned': sorted(self.owned),
                               'rebalances': self.rebalances}
        stats['queue'] = self.queue
        return stats
