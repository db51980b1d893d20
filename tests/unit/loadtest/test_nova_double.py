# SPDX-License-Identifier: Apache-2.0
"""The Nova double, through nova-drs's own Nova and Placement code.

Each test serves a small generated region on a free port and reads or
changes it with what the balancer runs: the openstacksdk connection of
:func:`nova_drs.balancer.clients.connect` (keystoneauth ``admin_token``
plugin, as with the Nova lab), the
:class:`~nova_drs.balancer.view.nova_view.NovaCollector`, the
:class:`~nova_drs.balancer.execution.actuator.Actuator` and consolidation's
:class:`~nova_drs.balancer.planning.consolidation.Services`.
"""

import os
import time

import fixtures
from oslotest import base
import requests

from nova_drs.balancer import clients
from nova_drs.balancer.execution import actuator
from nova_drs.balancer.planning import consolidation
from nova_drs.balancer.view import nova_view
from nova_drs import config
from nova_drs.loadtest import nova_api
from nova_drs.loadtest import region as region_mod
from tests.unit.loadtest import test_region

#: the region's clock starts an hour before the wall clock
AN_HOUR = 3600.0


class DoubleTestCase(base.BaseTestCase):

    hosts = 20
    extra_conf = ''

    def setUp(self):
        super().setUp()
        # openstacksdk warns about its own internals on every request
        self.useFixture(fixtures.WarningsFilter([{
            'action': 'ignore', 'category': PendingDeprecationWarning,
            'module': r'openstack\.'}]))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.clock = test_region.FakeClock(time.time() - AN_HOUR)
        self.region = region_mod.Region.generate(
            self.hosts, instances_per_host=8, seed=11, zones=2, groups=3,
            clock=self.clock)
        self.served, self.base_url = nova_api.serve(self.region)
        self.addCleanup(self.served.shutdown)
        self.app = self.served.app
        self.conf, self.conn = self.connect('r1')

    def connect(self, client):
        path = os.path.join(self.tmp, '%s.conf' % client)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(nova_api.client_config(self.base_url, client)
                    + self.extra_conf)
        conf = config.load([path], default_files=False)
        return conf, clients.connect(conf)

    def collector(self, conf=None, conn=None):
        return nova_view.NovaCollector(conn or self.conn, conf or self.conf,
                                       clock=self.clock)

    def actuator(self):
        return actuator.Actuator(self.conn, self.conf, clock=self.clock,
                                 sleep=self.clock.advance)

    def ungrouped(self, host=None):
        return next(s for s in sorted(self.region.servers.values(),
                                      key=lambda s: s.index)
                    if s.group is None and host in (None, s.host))

    def other_host(self, server):
        return next(h.name for h in self.region.hosts
                    if h.name != server.host)

    def calls(self, client='r1'):
        return dict(self.app.calls_snapshot().get(client, {}))

    def get(self, path, version=None, token='x'):
        headers = {'X-Auth-Token': token} if token else {}
        if version:
            headers['OpenStack-API-Version'] = version
        return requests.get(self.base_url + path, headers=headers,
                            timeout=30)


