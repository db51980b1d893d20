# SPDX-License-Identifier: Apache-2.0
"""The generated region: how it is built and how Nova's rules change it."""

import collections
import threading

from oslotest import base

from nova_drs.loadtest import region as region_mod

T0 = 1.7e9


class FakeClock(object):
    """Epoch seconds that move only when told."""

    def __init__(self, now=T0):
        self.now = float(now)
        self._lock = threading.Lock()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        with self._lock:
            self.now += seconds


def usage_of(region, host):
    """What the servers on ``host`` and the migrations to it allocate."""
    used = collections.Counter()
    for server in region.servers.values():
        if server.deleted:
            continue
        flavor = server.flavor
        holders = [server.host]
        if server.migration is not None:
            holders.append(server.migration.dest)
        if host.name in holders:
            used.update({region_mod.VCPU: flavor.vcpus,
                         region_mod.MEMORY_MB: flavor.ram,
                         region_mod.DISK_GB: flavor.disk})
    return {rc: used[rc] for rc in host.used}


class TestGenerate(base.BaseTestCase):

    def test_same_seed_same_region(self):
        one = region_mod.Region.generate(30, seed=5, clock=FakeClock())
        two = region_mod.Region.generate(30, seed=5, clock=FakeClock())
        other = region_mod.Region.generate(30, seed=6, clock=FakeClock())

        def facts(r):
            return ([(h.name, h.rp_uuid, h.service_id, h.zone)
                     for h in r.hosts],
                    [(s.id, s.host, s.flavor.id)
                     for s in sorted(r.servers.values(),
                                     key=lambda s: s.index)],
                    [(g.id, tuple(g.members)) for g in r.groups])
        self.assertEqual(facts(one), facts(two))
        self.assertNotEqual(facts(one)[0], facts(other)[0])
        self.assertNotEqual(facts(one)[1], facts(other)[1])

    def test_hosts_zones_and_aggregates(self):
        region = region_mod.Region.generate(10, instances_per_host=2,
                                            zones=3, clock=FakeClock())
        self.assertEqual(['lt-%05d' % n for n in range(10)],
                         [h.name for h in region.hosts])
        self.assertEqual(10, len({h.rp_uuid for h in region.hosts}))
        zones = [h.zone for h in region.hosts]
        # blocks of neighbouring hosts, in order
        self.assertEqual(sorted(zones), zones)
        self.assertEqual({'az-1', 'az-2', 'az-3'}, set(zones))
        self.assertEqual(['az-1', 'az-2', 'az-3'],
                         [a.zone for a in region.aggregates])
        for agg in region.aggregates:
            self.assertEqual([h.name for h in region.hosts
                              if h.zone == agg.zone], agg.hosts)

    def test_servers_round_robin_within_capacity(self):
        region = region_mod.Region.generate(40, instances_per_host=8,
                                            clock=FakeClock())
        self.assertEqual(320, len(region.servers))
        for host in region.hosts:
            self.assertEqual(8, len(host.servers), host.name)
            self.assertEqual(usage_of(region, host), host.used)
            self.assertTrue(all(host.free(rc) >= 0 for rc in host.used))
        for server in region.servers.values():
            self.assertEqual(region.host_by_name[server.host].zone,
                             server.zone)
            self.assertIn(server.flavor, region.flavors.values())
        # all four flavors are drawn
        self.assertEqual(set(region.flavors),
                         {s.flavor.id for s in region.servers.values()})

    def test_round_robin_skips_full_hosts(self):
        flavors = (('9', 'big', 3, 1024, 1),)
        # 4 vCPUs at ratio 1: one 3-vCPU server per host, not two
        self.assertRaises(ValueError, region_mod.Region.generate, 2,
                          instances_per_host=2, host_vcpus=4, cpu_ratio=1.0,
                          flavors=flavors, flavor_weights=(1,),
                          clock=FakeClock())
        region = region_mod.Region.generate(
            3, instances_per_host=1, host_vcpus=4, cpu_ratio=1.0,
            flavors=flavors, flavor_weights=(1,), clock=FakeClock())
        self.assertEqual([1, 1, 1], [len(h.servers) for h in region.hosts])

    def test_anti_affinity_groups_on_distinct_hosts(self):
        region = region_mod.Region.generate(200, instances_per_host=8,
                                            clock=FakeClock())
        grouped = sum(len(g.members) for g in region.groups)
        # about 1 % of the 1600 servers
        self.assertGreaterEqual(grouped, 12)
        self.assertLessEqual(grouped, 20)
        for group in region.groups:
            self.assertEqual('anti-affinity', group.policy)
            self.assertIn(len(group.members), (2, 3))
            hosts = [region.servers[m].host for m in group.members]
            self.assertEqual(len(hosts), len(set(hosts)))
            for member in group.members:
                self.assertEqual(group.id, region.servers[member].group)
        explicit = region_mod.Region.generate(20, groups=4,
                                              clock=FakeClock())
        self.assertEqual(4, len(explicit.groups))

    def test_creation_stamps_spread_newest_now(self):
        clock = FakeClock()
        region = region_mod.Region.generate(5, instances_per_host=2,
                                            clock=clock)
        stamps = sorted(s.updated for s in region.servers.values())
        self.assertEqual(T0, stamps[-1])
        self.assertEqual(T0 - 9 * region_mod.CREATION_SPACING_S, stamps[0])


class RegionTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.region = region_mod.Region.generate(
            6, instances_per_host=4, groups=1, clock=self.clock,
            migration_seconds=2.0)

    def ungrouped_server(self, host=None):
        for server in sorted(self.region.servers.values(),
                             key=lambda s: s.index):
            if server.group is None and host in (None, server.host):
                return server
        raise AssertionError('no ungrouped server')

    def other_host(self, server):
        return next(h for h in self.region.hosts if h.name != server.host)


class TestLiveMigration(RegionTestCase):

    def test_runs_then_completes_on_the_clock(self):
        server = self.ungrouped_server()
        source = self.region.host_by_name[server.host]
        dest = self.other_host(server)
        generations = (source.generation, dest.generation)
        dest_used = dict(dest.used)
        self.clock.advance(100)

        migration = self.region.live_migrate(server.id, dest.name,
                                             client='r7')
        self.assertEqual('running', migration.status)
        self.assertEqual('MIGRATING', server.status)
        self.assertEqual(source.name, server.host)
        # the destination holds the server's resources while it runs
        self.assertEqual(dest_used[region_mod.VCPU] + server.flavor.vcpus,
                         dest.used[region_mod.VCPU])
        self.assertEqual(usage_of(self.region, dest), dest.used)
        self.assertEqual((generations[0] + 1, generations[1] + 1),
                         (source.generation, dest.generation))
        self.assertEqual(T0 + 100, server.updated)

        self.clock.advance(1.5)
        self.assertEqual(0, self.region.advance())
        self.assertEqual('running', migration.status)
        self.clock.advance(0.5)
        self.assertEqual(1, self.region.advance())
        self.assertEqual('completed', migration.status)
        self.assertEqual(dest.name, server.host)
        self.assertEqual(dest.zone, server.zone)
        self.assertEqual('ACTIVE', server.status)
        self.assertIsNone(server.task_state)
        self.assertEqual(T0 + 102, server.updated)
        self.assertEqual(T0 + 102, migration.updated)
        self.assertNotIn(server.id, source.servers)
        self.assertIn(server.id, dest.servers)
        self.assertEqual(usage_of(self.region, source), source.used)
        self.assertEqual(generations[0] + 2, source.generation)

        request = self.region.requests[-1]
        self.assertEqual(('r7', server.id, source.name, dest.name, True,
                          202, migration.id),
                         (request.client, request.server, request.source,
                          request.target, request.accepted,
                          request.http_status, request.migration_id))
        events = self.region.server_actions(server.id)[0].events
        self.assertEqual(['Success', 'Success'],
                         [e['result'] for e in events])

    def test_refusals_as_nova(self):
        server = self.ungrouped_server()
        dest = self.other_host(server)

        e = self.assertRaises(region_mod.NotFound,
                              self.region.live_migrate, 'nope', dest.name)
        self.assertEqual(404, e.code)
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.live_migrate, server.id, 'lt-99')
        self.assertEqual('Compute host lt-99 could not be found.',
                         e.message)
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.live_migrate, server.id,
                              server.host)
        self.assertEqual(region_mod.NO_VALID_HOST, e.message)

        self.region.set_service_status(dest.name, disabled=True,
                                       reason='maintenance')
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.live_migrate, server.id,
                              dest.name)
        self.assertEqual(400, e.code)
        self.assertEqual(region_mod.NO_VALID_HOST, e.message)
        self.assertIn('disabled', e.reason)
        # Nova's conductor recorded the attempt
        self.assertEqual('error', self.region.migrations[-1].status)
        self.assertIsNone(self.region.migrations[-1].dest)
        self.region.set_service_status(dest.name, disabled=False)

        self.region.live_migrate(server.id, dest.name)
        e = self.assertRaises(region_mod.Conflict,
                              self.region.live_migrate, server.id,
                              self.region.hosts[-1].name)
        self.assertEqual(409, e.code)
        self.assertIn('task_state migrating', e.message)

        refused = [r for r in self.region.requests if not r.accepted]
        self.assertEqual([404, 400, 400, 400, 409],
                         [r.http_status for r in refused])
        self.assertEqual(1, len([r for r in self.region.requests
                                 if r.accepted]))

    def test_capacity_under_the_ratios(self):
        server = self.ungrouped_server()
        dest = self.other_host(server)
        # fill the destination with the smallest flavor
        while dest.fits(server.flavor):
            self.region.create_server('1', host=dest.name)
        self.assertEqual(usage_of(self.region, dest), dest.used)
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.live_migrate, server.id,
                              dest.name)
        self.assertIn('capacity', e.reason)
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.create_server, '4',
                              host=dest.name)
        # a host with room takes it; the scheduler chooses the one with
        # the most free memory when none is named
        roomy = max((h for h in self.region.hosts
                     if h.name != server.host),
                    key=lambda h: h.free(region_mod.MEMORY_MB))
        migration = self.region.live_migrate(server.id)
        self.assertEqual(roomy.name, migration.dest)

    def test_anti_affinity(self):
        group = self.region.groups[0]
        first, second = (self.region.servers[m] for m in group.members[:2])
        e = self.assertRaises(region_mod.BadRequest,
                              self.region.live_migrate, first.id,
                              second.host)
        self.assertIn('anti-affinity', e.reason)
        # forced, the filters are skipped
        migration = self.region.live_migrate(first.id, second.host,
                                             force=True)
        self.assertEqual('running', migration.status)

    def test_async_microversion_records_the_failure(self):
        server = self.ungrouped_server()
        dest = self.other_host(server)
        self.region.set_service_status(dest.name, disabled=True)
        migration = self.region.live_migrate(server.id, dest.name,
                                             async_=True)
        self.assertEqual('error', migration.status)
        self.assertIsNone(server.task_state)
        request = self.region.requests[-1]
        self.assertFalse(request.accepted)
        self.assertEqual(202, request.http_status)
        action = self.region.server_actions(server.id)[0]
        self.assertEqual('live-migration', action.action)
        self.assertEqual('Error', action.events[0]['result'])
        self.assertEqual(region_mod.NO_VALID_HOST,
                         action.events[0]['details'])

    def test_abort_gives_resources_back(self):
        server = self.ungrouped_server()
        source = self.region.host_by_name[server.host]
        dest = self.other_host(server)
        before = (dict(source.used), dict(dest.used))
        migration = self.region.live_migrate(server.id, dest.name)
        self.region.abort_migration(server.id, migration.id)
        self.assertEqual('cancelled', migration.status)
        self.assertEqual(source.name, server.host)
        self.assertIsNone(server.task_state)
        self.assertEqual(before, (source.used, dest.used))
        self.clock.advance(10)
        self.region.advance()
        self.assertEqual('cancelled', migration.status)
        e = self.assertRaises(region_mod.RegionError,
                              self.region.abort_migration, server.id,
                              migration.id)
        self.assertEqual(409, e.code)

    def test_force_complete(self):
        server = self.ungrouped_server()
        dest = self.other_host(server)
        migration = self.region.live_migrate(server.id, dest.name)
        self.region.force_complete(server.id, migration.id)
        self.assertEqual('completed', migration.status)
        self.assertEqual(dest.name, server.host)
        # its first due time passes without effect
        self.clock.advance(5)
        self.assertEqual(0, self.region.advance())


