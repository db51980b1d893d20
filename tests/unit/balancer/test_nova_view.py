# SPDX-License-Identifier: Apache-2.0
"""The Nova collector, with openstacksdk faked at the Connection."""

import dataclasses
import datetime
import math

from openstack import exceptions as sdk_exc
from oslo_config import cfg
from oslotest import base

from nova_drs.balancer.view import nova_view
from nova_drs import conf as drs_conf
from nova_drs.model import cluster
from nova_drs.model import snapshot
from tests.unit.balancer import nova_fakes as fakes

NOW = 1_800_000_000.0


def make_conf(**balancer):
    conf = cfg.ConfigOpts()
    drs_conf.register_opts(conf)
    conf([], project='nova-drs', default_config_files=[],
         default_config_dirs=[])
    for key, value in balancer.items():
        conf.set_override(key, value, 'drs_balancer')
    return conf


def iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).replace(tzinfo=None).isoformat()


class CollectorTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conn = fakes.FakeConnection()
        self.conf = make_conf()

    def collect(self, conf=None, **kw):
        collector = nova_view.NovaCollector(self.conn, conf or self.conf,
                                            clock=lambda: NOW)
        return collector.collect(**kw)

    def host_row(self, view, name):
        return view.to_snapshot()['hosts'][view.model.host_index[name]]

    def inst_row(self, view, name):
        return view.to_snapshot()['instances'][
            view.model.instance_index[name]]


class TestHosts(CollectorTestCase):

    def test_capacities_come_from_placement(self):
        self.conn.add_host('c1', vcpus=32, memory_mb=131072,
                           reserved_cpus=2, reserved_mb=4096, cpu_ratio=8.0,
                           ram_ratio=1.5)
        view = self.collect()
        self.assertEqual({
            'name': 'c1', 'vcpus': 32, 'memory_mb': 131072,
            'reserved_host_cpus': 2, 'reserved_host_memory_mb': 4096,
            'cpu_allocation_ratio': 8.0, 'ram_allocation_ratio': 1.5,
            'availability_zone': 'nova', 'aggregates': [],
            'disabled': False}, self.host_row(view, 'c1'))
        self.assertEqual([(32 - 2) * 8.0, (131072 - 4096) * 1.5],
                         list(view.model.allocation_limit()[0]))
        self.assertIn(('hypervisors', True), self.conn.compute.calls)

    def test_hosts_keyed_by_service_host_not_node(self):
        hv = self.conn.add_host('compute-7', node='compute-7.example.org')
        view = self.collect()
        self.assertEqual(['compute-7'], view.model.hosts.names)
        info = view.hosts['compute-7']
        self.assertEqual('compute-7.example.org', info.hypervisor_hostname)
        self.assertEqual(hv.id, info.resource_provider)

    def test_disabled_forced_down_and_down_services(self):
        self.conn.add_host('ok')
        self.conn.add_host('off', status='disabled', reason='maintenance')
        self.conn.add_host('forced', forced_down=True)
        self.conn.add_host('down', state='down')
        view = self.collect()
        disabled = {n: bool(view.model.hosts.disabled[i])
                    for n, i in view.model.host_index.items()}
        self.assertEqual({'ok': False, 'off': True, 'forced': True,
                          'down': True}, disabled)
        self.assertEqual('maintenance', view.hosts['off'].disabled_reason)

    def test_zones_and_aggregates(self):
        self.conn.add_host('a', zone='az1')
        self.conn.add_host('b', zone=None)
        self.conn.add_host('c', zone=None)
        self.conn.compute.aggregate_list = [
            fakes.res(name='ssd', hosts=['a', 'b'], availability_zone=None,
                      metadata={}),
            fakes.res(name='gpu', hosts=['a'], availability_zone=None,
                      metadata={}),
            fakes.res(name='zone2', hosts=['b'], availability_zone=None,
                      metadata={'availability_zone': 'az2'}),
        ]
        view = self.collect()
        a, b, c = (self.host_row(view, n) for n in 'abc')
        self.assertEqual(('az1', ['gpu', 'ssd']),
                         (a['availability_zone'], a['aggregates']))
        self.assertEqual(('az2', ['ssd', 'zone2']),
                         (b['availability_zone'], b['aggregates']))
        self.assertEqual(('nova', []),
                         (c['availability_zone'], c['aggregates']))

    def test_provider_found_by_name(self):
        hv = self.conn.add_host('a')
        rp = self.conn.placement.providers[0]
        rp.id = 'another-uuid'
        self.conn.placement.inventories['another-uuid'] = \
            self.conn.placement.inventories.pop(hv.id)
        view = self.collect()
        self.assertEqual(['a'], view.model.hosts.names)
        self.assertEqual('another-uuid', view.hosts['a'].resource_provider)

    def test_hosts_that_cannot_be_used_are_left_out(self):
        self.conn.add_host('good')
        self.conn.add_host('no-rp', provider=False)
        hv = self.conn.add_host('no-vcpu')
        self.conn.placement.inventories[hv.id] = [
            fakes.inventory('MEMORY_MB', 1024)]
        self.conn.compute.hypervisor_list.append(fakes.res(
            id='x', name='orphan', service_details={}))
        self.conn.compute.hypervisor_list.append(
            fakes.hypervisor('no-service'))
        self.conn.add_server('s1', 'no-rp')
        view = self.collect()
        self.assertEqual(['good'], view.model.hosts.names)
        skipped = {(kind, name) for kind, name, _why in view.skipped}
        self.assertEqual({('host', 'no-rp'), ('host', 'no-vcpu'),
                          ('host', 'orphan'), ('host', 'no-service'),
                          ('server', 's1')}, skipped)
        self.assertEqual(0, len(view.model.instances))

    def test_second_node_of_a_host_is_ignored(self):
        self.conn.add_host('a')
        self.conn.compute.hypervisor_list.append(
            fakes.hypervisor('a-node2', host='a'))
        view = self.collect()
        self.assertEqual(['a'], view.model.hosts.names)
        self.assertEqual('a', view.hosts['a'].hypervisor_hostname)

    def test_fully_reserved_host_is_disabled(self):
        self.conn.add_host('a', vcpus=4, reserved_cpus=4)
        view = self.collect()
        row = self.host_row(view, 'a')
        self.assertTrue(row['disabled'])
        self.assertEqual(3, row['reserved_host_cpus'])
        # still a valid snapshot
        snapshot.from_dict(view.to_snapshot())

    def test_host_capacities(self):
        self.conn.add_host('a')
        self.conn.add_host('b')
        view = self.collect(host_capacities={
            'a': {'disk_capacity_mb_s': 500.0, 'net_capacity_mb_s': 1250.0}})
        h = view.model.hosts
        self.assertEqual([500.0, 0.0], list(h.disk_capacity_mb_s))
        self.assertEqual([1250.0, 0.0], list(h.net_capacity_mb_s))

    def test_empty_cloud(self):
        view = self.collect()
        self.assertEqual(0, len(view.model.hosts))
        self.assertEqual(0, len(view.model.instances))
        self.assertEqual(['nova'], view.model.zones)