class TestRead(DoubleTestCase):

    def test_full_read_sees_the_region(self):
        collector = self.collector()
        view = collector.read(full=True)
        model, region = view.model, self.region

        self.assertEqual([], view.skipped)
        self.assertEqual(sorted(region.host_by_name), model.hosts.names)
        for i, name in enumerate(model.hosts.names):
            host = region.host_by_name[name]
            self.assertEqual(
                (host.vcpus, host.memory_mb, 0,
                 region_mod.RESERVED_HOST_MEMORY_MB, 4.0, 1.5, host.zone,
                 False),
                (model.hosts.vcpus[i], model.hosts.memory_mb[i],
                 model.hosts.reserved_host_cpus[i],
                 model.hosts.reserved_host_memory_mb[i],
                 model.hosts.cpu_allocation_ratio[i],
                 model.hosts.ram_allocation_ratio[i],
                 model.zones[model.hosts.availability_zone[i]],
                 model.hosts.disabled[i]), name)
            self.assertEqual((host.zone,),
                             model.aggregate_sets[model.hosts.aggregates[i]])
            info = view.hosts[name]
            self.assertEqual((name, host.rp_uuid, 'enabled', 'up'),
                             (info.hypervisor_hostname,
                              info.resource_provider, info.service_status,
                              info.service_state))

        self.assertEqual(160, len(model.instances.names))
        for i, sid in enumerate(model.instances.names):
            server = region.servers[sid]
            self.assertEqual(
                (server.host, server.flavor.vcpus, server.flavor.ram,
                 False),
                (model.hosts.names[model.instances.host[i]],
                 model.instances.vcpus[i], model.instances.memory_mb[i],
                 model.instances.opt_out[i]), sid)
            self.assertEqual(server.project_id, view.servers[sid].project_id)
            self.assertEqual(server.flavor.name,
                             view.servers[sid].flavor_name)

        self.assertEqual({g.id: g.name for g in region.groups}, view.groups)
        self.assertEqual([(g.id, 'anti-affinity') for g in region.groups],
                         [(g.name, g.policy) for g in model.groups])
        for n, group in enumerate(region.groups):
            members = [model.instances.names[i]
                       for i in range(len(model.instances.names))
                       if model.instances.group[i] == n]
            self.assertEqual(sorted(group.members), sorted(members))

        # one call of each kind (20 hosts: one page), one per provider,
        # plus openstacksdk's version discovery
        stats = collector.last_read
        self.assertEqual(20, stats.inventories_read)
        calls = self.calls('r1')
        discovery = [calls.pop('versions'), calls.pop('placement_versions')]
        self.assertEqual(stats.calls, calls)
        self.assertLessEqual(sum(discovery), 4)

    def test_incremental_read_after_a_live_migration(self):
        collector = self.collector()
        collector.read(full=True)
        mark = max(s.updated for s in self.region.servers.values())
        server = self.ungrouped()
        source, dest = server.host, self.other_host(server)
        generations = {h.name: h.generation for h in self.region.hosts}
        # an hour later, now by the wall clock
        self.clock.advance(AN_HOUR)

        result = self.actuator().live_migrate(server.id, dest)
        self.assertTrue(result.succeeded, result)
        self.assertEqual((source, dest), (result.source, result.host))
        self.assertEqual(dest, self.region.servers[server.id].host)
        changed = {n for n, g in generations.items()
                   if self.region.host_by_name[n].generation != g}
        self.assertEqual({source, dest}, changed)

        before = self.calls('r1')
        view = collector.read()
        stats = collector.last_read
        self.assertEqual('incremental', stats.kind)
        self.assertEqual(2, stats.inventories_read)
        # the server moved, and those updated within the overlap before
        # the newest stamp of the full read
        overlap = [s for s in self.region.servers.values()
                   if mark - nova_view.CHANGES_OVERLAP_S <= s.updated <= mark]
        self.assertEqual(len(overlap) + 1, stats.servers_read)
        self.assertLess(stats.servers_read, 10)
        model = view.model
        i = model.instance_index[server.id]
        self.assertEqual(dest, model.hosts.names[model.instances.host[i]])
        self.assertTrue(model.instances.last_migrated_s[i] < 60)
        after = self.calls('r1')
        self.assertEqual(2, after['inventories'] - before['inventories'])
        self.assertEqual(1, after['servers.changes_since'])
        self.assertEqual(before['servers'], after['servers'])

    def test_deleted_server_leaves_the_view(self):
        collector = self.collector()
        collector.read(full=True)
        self.clock.advance(AN_HOUR)
        server = self.ungrouped()
        self.conn.compute.delete_server(server.id)
        view = collector.read()
        self.assertNotIn(server.id, view.model.instance_index)
        self.assertEqual(159, len(view.model.instances.names))
        self.assertEqual(1, self.calls('r1')['server_delete'])
        # the deleted server was listed (DELETED) by changes-since
        listing = self.get('/r1/compute/v2.1/servers/detail?all_tenants=1&'
                           'changes-since=%s'
                           % nova_view._isotime(self.clock() - 60),
                           version='compute 2.96').json()['servers']
        self.assertEqual([(server.id, 'DELETED')],
                         [(s['id'], s['status']) for s in listing])

    def test_calls_counted_per_client(self):
        conf2, conn2 = self.connect('r2')
        self.collector().read(full=True)
        services = list(conn2.compute.services(binary='nova-compute'))
        self.assertEqual(20, len(services))
        calls = self.app.calls_snapshot()
        self.assertEqual({'versions': 1, 'services': 1}, calls['r2'])
        self.assertEqual(20, calls['r1']['inventories'])
        self.assertEqual(calls, self.get('/_double/calls').json())


