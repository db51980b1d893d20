# SPDX-License-Identifier: Apache-2.0
import numpy as np
from oslotest import base

from nova_drs.balancer import strategies
from tests.unit.balancer.test_hotspot import busy
from tests.unit.balancer.test_hotspot import moves
from tests.unit.balancer.test_hotspot import plan
from tests.unit import clusters as c


class TestBalanceStrategy(base.BaseTestCase):

    def _uneven(self):
        return c.model([c.host('a'), c.host('b'), c.host('c')],
                       [busy('v%d' % n, 'a', 2, mem=1000)
                        for n in range(4)]
                       + [busy('w', 'b', 2, mem=1000)])

    def test_levels_load_without_hotspot(self):
        m = self._uneven()
        p = plan(m, 'balance')
        self.assertGreater(len(p.migrations), 0)
        self.assertTrue(all(x.source == 'a' for x in p.migrations))
        after = m.copy()
        for x in p.migrations:
            after.instances.host[after.instance_index[x.instance]] = \
                after.host_index[x.target]
        spread_before = m.host_load()[:, :2].std(axis=0).max()
        spread_after = after.host_load()[:, :2].std(axis=0).max()
        self.assertLess(spread_after, spread_before)
        self.assertFalse(after.hot_hosts([0.85, 0.9, 0.9, 0.9]).any())
        self.assertIn('balance: spread of host load', p.migrations[0].reason)

    def test_hotspot_strategy_does_not_balance(self):
        self.assertEqual([], plan(self._uneven(), 'hotspot').migrations)

    def test_threshold_and_min_improvement_stop_churn(self):
        m = self._uneven()
        self.assertEqual([], plan(m, 'balance',
                                  drs_balancer__balance_threshold=0.5)
                         .migrations)
        self.assertEqual([], plan(m, 'balance',
                                  drs_balancer__balance_min_improvement=1.0)
                         .migrations)

    def test_even_cluster_is_left_alone(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 3), busy('v2', 'b', 3)])
        self.assertEqual([], plan(m, 'balance').migrations)

    def test_hotspots_first(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w', 'b', 2)])
        p = plan(m, 'balance')
        self.assertTrue(p.migrations[0].reason.startswith('hotspot on a'))
        self.assertEqual([], p.unresolved)

    def test_respects_constraints(self):
        m = self._uneven()
        m.hosts.disabled[2] = True
        p = plan(m, 'balance')
        self.assertNotIn('c', {x.target for x in p.migrations})
        np.testing.assert_array_equal([0, 0, 0, 0, 1], m.instances.host)


class TestStrategyLoading(base.BaseTestCase):

    def test_entry_points(self):
        self.assertEqual(['balance', 'consolidate', 'hotspot'],
                         strategies.available())
        s = strategies.load('balance', c.conf())
        self.assertEqual('balance', s.name)

    def test_unknown_strategy(self):
        e = self.assertRaises(strategies.StrategyNotFound, strategies.load,
                              'nope', c.conf())
        self.assertIn("unknown strategy 'nope'", str(e))
        self.assertIn('balance, consolidate, hotspot', str(e))

    def test_moves_helper(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4)])
        self.assertEqual([('v2', 'a', 'b')], moves(plan(m)))
