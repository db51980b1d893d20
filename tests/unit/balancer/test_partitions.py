# SPDX-License-Identifier: Apache-2.0
"""Partitioned intake: the partition function, ownership, the intake.

The intake runs on oslo.messaging's fake driver (real listeners, real
queues in memory); the coordinator is faked (the functional suite runs
real replicas on Redis and RabbitMQ).
"""

import collections
import datetime
import threading
import time
import types

import oslo_messaging
from oslotest import base

from nova_drs.agent import publisher
from nova_drs.api import replicas
from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.coordination import shared_state
from nova_drs.balancer.intake import partitions
from nova_drs.balancer.view import host_view
from nova_drs.notifications import partition
from nova_drs.notifications import payload as payload_mod
from tests import polling
from tests.unit.balancer import test_host_view as docs
from tests.unit import clusters

HOSTS = ['compute-%03d' % n for n in range(200)]


class TestPartitionFunction(base.BaseTestCase):

    def test_stable_values(self):
        # NOTE: agents and balancers of different releases must agree:
        # these values may never change (and are the same in any process:
        # no salted hash())
        self.assertEqual(46, partition.partition_of('compute-1', 64))
        self.assertEqual(43, partition.partition_of('compute-2', 64))
        self.assertEqual('drs_notifications.64.p046',
                         partition.topic_for('drs_notifications',
                                             'compute-1', 64))

    def test_no_partitions_keeps_the_topic(self):
        self.assertEqual('drs_notifications',
                         partition.topic_for('drs_notifications', 'c1', 0))
        self.assertRaises(ValueError, partition.partition_of, 'c1', 0)

    def test_spread(self):
        counts = collections.Counter(
            partition.partition_of('host-%d' % n, 16) for n in range(16000))
        self.assertEqual(set(range(16)), set(counts))
        # within 10 % of the mean (1000)
        self.assertLess(max(counts.values()), 1100)
        self.assertGreater(min(counts.values()), 900)

    def test_the_agent_publishes_to_its_partition(self):
        conf = clusters.conf(drs_agent__host='compute-1',
                             drs_agent__partitions=64)
        pub = publisher.Publisher(conf, notifier=object(), signer=None)
        self.assertEqual('drs_notifications.64.p046', pub.topic)
        conf = clusters.conf(drs_agent__host='compute-1')
        pub = publisher.Publisher(conf, notifier=object(), signer=None)
        self.assertEqual('drs_notifications', pub.topic)


class TestOwnership(base.BaseTestCase):

    def test_a_host_belongs_to_its_partition_owner(self):
        members = ['r1', 'r2', 'r3']
        ring = coordination.ring(members)
        owned = replicas.owners(members, HOSTS, coordination.PARTITIONED,
                                partitions=16)
        by_partition = {p: coordination.partition_owner(p, ring, 16)
                        for p in range(16)}
        self.assertEqual(set(members), set(by_partition.values()))
        for member, hosts in owned.items():
            self.assertEqual(
                sorted(h for h in HOSTS if by_partition[
                    partition.partition_of(h, 16)] == member), hosts)
        # without partitions: the host itself on the ring, as before
        plain = replicas.owners(members, HOSTS, coordination.PARTITIONED)
        for member, hosts in plain.items():
            self.assertEqual(sorted(
                h for h in HOSTS
                if coordination.owner_of(h, ring) == member), hosts)
        self.assertNotEqual(plain, owned)


class TestPartitionTable(base.BaseTestCase):
    """The partitions are dealt evenly, and stay put when they can."""

    def test_shares_differ_by_at_most_one_partition(self):
        for count in (1, 7, 16, 64, 128, 1000):
            for members in (['r1'], ['balancer-a', 'balancer-b'],
                            ['r1', 'r2', 'r3'], ['a', 'b', 'c', 'd', 'e']):
                table = coordination.partition_table(members, count)
                shares = [table.count(m) for m in members]
                self.assertEqual(count, sum(shares))
                self.assertLessEqual(max(shares) - min(shares), 1,
                                     (count, members, shares))

    def test_every_replica_computes_the_same_table(self):
        members = ['r3', 'r1', 'r2']
        self.assertEqual(coordination.partition_table(members, 64),
                         coordination.partition_table(sorted(members), 64))
        ring = coordination.ring(members)
        self.assertEqual(coordination.partition_table(members, 64),
                         [coordination.partition_owner(p, ring, 64)
                          for p in range(64)])

    def test_a_membership_change_moves_about_one_share(self):
        members = ['r1', 'r2', 'r3']
        before = coordination.partition_table(members, 128)
        joined = coordination.partition_table(members + ['r4'], 128)
        moved = [p for p in range(128) if before[p] != joined[p]]
        # the newcomer's share (32) moves to it, and few others move
        self.assertEqual(32, joined.count('r4'))
        self.assertLessEqual(len(moved), 32 * 1.25)
        left = coordination.partition_table(['r2', 'r3'], 128)
        moved = [p for p in range(128) if before[p] != left[p]]
        # r1's partitions, and none of the others' that it did not need
        self.assertTrue(all(before[p] == 'r1' for p in moved[:1]))
        self.assertLessEqual(len(moved), before.count('r1') * 1.25)
        self.assertEqual([None] * 4, coordination.partition_table([], 4))


