# SPDX-License-Identifier: Apache-2.0
"""The instance resource against the Nova lab (a real Nova), as the caller.

``nova-drs-api`` runs with ``noauth`` and NO Nova credentials: only
``[drs_nova] endpoint_override``. It forwards each request's
``X-Auth-Token`` to Nova, whose lab filter reads it as ``user:project``
(doc/source/nova-lab.rst; user ``admin`` is an admin): Nova itself decides what
the caller sees. The nova-drs policy reads the ``X-Roles`` and
``X-Project-Id`` headers (noauth), which each persona sets to match its
token. One server is booted by a project member (in its project), one by
the admin; both are deleted at cleanup.
"""

import os
import uuid

import fixtures
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from openstack import connection
from oslotest import base as oslo_base

from nova_drs.api.controllers import instances
from nova_drs.db import api as db_api
from nova_drs.db import migration
from tests.functional.api import base
from tests.functional.nova import fixtures as nova_fixtures
from tests.unit.db import test_host_states

PROJECT = 'drs-ft-project'
MEMBER_TOKEN = 'drs-ft-member:%s' % PROJECT


def persona(roles, project, user, token):
    return {'X-Roles': roles, 'X-Project-Id': project, 'X-User-Id': user,
            'X-Auth-Token': token}


ADMIN = persona('admin', 'admin', 'admin', 'admin')
MEMBER = persona('member', PROJECT, 'drs-ft-member', MEMBER_TOKEN)
READER = persona('reader', PROJECT, 'drs-ft-reader',
                 'drs-ft-reader:%s' % PROJECT)
OTHER = persona('member', 'drs-ft-other', 'drs-ft-other',
                'drs-ft-other:drs-ft-other')
SYSTEM_ADMIN = {'X-Roles': 'admin', 'OpenStack-System-Scope': 'all',
                'X-User-Id': 'admin', 'X-Auth-Token': 'admin'}

API_CONF = '[drs_nova]\nendpoint_override = %s\n' % nova_fixtures.NOVA_URL


def member_connection():
    """openstacksdk as the project member (the lab believes the token)."""
    session = ks_session.Session(auth=token_endpoint.Token(
        nova_fixtures.NOVA_URL, MEMBER_TOKEN))
    return connection.Connection(
        session=session, compute_endpoint_override=nova_fixtures.NOVA_URL)


