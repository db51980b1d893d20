# SPDX-License-Identifier: Apache-2.0
"""The simulation clock: interpolation, agents, planning cadence, grid."""

import dataclasses
from unittest import mock

import fixtures
import numpy as np
from oslotest import base

from nova_drs.balancer.strategies import hotspot
from nova_drs import detector
from nova_drs.simulator import engine
from nova_drs.simulator import locate
from nova_drs.simulator import scenario
from nova_drs.simulator import traces
from tests.unit import clusters
from tests.unit.simulator import fakes


class TestTruth(base.BaseTestCase):
    """Linear between the ends of the sample intervals."""

    def setUp(self):
        super().setUp()
        # one instance, samples 1, 3, 2 cores every 100 s
        work = fakes.workload([4], [1024], [[1.0, 3.0, 2.0]],
                              [[100.0, 300.0, 200.0]], interval_s=100.0)
        self.truth = engine.Truth(work)

    def _cpu(self, t0, t1):
        return self.truth.mean(t0, t1)[0, 0]

    def test_anchored_at_the_ends(self):
        # before the first end: the first sample
        self.assertEqual(1.0, self._cpu(0.0, 10.0))
        self.assertEqual(1.0, self._cpu(90.0, 100.0))
        # sample 0 at 100 s, sample 1 at 200 s, sample 2 at 300 s
        self.assertAlmostEqual(1.1, self._cpu(100.0, 110.0))
        self.assertAlmostEqual(2.0, self._cpu(145.0, 155.0))
        self.assertAlmostEqual(2.9, self._cpu(190.0, 200.0))
        self.assertAlmostEqual(2.5, self._cpu(245.0, 255.0))
        self.assertAlmostEqual(2.05, self._cpu(290.0, 300.0))

    def test_nothing_read_early(self):
        # a spike in sample 2 (its interval starts at 200 s) changes
        # nothing before 200 s
        work = fakes.workload([4], [1024], [[1.0, 3.0, 4.0]],
                              [[100.0, 300.0, 200.0]], interval_s=100.0)
        spiked = engine.Truth(work)
        for t in range(0, 200, 10):
            np.testing.assert_array_equal(self.truth.mean(t, t + 10),
                                          spiked.mean(t, t + 10))
        self.assertGreater(spiked.mean(200, 210)[0, 0],
                           self.truth.mean(200, 210)[0, 0])

    def test_held(self):
        work = fakes.workload([4], [1024], [[1.0, 3.0, 2.0]],
                              [[100.0, 300.0, 200.0]], interval_s=100.0)
        held = engine.Truth(work, interpolate=False)
        self.assertEqual([1.0, 3.0, 3.0, 2.0], [
            held.mean(t, t + 10)[0, 0] for t in (0, 100, 190, 290)])

    def test_tick(self):
        self.assertEqual(10.0, engine.tick_seconds(300.0, 300.0))
        self.assertEqual(10.0, engine.tick_seconds(300.0, 10.0))
        self.assertEqual(5.0, engine.tick_seconds(300.0, 5.0))
        self.assertAlmostEqual(60.0 / 7, engine.tick_seconds(60.0, 9.0))


# host 0 (4 cores) at 2 cores, then its two guests at 4 of 4 from sample 2
# on; host 1 idle: a hotspot on host 0 from 600 s (sample 1's end) on
CPU = [[1, 1, 2, 2, 2, 2], [1, 1, 2, 2, 2, 2], [0.5] * 6]
MEM = [[1024] * 6, [2048] * 6, [512] * 6]


def _eager_conf(**overrides):
    """Hot as soon as one sample is above the threshold."""
    return clusters.conf(drs__ewma_half_life_s=0.0, drs__persistence_s=1.0,
                         drs__persistence_window_s=1.0,
                         drs_balancer__migration_bandwidth_mb_s=512.0,
                         **overrides)


