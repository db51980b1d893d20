# SPDX-License-Identifier: Apache-2.0
"""Hosts of two sizes: every capacity is the host's own.

A small host (4 cores, 8,192 MiB) and a large one (16 cores, 65,536
MiB), no memory reserved; two steps of 300 s, so 1,200 s of active
host-time. vm-0 on the small host uses 4 cores and a 9,000 MiB working
set; vm-1 on the large host 8 cores and 9,000 MiB. Worked out by hand:

* small host: 4 / 4 cores = 100% (overloaded, above the 0.85 CPU
  threshold), 9,000 MiB backed > 8,192 MiB of RAM: it swaps 808 MiB;
* large host: 8 / 16 = 50%, 9,000 / 65,536 = 14% of memory: neither
  hot nor overloaded nor swapping.

A simulator with one host size for all would get one of them wrong (the
large host at 8 of 4 cores, or the small one at 4 of 16).
"""

import numpy as np
from oslotest import base

from nova_drs import balloon
from nova_drs.model import cluster
from nova_drs.simulator import ballooning
from nova_drs.simulator import engine
from nova_drs.simulator import guests as guests_mod
from tests.unit import clusters
from tests.unit.simulator import fakes

T = 300.0


def two_sizes(disabled=(False, False)):
    """The small and the large host."""
    return cluster.Hosts(
        names=['small', 'large'], vcpus=np.array([4, 16]),
        memory_mb=np.array([8192, 65536]),
        reserved_host_cpus=np.zeros(2, dtype=np.int64),
        reserved_host_memory_mb=np.zeros(2, dtype=np.int64),
        cpu_allocation_ratio=np.array([4.0, 2.0]),
        ram_allocation_ratio=np.array([1.5, 1.0]),
        availability_zone=np.zeros(2, dtype=np.int64),
        aggregates=np.zeros(2, dtype=np.int64),
        disabled=np.array(disabled),
        disk_capacity_mb_s=np.zeros(2), net_capacity_mb_s=np.zeros(2))


def _simulation(**options):
    work = fakes.workload([4, 8], [12288, 12288], [[4, 4], [8, 8]],
                          [[9000, 9000], [9000, 9000]])
    opts = dict(balloon=False, page_cache_growth=0.0)
    opts.update(options)
    return engine.Simulation(work, two_sizes(), [0, 1], clusters.conf(),
                             engine.Options(**opts))


class TestTwoHostSizes(base.BaseTestCase):

    def test_metrics_per_host(self):
        result = _simulation().run('none')
        m = result.metrics
        # the small host, 600 of 1,200 s: overloaded (CPU and swap), hot
        self.assertAlmostEqual(0.5, m['overload_time_fraction'])
        self.assertAlmostEqual(0.5, m['cpu_overload_time_fraction'])
        self.assertAlmostEqual(0.5, m['hotspot_host_time_fraction'])
        self.assertAlmostEqual(0.5, m['swap_host_time_fraction'])
        self.assertEqual(1, m['swap_hosts'])
        # 808 MiB for 600 s
        self.assertAlmostEqual(808.0 * 600.0 / 1024.0 / 3600.0,
                               m['swap_gib_h'])
        np.testing.assert_allclose([[1.0, 0.5]] * 2,
                                   result.history['cpu_load'])
        np.testing.assert_allclose([[9000 / 8192, 9000 / 65536]] * 2,
                                   result.history['memory_load'],
                                   rtol=1e-6)
        # one power model per host, whatever its size (175 W idle, 250 W
        # at full CPU): 250 W and 175 + 75 x 0.5 = 212.5 W for 600 s
        self.assertAlmostEqual((250.0 + 212.5) * 600.0 / 3.6e6,
                               m['energy_kwh'])
        self.assertEqual(2.0, m['mean_active_hosts'])

    def test_the_strategy_sees_each_hosts_size(self):
        run = engine._Run(_simulation(), 'none', None)
        run.view.smoothed = np.array([[4.0, 9000, 0, 0], [8.0, 9000, 0, 0]])
        model = run._model(0.0)
        loads = model.host_load()
        np.testing.assert_allclose([1.0, 9000 / 8192], loads[0, :2])
        np.testing.assert_allclose([0.5, 9000 / 65536], loads[1, :2])
        # and Placement's room per host, from each host's own ratios
        np.testing.assert_allclose([[16.0, 12288.0], [32.0, 65536.0]],
                                   model.allocation_limit())


class _Recorder:
    """A balloon policy that records the host it is given."""

    def __init__(self):
        self.hosts = []

    def targets(self, host, records):
        self.hosts.append(host)
        return []

    def guest_estimate(self, name):
        return None

    def forget(self, name):
        pass


class TestBalloonPerHost(base.BaseTestCase):

    def test_host_memory_is_each_hosts(self):
        conf = clusters.conf()
        g = guests_mod.GuestMemory(np.array([12288.0, 12288.0]))
        g.observe(np.array([9000.0, 1000.0]), T)
        driver = ballooning.BalloonDriver(conf, ['vm-0', 'vm-1'],
                                          two_sizes(), interval_s=T)
        recorders = {0: _Recorder(), 1: _Recorder()}
        for h, recorder in recorders.items():
            # the policy the host's actuator (and its carrier) asks
            driver.actuator(h).policy = recorder
            driver.actuator(h).carrier.policy = recorder
        driver.step([[0], [1]], g, np.zeros(2, dtype=bool))
        small, = recorders[0].hosts
        large, = recorders[1].hosts
        self.assertIsInstance(small, balloon.HostMemory)
        self.assertEqual((8192.0, 8192.0 - 9000.0),
                         (small.total_mb, small.available_mb))
        self.assertEqual((65536.0, 65536.0 - 1000.0),
                         (large.total_mb, large.available_mb))
