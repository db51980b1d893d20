# SPDX-License-Identifier: Apache-2.0
"""The step loop on tiny hand-built traces, answers worked out by hand.

Unless a test says otherwise: 2 hosts of 4 cores and 10,000 MiB, steps of
300 s, 4 steps, so 2 x 4 x 300 = 2,400 s of active host-time when both
hosts hold instances throughout.
"""

from unittest import mock

import fixtures
import numpy as np
from oslotest import base

from nova_drs.balancer.strategies import hotspot
from nova_drs.balancer.view import peaks
from nova_drs.balloon.policies import adaptive
from nova_drs import detector
from nova_drs.simulator import engine
from nova_drs.simulator import locate
from nova_drs.simulator import memory
from nova_drs.simulator import scenario
from nova_drs.simulator import traces
from tests.unit import clusters
from tests.unit.simulator import fakes

# vm-0 and vm-1 (2 vCPUs each) on host 0, vm-2 (1 vCPU) on host 1.
# Host 0 uses 2 + 2 = 4 cores at step 0 (100%: overloaded and hot), then
# 2, 2 and 3 cores; host 1 uses 0.5 core throughout.
CPU = [[2, 1, 1, 1],
       [2, 1, 1, 2],
       [0.5, 0.5, 0.5, 0.5]]
MEM = [[1024] * 4, [2048] * 4, [512] * 4]
WHERE = [0, 0, 1]


def _work():
    return fakes.workload([2, 2, 1], [2048, 4096, 1024], CPU, MEM)


def _eager_conf(**overrides):
    """Hotspots declared on the first sample above the threshold."""
    return clusters.conf(drs__ewma_alpha=1.0, drs__persistence_count=1,
                         drs__persistence_window=1,
                         drs_balancer__migration_bandwidth_mb_s=512.0,
                         **overrides)


class TestNoStrategy(base.BaseTestCase):

    def test_metrics(self):
        result = fakes.simulation(_work(), WHERE).run('none')
        m = result.metrics
        # host 0 is at 4 of 4 cores (>= 100%, and above 0.85) during
        # step 0 only: 300 s of 2,400 s
        self.assertAlmostEqual(300.0 / 2400.0, m['overload_time_fraction'])
        self.assertAlmostEqual(300.0 / 2400.0,
                               m['hotspot_host_time_fraction'])
        self.assertEqual(0.0, m['pdm'])
        self.assertEqual(0.0, m['slav'])
        self.assertEqual(0, m['migrations'])
        self.assertEqual(0.0, m['gib_moved'])
        self.assertEqual(2.0, m['mean_active_hosts'])
        self.assertEqual(0.0, m['memory_reclaimed_gib'])
        self.assertEqual(0, m['pressure_events'])
        self.assertGreater(m['wall_s'], 0.0)
        np.testing.assert_allclose([1.0, 0.5, 0.5, 0.75],
                                   result.history['cpu_load'][:, 0])
        self.assertEqual([1, 0, 0, 0],
                         result.history['overloaded_hosts'].tolist())

    def test_inactive_hosts_do_not_count(self):
        # a third, empty host changes nothing: only active host-time counts
        m = fakes.simulation(_work(), WHERE, hosts=3).run('none').metrics
        self.assertAlmostEqual(300.0 / 2400.0, m['overload_time_fraction'])
        self.assertEqual(2.0, m['mean_active_hosts'])


