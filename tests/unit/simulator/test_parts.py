# SPDX-License-Identifier: Apache-2.0
"""Guest memory, migration scheduling, metrics, placement and models."""

import io

import numpy as np
from oslotest import base

from nova_drs.balancer.planning import cost
from nova_drs.simulator import guests
from nova_drs.simulator import memory
from nova_drs.simulator import metrics
from nova_drs.simulator import migrations
from nova_drs.simulator import placement
from nova_drs.simulator import precopy
from nova_drs.simulator import progress
from nova_drs.simulator import scenario
from nova_drs.simulator import traces
from nova_drs.simulator import workload
from tests.unit import clusters


class TestGuestMemory(base.BaseTestCase):

    def test_high_water_mark_without_free_page_reporting(self):
        g = guests.GuestMemory([4000], cache_growth=0.0)
        g.observe([3000], 300)
        g.observe([1000], 300)
        self.assertEqual(3000, g.backed[0])
        self.assertEqual(3000, g.usable()[0])
        self.assertEqual(3000, g.unused()[0])

    def test_free_page_reporting_returns_free_pages(self):
        g = guests.GuestMemory([4000], free_page_reporting=True)
        g.observe([3000], 300)
        g.observe([1000], 300)
        self.assertEqual(1000, g.backed[0])

    def test_page_cache_fills_to_the_balloon(self):
        # 0.5 of 4,000 MiB per hour = 1,000 per half-hour step
        g = guests.GuestMemory([4000], cache_growth=0.5)
        g.observe([1000], 1800)
        self.assertEqual(2000, g.backed[0])
        g.observe([1000], 1800)
        g.observe([1000], 1800)
        g.observe([1000], 1800)
        self.assertEqual(4000, g.backed[0])
        self.assertEqual(3000, g.usable()[0])  # cache is reclaimable
        self.assertEqual(0, g.unused()[0])

    def test_inflating_takes_cache_then_backed_pages(self):
        g = guests.GuestMemory([4000], cache_growth=0.5)
        g.observe([1000], 3600)     # cache 2,000, backed 3,000
        g.set_actual([0], [2500])
        self.assertEqual(1500, g.cache[0])
        self.assertEqual(2500, g.backed[0])
        self.assertEqual(500, g.reclaimed()[0])

    def test_pressure_and_swap(self):
        g = guests.GuestMemory([4000])
        g.observe([1000], 300)
        g.set_actual([0], [2000])
        pressure = g.observe([2600], 300)
        self.assertTrue(pressure[0])
        # MemAvailable is never negative: the 600 MiB it lacks show as
        # swap-in only
        self.assertEqual(0, g.usable()[0])
        self.assertEqual(2.0, g.swap_in_rate()[0])
        self.assertEqual(2000, g.backed[0])


