# SPDX-License-Identifier: Apache-2.0
"""The ``consolidate`` strategy (hosts of 10 cores, 10,000 MiB)."""

import numpy as np
from oslotest import base

from nova_drs.balancer.strategies import consolidate
from nova_drs.cmd import drs
from nova_drs.model import snapshot
from tests.unit.balancer.test_hotspot import busy
from tests.unit.balancer.test_hotspot import moves
from tests.unit.balancer.test_hotspot import plan
from tests.unit import clusters as c


def apply(model, p):
    """The model after the plan's moves."""
    after = model.copy()
    for x in p.migrations:
        after.instances.host[after.instance_index[x.instance]] = \
            after.host_index[x.target]
    return after


def cplan(model, **overrides):
    """A consolidate plan; comfort level threshold - 0.10 unless told."""
    overrides.setdefault('drs_balancer__destination_headroom', 0.10)
    overrides.setdefault('drs_balancer__relief_margin', 0.0)
    return plan(model, 'consolidate', **overrides)


def peaks(model, **cpu):
    """Give instances a recent peak CPU (share of their vCPUs)."""
    model.instances.peak = np.full((len(model.instances), 4), np.nan)
    for name, util in cpu.items():
        model.instances.peak[model.instance_index[name], 0] = util
    return model


class TestConsolidate(base.BaseTestCase):

    def _three(self):
        # a runs 4 cores, b 1 core, c nothing
        return c.model([c.host('a'), c.host('b'), c.host('c')],
                       [busy('v1', 'a', 2, mem=1000),
                        busy('v2', 'a', 2, mem=1000),
                        busy('w', 'b', 1, mem=1000)])

    def test_empties_least_loaded_host_onto_a_running_one(self):
        m = self._three()
        p = cplan(m)
        self.assertEqual([('w', 'b', 'a')], moves(p))
        self.assertEqual(['b'], p.freed)
        self.assertIn('consolidate: empty b (1 guest(s)', p.migrations[0]
                      .reason)
        self.assertIn('comfort', p.migrations[0].reason)
        self.assertEqual({'freed'}, {'freed'} & set(p.to_dict()))
        # the model is not changed
        np.testing.assert_array_equal([0, 0, 1], m.instances.host)

    def test_plan_table_names_the_freed_hosts(self):
        text = drs._plan_table(cplan(self._three()))
        self.assertIn('hosts freed (no guest left, can be powered off): b',
                      text)
        self.assertNotIn('hosts freed', drs._plan_table(
            plan(self._three(), 'hotspot')))

    def test_hotspot_strategy_does_not_consolidate(self):
        self.assertEqual([], plan(self._three(), 'hotspot').migrations)

    def test_never_fills_an_empty_host(self):
        # a cannot take w at its comfort level; c is empty: nothing moves
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 7), busy('w', 'b', 1)])
        p = cplan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual([], p.freed)

    def test_comfort_level_is_threshold_minus_headroom(self):
        # a at 0.6 CPU + w 0.2 = 0.8: fits under 0.85 - 0.05, not 0.85 - 0.1
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 6), busy('w', 'b', 2)])
        self.assertEqual([('w', 'b', 'a')], moves(cplan(
            m, drs_balancer__destination_headroom=0.05,
            drs_balancer__relief_margin=0.0)))
        self.assertEqual([], cplan(
            m, drs_balancer__destination_headroom=0.10,
            drs_balancer__relief_margin=0.0).migrations)
        # relief_margin is the least gap
        self.assertEqual([], cplan(
            m, drs_balancer__destination_headroom=0.0,
            drs_balancer__relief_margin=0.10).migrations)

    def test_memory_comfort_level_of_its_own(self):
        # a: 2 cores, 6,000 MiB; w: 1 core, 1,000 MiB: memory ends at 0.70,
        # above 0.90 - 0.30, under 0.90 - 0.15
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 2, mem=6000, memory_mb=6000),
                     busy('w', 'b', 1, mem=1000)])
        self.assertEqual([], cplan(
            m, drs_balancer__destination_headroom=0.30,
            drs_balancer__destination_memory_headroom=None).migrations)
        self.assertEqual([('w', 'b', 'a')], moves(cplan(
            m, drs_balancer__destination_headroom=0.30,
            drs_balancer__destination_memory_headroom=0.15)))

    def test_packs_by_recent_peak_not_load_now(self):
        m = self._three()
        self.assertEqual(['b'], cplan(m).freed)
        # w used its vCPU fully an hour ago, v1 and v2 their 2 vCPUs at
        # 100% already: now w is at 100% too, but its peak is what counts
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('v1', 'a', vcpus=4, util=50.0),
                     c.vm('w', 'b', vcpus=4, util=25.0)])
        # a 0.2 + w 0.1 now: fits; at their peaks 0.4 + 0.4 does not
        self.assertEqual(['b'], cplan(m).freed)
        peaks(m, v1=1.0, w=1.0)
        p = cplan(m)
        self.assertEqual([], p.migrations)
        # a peak below the load now does not lower it
        peaks(m, v1=0.0, w=0.0)
        self.assertEqual(['b'], cplan(m).freed)

    def test_guests_busy_at_different_hours_share_a_host(self):
        # v1 and w each peak at 4 cores, at different hours: together
        # never above 0.5 + 0.1; their overall peaks would add to 0.8
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('v1', 'a', vcpus=4, util=25.0),
                     c.vm('w', 'b', vcpus=4, util=25.0)])
        peaks(m, v1=1.0, w=1.0)
        self.assertEqual([], cplan(m).migrations)
        m.instances.peak_slices = np.full((2, 2, 4), np.nan)
        m.instances.peak_slices[0, :, 0] = (1.0, 0.25)
        m.instances.peak_slices[1, :, 0] = (0.25, 1.0)
        p = cplan(m)
        self.assertEqual(1, len(p.freed))
        self.assertIn('peak cpu 0.40 -> 0.50 (comfort 0.75)',
                      p.migrations[0].reason)
        # the same slice: they add up
        m.instances.peak_slices[1, :, 0] = (1.0, 0.25)
        self.assertEqual([], cplan(m).migrations)

    def test_never_while_a_hotspot_is_open(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5, mem=2000), busy('v2', 'a', 4),
                     busy('w', 'b', 1), busy('x', 'c', 1)])
        p = cplan(m)
        self.assertEqual([], p.freed)
        self.assertTrue(p.migrations)
        self.assertTrue(all(x.reason.startswith('hotspot on a')
                            for x in p.migrations))
        # the agents' flags count, also for a host back under (cooling)
        m = self._three()
        m.hosts.hot = np.zeros((3, 4), dtype=bool)
        m.hosts.hot[0, 0] = True
        p = cplan(m)
        self.assertEqual([], p.migrations)
        self.assertEqual(['a'], p.cooling)

    def test_a_hotspot_no_migration_can_relieve_does_not_wait(self):
        # v1 alone (9 of 10 cores) is busier than any host's threshold:
        # a stays hot whatever moves; b is freed onto c
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 9), busy('w', 'b', 1),
                     busy('x', 'c', 3)])
        p = cplan(m)
        self.assertEqual([('w', 'b', 'c')], moves(p))
        self.assertEqual(['a'], p.unresolved)
        # once v1 could leave for an empty host, it waits
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 8), busy('v2', 'a', 1),
                     busy('w', 'b', 1), busy('x', 'c', 3)])
        p = cplan(m)
        self.assertEqual([], p.freed)

    def test_whole_host_or_nothing(self):
        # b's two guests: only one fits on a
        m = c.model([c.host('a'), c.host('b')],
                    [busy('v1', 'a', 5), busy('w1', 'b', 1),
                     busy('w2', 'b', 2)])
        p = cplan(m)
        self.assertEqual([], p.migrations)

    def test_fewest_migrations_then_least_memory_per_host_freed(self):
        # as loaded, a has room for one of them: b (1 guest), not c (2)
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5), busy('w', 'b', 2, mem=1000),
                     busy('x1', 'c', 1, mem=500), busy('x2', 'c', 1,
                                                       mem=500)])
        p = cplan(m)
        self.assertEqual(['b'], p.freed)
        self.assertEqual([('w', 'b', 'a')], moves(p))
        # one guest each: the one with less memory to send
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [busy('v1', 'a', 5), busy('w', 'b', 2, mem=1200),
                     busy('x', 'c', 2, mem=1000)])
        p = cplan(m)
        self.assertEqual([('x', 'c', 'a')], moves(p))

    def test_best_fit_destination(self):
        # w fits on a (0.5) and d (0.3): the fuller one
        m = c.model([c.host('a'), c.host('d'), c.host('b')],
                    [busy('v1', 'a', 5), busy('y1', 'd', 3),
                     c.vm('y2', 'd', util=1.0, mem=100),
                     busy('w', 'b', 1)])
        p = cplan(m)
        self.assertIn(('w', 'b', 'a'), moves(p))
        after = apply(m, p)
        # nothing is above the comfort level afterwards
        self.assertTrue((after.host_load()[:, 0] <= 0.75 + 1e-9).all())

    def test_placement_rules(self):
        # v1 stays (opted out): only w may move, onto a
        base_hosts = [c.host('a'), c.host('b')]
        guests = [busy('v1', 'a', 3, opt_out=True), busy('w', 'b', 1)]
        # opt-out, and a failed target
        m = c.model(base_hosts, [busy('v1', 'a', 3, opt_out=True),
                                 busy('w', 'b', 1, opt_out=True)])
        self.assertEqual([], cplan(m).migrations)
        m = c.model(base_hosts, guests)
        m.exclude_target('w', 'a')
        self.assertEqual([], cplan(m).migrations)
        # disabled destination
        m = c.model(base_hosts, guests)
        m.hosts.disabled[0] = True
        self.assertEqual([], cplan(m).migrations)
        # availability zones
        m = c.model([c.host('a', availability_zone='z1'),
                     c.host('b', availability_zone='z2')], guests)
        self.assertEqual([], cplan(m).migrations)
        # allocation ratios: a has 40 vCPUs allocatable
        m = c.model(base_hosts, [c.vm('v1', 'a', vcpus=39, util=7.7,
                                      opt_out=True),
                                 c.vm('w', 'b', vcpus=2, util=50.0)])
        self.assertEqual([], cplan(m).migrations)
        # cool-down after a recent migration
        m = c.model(base_hosts, [busy('v1', 'a', 3, opt_out=True),
                                 busy('w', 'b', 1, last_migrated_s=60)])
        self.assertEqual([], cplan(m).migrations)
        # and the same cluster without a rule consolidates
        self.assertEqual(['b'], cplan(c.model(base_hosts, guests)).freed)

    def test_server_groups(self):
        hosts = [c.host('a'), c.host('b')]
        anti = [{'name': 'g', 'policy': 'anti-affinity'}]
        m = c.model(hosts, [busy('v1', 'a', 3, server_group='g'),
                            busy('w', 'b', 1, server_group='g')], anti)
        self.assertEqual([], cplan(m).migrations)
        # hard affinity: the members do not move, their host is kept
        aff = [{'name': 'g', 'policy': 'affinity'}]
        m = c.model(hosts, [busy('v1', 'a', 3, opt_out=True),
                            busy('w1', 'b', 1, server_group='g'),
                            busy('w2', 'b', 1, server_group='g')], aff)
        self.assertEqual([], cplan(m).migrations)

    def test_migration_limits(self):
        hosts = [c.host('a'), c.host('b')]
        m = c.model(hosts, [busy('v1', 'a', 1, opt_out=True)]
                    + [c.vm('w%d' % n, 'b', util=1.0, mem=100)
                       for n in range(5)])
        self.assertEqual([], cplan(
            m, drs_balancer__max_migrations_per_source_host=4)
            .migrations)
        p = cplan(m, drs_balancer__max_migrations_per_source_host=5,
                  drs_balancer__max_migrations_per_destination_host=5)
        self.assertEqual(['b'], p.freed)
        self.assertEqual(5, len(p.migrations))
        # the plan limit: a host needing more moves than are left stays
        p = cplan(m, drs_balancer__max_migrations_per_source_host=5,
                  drs_balancer__max_migrations_per_destination_host=5,
                  drs_balancer__max_migrations_per_plan=4)
        self.assertEqual([], p.migrations)

    def test_frees_several_hosts_and_keeps_receivers(self):
        hosts = [c.host(n) for n in 'abcde']
        m = c.model(hosts, [busy('v1', 'a', 4), busy('w', 'b', 1),
                            busy('x', 'c', 1), busy('y', 'd', 1),
                            busy('z', 'e', 2)])
        p = cplan(m)
        after = apply(m, p)
        running = set(after.instances.host.tolist())
        self.assertEqual(len(p.freed), 5 - len(running))
        self.assertNotIn(m.host_index['a'],
                         {m.host_index[h] for h in p.freed})
        for h in p.freed:
            self.assertNotIn(m.host_index[h], running)
        # a host that received is never emptied in the same plan
        self.assertFalse({x.target for x in p.migrations}
                         & {x.source for x in p.migrations})
        self.assertGreaterEqual(len(p.freed), 3)