class TestHotspotMigration(base.BaseTestCase):
    """One migration, timed by the cost model, loading both hosts."""

    def setUp(self):
        super().setUp()
        # no dirty pages: a migration sends the backed memory only
        self.useFixture(fixtures.MockPatchObject(
            memory, 'DIRTY_MB_S_PER_CORE', 0.0))

    def test_metrics(self):
        sim = fakes.simulation(_work(), WHERE, conf=_eager_conf())
        result = sim.run('hotspot')
        m = result.metrics
        # Step 0: host 0 is hot (4 of 4 cores) for the whole step: its
        # loads are known at its end, so the plan made then runs in step
        # 1 (nothing acts on data from its own future). Moving vm-0
        # (1,024 MiB) is cheaper than vm-1 (2,048 MiB); at 512 MB/s it
        # takes 1024 / 512 = 2 s. Step 1: host 0 has 2 cores + 0.5
        # migration overhead during [0, 2), then 1; host 1 has 0.5 + 1
        # (vm-0, on both hosts while it moves) + 0.5 = 2 cores, then 1.5.
        self.assertEqual(1, m['migrations'])
        self.assertAlmostEqual(1.0, m['gib_moved'])
        self.assertAlmostEqual(300.0 / 2400.0, m['overload_time_fraction'])
        self.assertAlmostEqual(300.0 / 2400.0,
                               m['hotspot_host_time_fraction'])
        # vm-0 loses 10% of 1 core for 2 s = 0.2 core-s, of the
        # (2 + 1 + 1 + 1) x 300 = 1,500 core-s it asked for; the other
        # two lose nothing: PDM = mean(0.2 / 1500, 0, 0)
        pdm = 0.2 / 1500.0 / 3.0
        self.assertAlmostEqual(pdm, m['pdm'])
        self.assertAlmostEqual(300.0 / 2400.0 * pdm, m['slav'])
        self.assertEqual(2.0, m['mean_active_hosts'])
        self.assertEqual(1, m['strategy_runs'])
        self.assertEqual([0, 1, 0, 0], result.history['migrations'].tolist())
        np.testing.assert_allclose([1.0, 0.125],
                                   result.history['cpu_load'][0], rtol=1e-6)
        # time-averaged CPU load of step 1: host 0 (2.5 x 2 + 1 x 298) /
        # 300 / 4, host 1 (2 x 2 + 1.5 x 298) / 300 / 4
        np.testing.assert_allclose(
            [(2.5 * 2 + 1 * 298) / 1200.0, (2 * 2 + 1.5 * 298) / 1200.0],
            result.history['cpu_load'][1], rtol=1e-6)
        # afterwards vm-0 runs on host 1
        np.testing.assert_allclose([0.25, 0.375],
                                   result.history['cpu_load'][2], rtol=1e-6)

    def _three_busy(self, per_host):
        # vm-0, vm-1, vm-2 (2 cores each) make host 0 use 6 of 4 cores in
        # steps 0 and 1; two must leave. Planned at the end of step 0,
        # they move in step 1: the cheapest pair is vm-0 (1,024 MiB, 2 s)
        # and vm-1 (2,048 MiB, 4 s), one to host 1 and one to host 2
        # (each at 0.5 core). The cluster is idle afterwards.
        busy = [2, 2, 0, 0]
        work = fakes.workload(
            [2, 2, 2, 1, 1], [2048, 4096, 8192, 1024, 1024],
            [busy, busy, busy, [0.5] * 4, [0.5] * 4],
            [[1024] * 4, [2048] * 4, [4096] * 4, [512] * 4, [512] * 4])
        sim = fakes.simulation(work, [0, 0, 0, 1, 2], hosts=3,
                               conf=_eager_conf(),
                               max_host_migrations=per_host)
        return sim.run('hotspot').metrics

    def test_one_migration_per_host_at_a_time(self):
        # all of step 0 overloaded, then in step 1 one after the other:
        # host 0 has 6 + 0.5 cores, then 4 + 0.5, until 2 + 4 = 6 s:
        # overloaded 300 + 6 s of 3 x 4 x 300 = 3,600 s
        m = self._three_busy(per_host=1)
        self.assertEqual(2, m['migrations'])
        self.assertAlmostEqual(306.0 / 3600.0, m['overload_time_fraction'])

    def test_two_migrations_per_host_at_a_time(self):
        # together they share host 0's 512 MB/s link: vm-0 sends 1,024
        # MiB at 256 MB/s in 4 s (6 + 1 cores), then vm-1 its last 1,024
        # at 512 in 2 s (4 + 0.5): no sooner than one after the other
        m = self._three_busy(per_host=2)
        self.assertEqual(2, m['migrations'])
        self.assertAlmostEqual(306.0 / 3600.0, m['overload_time_fraction'])

    def test_cooldown_seen_by_the_strategy(self):
        seen = []
        real = hotspot.HotspotStrategy.plan

        def spy(strategy, model):
            seen.append(model.instances.last_migrated_s.copy())
            return real(strategy, model)

        # host 1 gets hot at step 2 (vm-2 at 3.5 cores), after vm-0 moved
        cpu = [list(r) for r in CPU]
        cpu[2] = [0.5, 0.5, 3.5, 0.5]
        work = fakes.workload([2, 2, 4], [2048, 4096, 1024], cpu, MEM)
        sim = fakes.simulation(work, WHERE, conf=_eager_conf())
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy):
            sim.run('hotspot')
        self.assertEqual(2, len(seen))
        self.assertTrue(np.isinf(seen[0]).all())
        # vm-0 finished migrating at 2 s; step 2 starts at 600 s
        self.assertEqual(598.0, seen[1][0])
        self.assertTrue(np.isinf(seen[1][1:]).all())


