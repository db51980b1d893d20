# SPDX-License-Identifier: Apache-2.0
"""The instance resource calls Nova with the CALLER's token (no deputy).

The real :class:`nova_drs.api.nova_servers.NovaServers` (keystoneauth,
openstacksdk) runs here; only Nova's HTTP answers are faked, with
requests_mock, so that the requests the API sends can be read: which
token, which URL. ``[drs_nova]`` holds service credentials throughout, to
show they are never used (their Keystone would be called). With
``keystone`` the real keystonemiddleware passes the caller's auth plugin
(its token validated by keystonemiddleware's fixture, with a service
catalog that names Nova).
"""

import logging
import uuid

import fixtures
from keystoneauth1 import fixture as ks_fixture
from keystonemiddleware import fixture as ksm_fixture
import requests_mock

from nova_drs.api import app as app_mod
from nova_drs.api.controllers import instances
from nova_drs.api import nova_servers
from nova_drs.api import services
from tests.unit.api import base

NOVA = 'http://nova.example/v2.1'
KEYSTONE = 'http://keystone.example/identity'
VERSION = {'version': {
    'id': 'v2.1', 'status': 'CURRENT', 'version': '2.96',
    'min_version': '2.1', 'links': [{'rel': 'self', 'href': NOVA + '/'}]}}
SERVICE_CREDENTIALS = ('[drs_nova]\nauth_type = password\n'
                       'auth_url = %s/v3\nusername = nova-drs\n'
                       'password = service-secret\nproject_name = service\n'
                       'user_domain_id = default\n'
                       'project_domain_id = default\n' % KEYSTONE)


def server_body(server_id, project_id, host='host-1', admin=False,
                metadata=None):
    body = {'id': server_id, 'name': 'vm', 'status': 'ACTIVE',
            'tenant_id': project_id, 'user_id': 'owner',
            'hostId': instances.host_id(project_id, host),
            'metadata': dict(metadata or {})}
    if admin:
        body['OS-EXT-SRV-ATTR:host'] = host
    return {'server': body}


class NovaCase(base.ApiTestCase):
    """The app with the real NovaServers; Nova faked over HTTP."""

    nova_conf = 'endpoint_override = %s\n' % NOVA
    #: let requests nothing fakes reach the network
    real_http = False

    def setUp(self):
        self.extra_conf = SERVICE_CREDENTIALS + self.nova_conf
        super().setUp()
        self.app = app_mod.create_app(self.conf, services.Services(
            self.conf, db=self.db,
            nova=nova_servers.NovaServers(self.conf),
            replicas=self.replicas))
        self.nova_http = requests_mock.Mocker(real_http=self.real_http)
        self.nova_http.start()
        self.addCleanup(self.nova_http.stop)
        for url in (NOVA, NOVA + '/'):
            self.nova_http.get(url, json=VERSION)
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.WARNING, format='%(levelname)s %(message)s'))
        self.uuid = str(uuid.uuid4())
        self.path = '/v1/instances/' + self.uuid
        self.server_url = '%s/servers/%s' % (NOVA, self.uuid)

    def nova_calls(self):
        """(method, url, X-Auth-Token) of every authenticated call."""
        return [(r.method, r.url, r.headers.get('X-Auth-Token'))
                for r in self.nova_http.request_history
                if r.headers.get('X-Auth-Token')]

    def assertNoServiceCredentials(self):
        for request in self.nova_http.request_history:
            self.assertFalse(request.url.startswith(KEYSTONE), request.url)
            self.assertNotIn('service-secret', request.text or '')


class TestNoauthForwardsTheToken(NovaCase):

    def test_member_reads_with_its_own_token(self):
        self.nova_http.get(self.server_url, json=server_body(
            self.uuid, base.PROJECT, metadata={'drs:opt_out': 'true'}))
        status, data, _ = self.request('GET', self.path,
                                       headers=base.MEMBER)
        self.assertEqual(200, status, data)
        self.assertEqual({'uuid': self.uuid, 'host': None, 'opt_out': True,
                          'balloon_floor_mb': None, 'balloon': None},
                         data['instance'])
        self.assertEqual([('GET', self.server_url, 'member-token')],
                         self.nova_calls())
        self.assertNoServiceCredentials()

    def test_admin_sees_the_host_nova_shows(self):
        self.nova_http.get(self.server_url, json=server_body(
            self.uuid, 'p', host='compute-7', admin=True))
        _, data, _ = self.request('GET', self.path, headers=base.ADMIN)
        self.assertEqual('compute-7', data['instance']['host'])
        self.assertEqual('admin-token', self.nova_calls()[0][2])

    def test_nova_decides_what_the_caller_sees(self):
        for nova_status, code, word in ((404, 404, 'Nova has no server'),
                                        (403, 403, 'Nova refused'),
                                        (401, 401, 'Nova refused')):
            self.nova_http.get(self.server_url, status_code=nova_status,
                               json={'itemNotFound': {
                                   'code': nova_status,
                                   'message': 'not for you'}})
            self.assertError(code, 'GET', self.path, word,
                             headers=base.MEMBER)
        self.assertEqual('', self.log.output)

    def test_update_writes_with_the_callers_token(self):
        path = '%s/policy.yaml' % self.tmp
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:instance:update": '
                    '"rule:project_member_or_admin"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        self.nova_http.get(self.server_url, json=server_body(
            self.uuid, base.PROJECT, metadata={'drs:opt_out': 'true'}))
        self.nova_http.post(self.server_url + '/metadata', json={
            'metadata': {'drs:balloon_floor_mb': '512'}})
        self.nova_http.delete(self.server_url + '/metadata/drs:opt_out',
                              status_code=204)
        status, data, _ = self.request(
            'PATCH', self.path, headers=base.MEMBER,
            body={'opt_out': False, 'balloon_floor_mb': 512})
        self.assertEqual(200, status, data)
        calls = self.nova_calls()
        self.assertEqual({'member-token'}, {c[2] for c in calls})
        self.assertIn(('POST', self.server_url + '/metadata',
                       'member-token'), calls)
        self.assertIn(('DELETE', self.server_url + '/metadata/drs:opt_out',
                       'member-token'), calls)
        post = [r for r in self.nova_http.request_history
                if r.method == 'POST'][0]
        self.assertEqual({'metadata': {'drs:balloon_floor_mb': '512'}},
                         post.json())
        self.assertNoServiceCredentials()

    def test_refused_update_writes_nothing(self):
        self.nova_http.get(self.server_url, json=server_body(
            self.uuid, base.PROJECT))
        self.assertError(403, 'PATCH', self.path, 'drs:instance:update',
                         body={'opt_out': True}, headers=base.MEMBER)
        self.assertEqual(['GET'], [c[0] for c in self.nova_calls()])

    def test_nova_fault_is_a_503_and_one_warning(self):
        self.nova_http.get(self.server_url, status_code=500,
                           text='<html>\nboom\n</html>')
        self.assertError(503, 'GET', self.path, 'Nova',
                         headers=base.MEMBER)
        lines = self.log.output.splitlines()
        self.assertEqual(1, len(lines), lines)
        self.assertTrue(lines[0].startswith('WARNING Nova: read server'),
                        lines)
        self.assertNotIn('Traceback', self.log.output)


