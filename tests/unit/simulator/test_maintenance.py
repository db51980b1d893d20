# SPDX-License-Identifier: Apache-2.0
"""Maintenance windows: the simulated balancer evacuates the host."""

import numpy as np
from oslotest import base

from nova_drs.simulator import engine
from nova_drs.simulator import maintenance
from nova_drs.simulator import report
from tests.unit import clusters
from tests.unit.simulator import fakes

STEPS = 12  # an hour of 300 s samples
HOST0 = 'host-0000'


def _conf():
    return clusters.conf(drs__ewma_half_life_s=0.0, drs__persistence_s=1.0,
                         drs__persistence_window_s=1.0,
                         drs__cpu_threshold=0.5,
                         drs_balancer__migration_bandwidth_mb_s=512.0)


def _sim(cpu, vcpus, where, windows, mode='full'):
    """Guests of ``vcpus``, 1 GiB, at ``cpu`` cores all along, 3 hosts."""
    n = len(cpu)
    work = fakes.workload(vcpus, [1024] * n, [[c] * STEPS for c in cpu],
                          [[512] * STEPS] * n)
    return fakes.simulation(
        work, where, hosts=3, vcpus=8, memory_mb=16384, conf=_conf(),
        mode=mode, maintenance=maintenance.parse(windows))


def _run(sim, strategy='hotspot'):
    run = engine._Run(sim, strategy, None)
    return run, run.run().metrics


class TestParse(base.BaseTestCase):

    def test_seconds_and_times_of_day(self):
        w1, w2 = maintenance.parse(['host-1@600', 'host-2@10:30-12:00'])
        self.assertEqual(('host-1', 600.0, None),
                         (w1.host, w1.start_s, w1.end_s))
        self.assertEqual(('host-2', 37800.0, 43200.0),
                         (w2.host, w2.start_s, w2.end_s))

    def test_bad_specs_say_why(self):
        for spec, why in [('host-1', 'expected HOST@START'),
                          ('host-1@', 'expected HOST@START'),
                          ('host-1@soon', 'neither seconds nor HH:MM'),
                          ('host-1@10:75', 'not a time of day'),
                          ('host-1@600-300', 'ends before it starts')]:
            e = self.assertRaises(maintenance.SpecError, maintenance.parse,
                                  [spec])
            self.assertIn(why, str(e))

    def test_unknown_host_refused(self):
        e = self.assertRaises(maintenance.SpecError, maintenance.Maintenance,
                              maintenance.parse(['nope@60']),
                              ['host-0000', 'host-0001'], 'maintenance')
        self.assertIn("no host 'nope'", str(e))


class TestCommandLine(base.BaseTestCase):

    def test_a_bad_window_is_a_one_line_error(self):
        from nova_drs.cmd import common
        from nova_drs.simulator import cli
        e = self.assertRaises(common.CommandError, cli._maintenance,
                              ['host-0001@noon'])
        self.assertEqual("--maintenance: host-0001@noon: 'noon' is "
                         "neither seconds nor HH:MM", str(e))


class TestEvacuation(base.BaseTestCase):

    # two quiet guests on host 0, one on host 1: host 0 goes into
    # maintenance at 600 s, until the end
    CPU, VCPUS, WHERE = [0.5, 0.5, 0.5], [2, 2, 2], [0, 0, 1]

    def test_the_host_is_emptied_and_stays_empty(self):
        for mode in ('full', 'partial'):
            run, m = _run(_sim(self.CPU, self.VCPUS, self.WHERE,
                               ['%s@600' % HOST0], mode=mode))
            w, = m['maintenance']
            # planned at the first planning cycle in the window, done
            # within a minute (two 1 GiB guests at 512 MB/s)
            self.assertGreaterEqual(w['emptied_s'], 600.0, mode)
            self.assertLess(w['evacuation_s'], 120.0, mode)
            self.assertEqual({}, w['left'])
            # nothing went back onto it
            self.assertFalse((run.host == 0).any(), mode)
            self.assertEqual(1, m['hosts_freed'], mode)

    def test_manual_mode_only_recommends(self):
        run, m = _run(_sim(self.CPU, self.VCPUS, self.WHERE,
                           ['%s@600' % HOST0], mode='manual'))
        w, = m['maintenance']
        self.assertIsNone(w['emptied_s'])
        self.assertEqual(2, int((run.host == 0).sum()))
        self.assertGreaterEqual(m['recommended_migrations'], 2)

    def test_before_the_window_nothing_moves(self):
        run, m = _run(_sim(self.CPU, self.VCPUS, self.WHERE,
                           ['%s@3600' % HOST0]))
        self.assertEqual(0, m['migrations'])
        self.assertIsNone(m['maintenance'][0]['emptied_s'])

    def test_no_balancer_no_evacuation(self):
        _run_, m = _run(_sim(self.CPU, self.VCPUS, self.WHERE,
                             ['%s@600' % HOST0]), 'none')
        self.assertNotIn('maintenance', m)
        self.assertEqual(0, m['migrations'])

    def test_summary_says_how_it_went(self):
        sim = _sim(self.CPU, self.VCPUS, self.WHERE, ['%s@600' % HOST0])
        _run_, m = _run(sim)
        line, = report._maintenance_runs({'strategies': {'hotspot': m}})
        self.assertRegex(line, r'^hotspot: maintenance of host-0000 from '
                               r'600s: empty after \d+ s$')

    def test_no_host_below_the_thresholds_nova_picks_one(self):
        # hosts 1 and 2 at 3.8 of 8 cores (threshold 0.5: 4.0): the
        # guest's 0.5 core would put either above it, so the evacuation
        # plans it without a target; Nova's scheduler (RAMWeigher) takes
        # the host with the most memory left to allocate: host 2 (one
        # guest) rather than host 1 (two)
        cpu = [0.5, 1.9, 1.9, 3.8]
        run, m = _run(_sim(cpu, [2, 2, 2, 4], [0, 1, 1, 2],
                           ['%s@600' % HOST0]))
        self.assertIsNotNone(m['maintenance'][0]['emptied_s'])
        self.assertEqual(2, int(run.host[0]))
        self.assertEqual(0, m['migrations_no_valid_host'])


class TestNovaChoice(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        # flavors of 2 vCPUs and 1 GiB: two on host 0, one on host 1,
        # host 2 empty
        sim = _sim([0.5, 0.5, 0.5], [2, 2, 2], [0, 0, 1], ['%s@60' % HOST0])
        run = engine._Run(sim, 'hotspot', None)
        run.view.smoothed = np.zeros((3, 4))
        self.model = run._model(0.0)
        self.none = [[] for _ in range(3)]

    def test_most_memory_left_to_allocate(self):
        self.assertEqual(2, maintenance.nova_choice(
            self.model, 0, 0, self.none, np.zeros(3, dtype=bool)))

    def test_guests_on_their_way_count(self):
        # two guests already migrating to host 2: host 1 has more room
        self.assertEqual(1, maintenance.nova_choice(
            self.model, 0, 0, [[], [], [1, 2]], np.zeros(3, dtype=bool)))

    def test_disabled_hosts_and_the_source_never(self):
        self.assertEqual(1, maintenance.nova_choice(
            self.model, 0, 0, self.none, np.array([False, False, True])))
        self.assertIsNone(maintenance.nova_choice(
            self.model, 0, 0, self.none, np.array([False, True, True])))
