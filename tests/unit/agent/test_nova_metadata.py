# SPDX-License-Identifier: Apache-2.0
"""Balloon floors from Nova server metadata, with the sdk faked at the
Connection boundary."""

import os
import sys
import threading
from unittest import mock

import fixtures
from keystoneauth1 import exceptions as ks_exc
from openstack.compute.v2 import server as sdk_server
from openstack import exceptions as sdk_exc
from oslotest import base

from nova_drs import agent
from nova_drs.agent import nova_metadata
from nova_drs.agent import service
from nova_drs.cmd import agent as agent_cmd
from nova_drs import config
from tests import polling
from tests.unit.agent import fakes
from tests.unit.agent import test_manager
from tests.unit import clusters
from tests.unit import fake_time

HOST = 'compute-1'
KEY = 'drs:balloon_floor_mb'
LOGGER = 'nova_drs.agent.nova_metadata'
UUID_A = test_manager.UUID_A
UUID_B = '00000000-0000-0000-0000-00000000000b'
UUID_C = '00000000-0000-0000-0000-00000000000c'
UUID_D = '00000000-0000-0000-0000-00000000000d'
#: seconds a test waits for a thread at most
BOUND = 10


def http_error(cls, message, status):
    """An openstacksdk HTTP error, as raised for a response ``status``."""
    error = cls(message=message)
    error.status_code = status
    return error


class FakeServer:
    """The attributes of an openstacksdk Server the reader reads."""

    def __init__(self, uuid, floor=None, compute_host=HOST, metadata=None):
        self.id = uuid
        self.compute_host = compute_host
        self.metadata = dict(metadata or {})
        if floor is not None:
            self.metadata[KEY] = floor


class FakeCompute:
    def __init__(self):
        #: what servers() returns
        self.listed = []
        #: what get_server() finds, by id
        self.servers_by_id = {}
        #: raised by the next calls while set
        self.error = None
        self.calls = []

    def servers(self, **query):
        self.calls.append(('servers', query))
        if self.error:
            raise self.error
        # openstacksdk's own check: unknown query parameters fail
        sdk_server.Server._query_mapping._validate(
            {k: v for k, v in query.items() if k != 'details'})
        return iter(list(self.listed))

    def get_server(self, uuid):
        self.calls.append(('get_server', uuid))
        if self.error:
            raise self.error
        try:
            return self.servers_by_id[uuid]
        except KeyError:
            raise sdk_exc.NotFoundException(
                message='No Server found for %s' % uuid) from None

    def of(self, name):
        return [c for c in self.calls if c[0] == name]


class FakeConnection:
    def __init__(self):
        self.compute = FakeCompute()


def make_conf(**overrides):
    values = {'drs_agent__host': HOST, 'drs_agent__nova_metadata': True}
    values.update(overrides)
    return clusters.conf(**values)


class ReaderTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conn = FakeConnection()
        self.compute = self.conn.compute
        self.connects = 0
        self.conf = make_conf()

    def connect(self, conf):
        self.connects += 1
        return self.conn

    def reader(self, conf=None):
        return nova_metadata.NovaMetadataReader(
            conf or self.conf, connect=self.connect)