class TestNovaUnreachable(NovaCase):

    #: nothing listens on port 9 of the loopback (discard; closed here)
    nova_conf = 'endpoint_override = http://127.0.0.1:9/v2.1\n'
    real_http = True

    def test_one_warning_line_and_503(self):
        for _ in range(2):
            self.assertError(503, 'GET', self.path, 'cannot be reached',
                             headers=base.MEMBER)
        lines = self.log.output.splitlines()
        self.assertEqual(2, len(lines), lines)
        for line in lines:
            self.assertIn('Nova: read server %s failed' % self.uuid, line)
        self.assertNotIn('Traceback', self.log.output)
        self.assertNoServiceCredentials()


class TestNoauthWithoutEndpoint(NovaCase):

    nova_conf = ''

    def test_503_naming_the_option(self):
        self.assertError(503, 'GET', self.path, 'Nova',
                         headers=base.MEMBER)
        lines = self.log.output.splitlines()
        self.assertEqual(1, len(lines), lines)
        self.assertIn('endpoint_override', lines[0])
        self.assertEqual([], self.nova_http.request_history)


class TestKeystoneForwardsTheToken(NovaCase):
    """keystonemiddleware's own plugin: the caller's token and catalog."""

    # NOTE: keystonemiddleware's own credentials: its plugin adds their
    # token to the user's as X-Service-Token (keystone's service token
    # pattern; Nova still authorizes the user's token)
    nova_conf = ('valid_interfaces = public\nregion_name = RegionOne\n'
                 '[keystone_authtoken]\nwww_authenticate_uri = %s\n'
                 'auth_type = admin_token\nendpoint = %s\n'
                 'token = middleware-service-token\n'
                 % (KEYSTONE, KEYSTONE))

    def setUp(self):
        super().setUp()
        self.conf.set_override('auth_strategy', 'keystone', 'drs_api')
        self.tokens = self.useFixture(ksm_fixture.AuthTokenFixture())
        self.app = app_mod.create_app(self.conf, self.app.services)

    def token(self, project_id, *roles):
        token = ks_fixture.V3Token(user_id='user-1', project_id=project_id)
        for role in roles:
            token.add_role(name=role)
        service = token.add_service('compute', name='nova')
        service.add_standard_endpoints(public=NOVA, internal=NOVA,
                                       region='RegionOne')
        return self.tokens.add_token(token)

    def test_the_callers_token_reaches_nova(self):
        token = self.token('project-1', 'reader', 'member')
        self.nova_http.get(self.server_url, json=server_body(
            self.uuid, 'project-1'))
        status, data, _ = self.request('GET', self.path,
                                       headers={'X-Auth-Token': token})
        self.assertEqual(200, status, data)
        self.assertEqual(self.uuid, data['instance']['uuid'])
        self.assertEqual([('GET', self.server_url, token)],
                         self.nova_calls())
        call = [r for r in self.nova_http.request_history
                if r.url == self.server_url][0]
        self.assertEqual('middleware-service-token',
                         call.headers.get('X-Service-Token'))
        self.assertNoServiceCredentials()

    def test_another_projects_server_is_404(self):
        token = self.token('project-2', 'reader', 'member')
        self.nova_http.get(self.server_url, status_code=404, json={
            'itemNotFound': {'code': 404, 'message': 'not found'}})
        self.assertError(404, 'GET', self.path, 'Nova has no server',
                         headers={'X-Auth-Token': token})

    def test_project_admin_passes_the_cluster_rules(self):
        token = self.token('project-3', 'admin', 'member', 'reader')
        status, data, _ = self.request('GET', '/v1/hosts',
                                       headers={'X-Auth-Token': token})
        self.assertEqual(200, status, data)
        token = self.token('project-3', 'member', 'reader')
        self.assertError(403, 'GET', '/v1/hosts', 'drs:host:list',
                         headers={'X-Auth-Token': token})
