# SPDX-License-Identifier: Apache-2.0
import json
import subprocess  # nosec B404
import sys
import threading
from unittest import mock

from oslotest import base

from nova_drs import agent
from nova_drs.agent import inspector
from nova_drs.agent import service
from nova_drs.cmd import agent as agent_cmd
from nova_drs import config
from tests.unit import clusters


class FakeManager:
    interval = 1.0

    def __init__(self, conf):
        self.conf = conf
        self.cycles = 0
        self.started = threading.Event()
        self.stopped = False

    def start(self):
        pass

    def run(self, stop_event):
        self.started.set()
        while not stop_event.wait(0.01):
            self.cycles += 1

    def stop(self):
        self.stopped = True


class TestAgentService(base.BaseTestCase):

    def test_run_then_terminate(self):
        conf = clusters.conf()
        svc = service.AgentService(0, conf, manager_factory=FakeManager)
        thread = threading.Thread(target=svc.run)
        thread.start()
        self.assertTrue(svc.manager_factory is FakeManager)
        for _ in range(100):
            if svc.manager is not None:
                break
            threading.Event().wait(0.01)
        svc.manager.started.wait(5)
        svc.terminate()
        thread.join(5)
        self.assertFalse(thread.is_alive())
        self.assertTrue(svc.manager.stopped)

    def test_terminate_before_run(self):
        svc = service.AgentService(0, clusters.conf(),
                                   manager_factory=FakeManager)
        svc.terminate()
        svc.run()
        self.assertIsNone(svc.manager)

    def test_run_uses_cotyledon(self):
        conf = clusters.conf()
        with mock.patch.object(service.cotyledon, 'ServiceManager') as sm, \
                mock.patch.object(service.oslo_config_glue,
                                  'setup') as setup:
            service.run(conf)
        setup.assert_called_once_with(sm.return_value, conf)
        sm.return_value.add.assert_called_once_with(
            service.AgentService, workers=1, args=(conf,))
        sm.return_value.run.assert_called_once_with()


