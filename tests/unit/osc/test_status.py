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
        self.assertEqual(
            {'Mode': 'automatic', 'Strategy': 'hotspot', 'Hosts': 2,
             'Hot Hosts': 1, 'Stale Hosts': 1, 'Migrations Running': 0,
             'Plans Recommended': 1},
            {k: v for k, v in result.items() if k != 'Replicas'})