class TestInstances(CollectorTestCase):

    def setUp(self):
        super().setUp()
        self.conn.add_host('h1')
        self.conn.add_host('h2')

    def test_flavor_host_and_default_loads(self):
        self.conn.add_server('s1', 'h2', vcpus=4, ram=2048)
        view = self.collect()
        self.assertEqual({'name': 's1', 'host': 'h2', 'vcpus': 4,
                          'memory_mb': 2048, 'cpu_util': 0.0,
                          'mem_used_mb': 2048.0},
                         self.inst_row(view, 's1'))
        self.assertIn(('servers', True, True), self.conn.compute.calls)
        info = view.servers['s1']
        self.assertEqual(('vm-s1', 'h2', 'm1', 'p1'),
                         (info.name, info.host, info.flavor_name,
                          info.project_id))

    def test_loads_from_objects_and_dicts_are_clamped(self):
        self.conn.add_server('a', 'h1', vcpus=2, ram=1000)
        self.conn.add_server('b', 'h1', vcpus=2, ram=1000)
        self.conn.add_server('c', 'h1', vcpus=2, ram=1000)
        loads = {
            'a': nova_view.InstanceLoad(cpu_util=0.25, mem_used_mb=400.0,
                                        disk_mb_s=3.0, net_mb_s=4.0,
                                        dirty_rate_mb_s=5.0),
            'b': {'cpu_util': 1.7, 'mem_used_mb': 5000.0,
                  'disk_mb_s': -1.0},
            'c': nova_view.InstanceLoad(mem_used_mb=None),
        }
        view = self.collect(loads=loads)
        a, b, c = (self.inst_row(view, n) for n in 'abc')
        self.assertEqual((25.0, 400.0, 3.0, 4.0, 5.0),
                         (a['cpu_util'], a['mem_used_mb'], a['disk_mb_s'],
                          a['net_mb_s'], a['dirty_rate_mb_s']))
        self.assertEqual((100.0, 1000.0), (b['cpu_util'], b['mem_used_mb']))
        self.assertNotIn('disk_mb_s', b)
        self.assertEqual(1000.0, c['mem_used_mb'])
        # demand on h1: 2 vCPUs x 0.25 + 2 vCPUs x 1.0 cores, 3 MiB/s disk
        demand = view.model.host_demand()[view.model.host_index['h1']]
        self.assertEqual((2.5, 3.0), (demand[cluster.CPU],
                                      demand[cluster.DISK]))

    def test_opt_out_metadata(self):
        for sid, value in (('yes', 'True'), ('one', '1'), ('no', 'false'),
                           ('none', None)):
            meta = {} if value is None else {'drs:opt_out': value}
            self.conn.add_server(sid, 'h1', metadata=meta)
        self.conn.add_server('other-key', 'h1', metadata={'keep': 'true'})
        view = self.collect()
        opt_out = {n: bool(view.model.instances.opt_out[i])
                   for n, i in view.model.instance_index.items()}
        self.assertEqual({'yes': True, 'one': True, 'no': False,
                          'none': False, 'other-key': False}, opt_out)
        view = self.collect(conf=make_conf(opt_out_metadata_key='keep'))
        self.assertEqual(
            ['other-key'],
            [n for n, i in view.model.instance_index.items()
             if view.model.instances.opt_out[i]])

    def test_servers_that_cannot_move_now_are_pinned(self):
        self.conn.add_server('off', 'h1', status='SHUTOFF')
        self.conn.add_server('busy', 'h1', task_state='migrating')
        self.conn.add_server('paused', 'h1', status='PAUSED')
        self.conn.add_server('building', None, status='BUILD')
        view = self.collect()
        self.assertEqual(['busy', 'off', 'paused'], view.model.instances.names)
        self.assertEqual([True, True, False],
                         list(view.model.instances.opt_out))
        self.assertEqual('status SHUTOFF', view.servers['off'].pinned)
        self.assertEqual('task migrating in progress',
                         view.servers['busy'].pinned)
        self.assertFalse(view.servers['off'].opt_out)
        self.assertIn(('server', 'building', 'no host (status BUILD)'),
                      view.skipped)

    def test_flavor_without_embedded_sizes_is_looked_up_once(self):
        self.conn.compute.flavors['f1'] = fakes.res(vcpus=8, ram=4096,
                                                    name='big')
        for sid in ('a', 'b'):
            self.conn.add_server(sid, 'h1', flavor={'id': 'f1'})
        view = self.collect()
        self.assertEqual([8, 8], list(view.model.instances.vcpus))
        self.assertEqual([4096, 4096], list(view.model.instances.memory_mb))
        self.assertEqual(1, self.conn.compute.call_names().count(
            'get_flavor'))
        self.assertEqual('big', view.servers['a'].flavor_name)