class TestPeakDemand(base.BaseTestCase):

    def test_peak_never_below_now_and_nan_is_unknown(self):
        m = c.model([c.host('a')],
                    [c.vm('v', 'a', vcpus=2, util=50.0, mem=500)])
        np.testing.assert_allclose(m.instance_demand(),
                                   m.instance_peak_demand())
        m.instances.peak = np.array([[0.9, np.nan, 1.0, 0.0]])
        np.testing.assert_allclose([[1.8, 500.0, 1.0, 0.0]],
                                   m.instance_peak_demand())
        # copies keep the peaks, on their own
        copy = m.copy()
        copy.instances.peak[0, 0] = 0.1
        self.assertEqual(0.9, m.instances.peak[0, 0])

    def test_snapshot_peak_round_trip_and_errors(self):
        doc = {'hosts': [c.host('a')],
               'instances': [c.vm('v', 'a', vcpus=2, util=50.0,
                                  peak={'cpu_util': 90.0}),
                             c.vm('w', 'a')]}
        m = snapshot.from_dict(doc)
        np.testing.assert_allclose([0.9, np.nan, np.nan, np.nan],
                                   m.instances.peak[0])
        self.assertTrue(np.isnan(m.instances.peak[1]).all())
        self.assertAlmostEqual(1.8, m.instance_peak_demand()[0, 0])
        again = snapshot.to_dict(m)
        self.assertEqual({'cpu_util': 90.0}, again['instances'][0]['peak'])
        self.assertNotIn('peak', again['instances'][1])
        # no peak anywhere: none in the model
        self.assertIsNone(c.model([c.host('a')],
                                  [c.vm('v', 'a')]).instances.peak)
        for bad, message in (({'cpu_util': 150}, 'at most 100'),
                             ({'mem_used_mb': 5000}, 'at most 2000'),
                             ({'gpu': 1}, "unknown key 'gpu'"),
                             ([1], 'must be an object')):
            doc['instances'][0]['peak'] = bad
            e = self.assertRaises(snapshot.SnapshotError,
                                  snapshot.from_dict, doc)
            self.assertIn('instances[0].peak', str(e))
            self.assertIn(message, str(e))

    def test_peak_profile(self):
        m = c.model([c.host('a')],
                    [c.vm('v', 'a', vcpus=2, util=50.0, mem=500)])
        np.testing.assert_allclose([[[1.0, 500.0, 0.0, 0.0]]],
                                   consolidate.peak_profile(m))
        m.instances.peak = np.array([[0.75, np.nan, np.nan, np.nan]])
        np.testing.assert_allclose([[[1.5, 500.0, 0.0, 0.0]]],
                                   consolidate.peak_profile(m))
        # slices win over the overall peak; NaN slices: the load now
        m.instances.peak_slices = np.array(
            [[[0.9, 800.0, np.nan, np.nan], [np.nan] * 4]])
        np.testing.assert_allclose(
            [[[1.8, 800.0, 0.0, 0.0], [1.0, 500.0, 0.0, 0.0]]],
            consolidate.peak_profile(m))