class TestFloors(ReaderTestCase):

    def test_floors_read_from_the_host_listing(self):
        self.compute.listed = [FakeServer(UUID_A, '2048'),
                               FakeServer(UUID_B, '1536.5'),
                               FakeServer(UUID_C)]
        reader = self.reader()
        self.assertEqual({}, reader.floors())
        self.assertTrue(reader.refresh())
        self.assertEqual({UUID_A: 2048.0, UUID_B: 1536.5}, reader.floors())
        self.assertEqual(
            [('servers', {'details': True, 'all_projects': True,
                          'compute_host': HOST})], self.compute.calls)
        self.assertEqual(1, reader.listings)

    def test_host_and_key_from_the_configuration(self):
        self.conf = make_conf(drs_agent__host='other-host',
                              drs_balloon__floor_metadata_key='floor')
        self.compute.listed = [
            FakeServer(UUID_A, '2048', compute_host='other-host',
                       metadata={'floor': '512'})]
        reader = self.reader()
        reader.refresh()
        self.assertEqual({UUID_A: 512.0}, reader.floors())
        self.assertEqual('other-host',
                         self.compute.calls[0][1]['compute_host'])
        self.assertEqual(300, reader.interval)

    def test_the_sdk_sends_nova_s_host_filter(self):
        # compute_host is the sdk's name of Nova's ?host= filter
        self.assertEqual(
            {'host': HOST, 'all_tenants': True},
            sdk_server.Server._query_mapping._transpose(
                {'details': True, 'all_projects': True,
                 'compute_host': HOST}, sdk_server.Server))

    def test_listing_replaces_the_map(self):
        self.compute.listed = [FakeServer(UUID_A, '2048'),
                               FakeServer(UUID_B, '1024')]
        reader = self.reader()
        reader.refresh()
        first = reader.floors()
        self.compute.listed = [FakeServer(UUID_A, '4096'),
                               FakeServer(UUID_B)]
        reader.refresh()
        self.assertEqual({UUID_A: 4096.0}, reader.floors())
        # the map handed out before is never changed
        self.assertEqual({UUID_A: 2048.0, UUID_B: 1024.0}, first)

    def test_bad_values_ignored_with_one_log_per_listing(self):
        self.compute.listed = [
            FakeServer(UUID_A, 'abc'), FakeServer(UUID_B, '-5'),
            FakeServer(UUID_C, 'nan'), FakeServer(UUID_D, '512')]
        reader = self.reader()
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            reader.refresh()
        self.assertEqual({UUID_D: 512.0}, reader.floors())
        self.assertEqual(3, len(logs.records))
        text = '\n'.join(logs.output)
        self.assertIn("drs:balloon_floor_mb='abc' of server %s" % UUID_A,
                      text)
        self.assertIn("'-5' of server %s" % UUID_B, text)
        self.assertIn("'nan' of server %s" % UUID_C, text)
        # looked up again before the next listing: not logged again
        self.compute.servers_by_id[UUID_A] = FakeServer(UUID_A, 'abc')
        with self.assertLogs(LOGGER, 'DEBUG') as logs:
            reader.lookup([UUID_A])
        self.assertEqual([], [r for r in logs.records
                              if r.levelname == 'WARNING'])
        # logged again at the next listing (once per interval)
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            reader.refresh()
        self.assertEqual(3, len(logs.records))

    def test_parse_floor(self):
        self.assertEqual(2048.0, nova_metadata.parse_floor('2048'))
        self.assertEqual(0.0, nova_metadata.parse_floor(' 0 '))
        for bad in ('abc', '-1', 'inf', 'nan', '', '2G'):
            self.assertRaises(ValueError, nova_metadata.parse_floor, bad)

    def test_servers_of_other_hosts_are_ignored(self):
        # Nova drops the host filter silently for a user its policy does
        # not allow to use it
        self.compute.listed = [
            FakeServer(UUID_A, '2048'),
            FakeServer(UUID_B, '1024', compute_host='compute-2'),
            FakeServer(UUID_C, '1024', compute_host='compute-3')]
        reader = self.reader()
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            reader.refresh()
        self.assertEqual({UUID_A: 2048.0}, reader.floors())
        (record,) = logs.records
        self.assertIn('2 servers of other hosts', record.getMessage())
        self.assertIn('allow_all_filters', record.getMessage())


