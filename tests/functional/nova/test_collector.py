# SPDX-License-Identifier: Apache-2.0
"""The Nova collector against a real Nova and Placement (the Nova lab)."""

import math

from nova_drs.balancer.view import nova_view
from nova_drs.model import cluster
from nova_drs.model import snapshot
from tests.functional.nova import fixtures as nova_fixtures

PREFIX = nova_fixtures.PREFIX
HOSTS = nova_fixtures.HOSTS

#: per-compute settings of tools/lab/nova-start.sh: reserved_host_cpus,
#: reserved_host_memory_mb, cpu_allocation_ratio, ram_allocation_ratio
LAB_SETTINGS = {
    'fake-host-1': (2, 1024, 2.0, 1.5),
    'fake-host-2': (0, 512, 4.0, 1.0),
    'fake-host-3': (1, 2048, 8.0, 1.25),
}


class TestCollector(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 3:
            self.skipTest('needs 3 fake computes')
        lab = self.lab
        self.zone = PREFIX + 'az'
        self.agg = lab.aggregate('agg', ['fake-host-3'],
                                 availability_zone=self.zone)
        small = lab.flavor('small', vcpus=1, ram=256)
        medium = lab.flavor('medium', vcpus=2, ram=512)
        self.group = lab.server_group('spread', 'anti-affinity',
                                      rules={'max_server_per_host': 1})
        # boot all, then wait: Nova works on them in parallel
        self.s1 = lab.boot('opted-out', small, host='fake-host-1',
                           group=self.group,
                           metadata={'drs:opt_out': 'True'}, wait=False)
        self.s2 = lab.boot('grouped', medium, host='fake-host-2',
                           group=self.group, wait=False)
        self.s3 = lab.boot('alone', small, host='fake-host-3', wait=False)
        self.s1, self.s2, self.s3 = [lab.wait_active(s) for s in
                                     (self.s1, self.s2, self.s3)]
        lab.disable('fake-host-3')
        self.collector = nova_view.NovaCollector(self.conn, self.conf)

    def _inventories(self, host):
        rp = next(self.conn.placement.resource_providers(name=host))
        return {i.resource_class: i for i in
                self.conn.placement.resource_provider_inventories(rp.id)}

    def test_hosts_match_placement_and_services(self):
        view = self.collector.collect()
        model = view.model
        h = model.hosts
        self.assertEqual(HOSTS, [n for n in h.names if n in HOSTS])
        for host in HOSTS:
            n = model.host_index[host]
            inv = self._inventories(host)
            vcpu, mem = inv['VCPU'], inv['MEMORY_MB']
            self.assertEqual(vcpu.total, h.vcpus[n], host)
            self.assertEqual(mem.total, h.memory_mb[n], host)
            self.assertEqual(vcpu.reserved, h.reserved_host_cpus[n], host)
            self.assertEqual(mem.reserved, h.reserved_host_memory_mb[n],
                             host)
            self.assertEqual(vcpu.allocation_ratio,
                             h.cpu_allocation_ratio[n], host)
            self.assertEqual(mem.allocation_ratio,
                             h.ram_allocation_ratio[n], host)
            # and they are the lab's per-compute settings, not defaults
            self.assertEqual(LAB_SETTINGS[host], (
                h.reserved_host_cpus[n], h.reserved_host_memory_mb[n],
                h.cpu_allocation_ratio[n], h.ram_allocation_ratio[n]))
            self.assertEqual(host, view.hosts[host].hypervisor_hostname)
        limit = model.allocation_limit()[model.host_index['fake-host-1']]
        self.assertEqual([(1000 - 2) * 2.0, (800000 - 1024) * 1.5],
                         list(limit))

        disabled = {n: bool(h.disabled[model.host_index[n]]) for n in HOSTS}
        self.assertEqual({'fake-host-1': False, 'fake-host-2': False,
                          'fake-host-3': True}, disabled)
        self.assertEqual('nova-drs functional test',
                         view.hosts['fake-host-3'].disabled_reason)

        def zone(host):
            return model.zones[h.availability_zone[model.host_index[host]]]

        def aggregates(host):
            return model.aggregate_sets[h.aggregates[model.host_index[host]]]

        self.assertEqual(self.zone, zone('fake-host-3'))
        self.assertEqual('nova', zone('fake-host-1'))
        self.assertEqual((self.agg.name,), aggregates('fake-host-3'))
        self.assertEqual((), aggregates('fake-host-2'))

    def test_instances_groups_and_loads(self):
        loads = {self.s2.id: nova_view.InstanceLoad(
            cpu_util=0.5, mem_used_mb=300.0, net_mb_s=2.0)}
        view = self.collector.collect(loads=loads)
        model = view.model
        inst = model.instances
        ours = {self.s1.id, self.s2.id, self.s3.id}
        self.assertLessEqual(ours, set(inst.names))
        for server in (self.s1, self.s2, self.s3):
            n = model.instance_index[server.id]
            actual = self.conn.compute.get_server(server.id)
            self.assertEqual(actual.compute_host,
                             model.hosts.names[inst.host[n]])
            self.assertEqual(actual.flavor.vcpus, inst.vcpus[n])
            self.assertEqual(actual.flavor.ram, inst.memory_mb[n])
            self.assertTrue(math.isinf(inst.last_migrated_s[n]))
            self.assertEqual(server.name, view.servers[server.id].name)
        n1, n2, n3 = (model.instance_index[s.id]
                      for s in (self.s1, self.s2, self.s3))
        self.assertEqual(['fake-host-1', 'fake-host-2', 'fake-host-3'],
                         [model.hosts.names[inst.host[n]]
                          for n in (n1, n2, n3)])
        # opt-out metadata; the others are movable
        self.assertEqual([True, False, False],
                         [bool(inst.opt_out[n]) for n in (n1, n2, n3)])
        # measured loads where given, defaults elsewhere
        self.assertEqual(0.5, inst.cpu_util[n2])
        self.assertEqual(300.0, inst.mem_used_mb[n2])
        self.assertEqual(2.0, inst.net_mb_s[n2])
        self.assertEqual(0.0, inst.cpu_util[n1])
        self.assertEqual(256.0, inst.mem_used_mb[n1])
        # the server group, by uuid
        g = inst.group[n1]
        self.assertNotEqual(cluster.NO_GROUP, g)
        self.assertEqual(g, inst.group[n2])
        self.assertEqual(cluster.NO_GROUP, inst.group[n3])
        group = model.groups[g]
        self.assertEqual(self.group.id, group.name)
        self.assertEqual('anti-affinity', group.policy)
        self.assertEqual(1, group.max_server_per_host)
        self.assertEqual(self.group.name, view.groups[self.group.id])

    def test_snapshot_round_trip(self):
        view = self.collector.collect()
        doc = view.to_snapshot()
        again = snapshot.from_dict(doc)
        self.assertEqual(view.model.hosts.names, again.hosts.names)
        self.assertEqual(view.model.instances.names, again.instances.names)
        self.assertEqual(doc, snapshot.to_dict(again))

    def test_recent_move_sets_last_migrated(self):
        actuator_conf = self.conf
        from nova_drs.balancer.execution import actuator
        result = actuator.Actuator(self.conn, actuator_conf).live_migrate(
            self.s2, 'fake-host-1')
        # anti-affinity with max 1 per host: fake-host-1 holds s1
        self.assertEqual(actuator.REJECTED, result.status, result)
        result = actuator.Actuator(self.conn, actuator_conf).live_migrate(
            self.s3.id, 'fake-host-2')
        # fake-host-3 is disabled as a destination, not as a source
        self.assertTrue(result.succeeded, result)
        view = self.collector.collect()
        n3 = view.model.instance_index[self.s3.id]
        self.assertEqual('fake-host-2',
                         view.model.hosts.names[view.model.instances.host[n3]])
        self.assertLess(view.model.instances.last_migrated_s[n3], 120.0)