class TestServerGroups(CollectorTestCase):

    def setUp(self):
        super().setUp()
        self.conn.add_host('h1')
        self.conn.add_host('h2')
        for sid in ('a', 'b', 'c', 'd'):
            self.conn.add_server(sid, 'h1')

    def test_policies_rules_and_members(self):
        self.conn.compute.group_list = [
            fakes.res(id='g-anti', name='web', policy='anti-affinity',
                      policies=None, rules={'max_server_per_host': 2},
                      member_ids=['a', 'b', 'gone']),
            fakes.res(id='g-aff', name='db', policy=None,
                      policies=['affinity'], rules=None, member_ids=['c']),
            fakes.res(id='g-odd', name='odd', policy='mystery',
                      policies=None, rules={}, member_ids=['d']),
        ]
        view = self.collect()
        self.assertIn(('server_groups', True), self.conn.compute.calls)
        model = view.model
        self.assertEqual(
            [('g-anti', 'anti-affinity', 2), ('g-aff', 'affinity', 1)],
            [(g.name, g.policy, g.max_server_per_host)
             for g in model.groups])
        groups = {n: int(model.instances.group[i])
                  for n, i in model.instance_index.items()}
        self.assertEqual({'a': 0, 'b': 0, 'c': 1, 'd': cluster.NO_GROUP},
                         groups)
        self.assertEqual({'g-anti': 'web', 'g-aff': 'db'}, view.groups)
        doc = view.to_snapshot()
        self.assertEqual('g-anti', self.inst_row(view, 'a')['server_group'])
        again = snapshot.from_dict(doc)
        self.assertEqual(doc, snapshot.to_dict(again))

    def test_bad_max_server_per_host(self):
        self.conn.compute.group_list = [
            fakes.res(id='g', name='g', policy='anti-affinity',
                      policies=None, rules={'max_server_per_host': 'x'},
                      member_ids=['a'])]
        view = self.collect()
        self.assertEqual(1, view.model.groups[0].max_server_per_host)