class TestScheduler(base.BaseTestCase):

    def test_order_limits_and_carry_over(self):
        # 1,000 MiB at 100 MB/s = 10 s each; at most one per host
        s = migrations.Scheduler(max_total=10, max_per_host=1,
                                 bandwidth_mb_s=100.0)
        host = np.array([0, 0, 1])
        mem = np.full(3, 1000.0)
        dirty = np.zeros(3)
        s.apply([(0, 0, 2), (1, 0, 3), (2, 1, 3)])
        windows = s.advance(0.0, 15.0, host, mem, dirty)
        got = [(w.instance, w.begin_s, w.end_s, w.done, w.started)
               for w in windows]
        # the executor's rules: vm-1 waits for host 0's slot, and vm-2,
        # later in the plan, takes host 3 meanwhile (its hosts have
        # slots); vm-1 runs 10-20 s and carries over
        self.assertEqual([(0, 0.0, 10.0, True, True),
                          (2, 0.0, 10.0, True, True),
                          (1, 10.0, 15.0, False, True)], got)
        self.assertEqual([2, 0, 3], host.tolist())
        windows = s.advance(15.0, 15.0, host, mem, dirty)
        got = [(w.instance, w.begin_s, w.end_s, w.done, w.started)
               for w in windows]
        self.assertEqual([(1, 0.0, 5.0, True, False)], got)
        self.assertEqual([2, 3, 3], host.tolist())
        self.assertEqual([], s.plans)

    def test_make_room_chain_waits(self):
        # vm-1 leaves host 1 for host 2, then vm-0 goes to host 1: the
        # second move waits for the first even with slots to spare
        s = migrations.Scheduler(max_total=10, max_per_host=4,
                                 bandwidth_mb_s=100.0)
        host = np.array([0, 1])
        s.apply([(1, 1, 2), (0, 0, 1)])
        windows = s.advance(0.0, 300.0, host, np.full(2, 1000.0),
                            np.zeros(2))
        self.assertEqual([(1, 0.0, 10.0), (0, 10.0, 20.0)],
                         [(w.instance, w.begin_s, w.end_s)
                          for w in windows])
        self.assertEqual([1, 2], host.tolist())

    def test_plans_oldest_first(self):
        # two plans wanting host 2: the older one's move goes first
        s = migrations.Scheduler(max_total=10, max_per_host=1,
                                 bandwidth_mb_s=100.0)
        host = np.array([0, 1])
        s.apply([(1, 1, 2)])
        s.apply([(0, 0, 2)])
        windows = s.advance(0.0, 300.0, host, np.full(2, 1000.0),
                            np.zeros(2))
        self.assertEqual([(1, 0.0, 10.0), (0, 10.0, 20.0)],
                         [(w.instance, w.begin_s, w.end_s)
                          for w in windows])

    def test_failure_marks_the_pair_and_cancels_the_rest(self):
        # every migration fails part-way: the pair is not planned for
        # [drs_actuator] bad_pair_duration, and the plan's next move
        # (planned assuming the first succeeds) never starts
        s = migrations.Scheduler(
            max_total=10, max_per_host=1, bandwidth_mb_s=100.0,
            config=precopy.Config(failure_rate=1.0), bad_pair_s=600.0)
        host = np.array([0, 0])
        s.apply([(0, 0, 1), (1, 0, 2)])
        (w,) = s.advance(0.0, 300.0, host, np.full(2, 1000.0),
                         np.zeros(2))
        self.assertEqual(precopy.FAILED, w.outcome)
        self.assertEqual([0, 0], host.tolist())
        self.assertEqual({(0, 1): w.end_s + 600.0}, s.bad_pairs(w.end_s))
        self.assertEqual({}, s.bad_pairs(w.end_s + 600.0))
        self.assertEqual(1, s.dropped)
        self.assertEqual(1, s.plans_cancelled)
        self.assertEqual([], s.in_flight())

    def test_cluster_limit(self):
        s = migrations.Scheduler(max_total=1, max_per_host=4,
                                 bandwidth_mb_s=100.0)
        host = np.array([0, 1])
        s.apply([(0, 0, 2), (1, 1, 3)])
        windows = s.advance(0.0, 300.0, host, np.full(2, 1000.0),
                            np.zeros(2))
        self.assertEqual([(0.0, 10.0), (10.0, 20.0)],
                         [(w.begin_s, w.end_s) for w in windows])

    def test_dirty_pages_lengthen_a_migration(self):
        # 1,000 MiB at 100 MB/s with 50 MB/s dirtied: rounds of 1,000,
        # 500, ..., 1000 / 2^7 = 7.8 MiB (each dirties half of itself),
        # then 3.9 MiB fit the allowed 50 ms (5 MiB): paused, sent.
        # 1000 x (2 - 1 / 2^8) = 1,996.1 MiB in 19.96 s, where the
        # planner's cost model counts the whole series, 1000 / 0.5
        s = migrations.Scheduler(1, 1, 100.0)
        host = np.array([0])
        s.apply([(0, 0, 1)])
        (w,) = s.advance(0.0, 300.0, host, np.array([1000.0]),
                         np.array([50.0]))
        self.assertAlmostEqual(1000.0 * (2 - 0.5 ** 8), w.sent_mb)
        self.assertAlmostEqual(19.9609375, w.end_s)
        self.assertAlmostEqual(0.0390625, w.downtime_s)
        self.assertAlmostEqual(
            2000.0, float(cost.transfer_mb(1000.0, 50.0, 100.0)))

    def test_out_of_date_plan_cancelled(self):
        # the instance is no longer on the source its plan found it on
        s = migrations.Scheduler(1, 1, 100.0)
        host = np.array([5])
        s.apply([(0, 0, 1)])
        self.assertEqual([], s.advance(0.0, 300.0, host, np.ones(1),
                                       np.zeros(1)))
        self.assertEqual(1, s.dropped)
        self.assertEqual(1, s.plans_cancelled)
        self.assertEqual([], s.plans)