class TestInstancesAsTheCaller(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        self.db = db_api.Database(connection=url)
        self.addCleanup(self.db.dispose)
        self.policy_file = os.path.join(tmp, 'policy.yaml')
        with open(self.policy_file, 'w', encoding='utf-8') as f:
            f.write('{}\n')
        self.server = self.useFixture(base.ApiServer(
            url, extra_conf=API_CONF + '[oslo_policy]\npolicy_file = %s\n'
            % self.policy_file))
        small = self.lab.flavor('small', vcpus=1, ram=256)
        self.member = member_connection()
        vm = self.member.compute.create_server(
            name=nova_fixtures.PREFIX + 'api-member', flavor_id=small.id,
            image_id=nova_fixtures.IMAGE_ID, networks='none',
            metadata={'drs:balloon_floor_mb': '300'})
        self.addCleanup(self.lab._delete_server, vm)
        self.vm = self.lab.wait_active(vm)
        # where Nova put it (the admin's view)
        self.host = self.conn.compute.get_server(self.vm.id).compute_host
        self.path = '/v1/instances/' + self.vm.id

    def metadata(self):
        return self.conn.compute.get_server(self.vm.id).metadata

    def call(self, method, headers, json=None, path=None):
        return self.server.call(method, path or self.path, headers=headers,
                                json=json)

    def test_each_caller_sees_what_nova_shows_it(self):
        guest = {'actual_mb': 250, 'target_mb': 256}
        self.db.save_host_states([test_host_states.host_state(
            self.host, balloon={'guests': {self.vm.id: guest}})], 'r')
        status, data, _ = self.call('GET', ADMIN)
        self.assertEqual(200, status, data)
        self.assertEqual({'uuid': self.vm.id, 'host': self.host,
                          'opt_out': False, 'balloon_floor_mb': 300,
                          'balloon': guest}, data['instance'])
        # the project's member and reader: the balloon state (found by
        # Nova's hostId), never the host
        self.assertEqual(instances.host_id(PROJECT, self.host),
                         self.member.compute.get_server(self.vm.id).host_id)
        for headers in (MEMBER, READER):
            status, data, _ = self.call('GET', headers)
            self.assertEqual(200, status, data)
            self.assertEqual({'uuid': self.vm.id, 'host': None,
                              'opt_out': False, 'balloon_floor_mb': 300,
                              'balloon': guest}, data['instance'])
        # another project: Nova does not show it the server
        status, data, _ = self.call('GET', OTHER)
        self.assertEqual(404, status, data)
        self.assertIn('Nova has no server', data['error']['message'])
        status, data, _ = self.call('GET', SYSTEM_ADMIN)
        self.assertEqual(403, status, data)
        self.assertIn('drs:instance:show', data['error']['message'])
        status, data, _ = self.call(
            'GET', ADMIN, path='/v1/instances/%s' % uuid.uuid4())
        self.assertEqual(404, status)

    def test_only_admins_change_by_default(self):
        for headers, code in ((MEMBER, 403), (READER, 403), (OTHER, 404),
                              (SYSTEM_ADMIN, 403)):
            status, data, _ = self.call('PATCH', headers,
                                        json={'opt_out': True})
            self.assertEqual(code, status, (headers, data))
        self.assertNotIn('drs:opt_out', self.metadata())

        status, data, _ = self.call(
            'PATCH', ADMIN, json={'opt_out': True, 'balloon_floor_mb': 1024})
        self.assertEqual(200, status, data)
        self.assertEqual((True, 1024, self.host),
                         (data['instance']['opt_out'],
                          data['instance']['balloon_floor_mb'],
                          data['instance']['host']))
        metadata = self.metadata()
        self.assertEqual('true', metadata['drs:opt_out'])
        self.assertEqual('1024', metadata['drs:balloon_floor_mb'])
        status, data, _ = self.call(
            'PATCH', ADMIN, json={'opt_out': False, 'balloon_floor_mb': None})
        self.assertEqual(200, status, data)
        metadata = self.metadata()
        self.assertNotIn('drs:opt_out', metadata)
        self.assertNotIn('drs:balloon_floor_mb', metadata)

    def test_operator_lets_members_change_their_own(self):
        with open(self.policy_file, 'w', encoding='utf-8') as f:
            f.write('"drs:instance:update": '
                    '"rule:project_member_or_admin"\n')
        status, data, _ = self.call('PATCH', MEMBER,
                                    json={'opt_out': True})
        self.assertEqual(200, status, data)
        self.assertTrue(data['instance']['opt_out'])
        self.assertIsNone(data['instance']['host'])
        self.assertEqual('true', self.metadata()['drs:opt_out'])
        # written with the member's own token: Nova's policy let it
        status, data, _ = self.call('PATCH', OTHER, json={'opt_out': False})
        self.assertEqual(404, status, data)
        status, data, _ = self.call('PATCH', READER,
                                    json={'opt_out': False})
        self.assertEqual(403, status, data)
        self.assertEqual('true', self.metadata()['drs:opt_out'])

    def test_no_token_is_401(self):
        headers = {k: v for k, v in MEMBER.items() if k != 'X-Auth-Token'}
        status, data, _ = self.call('GET', headers)
        self.assertEqual(401, status, data)
        self.assertIn('X-Auth-Token', data['error']['message'])
        self.assertNotIn('Traceback', self.server.log())


class TestNovaUnreachable(oslo_base.BaseTestCase):
    """No Nova at the configured endpoint: 503, one warning line."""

    def test_503_and_one_warning_line(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        # NOTE: nothing listens on 127.0.0.1:9 (discard)
        server = self.useFixture(base.ApiServer(
            url, extra_conf='[drs_nova]\nendpoint_override = '
                            'http://127.0.0.1:9/v2.1\n'))
        path = '/v1/instances/%s' % uuid.uuid4()
        for _ in range(3):
            status, data, _ = server.call('GET', path, headers=ADMIN)
            self.assertEqual(503, status, data)
            self.assertIn('Nova cannot be reached', data['error']['message'])
        log = server.log()
        self.assertNotIn('Traceback', log)
        warnings = [line for line in log.splitlines() if ' WARNING ' in line
                    and 'noauth' not in line]
        self.assertEqual(3, len(warnings), warnings)
        for line in warnings:
            self.assertIn('Nova: read server', line)
