# SPDX-License-Identifier: Apache-2.0
"""No password reaches a log line of the services.

Real processes, as an operator runs them, with ``debug = true`` (every
option value is logged at start) and a password that appears nowhere
else: in the coordination backend URL, in the broker URLs (a RabbitMQ
user made for the test) and in the signing secret. The balancer joins its
group, reads Nova and plans; the API answers a status request whose
coordination backend fails. Their logs and consoles must mention the
options (masked), the failures, but never the password.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

import fixtures
from oslotest import base

from nova_drs.db import migration
from tests.functional.agent import lab as agent_lab
from tests.functional.api import base as api_base
from tests.functional.balancer import service_lab
from tests.functional import broker
from tests.functional.nova import fixtures as nova_fixtures

REDIS = 'redis://:%s@127.0.0.1:6379'


def _rabbitmqctl(*args):
    return subprocess.run(['rabbitmqctl', '-q'] + list(args),
                          capture_output=True, text=True, timeout=60)


def broker_user(test, secret):
    """A RabbitMQ user whose password is ``secret``; its transport URL."""
    if shutil.which('rabbitmqctl') is None:
        test.fail('rabbitmqctl is needed to make a broker user with a '
                  'known password (tools/lab/rabbitmq.sh installs it)')
    user = 'drs-ft-secret-%s' % uuid.uuid4().hex[:8]
    result = _rabbitmqctl('add_user', user, secret)
    test.assertEqual(0, result.returncode, result.stderr)
    test.addCleanup(_rabbitmqctl, 'delete_user', user)
    result = _rabbitmqctl('set_permissions', '-p', '/', user, '.*', '.*',
                          '.*')
    test.assertEqual(0, result.returncode, result.stderr)
    return 'rabbit://%s:%s@127.0.0.1:5672/' % (user, secret)


def _queued(queue):
    """Messages waiting in ``queue`` on the local broker (0: no queue)."""
    result = _rabbitmqctl('list_queues', '-p', '/', 'name', 'messages')
    for line in result.stdout.splitlines():
        name, _sep, count = line.strip().partition('\t')
        if name == queue and count.strip().isdigit():
            return int(count)
    return 0


def wait_for_line(test, proc, text, timeout=60):
    deadline = time.monotonic() + timeout
    while text not in proc.log():
        test.assertTrue(proc.running(), proc.output()[-3000:])
        test.assertLess(time.monotonic(), deadline,
                        'no %r in the log:\n%s' % (text, proc.log()[-3000:]))
        time.sleep(0.5)


class SecretMixin:
    """A password seen nowhere else, a temporary folder and a database."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.secret = 'S3cr3t-%s' % uuid.uuid4().hex
        self.db_url = 'sqlite:///' + os.path.join(self.tmp, 'drs.sqlite')
        migration.upgrade(None, connection=self.db_url)

    def assertNoSecret(self, where, text):
        self.assertNotIn(self.secret, text,
                         '%s shows the password' % where)


class TestBalancer(SecretMixin, nova_fixtures.NovaLabTestCase):
    """The balancer's console and log with passwords in its URLs."""

    def test_balancer(self):
        transport = broker_user(self, self.secret)
        tag = uuid.uuid4().hex[:8]
        log_file = os.path.join(self.tmp, 'balancer.log')
        conf = service_lab.write_conf(
            os.path.join(self.tmp, 'balancer.conf'),
            transport_url=transport, log_file=log_file,
            topic='drs_ft_secret_%s' % tag, interval=5, stale_after=15,
            mode='full', planning_interval=5, takeover_after=3,
            backend_url=REDIS % self.secret,
            group='drs-ft-secret-%s' % tag, replica_id='secret-%s' % tag,
            database=self.db_url, nova_transport_url=transport,
            extra='[drs_signing]\nsecret = %s\n' % self.secret)
        proc = service_lab.BalancerProcess(conf, log_file).start()
        self.addCleanup(proc.stop)
        self.addCleanup(broker.delete_queues, agent_lab.TRANSPORT_URL,
                        ['drs_ft_secret_%s.sample' % tag,
                         'drs-balancer-secret-%s' % tag,
                         'drs-balancer-nova-secret-%s' % tag])
        wait_for_line(self, proc, 'Nova inventory read')
        proc.stop()
        log = proc.log()
        # the options were logged, masked
        self.assertRegex(log, r'drs_coordination\.backend_url += \*\*\*\*')
        self.assertRegex(log, r'drs_signing\.secret += \*\*\*\*')
        self.assertIn('joined group', log)
        self.assertNoSecret('the balancer log', log)
        self.assertNoSecret('the balancer console', proc.output())


class TestApi(SecretMixin, base.BaseTestCase):
    """The API's log with a password in the coordination backend URL."""

    def test_api_with_failing_coordination_backend(self):
        # db=abc: the redis client refuses the URL at once, so the API's
        # failure path (a 503 and a warning naming the backend) runs
        server = self.useFixture(api_base.ApiServer(
            self.db_url, extra_conf='[DEFAULT]\ndebug = true\n'
            '[drs_coordination]\nbackend_url = %s/?db=abc\n'
            '[drs_signing]\nsecret = %s\n'
            % (REDIS % self.secret, self.secret)))
        status, data, _ = server.call('GET', '/v1/status',
                                      headers=api_base.ADMIN)
        self.assertEqual(503, status, data)
        self.assertNoSecret('the API answer', str(data))
        log = server.log()
        self.assertIn('redis://:***@127.0.0.1:6379', log)
        self.assertNoSecret('the API log', log)


class TestAgentTransport(SecretMixin, base.BaseTestCase):
    """The agent's console and log with a password in its broker URL."""

    def test_agent(self):
        tmp, secret = self.tmp, self.secret
        transport = broker_user(self, secret)
        topic = 'drs_ft_secret_agent_%s' % uuid.uuid4().hex[:8]
        self.addCleanup(broker.delete_queues, agent_lab.TRANSPORT_URL,
                        ['%s.sample' % topic])
        log_file = os.path.join(tmp, 'agent.log')
        conf = os.path.join(tmp, 'agent.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\ndebug = true\nlog_file = %s\n'
                    'transport_url = %s\n'
                    '[drs_agent]\ninterval = 1\nhost = drs-ft-secret\n'
                    'topic = %s\n'
                    '[drs_signing]\nsecret = %s\n'
                    '[libvirt]\nconnection_uri = %s\n'
                    % (log_file, transport, topic, secret, agent_lab.URI))
        proc = service_lab.ServiceProcess(
            [sys.executable, '-m', 'nova_drs.cmd.agent', '--config-file',
             conf], log_file).start()
        self.addCleanup(proc.stop)
        # the agent reached the broker with the password: its metrics are
        # in the topic's queue
        deadline = time.monotonic() + 60
        while _queued('%s.sample' % topic) < 1:
            self.assertTrue(proc.running(), proc.output()[-3000:])
            self.assertLess(time.monotonic(), deadline, proc.log()[-3000:])
            time.sleep(0.5)
        proc.stop()
        self.assertRegex(proc.log(), r'drs_signing\.secret += \*\*\*\*')
        self.assertNoSecret('the agent log', proc.log())
        self.assertNoSecret('the agent console', proc.output())
