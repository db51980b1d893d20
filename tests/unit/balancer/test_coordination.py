# SPDX-License-Identifier: Apache-2.0
"""The balancer's coordination layer on tooz's file backend (real tooz)."""

import os
import threading
import uuid

import fixtures
from oslotest import base
import tooz

from nova_drs.balancer.coordination import membership as coordination
from nova_drs import config
from tests import polling
from tests.unit import fake_time

HOSTS = ['compute-%02d' % i for i in range(40)]
INTERVAL = 0.1
TIMEOUT = 2

wait_for = polling.wait_for


class FakeClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class CoordinationTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.group = 'drs-test-%s' % uuid.uuid4().hex[:8]
        self.started = []
        self.addCleanup(self.stop_all)

    def stop_all(self, coords=None):
        # NOTE: in parallel: stopping tooz's file driver takes a second
        # (its executor's shutdown)
        coords = self.started if coords is None else coords
        threads = [threading.Thread(target=c.stop) for c in coords]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def coordinator(self, replica_id, start=True, clock=None, **overrides):
        conf = config.load(groups=['drs', 'coordination'])
        values = {'backend_url': 'file://%s' % self.dir,
                  'group': self.group, 'replica_id': replica_id,
                  'heartbeat_interval': INTERVAL,
                  'member_timeout': TIMEOUT}
        values.update(overrides)
        for name, value in values.items():
            conf.set_override(name, value, 'drs_coordination')
        coord = (coordination.Coordinator(conf) if clock is None
                 else coordination.Coordinator(conf, clock=clock))
        self.started.append(coord)
        if start:
            coord.start()
        return coord

    def wait_members(self, coords, n):
        wait_for(lambda: all(len(c.members) == n and c.is_active()
                             for c in coords),
                 TIMEOUT * 3, '%d members seen by all' % n)

    def assert_partition(self, coords):
        owned = [c.owned_hosts(HOSTS) for c in coords]
        for host in HOSTS:
            owners = [c.member_id for c, hosts in zip(coords, owned)
                      if host in hosts]
            self.assertEqual(1, len(owners), '%s owned by %s'
                             % (host, owners))
        return owned


class TestPartition(CoordinationTestCase):

    def test_complete_and_exclusive(self):
        coords = [self.coordinator('replica-%d' % i) for i in range(3)]
        self.wait_members(coords, 3)
        owned = self.assert_partition(coords)
        # every replica gets a share
        for hosts in owned:
            self.assertTrue(hosts)

    def test_deterministic(self):
        coords = [self.coordinator('replica-%d' % i) for i in range(3)]
        self.wait_members(coords, 3)
        first = [c.owned_hosts(HOSTS) for c in coords]
        self.stop_all(coords)
        # the same members in a fresh group give the same partition
        self.group += '-bis'
        again = [self.coordinator('replica-%d' % i) for i in range(3)]
        self.wait_members(again, 3)
        self.assertEqual(first, [c.owned_hosts(HOSTS) for c in again])

    def test_rebalance_on_join_and_leave(self):
        a, b = self.coordinator('a'), self.coordinator('b')
        self.wait_members([a, b], 2)
        before = self.assert_partition([a, b])
        c = self.coordinator('c')
        self.wait_members([a, b, c], 3)
        after = self.assert_partition([a, b, c])
        self.assertTrue(after[2])
        # consistent hashing: the newcomer takes hosts, nothing else moves
        self.assertLessEqual(after[0], before[0])
        self.assertLessEqual(after[1], before[1])
        c.stop()
        self.assertEqual(set(), c.owned_hosts(HOSTS))
        self.wait_members([a, b], 2)
        self.assertEqual(before, self.assert_partition([a, b]))

    def test_newcomer_waits_before_owning(self):
        a = self.coordinator('a')
        self.wait_members([a], 1)
        # b's clock stands still: its join grace (two heartbeat intervals,
        # so that the others see it first) cannot have passed, however
        # slow the machine
        clock = FakeClock(1000.0)
        b = self.coordinator('b', clock=clock)
        wait_for(lambda: 'b' in b.members, TIMEOUT, 'b joined')
        self.assertFalse(b.is_active())
        self.assertEqual(set(), b.owned_hosts(HOSTS))
        clock.now += 2 * INTERVAL
        self.assertTrue(b.is_active())
        self.assertTrue(b.owned_hosts(HOSTS))

    def test_listener(self):
        changes = []
        a = self.coordinator('a', start=False)
        a.add_listener(changes.append)
        a.add_listener(lambda change: 1 / 0)  # logged, not fatal
        a.start()
        self.wait_members([a], 1)
        wait_for(lambda: changes and changes[-1].active, TIMEOUT, 'event')
        self.assertEqual({'a'}, changes[-1].members)
        self.coordinator('b')
        wait_for(lambda: changes[-1].members == {'a', 'b'}, TIMEOUT * 2,
                 'join event')
        self.assertEqual({'b'}, changes[-1].joined)

    def test_not_started_owns_nothing(self):
        a = self.coordinator('a', start=False)
        self.assertFalse(a.is_active())
        self.assertEqual(set(), a.owned_hosts(HOSTS))
        self.assertFalse(a.owns(HOSTS[0]))

    def test_heartbeat_interval_bound(self):
        self.assertRaises(ValueError, self.coordinator, 'a', start=False,
                          heartbeat_interval=1.0, member_timeout=2)

    def test_default_replica_id(self):
        a = self.coordinator(None, start=False)
        self.assertIn(str(os.getpid()), a.member_id)


