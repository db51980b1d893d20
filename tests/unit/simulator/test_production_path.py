# SPDX-License-Identifier: Apache-2.0
"""The simulator drives the balancer's Planner and the executor's rules."""

from unittest import mock

from oslotest import base

from nova_drs.balancer.planning import planner as planner_mod
from nova_drs.simulator import engine
from nova_drs.simulator import locate
from nova_drs.simulator import migrations
from nova_drs.simulator import report
from nova_drs.simulator import scenario
from nova_drs.simulator import traces
from tests.unit import clusters
from tests.unit.simulator import fakes


def _conf(**overrides):
    """Hot as soon as one sample is above [drs] cpu_threshold 0.5."""
    return clusters.conf(drs__ewma_half_life_s=0.0, drs__persistence_s=1.0,
                         drs__persistence_window_s=1.0,
                         drs__cpu_threshold=0.5,
                         drs_balancer__migration_bandwidth_mb_s=512.0,
                         **overrides)


def _starts(sim, name):
    """Run ``name``; [(start s, instance, source, target)] of migrations.

    ``_starts.flights`` keeps the migrations (their ``end_s``).
    """
    started, flights = [], []
    real = migrations.Scheduler._flight

    def record(scheduler, now, i, src, dst, mem_mb):
        started.append((now, i, src, dst))
        flights.append(real(scheduler, now, i, src, dst, mem_mb))
        return flights[-1]

    with mock.patch.object(migrations.Scheduler, '_flight', autospec=True,
                           side_effect=record):
        result = sim.run(name)
    _starts.flights = flights
    return started, result.metrics


# Six hosts of 8 cores. Host 0: vm-0 and vm-1 at 2.5 cores each (load
# 0.625: hot, below the severe 0.95). Host 1: vm-2..vm-5 at 2 cores each
# (load 1.0: severe). Hosts 2-5 idle, a small guest each.
SEVERE_CPU = [2.5, 2.5, 2, 2, 2, 2, 0.1, 0.1, 0.1, 0.1]
SEVERE_WHERE = [0, 0, 1, 1, 1, 1, 2, 3, 4, 5]


def _severe_sim(conf, **options):
    n = len(SEVERE_CPU)
    work = fakes.workload([4] * n, [1024] * n,
                          [[c] * 6 for c in SEVERE_CPU], [[512] * 6] * n)
    return fakes.simulation(work, SEVERE_WHERE, hosts=6, vcpus=8,
                            memory_mb=65536, conf=conf, **options)


class TestMode(base.BaseTestCase):

    def test_default_is_the_services(self):
        conf = _conf()
        self.assertEqual('partial', conf.drs_balancer.mode)
        sim = _severe_sim(conf)
        _, m = _starts(sim, 'hotspot')
        self.assertEqual('partial', m['mode'])

    def test_partial_applies_only_severe_hotspots(self):
        started, m = _starts(_severe_sim(_conf()), 'hotspot')
        # host 1 (severe) is relieved; host 0 (hot, not severe) only gets
        # a recommendation, never applied
        self.assertEqual({1}, {src for _, _, src, _ in started})
        self.assertGreater(len(started), 0)
        self.assertGreater(m['recommended_migrations'], 0)

    def test_partial_is_what_the_planner_applies(self):
        # the moves started are the applied part of Planner.decide's
        # cycles: nothing of a recommended part ever starts
        applied, recommended = [], []
        real = planner_mod.Planner.decide

        def spy(planner, cycle, origin):
            result, decisions = real(planner, cycle, origin)
            for d in decisions:
                (applied if d.apply else recommended).extend(
                    (m.instance, m.source) for m in d.plan.migrations)
            return result, decisions

        sim = _severe_sim(_conf())
        with mock.patch.object(planner_mod.Planner, 'decide',
                               autospec=True, side_effect=spy):
            started, _ = _starts(sim, 'hotspot')
        hosts = sim.hosts.names
        self.assertEqual(sorted(applied),
                         sorted(('vm-%d' % i, hosts[s])
                                for _, i, s, _ in started))
        self.assertEqual({hosts[0]}, {s for _, s in recommended})

    def test_partial_plans_no_cycle_without_a_severe_host(self):
        # severe CPU at 1.0: host 1 (1.0) is not above it; both hosts
        # are hot, neither severe: no cycle is planned, nothing moves
        conf = _conf(drs_balancer__severe_cpu_threshold=1.0)
        with mock.patch.object(planner_mod.Planner, 'decide',
                               autospec=True) as decide:
            started, m = _starts(_severe_sim(conf), 'hotspot')
        decide.assert_not_called()
        self.assertEqual([], started)
        self.assertGreater(m['cycles_without_severe'], 0)
        self.assertEqual(0, m['strategy_runs'])
        # what full mode moves there: these hosts are hot
        started, _ = _starts(_severe_sim(conf, mode='full'), 'hotspot')
        self.assertEqual({0, 1}, {src for _, _, src, _ in started})

    def test_full_applies_everything(self):
        started, m = _starts(_severe_sim(_conf(), mode='full'), 'hotspot')
        self.assertEqual({0, 1}, {src for _, _, src, _ in started})
        self.assertEqual(0, m['recommended_migrations'])
        self.assertEqual('full', m['mode'])

    def test_manual_applies_nothing(self):
        started, m = _starts(_severe_sim(_conf(), mode='manual'), 'hotspot')
        self.assertEqual([], started)
        self.assertEqual(0, m['migrations'])
        self.assertGreater(m['recommended_migrations'], 0)

    def test_severe_threshold_decides(self):
        # severe CPU at 0.6: host 0 (0.625) is severe too
        conf = _conf(drs_balancer__severe_cpu_threshold=0.6)
        started, _ = _starts(_severe_sim(conf), 'hotspot')
        self.assertEqual({0, 1}, {src for _, _, src, _ in started})


