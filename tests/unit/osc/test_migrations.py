# SPDX-License-Identifier: Apache-2.0
"""``openstack drs migration list|show``."""

from nova_drs.osc.v1 import migrations
from tests.unit.osc import base
from tests.unit.osc import fakes


class MigrationListTest(base.CommandTestCase):

    def test_table(self):
        out = self.run_command(migrations.ListMigration, [])
        header = out.splitlines()[1]
        titles = [t.strip() for t in header.split('|')[1:-1]]
        self.assertEqual(['UUID', 'Instance', 'Source', 'Target', 'State',
                          'Duration (s)'], titles)
        self.assertIn(fakes.ACTION_UUID, out)

    def test_long(self):
        row = self.run_json(migrations.ListMigration, ['--long'])[0]
        self.assertEqual('cpu', row['Reason'])
        self.assertEqual(fakes.PLAN_UUID, row['Plan'])
        self.assertEqual('2026-03-01T10:01:14Z', row['Finished At'])

    def test_filters(self):
        rows = self.run_json(migrations.ListMigration, [
            '--state', 'running', '--instance', fakes.INSTANCE_UUID,
            '--host', 'compute-1', '--plan', fakes.PLAN_UUID,
            '--limit', '10'])
        self.assertEqual(
            {'state': 'running', 'instance': fakes.INSTANCE_UUID,
             'host': 'compute-1', 'plan': fakes.PLAN_UUID, 'limit': 10,
             'marker': None}, self.client.calls[0][2])
        self.assertEqual(13.0, rows[0]['Duration (s)'])

    def test_unknown_state(self):
        self.assertUsageError(migrations.ListMigration, ['--state', 'ok'],
                              "invalid choice: 'ok'")


class MigrationShowTest(base.CommandTestCase):

    def test_json_has_every_field(self):
        migration = self.run_json(migrations.ShowMigration,
                                  [fakes.ACTION_UUID])
        self.assertEqual([('get_migration', (fakes.ACTION_UUID,), {})],
                         self.client.calls)
        expected = {
            'UUID': fakes.ACTION_UUID, 'Plan': fakes.PLAN_UUID,
            'Instance': fakes.INSTANCE_UUID, 'Source': 'compute-1',
            'Target': 'compute-2', 'Reason': 'cpu', 'State': 'completed',
            'Owner': 'balancer-a', 'Transfer MB': 4096,
            'Estimated (s)': 12.5, 'Duration (s)': 13.0,
            'Nova Migration ID': 42,
            'Nova Migration UUID': fakes.ACTION['migration_uuid'],
            'Nova Status': 'completed', 'Error': None,
            'Created At': '2026-03-01T10:01:00Z',
            'Started At': '2026-03-01T10:01:01Z',
            'Finished At': '2026-03-01T10:01:14Z'}
        self.assertEqual(expected, migration)