class TestAccumulator(base.BaseTestCase):

    def _acc(self, capacity, steps=2):
        return metrics.Accumulator(
            2, capacity, [0.85, 0.9, 0.9, 0.9], 100.0, steps,
            migration_cpu_overhead=1.0)

    def test_migration_across_steps(self):
        # host 0 of 4 cores holds two instances using 1.5 cores each;
        # instance 0 goes to host 1 from 90 s to 130 s, over two steps of
        # 100 s. Host 0 is at 3 + 1 (overhead) = 4 cores while it runs.
        acc = self._acc([[4, 1000, 0, 0], [4, 1000, 0, 0]])
        demand = np.array([[1.5, 0, 0, 0], [1.5, 0, 0, 0]])
        acc.add_step(0, np.array([0, 0]), demand, [migrations.Window(
            0, 0, 1, 90.0, 100.0, False, True, 512.0)])
        acc.add_step(1, np.array([0, 0]), demand, [migrations.Window(
            0, 0, 1, 0.0, 30.0, True, False, 1536.0, precopy.COMPLETED)])
        m = acc.result()
        # host 0 at 4 cores for 10 s + 30 s; host 1 (2.5 cores) is
        # active in both steps: 2 x 2 x 100 s of active host-time
        self.assertAlmostEqual(40.0 / 400.0, m['overload_time_fraction'])
        self.assertAlmostEqual(40.0 / 400.0, m['hotspot_host_time_fraction'])
        self.assertEqual(1, m['migrations'])
        self.assertEqual(2.0, m['gib_moved'])
        # 0.1 x 1.5 cores x 40 s = 6 over 1.5 x 200 = 300 core-s, for one
        # instance of two
        self.assertAlmostEqual(6.0 / 300.0 / 2, m['pdm'])
        self.assertEqual(2.0, m['mean_active_hosts'])

    def test_disk_and_network_hotspots(self):
        acc = self._acc([[4, 1000, 100, 100], [4, 1000, 0, 0]], steps=1)
        # 95 MB/s of 100 disk on host 0 is hot; 500 MB/s on host 1 is not
        # tracked there (capacity 0)
        demand = np.array([[0.1, 0, 95.0, 0], [0.1, 0, 500.0, 500.0]])
        acc.add_step(0, np.array([0, 1]), demand, [])
        self.assertAlmostEqual(0.5, acc.result()['hotspot_host_time_fraction'])

    def test_nothing_ran(self):
        m = self._acc([[4, 1000, 0, 0]]).result()
        self.assertEqual(0.0, m['overload_time_fraction'])
        self.assertEqual(0.0, m['pdm'])


class TestPlacement(base.BaseTestCase):

    def test_first_fit_and_unplaced(self):
        # 2 hosts of 2 cores x ratio 2 = 4 vCPUs, 1,000 MiB x 1.5 = 1,500
        spec = placement.HostSpec(count=2, vcpus=2, memory_mb=1000,
                                  reserved_host_memory_mb=0,
                                  cpu_allocation_ratio=2.0,
                                  ram_allocation_ratio=1.5)
        where = placement.first_fit(np.array([2, 2, 4, 1, 8]),
                                    np.array([500, 500, 500, 600, 100]),
                                    spec)
        self.assertEqual([0, 0, 1, -1, -1], where.tolist())

    def test_unplaced_are_reported(self):
        trace = traces.Trace(
            traces.BITBRAINS, 'x', ['1.csv', '2.csv', '3.csv'], 300.0,
            np.full((3, 2), 0.5), vcpus=np.array([4, 64, 4]),
            memory_mb=np.array([1024, 1024, 1024]),
            mem_used_mb=np.full((3, 2), 512.0),
            disk_mb_s=np.zeros((3, 2)), net_mb_s=np.zeros((3, 2)))
        spec = scenario.host_spec(traces.BITBRAINS, 2, vcpus=4)
        scen = scenario.build(trace, spec, clusters.conf())
        self.assertEqual(['2'], scen.unplaced)
        self.assertEqual(1, scen.info['unplaced_instances'])
        results, _hist = scenario.run(scen, ['none'])
        self.assertEqual(1,
                         results['strategies']['none']['unplaced_instances'])
        self.assertEqual(2, results['input']['instances'])

    def test_auto_host_count(self):
        spec = placement.HostSpec(count=0, vcpus=2, memory_mb=1000,
                                  reserved_host_memory_mb=0,
                                  cpu_allocation_ratio=2.0,
                                  ram_allocation_ratio=1.0)
        # 16 vCPUs on hosts of 4 = 4 hosts packed, plus 50% = 6
        self.assertEqual(6, placement.auto_host_count([8, 8], [100, 100],
                                                      spec))


