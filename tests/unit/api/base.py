# SPDX-License-Identifier: Apache-2.0
"""The API application in process, on a SQLite database, with fakes.

Nova (openstacksdk) and the tooz group are faked at their module boundary
(:class:`FakeNova`, :class:`FakeReplicas`); the database is real. Every
JSON answer is checked against the OpenAPI document.
"""

import os
import uuid

import fixtures
from oslo_serialization import jsonutils
from oslotest import base
import webob

from nova_drs.api import app as app_mod
from nova_drs.api import errors
from nova_drs.api import services
from nova_drs import config
from nova_drs.db import api as db_api
from nova_drs.db import migration
from tests.unit.api import openapi_check
from tests.unit.db import base as db_base

ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'admin-project',
         'X-User-Id': 'admin-user'}
MEMBER = {'X-Roles': 'member', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'member-user'}
READER = {'X-Roles': 'reader', 'X-Project-Id': 'demo-project',
          'X-User-Id': 'reader-user'}
SYSTEM_ADMIN = {'X-Roles': 'admin', 'OpenStack-System-Scope': 'all',
                'X-User-Id': 'system-admin'}

_CHECKER = None


def checker():
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = openapi_check.ResponseChecker()
    return _CHECKER


class FakeServer:
    def __init__(self, server_id, host='host-1', metadata=None):
        self.id = server_id
        self.compute_host = host
        self.metadata = dict(metadata or {})


class FakeNova:
    """:class:`nova_drs.api.nova_servers.NovaServers` without Nova."""

    def __init__(self):
        self.servers = {}
        self.down = False
        self.updates = []

    def add(self, host='host-1', metadata=None):
        server = FakeServer(str(uuid.uuid4()), host, metadata)
        self.servers[server.id] = server
        return server

    def get(self, server_id):
        if self.down:
            raise errors.ServiceUnavailable('Nova is down (fake)')
        server = self.servers.get(server_id)
        if server is None:
            return None
        # a copy, as Nova returns a new object each time
        return FakeServer(server.id, server.compute_host, server.metadata)

    def update_metadata(self, server, set_items, delete_keys):
        self.updates.append((server.id, dict(set_items), list(delete_keys)))
        stored = self.servers[server.id].metadata
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
