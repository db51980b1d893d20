# SPDX-License-Identifier: Apache-2.0
"""Partial reads: two replicas' collectors share Placement's inventories.

Against the Nova lab: two collectors, as two balancer replicas owning
different hosts (``NovaCollector.set_partial``), each reading in
Placement the inventories of its own hosts only and taking the others'
from what the other shared (here handed over directly; in the balancer
through ``host_states``, see tests/unit/balancer/test_manager.py). The
inventories read are recorded on the wire, by provider.
"""

from nova_drs.balancer.view import nova_view
from nova_drs.bench import nova_reads
from tests.functional.nova import fixtures as nova_fixtures

HOSTS = nova_fixtures.HOSTS


class TestPartialReads(nova_fixtures.NovaLabTestCase):

    def collector(self, owned, shared):
        collector = nova_view.NovaCollector(self.conn, self.conf)
        collector.set_partial(lambda hosts: set(hosts) & owned,
                              lambda: dict(shared))
        return collector

    def test_two_replicas_read_disjoint_inventories(self):
        wire = nova_reads.InventoriesRead(self.conn)
        whole = nova_view.NovaCollector(self.conn, self.conf)
        full_view = whole.read(full=True)
        everything = wire.take()
        hosts = [h for h in HOSTS if h in full_view.model.host_index]
        self.assertEqual(len(hosts), len(everything))
        halves = (set(hosts[:1]), set(hosts[1:]))
        shared_a, shared_b = {}, {}
        a = self.collector(halves[0], shared_b)
        b = self.collector(halves[1], shared_a)
        # nothing shared yet: the first replica reads every host
        a.read(full=True)
        self.assertEqual(sorted(everything), sorted(wire.take()))
        shared_a.update({h: c for h, c in a.own_capacities().items()
                         if h in halves[0]})
        view_b = b.read(full=True)
        read_b = wire.take()
        shared_b.update({h: c for h, c in b.own_capacities().items()
                         if h in halves[1]})
        view_a = a.read(full=True)
        read_a = wire.take()
        print('inventories read: whole %d; replica a %d (+%d shared), '
              'replica b %d (+%d shared)'
              % (len(everything), len(read_a),
                 a.last_read.inventories_shared, len(read_b),
                 b.last_read.inventories_shared))
        # disjoint, and together one full read
        self.assertEqual(set(), set(read_a) & set(read_b))
        self.assertEqual(sorted(everything), sorted(read_a + read_b))
        self.assertEqual(
            {full_view.hosts[h].resource_provider for h in halves[0]},
            set(read_a))
        # each counts what it sent
        self.assertEqual(len(read_a), a.last_read.calls['inventories'])
        self.assertEqual(len(read_b), b.last_read.calls['inventories'])
        self.assertEqual(len(halves[1]), a.last_read.inventories_shared)
        # and plans with the same capacities as a whole read
        for view in (view_a, view_b):
            self.assertEqual(full_view.to_snapshot()['hosts'],
                             view.to_snapshot()['hosts'])