class TestBalloon(base.BaseTestCase):
    """One guest of 10,000 MiB alone on a host of 10,000 MiB.

    Samples and agent cycles of one hour; page cache grows 50% of flavor
    memory per hour, tick by tick (10 s); the policy takes at most 100%
    per cycle (shrink_step 1.0), floor 5%, margin 10% (1,000 MiB), host
    free target 10% (1,000 MiB). The agent's cycle runs at the end of
    each hour, on what it measured: its targets apply from then on.

    * hour 0: working set 2,000, cache grows to 5,000: backed 7,000;
      at its end 3,000 available: nothing to do.
    * hour 1: cache grows to 8,000 (all the rest), backed 10,000; at its
      end 0 available: the host needs 1,000; the policy takes the
      guest's whole step, down to what it uses plus its margin (target
      3,000): one change, not one per cycle.
    * hour 2: working set 9,500 > 3,000: a pressure event every tick
      (360); backed 3,000, the balloon-free guest 10,000: 7,000 MiB
      reclaimed all hour (the squeezed guest keeps no page cache). At its
      end the policy gives it all back (10,000).
    * hour 3: working set 2,000; the page cache grows again from nothing
      (5,000 an hour), so backed stays 3,000 (its high-water mark) until
      the cache passes 1,000 (12 minutes), then 2,000 + cache, up to
      7,000: a mean of 4,600 backed, 5,400 reclaimed (5,394 on the 10 s
      ticks).

    Mean reclaimed: (0 + 0 + 7000 + 5394) / 4 = 3,099 MiB. (Before the
    simulation clock the policy acted at the start of each hour on that
    hour's working set, read before it happened.)
    """

    def test_reclaim_and_pressure(self):
        work = fakes.workload([1], [10000], [[0.0] * 4],
                              [[2000, 2000, 9500, 2000]], interval_s=3600.0)
        conf = clusters.conf(drs_balloon__shrink_step=1.0,
                             drs_balloon__floor=0.05,
                             drs_balloon__min_change_mb=0)
        sim = fakes.simulation(work, [0], hosts=1, memory_mb=10000,
                               ram_ratio=1.0, conf=conf, balloon=True,
                               page_cache_growth=0.5)
        result = sim.run('none')
        m = result.metrics
        self.assertAlmostEqual((7000.0 + 5394.44) / 4 / 1024.0,
                               m['memory_reclaimed_gib'], places=4)
        self.assertEqual(360, m['pressure_events'])
        self.assertEqual([0, 0, 360, 0],
                         result.history['pressure_events'].tolist())
        np.testing.assert_allclose([0.0, 0.0, 7000.0, 5394.44],
                                   result.history['reclaimed_gib'] * 1024,
                                   atol=0.01)
        # hour 2 backs 3,000 of 10,000; hour 3 a mean of 4,606
        np.testing.assert_allclose([0.3, 0.4606],
                                   result.history['memory_load'][2:, 0],
                                   atol=1e-4)
        self.assertEqual(2, m['balloon_changes'])

    def test_balloon_off(self):
        work = fakes.workload([1], [10000], [[0.0] * 4],
                              [[2000, 2000, 9500, 2000]], interval_s=3600.0)
        sim = fakes.simulation(work, [0], hosts=1, memory_mb=10000,
                               ram_ratio=1.0, balloon=False,
                               page_cache_growth=0.5)
        m = sim.run('none').metrics
        self.assertEqual(0.0, m['memory_reclaimed_gib'])
        self.assertEqual(0, m['pressure_events'])