class TestLastMigrated(CollectorTestCase):

    def setUp(self):
        super().setUp()
        self.conn.add_host('h1')
        for sid in ('moved', 'moved-twice', 'failed', 'still'):
            self.conn.add_server(sid, 'h1')

    def migration(self, server_id, status, age_s):
        self.conn.compute.migration_list.append(fakes.res(
            server_id=server_id, status=status, migration_type='live',
            updated_at=iso(NOW - age_s), created_at=iso(NOW - age_s - 10)))

    def test_seconds_since_latest_completed_move(self):
        self.migration('moved', 'completed', 100)
        self.migration('moved-twice', 'completed', 900)
        self.migration('moved-twice', 'confirmed', 30)
        self.migration('failed', 'error', 10)
        view = self.collect()
        last = {n: view.model.instances.last_migrated_s[i]
                for n, i in view.model.instance_index.items()}
        self.assertAlmostEqual(100.0, last['moved'], places=3)
        self.assertAlmostEqual(30.0, last['moved-twice'], places=3)
        self.assertTrue(math.isinf(last['failed']))
        self.assertTrue(math.isinf(last['still']))
        self.assertIn(('migrations', ('changes_since',)),
                      self.conn.compute.calls)

    def test_no_cooldown_reads_no_migrations(self):
        self.migration('moved', 'completed', 100)
        view = self.collect(conf=make_conf(instance_cooldown=0))
        self.assertNotIn('migrations', self.conn.compute.call_names())
        self.assertTrue(all(math.isinf(v) for v in
                            view.model.instances.last_migrated_s))

    def test_parse_time(self):
        self.assertEqual(0.0, nova_view._parse_time('1970-01-01T00:00:00'))
        self.assertEqual(0.0, nova_view._parse_time('1970-01-01T00:00:00Z'))
        self.assertEqual(
            0.0, nova_view._parse_time('1970-01-01T01:00:00+01:00'))
        self.assertIsNone(nova_view._parse_time('yesterday'))
        self.assertIsNone(nova_view._parse_time(None))


class TestModuleFunctions(CollectorTestCase):

    def test_collect_shortcut_and_snapshot(self):
        self.conn.add_host('h1')
        self.conn.add_server('s', 'h1')
        view = nova_view.collect(self.conn, self.conf)
        self.assertEqual(['s'], view.model.instances.names)
        self.assertEqual(snapshot.to_dict(view.model),
                         nova_view.to_snapshot(view.model))


def event(event_type, sid, stamp, host='h2', vm_state='active',
          task_state=None, vcpus=2, ram=1024, metadata=()):
    """A NovaEvent as the Nova notification listener makes them."""
    from nova_drs.balancer.intake import nova_events
    facts = nova_events.ServerFacts(
        host=host, vm_state=vm_state, task_state=task_state, vcpus=vcpus,
        ram_mb=ram, flavor_name='m1', metadata=tuple(metadata),
        name='vm-' + sid, project_id='p1')
    return nova_events.NovaEvent(event_type=event_type, instance=sid,
                                 host=host, timestamp=stamp,
                                 kind='inventory', server=facts)