class TestPaging(DoubleTestCase):

    # 1040 servers: more than Nova's 1000 a page
    hosts = 130

    def test_servers_in_pages_of_a_thousand(self):
        collector = self.collector()
        view = collector.read(full=True)
        self.assertEqual(1040, len(view.model.instances.names))
        self.assertEqual(set(self.region.servers),
                         set(view.model.instances.names))
        self.assertEqual(130, len(view.model.hosts.names))
        calls = self.calls('r1')
        self.assertEqual(2, calls['servers'])
        self.assertEqual(1, calls['hypervisors'])
        # the collector counts pages, as sent
        self.assertEqual(2, collector.last_read.calls['servers'])
        self.assertEqual(1, collector.last_read.calls['hypervisors'])

        # changes-since pages alike, its links keep the filter
        url = ('/r1/compute/v2.1/servers/detail?all_tenants=1&'
               'changes-since=2000-01-01T00:00:00Z')
        listed = []
        while url:
            page = self.get(url, version='compute 2.96').json()
            listed += [s['id'] for s in page['servers']]
            links = [link['href'] for link in page.get('servers_links', ())
                     if link['rel'] == 'next']
            self.assertTrue(all('changes-since=' in link for link in links))
            url = links[0][len(self.base_url):] if links else None
        self.assertEqual(1040, len(set(listed)))
        self.assertEqual(2, self.calls('r1')['servers.changes_since'])

    def test_hypervisors_and_migrations_pages(self):
        hypervisors = list(self.conn.compute.hypervisors(details=True,
                                                         limit=50))
        self.assertEqual([h.rp_uuid for h in self.region.hosts],
                         [h.id for h in hypervisors])
        # 50 + 50 + 30, then openstacksdk asks once more when given a
        # limit (it would with Nova too)
        self.assertEqual(4, self.calls('r1')['hypervisors'])

        movers = [s for s in self.region.servers.values()
                  if s.group is None][:1001]
        for server in movers:
            host = self.region.host_by_name[server.host]
            dest = self.region.hosts[(host.index + 1) % self.hosts]
            self.region.live_migrate(server.id, dest.name)
        migrations = list(self.conn.compute.migrations())
        self.assertEqual(list(range(1001, 0, -1)),
                         [m.id for m in migrations])
        self.assertEqual({'running'}, {m.status for m in migrations})
        self.assertEqual(2, self.calls('r1')['migrations'])


class TestLiveMigrate(DoubleTestCase):

    extra_conf = """
[drs_actuator]
migration_timeout = 30
timeout_action_wait = 10
"""

    def test_refused_with_novas_errors(self):
        act = self.actuator()
        server = self.ungrouped()
        dest = self.other_host(server)

        # a destination disabled through Nova's API, as consolidation does
        services = consolidation.Services(self.conn)
        services.disable(dest)
        self.assertEqual(
            ('disabled', consolidation.DISABLED_REASON),
            (self.region.host_by_name[dest].status,
             self.region.host_by_name[dest].disabled_reason))
        result = act.live_migrate(server.id, dest)
        self.assertEqual(('rejected', 400), (result.status,
                                             result.http_status))
        self.assertIn('No valid host was found', result.error)
        self.assertEqual(server.host, result.host)
        services.enable(dest)
        self.assertEqual('enabled', self.region.host_by_name[dest].status)

        e = act.live_migrate(server.id, 'lt-99999')
        self.assertEqual(400, e.http_status)
        self.assertIn('Compute host lt-99999 could not be found', e.error)

        # a full destination
        full = self.region.host_by_name[dest]
        while full.fits(server.flavor):
            self.region.create_server('1', host=dest)
        result = act.live_migrate(server.id, dest)
        self.assertEqual(('rejected', 400), (result.status,
                                             result.http_status))

        # a busy server
        self.region.live_migrate(server.id, self.region.hosts[-1].name)
        result = act.live_migrate(server.id, self.region.hosts[-2].name)
        self.assertEqual(('rejected', 409), (result.status,
                                             result.http_status))
        self.assertIn('task_state migrating', result.error)

        records = [(r.client, r.accepted, r.http_status)
                   for r in self.region.requests]
        self.assertEqual([('r1', False, 400)] * 3 + [(None, True, 202),
                                                     ('r1', False, 409)],
                         records)
        self.assertEqual(4, self.calls('r1')['live_migrate'])
        listed = self.get('/_double/requests?from=3').json()
        self.assertEqual(5, listed['next'])
        self.assertEqual([True, False],
                         [r['accepted'] for r in listed['requests']])

    def test_async_microversion_fails_the_migration_record(self):
        server = self.ungrouped()
        dest = self.other_host(server)
        self.region.set_service_status(dest, disabled=True)
        answer = requests.post(
            '%s/r1/compute/v2.1/servers/%s/action' % (self.base_url,
                                                      server.id),
            json={'os-migrateLive': {'host': dest,
                                     'block_migration': 'auto'}},
            headers={'X-Auth-Token': 'x',
                     'OpenStack-API-Version': 'compute 2.96'}, timeout=30)
        self.assertEqual(202, answer.status_code)
        self.assertEqual('compute 2.96',
                         answer.headers['OpenStack-API-Version'])
        record = self.region.migrations[-1]
        result = self.actuator().follow(server.id, migration_id=record.id)
        self.assertEqual('error', result.status)
        self.assertEqual('conductor_live_migrate_instance: '
                         + region_mod.NO_VALID_HOST, result.error)

    def test_timeout_aborts(self):
        self.region.migration_seconds = 1000.0
        server = self.ungrouped()
        source = self.region.host_by_name[server.host]
        dest = self.region.host_by_name[self.other_host(server)]
        used = (dict(source.used), dict(dest.used))
        result = self.actuator().live_migrate(server.id, dest.name)
        self.assertEqual(('cancelled', True, 'abort'),
                         (result.status, result.timed_out,
                          result.timeout_action))
        self.assertEqual(source.name, result.host)
        self.assertEqual(used, (source.used, dest.used))
        self.assertEqual(1, self.calls('r1')['migration_abort'])


