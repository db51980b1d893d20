# SPDX-License-Identifier: Apache-2.0
"""``openstack drs host list|show|evacuate``."""

from osc_lib import exceptions

from nova_drs import client as drs_client
from nova_drs.osc.v1 import hosts
from tests.unit.osc import base
from tests.unit.osc import fakes


class HostListTest(base.CommandTestCase):

    def test_table_shows_loads_as_percentages(self):
        out = self.run_command(hosts.ListHost, [])
        header = out.splitlines()[1]
        for title in ('Name', 'Hot', 'CPU', 'Memory', 'Disk', 'Network',
                      'Guests', 'Reserved', 'Stale', 'Updated At'):
            self.assertIn(title, header)
        row = [line for line in out.splitlines() if 'compute-1' in line][0]
        self.assertIn('92.3%', row)
        self.assertIn('50.0%', row)
        self.assertIn(' cpu ', row)
        self.assertEqual(
            [('list_hosts', (), {'hot': None, 'stale': None, 'limit': None,
                                 'marker': None})],
            self.client.calls)

    def test_missing_resource_is_empty_not_an_error(self):
        out = self.run_command(hosts.ListHost, [])
        row = [line for line in out.splitlines() if 'compute-2' in line][0]
        cells = [c.strip() for c in row.split('|')[1:-1]]
        self.assertEqual(['compute-2', '', '10.0%', '20.0%', '', ''],
                         cells[:6])
        self.assertIsNone(self.run_json(hosts.ListHost, [])[1]['Disk'])

    def test_json_keeps_raw_numbers_and_lists(self):
        rows = self.run_json(hosts.ListHost, [])
        self.assertEqual(2, len(rows))
        self.assertEqual('compute-1', rows[0]['Name'])
        self.assertEqual(0.923, rows[0]['CPU'])
        self.assertEqual(['cpu'], rows[0]['Hot'])
        self.assertEqual([], rows[1]['Hot'])
        self.assertIs(True, rows[1]['Stale'])

    def test_yaml_keeps_raw_numbers(self):
        rows = self.run_yaml(hosts.ListHost, [])
        self.assertEqual(0.5, rows[0]['Memory'])

    def test_value_format_is_for_scripts(self):
        # cliff's value (and csv) formatters take the machine-readable
        # form, as json does: raw shares, not percentages.
        out = self.run_command(hosts.ListHost, ['-f', 'value', '-c', 'Name',
                                                '-c', 'CPU'])
        self.assertEqual(['compute-1 0.923', 'compute-2 0.1'],
                         out.splitlines())

    def test_filters(self):
        self.run_command(hosts.ListHost, ['--hot', '--stale'])
        self.run_command(hosts.ListHost, ['--not-hot', '--not-stale',
                                          '--limit', '5', '--marker', 'c-9'])
        self.assertEqual(
            [{'hot': True, 'stale': True, 'limit': None, 'marker': None},
             {'hot': False, 'stale': False, 'limit': 5, 'marker': 'c-9'}],
            [kw for _name, _args, kw in self.client.calls])

    def test_hot_and_not_hot_exclude_each_other(self):
        self.assertUsageError(hosts.ListHost, ['--hot', '--not-hot'],
                              'not allowed with argument')

    def test_limit_must_be_positive(self):
        self.assertUsageError(hosts.ListHost, ['--limit', '0'],
                              "'0' must be at least 1")
        self.assertUsageError(hosts.ListHost, ['--limit', 'ten'],
                              "'ten' is not an integer")


class HostShowTest(base.CommandTestCase):

    def test_table(self):
        out = self.run_command(hosts.ShowHost, ['compute-1'])
        self.assertEqual([('get_host', ('compute-1',), {})],
                         self.client.calls)
        self.assertIn('cpu=92.3%, memory=50.0%, disk=5.0%, network=0.0%',
                      out)
        self.assertIn('cpu=87.1%', out)
        self.assertIn('guests=3, reclaimed_mb=2048', out)
        self.assertIn('Reserved Migrations', out)

    def test_json(self):
        host = self.run_json(hosts.ShowHost, ['compute-1'])
        self.assertEqual(fakes.HOST['load'], host['Load'])
        self.assertEqual(fakes.HOST['smoothed'], host['Smoothed'])
        self.assertEqual(fakes.HOST['balloon'], host['Balloon'])
        self.assertEqual(32, host['CPU Count'])
        self.assertEqual(131072, host['Memory Total MB'])
        self.assertEqual('2026-03-01T10:00:00Z', host['Sampled At'])

    def test_no_balloon_is_null(self):
        self.client.hosts[0]['balloon'] = None
        self.assertIsNone(self.run_json(hosts.ShowHost, ['x'])['Balloon'])

    def test_host_is_required(self):
        self.assertUsageError(hosts.ShowHost, [], 'required: <host>')

    def test_api_error_propagates(self):
        self.client.errors['get_host'] = drs_client.ClientError(
            'host nope not found', status_code=404)
        exc = self.assertRaises(drs_client.ClientError,
                                self.run_command, hosts.ShowHost, ['nope'])
        self.assertEqual('host nope not found (HTTP 404)', str(exc))


class HostEvacuateTest(base.CommandTestCase):

    def test_shows_the_plan_request_at_once(self):
        request = self.run_json(hosts.EvacuateHost, ['compute-1'])
        self.assertEqual(
            [('evacuate_host', ('compute-1',), {'apply': True})],
            self.client.calls)
        self.assertEqual('evacuation', request['Kind'])
        self.assertEqual('compute-1', request['Host'])
        self.assertEqual('pending', request['State'])
        self.assertIs(True, request['Apply'])

    def test_no_apply(self):
        request = self.run_json(hosts.EvacuateHost,
                                ['compute-1', '--no-apply'])
        self.assertIs(False, request['Apply'])
        self.assertEqual({'apply': False}, self.client.calls[0][2])

    def test_wait_shows_the_plan(self):
        self.client.request_states = [dict(fakes.PLAN_REQUEST, state='done',
                                           plan_uuid=fakes.PLAN_UUID)]
        plan = self.run_json(hosts.EvacuateHost,
                             ['compute-1', '--wait', '--timeout', '30'])
        self.assertEqual(fakes.PLAN_UUID, plan['UUID'])
        self.assertEqual(['evacuate_host', 'wait_for_plan_request',
                          'get_plan'],
                         [name for name, _a, _k in self.client.calls])
        self.assertEqual(30.0, self.client.calls[1][2]['timeout'])

    def test_wait_for_a_failed_request_is_an_error(self):
        self.client.request_states = [dict(
            fakes.PLAN_REQUEST, state='failed',
            error='no destination for 2 instances')]
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                hosts.EvacuateHost, ['compute-1', '--wait'])
        self.assertIn('no destination for 2 instances', str(exc))
        self.assertIn(fakes.REQUEST_UUID, str(exc))

    def test_wait_timeout_says_how_to_follow_the_request(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                hosts.EvacuateHost, ['compute-1', '--wait'])
        self.assertEqual('still pending; follow it with "openstack drs plan '
                         'request show %s"' % fakes.REQUEST_UUID, str(exc))

    def test_timeout_must_be_positive(self):
        for bad in ('0', '-1', 'nan', 'inf', 'soon'):
            self.assertUsageError(hosts.EvacuateHost,
                                  ['compute-1', '--wait', '--timeout', bad],
                                  repr(bad))
