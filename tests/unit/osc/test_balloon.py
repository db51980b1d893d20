# SPDX-License-Identifier: Apache-2.0
"""``openstack drs balloon show|set``."""

from osc_lib import exceptions

from nova_drs.osc.v1 import balloon
from tests.unit.osc import base
from tests.unit.osc import fakes


class BalloonShowTest(base.CommandTestCase):

    def test_by_uuid_does_not_ask_nova(self):
        self.compute.servers = None     # any use of it would fail
        shown = self.run_json(balloon.ShowBalloon, [fakes.INSTANCE_UUID])
        self.assertEqual([('get_instance', (fakes.INSTANCE_UUID,), {})],
                         self.client.calls)
        self.assertEqual(
            {'UUID': fakes.INSTANCE_UUID, 'Host': 'compute-1',
             'Opt Out': False, 'Balloon Floor MB': 1024,
             'Balloon': {'actual_mb': 3072, 'target_mb': 3072}}, shown)

    def test_table(self):
        out = self.run_command(balloon.ShowBalloon, [fakes.INSTANCE_UUID])
        self.assertIn('actual_mb=3072, target_mb=3072', out)

    def test_by_name(self):
        self.compute.servers = [{'name': 'web-1',
                                 'id': fakes.INSTANCE_UUID}]
        self.run_command(balloon.ShowBalloon, ['web-1'])
        self.assertEqual([('get_instance', (fakes.INSTANCE_UUID,), {})],
                         self.client.calls)

    def test_unknown_name(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                balloon.ShowBalloon, ['nope'])
        self.assertIn("cannot find server 'nope' in Nova", str(exc))
        self.assertEqual([], self.client.calls)


class BalloonSetTest(base.CommandTestCase):

    def assertUpdated(self, argv, changes):
        out = self.run_command(balloon.SetBalloon,
                               [fakes.INSTANCE_UUID] + argv)
        self.assertEqual('', out)
        self.assertEqual(
            [('update_instance', (fakes.INSTANCE_UUID,), changes)],
            self.client.calls)

    def test_floor(self):
        self.assertUpdated(['--floor', '2048'], {'balloon_floor_mb': 2048})

    def test_zero_floor(self):
        self.assertUpdated(['--floor', '0'], {'balloon_floor_mb': 0})

    def test_no_floor(self):
        self.assertUpdated(['--no-floor'], {'balloon_floor_mb': None})

    def test_opt_out(self):
        self.assertUpdated(['--opt-out'], {'opt_out': True})

    def test_opt_in_and_floor(self):
        self.assertUpdated(['--opt-in', '--floor', '512'],
                           {'opt_out': False, 'balloon_floor_mb': 512})

    def test_nothing_to_set(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                balloon.SetBalloon, [fakes.INSTANCE_UUID])
        self.assertIn('nothing to set', str(exc))
        self.assertEqual([], self.client.calls)

    def test_bad_floor(self):
        self.assertUsageError(balloon.SetBalloon,
                              [fakes.INSTANCE_UUID, '--floor', '-1'],
                              "'-1' is negative")
        self.assertUsageError(balloon.SetBalloon,
                              [fakes.INSTANCE_UUID, '--floor', '1.5G'],
                              "'1.5G' is not an integer")

    def test_exclusive_options(self):
        self.assertUsageError(
            balloon.SetBalloon,
            [fakes.INSTANCE_UUID, '--floor', '1', '--no-floor'],
            'not allowed with argument')
        self.assertUsageError(
            balloon.SetBalloon,
            [fakes.INSTANCE_UUID, '--opt-in', '--opt-out'],
            'not allowed with argument')
