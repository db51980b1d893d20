# SPDX-License-Identifier: Apache-2.0
"""Pre-copy rounds, shared links, Nova's timeouts, failures, swap.

Every figure is worked out by hand in the comments. Unless said
otherwise Nova's defaults apply: the allowed downtime starts at 500 / 10
= 50 ms and rises every 75 s per GiB (300 s for a 4 GiB guest), so the
migrations here switch over when what is left takes 50 ms or less.
"""

import math

import fixtures
import numpy as np
from oslotest import base

from nova_drs.simulator import guests
from nova_drs.simulator import memory
from nova_drs.simulator import metrics
from nova_drs.simulator import migrations
from nova_drs.simulator import precopy
from tests.unit import clusters
from tests.unit.simulator import fakes

GIB4 = 4096.0


def _run(moves, mem, dirty, config=None, per_host=1, bandwidth=1000.0,
         flavor=None, step_s=300.0, n=None):
    """Start ``moves`` at 0 s, run one step; (windows, host, scheduler)."""
    n = n or len(mem)
    s = migrations.Scheduler(10, per_host, bandwidth, config,
                             np.full(n, GIB4) if flavor is None else flavor)
    host = np.array([m[1] for m in moves])
    s.apply(moves)
    windows = s.advance(0.0, step_s, host, np.asarray(mem, dtype=float),
                        np.asarray(dirty, dtype=float))
    return windows, host, s


