# SPDX-License-Identifier: Apache-2.0
"""``nova-drs snapshot export`` against the Nova lab, as a real command.

The command runs in a subprocess (the installed ``nova-drs`` entry point's
module), reads the lab's Nova and Placement through ``[drs_nova]`` and
``[drs_placement]``, and, in the second test, the metrics that agents
(the agent's own publisher, driven by the test) send to RabbitMQ
(``NOVA_DRS_TRANSPORT_URL``, default ``rabbit://guest:guest@127.0.0.1:
5672/``) on a topic of the test's own. The export's file is then planned
with ``nova-drs plan --snapshot``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid

import fixtures
import kombu

from nova_drs.agent import publisher
from nova_drs import config
from nova_drs.notifications import payload as payload_mod
from tests.functional.agent import lab as agent_lab
from tests.functional import broker
from tests.functional.nova import fixtures as nova_fixtures
from tests.unit.balancer import test_host_view as docs

HOSTS = nova_fixtures.HOSTS


def nova_drs_command():
    """The installed ``nova-drs`` console script, next to this Python."""
    path = os.path.join(os.path.dirname(sys.executable), 'nova-drs')
    return path if os.path.exists(path) else shutil.which('nova-drs')


def run_cli(*args, timeout=120):
    """``nova-drs ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    command = nova_drs_command()
    assert command, 'nova-drs is not installed (pip install -e .)'
    proc = subprocess.run(
        [command] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=timeout, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def queue_exists(transport_url, name):
    url = transport_url.split('://', 1)[1]
    creds, _, rest = url.rpartition('@')
    user, _, password = creds.partition(':')
    hostport, _, vhost = rest.partition('/')
    host, _, port = hostport.partition(':')
    with kombu.Connection(hostname=host, port=int(port or 5672),
                          userid=user or 'guest',
                          password=password or 'guest',
                          virtual_host=vhost or '/',
                          connect_timeout=5) as conn:
        try:
            conn.channel().queue_declare(name, passive=True)
        except conn.channel_errors:
            return False
    return True


class ExportTestCase(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.output = os.path.join(self.tmp, 'snapshot.json')

    def conf_file(self, extra=''):
        path = os.path.join(self.tmp, 'export.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(nova_fixtures.CLIENT_CONF + extra)
        return path

    def export(self, conf_path, *args):
        rc, out, err = run_cli('snapshot', 'export', '--config-file',
                               conf_path, '--output', self.output, *args)
        self.assertEqual(0, rc, err)
        self.assertNotIn('Traceback', err)
        with open(self.output, encoding='utf-8') as f:
            return json.load(f), err

    def plan(self, conf_path):
        rc, out, err = run_cli('plan', '--snapshot', self.output,
                               '--config-file', conf_path,
                               '--format', 'json')
        self.assertEqual(0, rc, err)
        return json.loads(out)


class TestExportInventory(ExportTestCase):

    def test_export_then_plan(self):
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        flavor = self.lab.flavor('export', vcpus=2, ram=512)
        servers = [self.lab.boot('export-1', flavor, host=HOSTS[0]),
                   self.lab.boot('export-2', flavor, host=HOSTS[1],
                                 metadata={'drs:opt_out': 'yes'})]
        conf_path = self.conf_file()
        doc, err = self.export(conf_path, '--metrics-wait', '0')
        hosts = {h['name']: h for h in doc['hosts']}
        self.assertEqual(set(HOSTS), set(hosts))
        # Placement's values, which differ per lab host
        self.assertEqual((2, 1024, 2.0, 1.5), (
            hosts['fake-host-1']['reserved_host_cpus'],
            hosts['fake-host-1']['reserved_host_memory_mb'],
            hosts['fake-host-1']['cpu_allocation_ratio'],
            hosts['fake-host-1']['ram_allocation_ratio']))
        self.assertFalse(any(h['disabled'] for h in hosts.values()))
        by_name = {i['name']: i for i in doc['instances']}
        for server, host in zip(servers, HOSTS):
            self.assertEqual((host, 2, 512), (
                by_name[server.id]['host'], by_name[server.id]['vcpus'],
                by_name[server.id]['memory_mb']))
        self.assertTrue(by_name[servers[1].id]['opt_out'])
        self.assertIn('from Nova', err)
        self.assertNotIn('waiting', err)

        plan = self.plan(conf_path)
        self.assertEqual([], plan['migrations'])
        self.assertEqual([], plan['unresolved'])

    def test_nova_unreachable_is_one_line(self):
        path = os.path.join(self.tmp, 'bad.conf')
        with open(path, 'w') as f:
            f.write(nova_fixtures.CLIENT_CONF.replace(':8774', ':1'))
        rc, out, err = run_cli('snapshot', 'export', '--config-file', path,
                               '--metrics-wait', '0', '--output',
                               self.output)
        self.assertEqual(2, rc, err)
        self.assertNotIn('Traceback', err)
        self.assertIn('nova-drs: error: cannot reach Nova', err)
        self.assertFalse(os.path.exists(self.output))


class TestExportWithMetrics(ExportTestCase):

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 3:
            self.skipTest('needs 3 fake computes')
        self.topic = 'drs_ft_export_%d_%s' % (os.getpid(),
                                              uuid.uuid4().hex[:6])
        self.addCleanup(broker.delete_queues, agent_lab.TRANSPORT_URL,
                        ['%s.sample' % self.topic])
        self.conf_path = self.conf_file("""
[DEFAULT]
transport_url = %(url)s

[drs_agent]
topic = %(topic)s

[drs_listener]
topic = %(topic)s
batch_timeout = 0.05
""" % {'url': agent_lab.TRANSPORT_URL, 'topic': self.topic})

    def agent(self, host, guests, stop):
        """The agent's publisher for ``host``, sending every 0.5 s."""
        conf = config.load([self.conf_path])
        conf.set_override('host', host, 'drs_agent')
        pub = publisher.Publisher(conf)
        pub.start()

        def run():
            while not stop.is_set():
                pub.publish(payload_mod.METRICS_EVENT, docs.metrics_doc(
                    host, at=time.time(), guests=guests))
                stop.wait(0.5)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(pub.stop, 5.0)
        self.addCleanup(thread.join, 5)
        self.addCleanup(stop.set)

    def test_loads_in_the_export(self):
        flavor = self.lab.flavor('export-1g', vcpus=2, ram=1024)
        busy = self.lab.boot('export-busy', flavor, host=HOSTS[0])
        idle = self.lab.boot('export-idle', flavor, host=HOSTS[1])
        silent = self.lab.boot('export-silent', flavor, host=HOSTS[2])
        stop = threading.Event()
        self.agent(HOSTS[0], [docs.guest_doc(busy.id, cpu=0.9, mem=900.0,
                                             disk=(4.0, 1.0))], stop)
        self.agent(HOSTS[1], [docs.guest_doc(idle.id, cpu=0.05,
                                             mem=300.0)], stop)
        # HOSTS[2] has no agent

        started = time.monotonic()
        doc, err = self.export(self.conf_path, '--metrics-wait', '6')
        took = time.monotonic() - started
        stop.set()
        hosts = {h['name']: h for h in doc['hosts']}
        by_name = {i['name']: i for i in doc['instances']}
        self.assertEqual((90.0, 900.0, 5.0), (
            by_name[busy.id]['cpu_util'], by_name[busy.id]['mem_used_mb'],
            by_name[busy.id]['disk_mb_s']))
        self.assertEqual(5.0, by_name[idle.id]['cpu_util'])
        self.assertFalse(hosts[HOSTS[0]]['disabled'])
        self.assertFalse(hosts[HOSTS[1]]['disabled'])
        # the host without an agent, as the balancer sees it
        self.assertTrue(hosts[HOSTS[2]]['disabled'])
        self.assertTrue(by_name[silent.id]['opt_out'])
        self.assertEqual(0.0, by_name[silent.id]['cpu_util'])
        self.assertIn('2 of %d hosts reported' % len(HOSTS), err)
        self.assertGreaterEqual(took, 6.0)

        # the temporary queue is gone
        pool = re.search(r'temporary queue (drs-balancer-export-\S+)',
                         err).group(1)
        self.assertFalse(queue_exists(agent_lab.TRANSPORT_URL, pool))

        plan = self.plan(self.conf_path)
        self.assertNotIn(silent.id, [m['instance']
                                     for m in plan['migrations']])
        print('\nexport with metrics: %.1f s (--metrics-wait 6, one host '
              'silent)' % took)

    def test_returns_once_every_host_reported(self):
        stop = threading.Event()
        for host in HOSTS:
            self.agent(host, [], stop)
        started = time.monotonic()
        doc, err = self.export(self.conf_path, '--metrics-wait', '30')
        took = time.monotonic() - started
        stop.set()
        self.assertFalse(any(h['disabled'] for h in doc['hosts']))
        self.assertIn('%d of %d hosts reported' % (len(HOSTS), len(HOSTS)),
                      err)
        self.assertLess(took, 15)
        print('\nexport, every host reporting: %.1f s' % took)