class TestIncremental(CollectorTestCase):
    """Reads after the first: what changed only, at a constant cost."""

    def setUp(self):
        super().setUp()
        self.now = NOW
        self.collector = nova_view.NovaCollector(
            self.conn, self.conf, clock=lambda: self.now)

    def cloud(self, hosts):
        for n in range(hosts):
            self.conn.add_host('h%d' % n)
            self.conn.add_server('s%d' % n, 'h%d' % n,
                                 updated_at=iso(NOW - 3600))

    def read(self, full=False):
        self.conn.compute.calls.clear()
        self.conn.placement.calls.clear()
        return self.collector.read(full=full)

    def test_second_read_costs_less_whatever_the_size(self):
        costs = {}
        for hosts in (3, 30):
            self.conn = fakes.FakeConnection()
            self.collector = nova_view.NovaCollector(
                self.conn, self.conf, clock=lambda: self.now)
            self.cloud(hosts)
            first = self.read()
            self.assertEqual('full', self.collector.last_read.kind)
            self.assertEqual(hosts, len(first.model.hosts))
            full = dict(self.collector.last_read.calls)
            second = self.read()
            self.assertEqual('incremental', self.collector.last_read.kind)
            self.assertEqual(hosts, len(second.model.instances))
            costs[hosts] = (full, dict(self.collector.last_read.calls))
            # nothing changed: no inventory read, servers by changes-since
            self.assertNotIn('inventories',
                             self.conn.placement.call_names())
            self.assertIn(('servers', True, True, 'changes_since'),
                          self.conn.compute.calls)
        self.assertEqual(3, costs[3][0]['inventories'])
        self.assertEqual(30, costs[30][0]['inventories'])
        # the incremental read costs the same for 3 and 30 hosts
        self.assertEqual(costs[3][1], costs[30][1])
        # the hypervisors are not listed again: no service or provider
        # came or went
        self.assertEqual(6, sum(costs[30][1].values()))
        self.assertEqual({'services': 1, 'aggregates': 1,
                          'resource_providers': 1, 'server_groups': 1,
                          'migrations': 1, 'servers': 1}, costs[30][1])

    def test_only_the_providers_of_the_hosts_used_are_read(self):
        # a multi-node compute (as Ironic's) and a nested provider: their
        # inventories are not used, so never read, on full reads too
        self.cloud(2)
        self.warned = False
        for n in range(2, 40):
            node = fakes.hypervisor('h0-node%d' % n, host='h0')
            self.conn.compute.hypervisor_list.append(node)
            self.conn.placement.providers.append(fakes.res(
                id=node.id, name=node.name, generation=1))
            self.conn.placement.inventories[node.id] = [
                fakes.inventory('VCPU', 8)]
        self.conn.placement.providers.append(fakes.res(
            id='nested-gpu', name='h1_pci_0000_81_00_0', generation=1))
        used = {hv.id for hv in self.conn.compute.hypervisor_list[:2]}
        for full in (True, False, True):
            with self.assertLogs(nova_view.LOG.logger, 'DEBUG') as logs:
                view = self.read(full=full)
            self.assertEqual(['h0', 'h1'], view.model.hosts.names)
            self.assertEqual(38, sum(1 for s in view.skipped
                                     if s[2] == 'second node of host h0'))
            read = {c[1] for c in self.conn.placement.calls
                    if c[0] == 'inventories'}
            self.assertEqual(used if full else set(), read)
            self.assertEqual(len(read),
                             self.collector.last_read.calls.get(
                                 'inventories', 0))
            # one warning for the multi-node host, at its first read only
            warned = [r.getMessage() for r in logs.records
                      if r.levelname == 'WARNING']
            self.assertEqual(['host h0 has 39 compute nodes; only one, h0, '
                              'is used'] if full and not self.warned
                             else [], warned)
            self.warned = True
        # their generations moving costs no read either
        for rp in self.conn.placement.providers[2:]:
            self.conn.placement.bump(rp.id)
        self.read()
        self.assertNotIn('inventories', self.conn.placement.call_names())

    def test_a_new_compute_node_is_listed_by_an_incremental_read(self):
        self.cloud(3)
        self.read()
        self.conn.add_host('h-new')
        view = self.read()
        self.assertEqual('incremental', self.collector.last_read.kind)
        self.assertEqual(1, self.collector.last_read.calls['hypervisors'])
        self.assertIn('h-new', view.model.hosts.names)
        # nothing changed since: not listed again
        self.read()
        self.assertNotIn('hypervisors', self.collector.last_read.calls)

    def test_only_changed_providers_are_read_again(self):
        self.cloud(3)
        self.read()
        hv = self.conn.compute.hypervisor_list[1]
        self.conn.placement.inventories[hv.id][0] = fakes.inventory(
            'VCPU', 64, 4, 2.0)
        self.conn.placement.bump(hv.id)
        view = self.read()
        self.assertEqual([('inventories', hv.id)],
                         [c for c in self.conn.placement.calls
                          if c[0] == 'inventories'])
        row = self.host_row(view, 'h1')
        self.assertEqual((64, 4, 2.0), (row['vcpus'],
                                        row['reserved_host_cpus'],
                                        row['cpu_allocation_ratio']))
        self.assertEqual(1, self.collector.last_read.inventories_read)
        # and a full read reads them all again
        self.read(full=True)
        self.assertEqual(3, self.conn.placement.call_names().count(
            'inventories'))

    def test_booted_deleted_and_moved_servers_between_reads(self):
        self.cloud(3)
        self.read()
        self.now += 300
        self.conn.add_server('new', 'h2', updated_at=iso(self.now - 10))
        self.conn.delete_server('s0', updated_at=iso(self.now - 20))
        moved = self.conn.compute.servers_by_id['s1']
        moved.compute_host, moved.updated_at = 'h0', iso(self.now - 5)
        view = self.read()
        self.assertEqual(['new', 's1', 's2'], view.model.instances.names)
        model = view.model
        self.assertEqual('h0', model.hosts.names[
            model.instances.host[model.instance_index['s1']]])
        self.assertEqual('h2', view.servers['new'].host)
        # listed: the new, the deleted and the moved one, and s2, changed
        # at the newest time seen before (changes-since goes back by
        # CHANGES_OVERLAP_S from there)
        self.assertEqual(4, self.collector.last_read.servers_read)

    def test_changes_since_goes_back_from_the_newest_change_seen(self):
        self.cloud(2)
        self.conn.compute.servers_by_id['s1'].updated_at = iso(NOW - 60)
        self.read()
        self.now += 600
        self.read()
        # from NOW - 60 - CHANGES_OVERLAP_S: s1 (NOW - 60) is listed, s0
        # (NOW - 3600) is not
        self.assertEqual(1, self.collector.last_read.servers_read)
        self.assertEqual(2, len(self.collector.build().model.instances))

    def test_a_failed_read_leaves_the_view_as_it_was(self):
        self.cloud(2)
        self.read()
        self.now += 300
        self.conn.add_server('new', 'h1', updated_at=iso(self.now))

        def failing(**query):
            raise fakes.http_error(503, 'unavailable')
        self.conn.compute.migrations = failing
        self.assertRaises(sdk_exc.HttpException, self.read)
        self.assertEqual(['s0', 's1'],
                         self.collector.build().model.instances.names)

    def varied_cloud(self, hosts):
        for n in range(hosts):
            self.conn.add_host('h%02d' % n, vcpus=8 + n,
                               memory_mb=4096 * (n + 1),
                               reserved_cpus=n % 3, cpu_ratio=1.0 + n % 4)
            self.conn.add_server('s%d' % n, 'h%02d' % n,
                                 updated_at=iso(NOW - 3600))

    def test_full_read_the_same_whatever_the_placement_concurrency(self):
        self.varied_cloud(30)
        seen = []
        for concurrency in (1, 3, 8, 64):
            conf = make_conf(placement_read_concurrency=concurrency)
            collector = nova_view.NovaCollector(self.conn, conf,
                                                clock=lambda: self.now)
            view = collector.read(full=True)
            seen.append((view.to_snapshot(), collector.last_read.calls,
                         collector.last_read.inventories_read,
                         collector.own_capacities()))
        self.assertEqual(30, seen[0][1]['inventories'])
        self.assertEqual(30, seen[0][2])
        for other in seen[1:]:
            self.assertEqual(seen[0], other)

    def gone_during_the_read(self, rp_id, status=404):
        """Placement answers ``status`` for the inventories of rp_id."""
        answer = self.conn.placement.get

        def get(url):
            if url.startswith('/resource_providers/%s/' % rp_id):
                self.conn.placement.calls.append(('inventories', rp_id))
                return fakes.FakeResponse(
                    {'errors': [{'detail': 'no provider %s' % rp_id}]},
                    status)
            return answer(url)
        self.conn.placement.get = get

    def test_a_provider_deleted_during_the_read_is_left_out(self):
        self.varied_cloud(12)
        self.conf.set_override('placement_read_concurrency', 4,
                               'drs_balancer')
        self.collector = nova_view.NovaCollector(
            self.conn, self.conf, clock=lambda: self.now)
        self.read()
        gone = self.conn.compute.hypervisor_list[5]
        self.gone_during_the_read(gone.id)
        with self.assertLogs(nova_view.LOG.logger, 'WARNING') as logs:
            view = self.read(full=True)
        self.assertIn('resource provider %s (h05) was deleted during the '
                      'read' % gone.id, logs.output[0])
        self.assertNotIn('h05', view.model.hosts.names)
        self.assertEqual(11, len(view.model.hosts))
        self.assertIn(('host', 'h05', 'no VCPU or MEMORY_MB inventory in '
                       'Placement'), view.skipped)
        # the request was made and is counted, its provider not read
        self.assertEqual(12, self.collector.last_read.calls['inventories'])
        self.assertEqual(11, self.collector.last_read.inventories_read)
        self.assertNotIn('h05', self.collector.own_capacities())
        # not kept: still listed, it is asked for again at the next read
        self.read()
        self.assertEqual([('inventories', gone.id)],
                         [c for c in self.conn.placement.calls
                          if c[0] == 'inventories'])

    def test_an_inventories_error_fails_the_read_as_before(self):
        self.varied_cloud(12)
        self.conf.set_override('placement_read_concurrency', 4,
                               'drs_balancer')
        self.collector = nova_view.NovaCollector(
            self.conn, self.conf, clock=lambda: self.now)
        before = self.read().to_snapshot()
        self.conn.placement.inventories[
            self.conn.compute.hypervisor_list[3].id][0] = fakes.inventory(
                'VCPU', 99)
        self.gone_during_the_read(self.conn.compute.hypervisor_list[7].id,
                                  503)
        e = self.assertRaises(sdk_exc.HttpException, self.read, True)
        self.assertEqual(503, e.status_code)
        # nothing of the failed read is in the view
        self.assertEqual(before, self.collector.build().to_snapshot())
        self.assertEqual('full', self.collector.last_read.kind)
        self.assertEqual(12, self.collector.last_read.inventories_read)

    def test_flavors_cached_across_reads(self):
        self.conn.add_host('h1')
        self.conn.compute.flavors['f1'] = fakes.res(vcpus=8, ram=4096,
                                                    name='big')
        self.conn.add_server('a', 'h1', flavor={'id': 'f1'},
                             updated_at=iso(NOW))
        self.read()
        self.assertEqual(1, self.collector.last_read.calls['flavors'])
        view = self.read(full=True)
        self.assertNotIn('flavors', self.collector.last_read.calls)
        self.assertNotIn('get_flavor', self.conn.compute.call_names())
        self.assertEqual([8], list(view.model.instances.vcpus))