class TestMain(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        # the real one changes the whole test process
        patcher = mock.patch.object(agent, 'use_native_threads')
        self.native = patcher.start()
        self.addCleanup(patcher.stop)

    def test_bad_configuration(self):
        path = self.create_tempfiles([('bad', '[drs_agent]\ninterval = 0\n')],
                                     ext='.conf')[0]
        with mock.patch.object(sys, 'stderr') as stderr:
            rc = agent_cmd.main(['--config-file', path])
        self.assertEqual(2, rc)
        self.assertIn('[drs_agent] interval',
                      ''.join(c.args[0] for c in stderr.write.mock_calls))
        self.native.assert_called_once_with()

    def main_with(self, text):
        path = self.create_tempfiles([('agent', text)], ext='.conf')[0]
        with mock.patch.object(sys, 'stderr') as stderr, \
                mock.patch.object(inspector.LibvirtInspector,
                                  'check_available'), \
                mock.patch.object(service, 'run') as run:
            rc = agent_cmd.main(['--config-file', path])
        return rc, ''.join(c.args[0] for c in stderr.write.mock_calls), run

    def test_malformed_cpu_set(self):
        rc, err, run = self.main_with('[drs_agent]\ncpu_set = 0-3,^x\n')
        self.assertEqual(2, rc)
        self.assertIn('nova-drs-agent: invalid value for [drs_agent] '
                      'cpu_set: invalid item \'^x\'', err)
        run.assert_not_called()

    def test_cpu_set_selects_nothing(self):
        rc, err, run = self.main_with('[drs_agent]\ncpu_set = 0-3,^0-3\n')
        self.assertEqual(2, rc)
        self.assertIn('[drs_agent] cpu_set', err)
        self.assertIn('selects no CPU', err)
        run.assert_not_called()

    def test_cpu_set_with_cpus_not_online(self):
        # no host has CPU 65535
        rc, err, run = self.main_with('[drs_agent]\ncpu_set = 65535\n')
        self.assertEqual(2, rc)
        self.assertIn('nova-drs-agent: [drs_agent] cpu_set = 65535: CPU(s) '
                      '65535 of the CPU set are not in /proc/stat', err)
        run.assert_not_called()

    def test_valid_cpu_set(self):
        with open('/proc/stat') as f:
            cpu = int(f.read().split('\ncpu', 1)[1].split()[0])
        rc, err, run = self.main_with('[drs_agent]\ncpu_set = %d\n' % cpu)
        self.assertEqual(0, rc, err)
        self.assertEqual(str(cpu), run.call_args[0][0].drs_agent.cpu_set)

    def test_signing_key_file_without_a_key(self):
        missing = self.create_tempfiles([('x', '')], ext='.key')[0] + '.gone'
        rc, err, run = self.main_with(
            '[drs_agent]\nsigning_key_file = %s\n' % missing)
        self.assertEqual(2, rc)
        self.assertIn('nova-drs-agent: cannot read the signing key file',
                      err)
        run.assert_not_called()
        bad = self.create_tempfiles([('bad', 'not a key')], ext='.key')[0]
        rc, err, run = self.main_with(
            '[drs_agent]\nsigning_key_file = %s\n' % bad)
        self.assertEqual(2, rc)
        self.assertIn('does not hold a key', err)

    def test_host_name_nova_would_not_accept(self):
        rc, err, run = self.main_with('[drs_agent]\nhost = compute 1\n')
        self.assertEqual(2, rc)
        self.assertIn('[drs_agent] host', err)
        run.assert_not_called()

    def test_check_cpu_set(self):
        conf = clusters.conf(drs_agent__cpu_set='1-')
        e = self.assertRaises(config.ConfigError, agent_cmd.check_cpu_set,
                              conf)
        self.assertIn("invalid item '1-'", str(e))
        agent_cmd.check_cpu_set(clusters.conf())

    def test_libvirt_missing(self):
        with mock.patch.object(inspector, 'libvirt', None), \
                mock.patch.object(sys, 'stderr'), \
                mock.patch.object(service, 'run') as run:
            self.assertEqual(1, agent_cmd.main([]))
        run.assert_not_called()

    def test_runs_the_service(self):
        with mock.patch.object(inspector.LibvirtInspector,
                               'check_available'), \
                mock.patch.object(service, 'run') as run:
            self.assertEqual(0, agent_cmd.main([]))
        conf = run.call_args[0][0]
        self.assertEqual('qemu:///system', conf.libvirt.connection_uri)
        self.assertEqual(10.0, conf.drs_agent.interval)


class TestNativeThreads(base.BaseTestCase):

    def test_eventlet_blocked_and_threading_backend(self):
        modules = dict(sys.modules)
        modules.pop('eventlet', None)
        with mock.patch.dict(sys.modules, modules, clear=True), \
                mock.patch('oslo_service.backend.init_backend') as init:
            agent.use_native_threads()
            self.assertIsNone(sys.modules['eventlet'])
        from oslo_service import backend
        init.assert_called_once_with(backend.BackendType.THREADING)


#: what the agent process must not load: the balancer's and offline tools'
#: libraries (numpy alone is some 17 MB of the agent's memory target)
AGENT_NEVER_IMPORTS = ('numpy', 'sqlalchemy', 'oslo_db', 'jsonschema',
                       'fastjsonschema', 'keystoneauth1', 'openstack',
                       'matplotlib', 'scipy', 'jinja2', 'tooz', 'webob')

_AGENT_IMPORTS = """
import json, sys
from nova_drs.cmd import agent as agent_cmd
agent_cmd.agent.use_native_threads()
from nova_drs.agent import manager, service
from nova_drs.balloon.policies import adaptive
print(json.dumps(sorted(sys.modules)))
"""


class TestAgentImports(base.BaseTestCase):

    def test_agent_loads_no_balancer_library(self):
        # a fresh interpreter: this one has loaded everything already
        out = subprocess.run(  # nosec B603
            [sys.executable, '-c', _AGENT_IMPORTS], capture_output=True,
            text=True, check=True).stdout
        loaded = {m.split('.')[0] for m in json.loads(out)}
        self.assertIn('oslo_messaging', loaded)
        self.assertEqual([], sorted(loaded & set(AGENT_NEVER_IMPORTS)))
