# SPDX-License-Identifier: Apache-2.0
"""The simulator's balloon driver: the agent's actuator on every host."""

import types

import numpy as np
from oslotest import base

from nova_drs.simulator import ballooning
from nova_drs.simulator import guests as guests_mod
from tests.unit import clusters

INTERVAL_S = 10.0


def _two_hosts():
    return types.SimpleNamespace(memory_mb=np.array([8192.0, 8192.0]),
                                 reserved_host_memory_mb=np.zeros(2))


class TestEstimateTravelsWithTheGuest(base.BaseTestCase):
    """A live-migrated guest's demand estimate reaches the destination.

    As in production: the source's carrier writes it into the guest's
    (simulated) domain metadata, the destination's carrier reads it when
    the incoming guest first shows there, paused, and its policy starts
    the guest's history from it.
    """

    def _migrate(self, conf):
        g = guests_mod.GuestMemory([4096.0], cache_growth=0.0)
        driver = ballooning.BalloonDriver(conf, ['v0'], _two_hosts(),
                                          interval_s=INTERVAL_S)
        now = 0.0
        # on host 0: a busy spell (3,000 MiB), then idle (1,000 MiB)
        for ws in [3000.0] * 3 + [1000.0] * 6:
            now += INTERVAL_S
            g.observe([ws], INTERVAL_S)
            driver.step([[0], []], g, np.zeros(1, dtype=bool), now_s=now)
        # the live migration: running on 0, paused on 1
        now += INTERVAL_S
        g.observe([1000.0], INTERVAL_S)
        driver.step([[0], []], g, np.ones(1, dtype=bool),
                    incoming=[[], [0]], now_s=now)
        driver.forget(0, 0)
        now += INTERVAL_S
        g.observe([1000.0], INTERVAL_S)
        driver.step([[], [0]], g, np.zeros(1, dtype=bool), now_s=now)
        return driver

    def test_the_destination_knows_the_busy_spell(self):
        driver = self._migrate(clusters.conf())
        estimate = driver.policy(1).guest_estimate('v0')
        # 3,000 MiB seen on the source 70 s before, not only the 1,000
        # MiB the guest uses on the destination
        self.assertEqual(3000.0, estimate.peak_mb)
        self.assertIn('v0', driver.actuator(1).carrier.adopted)
        # the source forgot it, as an agent forgets a domain gone away
        self.assertIsNone(driver.policy(0).guest_estimate('v0'))

    def test_without_the_metadata_the_destination_starts_afresh(self):
        driver = self._migrate(
            clusters.conf(drs_balloon__demand_metadata=False))
        estimate = driver.policy(1).guest_estimate('v0')
        self.assertEqual(1000.0, estimate.peak_mb)
        self.assertNotIn('v0', driver.actuator(1).carrier.adopted)


class TestAgentRules(base.BaseTestCase):

    def test_a_guest_whose_migration_runs_is_not_resized(self):
        # a host short of memory (3,500 of its 3,800 MiB backed for a
        # guest that touched them, and now uses 500): the policy would
        # shrink the idle guest
        hosts = types.SimpleNamespace(memory_mb=np.array([3800.0]),
                                      reserved_host_memory_mb=np.zeros(1))
        g = guests_mod.GuestMemory([4096.0], cache_growth=0.0)
        g.observe([3500.0], INTERVAL_S)
        driver = ballooning.BalloonDriver(clusters.conf(), ['v0'], hosts,
                                          interval_s=INTERVAL_S)
        # the agent's actuator holds a guest whose migration job runs
        for k in range(1, 40):
            g.observe([500.0], INTERVAL_S)
            driver.step([[0]], g, np.ones(1, dtype=bool),
                        now_s=k * INTERVAL_S)
        self.assertEqual(4096.0, g.actual[0])
        # and resizes it once the job is over
        for k in range(40, 80):
            g.observe([500.0], INTERVAL_S)
            driver.step([[0]], g, np.zeros(1, dtype=bool),
                        now_s=k * INTERVAL_S)
        self.assertLess(g.actual[0], 4096.0)