class TestForceComplete(DoubleTestCase):

    extra_conf = """
[drs_actuator]
migration_timeout = 30
timeout_action = force_complete
"""

    def test_timeout_forces_completion(self):
        self.region.migration_seconds = 1000.0
        server = self.ungrouped()
        dest = self.other_host(server)
        result = self.actuator().live_migrate(server.id, dest)
        self.assertEqual(('completed', True, 'force_complete', dest),
                         (result.status, result.timed_out,
                          result.timeout_action, result.host))
        self.assertEqual(1, self.calls('r1')['migration_force_complete'])


class TestHTTP(DoubleTestCase):

    hosts = 3

    def test_microversions(self):
        answer = self.get('/r1/compute/v2.1/os-services',
                          version='compute 2.60')
        self.assertEqual(200, answer.status_code)
        self.assertEqual('compute 2.60',
                         answer.headers['OpenStack-API-Version'])
        self.assertEqual('2.60',
                         answer.headers['X-OpenStack-Nova-API-Version'])
        answer = self.get('/r1/compute/v2.1/os-services',
                          version='compute 2.200')
        self.assertEqual(406, answer.status_code)
        answer = self.get('/r1/compute/v2.1/os-services')
        self.assertEqual('compute 2.1',
                         answer.headers['OpenStack-API-Version'])
        answer = self.get('/r1/placement/resource_providers',
                          version='placement latest')
        self.assertEqual('placement 1.39',
                         answer.headers['OpenStack-API-Version'])
        provider = answer.json()['resource_providers'][0]
        self.assertEqual('/r1/placement/resource_providers/%s'
                         % provider['uuid'], provider['links'][0]['href'])
        versions = self.get('/r1/compute/', token=None).json()
        self.assertEqual(['2.96'], [v['version'] for v in
                                    versions['versions']
                                    if v['status'] == 'CURRENT'])

    def test_errors_in_novas_and_placements_shapes(self):
        answer = self.get('/r1/compute/v2.1/servers/nope',
                          version='compute 2.96')
        self.assertEqual(404, answer.status_code)
        self.assertEqual({'itemNotFound': {
            'code': 404, 'message': 'Instance nope could not be found.'}},
            answer.json())
        answer = self.get('/r1/placement/resource_providers/nope/usages')
        self.assertEqual(404, answer.status_code)
        self.assertEqual(404, answer.json()['errors'][0]['status'])
        answer = self.get('/r1/compute/v2.1/servers/detail', token=None)
        self.assertEqual(401, answer.status_code)
        answer = self.get('/r1/compute/v2.1/os-no-such-thing')
        self.assertEqual(404, answer.status_code)
        self.assertEqual(1, self.calls('r1')['unknown'])

    def test_usages_follow_the_region(self):
        host = self.region.hosts[0]
        usages = self.get('/r1/placement/resource_providers/%s/usages'
                          % host.rp_uuid).json()
        self.assertEqual(host.used, usages['usages'])
        self.assertEqual(host.generation,
                         usages['resource_provider_generation'])
        server = self.conn.compute.get_server(self.ungrouped().id)
        self.assertEqual(self.region.servers[server.id].host,
                         server.compute_host)
        self.assertEqual('ACTIVE', server.status)
        summary = self.get('/_double/summary').json()
        self.assertEqual((3, 24), (summary['hosts'], summary['servers']))
