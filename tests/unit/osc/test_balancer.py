# SPDX-License-Identifier: Apache-2.0
"""``openstack drs balancer show|set|unset|pause|resume`` and
``openstack drs host pause|resume``."""

from osc_lib import exceptions

from nova_drs.osc.v1 import balancer
from nova_drs.osc.v1 import hosts
from tests.unit.osc import base
from tests.unit.osc import fakes


class BalancerShowTest(base.CommandTestCase):

    def test_table(self):
        out = self.run_command(balancer.ShowBalancer, [])
        self.assertEqual([('get_balancer', (), {})], self.client.calls)
        self.assertIn('| Mode Source  | operator', out)
        self.assertIn('compute-2 (by bob at 2026-03-01T09:40:00Z): BIOS '
                      'update', out)

    def test_json(self):
        shown = self.run_json(balancer.ShowBalancer, [])
        self.assertEqual(
            {'Mode': 'full', 'Mode Source': 'operator', 'Paused': False,
             'Reason': 'change window', 'Updated By': 'alice',
             'Updated At': '2026-03-01T09:30:00Z',
             'Paused Hosts': fakes.BALANCER['paused_hosts']}, shown)


class BalancerChangeTest(base.CommandTestCase):

    def test_set_mode(self):
        shown = self.run_json(balancer.SetBalancer,
                              ['--mode', 'manual', '--reason', 'audit'])
        self.assertEqual(
            [('update_balancer', (), {'mode': 'manual', 'paused': None,
                                      'reason': 'audit'})],
            self.client.calls)
        self.assertEqual(('manual', 'operator'),
                         (shown['Mode'], shown['Mode Source']))

    def test_set_needs_a_known_mode(self):
        self.assertUsageError(balancer.SetBalancer, ['--mode', 'auto'],
                              "invalid choice: 'auto'")
        self.assertUsageError(balancer.SetBalancer, [],
                              'the following arguments are required: '
                              '--mode')

    def test_unset_mode(self):
        shown = self.run_json(balancer.UnsetBalancer, ['--mode'])
        self.assertEqual(
            [('update_balancer', (), {'mode': None, 'paused': None,
                                      'reason': None})],
            self.client.calls)
        self.assertEqual('config', shown['Mode Source'])
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                balancer.UnsetBalancer, [])
        self.assertIn('nothing to unset', str(exc))

    def test_pause_and_resume(self):
        paused = self.run_json(balancer.PauseBalancer,
                               ['--reason', 'storage upgrade'])
        resumed = self.run_json(balancer.ResumeBalancer, [])
        self.assertEqual(
            [('update_balancer', (), {'paused': True,
                                      'reason': 'storage upgrade'}),
             ('update_balancer', (), {'paused': False, 'reason': None})],
            self.client.calls)
        self.assertEqual((True, 'storage upgrade'),
                         (paused['Paused'], paused['Reason']))
        self.assertIs(False, resumed['Paused'])


class HostPauseTest(base.CommandTestCase):

    def test_pause(self):
        host = self.run_json(hosts.PauseHost,
                             ['compute-1', '--reason', 'BIOS update'])
        self.assertEqual(
            [('set_host_paused', ('compute-1', True),
              {'reason': 'BIOS update'})], self.client.calls)
        self.assertEqual((True, 'BIOS update', 'alice'),
                         (host['Paused'], host['Pause Reason'],
                          host['Paused By']))

    def test_resume(self):
        host = self.run_json(hosts.ResumeHost, ['compute-1'])
        self.assertEqual(
            [('set_host_paused', ('compute-1', False), {'reason': None})],
            self.client.calls)
        self.assertEqual((False, None), (host['Paused'],
                                         host['Pause Reason']))

    def test_host_is_required(self):
        self.assertUsageError(hosts.PauseHost, [], 'required: <host>')
