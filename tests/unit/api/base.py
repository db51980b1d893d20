# SPDX-License-Identifier: Apache-2.0
"""The API application in process, on a SQLite database, with fakes.

Nova (openstacksdk) and the tooz group are faked at their module boundary
(:class:`FakeNova`, :class:`FakeReplicas`); the database is real. Every
JSON answer is checked against the OpenAPI document.

The personas send the identity headers the ``noauth`` strategy trusts and
an ``X-Auth-Token`` (which the API forwards to Nova: :class:`FakeNova`
shows each caller what Nova would, by project).
"""

import os
import uuid

import fixtures
from oslo_context import context as oslo_context
from oslo_serialization import jsonutils
from oslotest import base
import webob

from nova_drs.api import app as app_mod
from nova_drs.api.controllers import instances
from nova_drs.api import errors
from nova_drs.api import services
from nova_drs import config
from nova_drs.db import api as db_api
from nova_drs.db import migration
from tests.unit.api import openapi_check
from tests.unit.db import base as db_base

ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'admin-project',
         'X-User-Id': 'admin-user', 'X-Auth-Token': 'admin-token'}
MEMBER = {'X-Roles': 'member', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'member-user', 'X-Auth-Token': 'member-token'}
READER = {'X-Roles': 'reader', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'reader-user', 'X-Auth-Token': 'reader-token'}
OTHER_MEMBER = {'X-Roles': 'member', 'X-Project-Id': 'other-project',
                'X-User-Id': 'other-user', 'X-Auth-Token': 'other-token'}
SYSTEM_ADMIN = {'X-Roles': 'admin', 'OpenStack-System-Scope': 'all',
                'X-User-Id': 'system-admin', 'X-Auth-Token': 'system-token'}
NO_ROLE = {'X-Project-Id': 'demo-project', 'X-User-Id': 'nobody',
           'X-Auth-Token': 'nobody-token'}
#: the project and user of the servers FakeNova adds by default
PROJECT = MEMBER['X-Project-Id']
OWNER = MEMBER['X-User-Id']

_CHECKER = None


def checker():
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = openapi_check.ResponseChecker()
    return _CHECKER


class FakeServer:
    """A Nova server as openstacksdk returns it."""

    def __init__(self, server_id, host='host-1', metadata=None,
                 project_id=PROJECT, user_id=OWNER, shows_host=True):
        self.id = server_id
        self.project_id = project_id
        self.user_id = user_id
        self.metadata = dict(metadata or {})
        self.host = host
        # Nova shows everyone the hashed host, its name to admins only
        self.host_id = instances.host_id(project_id, host) if host else ''
        self.compute_host = host if shows_host else None


class FakeNova:
    """:class:`nova_drs.api.nova_servers.NovaServers` without Nova.

    As Nova does with the caller's token: an admin sees every server and
    its host; anyone else the servers of its own project, without host.
    """

    def __init__(self):
        self.servers = {}
        self.down = False
        self.updates = []
        #: the tokens the API called Nova with
        self.tokens = []
        #: how many callers' connections the API closed
        self.closed = 0

    def add(self, host='host-1', metadata=None, project_id=PROJECT,
            user_id=OWNER):
        server = FakeServer(str(uuid.uuid4()), host, metadata, project_id,
                            user_id)
        self.servers[server.id] = server
        return server

    def as_caller(self, environ):
        token = environ.get('HTTP_X_AUTH_TOKEN')
        if not token:
            raise errors.Unauthorized('no X-Auth-Token (fake)')
        self.tokens.append(token)
        return FakeCallerNova(
            self, oslo_context.RequestContext.from_environ(environ))


class FakeCallerNova:
    def __init__(self, nova, context):
        self.nova = nova
        self.context = context
        self.admin = 'admin' in context.roles

    def get(self, server_id):
        if self.nova.down:
            raise errors.ServiceUnavailable('Nova is down (fake)')
        server = self.nova.servers.get(server_id)
        if server is None or not (
                self.admin or server.project_id == self.context.project_id):
            return None
        # a copy, as Nova returns a new object each time
        return FakeServer(server.id, server.host, server.metadata,
                          server.project_id, server.user_id,
                          shows_host=self.admin)

    def close(self):
        self.nova.closed += 1

    def update_metadata(self, server, set_items, delete_keys):
        self.nova.updates.append((server.id, dict(set_items),
                                  list(delete_keys)))
        stored = self.nova.servers[server.id].metadata
        stored.update(set_items)
        for key in delete_keys:
            stored.pop(key, None)


class FakeReplicas:
    def __init__(self, members=()):
        self.list = list(members)
        self.down = False

    def members(self):
        if self.down:
            raise errors.ServiceUnavailable('tooz is down (fake)')
        return sorted(self.list)

    def close(self):
        pass


class ApiTestCase(base.BaseTestCase):
    """``self.app`` (noauth) on ``self.db``; :meth:`request` calls it."""

    extra_conf = ''

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(self.tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[drs_api]\nauth_strategy = noauth\n'
                    '[drs_database]\nconnection = %s\n%s'
                    % (url, self.extra_conf))
        self.conf = config.load([path])
        self.clock = db_base.FakeClock()
        self.db = db_api.Database(self.conf, clock=self.clock)
        self.addCleanup(self.db.dispose)
        self.nova = FakeNova()
        self.replicas = FakeReplicas()
        self.app = app_mod.create_app(self.conf, services.Services(
            self.conf, db=self.db, nova=self.nova, replicas=self.replicas))

    def request(self, method, path, body=None, headers=None, raw=None,
                content_type='application/json', check=True):
        """(status, decoded JSON or None, response)."""
        req = webob.Request.blank(path, method=method,
                                  headers=dict(headers or {}))
        if body is not None:
            req.body = jsonutils.dump_as_bytes(body)
            req.content_type = content_type
        elif raw is not None:
            req.body = raw
            req.content_type = content_type
        resp = req.get_response(self.app)
        data = None
        if resp.content_type == 'application/json':
            data = jsonutils.loads(resp.body)
            if check:
                checker().check(method, path, resp.status_int, data)
        self.assertIn('drs ', resp.headers.get('OpenStack-API-Version', ''))
        self.assertEqual('OpenStack-API-Version', resp.headers.get('Vary'))
        return resp.status_int, data, resp

    def assertError(self, code, method, path, in_message='', **kwargs):
        status, data, resp = self.request(method, path, **kwargs)
        self.assertEqual(code, status, data)
        self.assertEqual(code, data['error']['code'])
        self.assertEqual(errors.title(code), data['error']['title'])
        self.assertIn(in_message, data['error']['message'])
        self.assertNotIn('Traceback', resp.text)
        return data['error']['message']
