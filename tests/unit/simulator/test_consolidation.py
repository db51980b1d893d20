# SPDX-License-Identifier: Apache-2.0
"""The simulator drives the balancer's consolidation pass."""

import numpy as np
from oslotest import base

from nova_drs.balancer.view import peaks as peaks_mod
from nova_drs.simulator import consolidation
from nova_drs.simulator import packbench
from nova_drs.simulator import precopy
from nova_drs.simulator import report
from tests.unit import clusters
from tests.unit.simulator import fakes

STEPS = 12  # an hour of 300 s samples


def _conf(**overrides):
    """Hot as soon as one sample is above [drs] cpu_threshold 0.5."""
    return clusters.conf(drs__ewma_half_life_s=0.0, drs__persistence_s=1.0,
                         drs__persistence_window_s=1.0,
                         drs__cpu_threshold=0.5,
                         drs_balancer__migration_bandwidth_mb_s=512.0,
                         **overrides)


def _sim(cpu, where, hosts, interval=300.0, window=600.0, conf=None,
         **options):
    """Guests of 2 vCPUs, 1 GiB, at ``cpu`` cores for the whole trace.

    In full mode (the only one that applies consolidation) unless
    ``mode`` says otherwise.
    """
    options.setdefault('mode', 'full')
    n = len(cpu)
    work = fakes.workload([2] * n, [1024] * n,
                          [[c] * STEPS for c in cpu], [[512] * STEPS] * n)
    return fakes.simulation(
        work, where, hosts=hosts, vcpus=8, memory_mb=16384,
        conf=conf or _conf(), consolidation_interval_s=interval,
        consolidation_peak_window_s=window, **options)


class TestFreesHosts(base.BaseTestCase):

    # two hosts of 8 cores, a quiet guest on each: one host holds both
    def test_consolidation_frees_a_host_the_run_without_keeps(self):
        without = _sim([0.5, 0.5], [0, 1], hosts=2, interval=0.0).run(
            'hotspot').metrics
        with_ = _sim([0.5, 0.5], [0, 1], hosts=2).run('hotspot').metrics
        self.assertEqual(0, without['hosts_freed'])
        self.assertNotIn('consolidation_passes', without)
        self.assertEqual(1, with_['hosts_freed'])
        self.assertEqual(1, with_['consolidation_plans'])
        self.assertEqual(1, with_['consolidation_hosts_emptied'])
        self.assertEqual(0, with_['consolidation_hotspots_created'])
        self.assertLess(with_['energy_kwh'], without['energy_kwh'])
        self.assertLess(with_['mean_active_hosts'],
                        without['mean_active_hosts'])

    def test_none_runs_no_pass(self):
        metrics = _sim([0.5, 0.5], [0, 1], hosts=2).run('none').metrics
        self.assertEqual(0, metrics['hosts_freed'])
        self.assertNotIn('consolidation_passes', metrics)

    def test_only_full_mode_applies_it(self):
        metrics = _sim([0.5, 0.5], [0, 1], hosts=2, mode='manual').run(
            'hotspot').metrics
        self.assertEqual(0, metrics['hosts_freed'])
        self.assertEqual(0, metrics['consolidation_plans'])
        # planned, and left as a recommendation: one guest to move
        self.assertGreaterEqual(metrics['consolidation_recommended'], 1)

    def test_freed_host_disabled_with_disable_freed_hosts(self):
        metrics = _sim([0.5, 0.5], [0, 1], hosts=2,
                       disable_freed_hosts=True).run('hotspot').metrics
        self.assertEqual(1, metrics['hosts_freed'])
        self.assertEqual(1, metrics['hosts_disabled'])
        off = _sim([0.5, 0.5], [0, 1], hosts=2,
                   disable_freed_hosts=False).run('hotspot').metrics
        self.assertEqual(0, off['hosts_disabled'])


class TestSkipRules(base.BaseTestCase):

    # host 0: two guests at 2.5 cores each (load 0.625, hot); hosts 1
    # and 2: a quiet guest each, which one host could hold. Every
    # migration fails, so host 0 stays hot for the whole run
    HOT = ([2.5, 2.5, 0.2, 0.2], [0, 0, 1, 2])

    def _run(self, cpu, where):
        return _sim(cpu, where, hosts=3,
                    migration=precopy.Config(failure_rate=1.0)).run(
                        'hotspot').metrics

    def test_never_while_a_host_is_hot(self):
        metrics = self._run(*self.HOT)
        self.assertGreater(metrics['hotspot_host_time_fraction'], 0.3)
        self.assertEqual(0, metrics['consolidation_plans'])
        self.assertEqual(0, metrics['consolidation_recommended'])
        skipped = metrics['consolidation_skipped']
        self.assertGreater(skipped[consolidation.HOTSPOT_OPEN], 0)
        self.assertEqual({consolidation.HOTSPOT_OPEN,
                          consolidation.WAITING}, set(skipped))

    def test_the_same_cluster_cool_consolidates(self):
        # the control: host 0 not hot, the pass plans
        metrics = self._run([1.0, 1.0, 0.2, 0.2], self.HOT[1])
        self.assertEqual(0.0, metrics['hotspot_host_time_fraction'])
        self.assertGreater(metrics['consolidation_plans'], 0)

    def test_never_before_the_window_is_covered(self):
        metrics = _sim([0.5, 0.5], [0, 1], hosts=2, window=1800.0).run(
            'hotspot').metrics
        # passes at 300, 600, ... 1500 s wait; the first plan at 1800 s
        self.assertEqual(5, metrics['consolidation_skipped'][
            consolidation.WAITING])
        self.assertEqual(1800.0, metrics['consolidation_first_plan_s'])
        self.assertEqual(1, metrics['hosts_freed'])

    def test_a_window_longer_than_the_trace_says_so(self):
        metrics = _sim([0.5, 0.5], [0, 1], hosts=2, window=7200.0).run(
            'hotspot').metrics
        self.assertEqual(0, metrics['consolidation_plans'])
        self.assertEqual(0, metrics['hosts_freed'])
        self.assertIn('longer than the trace', metrics['consolidation_note'])
        results = {'strategies': {'hotspot': metrics}}
        lines = report._consolidation_runs(results)
        self.assertEqual(1, len(lines))
        self.assertIn('never ran', lines[0])