class TestRounds(base.BaseTestCase):

    def test_four_gib_guest(self):
        # 4,096 MiB at 1,000 MB/s dirtying 100 MB/s. Round 1: 4,096 MiB
        # in 4.096 s, 409.6 dirtied: 0.41 s > 50 ms. Round 2: 409.6 in
        # 0.4096 s, 40.96 dirtied: 41 ms <= 50 ms, so the guest pauses
        # and 40.96 MiB go in 40.96 ms. 4,546.56 MiB in 4.54656 s.
        (w,), host, s = _run([(0, 0, 1)], [GIB4], [100.0])
        self.assertTrue(w.moved)
        self.assertEqual(precopy.COMPLETED, w.outcome)
        self.assertAlmostEqual(4546.56, w.sent_mb)
        self.assertAlmostEqual(4.54656, w.end_s)
        self.assertAlmostEqual(0.04096, w.downtime_s)
        self.assertAlmostEqual(0.04096, w.paused_s)
        self.assertEqual([1], host.tolist())
        self.assertEqual([], s.running)

    def test_rounds_counted(self):
        windows, _host, s = _run([(0, 0, 1)], [GIB4], [100.0],
                                 step_s=4.5)
        # still in its second round at 4.5 s; the step shows it running
        self.assertEqual(1, len(s.running))
        self.assertEqual(2, s.running[0].rounds)
        self.assertFalse(windows[0].done)
        self.assertAlmostEqual(4096.0 + 404.0, windows[0].sent_mb)

    def test_two_from_one_host_take_longer(self):
        # both leave host 0: 500 MB/s each. Rounds 4,096, 819.2, 163.84,
        # 32.768 MiB (each dirties a fifth of itself; 32.768 / 500 = 66
        # ms is still above 50 ms), then 6.5536 MiB paused:
        # 4,096 x 1.2496 = 5,118.36 MiB in 10.2367 s each
        windows, host, _s = _run([(0, 0, 1), (1, 0, 2)], [GIB4, GIB4],
                                 [100.0, 100.0], per_host=2)
        for w in windows:
            self.assertTrue(w.moved)
            self.assertAlmostEqual(4096.0 * 1.2496, w.sent_mb)
            self.assertAlmostEqual(4096.0 * 1.2496 / 500.0, w.end_s)
            self.assertAlmostEqual(6.5536 / 500.0, w.downtime_s)
        (alone,), _host, _s = _run([(0, 0, 1)], [GIB4], [100.0])
        self.assertGreater(windows[0].end_s, 2 * alone.end_s)

    def test_disjoint_hosts_share_only_the_cluster_link(self):
        moves = [(0, 0, 1), (1, 2, 3)]
        windows, _host, _s = _run(moves, [GIB4, GIB4], [100.0, 100.0],
                                  per_host=2)
        self.assertEqual([4.54656] * 2,
                         [round(w.end_s, 5) for w in windows])
        config = precopy.Config(cluster_link_mb_s=1000.0)
        windows, _host, _s = _run(moves, [GIB4, GIB4], [100.0, 100.0],
                                  config, per_host=2)
        # 500 MB/s each, as if they left the same host
        self.assertEqual([round(4096.0 * 1.2496 / 500.0, 5)] * 2,
                         [round(w.end_s, 5) for w in windows])

    def test_links_per_host(self):
        # hosts 0-1 have 1,000 MB/s links, hosts 2-3 500 MB/s; 4,096 MiB
        # dirtying nothing: 4.096 s between the fast hosts, 8.192 s from
        # a fast host to a slow one (the slower end decides)
        links = np.array([1000.0, 1000.0, 500.0, 500.0])
        windows, _host, _s = _run([(0, 0, 1), (1, 1, 2)], [GIB4, GIB4],
                                  [0.0, 0.0], per_host=2, bandwidth=links)
        # host 1 is in both: 500 MB/s each, until vm-0 ends at 8.192 s
        # (vm-1 is capped at 500 by host 2 all along): both 8.192 s
        self.assertEqual([8.192, 8.192],
                         [round(w.end_s, 6) for w in windows])
        (w,), _host, _s = _run([(0, 0, 1)], [GIB4], [0.0],
                               bandwidth=links)
        self.assertAlmostEqual(4.096, w.end_s)
        (w,), _host, _s = _run([(0, 3, 2)], [GIB4], [0.0],
                               bandwidth=links)
        self.assertAlmostEqual(8.192, w.end_s)
        # the --host-link-mb-s option is one link for every host
        (w,), _host, _s = _run([(0, 3, 2)], [GIB4], [0.0],
                               precopy.Config(host_link_mb_s=2048.0),
                               bandwidth=links)
        self.assertAlmostEqual(2.0, w.end_s)

    def test_bandwidth_freed_when_one_ends(self):
        # vm-0 has 1,000 MiB, vm-1 4,096, no dirtying, both from host 0:
        # 500 MB/s each until vm-0 is done at 2 s (vm-1 sent 1,000),
        # then vm-1 sends its last 3,096 at 1,000 MB/s: done at 5.096 s
        windows, _host, _s = _run([(0, 0, 1), (1, 0, 2)], [1000.0, GIB4],
                                  [0.0, 0.0], per_host=2)
        self.assertEqual([2.0, 5.096], [round(w.end_s, 6) for w in windows])
        self.assertEqual([0.0, 0.0], [w.downtime_s for w in windows])

    def test_agrees_with_the_planners_cost_model(self):
        # constant bandwidth: the rounds are the planner's geometric
        # series M / (1 - D / B) less the tail they never send, at most
        # what fits the allowed downtime (50 ms at 1,000 MB/s = 50 MiB)
        from nova_drs.balancer.planning import cost
        for dirty in (0.0, 20.0, 160.0, 500.0):
            (w,), _host, _s = _run([(0, 0, 1)], [GIB4], [dirty])
            planned = float(cost.transfer_mb(GIB4, dirty, 1000.0))
            self.assertLessEqual(w.sent_mb, planned + 1e-6)
            self.assertGreater(w.sent_mb, planned - 50.0 * 2)

    def test_not_converging_until_the_timeout(self):
        # 500 MiB at 100 MB/s dirtying 200 MB/s: every round re-sends the
        # whole 500 MiB (5 s). A 2 GiB guest, 4 s per GiB: abort at 8 s
        config = precopy.Config(live_migration_completion_timeout=4)
        (w,), host, s = _run([(0, 0, 1)], [500.0], [200.0], config,
                             bandwidth=100.0, flavor=np.array([2048.0]))
        self.assertEqual(precopy.ABORTED, w.outcome)
        self.assertAlmostEqual(8.0, w.end_s)
        self.assertAlmostEqual(800.0, w.sent_mb)
        self.assertEqual([0], host.tolist())
        self.assertFalse(w.moved)


