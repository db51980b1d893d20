# SPDX-License-Identifier: Apache-2.0
"""When the balancer reads Nova's inventory again."""

import types

from openstack import exceptions as sdk_exc
from oslotest import base

from nova_drs.balancer import inventory
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
