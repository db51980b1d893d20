# SPDX-License-Identifier: Apache-2.0
"""DRSLoadWeigher with Nova's real HostState and weight handler."""

from nova.scheduler import weights as nova_weights
from nova.scheduler.weights import ram

from nova_drs.scheduler import weighers
from tests.unit.scheduler import base


class TestLoadWeigher(base.SchedulerDataTestCase):

    def setUp(self):
        super().setUp()
        self.weigher = weighers.DRSLoadWeigher(self.state)
        self.hosts = [base.nova_host(h) for h in base.HOSTS]

    def weighed(self, weighers_=None):
        """[(host, weight)], best first, as Nova's handler ranks them."""
        handler = nova_weights.HostWeightHandler()
        result = handler.get_weighed_objects(
            weighers_ or [self.weigher], self.hosts, base.request_spec())
        return [(w.obj.host, round(w.weight, 6)) for w in result]

    def test_loaded_by_import_path(self):
        handler = nova_weights.HostWeightHandler()
        classes = handler.get_matching_classes(
            ['nova.scheduler.weights.all_weighers',
             'nova_drs.scheduler.weighers.DRSLoadWeigher'])
        self.assertIn(weighers.DRSLoadWeigher, classes)

    def test_prefers_headroom(self):
        self.report(cpu={'fake-host-1': 0.9, 'fake-host-2': 0.1,
                         'fake-host-3': 0.5},
                    memory={'fake-host-1': 0.2, 'fake-host-2': 0.3,
                            'fake-host-3': 0.4})
        self.state.refresh()
        # multiplier 2, raw (h_cpu + h_mem) / 2 with h = 1 - 2 load:
        # total = 2 * (raw + 1) / 2 = 2 - cpu - memory
        self.assertEqual([('fake-host-2', 1.6), ('fake-host-3', 1.1),
                          ('fake-host-1', 0.9)], self.weighed())

    def test_multipliers(self):
        self.conf.set_override('cpu_weight_multiplier', 0.0,
                               group='drs_scheduler')
        self.conf.set_override('memory_weight_multiplier', 3.0,
                               group='drs_scheduler')
        self.report(cpu={'fake-host-1': 0.9}, memory={'fake-host-1': 0.1,
                                                      'fake-host-2': 0.7,
                                                      'fake-host-3': 0.4})
        self.state.refresh()
        # 3 * (1 - memory)
        self.assertEqual([('fake-host-1', 2.7), ('fake-host-3', 1.8),
                          ('fake-host-2', 0.9)], self.weighed())

    def test_negative_multiplier_stacks(self):
        self.conf.set_override('cpu_weight_multiplier', -1.0,
                               group='drs_scheduler')
        self.conf.set_override('memory_weight_multiplier', 0.0,
                               group='drs_scheduler')
        self.report(cpu={'fake-host-1': 0.9, 'fake-host-2': 0.1,
                         'fake-host-3': 0.5})
        self.state.refresh()
        self.assertEqual(['fake-host-1', 'fake-host-3', 'fake-host-2'],
                         [h for h, _w in self.weighed()])

    def test_zero_multipliers_are_neutral(self):
        self.conf.set_override('cpu_weight_multiplier', 0.0,
                               group='drs_scheduler')
        self.conf.set_override('memory_weight_multiplier', 0.0,
                               group='drs_scheduler')
        self.report(cpu={'fake-host-1': 0.9})
        self.state.refresh()
        self.assertEqual({0.0}, {w for _h, w in self.weighed()})

    def test_loads_are_clamped(self):
        self.report(cpu={'fake-host-1': 3.0, 'fake-host-2': -1.0},
                    memory={'fake-host-1': 1.0, 'fake-host-2': 0.0})
        self.state.refresh()
        self.assertEqual([('fake-host-2', 2.0), ('fake-host-3', 1.0),
                          ('fake-host-1', 0.0)], self.weighed())

    def test_neutral_without_data(self):
        self.report(cpu={'fake-host-1': 0.9, 'fake-host-2': 0.1})
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING'):
            self.assertEqual({1.0}, {w for _h, w in self.weighed()})
        self.state.refresh()
        self.mono.advance(60.5)
        with self.assertLogs('nova_drs.scheduler.state', 'WARNING'):
            self.assertEqual({1.0}, {w for _h, w in self.weighed()})

    def test_unknown_host_counts_as_half_loaded(self):
        self.report(cpu={'fake-host-1': 0.8, 'fake-host-2': 0.2},
                    memory={'fake-host-1': 0.8, 'fake-host-2': 0.2},
                    stale=['fake-host-3'])
        self.state.refresh()
        self.assertEqual([('fake-host-2', 1.6), ('fake-host-3', 1.0),
                          ('fake-host-1', 0.4)], self.weighed())

    def test_does_not_override_nova_weighers(self):
        # equal measured loads: Nova's RAM weigher decides
        self.report()
        self.state.refresh()
        self.hosts[1].free_ram_mb = 65536
        ranked = self.weighed([ram.RAMWeigher(), self.weigher])
        self.assertEqual('fake-host-2', ranked[0][0])

    def test_weigh_one_object(self):
        self.report(cpu={'fake-host-1': 0.25}, memory={'fake-host-1': 0.75})
        self.state.refresh()
        self.assertEqual(0.0, self.weigher._weigh_object(self.hosts[0], {}))
        self.report(cpu={'fake-host-1': 0.0}, memory={'fake-host-1': 0.5})
        self.state.refresh()
        self.assertEqual(0.5, self.weigher._weigh_object(self.hosts[0], {}))
