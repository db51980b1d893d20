# SPDX-License-Identifier: Apache-2.0
"""The hotspot strategy and the constraints every strategy obeys.

Hosts have 10 cores and 10,000 MiB (see tests.unit.clusters): the CPU
limit is 8.5 cores, the memory limit 9,000 MiB; a 2-vCPU instance at 100%
uses 2 cores.
"""

from unittest import mock

import numpy as np
from oslotest import base

from nova_drs.balancer import strategies
from nova_drs.balancer.strategies import hotspot
from tests.unit import clusters as c


def busy(name, host, cores, mem=500, **kw):
    """An instance using ``cores`` physical cores (vCPUs at 100%)."""
    kw.setdefault('memory_mb', max(2000, mem))
    return c.vm(name, host, vcpus=cores, util=100.0, mem=mem, **kw)


def plan(model, strategy='hotspot', **overrides):
    # These tests pin the search and the placement rules; they choose
    # destinations by the rule of earlier releases (``spread``) and relieve
    # to the threshold. test_destinations.py covers ``pack`` and the
    # relief margin.
    overrides.setdefault('drs_balancer__destination_policy', 'spread')
    overrides.setdefault('drs_balancer__relief_margin', 0.0)
    return strategies.load(strategy, c.conf(**overrides)).plan(model)


def moves(p):
    return [(m.instance, m.source, m.target) for m in p.migrations]