class _Instances:
    """What PeakRing.apply reads and sets of the model's instances."""

    def __init__(self, vcpus, memory_mb):
        self.vcpus, self.memory_mb = vcpus, memory_mb
        self.peak = self.peak_slices = None

    def __len__(self):
        return len(self.vcpus)


class TestPeakRing(base.BaseTestCase):

    def test_same_slices_as_the_services_tracker(self):
        window = 3600.0
        ring = consolidation.PeakRing(2, window)
        tracker = peaks_mod.PeakTracker(window)
        rng = np.random.default_rng(3)
        vcpus = np.array([2, 4])
        memory = np.array([1024, 2048])
        for k in range(1, 40):
            now = 137.0 * k
            demand = rng.uniform(0.0, 2.0, size=(2, 4))
            ring.record(now, demand)
            for i in range(2):
                tracker.record(i, (demand[i, 0] / vcpus[i], demand[i, 1],
                                   demand[i, 2], demand[i, 3]), now)
        now = 137.0 * 39
        inst = _Instances(vcpus, memory)
        ring.apply(inst, now)
        for i in range(2):
            want = tracker.slices(i, now)
            want[:, 0] = np.clip(want[:, 0], 0.0, 1.0)
            want[:, 1] = np.minimum(want[:, 1], memory[i])
            np.testing.assert_allclose(inst.peak_slices[i], want,
                                       rtol=1e-5)


class TestPackBenchRows(base.BaseTestCase):

    def _rows(self, **kw):
        none = {'hotspot_host_time_fraction': 0.5,
                'cpu_overload_time_fraction': 0.05,
                'mean_active_hosts': 100.0, 'energy_kwh': 500.0,
                'retrigger_share': 0.0, 'destination_retrigger_share': 0.0,
                'relieved_hosts': 10}
        good = dict(none, hotspot_host_time_fraction=0.05,
                    cpu_overload_time_fraction=0.005,
                    mean_active_hosts=60.0, energy_kwh=350.0)
        metrics = {'none': none, 'hotspot:pack': good,
                   'hotspot:spread': dict(none),
                   packbench.CONSOLIDATED: dict(good, **kw)}
        return {t.split(' (guard')[0]: r for t, _f, r
                in packbench.check_consolidation(metrics)}

    def test_judges_the_consolidated_run(self):
        rows = self._rows()
        self.assertEqual({packbench.PASS}, set(rows.values()))
        self.assertTrue(all(t.startswith(packbench.CONSOLIDATED)
                            for t in rows))
        # a hotspot consolidation creates fails the run
        rows = self._rows(destination_retrigger_share=0.1)
        self.assertEqual(packbench.FAIL, rows[
            'pack+consolidation: destinations hot again <= 2%'])
        rows = self._rows(hotspot_host_time_fraction=0.2)
        self.assertEqual(packbench.FAIL, rows[
            'pack+consolidation cuts hotspot time >= 80% vs none'])

    def test_energy_is_an_aim_never_a_failure(self):
        rows = self._rows(energy_kwh=499.0)
        self.assertEqual(packbench.MISSED, rows[
            'pack+consolidation >= 20% less energy than spread'])


class TestCommandLine(base.BaseTestCase):

    def _options(self, *args):
        from nova_drs.cmd import drs
        from nova_drs.simulator import cli

        parsed = drs.build_parser().parse_args(['simulate'] + list(args))
        return cli.options_from_args(parsed)

    def test_options_reach_the_engine(self):
        opts = self._options('--consolidation-interval', '3600',
                             '--consolidation-peak-window', '14400',
                             '--disable-freed-hosts', 'on')
        self.assertEqual((3600.0, 14400.0, True),
                         consolidation.settings(_conf(), opts))

    def test_unset_options_read_the_configuration(self):
        conf = _conf(drs_balancer__consolidation_interval=900,
                     drs_balancer__consolidation_peak_window=7200)
        self.assertEqual((900.0, 7200.0, False),
                         consolidation.settings(conf, self._options()))
        # 0 on the command line turns a configured pass off
        self.assertEqual(0.0, consolidation.settings(
            conf, self._options('--consolidation-interval', '0'))[0])

    def test_summary_line_shows_the_settings(self):
        line = report._consolidation_text(
            {'interval_s': 3600.0, 'peak_window_s': 14400.0,
             'disable_freed_hosts': True})
        self.assertIn('every 3600 s', line)
        self.assertIn('14400 s', line)
        self.assertIn('disabled', line)
        self.assertIn('off', report._consolidation_text(
            {'interval_s': 0.0, 'peak_window_s': 86400.0,
             'disable_freed_hosts': False}))
