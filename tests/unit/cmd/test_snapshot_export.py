# SPDX-License-Identifier: Apache-2.0
"""``nova-drs snapshot export``: outputs, metrics and every error path.

Nova is faked at the openstacksdk boundary (``clients.connect`` returns a
:class:`tests.unit.balancer.nova_fakes.FakeConnection`); the agents'
metrics go through oslo.messaging's ``fake:/`` driver.
"""

import io
import json
import os
import threading
import time
from unittest import mock

import fixtures
from keystoneauth1 import exceptions as ks_exc
import oslo_messaging
from oslotest import base

from nova_drs.agent import publisher as agent_publisher
from nova_drs.balancer import clients
from nova_drs.cmd import drs
from nova_drs.cmd import snapshot as snapshot_cmd
from nova_drs import config
from nova_drs.model import snapshot as snapshot_mod
from nova_drs.notifications import payload as payload_mod
from tests.unit.balancer import nova_fakes
from tests.unit.balancer import test_host_view as docs

#: before any test patches it
REAL_CONNECT = clients.connect
VM1 = '00000000-0000-0000-0000-0000000000a1'
VM2 = '00000000-0000-0000-0000-0000000000a2'
VM3 = '00000000-0000-0000-0000-0000000000b1'

CLIENT_CONF = """\
[drs_nova]
auth_type = admin_token
endpoint = http://nova.invalid:8774/v2.1
token = admin
"""


def fake_cloud():
    """Two hosts, three servers, one with the opt-out metadata."""
    conn = nova_fakes.FakeConnection()
    conn.add_host('c1', vcpus=16, memory_mb=65536, cpu_ratio=4.0)
    conn.add_host('c2', vcpus=16, memory_mb=65536, cpu_ratio=4.0)
    conn.add_server(VM1, 'c1', vcpus=4, ram=8192)
    conn.add_server(VM2, 'c1', vcpus=2, ram=4096,
                    metadata={'drs:opt_out': 'true'})
    conn.add_server(VM3, 'c2', vcpus=2, ram=2048)
    return conn


class ExportTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))
        self.conn = fake_cloud()
        self.connect = self.useFixture(fixtures.MockPatch(
            'nova_drs.balancer.clients.connect',
            return_value=self.conn)).mock

    def conf_file(self, extra=''):
        path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(CLIENT_CONF + extra)
        return path

    def export(self, *args, conf_extra=''):
        return drs.main(['snapshot', 'export', '--config-file',
                         self.conf_file(conf_extra)] + list(args))

    def assertUsageError(self, rc, *expected):
        err = self.stderr.getvalue()
        self.assertEqual(2, rc, 'exit code; stderr: %s' % err)
        self.assertNotIn('Traceback', err)
        errors = [line for line in err.splitlines()
                  if line.startswith('nova-drs: error: ')]
        self.assertEqual(1, len(errors), err)
        for text in expected:
            self.assertIn(text, errors[0])
        return errors[0]


class TestInventoryOnly(ExportTestCase):

    def test_stdout_is_a_snapshot_plan_reads(self):
        self.assertEqual(0, self.export('--metrics-wait', '0'))
        doc = json.loads(self.stdout.getvalue())
        self.assertEqual(['c1', 'c2'], [h['name'] for h in doc['hosts']])
        self.assertEqual(sorted([VM1, VM2, VM3]),
                         sorted(i['name'] for i in doc['instances']))
        by_name = {i['name']: i for i in doc['instances']}
        # no metrics asked for: nova_view's defaults, nobody disabled
        self.assertEqual(0.0, by_name[VM1]['cpu_util'])
        self.assertEqual(8192, by_name[VM1]['mem_used_mb'])
        self.assertTrue(by_name[VM2]['opt_out'])
        self.assertFalse(any(h['disabled'] for h in doc['hosts']))
        err = self.stderr.getvalue()
        self.assertIn('2 hosts, 3 instances, 0 server groups from Nova',
                      err)
        self.assertNotIn('waiting', err)
        # the file plan reads
        path = os.path.join(self.tmp, 'snap.json')
        with open(path, 'w') as f:
            f.write(self.stdout.getvalue())
        self.assertEqual(2, len(snapshot_mod.load(path).hosts))

    def test_output_file_then_plan(self):
        path = os.path.join(self.tmp, 'out', 'snap.json')
        os.mkdir(os.path.dirname(path))
        self.assertEqual(0, self.export('--metrics-wait', '0', '--output',
                                        path))
        self.assertEqual('', self.stdout.getvalue())
        self.assertIn('wrote %s' % path, self.stderr.getvalue())
        self.assertEqual(['snap.json'], os.listdir(os.path.dirname(path)))
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(0o666 & ~umask, os.stat(path).st_mode & 0o777)
        rc = drs.main(['plan', '--snapshot', path, '--format', 'json'])
        self.assertEqual(0, rc, self.stderr.getvalue())
        plan = json.loads(self.stdout.getvalue())
        self.assertEqual([], plan['migrations'])

    def test_config_is_read_from_files_and_dirs(self):
        conf_dir = os.path.join(self.tmp, 'conf.d')
        os.mkdir(conf_dir)
        with open(os.path.join(conf_dir, 'opt.conf'), 'w') as f:
            f.write('[drs_balancer]\nopt_out_metadata_key = keep\n')
        self.conn.compute.servers_by_id[VM3].metadata = {'keep': 'yes'}
        rc = self.export('--metrics-wait', '0', '--config-dir', conf_dir)
        self.assertEqual(0, rc, self.stderr.getvalue())
        by_name = {i['name']: i for i in
                   json.loads(self.stdout.getvalue())['instances']}
        self.assertTrue(by_name[VM3]['opt_out'])
        self.assertFalse(by_name[VM2].get('opt_out', False))
        self.connect.assert_called_once()