class TestHotspotStrategy(base.BaseTestCase):

    def test_cheapest_single_move(self):
        # 9 cores: 0.5 over; any instance of >= 0.5 cores will do, the one
        # with least memory in use is cheapest
        m = c.model([c.host('a'), c.host('b')],
                    [busy('big', 'a', 4, mem=3000),
                     busy('s1', 'a', 2, mem=2000),
                     busy('s2', 'a', 2, mem=500),
                     busy('s3', 'a', 1, mem=1000)])
        p = plan(m)
        self.assertEqual([('s2', 'a', 'b')], moves(p))
        self.assertEqual([], p.unresolved)

    def test_fewest_migrations_before_least_memory(self):
        # 11.5 cores, 3 over: one 4-core move beats three 1.2-core ones
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('big', 'a', 4, mem=4000),
                     c.vm('s1', 'a', vcpus=2, util=60.0, mem=100),
                     c.vm('s2', 'a', vcpus=2, util=60.0, mem=100),
                     c.vm('s3', 'a', vcpus=2, util=60.0, mem=100),
                     c.vm('pinned', 'a', vcpus=4, util=97.5,
                          opt_out=True)])
        p = plan(m)
        self.assertEqual([('big', 'a', 'b')], moves(p))

    def test_several_migrations_when_one_is_not_enough(self):
        # 12 cores, 3.5 over, 2 cores each: two must go
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v%d' % n, 'a', 2, mem=100 * (n + 1))
                     for n in range(6)])
        p = plan(m)
        self.assertEqual(2, len(p.migrations))
        self.assertEqual({'v0', 'v1'}, {x.instance for x in p.migrations})
        self.assertEqual([], p.unresolved)
        # the least-loaded destination each time: one each to b and c
        self.assertEqual({'b', 'c'}, {x.target for x in p.migrations})

    def test_never_creates_a_hotspot(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w', 'b', 7)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.unresolved)

    def test_allocation_ratio_is_respected(self):
        # b is idle but fully allocated (40 vCPUs at ratio 4.0)
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     c.vm('idle', 'b', vcpus=40, util=0.0),
                     busy('w', 'c', 3)])
        self.assertEqual([('v2', 'a', 'c')], moves(plan(m)))
        # with a lower ratio on c nothing fits anywhere
        m = c.model([c.host('a'), c.host('b'),
                     c.host('c', cpu_allocation_ratio=0.6)],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     c.vm('idle', 'b', vcpus=40, util=0.0),
                     busy('w', 'c', 3)])
        self.assertEqual([], moves(plan(m)))

    def test_memory_allocation_is_respected(self):
        m = c.model([c.host('a'), c.host('b', ram_allocation_ratio=1.0),
                     c.host('c')],
                    [busy('v1', 'a', 5, mem=2000),
                     busy('v2', 'a', 4, memory_mb=4000),
                     c.vm('idle', 'b', util=0.0, memory_mb=7000),
                     busy('w', 'c', 3)])
        # b would hold 11,000 MiB of flavor memory over 10,000 allowed
        self.assertEqual([('v2', 'a', 'c')], moves(plan(m)))

    def test_disabled_hosts_are_never_destinations(self):
        m = c.model([c.host('a'), c.host('b', disabled=True),
                     c.host('c', maintenance=True)],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.unresolved)

    def test_availability_zone(self):
        m = c.model([c.host('a', availability_zone='az1'),
                     c.host('b', availability_zone='az2')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4)])
        self.assertEqual([], moves(plan(m)))
        self.assertEqual(
            [('v2', 'a', 'b')],
            moves(plan(m, drs_balancer__same_availability_zone=False)))

    def test_same_aggregates(self):
        m = c.model([c.host('a', aggregates=['ssd']), c.host('b'),
                     c.host('c', aggregates=['ssd'])],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w', 'c', 2)])
        self.assertEqual([('v2', 'a', 'b')], moves(plan(m)))
        self.assertEqual(
            [('v2', 'a', 'c')],
            moves(plan(m, drs_balancer__same_aggregates=True)))

    def test_anti_affinity(self):
        # b is the least loaded but holds a member of v2's group
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000),
                     busy('v2', 'a', 4, server_group='anti'),
                     busy('peer', 'b', 1, server_group='anti'),
                     busy('w', 'c', 3)],
                    [{'name': 'anti', 'policy': 'anti-affinity'}])
        self.assertEqual([('v2', 'a', 'c')], moves(plan(m)))

    def test_anti_affinity_max_server_per_host(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000),
                     busy('v2', 'a', 4, server_group='anti'),
                     busy('peer', 'b', 1, server_group='anti'),
                     busy('w', 'c', 3)],
                    [{'name': 'anti', 'policy': 'anti-affinity',
                      'max_server_per_host': 2}])
        self.assertEqual([('v2', 'a', 'b')], moves(plan(m)))

    def test_soft_anti_affinity_is_a_preference(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000),
                     busy('v2', 'a', 4, server_group='soft'),
                     busy('peer', 'b', 1, server_group='soft'),
                     busy('w', 'c', 3)],
                    [{'name': 'soft', 'policy': 'soft-anti-affinity'}])
        self.assertEqual([('v2', 'a', 'c')], moves(plan(m)))
        # with c unavailable the policy yields
        m.hosts.disabled[2] = True
        self.assertEqual([('v2', 'a', 'b')], moves(plan(m)))

    def test_affinity_members_stay_together(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=2000, server_group='aff'),
                     busy('v2', 'a', 4, server_group='aff')],
                    [{'name': 'aff', 'policy': 'affinity'}])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.unresolved)

    def test_soft_affinity_member_moves_last(self):
        # either instance resolves it; the group member costs more
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=400, server_group='soft'),
                     busy('v2', 'a', 4, mem=500),
                     busy('v3', 'a', 1, mem=500, server_group='soft')],
                    [{'name': 'soft', 'policy': 'soft-affinity'}])
        self.assertEqual([('v2', 'a', 'b')], moves(plan(m)))
        self.assertEqual(
            [('v1', 'a', 'b')],
            moves(plan(m, drs_balancer__soft_affinity_penalty=0.0)))

    def test_opt_out_and_cooldown(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, opt_out=True),
                     busy('v2', 'a', 4, last_migrated_s=100)])
        self.assertEqual([], moves(plan(m)))
        self.assertEqual(
            [('v2', 'a', 'b')],
            moves(plan(m, drs_balancer__instance_cooldown=60)))

    def test_max_migrations_per_plan(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c'), c.host('d')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w1', 'b', 5), busy('w2', 'b', 5)])
        p = plan(m, drs_balancer__max_migrations_per_plan=1)
        self.assertEqual(1, len(p.migrations))
        # the more severe hotspot (b, 10 cores) comes first
        self.assertEqual('b', p.migrations[0].source)
        self.assertEqual(['a'], p.unresolved)

    def test_max_migrations_per_source_host_relieves_partly(self):
        # 12 cores, two moves needed, one allowed: the one made lowers the
        # overload, and the plan says which limit stopped it
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v%d' % n, 'a', 2) for n in range(6)])
        p = plan(m, drs_balancer__max_migrations_per_source_host=1)
        self.assertEqual(1, len(p.migrations))
        self.assertEqual(['a'], p.unresolved)
        why = p.unresolved_reasons['a']
        self.assertIn('partly relieved (cpu 1.20 -> 1.00)', why)
        self.assertIn('max_migrations_per_source_host allows 1', why)
        self.assertIn('partly relieved', p.migrations[0].reason)

    def test_no_partial_moves_when_nothing_could_cool_the_host(self):
        # 9.8 of 10 cores, 9 of them in one pinned instance: whatever
        # moves, a stays hot, and it is not saturated: nothing moves
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('pinned', 'a', 9, opt_out=True),
                     c.vm('v1', 'a', vcpus=1, util=40.0, mem=500,
                          memory_mb=2000),
                     c.vm('v2', 'a', vcpus=1, util=40.0, mem=500,
                          memory_mb=2000)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertIn('even moving all 2 movable instance(s) would not',
                      p.unresolved_reasons['a'])

    def test_saturated_host_that_must_stay_hot_is_brought_under_capacity(
            self):
        # 11 of 10 cores: the pinned instance keeps a hot (9 > 8.5), but
        # above 100 % v1 and v2 starve: both leave (one would leave a at
        # 1.00: at least 1 % under the capacity is the target)
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('pinned', 'a', 9, opt_out=True),
                     busy('v1', 'a', 1), busy('v2', 'a', 1)])
        p = plan(m)
        self.assertEqual(['v1', 'v2'], sorted(x[0] for x in moves(p)))
        self.assertEqual(['a'], p.unresolved)
        self.assertIn('partly relieved: back under its capacity '
                      '(cpu 1.10 -> 0.90) with 2 migration(s); even moving '
                      'all 2 movable instance(s) would not',
                      p.unresolved_reasons['a'])

    def test_instance_hot_on_every_host_stays_its_host_is_unsaturated(self):
        # big (9 cores) is above the 8.5-core threshold on any host: it
        # cannot move, a cannot be cooled; one small guest leaving brings
        # a from 1.05 to 0.95 of its cores (the fewest moves)
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('big', 'a', 9), busy('v1', 'a', 1),
                     c.vm('v2', 'a', vcpus=1, util=50.0, mem=500,
                          memory_mb=2000)])
        p = plan(m)
        self.assertEqual([('v1', 'a', 'b')], moves(p))
        self.assertIn('partly relieved: back under its capacity '
                      '(cpu 1.05 -> 0.95) with 1 migration(s); big alone is '
                      'above a threshold on any host',
                      p.unresolved_reasons['a'])
        # not saturated: no move at all
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('big', 'a', 9),
                     c.vm('v2', 'a', vcpus=1, util=50.0, mem=500,
                          memory_mb=2000)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertIn('big alone is above a threshold on any host',
                      p.unresolved_reasons['a'])

    def test_max_migrations_per_destination_host(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w1', 'b', 5, mem=2000), busy('w2', 'b', 4)])
        p = plan(m, drs_balancer__max_migrations_per_destination_host=1)
        self.assertEqual(1, len(p.migrations))
        self.assertEqual(1, len(p.unresolved))

    def test_chain_makes_room(self):
        # v2 (4 cores) fits nowhere directly: b has 5 used, c has 7;
        # moving y (1 core) from b to c makes room on b
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('x', 'b', 4, opt_out=True), busy('y', 'b', 1),
                     busy('z', 'c', 7, opt_out=True)])
        p = plan(m)
        self.assertEqual([('y', 'b', 'c'), ('v2', 'a', 'b')], moves(p))
        self.assertIn('make room on b for v2', p.migrations[0].reason)
        self.assertEqual([], p.unresolved)
        p = plan(m, drs_balancer__max_chain_depth=0)
        self.assertEqual([], p.migrations)

    def _deep_chain_model(self):
        # a: v1 5 (opted out) + v2 4 = 9 cores, hot (8.5). v2 fits
        # nowhere: b has 1.3 cores of room (x 4.2 opted out, y 3), c 2
        # (z 5 opted out, w 1.5), d 1.7 (q 6.8 opted out). y off b would
        # make room for v2, but y fits nowhere; w off c would make room
        # for y, and w fits on d
        return c.model(
            [c.host('a'), c.host('b'), c.host('c'), c.host('d')],
            [busy('v1', 'a', 5, opt_out=True), busy('v2', 'a', 4),
             c.vm('x', 'b', vcpus=6, util=70.0, opt_out=True),
             busy('y', 'b', 3),
             busy('z', 'c', 5, opt_out=True),
             c.vm('w', 'c', vcpus=2, util=75.0),
             c.vm('q', 'd', vcpus=8, util=85.0, opt_out=True)])

    def test_chain_of_two_make_room_moves(self):
        m = self._deep_chain_model()
        p = plan(m)
        # deepest first: each move has room when it runs
        self.assertEqual([('w', 'c', 'd'), ('y', 'b', 'c'), ('v2', 'a', 'b')],
                         moves(p))
        self.assertIn('make room on c for y', p.migrations[0].reason)
        self.assertIn('make room on b for v2', p.migrations[1].reason)
        self.assertIn('room made by the move before', p.migrations[2].reason)
        self.assertEqual([], p.unresolved)

    def test_chain_depth_is_bounded(self):
        m = self._deep_chain_model()
        p = plan(m, drs_balancer__max_chain_depth=1)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.unresolved)

    def test_chain_search_is_bounded_per_hot_host(self):
        # the two-level chain above takes two make-room options (y off b,
        # then w off c); with one allowed the search stops and says so
        m = self._deep_chain_model()
        with mock.patch.object(hotspot, 'CHAIN_BUDGET', 1):
            p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertIn('make-room chains searched up to 1 options',
                      p.unresolved_reasons['a'])
        with mock.patch.object(hotspot, 'CHAIN_BUDGET', 2):
            p = plan(m)
        self.assertEqual(3, len(p.migrations))
        self.assertEqual([], p.unresolved)

    def test_a_swap_is_reported_not_planned(self):
        # v2 (4 cores) would fit on b if y (3) left it, and y would fit
        # on a once v2 left (a: 5 + 3 = 8); nothing else has room: the
        # two moves wait for each other
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, opt_out=True), busy('v2', 'a', 4),
                     c.vm('x', 'b', vcpus=6, util=70.0, opt_out=True),
                     busy('y', 'b', 3)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        why = p.unresolved_reasons['a']
        self.assertIn('a swap would fit (v2 to b, y from there to a)', why)
        self.assertIn('cannot swap two guests', why)
        p = plan(m, drs_balancer__max_chain_depth=0)
        self.assertNotIn('swap', p.unresolved_reasons['a'])

    def test_memory_hotspot(self):
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('m1', 'a', mem=4000, memory_mb=5000),
                     c.vm('m2', 'a', mem=4000, memory_mb=5000),
                     c.vm('m3', 'a', mem=1500, memory_mb=2000),
                     c.vm('m4', 'a', mem=600, memory_mb=2000)])
        p = plan(m)
        # 10,100 MiB in use: 1,100 over the 9,000 MiB limit
        self.assertEqual([('m3', 'a', 'b')], moves(p))
        self.assertIn('memory 1.01 > 0.90', p.migrations[0].reason)

    def test_cpu_and_memory_hot_together(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('cpu', 'a', 4, mem=100),
                     busy('mem', 'a', 1, mem=5000, memory_mb=6000),
                     busy('both', 'a', 3, mem=2000, memory_mb=3000),
                     busy('rest', 'a', 2, mem=2500, memory_mb=3000)])
        # 10 cores (1.5 over) and 9,600 MiB (600 over): 'both' covers both
        self.assertEqual([('both', 'a', 'b')], moves(plan(m)))

    def test_disk_and_network_are_resources(self):
        m = c.model([c.host('a', disk_capacity_mb_s=100.0),
                     c.host('b', disk_capacity_mb_s=100.0),
                     c.host('c', disk_capacity_mb_s=100.0)],
                    [c.vm('d1', 'a', disk_mb_s=60.0, mem=1000),
                     c.vm('d2', 'a', disk_mb_s=35.0),
                     c.vm('d3', 'b', disk_mb_s=70.0)])
        # a at 95 MB/s of 100 (limit 90): d2 goes to c, not b (b would
        # reach 105 MB/s)
        self.assertEqual([('d2', 'a', 'c')], moves(plan(m)))
        m = c.model([c.host('a', net_capacity_mb_s=100.0),
                     c.host('b', net_capacity_mb_s=100.0)],
                    [c.vm('n1', 'a', net_mb_s=60.0, mem=1000),
                     c.vm('n2', 'a', net_mb_s=35.0)])
        self.assertEqual([('n2', 'a', 'b')], moves(plan(m)))

    def test_unresolvable_hotspot(self):
        # one instance alone is over the limit on any host
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('huge', 'a', vcpus=9, util=100.0)])
        p = plan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.unresolved)

    def test_dirty_rate_makes_a_move_dearer(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=1000, dirty_rate_mb_s=700.0),
                     busy('v2', 'a', 4, mem=1500)])
        # v1 sends 1000 / (1 - 0.7) = 3,333 MiB, v2 1,500 MiB
        p = plan(m)
        self.assertEqual([('v2', 'a', 'b')], moves(p))
        self.assertAlmostEqual(1500.0, p.migrations[0].transfer_mb)
        self.assertAlmostEqual(1.5, p.migrations[0].duration_s)

    def test_plan_does_not_change_the_model(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4)])
        before = m.host_demand().copy()
        hosts = m.instances.host.copy()
        plan(m)
        np.testing.assert_array_equal(before, m.host_demand())
        np.testing.assert_array_equal(hosts, m.instances.host)

    def test_reason_and_plan_document(self):
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4)])
        p = plan(m)
        reason = p.migrations[0].reason
        self.assertIn('hotspot on a (cpu 0.90 > 0.85 -> 0.50)', reason)
        self.assertIn('target b: cpu 0.00 -> 0.40', reason)
        doc = p.to_dict()
        self.assertEqual({'strategy', 'decision_s', 'migrations',
                          'unresolved', 'cooling'}, set(doc))
        self.assertEqual('hotspot', doc['strategy'])
        self.assertIsInstance(doc['decision_s'], float)
        self.assertEqual({'instance', 'source', 'target', 'reason',
                          'transfer_mb', 'duration_s'},
                         set(doc['migrations'][0]))

    def test_greedy_takes_the_largest_first(self):
        # a: 11 cores, 2.5 over 8.5; no one guest covers that, and
        # max_subset_size 1 leaves the rest to the greedy. Covering the
        # most first moves the 2-core guest and a 1-core one (2
        # migrations) where covering per MiB moved took the three small
        # ones (3)
        m = c.model([c.host('a'), c.host('b')],
                    [busy('pin', 'a', 6, opt_out=True),
                     busy('s1', 'a', 1, mem=100), busy('s2', 'a', 1, mem=100),
                     busy('s3', 'a', 1, mem=100),
                     busy('big', 'a', 2, mem=1800)])
        p = plan(m, drs_balancer__max_subset_size=1)
        self.assertEqual(2, len(p.migrations))
        self.assertEqual('big', p.migrations[0].instance)
        self.assertEqual([], p.unresolved)

    def test_greedy_relief_made_cheaper_at_the_same_size(self):
        # a: 10.2 cores, 1.7 over 8.5; max_subset_size 1 leaves it to the
        # greedy, which covers the most first: x (1.5 cores, 1,800 MiB),
        # then y. Swapping x for z (1 core, 100 MiB) still covers the 1.7
        # with two migrations, moving 200 MiB instead of 1,900
        m = c.model([c.host('a'), c.host('b')],
                    [busy('pin', 'a', 6, opt_out=True),
                     c.vm('x', 'a', vcpus=2, util=75.0, mem=1800),
                     c.vm('y', 'a', vcpus=2, util=60.0, mem=100),
                     c.vm('z', 'a', vcpus=1, util=100.0, mem=100),
                     c.vm('w', 'a', vcpus=1, util=50.0, mem=100)])
        p = plan(m, drs_balancer__max_subset_size=1)
        self.assertEqual({('y', 'a', 'b'), ('z', 'a', 'b')}, set(moves(p)))
        self.assertEqual([], p.unresolved)

    def test_a_swap_that_covers_more_lets_a_dear_member_go(self):
        # a: 10 cores, 1.5 over 8.5. The greedy takes x (1.2 cores, 5,000
        # MiB), then y (0.4, the first of those covering the 0.3 left). x
        # cannot go first (nothing cheaper covers 1.1); y gives way to y2
        # (0.6 cores, cheaper), and with 0.2 more covered x gives way to
        # w (0.9) in a second pass: 600 MiB moved instead of 5,200
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('pin', 'a', vcpus=10, util=69.0, opt_out=True),
                     c.vm('x', 'a', vcpus=2, util=60.0, mem=5000,
                          memory_mb=8000),
                     c.vm('y', 'a', vcpus=1, util=40.0, mem=300),
                     c.vm('y2', 'a', vcpus=1, util=60.0, mem=200),
                     c.vm('w', 'a', vcpus=1, util=90.0, mem=400)])
        p = plan(m, drs_balancer__max_subset_size=1)
        self.assertEqual({('y2', 'a', 'b'), ('w', 'a', 'b')}, set(moves(p)))
        self.assertEqual([], p.unresolved)

    def test_hosts_that_can_be_cooled_get_room_first(self):
        # c: the only host with room (6 cores of 8.5). a (12 cores, the
        # most severe) holds 'huge' (9 cores, above 8.5 on any host): it
        # stays hot whatever moves; b (9 cores) can be cooled by moving
        # w (4 cores) to c. Most severe first, a's saturation relief
        # (3.5 cores to c) took the room b needed
        m = c.model([c.host('a'), c.host('b'), c.host('c'), c.host('d')],
                    [busy('huge', 'a', 9), busy('a1', 'a', 3),
                     busy('b1', 'b', 5, opt_out=True), busy('w', 'b', 4),
                     busy('c1', 'c', 2, opt_out=True),
                     busy('d1', 'd', 8, opt_out=True)])
        p = plan(m)
        self.assertEqual(('w', 'b', 'c'), moves(p)[0])
        self.assertNotIn('b', p.unresolved)
        self.assertIn('a', p.unresolved)

    def test_greedy_fallback_beyond_subset_size(self):
        # 15 one-core instances (6.5 over): seven must go, more than the
        # exhaustive search's four
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v%02d' % n, 'a', 1) for n in range(15)])
        p = plan(m, drs_balancer__max_migrations_per_source_host=10,
                 drs_balancer__max_migrations_per_destination_host=10)
        self.assertEqual(7, len(p.migrations))
        self.assertEqual([], p.unresolved)