class TestNovaErrors(ReaderTestCase):

    def test_errors_keep_the_last_map(self):
        self.compute.listed = [FakeServer(UUID_A, '2048')]
        reader = self.reader()
        reader.refresh()
        for error in (http_error(sdk_exc.HttpException,
                                 'Service Unavailable', 503),
                      ks_exc.ConnectFailure('Unable to establish connection'),
                      ks_exc.Unauthorized(),
                      http_error(sdk_exc.ForbiddenException,
                                 'Policy does not allow', 403)):
            self.compute.error = error
            with self.assertLogs(LOGGER, 'WARNING') as logs:
                self.assertFalse(reader.refresh())
            self.assertEqual({UUID_A: 2048.0}, reader.floors())
            (record,) = logs.records
            self.assertIn('keeping the last ones known', record.getMessage())
            self.assertIn(type(error).__name__, record.getMessage())
        self.assertEqual(4, reader.failures)
        self.compute.error = None
        self.compute.listed = [FakeServer(UUID_A, '1024')]
        with self.assertLogs(LOGGER, 'INFO') as logs:
            self.assertTrue(reader.refresh())
        self.assertIn('read from Nova again', logs.output[0])
        self.assertEqual({UUID_A: 1024.0}, reader.floors())

    def test_one_log_per_distinct_error_between_listings(self):
        reader = self.reader()
        reader.refresh()
        self.compute.error = ks_exc.ConnectFailure('refused')
        with self.assertLogs(LOGGER, 'DEBUG') as logs:
            reader.refresh()
            for uuid in (UUID_A, UUID_B, UUID_C):
                reader.floors([uuid])
                reader.lookup([uuid])
            self.compute.error = http_error(sdk_exc.HttpException, 'x',
                                            500)
            reader.lookup([UUID_D])
            reader.lookup([UUID_D])
        warnings = [r.getMessage() for r in logs.records
                    if r.levelname == 'WARNING']
        self.assertEqual(2, len(warnings), warnings)
        self.assertIn('ConnectFailure', warnings[0])
        self.assertIn('HttpException', warnings[1])

    def test_connection_errors_are_retried_at_the_next_listing(self):
        def broken(conf):
            self.connects += 1
            raise nova_metadata.ConfigError('[drs_nova] auth_type is not set')
        reader = nova_metadata.NovaMetadataReader(self.conf, connect=broken)
        with self.assertLogs(LOGGER, 'WARNING'):
            self.assertFalse(reader.refresh())
        self.assertFalse(reader.refresh())
        self.assertEqual(2, self.connects)
        self.assertEqual({}, reader.floors())