class TestErrors(ExportTestCase):
    """One line on stderr naming the problem, exit code 2, no traceback."""

    def test_missing_config_file(self):
        path = os.path.join(self.tmp, 'nothere.conf')
        rc = drs.main(['snapshot', 'export', '--config-file', path])
        self.assertUsageError(rc, 'cannot read configuration', path)
        self.connect.assert_not_called()

    def test_invalid_option_value(self):
        rc = self.export(conf_extra='[drs_listener]\nstale_after = soon\n')
        self.assertUsageError(rc, '[drs_listener] stale_after')
        self.connect.assert_not_called()

    def test_bad_metrics_wait(self):
        for value in ('-1', 'soon', '7200'):
            self.stderr.truncate(0)
            self.stderr.seek(0)
            self.assertUsageError(self.export('--metrics-wait', value),
                                  '--metrics-wait')

    def test_no_subcommand(self):
        self.assertUsageError(drs.main(['snapshot']), 'COMMAND')

    def test_without_drs_nova_at_all(self):
        self.useFixture(fixtures.MockPatch(
            'nova_drs.balancer.clients.connect', REAL_CONNECT))
        path = os.path.join(self.tmp, 'empty.conf')
        open(path, 'w').close()
        rc = drs.main(['snapshot', 'export', '--metrics-wait', '0',
                       '--config-file', path])
        self.assertUsageError(rc, '[drs_nova] auth_type is not set')

    def fail_nova(self, error):
        self.conn.compute.services = mock.Mock(side_effect=error)
        return self.export('--metrics-wait', '0')

    def test_nova_unreachable(self):
        rc = self.fail_nova(ks_exc.ConnectFailure(
            'Unable to establish connection to http://nova:8774/v2.1/'
            'os-services: HTTPConnectionPool(host=...): Max retries'))
        line = self.assertUsageError(rc, 'cannot reach Nova',
                                     'http://nova:8774/v2.1/os-services')
        self.assertNotIn('HTTPConnectionPool', line)

    def test_keystone_refuses(self):
        self.assertUsageError(self.fail_nova(ks_exc.Unauthorized(
            'The request you have made requires authentication.')),
            'authentication refused', '[drs_nova]')

    def test_nova_refuses_the_token(self):
        self.assertUsageError(self.fail_nova(nova_fakes.http_error(
            401, 'bad token')), 'authentication refused')

    def test_not_admin(self):
        self.assertUsageError(self.fail_nova(nova_fakes.http_error(
            403, 'Policy doesn\'t allow os_compute_api:os-services:list')),
            'permission denied', 'admin role')

    def test_nova_error(self):
        self.assertUsageError(self.fail_nova(nova_fakes.http_error(
            500, 'boom')), 'Nova or Placement answered with an error')

    def test_output_directory_missing(self):
        path = os.path.join(self.tmp, 'no', 'snap.json')
        self.assertUsageError(self.export('--output', path), path,
                              'No such file or directory')
        self.connect.assert_not_called()

    def test_output_is_a_directory(self):
        self.assertUsageError(self.export('--output', self.tmp),
                              'is a directory')

    def test_output_not_writable(self):
        target = os.path.join(self.tmp, 'ro')
        os.mkdir(target)
        os.chmod(target, 0o500)
        self.addCleanup(os.chmod, target, 0o700)
        if os.access(target, os.W_OK):
            self.skipTest('running as root: permissions are not enforced')
        self.assertUsageError(self.export('--output', os.path.join(
            target, 'snap.json')), 'cannot write')

    def test_failure_keeps_the_old_output_and_leaves_nothing(self):
        path = os.path.join(self.tmp, 'snap.json')
        with open(path, 'w') as f:
            f.write('old')
        rc = self.fail_nova(ks_exc.ConnectFailure('down'))
        self.assertEqual(2, rc)
        self.connect.reset_mock()
        rc = self.export('--metrics-wait', '0', '--output', path)
        self.assertEqual(2, rc)
        with open(path) as f:
            self.assertEqual('old', f.read())
        self.assertEqual(sorted(['snap.json', 'nova-drs.conf']),
                         sorted(os.listdir(self.tmp)))

    def test_a_bug_is_one_line_and_debug_shows_the_traceback(self):
        self.conn.compute.services = mock.Mock(
            side_effect=KeyError('surprise'))
        self.assertUsageError(self.export('--metrics-wait', '0'),
                              'export failed: KeyError', '--debug')
        self.stderr.truncate(0)
        self.stderr.seek(0)
        rc = self.export('--metrics-wait', '0', '--debug')
        self.assertEqual(2, rc)
        err = self.stderr.getvalue()
        self.assertIn('Traceback', err)
        self.assertIn("KeyError: 'surprise'", err)
        self.assertTrue(err.rstrip().splitlines()[-1].startswith(
            'nova-drs: error: export failed'))

    def test_broker_that_never_answers(self):
        # the listener's start blocks as oslo.messaging's does when the
        # broker is unreachable
        release = threading.Event()
        self.addCleanup(release.set)
        self.useFixture(fixtures.MockPatch(
            'nova_drs.balancer.intake.listener.MetricsListener.start',
            side_effect=lambda: release.wait(30)))
        self.useFixture(fixtures.MockPatch(
            'nova_drs.cmd.snapshot.BROKER_TIMEOUT', 0.2))
        rc = self.export('--metrics-wait', '5',
                         conf_extra='[DEFAULT]\ntransport_url = '
                                    'rabbit://u:secret@broker:5672/\n')
        line = self.assertUsageError(rc, 'did not answer within 0.2 s',
                                     'rabbit://broker:5672/',
                                     '--metrics-wait 0')
        self.assertNotIn('secret', line)
        self.connect.assert_not_called()

    def test_bad_transport_url(self):
        rc = self.export('--metrics-wait', '1',
                         conf_extra='[DEFAULT]\ntransport_url = nope:/\n')
        self.assertUsageError(rc, 'cannot listen to the agents\' metrics')


