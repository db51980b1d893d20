# SPDX-License-Identifier: Apache-2.0
"""The instance resource against the Nova lab (a real Nova).

``nova-drs-api`` runs with the lab's ``[drs_nova]`` (admin token, no
Keystone) and reads and writes the server metadata the agent and the
balancer read. The lab is held for the test (NovaLabTestCase); the
servers are deleted at cleanup.
"""

import os
import uuid

import fixtures

from nova_drs.db import migration
from tests.functional.api import base
from tests.functional.nova import fixtures as nova_fixtures

HOST = 'fake-host-1'


class TestInstancesWithNova(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        self.server = self.useFixture(base.ApiServer(
            url, extra_conf=nova_fixtures.CLIENT_CONF))
        small = self.lab.flavor('small', vcpus=1, ram=256)
        self.vm = self.lab.boot('api', small, host=HOST,
                                metadata={'drs:balloon_floor_mb': '300'})
        self.path = '/v1/instances/' + self.vm.id

    def metadata(self):
        return self.conn.compute.get_server(self.vm.id).metadata

    def test_show_and_update(self):
        status, data, _ = self.server.call('GET', self.path,
                                           headers=base.READER)
        self.assertEqual(200, status, data)
        self.assertEqual({'uuid': self.vm.id, 'host': HOST,
                          'opt_out': False, 'balloon_floor_mb': 300,
                          'balloon': None}, data['instance'])

        status, data, _ = self.server.call(
            'PATCH', self.path, headers=base.ADMIN,
            json={'opt_out': True, 'balloon_floor_mb': 1024})
        self.assertEqual(200, status, data)
        self.assertTrue(data['instance']['opt_out'])
        self.assertEqual(1024, data['instance']['balloon_floor_mb'])
        metadata = self.metadata()
        self.assertEqual('true', metadata['drs:opt_out'])
        self.assertEqual('1024', metadata['drs:balloon_floor_mb'])

        status, data, _ = self.server.call(
            'PATCH', self.path, headers=base.ADMIN,
            json={'opt_out': False, 'balloon_floor_mb': None})
        self.assertEqual(200, status, data)
        self.assertEqual((False, None), (data['instance']['opt_out'],
                                         data['instance']['balloon_floor_mb']))
        metadata = self.metadata()
        self.assertNotIn('drs:opt_out', metadata)
        self.assertNotIn('drs:balloon_floor_mb', metadata)

    def test_refusals_and_unknown_servers(self):
        status, data, _ = self.server.call(
            'PATCH', self.path, headers=base.MEMBER, json={'opt_out': True})
        self.assertEqual(403, status)
        self.assertNotIn('drs:opt_out', self.metadata())
        status, data, _ = self.server.call(
            'GET', '/v1/instances/%s' % uuid.uuid4(), headers=base.ADMIN)
        self.assertEqual(404, status)
        self.assertIn('Nova has no server', data['error']['message'])
