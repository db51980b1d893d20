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
                              token=self.token('reader'))
        self.assertEqual(200, resp.status_int, body)
        self.assertEqual({'hosts': [], 'links': []}, body)

    def test_token_roles_decide(self):
        resp, _ = self.get('/v1/hosts', token=self.token('member'))
        self.assertEqual(403, resp.status_int)
        resp, _ = self.get('/v1/hosts', token=self.token('reader',
                                                         'member'))
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