def base_load(cpu=0.0, memory=0.0):
    """A host's ``base_load``: cores and MiB its own processes use."""
    return {'cpu': cpu, 'memory': memory, 'disk': 0.0, 'network': 0.0}


def own(cpu=0.85, memory=0.9):
    """A host's ``thresholds``."""
    return {'cpu': cpu, 'memory': memory, 'disk': 0.9, 'network': 0.9}


class TestMeasuredHostState(base.BaseTestCase):
    """Models with the agents' state: base loads, thresholds, hot flags."""

    def test_destinations_are_judged_on_their_measured_load(self):
        # b's guests are idle, its own processes use 8 cores: 3 more
        # would put it at 1.1; c has room
        m = c.model([c.host('a', hot=['cpu']),
                     c.host('b', base_load=base_load(8.0), hot=[]),
                     c.host('c', hot=[])],
                    [busy('v1', 'a', 6, mem=3000), busy('v2', 'a', 3),
                     c.vm('idle', 'b', vcpus=2, util=0.0)])
        p = plan(m)
        self.assertEqual([('v2', 'a', 'c')], moves(p))
        self.assertIn('target c: cpu 0.00 -> 0.30',
                      p.migrations[0].reason)
        # without c, nothing fits: b is never used
        m = c.model([c.host('a', hot=['cpu']),
                     c.host('b', base_load=base_load(8.0), hot=[])],
                    [busy('v1', 'a', 6, mem=3000), busy('v2', 'a', 3),
                     c.vm('idle', 'b', vcpus=2, util=0.0)])
        p = plan(m)
        self.assertEqual([], moves(p))
        self.assertEqual(['a'], p.unresolved)

    def test_a_sources_relief_is_computed_from_its_measured_load(self):
        # a's guests use 8 cores (under 8.5), its own processes 1.5 more:
        # 9.5 cores, one must go
        m = c.model([c.host('a', base_load=base_load(1.5), hot=['cpu']),
                     c.host('b', hot=[])],
                    [busy('v1', 'a', 4), busy('v2', 'a', 2),
                     busy('v3', 'a', 2, mem=100)])
        p = plan(m)
        self.assertEqual([('v3', 'a', 'b')], moves(p))
        self.assertIn('hotspot on a (cpu 0.95 > 0.85 -> 0.75)',
                      p.migrations[0].reason)
        # base load alone above the threshold: no move of guests helps
        m = c.model([c.host('a', base_load=base_load(9.0), hot=['cpu']),
                     c.host('b', hot=[])],
                    [busy('v1', 'a', 1)])
        p = plan(m)
        self.assertEqual([], moves(p))
        self.assertEqual(['a'], p.unresolved)

    def test_the_hot_set_is_the_agents_flags(self):
        # a and b are both at 9 cores; only a's agent flags it (b: one
        # spike, k-of-n not reached): a is relieved, b is neither a
        # source nor a destination
        m = c.model([c.host('a', hot=['cpu']), c.host('b', hot=[]),
                     c.host('c', hot=[])],
                    [busy('a1', 'a', 6, mem=3000), busy('a2', 'a', 3),
                     busy('b1', 'b', 6, mem=3000), busy('b2', 'b', 3)])
        p = plan(m)
        self.assertEqual([('a2', 'a', 'c')], moves(p))
        self.assertEqual([], p.unresolved)
        self.assertEqual([], p.cooling)
        # without flags (an offline model), both are hot, as before
        m.hosts.hot = None
        self.assertEqual({'a', 'b'},
                         {x.source for x in plan(m).migrations})

    def test_a_cooling_host_needs_no_move_and_receives_none(self):
        # a's agent still flags it (k-of-n) though its load is back to
        # 0.5: no move, reported as cooling; and no destination, as Nova's
        # scheduler filter would refuse it; b is relieved to c
        m = c.model([c.host('a', hot=['cpu']), c.host('b', hot=['cpu']),
                     c.host('c', hot=[])],
                    [busy('a1', 'a', 5), busy('b1', 'b', 6, mem=3000),
                     busy('b2', 'b', 3)])
        for strategy in ('hotspot', 'balance'):
            p = plan(m, strategy)
            self.assertEqual([('b2', 'b', 'c')], moves(p), strategy)
            self.assertEqual(['a'], p.cooling)
            self.assertEqual([], p.unresolved)

    def test_each_host_is_judged_by_its_own_thresholds(self):
        # a's agent uses cpu 0.95: at 9 cores it is not over; b's uses
        # 0.6: at 5 cores it would be over, so it takes nothing; c's
        # thresholds are the planner's (none given)
        m = c.model([c.host('a', thresholds=own(0.95), hot=['cpu']),
                     c.host('b', thresholds=own(0.6), hot=['cpu']),
                     c.host('c', hot=[]), c.host('d', hot=[])],
                    [busy('a1', 'a', 9), busy('b1', 'b', 4, mem=3000),
                     busy('b2', 'b', 3), busy('d1', 'd', 7)])
        p = plan(m)
        self.assertEqual(['a'], p.cooling)
        self.assertEqual([('b2', 'b', 'c')], moves(p))
        self.assertIn('hotspot on b (cpu 0.70 > 0.60 -> 0.40)',
                      p.migrations[0].reason)
        # d at 7 cores would be at 1.0 with b2: not a destination
        self.assertNotIn('d', {x.target for x in p.migrations})