class TestProductionClasses(base.BaseTestCase):
    """The simulator drives the production detector, strategy and policy."""

    def test_call_path(self):
        real_plan = hotspot.HotspotStrategy.plan
        real_targets = adaptive.AdaptivePolicy.targets
        real_update = detector.HotspotDetector.update
        sim = fakes.simulation(_work(), WHERE, conf=_eager_conf(),
                               balloon=True)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True,
                               side_effect=real_plan) as plan, \
                mock.patch.object(adaptive.AdaptivePolicy, 'targets',
                                  autospec=True,
                                  side_effect=real_targets) as targets, \
                mock.patch.object(detector.HotspotDetector, 'update',
                                  autospec=True,
                                  side_effect=real_update) as update:
            result = sim.run('hotspot')
        self.assertEqual(1, plan.call_count)
        self.assertIsInstance(plan.call_args[0][0], hotspot.HotspotStrategy)
        self.assertEqual(1, result.metrics['migrations'])
        # one balloon cycle per step and active host, one policy per host
        self.assertEqual(4 * 2, targets.call_count)
        policies = {id(c[0][0]) for c in targets.call_args_list}
        self.assertEqual(2, len(policies))
        self.assertEqual(4, update.call_count)

    def test_smoothed_model_matches_detector(self):
        # without migrations, a host's load in the strategy's model is the
        # detector's smoothed load (the EWMA is linear)
        models = []
        real_plan = hotspot.HotspotStrategy.plan

        def spy(strategy, model):
            models.append(model.host_load())
            return real_plan(strategy, model)

        conf = clusters.conf(drs__persistence_count=1,
                             drs__persistence_window=1,
                             drs__cpu_threshold=0.3)
        # full mode: every cycle is planned (in partial mode only those
        # with a host above a severe threshold are)
        sim = fakes.simulation(_work(), WHERE, conf=conf, mode='full')
        run = engine._Run(sim, 'hotspot', None)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy), \
                mock.patch.object(run.scheduler, 'apply'):
            run.run()
        self.assertEqual(4, len(models))
        np.testing.assert_allclose(
            run.detector.smoothed(sim.hosts.names), models[-1])


class TestDeterminism(base.BaseTestCase):

    def _run(self, seed):
        trace = traces.load_planetlab(
            locate.find(traces.PLANETLAB)[0])
        scen = scenario.build(trace, scenario.host_spec(traces.PLANETLAB, 6),
                              clusters.conf(), seed=seed)
        results, histories = scenario.run(scen, ['hotspot'])
        metrics = results['strategies']['hotspot']
        for key in ('wall_s', 'decision_s'):
            metrics.pop(key)
        return metrics, histories['hotspot']

    def test_same_seed_same_run(self):
        first, hist1 = self._run(7)
        second, hist2 = self._run(7)
        self.assertEqual(first, second)
        for key in hist1:
            np.testing.assert_array_equal(hist1[key], hist2[key])

    def test_other_seed_other_run(self):
        first, _hist = self._run(7)
        other, _hist = self._run(8)
        self.assertNotEqual(first, other)


