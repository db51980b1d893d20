# SPDX-License-Identifier: Apache-2.0
"""``openstack drs status``."""

from nova_drs.osc.v1 import status
from tests.unit.osc import base
from tests.unit.osc import fakes


class StatusTest(base.CommandTestCase):

    def test_table_lists_replicas_and_their_hosts(self):
        out = self.run_command(status.ShowStatus, [])
        self.assertIn('balancer-a: compute-1, compute-2', out)
        self.assertIn('balancer-b: (no host)', out)
        self.assertIn('Plans Recommended', out)

    def test_json(self):
        result = self.run_json(status.ShowStatus, [])
        self.assertEqual(fakes.STATUS['replicas'], result['Replicas'])
        # an API older than 1.2 sends no mode source, pause or reports
        self.assertEqual(
            {'Mode': 'partial', 'Mode Source': None, 'Paused': None,
             'Paused Hosts': [], 'Strategy': 'hotspot', 'Hosts': 2,
             'Hot Hosts': 1, 'Stale Hosts': 1, 'Migrations Running': 0,
             'Plans Recommended': 1},
            {k: v for k, v in result.items() if k != 'Replicas'})


class StatusReportsTest(base.CommandTestCase):
    """API 1.2: each replica's own mode, strategy and latest cycle."""

    def setUp(self):
        super().setUp()
        self.client.status = fakes.STATUS_1_2

    def test_table_shows_each_replica_s_report(self):
        out = self.run_command(status.ShowStatus, ['-c', 'Replicas'])
        text = ' '.join(line.strip('| ').strip() for line in
                        out.splitlines())
        for fragment in (
                'balancer-a: compute-1, compute-2',
                'full mode (operator), hotspot strategy, 61 cycles (0 '
                'failed), ctl-1 pid 4242',
                'last: hotspot cycle at 2026-03-01T10:00:00.5Z, 0.50 s, '
                'full mode: 2 migration(s), 1 applied, 0 recommended, 1 '
                'unresolved',
                'sees balancing PAUSED',
                'work: 592 notifications taken in, 3 dropped, 2 hosts '
                'owned, 4 of 8 partitions, following 2 migration(s), 70 '
                'Nova calls, 12.5 CPU s, 96.2 MiB',
                'nothing planned (automatic balancing is paused)',
                'balancer-c: (no host) no report from this replica',
                'balancer-d (left the group): (no host)',
                'STALE: no report since 2026-03-01T10:00:01Z'):
            self.assertIn(fragment, text)

    def test_json_keeps_the_reports(self):
        result = self.run_json(status.ShowStatus, [])
        self.assertEqual(fakes.STATUS_1_2['replicas'], result['Replicas'])
        self.assertEqual(('full', 'operator', True, ['compute-2']),
                         (result['Mode'], result['Mode Source'],
                          result['Paused'], result['Paused Hosts']))