class TestNovaTimeout(base.BaseTestCase):

    def test_completion_timeout_per_gib(self):
        # Nova counts at least 2 GiB; 0 disables the timeout
        config = precopy.Config()
        self.assertEqual(1600.0, precopy.completion_timeout_s(config, 1024))
        self.assertEqual(3200.0, precopy.completion_timeout_s(config, 4096))
        self.assertEqual(math.inf, precopy.completion_timeout_s(
            precopy.Config(live_migration_completion_timeout=0), 4096))

    def test_downtime_steps(self):
        # the example of Nova's downtime_steps: 10 steps, 30 s delay, 3 GB
        # of RAM, 400 ms: 40 ms at once, then +36 ms every 90 s
        config = precopy.Config(live_migration_downtime=400,
                                live_migration_downtime_delay=30)
        got = [precopy.max_downtime_s(config, 3072, t)
               for t in (0.0, 90.0, 90.5, 180.5, 900.5, 5000.0)]
        self.assertEqual([0.040, 0.040, 0.076, 0.112, 0.400, 0.400], got)

    def test_abort_leaves_the_guest_on_its_source(self):
        # 4 GiB guest, 1 s per GiB: the timeout acts at 4 s, during the
        # first round (4,000 of 4,096 MiB sent)
        config = precopy.Config(live_migration_completion_timeout=1)
        (w,), host, _s = _run([(0, 0, 1)], [GIB4], [100.0], config)
        self.assertEqual(precopy.ABORTED, w.outcome)
        self.assertAlmostEqual(4.0, w.end_s)
        self.assertAlmostEqual(4000.0, w.sent_mb)
        self.assertEqual(0.0, w.downtime_s)
        self.assertEqual([0], host.tolist())

    def test_force_complete_pauses_the_guest(self):
        # at 4 s, 96 MiB of round 1 are left and 400 MiB were dirtied:
        # 496 MiB sent while paused, 0.496 s of downtime
        config = precopy.Config(live_migration_completion_timeout=1,
                                live_migration_timeout_action='force_complete')
        (w,), host, _s = _run([(0, 0, 1)], [GIB4], [100.0], config)
        self.assertEqual(precopy.COMPLETED, w.outcome)
        self.assertTrue(w.forced)
        self.assertAlmostEqual(4.496, w.end_s)
        self.assertAlmostEqual(4496.0, w.sent_mb)
        self.assertAlmostEqual(0.496, w.downtime_s)
        self.assertEqual([1], host.tolist())

    def test_bad_settings_refused(self):
        self.assertRaises(ValueError, precopy.Config,
                          live_migration_timeout_action='retry')
        self.assertRaises(ValueError, precopy.Config, failure_rate=1.5)


class TestFailures(base.BaseTestCase):

    def _outcomes(self, rate, seed=0, count=10):
        config = precopy.Config(failure_rate=rate, seed=seed)
        moves = [(i, 2 * i, 2 * i + 1) for i in range(count)]
        windows, host, _s = _run(moves, [GIB4] * count, [0.0] * count,
                                 config, n=count)
        return windows, host

    def test_rate_zero_never_fails(self):
        windows, host = self._outcomes(0.0)
        self.assertEqual({precopy.COMPLETED}, {w.outcome for w in windows})
        self.assertEqual([2 * i + 1 for i in range(10)], host.tolist())

    def test_rate_one_always_fails_part_way(self):
        windows, host = self._outcomes(1.0)
        self.assertEqual({precopy.FAILED}, {w.outcome for w in windows})
        self.assertEqual([2 * i for i in range(10)], host.tolist())
        # each fails within its first round: 4,096 MiB take 4.096 s
        for w in windows:
            self.assertLess(w.sent_mb, GIB4)
            self.assertAlmostEqual(w.sent_mb / 1000.0, w.end_s)

    def test_deterministic_per_seed(self):
        first = [w.end_s for w in self._outcomes(0.5, seed=3)[0]]
        again = [w.end_s for w in self._outcomes(0.5, seed=3)[0]]
        other = [w.end_s for w in self._outcomes(0.5, seed=4)[0]]
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)
        outcomes = [w.outcome for w in self._outcomes(0.5, seed=3)[0]]
        self.assertIn(precopy.FAILED, outcomes)
        self.assertIn(precopy.COMPLETED, outcomes)


# vm-0 (1,024 MiB) leaves host 0, hot in step 0, at the start of step 1
CPU = [[2, 1, 1, 1], [2, 1, 1, 2], [0.5, 0.5, 0.5, 0.5]]
MEM = [[1024] * 4, [2048] * 4, [512] * 4]