class TestRecentSlices(base.BaseTestCase):
    """The model's recent slices: what the agents published lately."""

    def test_the_last_window_of_published_loads(self):
        vcpus = np.array([2, 4])
        memory = np.array([1000, 1000])
        # (cores, MiB, MB/s, MB/s) per instance, cycles of 300 s
        published = [(t - 300.0, t, np.array([[0.5 * k, 500.0 + k, 1.0, 0.0],
                                              [5.0, 2000.0, 0.0, 3.0]]))
                     for k, t in enumerate((300.0, 600.0, 900.0, 1200.0))]
        out = engine.recent_slices(published, 1200.0, 900.0, vcpus, memory)
        # 12 slices of 75 s: a cycle stands for the four slices it
        # measured: 900-1200 s for slices 12-15 (rows 0-3), 600-900 s
        # 8-11, 300-600 s 4-7, of which slice 4 (row 4) left the window
        # (1200 s is slice 16, row 4, with no time covered yet)
        self.assertEqual((2, 12, 4), out.shape)
        empty = np.flatnonzero(np.isnan(out[0, :, 0])).tolist()
        self.assertEqual([4], empty)
        # CPU as a share of the vCPUs, clamped to 1; memory to the flavor
        np.testing.assert_allclose([0.75] * 4, out[0, 0:4, 0])
        np.testing.assert_allclose([0.5] * 4, out[0, 8:12, 0])
        np.testing.assert_allclose([0.25] * 3, out[0, 5:8, 0])
        self.assertEqual(503.0, out[0, 0, 1])
        self.assertEqual(1.0, out[1, 0, 0])
        self.assertEqual(1000.0, out[1, 0, 1])
        self.assertEqual(3.0, out[1, 8, 3])
        self.assertIsNone(engine.recent_slices(published, 1200.0, 0.0,
                                               vcpus, memory))
        self.assertIsNone(engine.recent_slices([], 1200.0, 900.0,
                                               vcpus, memory))

    def test_time_weighted_means_as_the_live_tracker(self):
        # cycles of 50 s in slices of 75 s; a 50 s burst to 1.8 cores
        vcpus, memory = np.array([2]), np.array([1000])
        cores = [0.2, 1.8, 0.2, 0.2, 0.2]
        published = [(50.0 * k, 50.0 * (k + 1),
                      np.array([[c, 100.0, 0.0, 0.0]]))
                     for k, c in enumerate(cores)]
        out = engine.recent_slices(published, 250.0, 900.0, vcpus, memory)
        # slice 0: 50 s at 0.1, 25 s at 0.9; slice 1: 25 s at 0.9, 50 s
        # at 0.1 (the maxima would be 0.9 twice); slices 2 and 3 (the
        # current one) 0.1
        burst = (50 * 0.1 + 25 * 0.9) / 75
        np.testing.assert_allclose([burst, burst, 0.1, 0.1], out[0, :4, 0],
                                   rtol=1e-6)
        tracker = peaks.PeakTracker(900.0, per_slice=peaks.MEAN)
        for _start, end, demand in published:
            tracker.record('i', (demand[0, 0] / 2.0, 100.0, 0.0, 0.0),
                           now=end)
        np.testing.assert_allclose(tracker.slices('i', 250.0),
                                   out[0], rtol=1e-6)

    def test_the_strategy_sees_them(self):
        models = []
        real_plan = hotspot.HotspotStrategy.plan

        def spy(strategy, model):
            models.append(model)
            return real_plan(strategy, model)

        conf = clusters.conf(drs__persistence_count=1,
                             drs__persistence_window=1,
                             drs__ewma_alpha=1.0,
                             drs__cpu_threshold=0.3,
                             drs_balancer__destination_peak_window=900)
        # full mode: every cycle is planned (in partial mode only those
        # with a host above a severe threshold are)
        sim = fakes.simulation(_work(), WHERE, conf=conf, mode='full')
        run = engine._Run(sim, 'hotspot', None)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy), \
                mock.patch.object(run.scheduler, 'apply'):
            run.run()
        last = models[-1].instances.recent_slices
        # 900 s of 300-s steps: the slices the last three cover; vm-1
        # (2 vCPUs) used 1, 1 and 2 cores in them
        values = last[1, ~np.isnan(last[1, :, 0]), 0]
        self.assertEqual({0.5, 1.0}, set(values.tolist()))
        self.assertEqual(4, int((values == 1.0).sum()))
        # read from the newest row back (the order the hot hosts' trend
        # reads; the newest may be empty, a plan at a slice's start):
        # the last step (2 cores) first, the oldest (1 core) last
        newest = models[-1].instances.recent_newest
        back = [last[1, (newest - j) % peaks.BUCKETS, 0]
                for j in range(peaks.BUCKETS)]
        back = [v for v in back if not np.isnan(v)]
        self.assertEqual(1.0, back[0])
        self.assertEqual(0.5, back[-1])
        # off: none
        conf.set_override('destination_peak_window', 0, 'drs_balancer')
        models.clear()
        run = engine._Run(sim, 'hotspot', None)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy), \
                mock.patch.object(run.scheduler, 'apply'):
            run.run()
        self.assertIsNone(models[-1].instances.recent_slices)
        self.assertIsNone(models[-1].instances.recent_newest)
