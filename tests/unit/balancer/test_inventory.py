# SPDX-License-Identifier: Apache-2.0
"""When the balancer reads Nova's inventory again."""

import types

from openstack import exceptions as sdk_exc
from oslotest import base

from nova_drs.balancer.view import inventory
from tests.unit import clusters as c


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeNova:
    """Returns a new view per read, or raises what it is told to."""

    def __init__(self):
        self.reads = 0
        self.error = None

    def __call__(self):
        if self.error is not None:
            raise self.error
        self.reads += 1
        model = c.model([c.host('h1')], [])
        return types.SimpleNamespace(model=model, read=self.reads)


class InventoryTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.clock = Clock()
        self.nova = FakeNova()
        self.inv = inventory.Inventory(self.nova, c.conf(
            drs_balancer__inventory_refresh_interval=300,
            drs_balancer__inventory_min_interval=2.0,
            drs_balancer__inventory_max_age=900), clock=self.clock)

    def test_cached_until_refresh_interval(self):
        self.assertEqual(1, self.inv.get().read)
        self.clock.now += 299
        self.assertEqual(1, self.inv.get().read)
        self.clock.now += 1
        self.assertEqual(2, self.inv.get().read)

    def test_invalidate_reads_again_but_not_more_than_min_interval(self):
        self.inv.get()
        self.inv.invalidate('instance.create.end')
        self.clock.now += 0.5
        # the first read was 0.5 s ago: a burst waits for min_interval
        self.assertEqual(1, self.inv.get().read)
        self.assertTrue(self.inv.dirty)
        self.clock.now += 1.5
        self.assertEqual(2, self.inv.get().read)
        self.assertFalse(self.inv.dirty)
        self.assertEqual(2, self.inv.get().read)

    def test_nova_down_uses_last_view_until_max_age(self):
        self.inv.get()
        self.nova.error = sdk_exc.HttpException('503 unavailable')
        self.clock.now += 600
        self.assertEqual(1, self.inv.get().read)
        self.assertEqual(1, self.inv.failures)
        self.clock.now += 301
        e = self.assertRaises(inventory.InventoryUnavailable, self.inv.get)
        self.assertIn('inventory_max_age (900 s)', str(e))
        self.nova.error = None
        self.assertEqual(2, self.inv.get().read)

    def test_no_view_at_all(self):
        self.nova.error = sdk_exc.SDKException('connection refused')
        e = self.assertRaises(inventory.InventoryUnavailable, self.inv.get)
        self.assertIn('connection refused', str(e))
        self.assertIsNone(self.inv.age())


class FakeCollector:
    """A collector: records full and incremental reads, applies deltas."""

    def __init__(self):
        self.reads = []
        self.builds = 0
        self.last_read = None

    def read(self, full=False):
        self.reads.append('full' if full else 'incremental')
        self.last_read = types.SimpleNamespace(as_dict=lambda: {
            'kind': self.reads[-1], 'calls': {'servers': 1},
            'total_calls': 1})
        return types.SimpleNamespace(model=c.model([c.host('h1')], []),
                                     read=len(self.reads))

    def apply_events(self, events):
        return [e for e in events if e.event_type != 'instance.create.end']

    def build(self):
        self.builds += 1
        return types.SimpleNamespace(model=c.model([c.host('h1')], []),
                                     read=len(self.reads), built=True)


class IncrementalInventoryTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.clock = Clock()
        self.nova = FakeCollector()
        self.inv = inventory.Inventory(self.nova, c.conf(
            drs_balancer__inventory_refresh_interval=300,
            drs_balancer__inventory_full_resync_interval=3600,
            drs_balancer__inventory_min_interval=2.0), clock=self.clock)

    def event(self, event_type):
        return types.SimpleNamespace(event_type=event_type)

    def test_full_first_then_incremental_then_full_resync(self):
        for _ in range(13):
            self.inv.get()
            self.clock.now += 300
        self.inv.get()
        # reads at 0, 300, ..., 3600: the one at 3600 s is full again
        self.assertEqual(['full'] + ['incremental'] * 11 + ['full'] * 1
                         + ['incremental'], self.nova.reads)
        self.assertEqual(2, self.inv.full_reads)
        stats = self.inv.stats()
        self.assertEqual('incremental', stats['last_read']['kind'])
        self.assertEqual('periodic refresh', stats['last_read']['reason'])

    def test_deltas_rebuild_without_a_read(self):
        self.inv.get()
        applied = self.inv.apply_events([self.event('instance.create.end')])
        self.assertEqual(1, applied)
        self.assertFalse(self.inv.dirty)
        view = self.inv.get()
        self.assertTrue(view.built)
        self.assertEqual(['full'], self.nova.reads)
        self.assertEqual(1, self.inv.stats()['deltas'])
        # built once, not at every get()
        self.inv.get()
        self.assertEqual(1, self.nova.builds)

    def test_other_events_make_an_incremental_read(self):
        self.inv.get()
        self.inv.apply_events([self.event('aggregate.add_host.end')])
        self.assertTrue(self.inv.dirty)
        self.clock.now += 2
        self.inv.get()
        self.assertEqual(['full', 'incremental'], self.nova.reads)
        self.assertEqual('aggregate.add_host.end',
                         self.inv.stats()['last_read']['reason'])

    def test_events_during_a_read_wait_for_it(self):
        self.inv.get()
        self.inv._lock.acquire()
        try:
            # a read under way: the listener's thread does not wait
            self.assertEqual(0, self.inv.apply_events(
                [self.event('instance.create.end')]))
        finally:
            self.inv._lock.release()
        view = self.inv.get()
        self.assertTrue(view.built)
        self.assertEqual(1, self.inv.stats()['deltas'])