class TestSchedule(ReaderTestCase):

    def run_listings(self, reader, count, effect=None):
        """Run the reader on a fake clock for ``count`` listings.

        :param effect: called with the listing's number (from 1) first
        :returns: the times of the listings, from the start
        """
        clock = self.useFixture(fake_time.FakeTime())
        real = self.compute.servers
        times = []

        def servers(**query):
            times.append(clock.now)
            if effect is not None:
                effect(len(times))
            if len(times) == count:
                reader._runner.stop()
            return real(**query)
        self.compute.servers = servers
        self.addCleanup(reader.stop)
        reader.start()
        self.assertTrue(reader._runner.wait(BOUND))
        return times

    def test_interval_respected(self):
        self.compute.listed = [FakeServer(UUID_A, '2048')]
        reader = self.reader()

        def effect(n):
            # a failed listing is not retried before the interval either
            self.compute.error = (ks_exc.ConnectFailure('refused')
                                  if n == 2 else None)
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            times = self.run_listings(reader, 4, effect)
        self.assertEqual([0.0, 300.0, 600.0, 900.0], times)
        self.assertEqual(3, reader.listings)
        self.assertEqual(1, reader.failures)
        self.assertEqual(1, len(logs.records))
        self.assertEqual(1, self.connects)

    def test_configured_interval(self):
        reader = self.reader(make_conf(drs_agent__nova_metadata_interval=60))
        self.assertEqual([0.0, 60.0], self.run_listings(reader, 2))
        self.assertRaises(ValueError, self.conf.set_override,
                          'nova_metadata_interval', 10, 'drs_agent')

    # NOTE: below, list_and_look_up() is what the reader's thread runs
    # every interval, look_up_wanted() what floors() queues behind it

    def test_unlisted_guests_looked_up_once_between_listings(self):
        self.compute.listed = [FakeServer(UUID_A, '2048')]
        # being migrated in: Nova still places it on its source host
        self.compute.servers_by_id[UUID_B] = FakeServer(
            UUID_B, '1024', compute_host='compute-2')
        reader = self.reader()
        reader.list_and_look_up()
        self.assertEqual({UUID_A: 2048.0},
                         reader.floors([UUID_A, UUID_B, UUID_C]))
        reader.look_up_wanted()
        self.assertEqual([('get_server', UUID_B), ('get_server', UUID_C)],
                         self.compute.of('get_server'))
        self.assertEqual({UUID_A: 2048.0, UUID_B: 1024.0},
                         reader.floors([UUID_A, UUID_B, UUID_C]))
        reader.look_up_wanted()
        # not again (UUID_C is not a Nova server: not found)
        self.assertEqual(2, len(self.compute.of('get_server')))
        # the next listing does not list UUID_B yet: it keeps its floor
        # and is looked up again
        reader.list_and_look_up()
        self.assertEqual({UUID_A: 2048.0, UUID_B: 1024.0},
                         reader.floors([UUID_A, UUID_B]))
        reader.look_up_wanted()
        self.assertEqual(3, len(self.compute.of('get_server')))
        # migrated: listed, and its metadata changed
        self.compute.listed.append(FakeServer(UUID_B, '768'))
        reader.list_and_look_up()
        self.assertEqual({UUID_A: 2048.0, UUID_B: 768.0},
                         reader.floors([UUID_A, UUID_B]))
        reader.look_up_wanted()
        self.assertEqual(3, len(self.compute.of('get_server')))

    def test_guests_seen_before_the_first_listing(self):
        # the cycle may run before the thread has listed anything
        self.compute.listed = [FakeServer(UUID_A, '2048')]
        reader = self.reader()
        self.assertEqual({}, reader.floors([UUID_A, UUID_B]))
        reader.list_and_look_up()
        self.assertEqual([('get_server', UUID_B)],
                         self.compute.of('get_server'))
        self.assertEqual({UUID_A: 2048.0}, reader.floors([UUID_A, UUID_B]))

    def test_guests_gone_are_dropped_at_the_next_listing(self):
        self.compute.servers_by_id[UUID_B] = FakeServer(UUID_B, '1024')
        reader = self.reader()
        reader.list_and_look_up()
        reader.floors([UUID_B])
        reader.look_up_wanted()
        self.assertEqual({UUID_B: 1024.0}, reader.floors([]))
        reader.list_and_look_up()
        self.assertEqual({}, reader.floors([]))

    def test_background_thread(self):
        self.compute.listed = [FakeServer(UUID_A, '2048')]
        self.compute.servers_by_id[UUID_B] = FakeServer(UUID_B, '1024')
        reader = nova_metadata.NovaMetadataReader(self.conf,
                                                  connect=self.connect)
        reader.start()
        self.addCleanup(reader.stop)
        polling.wait_for(lambda: reader.listings, BOUND, 'the listing')
        self.assertEqual({UUID_A: 2048.0}, reader.floors([UUID_A, UUID_B]))
        # an unlisted guest is looked up at once, not at the next listing
        polling.wait_for(lambda: len(reader.floors([UUID_A, UUID_B])) == 2,
                         BOUND, 'the lookup')
        self.assertEqual(1, reader.listings)
        reader.stop()
        self.assertFalse(any(t.name.startswith('nova-metadata')
                             for t in threading.enumerate()))

    def test_the_thread_survives_a_bug(self):
        clock = self.useFixture(fake_time.FakeTime())
        reader = self.reader()
        times = []

        def list_and_look_up():
            times.append(clock.now)
            if len(times) == 1:
                raise RuntimeError('boom')
            reader._runner.stop()
        reader.list_and_look_up = list_and_look_up
        self.addCleanup(reader.stop)
        with self.assertLogs('nova_drs.periodic', 'ERROR') as logs:
            reader.start()
            self.assertTrue(reader._runner.wait(BOUND))
        self.assertEqual([0.0, 300.0], times)
        self.assertIn('RuntimeError: boom', logs.output[0])