class TestAgentsAndPlanner(base.BaseTestCase):

    def _run(self, agent_s, **options):
        plans = []
        real = hotspot.HotspotStrategy.plan

        def spy(strategy, model):
            plans.append(model)
            return real(strategy, model)

        updates = []
        real_update = detector.HotspotDetector.update

        def spy_update(det, keys, loads, dt=None):
            updates.append(dt)
            return real_update(det, keys, loads, dt=dt)

        work = fakes.workload([2, 2, 1], [2048, 4096, 1024], CPU, MEM)
        sim = fakes.simulation(work, [0, 0, 1], conf=_eager_conf(),
                               agent_interval_s=agent_s, **options)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy), \
                mock.patch.object(detector.HotspotDetector, 'update',
                                  autospec=True, side_effect=spy_update):
            result = sim.run('hotspot')
        return result, plans, updates

    def test_agents_every_interval_with_their_seconds(self):
        result, _plans, updates = self._run(60.0)
        # 6 samples of 300 s: 30 cycles of 60 s, each told its 60 s
        self.assertEqual([60.0] * 30, updates)
        self.assertEqual(30, result.metrics['agent_cycles'])

    def test_planned_at_once_on_a_new_hotspot(self):
        # held samples: host 0 is at 4 of 4 cores from 600 s on; the
        # 300 s agent sees it at the end of [600, 900), and the plan made
        # then starts its migration at once
        result, plans, _updates = self._run(300.0)
        self.assertEqual(1, result.metrics['migrations'])
        self.assertEqual(1, result.metrics['strategy_runs'])
        self.assertAlmostEqual(
            302.17, result.metrics['overload_time_fraction'] * 3600.0,
            delta=0.01)
        # with 60 s agents, at the end of [600, 660)
        result, plans, _updates = self._run(60.0)
        self.assertEqual(1, result.metrics['migrations'])
        # the migration starts after the decision, at 660 s, and takes
        # 2.17 s (1,110 MiB sent, its dirty pages included): host 0 is
        # overloaded 62.17 s of 2 x 1,800 s of active host-time
        self.assertAlmostEqual(
            62.17, result.metrics['overload_time_fraction'] * 3600.0,
            delta=0.01)
        self.assertEqual([0.0, 0.0, 7 / 30, 0.0, 0.0, 0.0],
                         result.history['overloaded_hosts'].tolist())

    def test_periodic_cycles_skip_unchanged_input(self):
        # a 600 s agent, 60 s planning: no new data for 9 cycles in 10
        result, _plans, _updates = self._run(600.0, planning_interval_s=60.0)
        self.assertEqual(1, result.metrics['strategy_runs'])

    def test_the_model_is_what_the_agents_published(self):
        _result, plans, _updates = self._run(300.0)
        model = plans[0]
        # at 900 s: the mean of [600, 900) (held samples: 2 cores each)
        np.testing.assert_allclose([2.0, 2.0, 0.5],
                                   model.instances.cpu_util[:3]
                                   * model.instances.vcpus[:3])


def _short_trace(hours):
    trace = traces.load_planetlab(locate.find(traces.PLANETLAB)[0])
    n = int(hours * 3600 / trace.interval_s)
    return dataclasses.replace(trace, cpu=trace.cpu[:, :n])


def _metrics(trace, interval_s, names=('none', 'hotspot', 'balance')):
    scen = scenario.build(trace, scenario.host_spec(traces.PLANETLAB, 8),
                          clusters.conf(),
                          engine.Options(balloon=False),
                          interval_s=interval_s)
    results, _h = scenario.run(scen, list(names))
    return {name: (m['overload_time_fraction'],
                   m['hotspot_host_time_fraction'])
            for name, m in results['strategies'].items()}


class TestStepIndependence(base.BaseTestCase):
    """A short trace (4 h, 40 VMs on 8 hosts), balloon off."""

    def test_truth_and_measurement_do_not_depend_on_the_agents(self):
        # without migrations only the agents differ: the same figures
        trace = _short_trace(4)
        figures = [_metrics(trace, i, ['none'])['none']
                   for i in (300.0, 60.0, 10.0)]
        self.assertEqual(figures[0], figures[1])
        self.assertEqual(figures[0], figures[2])
        self.assertGreater(figures[0][0], 0.0)

    def test_a_finer_grid_changes_nothing_much(self):
        # the measurement grid is a step of the simulation, the agents'
        # interval (60 s) a setting: halving the grid's ticks moves no
        # strategy's SLATAH or hotspot time by 10 %
        trace = _short_trace(4)
        coarse = _metrics(trace, 60.0)
        self.useFixture(fixtures.MockPatchObject(engine, 'MEASURE_S', 5.0))
        fine = _metrics(trace, 60.0)
        for name in coarse:
            for a, b in zip(coarse[name], fine[name]):
                self.assertLessEqual(abs(a - b), 0.1 * max(a, b), name)
