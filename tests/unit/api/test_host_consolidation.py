# SPDX-License-Identifier: Apache-2.0
"""A host's consolidation state: stored, shown from 1.3, and in OSC."""

from nova_drs.db import models
from nova_drs.osc import columns
from nova_drs.osc import fields
from nova_drs.osc.v1 import views
from tests.unit.api import base
from tests.unit.db import test_host_states

A = base.ADMIN
V12 = dict(A, **{'OpenStack-API-Version': 'drs 1.2'})
V13 = dict(A, **{'OpenStack-API-Version': 'drs 1.3'})


class TestHostConsolidation(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.db.save_host_states([
            test_host_states.host_state('host-1'),
            test_host_states.host_state(
                'host-2', guests=0,
                consolidation=models.CONSOLIDATION_EMPTY),
            test_host_states.host_state(
                'host-3', guests=0,
                consolidation=models.CONSOLIDATION_DISABLED)], 'replica-a')

    def test_shown_from_1_3(self):
        status, data, _ = self.request('GET', '/v1/hosts', headers=V13)
        self.assertEqual(200, status, data)
        self.assertEqual({'host-1': None, 'host-2': 'empty',
                          'host-3': 'disabled'},
                         {h['name']: h['consolidation']
                          for h in data['hosts']})
        _, data, _ = self.request('GET', '/v1/hosts/host-3', headers=V13)
        self.assertEqual('disabled', data['host']['consolidation'])

    def test_not_before_1_3(self):
        for headers in (A, V12):
            _, data, _ = self.request('GET', '/v1/hosts', headers=headers)
            self.assertNotIn('consolidation', data['hosts'][1])

    def test_unknown_state_is_refused_by_the_database(self):
        self.assertRaises(ValueError, self.db.save_host_states, [
            test_host_states.host_state('host-9', consolidation='off')],
            'replica-a')

    def test_osc_column(self):
        _, data, _ = self.request('GET', '/v1/hosts', headers=V13)
        titles = fields.titles(views.HOST_LIST)
        pos = titles.index('Consolidation')
        cells = [fields.values(h, views.HOST_LIST)[pos]
                 for h in data['hosts']]
        self.assertEqual(
            ['', 'empty, can be powered off',
             'empty, disabled by nova-drs, can be powered off'],
            [c.human_readable() for c in cells])
        self.assertEqual([None, 'empty', 'disabled'],
                         [c.machine_readable() for c in cells])
        self.assertIsInstance(cells[0], columns.ConsolidationColumn)
        self.assertIn('Consolidation', fields.titles(views.HOST_SHOW))