class TestManager(test_manager.ManagerTestCase):
    """The agent's cycle with floors from Nova."""

    def setUp(self):
        super().setUp()
        self.nova = FakeConnection()
        self.nova.compute.listed = [FakeServer(UUID_A, '3072')]
        self.conf.set_override('nova_metadata', True, 'drs_agent')

    def make(self, **kwargs):
        self.reader = nova_metadata.NovaMetadataReader(
            self.conf, connect=lambda conf: self.nova)
        self.reader.refresh()
        self.reader.start = mock.Mock()
        self.useFixture(fixtures.MockPatch(
            'nova_drs.agent.nova_metadata.NovaMetadataReader.from_conf',
            return_value=self.reader))
        return super().make()

    def test_floor_from_nova(self):
        agent = self.make()
        self.assertIs(self.reader, agent.nova_metadata)
        self.reader.start.assert_called_once_with()
        p = agent.run_cycle()
        self.assertEqual(3072.0, p['guests'][0]['balloon']['floor_mb'])
        # the inspector's cached configuration is left alone
        config = agent.inspector._configs[UUID_A]
        self.assertIsNone(config.floor_mb)
        # the same merged configuration while nothing changes
        merged = agent._floor_configs[UUID_A][2]
        agent.run_cycle()
        self.assertIs(merged, agent._floor_configs[UUID_A][2])

    def test_the_policy_uses_it(self):
        # host short of memory: a guest is shrunk to its floor at most
        self.host.available = 0
        self.conf.set_override('shrink_step', 1.0, 'drs_balloon')
        self.dom.stats = fakes.guest_stats(usable=3 * fakes.GIB_KIB,
                                           unused=3 * fakes.GIB_KIB,
                                           rss=4 * fakes.GIB_KIB)
        agent = self.make()
        p = agent.run_cycle()
        self.assertEqual('shrink', p['guests'][0]['balloon']['action'])
        self.assertEqual(3072.0, p['guests'][0]['balloon']['target_mb'])

    def test_libvirt_floor_wins(self):
        self.dom.xml = fakes.domain_xml('instance-a', floor_mb=1024)
        agent = self.make()
        p = agent.run_cycle()
        self.assertEqual(1024.0, p['guests'][0]['balloon']['floor_mb'])

    def test_floor_changes_in_nova(self):
        agent = self.make()
        agent.run_cycle()
        self.nova.compute.listed = [FakeServer(UUID_A)]
        self.reader.refresh()
        p = agent.run_cycle()
        self.assertIsNone(p['guests'][0]['balloon']['floor_mb'])
        self.assertEqual({}, agent._floor_configs)

    def test_nova_down_does_not_stop_the_cycle(self):
        agent = self.make()
        self.nova.compute.error = ks_exc.ConnectFailure('refused')
        with self.assertLogs(LOGGER, 'WARNING'):
            self.reader.refresh()
        p = agent.run_cycle()
        self.assertEqual(3072.0, p['guests'][0]['balloon']['floor_mb'])

    def test_stop_stops_the_reader(self):
        agent = self.make()
        with mock.patch.object(self.reader, 'stop') as stop:
            agent.stop()
        stop.assert_called_once_with()

    def test_off_by_default(self):
        self.conf.set_override('nova_metadata', False, 'drs_agent')
        agent = super().make()
        self.assertIsNone(agent.nova_metadata)
        p = agent.run_cycle()
        self.assertIsNone(p['guests'][0]['balloon']['floor_mb'])


