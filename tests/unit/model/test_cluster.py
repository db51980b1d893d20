# SPDX-License-Identifier: Apache-2.0
import math

import numpy as np
from oslotest import base

from nova_drs.model import cluster
from nova_drs.model import snapshot
from tests.unit import clusters as c


class TestClusterModel(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.model = c.model(
            [c.host('a', reserved_host_memory_mb=1000, reserved_host_cpus=2,
                    disk_capacity_mb_s=200.0),
             c.host('b', cpu_allocation_ratio=2.0)],
            [c.vm('v1', 'a', vcpus=4, util=50.0, mem=1500, memory_mb=4000,
                  disk_mb_s=50.0),
             c.vm('v2', 'a', vcpus=2, util=100.0, mem=2500, memory_mb=3000),
             c.vm('v3', 'b', vcpus=1, util=10.0, mem=100, net_mb_s=5.0)])

    def test_host_demand_and_load(self):
        demand = self.model.host_demand()
        # a: 4 x 0.5 + 2 x 1.0 = 4 cores; 1500 + 2500 MiB; 50 MB/s disk
        np.testing.assert_allclose(demand[0], [4.0, 4000.0, 50.0, 0.0])
        np.testing.assert_allclose(demand[1], [0.1, 100.0, 0.0, 5.0])
        load = self.model.host_load()
        # disk tracked on a (200 MB/s), network untracked everywhere
        np.testing.assert_allclose(load[0], [0.4, 0.4, 0.25, 0.0])
        np.testing.assert_allclose(load[1], [0.01, 0.01, 0.0, 0.0])

    def test_allocation_limit_follows_placement(self):
        limit = self.model.allocation_limit()
        # (total - reserved) x ratio, for vCPUs and memory
        np.testing.assert_allclose(limit[0], [(10 - 2) * 4.0,
                                              (10000 - 1000) * 1.5])
        np.testing.assert_allclose(limit[1], [10 * 2.0, 10000 * 1.5])
        np.testing.assert_allclose(self.model.host_allocation()[0],
                                   [6.0, 7000.0])

    def test_hot_hosts(self):
        hot = self.model.hot_hosts([0.35, 0.9, 0.2, 0.9])
        self.assertEqual([True, False, True, False], hot[0].tolist())
        self.assertFalse(hot[1].any())

    def test_movable(self):
        m = c.model(
            [c.host('a'), c.host('b')],
            [c.vm('free', 'a'), c.vm('out', 'a', opt_out=True),
             c.vm('recent', 'a', last_migrated_s=60),
             c.vm('old', 'a', last_migrated_s=7200),
             c.vm('aff1', 'a', server_group='aff'),
             c.vm('aff2', 'a', server_group='aff'),
             c.vm('alone', 'b', server_group='aff-single'),
             c.vm('anti', 'b', server_group='anti')],
            [{'name': 'aff', 'policy': 'affinity'},
             {'name': 'aff-single', 'policy': 'affinity'},
             {'name': 'anti', 'policy': 'anti-affinity'}])
        movable = dict(zip(m.instances.names, m.movable(3600)))
        self.assertEqual({'free': True, 'out': False, 'recent': False,
                          'old': True, 'aff1': False, 'aff2': False,
                          'alone': True, 'anti': True}, movable)

    def test_copy_is_independent(self):
        copy = self.model.copy()
        copy.instances.host[0] = 1
        copy.hosts.disabled[0] = True
        self.assertEqual(0, self.model.instances.host[0])
        self.assertFalse(self.model.hosts.disabled[0])

    def test_snapshot_round_trip(self):
        doc = snapshot.to_dict(self.model)
        again = snapshot.from_dict(doc)
        np.testing.assert_allclose(again.host_demand(),
                                   self.model.host_demand())
        np.testing.assert_allclose(again.allocation_limit(),
                                   self.model.allocation_limit())
        self.assertEqual(self.model.instances.names, again.instances.names)
        self.assertEqual(doc, snapshot.to_dict(again))

    def test_snapshot_defaults(self):
        m = c.model([c.host('a')], [c.vm('v', 'a')])
        self.assertEqual(['nova'], m.zones)
        self.assertTrue(math.isinf(m.instances.last_migrated_s[0]))
        self.assertEqual(cluster.NO_GROUP, m.instances.group[0])
        self.assertFalse(m.hosts.disabled[0])

    def test_maintenance_counts_as_disabled(self):
        m = c.model([c.host('a', maintenance=True), c.host('b')], [])
        self.assertEqual([True, False], m.hosts.disabled.tolist())


LOADS = ('cpu', 'memory', 'disk', 'network')


def per_resource(*values):
    return dict(zip(LOADS, values))


class TestMeasuredHostState(base.BaseTestCase):
    """base_load, thresholds and hot: the agents' state of each host."""

    def setUp(self):
        super().setUp()
        self.model = c.model(
            [c.host('a', base_load=per_resource(2.0, 3000.0, 0.0, 0.0),
                    thresholds=per_resource(0.8, 0.7, 0.9, 0.9),
                    hot=['memory']),
             c.host('b')],
            [c.vm('v1', 'a', vcpus=4, util=50.0, mem=1500),
             c.vm('v2', 'b', vcpus=2, util=100.0, mem=2500,
                  memory_mb=4000)])

    def test_base_load_is_part_of_the_host_load(self):
        np.testing.assert_allclose(self.model.guest_demand()[0],
                                   [2.0, 1500.0, 0.0, 0.0])
        np.testing.assert_allclose(self.model.host_demand(),
                                   [[4.0, 4500.0, 0, 0], [2.0, 2500.0, 0, 0]])
        np.testing.assert_allclose(self.model.host_load()[:, :2],
                                   [[0.4, 0.45], [0.2, 0.25]])

    def test_thresholds_are_each_hosts_or_the_default(self):
        np.testing.assert_allclose(
            self.model.host_thresholds([0.85, 0.9, 0.9, 0.9]),
            [[0.8, 0.7, 0.9, 0.9], [0.85, 0.9, 0.9, 0.9]])

    def test_hot_flags_are_the_agents_when_present(self):
        # a's memory is flagged though its load is 0.45; b is not,
        # whatever the thresholds say
        hot = self.model.hot_hosts([0.1, 0.1, 0.9, 0.9])
        self.assertEqual([[False, True, False, False], [False] * 4],
                         hot.tolist())
        self.model.hosts.hot = None
        hot = self.model.hot_hosts([0.1, 0.1, 0.9, 0.9])
        # a by its own thresholds (not over), b by the default ones
        self.assertEqual([[False, False, False, False],
                          [True, True, False, False]], hot.tolist())

    def test_offline_models_keep_their_figures(self):
        m = c.model([c.host('a')], [c.vm('v', 'a', vcpus=4, util=50.0)])
        self.assertIsNone(m.hosts.base_load)
        self.assertIsNone(m.hosts.thresholds)
        self.assertIsNone(m.hosts.hot)
        np.testing.assert_allclose(m.host_demand(), m.guest_demand())
        copy = m.copy()
        self.assertIsNone(copy.hosts.hot)
        self.assertNotIn('base_load', snapshot.to_dict(m)['hosts'][0])

    def test_copy_is_independent(self):
        copy = self.model.copy()
        copy.hosts.base_load[0, 0] = 9.0
        copy.hosts.hot[1, 0] = True
        copy.hosts.thresholds[0, 0] = 0.5
        self.assertEqual(2.0, self.model.hosts.base_load[0, 0])
        self.assertFalse(self.model.hosts.hot[1, 0])
        self.assertEqual(0.8, self.model.hosts.thresholds[0, 0])

    def test_snapshot_round_trip(self):
        doc = snapshot.to_dict(self.model)
        a, b = doc['hosts']
        self.assertEqual((per_resource(2.0, 3000.0, 0.0, 0.0),
                          per_resource(0.8, 0.7, 0.9, 0.9), ['memory']),
                         (a['base_load'], a['thresholds'], a['hot']))
        # b gave none: no base load, the planner's thresholds, not hot
        self.assertEqual([], b['hot'])
        self.assertNotIn('base_load', b)
        self.assertNotIn('thresholds', b)
        again = snapshot.from_dict(doc)
        self.assertEqual(doc, snapshot.to_dict(again))
        np.testing.assert_allclose(again.host_demand(),
                                   self.model.host_demand())
        self.assertEqual(self.model.hot_hosts([0.85] * 4).tolist(),
                         again.hot_hosts([0.85] * 4).tolist())

    def test_snapshot_errors_name_the_field(self):
        for fields, fragment in (
                ({'base_load': {'cpu': 1.0}},
                 "hosts[0].base_load.memory: required field is missing"),
                ({'base_load': per_resource(-1.0, 0, 0, 0)},
                 'hosts[0].base_load.cpu: must be at least 0'),
                ({'base_load': [1, 2, 3, 4]},
                 'hosts[0].base_load: must be an object'),
                ({'thresholds': dict(per_resource(0.8, 0.9, 0.9, 0.9),
                                     gpu=0.5)},
                 "hosts[0].thresholds: unknown resource 'gpu'"),
                ({'thresholds': per_resource(0.8, 1.5, 0.9, 0.9)},
                 'hosts[0].thresholds.memory: must be at most 1.0'),
                ({'hot': ['cpu', 'heat']},
                 "hosts[0].hot: unknown resource 'heat'"),
                ({'hot': 'cpu'}, 'hosts[0].hot: must be a list')):
            e = self.assertRaises(snapshot.SnapshotError, c.model,
                                  [c.host('a', **fields)], [])
            self.assertIn(fragment, str(e))


class TestSnapshotErrors(base.BaseTestCase):

    def assertError(self, doc, fragment):
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertIn(fragment, str(e))

    def test_field_errors_name_the_field(self):
        good_host = c.host('a')
        self.assertError([], 'must be a JSON object')
        self.assertError({'hosts': []}, 'hosts: must hold at least one')
        self.assertError({'hosts': [{'name': 'a'}]}, 'hosts[0].vcpus')
        self.assertError({'hosts': [c.host('a', vcpus=0)]},
                         'hosts[0].vcpus: must be at least 1')
        self.assertError({'hosts': [c.host('a', vcpus=2.5)]},
                         'hosts[0].vcpus: must be a whole number')
        self.assertError({'hosts': [c.host('a', vcpus=True)]},
                         'hosts[0].vcpus: must be a number')
        self.assertError({'hosts': [c.host('a', cpu_allocation_ratio=0)]},
                         'hosts[0].cpu_allocation_ratio')
        self.assertError({'hosts': [good_host, c.host('a')]},
                         "hosts[1].name: duplicate host 'a'")
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'a', util='high')]},
                         'instances[0].cpu_util: must be a number')
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'a', util=150)]},
                         'instances[0].cpu_util: must be at most 100')
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'zz')]},
                         "instances[0].host: unknown host 'zz'")
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'a', mem=5000,
                                             memory_mb=2000)]},
                         'instances[0].mem_used_mb: must be at most 2000')
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'a', server_group='g')]},
                         "instances[0].server_group: unknown server group")
        self.assertError({'hosts': [good_host],
                          'server_groups': [{'name': 'g',
                                             'policy': 'together'}]},
                         'server_groups[0].policy: must be one of')
        self.assertError({'hosts': [good_host], 'version': 7},
                         'version: unsupported snapshot version 7')
        self.assertError({'hosts': [good_host], 'instances': {}},
                         'instances: must be a list')
        self.assertError({'hosts': [good_host],
                          'instances': [c.vm('v', 'a',
                                             cpu_util=float('nan'))]},
                         'instances[0].cpu_util: must be finite')
