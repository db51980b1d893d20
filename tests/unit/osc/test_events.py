# SPDX-License-Identifier: Apache-2.0
"""``openstack drs event list``."""

from osc_lib import exceptions

from nova_drs.osc.v1 import events
from tests.unit.osc import base
from tests.unit.osc import fakes


class EventListTest(base.CommandTestCase):

    def test_table(self):
        out = self.run_command(events.ListEvent, [])
        header = out.splitlines()[1]
        titles = [t.strip() for t in header.split('|')[1:-1]]
        self.assertEqual(['ID', 'Time', 'Actor', 'Kind', 'Object',
                          'Message'], titles)
        self.assertIn('live migration to compute-2 started', out)
        self.assertEqual(
            [('list_events', (), {
                'kind': None, 'object_uuid': None, 'actor': None,
                'since': None, 'oldest_first': False, 'limit': None,
                'marker': None})], self.client.calls)

    def test_long_shows_the_detail(self):
        row = self.run_json(events.ListEvent, ['--long'])[0]
        self.assertEqual({'target': 'compute-2'}, row['Detail'])
        self.assertEqual(fakes.ACTION_UUID, row['Object'])

    def test_filters(self):
        self.run_json(events.ListEvent, [
            '--kind', 'action.', '--object', fakes.ACTION_UUID,
            '--actor', 'balancer-a', '--since', '2026-03-01T11:00:00+01:00',
            '--oldest-first', '--limit', '5', '--marker', '9'])
        self.assertEqual(
            {'kind': 'action.', 'object_uuid': fakes.ACTION_UUID,
             'actor': 'balancer-a', 'since': '2026-03-01T10:00:00Z',
             'oldest_first': True, 'limit': 5, 'marker': '9'},
            self.client.calls[0][2])

    def test_since_without_zone_is_utc(self):
        self.run_json(events.ListEvent, ['--since', '2026-03-01T10:00:00'])
        self.assertEqual('2026-03-01T10:00:00Z',
                         self.client.calls[0][2]['since'])

    def test_bad_since(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                events.ListEvent, ['--since', 'yesterday'])
        self.assertIn("--since: 'yesterday' is not an ISO 8601", str(exc))
        self.assertEqual([], self.client.calls)