class TestConfiguration(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def write(self, text):
        path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return path

    def agent_conf(self, text):
        return config.load([self.write(text)], groups=agent_cmd.CONF_GROUPS)

    def test_defaults(self):
        conf = config.load()
        self.assertFalse(conf.drs_agent.nova_metadata)
        self.assertEqual(300, conf.drs_agent.nova_metadata_interval)

    def test_agent_registers_drs_nova_only_when_on(self):
        conf = self.agent_conf('[drs_nova]\nauth_type = admin_token\n')
        self.assertNotIn('drs_nova', conf)
        conf = self.agent_conf('[drs_agent]\nnova_metadata = true\n'
                               '[drs_nova]\nauth_type = admin_token\n'
                               'endpoint = http://nova:8774/v2.1\n'
                               'token = t\ntimeout = 30\n')
        agent_cmd.check_nova_metadata(conf)
        # registered after the files were read, yet read from them
        self.assertEqual('admin_token', conf.drs_nova.auth_type)
        self.assertEqual(30.0, conf.drs_nova.timeout)
        self.assertEqual('http://nova:8774/v2.1', conf.drs_nova.endpoint)

    def test_bad_values(self):
        for text, message in (
                ('[drs_agent]\nnova_metadata_interval = 10\n',
                 '[drs_agent] nova_metadata_interval'),
                ('[drs_agent]\nnova_metadata = maybe\n',
                 '[drs_agent] nova_metadata')):
            e = self.assertRaises(config.ConfigError, self.agent_conf, text)
            self.assertIn(message, str(e))

    def test_check_nova_metadata(self):
        for text, message in (
                ('', 'nova_metadata needs the credentials of [drs_nova]'),
                ('[drs_nova]\nauth_type = no-such-plugin\n',
                 'cannot load the auth plugin'),
                ('[drs_nova]\nauth_type = admin_token\ntimeout = 0\n',
                 '[drs_nova] timeout')):
            conf = self.agent_conf('[drs_agent]\nnova_metadata = true\n'
                                   + text)
            e = self.assertRaises(config.ConfigError,
                                  agent_cmd.check_nova_metadata, conf)
            self.assertIn(message, str(e))

    def test_connect(self):
        conf = self.agent_conf('[drs_agent]\nnova_metadata = true\n'
                               '[drs_nova]\nauth_type = admin_token\n'
                               'endpoint = http://127.0.0.1:8774/v2.1\n'
                               'token = admin\nregion_name = r1\n')
        nova_metadata.register_opts(conf)
        conn = nova_metadata.connect(conf)
        self.assertEqual('http://127.0.0.1:8774/v2.1',
                         conn.session.get_endpoint(service_type='compute'))
        self.assertEqual('r1', conn.config.get_region_name('compute'))

    def test_connect_without_credentials(self):
        conf = self.agent_conf('[drs_agent]\nnova_metadata = true\n')
        nova_metadata.register_opts(conf)
        self.assertRaises(nova_metadata.ConfigError, nova_metadata.connect,
                          conf)


class TestMain(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(agent,
                                                 'use_native_threads'))
        self.useFixture(fixtures.MockPatch(
            'nova_drs.agent.inspector.LibvirtInspector.check_available'))
        self.run = self.useFixture(fixtures.MockPatchObject(service,
                                                            'run')).mock

    def conf_file(self, text):
        return self.create_tempfiles([('agent', text)], ext='.conf')[0]

    def test_without_credentials(self):
        path = self.conf_file('[drs_agent]\nnova_metadata = true\n')
        with mock.patch.object(sys, 'stderr') as stderr:
            self.assertEqual(2, agent_cmd.main(['--config-file', path]))
        self.assertIn('[drs_agent] nova_metadata needs the credentials',
                      ''.join(c.args[0] for c in stderr.write.mock_calls))
        self.run.assert_not_called()

    def test_with_credentials(self):
        path = self.conf_file('[drs_agent]\nnova_metadata = true\n'
                              '[drs_nova]\nauth_type = admin_token\n'
                              'endpoint = http://127.0.0.1:8774/v2.1\n'
                              'token = admin\n')
        self.assertEqual(0, agent_cmd.main(['--config-file', path]))
        conf = self.run.call_args[0][0]
        self.assertEqual('admin', conf.drs_nova.token)

    def test_off(self):
        self.assertEqual(0, agent_cmd.main([]))
        self.assertNotIn('drs_nova', self.run.call_args[0][0])
