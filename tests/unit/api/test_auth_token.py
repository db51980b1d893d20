# SPDX-License-Identifier: Apache-2.0
"""``auth_strategy = keystone``: keystonemiddleware's real auth_token.

The middleware runs unchanged; only its token validation is replaced by
keystonemiddleware's own fixture, which knows the tokens added here.
"""

import uuid

from keystonemiddleware import fixture as ksm_fixture
from oslo_serialization import jsonutils
import webob

from tests.unit.api import base


class TestKeystoneAuth(base.ApiTestCase):

    extra_conf = ('[keystone_authtoken]\n'
                  'www_authenticate_uri = http://keystone.example/identity\n')

    def setUp(self):
        super().setUp()
        self.conf.set_override('auth_strategy', 'keystone', 'drs_api')
        self.tokens = self.useFixture(ksm_fixture.AuthTokenFixture())
        from nova_drs.api import app as app_mod
        self.app = app_mod.create_app(self.conf, self.app.services)

    def token(self, *roles):
        token_id = uuid.uuid4().hex
        self.tokens.add_token_data(
            token_id=token_id, user_id='user-1', project_id='project-1',
            role_list=list(roles))
        return token_id

    def get(self, path, token=None, extra=None):
        headers = dict(extra or {})
        if token:
            headers['X-Auth-Token'] = token
        resp = webob.Request.blank(path, headers=headers).get_response(
            self.app)
        body = jsonutils.loads(resp.body) if resp.body else None
        return resp, body

    def test_no_token_is_401(self):
        resp, body = self.get('/v1/hosts')
        self.assertEqual(401, resp.status_int)
        self.assertEqual(401, body['error']['code'])
        self.assertIn('keystone.example',
                      resp.headers['WWW-Authenticate'])
        self.assertEqual('drs 1.0', resp.headers['OpenStack-API-Version'])

    def test_unknown_token_is_401(self):
        resp, _ = self.get('/v1/hosts', token='not-a-token')
        self.assertEqual(401, resp.status_int)

    def test_valid_token_is_200(self):
        resp, body = self.get('/v1/hosts',
                              token=self.token('admin', 'member', 'reader'))
        self.assertEqual(200, resp.status_int, body)
        self.assertEqual({'hosts': [], 'links': []}, body)

    def test_token_roles_decide(self):
        # cluster-wide data: a project's members and readers get 403
        for roles in (('member', 'reader'), ('reader',), ()):
            resp, body = self.get('/v1/hosts', token=self.token(*roles))
            self.assertEqual(403, resp.status_int, roles)
            self.assertIn('drs:host:list', body['error']['message'])
        resp, _ = self.get('/v1/hosts', token=self.token('admin'))
        self.assertEqual(200, resp.status_int)

    def test_forged_role_headers_are_ignored(self):
        resp, _ = self.get('/v1/hosts', token=self.token('member'),
                           extra={'X-Roles': 'admin,reader'})
        self.assertEqual(403, resp.status_int)

    def test_version_documents_need_no_token(self):
        for path in ('/', '/v1', '/openapi.yaml'):
            resp, _ = self.get(path) if path != '/openapi.yaml' else (
                webob.Request.blank(path).get_response(self.app), None)
            self.assertEqual(200, resp.status_int, path)


class TestKeystoneUnreachable(base.ApiTestCase):
    """keystonemiddleware's 503 (HTML from webob) in the API's shape."""

    # NOTE: nothing listens on 127.0.0.1:9 (discard), so the middleware
    # cannot get its own token to validate the caller's
    extra_conf = ('[keystone_authtoken]\n'
                  'www_authenticate_uri = http://127.0.0.1:9/identity\n'
                  'auth_type = password\n'
                  'auth_url = http://127.0.0.1:9/identity/v3\n'
                  'username = nova-drs\npassword = secret\n'
                  'project_name = service\nuser_domain_id = default\n'
                  'project_domain_id = default\n'
                  'http_request_max_retries = 0\n')

    def setUp(self):
        super().setUp()
        self.conf.set_override('auth_strategy', 'keystone', 'drs_api')
        from nova_drs.api import app as app_mod
        self.app = app_mod.create_app(self.conf, self.app.services)

    def test_503_is_json(self):
        for accept in ('text/html', 'application/json', '*/*'):
            status, data, resp = self.request(
                'GET', '/v1/hosts',
                headers={'X-Auth-Token': 'some-token', 'Accept': accept})
            self.assertEqual(503, status, resp.text)
            self.assertEqual('application/json', resp.content_type)
            self.assertEqual({'code': 503, 'title': 'Service Unavailable',
                              'message': 'The identity service (Keystone) '
                                         'cannot validate the token now; '
                                         'try again later.'},
                             data['error'])