class TestPerHost(CoordinationTestCase):

    def test_owns_only_its_host(self):
        a = self.coordinator('a', mode='per_host', host=HOSTS[3])
        b = self.coordinator('b', mode='per_host', host=HOSTS[5])
        c = self.coordinator('c', mode='per_host', host='not-a-compute')
        self.wait_members([a, b, c], 3)
        self.assertEqual({HOSTS[3]}, a.owned_hosts(HOSTS))
        self.assertEqual({HOSTS[5]}, b.owned_hosts(HOSTS))
        self.assertEqual(set(), c.owned_hosts(HOSTS))
        b.stop()
        self.assertEqual({HOSTS[3]}, a.owned_hosts(HOSTS))

    def test_locks_still_apply(self):
        a = self.coordinator('a', mode='per_host', host=HOSTS[0])
        b = self.coordinator('b', mode='per_host', host=HOSTS[1])
        self.wait_members([a, b], 2)
        name = coordination.host_lock_name(HOSTS[7])
        with a.lock(name):
            e = self.assertRaises(coordination.LockNotAcquired,
                                  b.lock(name).__enter__)
            self.assertIn('held by another replica', str(e))


class TestLocks(CoordinationTestCase):

    def test_exclusive_across_coordinators(self):
        a, b = self.coordinator('a'), self.coordinator('b')
        self.wait_members([a, b], 2)
        name = coordination.instance_lock_name(uuid.uuid4())
        self.assertTrue(name.startswith('drs-instance-'))
        with a.lock(name):
            self.assertRaises(coordination.LockNotAcquired,
                              b.lock(name).__enter__)
            # waiting does not help while a holds it
            self.assertRaises(coordination.LockNotAcquired,
                              b.lock(name, wait=0.2).__enter__)
        with b.lock(name):
            pass
        # different names do not conflict
        with a.lock(name), b.lock(coordination.host_lock_name('x')):
            pass

    def test_wait_for_release(self):
        a, b = self.coordinator('a'), self.coordinator('b')
        self.wait_members([a, b], 2)
        name = coordination.host_lock_name('compute-01')
        held = a.lock(name)
        held.__enter__()
        threading.Timer(0.2, held.__exit__, (None, None, None)).start()
        with b.lock(name, wait=5):
            pass

    def test_no_lock_without_lease(self):
        a = self.coordinator('a', start=False)
        e = self.assertRaises(coordination.LockNotAcquired,
                              a.lock('drs-host-x').__enter__)
        self.assertIn('no lease', str(e))


