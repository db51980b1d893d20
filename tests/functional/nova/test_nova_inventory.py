# SPDX-License-Identifier: Apache-2.0
"""Incremental reads of Nova and Placement, against the Nova lab.

The collector's own count of API calls is checked against the HTTP
requests its connection really sent (a ``requests`` response hook on the
keystoneauth session), and the reads against what Nova and Placement
say. Figures are printed (``pytest -s``).
"""

import time

from nova_drs.balancer.view import nova_view
from nova_drs.bench import nova_reads
from tests.functional.nova import fixtures as nova_fixtures
from tests.functional.nova import test_nova_events

HOSTS = nova_fixtures.HOSTS
#: the calls of an incremental read when nothing changed: one per kind,
#: none per compute node
#: (the hypervisors only when a compute service or provider came or went)
CONSTANT_KINDS = {'services': 1, 'aggregates': 1,
                  'resource_providers': 1, 'server_groups': 1,
                  'migrations': 1, 'servers': 1}


class TestIncrementalReads(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        self.http = nova_reads.HttpCounter(self.conn)
        self.collector = nova_view.NovaCollector(self.conn, self.conf)
        self.flavor = self.lab.flavor('small', vcpus=1, ram=256)

    def read(self, full=False):
        self.http.take()
        started = time.monotonic()
        view = self.collector.read(full=full)
        elapsed = time.monotonic() - started
        http = self.http.take()
        stats = self.collector.last_read
        # the collector counts what it really sends
        self.assertEqual(sum(http.values()), stats.total, http)
        print('%s read: %d hosts, %d instances, %d API calls in %.2f s: %s'
              % (stats.kind, len(view.model.hosts),
                 len(view.model.instances), stats.total, elapsed,
                 dict(sorted(stats.calls.items()))))
        return view, stats

    def generations(self):
        return {rp.id: rp.generation
                for rp in self.conn.placement.resource_providers()}

    def test_second_read_costs_less_and_nothing_per_compute_node(self):
        view, first = self.read()
        self.assertEqual('full', first.kind)
        computes = [h for h in HOSTS if h in view.model.host_index]
        self.assertEqual(HOSTS, computes)
        # the full read: one inventory read per compute node
        self.assertEqual(len(view.model.hosts), first.calls['inventories'])
        before = self.generations()
        again, second = self.read()
        changed = sum(1 for rp, gen in self.generations().items()
                      if before.get(rp) != gen)
        self.assertEqual('incremental', second.kind)
        self.assertLess(second.total, first.total)
        # one call per kind; inventories only of providers that changed
        # in between (a compute's periodic update, rarely)
        self.assertEqual(changed, second.calls.pop('inventories', 0))
        self.assertEqual(CONSTANT_KINDS, second.calls)
        self.assertEqual(view.model.hosts.names, again.model.hosts.names)
        self.assertEqual(sorted(view.model.instances.names),
                         sorted(again.model.instances.names))

    def test_servers_booted_deleted_and_migrated_between_reads(self):
        if len(HOSTS) < 3:
            self.skipTest('needs 3 fake computes')
        lab = self.lab
        moving = lab.boot('inc-moving', self.flavor, host=HOSTS[0],
                          wait=False)
        doomed = lab.boot('inc-doomed', self.flavor, host=HOSTS[1],
                          wait=False)
        moving, doomed = lab.wait_active(moving), lab.wait_active(doomed)
        view, _ = self.read()
        self.assertEqual(HOSTS[0], view.servers[moving.id].host)
        self.assertIn(doomed.id, view.servers)

        before = self.generations()
        born = lab.boot('inc-born', self.flavor, host=HOSTS[2])
        lab.delete_server(doomed)
        self.conn.compute.live_migrate_server(moving, host=HOSTS[2],
                                              block_migration='auto')

        def moved():
            server = self.conn.compute.get_server(moving.id)
            if (server.compute_host != HOSTS[2]
                    or server.status != 'ACTIVE' or server.task_state):
                return False
            # NOTE: Nova clears the server's task before it marks the
            # migration record completed (_post_live_migration): on a
            # busy machine a read in between sees it still running
            return any(m.status in nova_view.MOVED_STATUSES
                       for m in self.conn.compute.migrations(
                           server_id=moving.id))
        nova_fixtures.wait_for(moved, 120, 'live migration of %s'
                               % moving.id, step=0.5)

        view, stats = self.read()
        self.assertEqual('incremental', stats.kind)
        self.assertEqual(HOSTS[2], view.servers[moving.id].host)
        self.assertEqual(HOSTS[2], view.servers[born.id].host)
        self.assertNotIn(doomed.id, view.servers)
        model = view.model
        self.assertEqual(HOSTS[2], model.hosts.names[
            model.instances.host[model.instance_index[moving.id]]])
        # the move starts the instance's cooldown
        self.assertLess(model.instances.last_migrated_s[
            model.instance_index[moving.id]], 600)
        # inventories read again: those of the providers that changed
        # (allocations moved), no more
        changed = {rp for rp, gen in self.generations().items()
                   if before.get(rp) != gen}
        self.assertEqual(len(changed), stats.calls.get('inventories', 0))
        self.assertLessEqual(stats.calls['servers'], 1)


class TestNotificationDeltas(test_nova_events.NovaEventsTestCase):
    """Nova's real notifications applied to the view, without a read."""

    def test_create_migrate_delete(self):
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        collector = nova_view.NovaCollector(self.conn, self.conf)
        collector.read()
        flavor = self.lab.flavor('small', vcpus=1, ram=256)

        def apply(event_type, since, instance):
            self.wait_event(event_type, since, instance)
            found = self.recorder.find(event_type, instance, since=since)
            rest = collector.apply_events([found[0]])
            self.assertEqual([], rest, event_type)
            return collector.build()

        t0 = time.time()
        server = self.lab.boot('deltas', flavor, host=HOSTS[0])
        view = apply('instance.create.end', t0, server.id)
        self.assertEqual(HOSTS[0], view.servers[server.id].host)
        n = view.model.instance_index[server.id]
        self.assertEqual((1, 256), (view.model.instances.vcpus[n],
                                    view.model.instances.memory_mb[n]))
        self.assertEqual('ACTIVE', view.servers[server.id].status)

        t1 = time.time()
        self.conn.compute.live_migrate_server(server, host=HOSTS[1],
                                              block_migration='auto')
        view = apply('instance.live_migration_post_dest.end', t1, server.id)
        self.assertEqual(HOSTS[1], view.servers[server.id].host)
        # the source's late post.end is not trusted: still on HOSTS[1]
        self.wait_event('instance.live_migration_post.end', t1, server.id)
        post = self.recorder.find('instance.live_migration_post.end',
                                  server.id, since=t1)[0]
        self.assertEqual([post], collector.apply_events([post]))
        self.assertEqual(HOSTS[1],
                         collector.build().servers[server.id].host)

        t2 = time.time()
        self.conn.compute.delete_server(server)
        view = apply('instance.delete.end', t2, server.id)
        self.assertNotIn(server.id, view.servers)
        self.conn.compute.wait_for_delete(server, interval=0.3, wait=60)
        # three applied, the untrusted post.end refused
        self.assertEqual((3, 1), (collector.deltas_applied,
                                  collector.deltas_refused))
        self.print_delays('deltas')