class TestMemoryModel(base.BaseTestCase):

    def test_seeded_and_bounded(self):
        cpu = np.random.default_rng(0).random((50, 20))
        mem = np.full(50, 4096)
        a = memory.working_set(cpu, mem, np.random.default_rng(1))
        b = memory.working_set(cpu, mem, np.random.default_rng(1))
        np.testing.assert_array_equal(a, b)
        self.assertTrue((a >= 0.05 * 4096 - 1).all())
        self.assertTrue((a <= 4096).all())
        # busier guests use more memory on average
        self.assertGreater(np.corrcoef(cpu.ravel(), a.ravel())[0, 1], 0.3)

    def test_planetlab_workload(self):
        trace = traces.Trace(traces.PLANETLAB, 'x', ['a', 'b', 'c'], 300.0,
                             np.full((3, 4), 0.5))
        w1 = workload.from_trace(trace, seed=3)
        w2 = workload.from_trace(trace, seed=3)
        self.assertEqual(w1.names, w2.names)
        np.testing.assert_array_equal(w1.mem, w2.mem)
        np.testing.assert_allclose(
            w1.cpu, np.broadcast_to(0.5 * w1.vcpus[:, None], (3, 4)))
        self.assertTrue(set(w1.vcpus) <= {1, 2, 4, 8})
        self.assertFalse(w1.has_io)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


class TestProgress(base.BaseTestCase):

    def test_quiet_when_fast(self):
        stream = _Stream(False)
        p = progress.Progress(10, stream, clock=_Clock())
        for _i in range(10):
            p()
        p.close()
        self.assertEqual('', stream.getvalue())

    def test_lines_when_not_a_terminal(self):
        stream, clock = _Stream(False), _Clock()
        p = progress.Progress(20, stream, clock=clock)
        p.set_label('hotspot')
        clock.now = 10.0
        for _i in range(20):
            p()
        lines = stream.getvalue().splitlines()
        self.assertEqual(10, len(lines))
        # 2 of 20 steps in 10 s: 18 more take about 90 s
        self.assertEqual('simulate: 10% done (hotspot, 10 s, about 90 s '
                         'left)', lines[0])
        self.assertEqual('simulate: 100% done (hotspot, 10 s, about 0 s '
                         'left)', lines[-1])
        self.assertNotIn('\r', stream.getvalue())

    def test_time_left_follows_the_rate(self):
        stream, clock = _Stream(False), _Clock()
        p = progress.Progress(10, stream, clock=clock)
        for _i in range(5):
            clock.now += 4.0
            p()
        self.assertEqual('simulate: 50% done (, 20 s, about 20 s left)',
                         stream.getvalue().splitlines()[-1])

    def test_what_runs_names_its_context(self):
        stream, clock = _Stream(False), _Clock()
        p = progress.Progress(10, stream, clock=clock, desc='pack bench')
        p.set_context('20110303, 150 hosts')
        p.set_label('hotspot:pack')
        clock.now = 10.0
        p()
        self.assertEqual('pack bench: 10% done (20110303, 150 hosts: '
                         'hotspot:pack, 10 s, about 90 s left)',
                         stream.getvalue().splitlines()[0])

    def test_bar_on_a_terminal(self):
        stream = _Stream(True)
        p = progress.Progress(4, stream, delay_s=0)
        p.set_label('hotspot')
        for _i in range(4):
            p()
        p.close()
        text = stream.getvalue()
        self.assertIn('simulate', text)
        self.assertIn('100%', text)
        self.assertIn('4/4', text)
        self.assertIn('hotspot', text)
        self.assertTrue(text.endswith('\n'))