class TestWithMetrics(ExportTestCase):
    """Metrics from a fake agent through oslo.messaging's fake:/ driver."""

    CONF = ('[DEFAULT]\ntransport_url = fake:/\n'
            '[drs_listener]\nbatch_timeout = 0.05\n')

    def agent(self, host, guests, stop, **fields):
        """Publish ``host``'s metrics every 50 ms until ``stop`` is set.

        ``fields``: more arguments of ``metrics_doc`` (load, hotspot...).
        """
        conf = config.load()
        transport = oslo_messaging.get_notification_transport(
            conf, url='fake:/')
        self.addCleanup(transport.cleanup)
        notifier = oslo_messaging.Notifier(
            transport, publisher_id='%s:%s' % (agent_publisher.BINARY,
                                               host),
            driver='messagingv2', topics=['drs_notifications'])

        def run():
            while not stop.is_set():
                notifier.sample({}, payload_mod.METRICS_EVENT,
                                docs.metrics_doc(host, at=time.time(),
                                                 guests=guests, **fields))
                stop.wait(0.05)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(stop.set)

    def test_loads_and_stale_hosts(self):
        stop = threading.Event()
        # c1's agent: 8 of its 16 cores and 16,384 MiB in use, and its
        # own CPU threshold of 0.45: it flags the host hot
        self.agent('c1', [docs.guest_doc(VM1, cpu=0.75, mem=6000.0),
                          docs.guest_doc(VM2, cpu=0.25, mem=1000.0)], stop,
                   load=(0.5, 0.25, 0.0, 0.0), hotspot=('cpu',),
                   thresholds=(0.45, 0.9, 0.9, 0.9))
        started = time.monotonic()
        rc = self.export('--metrics-wait', '1.5', conf_extra=self.CONF)
        stop.set()
        self.assertEqual(0, rc, self.stderr.getvalue())
        # c2 never reports: the whole wait was needed
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        doc = json.loads(self.stdout.getvalue())
        hosts = {h['name']: h for h in doc['hosts']}
        self.assertFalse(hosts['c1']['disabled'])
        self.assertTrue(hosts['c2']['disabled'])
        by_name = {i['name']: i for i in doc['instances']}
        self.assertEqual(75.0, by_name[VM1]['cpu_util'])
        self.assertEqual(6000.0, by_name[VM1]['mem_used_mb'])
        self.assertEqual(3.0, by_name[VM1]['disk_mb_s'])
        # the measured state, as the balancer holds it: the agent's flags
        # and thresholds, and what the host uses beside its guests (3.5
        # cores, 7,000 MiB)
        self.assertEqual(
            (['cpu'], {'cpu': 0.45, 'memory': 0.9, 'disk': 0.9,
                       'network': 0.9},
             {'cpu': 4.5, 'memory': 9384.0, 'disk': 0.0, 'network': 0.0}),
            (hosts['c1']['hot'], hosts['c1']['thresholds'],
             hosts['c1']['base_load']))
        # the silent host: no flag, the configured thresholds
        self.assertEqual(([], 0.85), (hosts['c2']['hot'],
                                      hosts['c2']['thresholds']['cpu']))
        self.assertNotIn('base_load', hosts['c2'])
        # VM3 is on the silent host: kept, but not to be moved
        self.assertTrue(by_name[VM3]['opt_out'])
        self.assertEqual(0.0, by_name[VM3]['cpu_util'])
        err = self.stderr.getvalue()
        self.assertIn('waiting up to 2 s for agent metrics', err)
        self.assertIn('1 of 2 hosts reported', err)
        self.assertIn('marked disabled (their instances opted out): c2',
                      err)
        self.assertIn('loads of 2 instances from metrics, 1 without', err)

    def test_returns_as_soon_as_every_host_reported(self):
        stop = threading.Event()
        self.agent('c1', [docs.guest_doc(VM1)], stop)
        self.agent('c2', [docs.guest_doc(VM3, cpu=0.5)], stop)
        started = time.monotonic()
        rc = self.export('--metrics-wait', '60', conf_extra=self.CONF)
        stop.set()
        self.assertEqual(0, rc, self.stderr.getvalue())
        self.assertLess(time.monotonic() - started, 30)
        doc = json.loads(self.stdout.getvalue())
        self.assertFalse(any(h['disabled'] for h in doc['hosts']))
        self.assertIn('2 of 2 hosts reported', self.stderr.getvalue())

    def test_own_pool_and_no_drain(self):
        made = []
        real = snapshot_cmd.MetricsGatherer

        def gatherer(conf):
            made.append(real(conf))
            return made[-1]
        self.useFixture(fixtures.MockPatch(
            'nova_drs.cmd.snapshot.MetricsGatherer', side_effect=gatherer))
        rc = self.export('--metrics-wait', '0.2',
                         conf_extra=self.CONF + 'pool = shared\n')
        self.assertEqual(0, rc, self.stderr.getvalue())
        listener = made[0].listener
        # not the configured pool, nor the default queue
        self.assertRegex(listener.queue,
                         r'^drs-balancer-export-[0-9a-f-]{36}$')
        # and no drain of the default queue a balancer may be reading
        self.assertFalse(made[0].conf.drs_listener.drain_default_queue)
        self.assertEqual([], listener._servers)

    def test_nova_failure_stops_the_listener(self):
        stopped = []
        self.useFixture(fixtures.MockPatch(
            'nova_drs.cmd.snapshot.MetricsGatherer.stop',
            side_effect=lambda: stopped.append(True)))
        self.conn.compute.services = mock.Mock(
            side_effect=ks_exc.ConnectFailure('down'))
        rc = self.export('--metrics-wait', '5', conf_extra=self.CONF)
        self.assertUsageError(rc, 'cannot reach Nova')
        self.assertEqual([True], stopped)


class TestQueueDeletion(base.BaseTestCase):

    def test_not_rabbit_is_nothing_to_do(self):
        conf = config.load()
        oslo_messaging.get_notification_transport(conf, url='fake:/')
        conf.set_override('transport_url', 'fake:/')
        self.assertIsNone(snapshot_cmd.delete_queue(conf, 'q'))

    def test_unreachable_broker_is_reported_not_raised(self):
        conf = config.load()
        oslo_messaging.get_notification_transport(conf, url='fake:/')
        conf.set_override('transport_url', 'rabbit://u:p@127.0.0.1:1/')
        why = snapshot_cmd.delete_queue(conf, 'q')
        self.assertIsNotNone(why)