class TestExecutorLimits(base.BaseTestCase):

    def test_per_host_limit_from_the_actuator_options_queues(self):
        # host 1 needs several guests moved; one migration per host at a
        # time ([drs_actuator] max_concurrent_migrations_per_host = 1,
        # the default): each starts when the one before ended
        conf = _conf()
        self.assertEqual(1, conf.drs_actuator.
                         max_concurrent_migrations_per_host)
        started, _ = _starts(_severe_sim(conf), 'hotspot')
        self.assertGreater(len(started), 1)
        runs = sorted((f.start_s, f.end_s) for f in _starts.flights)
        # all leave host 1: each starts as the one before ends
        for (_, end), (start, _) in zip(runs, runs[1:]):
            self.assertAlmostEqual(end, start)
        # two per host: the first two start together
        conf = _conf(drs_actuator__max_concurrent_migrations_per_host=2)
        started, _ = _starts(_severe_sim(conf), 'hotspot')
        times = sorted(t for t, _, _, _ in started)
        self.assertEqual(times[0], times[1])

    def test_cluster_limit(self):
        conf = _conf(drs_actuator__max_concurrent_migrations=1,
                     drs_actuator__max_concurrent_migrations_per_host=4)
        started, _ = _starts(_severe_sim(conf), 'hotspot')
        times = sorted(t for t, _, _, _ in started)
        self.assertGreater(len(times), 1)
        self.assertGreater(times[1], times[0])


# Three hosts of 8 cores, [drs] cpu_threshold 0.5: hot above 4 cores.
# Host 0: vm-0 (1 core, 512 MiB) and vm-1 (3.5 cores): hot from the
# start; only vm-0 can go, and only to host 1 (host 2's vm-3 uses 3.5).
# From 600 s, vm-2 on host 1 rises to 3.5 cores: host 1 (with vm-0) is hot;
# host 2's vm-3 fell to 2 cores, and only vm-0 can go there: its second
# migration, which the instance cool-down delays.
COOL_CPU = [[1.0] * 12, [3.5] * 12, [1.0] * 2 + [3.5] * 10,
            [3.5] * 2 + [2.0] * 10]


class TestCooldown(base.BaseTestCase):

    def _vm0(self, cooldown):
        work = fakes.workload([2, 4, 4, 4], [512, 8192, 8192, 8192],
                              COOL_CPU, [[256] * 12] * 4)
        conf = _conf(drs_balancer__instance_cooldown=cooldown,
                     drs_balancer__destination_peak_window=0)
        sim = fakes.simulation(work, [0, 0, 1, 2], hosts=3, vcpus=8,
                               memory_mb=65536, conf=conf, mode='full')
        started, _ = _starts(sim, 'hotspot')
        return [(t, src, dst) for t, i, src, dst in started if i == 0]

    def test_second_move_waits_for_the_cooldown(self):
        first, second = self._vm0(0)
        # the first at the first agent cycle (300 s), the second as soon
        # as host 1 is seen hot (900 s: the cycle on 600-900 s)
        self.assertEqual((0, 1), first[1:])
        self.assertEqual((1, 2), second[1:])
        self.assertAlmostEqual(300.0, first[0])
        self.assertAlmostEqual(900.0, second[0])
        first, second = self._vm0(1800)
        self.assertEqual((0, 1), first[1:])
        self.assertEqual((1, 2), second[1:])
        # 1,800 simulated seconds after the first ended (1 s at 512
        # MB/s), at the next planning cycle (every 60 s)
        self.assertGreaterEqual(second[0], first[0] + 1800.0)
        self.assertLessEqual(second[0], first[0] + 1800.0 + 60.0 + 10.0)


class TestReport(base.BaseTestCase):

    def _results(self, mode=None):
        trace = traces.load_planetlab(locate.find(traces.PLANETLAB)[0])
        spec = scenario.host_spec(traces.PLANETLAB, 8)
        options = engine.Options(balloon=False, mode=mode)
        scen = scenario.build(trace, spec, clusters.conf(), options)
        results, _ = scenario.run(scen, ['hotspot'])
        return results

    def test_mode_in_results_and_report(self):
        results = self._results()
        self.assertEqual('partial', results['input']['mode'])
        self.assertEqual('partial', results['strategies']['hotspot']['mode'])
        self.assertEqual(8, results['input']['max_migrations'])
        self.assertIn('balancer mode partial', '\n'.join(
            report.summary(results)))
        run = dict((k, v) for k, v, _ in report.settings(results)[0][1])
        self.assertEqual('partial', run['balancer mode'])
        self.assertEqual('8, 1 per host', run['migrations at once'])
        results = self._results('full')
        self.assertEqual('full', results['input']['mode'])
        self.assertIn('balancer mode full', report.format_table(results))