class TestListings(RegionTestCase):

    def test_pages_newest_first(self):
        servers = sorted(self.region.servers.values(),
                         key=lambda s: -s.index)
        seen, marker = [], None
        while True:
            page, full = self.region.list_servers(marker=marker, limit=5)
            seen += page
            if not full:
                break
            marker = page[-1].id
        self.assertEqual([s.id for s in servers], [s.id for s in seen])
        self.assertRaises(region_mod.BadRequest, self.region.list_servers,
                          marker='nope')

    def test_changes_since(self):
        server = self.ungrouped_server()
        newest = max(s.updated for s in self.region.servers.values())
        self.clock.advance(1000)
        page, _ = self.region.list_servers(changes_since=newest)
        # the newest server only
        self.assertEqual(1, len(page))
        victim = self.ungrouped_server(self.region.hosts[-1].name)
        self.region.live_migrate(server.id, self.other_host(server).name)
        self.region.delete_server(victim.id)
        page, _ = self.region.list_servers(changes_since=T0 + 1000)
        self.assertEqual({server.id, victim.id}, {s.id for s in page})
        self.assertEqual('DELETED', self.region.servers[victim.id].status)
        everything, _ = self.region.list_servers(changes_since=0)
        self.assertEqual(len(self.region.servers), len(everything))
        listed, _ = self.region.list_servers()
        self.assertNotIn(victim.id, [s.id for s in listed])
        self.assertEqual(len(self.region.servers) - 1, len(listed))
        # paging through the changed ones
        first, full = self.region.list_servers(changes_since=T0 + 1000,
                                               limit=1)
        self.assertTrue(full)
        second, _ = self.region.list_servers(changes_since=T0 + 1000,
                                             marker=first[0].id, limit=1)
        self.assertEqual({server.id, victim.id},
                         {first[0].id, second[0].id})

    def test_deleted_server_gives_its_resources_back(self):
        server = self.ungrouped_server()
        host = self.region.host_by_name[server.host]
        generation = host.generation
        self.region.delete_server(server.id)
        self.assertEqual(usage_of(self.region, host), host.used)
        self.assertNotIn(server.id, host.servers)
        self.assertEqual(generation + 1, host.generation)
        self.assertRaises(region_mod.NotFound, self.region.server, server.id)

    def test_stamps_never_go_back(self):
        server = self.ungrouped_server()
        self.clock.advance(50)
        self.region.live_migrate(server.id, self.other_host(server).name)
        started = server.updated
        self.clock.advance(-30)
        self.clock.advance(0)
        self.region.force_complete(server.id, server.migration.id)
        self.assertGreaterEqual(server.updated, started)

    def test_migrations_filters_and_pages(self):
        server = self.ungrouped_server()
        other = self.ungrouped_server(self.region.hosts[-1].name)
        first = self.region.live_migrate(server.id,
                                         self.other_host(server).name)
        self.clock.advance(1)
        second = self.region.live_migrate(other.id,
                                          self.other_host(other).name)
        page, _ = self.region.list_migrations()
        self.assertEqual([second, first], page)
        page, _ = self.region.list_migrations(server_id=server.id)
        self.assertEqual([first], page)
        page, _ = self.region.list_migrations(changes_since=T0 + 0.5)
        self.assertEqual([second], page)
        page, _ = self.region.list_migrations(status='running')
        self.assertEqual([second, first], page)
        page, full = self.region.list_migrations(limit=1)
        self.assertTrue(full)
        page, _ = self.region.list_migrations(limit=1, marker=page[0].uuid)
        self.assertEqual([first], page)
        self.assertEqual([first], self.region.server_migrations(server.id))

    def test_summary(self):
        server = self.ungrouped_server()
        self.region.live_migrate(server.id, self.other_host(server).name)
        summary = self.region.summary()
        self.assertEqual(24, summary['servers'])
        self.assertEqual(6, summary['hosts'])
        self.assertEqual({'running': 1}, summary['migrations'])
        placement = self.region.placement()
        self.assertEqual(24, sum(len(v) for v in placement.values()))
        self.assertIn(server.id, placement[server.host])