class TestEvents(CollectorTestCase):
    """Nova's notifications applied to the view without a read."""

    def setUp(self):
        super().setUp()
        self.conn.add_host('h1')
        self.conn.add_host('h2')
        self.conn.add_server('a', 'h1', updated_at=iso(NOW - 100))
        self.collector = nova_view.NovaCollector(self.conn, self.conf,
                                                 clock=lambda: NOW)
        self.collector.read()
        self.conn.compute.calls.clear()

    def host_of(self, view, sid):
        model = view.model
        return model.hosts.names[
            model.instances.host[model.instance_index[sid]]]

    def test_create_delete_and_migration_applied(self):
        rest = self.collector.apply_events([
            event('instance.create.end', 'b', NOW + 1, host='h2',
                  metadata=[('drs:opt_out', 'yes')]),
            event('instance.live_migration_post_dest.end', 'a', NOW + 2,
                  host='h2'),
        ])
        self.assertEqual([], rest)
        view = self.collector.build()
        self.assertEqual(['a', 'b'], view.model.instances.names)
        self.assertEqual('h2', self.host_of(view, 'a'))
        self.assertEqual('h2', self.host_of(view, 'b'))
        i = view.model.instance_index
        self.assertTrue(view.model.instances.opt_out[i['b']])
        self.assertEqual((2, 1024), (view.model.instances.vcpus[i['b']],
                                     view.model.instances.memory_mb[i['b']]))
        # the move starts the cooldown
        self.assertLess(view.model.instances.last_migrated_s[i['a']], 1e9)
        self.assertEqual([], self.conn.compute.calls)
        rest = self.collector.apply_events([
            event('instance.delete.end', 'b', NOW + 3)])
        self.assertEqual([], rest)
        self.assertEqual(['a'], self.collector.build().model.instances.names)
        self.assertEqual(3, self.collector.deltas_applied)

    def test_untrusted_or_incomplete_events_need_a_read(self):
        stale = event('instance.live_migration_post.end', 'a', NOW + 5,
                      host='h1', task_state='migrating')
        from nova_drs.balancer.intake import nova_events
        bare = nova_events.NovaEvent(
            event_type='instance.create.end', instance='c', host='h1',
            timestamp=NOW + 6, kind='inventory')
        older = event('instance.update', 'a', NOW - 10)
        rest = self.collector.apply_events([stale, bare, older])
        self.assertEqual([stale, bare, older], rest)
        self.assertEqual(['a'], self.collector.build().model.instances.names)
        self.assertEqual('h1', self.host_of(self.collector.build(), 'a'))

    def test_late_events_do_not_undo_newer_ones(self):
        self.collector.apply_events([
            event('instance.update', 'a', NOW + 10, host='h2'),
            # sent before, delivered after
            event('instance.update', 'a', NOW + 5, host='h1',
                  task_state='migrating'),
            event('instance.delete.end', 'gone', NOW + 10),
            event('instance.create.end', 'gone', NOW + 4, host='h1'),
        ])
        view = self.collector.build()
        self.assertEqual('h2', self.host_of(view, 'a'))
        self.assertIsNone(view.servers['a'].pinned)
        self.assertNotIn('gone', view.model.instance_index)

    def test_before_the_first_read_nothing_is_applied(self):
        collector = nova_view.NovaCollector(self.conn, self.conf)
        events = [event('instance.create.end', 'b', NOW)]
        self.assertEqual(events, collector.apply_events(events))


