# SPDX-License-Identifier: Apache-2.0
import copy
import math
import random

from oslotest import base

from nova_drs.agent import inspector
from nova_drs.agent import metrics
from nova_drs import detector
from tests.unit.agent import fakes
from tests.unit import clusters

GIB_KIB = fakes.GIB_KIB
sample = fakes.sample
host_sample = fakes.host_sample


class TestGuestMetrics(base.BaseTestCase):

    def test_first_sample_has_levels_but_no_rates(self):
        m = metrics.guest_metrics(None, sample(10.0))
        self.assertIsNone(m.cpu_util)
        self.assertIsNone(m.vcpu_util)
        self.assertIsNone(m.major_fault_rate)
        self.assertIsNone(m.read_mb_s)
        self.assertEqual(4096, m.max_mb)
        self.assertEqual(4096, m.actual_mb)
        self.assertEqual(2048, m.available_mb)
        self.assertTrue(m.stats)

    def test_rates(self):
        prev = sample(10.0, cpu_time=10 ** 9, vcpus=2, major_fault=100,
                      swap_in=0, rd_bytes=0, tx_bytes=0)
        cur = sample(20.0, cpu_time=10 ** 9 + 5 * 10 ** 9, vcpus=2,
                     major_fault=600, swap_in=10240,
                     rd_bytes=100 * 1048576, tx_bytes=10 * 1048576)
        m = metrics.guest_metrics(prev, cur)
        # 5 s of CPU in 10 s on 2 vCPUs
        self.assertAlmostEqual(0.25, m.cpu_util)
        self.assertEqual([0.25, 0.25], m.vcpu_util)
        self.assertAlmostEqual(50.0, m.major_fault_rate)
        self.assertAlmostEqual(1.0, m.swap_in_mb_s)
        self.assertAlmostEqual(10.0, m.read_mb_s)
        self.assertAlmostEqual(1.0, m.tx_mb_s)
        self.assertAlmostEqual(0.0, m.rx_mb_s)

    def test_cpu_ready_counts_in_the_demand(self):
        # 5 s of CPU and 4 s of waiting for a host CPU, in 10 s on 2 vCPUs
        prev = sample(10.0, cpu_time=10 ** 9, vcpus=2, vcpu_delays=[0, 0])
        cur = sample(20.0, cpu_time=6 * 10 ** 9, vcpus=2,
                     vcpu_delays=[3 * 10 ** 9, 10 ** 9])
        m = metrics.guest_metrics(prev, cur)
        self.assertAlmostEqual(0.25, m.cpu_util)
        self.assertAlmostEqual(0.2, m.cpu_ready)
        self.assertAlmostEqual(0.45, m.cpu_demand)

    def test_demand_is_use_without_ready_and_at_most_one(self):
        m = metrics.guest_metrics(sample(10.0, cpu_time=0),
                                  sample(20.0, cpu_time=5 * 10 ** 9))
        self.assertIsNone(m.cpu_ready)
        self.assertAlmostEqual(0.5, m.cpu_demand)
        m = metrics.guest_metrics(
            sample(10.0, cpu_time=0, vcpu_delays=[0]),
            sample(20.0, cpu_time=8 * 10 ** 9, vcpu_delays=[6 * 10 ** 9]))
        self.assertAlmostEqual(0.6, m.cpu_ready)
        self.assertEqual(1.0, m.cpu_demand)
        # a counter that went back (a migrated guest) says nothing
        m = metrics.guest_metrics(
            sample(10.0, cpu_time=0, vcpu_delays=[6 * 10 ** 9]),
            sample(20.0, cpu_time=10 ** 9, vcpu_delays=[0]))
        self.assertIsNone(m.cpu_ready)
        self.assertAlmostEqual(0.1, m.cpu_demand)

    def test_counter_reset_gives_no_rate(self):
        prev = sample(10.0, cpu_time=50 * 10 ** 9, major_fault=100)
        cur = sample(20.0, cpu_time=10 ** 9, major_fault=5)
        m = metrics.guest_metrics(prev, cur)
        self.assertIsNone(m.cpu_util)
        self.assertIsNone(m.major_fault_rate)

    def test_vcpu_hotplug_gives_no_per_vcpu_rate(self):
        m = metrics.guest_metrics(sample(10.0, vcpus=1),
                                  sample(20.0, vcpus=2))
        self.assertIsNone(m.vcpu_util)

    def test_memory_in_use(self):
        m = metrics.guest_metrics(None, sample(
            1.0, available=3 * GIB_KIB, usable=GIB_KIB, unused=GIB_KIB // 2))
        self.assertEqual(3072, m.total_mb)
        self.assertEqual(2048, m.used_mb)
        self.assertEqual(512, m.unused_mb)

    def test_autodeflate_balloon_is_not_in_use(self):
        # deflate-on-OOM guests keep the balloon's pages in MemTotal
        config = inspector.GuestConfig(has_balloon=True, autodeflate=True)
        m = metrics.guest_metrics(None, sample(
            1.0, config=config, current=2 * GIB_KIB, maximum=4 * GIB_KIB,
            available=4 * GIB_KIB, usable=GIB_KIB))
        self.assertEqual(1024, m.used_mb)

    def test_without_guest_statistics(self):
        m = metrics.guest_metrics(None, sample(1.0, usable=None,
                                               rss=GIB_KIB))
        self.assertFalse(m.stats)
        self.assertIsNone(m.available_mb)
        self.assertEqual(1024, m.used_mb)


class TestHostMetrics(base.BaseTestCase):

    def test_first_sample(self):
        m = metrics.host_metrics('h', None, host_sample(1.0))
        self.assertIsNone(m.interval_s)
        self.assertIsNone(m.cpu_util)
        self.assertEqual(16384, m.total_mb)
        self.assertEqual(8192, m.available_mb)
        self.assertEqual(8192, m.used_mb)

    def test_rates(self):
        prev = host_sample(1.0, busy=100, idle=100, iowait=0,
                           disks={'vda': (0, 0, 0, 0)},
                           nics={'eth0': (0, 0)})
        cur = host_sample(11.0, busy=160, idle=120, iowait=20, majflt=50,
                          disks={'vda': (100, 20480, 0, 0),
                                 'vdb': (1, 1, 1, 1)},
                          nics={'eth0': (10485760, 0)})
        m = metrics.host_metrics('h', prev, cur)
        self.assertEqual(10.0, m.interval_s)
        # 100 jiffies: 60 busy, 20 idle, 20 iowait
        self.assertAlmostEqual(0.6, m.cpu_util)
        self.assertAlmostEqual(0.2, m.iowait)
        self.assertAlmostEqual(5.0, m.major_fault_rate)
        vda, vdb = m.disks
        self.assertAlmostEqual(10.0, vda['read_iops'])
        self.assertAlmostEqual(1.0, vda['read_mb_s'])
        # a disk that just appeared has no rate yet
        self.assertIsNone(vdb['read_mb_s'])
        self.assertAlmostEqual(1.0, m.nics[0]['rx_mb_s'])


class TestMetricsCalculator(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        # samples 1-2 s apart: rules of that many seconds
        self.conf = clusters.conf(drs__memory_threshold=0.6,
                                  drs__persistence_window_s=2.0,
                                  drs__persistence_s=2.0,
                                  drs__ewma_half_life_s=2.0,
                                  drs_agent__interval=1.0,
                                  drs_agent__host='compute-1',
                                  drs_agent__disk_bandwidth_mb_s=10.0)
        self.calc = metrics.MetricsCalculator(self.conf)

    def test_host_loads_hotspot_and_smoothing(self):
        host, guests, gone = self.calc.update(
            host_sample(1.0, avail_kib=4 * GIB_KIB), [sample(1.0)])
        self.assertEqual('compute-1', host.name)
        self.assertAlmostEqual(0.75, host.load[1])
        self.assertEqual([False] * 4, host.hot)
        host, guests, gone = self.calc.update(
            host_sample(2.0, avail_kib=4 * GIB_KIB,
                        disks={'vda': (0, 40960, 0, 0)}),
            [sample(2.0)])
        # 2 s of 2 s above 0.6: memory hot
        self.assertEqual([False, True, False, False], host.hot)
        self.assertAlmostEqual(0.75, host.load_smoothed[1])
        self.assertEqual(0.6, self.calc.thresholds['memory'])

    def test_cpu_load_counts_what_guests_waited_for(self):
        # the host's 4 CPUs half busy; two 2-vCPU guests each waited for
        # a CPU 20 % of their vCPUs' time: 0.8 CPU of demand not served
        def guests(t, delay):
            return [sample(t, u, vcpus=2, cpu_time=int(t * 10 ** 9),
                           vcpu_delays=[delay, delay]) for u in ('u1', 'u2')]
        self.calc.update(host_sample(1.0, busy=0, idle=0), guests(1.0, 0))
        host, _g, _gone = self.calc.update(
            host_sample(11.0, busy=200, idle=200), guests(11.0, 2 * 10 ** 9))
        self.assertAlmostEqual(0.5, host.cpu_util)
        self.assertAlmostEqual(0.5 + 0.8 / 4, host.load[0])
        # no guest waiting: the utilisation; never above 1
        host, _g, _gone = self.calc.update(
            host_sample(21.0, busy=400, idle=400), guests(21.0, 2 * 10 ** 9))
        self.assertAlmostEqual(0.5, host.load[0])
        host, _g, _gone = self.calc.update(
            host_sample(31.0, busy=700, idle=500),
            guests(31.0, 12 * 10 ** 9))
        self.assertEqual(1.0, host.load[0])
        # libvirtd down: the utilisation alone
        host, _g, _gone = self.calc.update(
            host_sample(41.0, busy=900, idle=700), None)
        self.assertAlmostEqual(0.5, host.load[0])

    def test_disk_load_against_configured_bandwidth(self):
        self.calc.update(host_sample(1.0, disks={'vda': (0, 0, 0, 0)}), [])
        host, _g, _gone = self.calc.update(
            host_sample(2.0, disks={'vda': (0, 40960, 0, 0)}), [])
        # 20 MiB/s on a 10 MB/s disk: capped at 1
        self.assertEqual(1.0, host.load[2])
        self.assertEqual(0.0, host.load[3])

    def test_guests_smoothed_and_gone(self):
        self.calc.update(host_sample(1.0), [sample(1.0, 'u1', cpu_time=0),
                                            sample(1.0, 'u2')])
        _h, guests, gone = self.calc.update(
            host_sample(3.0), [sample(3.0, 'u1', cpu_time=10 ** 9)])
        self.assertEqual(['u2'], gone)
        (g,) = guests
        self.assertAlmostEqual(0.5, g.cpu_util)
        # 2 s, one half-life: weight 0.5; the first sample seeded 0 CPU
        self.assertAlmostEqual(0.25, g.smoothed_cpu_util)
        self.assertAlmostEqual(0.25, g.smoothed_cpu_demand)
        # a guest waiting for a CPU half the time: demand above use
        _h, (g,), _gone = self.calc.update(
            host_sample(5.0), [sample(5.0, 'u1', cpu_time=2 * 10 ** 9,
                                      vcpu_delays=[0])])
        _h, (g,), _gone = self.calc.update(
            host_sample(7.0), [sample(7.0, 'u1', cpu_time=3 * 10 ** 9,
                                      vcpu_delays=[10 ** 9])])
        self.assertAlmostEqual(0.5, g.cpu_util)
        self.assertAlmostEqual(1.0, g.cpu_demand)
        self.assertGreater(g.smoothed_cpu_demand, g.smoothed_cpu_util)
        self.assertAlmostEqual(2048, g.smoothed_used_mb, delta=300)

    def test_libvirt_unavailable(self):
        host, guests, gone = self.calc.update(host_sample(1.0), None)
        self.assertEqual(([], []), (guests, gone))
        self.assertIsNotNone(host)

    def test_samples_are_not_modified(self):
        s = sample(1.0)
        before = copy.deepcopy(s)
        self.calc.update(host_sample(1.0), [s])
        self.assertEqual(before, s)


class TestGuestSmoother(base.BaseTestCase):
    """The guests' smoothing gives the hotspot detector's numbers."""

    def test_same_numbers_as_the_detector(self):
        rng = random.Random(42)
        half_life = detector.half_life_from_alpha(0.3, 10.0)
        ewma = detector.HotspotDetector([math.inf] * 4,
                                        half_life_s=half_life)
        smoother = metrics.GuestSmoother(half_life)
        keys = ['a', 'b', 'c']
        for cycle in range(50):
            rows = [[rng.random(), rng.random(), rng.random(), 0.0]
                    for _ in keys]
            # late and early cycles: the same seconds, the same weights
            dt = rng.choice((10.0, 9.5, 12.0, 30.0))
            ewma.update(keys, rows, dt=dt)
            for key, row, expected in zip(keys, rows, ewma.smoothed(keys)):
                self.assertEqual(tuple(expected[:3]),
                                 smoother.update(key, *row[:3], dt=dt))
            if cycle == 20:
                ewma.forget('b')
                smoother.forget('b')

    def test_first_sample_seeds_it(self):
        # a half-life of one 10 s interval: weight 0.5
        smoother = metrics.GuestSmoother(10.0)
        self.assertEqual((0.2, 0.4, 0.6), smoother.update('a', 0.2, 0.4,
                                                          0.6))
        self.assertEqual((0.6, 0.2, 0.3), smoother.update('a', 1.0, 0.0,
                                                          0.0))
        # a sample twice as long weighs 3/4
        self.assertEqual((0.15, 0.05, 0.075),
                         smoother.update('a', 0.0, 0.0, 0.0, dt=20.0))

    def test_bad_half_life(self):
        self.assertRaises(ValueError, metrics.GuestSmoother, -1.0)