class TestBackendFailure(CoordinationTestCase):

    def test_ownership_dropped_after_timeout(self):
        a, b = self.coordinator('a'), self.coordinator('b')
        self.wait_members([a, b], 2)
        a_hosts = a.owned_hosts(HOSTS)
        self.assertTrue(a_hosts)
        changes = []
        a.add_listener(changes.append)
        broken = threading.Event()
        real = a._driver.heartbeat

        def heartbeat():
            if broken.is_set():
                raise tooz.ToozError('backend unreachable (test)')
            return real()

        a._driver.heartbeat = heartbeat
        broken.set()
        # still owner for a while: the lease has not run out
        self.assertTrue(a.owned_hosts(HOSTS))
        wait_for(lambda: not a.is_active(), TIMEOUT + 1, 'lease expiry')
        self.assertEqual(set(), a.owned_hosts(HOSTS))
        self.assertGreater(a.failures, 0)
        wait_for(lambda: changes and not changes[-1].active, 1,
                 'lease loss event')
        # b takes a's hosts once the backend forgot a
        wait_for(lambda: b.owned_hosts(HOSTS) == set(HOSTS), TIMEOUT * 2,
                 'b owning everything')
        self.assertRaises(coordination.LockNotAcquired,
                          a.lock('drs-host-x').__enter__)
        # the backend comes back: a joins again and gets its hosts back
        broken.clear()
        self.wait_members([a, b], 2)
        self.assertEqual(a_hosts, self.assert_partition([a, b])[0])

    def test_thread_survives_unexpected_errors(self):
        a = self.coordinator('a', start=False)
        real = a._driver.get_members
        calls = []

        def get_members(group_id):
            calls.append(1)
            if len(calls) <= 2:
                raise RuntimeError('bug')
            return real(group_id)

        a._driver.get_members = get_members
        a.start()
        self.wait_members([a], 1)
        self.assertEqual(0, a.failures)


class TestBackoff(CoordinationTestCase):

    def test_heartbeats_back_off_after_failures(self):
        clock = self.useFixture(fake_time.FakeTime())
        a = self.coordinator('a', start=False)
        real = a._driver.heartbeat
        times = []

        def heartbeat():
            times.append(round(clock.now, 6))
            if len(times) == 7:
                a._runner.stop()
            if len(times) <= 5:
                raise tooz.ToozError('backend unreachable (test)')
            return real()
        a._driver.heartbeat = heartbeat
        with self.assertLogs(coordination.__name__,
                             'INFO') as logs:
            a.start()
            self.assertTrue(a._runner.wait(10))
        warnings = [r.getMessage() for r in logs.records
                    if r.levelname == 'WARNING']
        infos = [r.getMessage() for r in logs.records
                 if r.levelname == 'INFO']
        # every 0.1 s, then twice as long after each failure, up to a
        # quarter of member_timeout (2 s); on the interval again once it
        # worked
        self.assertEqual([0.0, 0.1, 0.3, 0.7, 1.2, 1.7, 1.8], times)
        self.assertEqual(0, a.failures)
        self.assertEqual(5, len(warnings))
        self.assertIn('(5 in a row, lease none): backend unreachable '
                      '(test); retrying in 0.5 s', warnings[-1])
        self.assertIn('Coordination: backend answers again after 5 failed '
                      'heartbeats', infos)


class TestBackendOptions(base.BaseTestCase):

    def test_options(self):
        opts = coordination.backend_options
        self.assertEqual({'timeout': 10}, opts('file:///tmp/x', 10))
        self.assertEqual({'membership_timeout': 10, 'lock_timeout': 10,
                          'socket_timeout': 2.5},
                         opts('redis://127.0.0.1:6379', 10))
        self.assertNotIn('socket_timeout',
                         opts('redis://h:6379?socket_timeout=1', 10))
        self.assertEqual({'membership_timeout': 10, 'lock_timeout': 10},
                         opts('etcd3+http://h:2379', 10))
        self.assertEqual({'timeout': 10}, opts('zookeeper://h:2181', 10))