class TestPartialReads(CollectorTestCase):
    """Each replica reads in Placement only the hosts it owns."""

    def setUp(self):
        super().setUp()
        self.now = NOW
        for n in range(6):
            self.conn.add_host('h%d' % n, vcpus=8 + n, reserved_cpus=1,
                               cpu_ratio=2.0 + n)
        self.hosts = ['h%d' % n for n in range(6)]

    def collector(self, owned, shared):
        collector = nova_view.NovaCollector(self.conn, self.conf,
                                            clock=lambda: self.now)
        collector.set_partial(
            lambda hosts: {h for h in hosts if h in owned()},
            lambda: shared())
        return collector

    def read(self, collector, full=False):
        self.conn.placement.calls.clear()
        view = collector.read(full=full)
        read = [c[1] for c in self.conn.placement.calls
                if c[0] == 'inventories']
        return view, read

    def rp(self, host):
        return {hv.service_details['host']: hv.id
                for hv in self.conn.compute.hypervisor_list}[host]

    def test_two_replicas_read_disjoint_halves(self):
        whole = nova_view.NovaCollector(self.conn, self.conf,
                                        clock=lambda: self.now)
        full_view, full_read = self.read(whole, full=True)
        halves = ({'h0', 'h1', 'h2'}, {'h3', 'h4', 'h5'})
        shared = [{}, {}]
        a = self.collector(lambda: halves[0], lambda: shared[1])
        b = self.collector(lambda: halves[1], lambda: shared[0])
        # nothing shared yet: a reads every host itself
        _, read = self.read(a)
        self.assertEqual(6, len(read))
        shared[0] = {h: c for h, c in a.own_capacities().items()
                     if h in halves[0]}
        view_b, read_b = self.read(b)
        shared[1] = {h: c for h, c in b.own_capacities().items()
                     if h in halves[1]}
        view_a, read_a = self.read(a, full=True)
        self.assertEqual(sorted(self.rp(h) for h in halves[1]),
                         sorted(read_b))
        self.assertEqual(sorted(self.rp(h) for h in halves[0]),
                         sorted(read_a))
        # together: one full read's inventories, no host read twice
        self.assertEqual(sorted(full_read), sorted(read_a + read_b))
        self.assertEqual((3, 3), (a.last_read.inventories_read,
                                  a.last_read.inventories_shared))
        self.assertEqual(3, a.last_read.calls['inventories'])
        # and the same model as a whole read
        for view in (view_a, view_b):
            self.assertEqual(full_view.to_snapshot()['hosts'],
                             view.to_snapshot()['hosts'])
        # a replica shares only what it read itself
        self.assertEqual(set(halves[0]), set(a.own_capacities()))

    def test_newly_owned_host_read_at_once(self):
        owned = {'h0', 'h1', 'h2'}
        shared = {}
        a = self.collector(lambda: owned, lambda: shared)
        self.read(a)
        # the other replica's hosts, as shared (one with stale values)
        b = nova_view.NovaCollector(self.conn, self.conf,
                                    clock=lambda: self.now)
        b.read(full=True)
        shared.update({h: c for h, c in b.own_capacities().items()
                       if h not in owned})
        shared['h3'] = dataclasses.replace(shared['h3'], vcpus=99)
        view, read = self.read(a, full=True)
        self.assertEqual(sorted(self.rp(h) for h in owned), sorted(read))
        self.assertEqual(99, self.host_row(view, 'h3')['vcpus'])
        # h3 becomes ours: read at the next read, incremental or not,
        # though its generation did not move
        owned.add('h3')
        view, read = self.read(a)
        self.assertEqual('incremental', a.last_read.kind)
        self.assertEqual([self.rp('h3')], read)
        self.assertEqual(11, self.host_row(view, 'h3')['vcpus'])
        # then only when it changes, as any host read here
        view, read = self.read(a)
        self.assertEqual([], read)
        self.assertEqual(11, self.host_row(view, 'h3')['vcpus'])

    def test_host_without_usable_shared_capacity_is_read(self):
        owned = {'h0'}
        b = nova_view.NovaCollector(self.conn, self.conf,
                                    clock=lambda: self.now)
        b.read()
        caps = b.own_capacities()
        # h1: another provider (its compute node was replaced); h2:
        # nothing shared; the rest shared
        shared = {h: caps[h] for h in ('h1', 'h3', 'h4', 'h5')}
        shared['h1'] = dataclasses.replace(shared['h1'], provider='other')
        a = self.collector(lambda: owned, lambda: shared)
        _, read = self.read(a)
        self.assertEqual(sorted(self.rp(h) for h in ('h0', 'h1', 'h2')),
                         sorted(read))
        # shared again later: no longer read, and forgotten, so that it
        # is read again at once when its capacity stops being shared
        shared['h1'] = caps['h1']
        _, read = self.read(a)
        self.assertEqual([], read)
        del shared['h1']
        _, read = self.read(a)
        self.assertEqual([self.rp('h1')], read)

    def test_own_capacities_age_from_the_read(self):
        a = self.collector(lambda: set(self.hosts), lambda: {})
        self.assertEqual({}, a.own_capacities())
        self.read(a)
        self.now += 42
        caps = a.own_capacities()
        self.assertEqual(set(self.hosts), set(caps))
        self.assertEqual(42.0, caps['h2'].age_s)
        self.assertEqual((10, 1, 4.0, self.rp('h2')),
                         (caps['h2'].vcpus, caps['h2'].reserved_host_cpus,
                          caps['h2'].cpu_allocation_ratio,
                          caps['h2'].provider))