class FakeCoordinator:
    """Owns the partitions a test says; hosts follow their partition."""

    def __init__(self, count, owned=()):
        self.partitions = count
        self.interval = 0.05
        self.owned = frozenset(owned)
        self.listeners = []

    def owned_partitions(self):
        return self.owned

    def owns(self, host):
        return partition.partition_of(host, self.partitions) in self.owned

    def add_listener(self, callback):
        self.listeners.append(callback)

    def change(self, owned):
        self.owned = frozenset(owned)
        for callback in self.listeners:
            callback(None)


class Recorder:
    """A MetricsHandler that keeps what it is given."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reports = []

    def on_metrics(self, reports):
        with self.lock:
            self.reports.extend(reports)

    on_hotspots = on_metrics

    def hosts(self):
        with self.lock:
            return sorted({r.host for r in self.reports})


class TestIntakeOnFakeTransport(base.BaseTestCase):

    COUNT = 4

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_listener__batch_timeout=0.05,
                                  drs_listener__partitions=self.COUNT)
        self.transport = oslo_messaging.get_notification_transport(
            self.conf, url='fake:/')
        self.addCleanup(self.transport.cleanup)
        # one host per partition
        self.hosts = {}
        n = 0
        while len(self.hosts) < self.COUNT:
            host = 'c%d' % n
            self.hosts.setdefault(partition.partition_of(host, self.COUNT),
                                  host)
            n += 1

    def intake(self, owned):
        coord = FakeCoordinator(self.COUNT, owned)
        handler = Recorder()
        intake = partitions.PartitionedIntake(self.conf, handler, coord,
                                              transport=self.transport)
        intake.start()
        self.addCleanup(intake.stop)
        return intake, coord, handler

    def send(self, host, topic_count=None):
        count = self.COUNT if topic_count is None else topic_count
        oslo_messaging.Notifier(
            self.transport, publisher_id='nova-drs-agent:%s' % host,
            driver='messagingv2',
            topics=[partition.topic_for('drs_notifications', host, count)]
        ).sample({}, payload_mod.METRICS_EVENT,
                 docs.metrics_doc(host, at=time.time()))

    def test_reads_only_owned_partitions_and_nothing_is_lost(self):
        intake, coord, handler = self.intake({0, 1})
        self.assertEqual(frozenset({0, 1}), intake.owned)
        for host in self.hosts.values():
            self.send(host)
        mine = sorted(self.hosts[p] for p in (0, 1))
        polling.wait_for(lambda: handler.hosts() == mine, 10,
                         'the owned hosts')
        time.sleep(0.3)
        self.assertEqual(mine, handler.hosts())
        # partitions 2 and 3 come to this replica: what waited in their
        # queues is read now
        coord.change({0, 1, 2, 3})
        polling.wait_for(lambda: handler.hosts() == sorted(
            self.hosts.values()), 10, 'the queued reports')
        self.assertEqual(4, len(handler.reports))
        self.assertGreaterEqual(intake.stats()['partitions']['rebalances'],
                                2)

    def test_given_up_partitions_are_left_to_the_next_owner(self):
        intake, coord, handler = self.intake({0, 1, 2, 3})
        coord.change({0})
        polling.wait_for(lambda: intake.owned == frozenset({0}), 10,
                         'the rebalance')
        self.send(self.hosts[3])
        other, _, other_handler = self.intake({3})
        polling.wait_for(lambda: other_handler.hosts() == [self.hosts[3]],
                         10, 'the next owner')
        self.assertEqual([], handler.hosts())

    def test_old_agents_are_taken_in_or_forwarded(self):
        first, _, first_handler = self.intake({0, 1})
        second, _, second_handler = self.intake({2, 3})
        for host in self.hosts.values():
            self.send(host, topic_count=0)
        polling.wait_for(
            lambda: first_handler.hosts() + second_handler.hosts()
            == sorted(self.hosts[p] for p in (0, 1))
            + sorted(self.hosts[p] for p in (2, 3)), 10,
            'every legacy report at its owner')
        legacy = [i.stats()['legacy'] for i in (first, second)]
        self.assertEqual(4, sum(s['taken'] + s['forwarded'] for s in legacy))
        self.assertEqual(4, len(first_handler.reports)
                         + len(second_handler.reports))

    def test_the_host_view_takes_them(self):
        view = host_view.HostView(self.conf)
        coord = FakeCoordinator(self.COUNT, range(self.COUNT))
        intake = partitions.PartitionedIntake(self.conf, view, coord,
                                              transport=self.transport)
        intake.start()
        self.addCleanup(intake.stop)
        self.send(self.hosts[2])
        polling.wait_for(lambda: view.host(self.hosts[2]), 10, 'the host')

    def test_partition_counts_must_agree(self):
        self.assertRaises(ValueError, partitions.PartitionedIntake,
                          self.conf, Recorder(), FakeCoordinator(8))
        conf = clusters.conf()
        self.assertRaises(ValueError, partitions.PartitionedIntake,
                          conf, Recorder(), FakeCoordinator(0))


class TestSharedState(base.BaseTestCase):
    """Other replicas' hosts, from their owners' host_states rows."""

    NOW = datetime.datetime(2026, 12, 6, 8, 0, 0)

    def row(self, host, age_s=5.0, stale=False, hot=(), smoothed=0.5,
            libvirt=True):
        return types.SimpleNamespace(
            host=host, stale=stale, hot=list(hot), reported_by='r2',
            updated_at=self.NOW - datetime.timedelta(seconds=age_s),
            smoothed={'cpu': smoothed, 'memory': 0.25, 'disk': 0.0,
                      'network': 0.0},
            libvirt_connected=libvirt, cpu_count=12,
            memory_total_mb=65536.0)

    def test_rows_kept_and_left_out(self):
        rows = [self.row('own'), self.row('fresh', hot=('cpu',)),
                self.row('old', age_s=31.0), self.row('stale', stale=True)]
        shared = shared_state.from_rows(rows, {'own'}, self.NOW, 30.0)
        self.assertEqual(['fresh'], sorted(shared))
        self.assertEqual(('cpu',), shared['fresh'].hot)
        self.assertEqual(25.0, shared['fresh'].trusted_for_s)
        self.assertEqual(0.5, shared['fresh'].smoothed['cpu'])

    def test_rows_of_writers_not_in_the_group_are_not_trusted(self):
        rows = [self.row('a'), self.row('b'), self.row('c', age_s=40.0)]
        rows[1].reported_by = 'r3'
        left_out = collections.Counter()
        shared = shared_state.from_rows(rows, set(), self.NOW, 30.0,
                                        members={'r1', 'r2'},
                                        left_out=left_out)
        # r3 left the group: its fresh row is not trusted; r2's old row
        # ages out as before
        self.assertEqual(['a'], sorted(shared))
        self.assertEqual({'gone': 1, 'old': 1}, dict(left_out))
        # membership unknown (no heartbeat yet): the age alone decides
        for members in (None, frozenset()):
            self.assertEqual(['a', 'b'], sorted(shared_state.from_rows(
                rows, set(), self.NOW, 30.0, members=members)))

    def test_a_row_stamped_ahead_of_the_reader_is_not_fresher(self):
        # the server's clock stepped back after the write: the row counts
        # as just written, trusted for trust_s and no longer
        rows = [self.row('ahead', age_s=-600.0)]
        shared = shared_state.from_rows(rows, set(), self.NOW, 30.0)
        self.assertEqual(30.0, shared['ahead'].trusted_for_s)

    def test_the_view_judges_foreign_hosts_by_them(self):
        clock = types.SimpleNamespace(now=100.0)
        conf = clusters.conf()
        view = host_view.HostView(conf, clock=lambda: clock.now)
        model = clusters.model([clusters.host('mine'),
                                clusters.host('theirs'),
                                clusters.host('gone')], [])
        view.set_shared(shared_state.from_rows(
            [self.row('theirs', hot=('cpu',), smoothed=0.9)], set(),
            self.NOW, 30.0))
        report = view.apply(model)
        # theirs: usable, hot, with its smoothed load; never heard of
        # hosts stay fenced off
        self.assertEqual(['gone', 'mine'], sorted(report.stale_hosts))
        t = model.host_index['theirs']
        self.assertFalse(model.hosts.disabled[t])
        self.assertTrue(model.hosts.hot[t][0])
        self.assertGreater(model.hosts.base_load[t][0], 0.0)
        state = view.host('theirs')
        self.assertFalse(state.stale)
        self.assertEqual(('cpu',), state.hot)
        self.assertEqual((), state.guests)
        # nothing of it is written back as this replica's
        self.assertEqual({}, view.hosts())
        # the trust runs out 25 s later
        clock.now += 26.0
        self.assertTrue(view.host('theirs').stale)
        model = clusters.model([clusters.host('theirs')], [])
        self.assertEqual(['theirs'], view.apply(model).stale_hosts)