def _hot_host_run(**migration):
    conf = clusters.conf(drs__ewma_alpha=1.0, drs__persistence_count=1,
                         drs__persistence_window=1,
                         drs_balancer__migration_bandwidth_mb_s=256.0)
    work = fakes.workload([2, 2, 1], [2048, 4096, 1024], CPU, MEM)
    sim = fakes.simulation(work, [0, 0, 1], conf=conf,
                           migration=precopy.Config(**migration))
    return sim.run('hotspot')


class TestInTheLoop(base.BaseTestCase):
    """The engine: where the guest ends up and what is counted."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(
            memory, 'DIRTY_MB_S_PER_CORE', 0.0))

    def test_completed(self):
        # 1,024 MiB at 256 MB/s: 4 s, then vm-0 runs on host 1
        result = _hot_host_run()
        m = result.metrics
        self.assertEqual((1, 1, 0, 0), (
            m['migrations'], m['migrations_completed'],
            m['migrations_aborted'], m['migrations_failed']))
        np.testing.assert_allclose([0.25, 0.375],
                                   result.history['cpu_load'][2])

    def test_abort_counts_and_stays(self):
        # a 2 GiB flavor, 1 s per GiB: aborted at 2 s with 512 MiB sent.
        # vm-0 counts on host 1 too for those 2 s (1 core + 0.5
        # overhead on both), then stays on host 0
        result = _hot_host_run(live_migration_completion_timeout=1)
        m = result.metrics
        self.assertEqual((1, 0, 1, 0), (
            m['migrations'], m['migrations_completed'],
            m['migrations_aborted'], m['migrations_failed']))
        self.assertAlmostEqual(0.5, m['gib_moved'])
        self.assertEqual([0, 1, 0, 0],
                         result.history['migrations_unmoved'].tolist())
        np.testing.assert_allclose(
            [(2.5 * 2 + 2 * 298) / 1200.0, (2 * 2 + 0.5 * 298) / 1200.0],
            result.history['cpu_load'][1], rtol=1e-6)
        np.testing.assert_allclose([0.5, 0.125],
                                   result.history['cpu_load'][2])

    def test_force_complete_downtime(self):
        # paused at 2 s with the other 512 MiB to send: 2 s of downtime,
        # done at 4 s. vm-0 loses 10% of 1 core for 4 s and the other 90%
        # while paused: 0.4 + 1.8 = 2.2 of its 1,500 core-s
        result = _hot_host_run(live_migration_completion_timeout=1,
                               live_migration_timeout_action='force_complete')
        m = result.metrics
        self.assertEqual((1, 1, 1), (m['migrations'],
                                     m['migrations_completed'],
                                     m['migrations_forced']))
        self.assertAlmostEqual(2.0, m['downtime_s'])
        self.assertAlmostEqual(2.0, m['max_downtime_s'])
        self.assertAlmostEqual(2.2 / 1500.0 / 3.0, m['pdm'])
        np.testing.assert_allclose([0.25, 0.375],
                                   result.history['cpu_load'][2])

    def test_failure_rate_one(self):
        m = _hot_host_run(failure_rate=1.0).metrics
        self.assertEqual((1, 0, 1), (m['migrations'],
                                     m['migrations_completed'],
                                     m['migrations_failed']))
        self.assertLess(m['gib_moved'], 1.0)


class TestDirtyRate(base.BaseTestCase):

    def test_proportional_to_cpu_with_a_cap(self):
        np.testing.assert_allclose(
            [0.0, 20.0, 160.0, 256.0],
            memory.dirty_rate([0.0, 1.0, 8.0, 32.0]))


class TestSwap(base.BaseTestCase):

    def _acc(self, ram=(1000.0, 1000.0)):
        return metrics.Accumulator(
            3, [[4, 1000, 0, 0], [4, 1000, 0, 0]], [0.85, 0.9, 0.9, 0.9],
            100.0, 1, migration_cpu_overhead=0.0, ram_mb=ram)

    def test_memory_beyond_ram_swaps(self):
        # host 0 backs 700 + 700 MiB on 1,000 of RAM: 400 MiB swapped for
        # the 100 s step = 400 / 1024 x 100 / 3600 GiB h; host 1 (300
        # MiB) does not swap. SLA violation: 100 of 200 s of host-time
        acc = self._acc()
        demand = np.array([[0.5, 700, 0, 0], [0.5, 700, 0, 0],
                           [0.5, 300, 0, 0]])
        acc.add_step(0, np.array([0, 0, 1]), demand, [])
        m = acc.result()
        gib_h = 400.0 / 1024.0 * 100.0 / 3600.0
        self.assertAlmostEqual(gib_h, m['swap_gib_h'])
        self.assertAlmostEqual(gib_h, m['max_host_swap_gib_h'])
        self.assertEqual(1, m['swap_hosts'])
        self.assertAlmostEqual(0.5, m['swap_host_time_fraction'])
        self.assertAlmostEqual(0.5, m['overload_time_fraction'])
        self.assertEqual(0.0, m['cpu_overload_time_fraction'])
        np.testing.assert_allclose([400.0 / 1024.0, 0.0],
                                   acc.history['swap_gib'][0])

    def test_migration_pushes_its_target_into_swap(self):
        # vm-0 (400 MiB) moves from host 0 to host 1 (800 MiB) during
        # [10, 40): host 1 backs 1,200 MiB for 30 s, then 800 + 400 after
        # the switchover (vm-0 is on host 1 for good): 200 MiB swapped
        # from 10 s to the end of the step
        acc = self._acc()
        demand = np.array([[0.1, 400, 0, 0], [0.1, 800, 0, 0],
                           [0.0, 0, 0, 0]])
        acc.add_step(0, np.array([0, 1, 1]), demand, [migrations.Window(
            0, 0, 1, 10.0, 40.0, True, True, 400.0, precopy.COMPLETED)])
        m = acc.result()
        self.assertAlmostEqual(200.0 * 90.0 / 1024.0 / 3600.0,
                               m['swap_gib_h'])
        self.assertAlmostEqual(90.0 / 200.0, m['swap_host_time_fraction'])

    def test_aborted_migration_leaves_the_target(self):
        # the same move aborted at 40 s: host 1 swaps for 30 s only
        acc = self._acc()
        demand = np.array([[0.1, 400, 0, 0], [0.1, 800, 0, 0],
                           [0.0, 0, 0, 0]])
        acc.add_step(0, np.array([0, 1, 1]), demand, [migrations.Window(
            0, 0, 1, 10.0, 40.0, True, True, 100.0, precopy.ABORTED)])
        m = acc.result()
        self.assertAlmostEqual(200.0 * 30.0 / 1024.0 / 3600.0,
                               m['swap_gib_h'])
        self.assertEqual(1, m['migrations_aborted'])
        self.assertEqual(0, m['relieved_hosts'])

    def test_in_the_loop(self):
        # two guests of 6,000 MiB on a host of 10,000 (nothing reserved,
        # RAM ratio 2: 2 x 8,192 MiB of flavors fit): 2,000 MiB swapped
        # for 4 steps of 300 s; host 1 holds a small guest and does not
        work = fakes.workload([1, 1, 1], [8192, 8192, 1024],
                              [[0.5] * 4] * 3,
                              [[6000] * 4, [6000] * 4, [512] * 4])
        m = fakes.simulation(work, [0, 0, 1], ram_ratio=2.0).run(
            'none').metrics
        self.assertAlmostEqual(2000.0 / 1024.0 * 1200.0 / 3600.0,
                               m['swap_gib_h'])
        self.assertAlmostEqual(0.5, m['overload_time_fraction'])
        self.assertEqual(0.0, m['cpu_overload_time_fraction'])


class TestReclaimedCapped(base.BaseTestCase):

    def test_capped_at_what_the_host_would_back(self):
        # without balloons the two guests back 6,000 MiB each, 12,000 on
        # 10,000 of RAM; ballooned to 4,500 each they back 9,000. The
        # guests gave back 3,000 MiB, the host's RAM gained 1,000: the
        # other 2,000 would have been swapped, never in RAM
        g = guests.GuestMemory([8192, 8192])
        g.observe([6000, 6000], 300)
        g.set_actual([0, 1], [4500, 4500])
        self.assertEqual(3000.0, g.reclaimed().sum())
        np.testing.assert_allclose(
            [1000.0], g.host_reclaimed(np.array([0, 0]), [10000.0]))
        # with room for all of it, all of it counts
        np.testing.assert_allclose(
            [3000.0], g.host_reclaimed(np.array([0, 0]), [20000.0]))
