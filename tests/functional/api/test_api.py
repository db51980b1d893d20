# SPDX-License-Identifier: Apache-2.0
"""The API over HTTP: a real ``nova-drs-api`` server and a real database.

:class:`ApiServerTests` runs against SQLite (:class:`TestApiSqlite`) and
MariaDB (:class:`TestApiMySQL`); the database is filled through
:class:`nova_drs.db.api.Database`, as the balancer fills it. Each answer is
validated against the OpenAPI document.
"""

import json
import os
import socket
import uuid

import fixtures
from oslotest import base as oslo_base

from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer import plan_states
from nova_drs import config
from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.api import base
from tests.functional.db import base as db_fbase
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

A = base.ADMIN


class ApiServerTests(object):
    """A mixin; needs ``self.database_url()`` (migrated, empty)."""

    def setUp(self):
        super().setUp()
        url = self.database_url()
        self.db = db_api.Database(connection=url)
        self.addCleanup(self.db.dispose)
        self.server = self.useFixture(base.ApiServer(url))
        self.call = self.server.call
        self.db.save_host_states([
            test_host_states.host_state('host-1', hot=['cpu', 'memory']),
            test_host_states.host_state('host-2', stale=True),
            test_host_states.host_state('host-3')], 'replica-a')
        self.plan = self.db.create_plan(
            db_base.make_plan(2, source='host-1', target='host-3'),
            models.ORIGIN_HOTSPOT, 'replica-a')

    def test_versions(self):
        status, data, resp = self.call('GET', '/')
        self.assertEqual(200, status)
        self.assertEqual(self.server.url + '/v1',
                         data['versions'][0]['links'][0]['href'])
        self.assertEqual('drs 1.0', resp.headers['OpenStack-API-Version'])
        self.assertEqual('OpenStack-API-Version', resp.headers['Vary'])
        status, data, _ = self.call('GET', '/v1')
        self.assertEqual('v1', data['version']['id'])
        status, _, resp = self.call('GET', '/openapi.yaml')
        self.assertEqual(200, status)
        self.assertIn('openapi: 3.0', resp.text)

    def test_hosts(self):
        status, data, _ = self.call('GET', '/v1/hosts', headers=A)
        self.assertEqual(200, status)
        self.assertEqual(['host-1', 'host-2', 'host-3'],
                         [h['name'] for h in data['hosts']])
        self.assertEqual(['cpu', 'memory'], data['hosts'][0]['hot'])
        _, data, _ = self.call('GET', '/v1/hosts?hot=true', headers=A)
        self.assertEqual(['host-1'], [h['name'] for h in data['hosts']])
        _, data, _ = self.call('GET', '/v1/hosts?stale=true', headers=A)
        self.assertEqual(['host-2'], [h['name'] for h in data['hosts']])
        _, data, _ = self.call('GET', '/v1/hosts?limit=2', headers=A)
        status, data, _ = self.call(
            'GET', data['links'][0]['href'][len(self.server.url):],
            headers=A)
        self.assertEqual(['host-3'], [h['name'] for h in data['hosts']])
        status, data, _ = self.call('GET', '/v1/hosts/host-3', headers=A)
        self.assertEqual(0, data['host']['reserved_migrations'])
        self.assertEqual(404, self.call('GET', '/v1/hosts/nope',
                                        headers=A)[0])

    def test_plans_apply_and_cancel(self):
        path = '/v1/plans/' + self.plan.uuid
        status, data, _ = self.call('GET', '/v1/plans', headers=A)
        self.assertEqual([self.plan.uuid], [p['uuid'] for p in data['plans']])
        status, data, _ = self.call('GET', path, headers=A)
        self.assertEqual(2, len(data['plan']['actions']))
        status, data, _ = self.call('POST', path + '/apply', headers=A)
        self.assertEqual(200, status, data)
        self.assertEqual('applying', data['plan']['state'])
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(self.plan.uuid).state)
        # the destinations are now reserved
        _, data, _ = self.call('GET', '/v1/hosts/host-3', headers=A)
        self.assertEqual(2, data['host']['reserved_migrations'])
        status, data, _ = self.call('POST', path + '/apply', headers=A)
        self.assertEqual(409, status)
        status, data, _ = self.call('POST', path + '/cancel', headers=A)
        self.assertEqual(200, status)
        self.assertEqual('cancelled', data['plan']['state'])
        self.assertEqual(409, self.call('POST', path + '/cancel',
                                        headers=A)[0])

    def test_plan_and_evacuation_requests(self):
        status, data, _ = self.call('POST', '/v1/plans',
                                    json={'strategy': 'balance'}, headers=A)
        self.assertEqual(202, status, data)
        request = data['plan_request']
        self.assertEqual(('plan', 'balance', 'pending', 'admin-user'),
                         (request['kind'], request['strategy'],
                          request['state'], request['created_by']))
        # a replica answers it
        self.assertTrue(self.db.claim_plan_request(request['uuid'], 'r1'))
        plan = self.db.create_plan(db_base.make_plan(1),
                                   models.ORIGIN_OPERATOR, 'r1')
        self.assertTrue(self.db.finish_plan_request(request['uuid'], 'r1',
                                                    plan_uuid=plan.uuid))
        status, data, _ = self.call(
            'GET', '/v1/plan-requests/' + request['uuid'], headers=A)
        self.assertEqual('done', data['plan_request']['state'])
        self.assertEqual(plan.uuid, data['plan_request']['plan_uuid'])
        status, data, _ = self.call('POST', '/v1/hosts/host-1/evacuate',
                                    json={'apply': False}, headers=A)
        self.assertEqual(202, status)
        row = self.db.get_plan_request(data['plan_request']['uuid'])
        self.assertEqual(('evacuation', 'host-1', False),
                         (row.kind, row.host, row.apply))
        status, data, _ = self.call('POST', '/v1/plans',
                                    json={'strategy': 'nope'}, headers=A)
        self.assertEqual(400, status)

    def test_migrations(self):
        self.db.transition_plan(self.plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'u')
        first = self.db.list_actions(plan_uuid=self.plan.uuid)[0]
        self.db.start_action(first.uuid, 'replica-a')
        self.db.finish_action(first.uuid, 'replica-a',
                              plan_states.ACTION_COMPLETED, nova_status='done')
        status, data, _ = self.call('GET', '/v1/migrations?state=completed',
                                    headers=A)
        self.assertEqual([first.uuid],
                         [m['uuid'] for m in data['migrations']])
        _, data, _ = self.call('GET', '/v1/migrations?host=host-3&limit=1',
                               headers=A)
        self.assertEqual(1, len(data['migrations']))
        self.assertEqual('next', data['links'][0]['rel'])
        status, data, _ = self.call('GET', '/v1/migrations/' + first.uuid,
                                    headers=A)
        self.assertEqual('done', data['migration']['nova_status'])

    def test_status_with_a_real_replica(self):
        conf = config.load()
        conf.set_override('backend_url', 'file://%s'
                          % self.server.coordination_dir, 'drs_coordination')
        conf.set_override('replica_id', 'replica-a', 'drs_coordination')
        conf.set_override('heartbeat_interval', 0.2, 'drs_coordination')
        replica = coordination.Coordinator(conf).start()
        self.addCleanup(replica.stop)
        self.assertTrue(replica.wait_active(10))
        status, data, _ = self.call('GET', '/v1/status', headers=A)
        self.assertEqual(200, status, data)
        body = data['status']
        self.assertEqual(['replica-a'], [r['id'] for r in body['replicas']])
        hosts = ['host-1', 'host-2', 'host-3']
        self.assertEqual(sorted(replica.owned_hosts(hosts)),
                         body['replicas'][0]['hosts'])
        self.assertEqual((3, 1, 1, 1),
                         (body['hosts'], body['hot_hosts'],
                          body['stale_hosts'], body['plans_recommended']))

    def test_projects_get_no_cluster_data(self):
        # hosts, plans, migrations (every project's instances), status:
        # admins only, as Nova's hypervisors and migrations
        for headers in (base.READER, base.MEMBER):
            for path in ('/v1/hosts', '/v1/hosts/host-1', '/v1/plans',
                         '/v1/plans/' + self.plan.uuid, '/v1/migrations',
                         '/v1/status'):
                status, data, _ = self.call('GET', path, headers=headers)
                self.assertEqual(403, status, (path, data))
                self.assertIn('policy does not allow',
                              data['error']['message'])
            for method, path, body in (
                    ('POST', '/v1/plans', {}),
                    ('POST', '/v1/plans/%s/apply' % self.plan.uuid, None),
                    ('POST', '/v1/plans/%s/cancel' % self.plan.uuid, None),
                    ('POST', '/v1/hosts/host-1/evacuate', {})):
                status, data, _ = self.call(method, path, json=body,
                                            headers=headers)
                self.assertEqual(403, status, (method, path, data))
                self.assertIn('policy does not allow',
                              data['error']['message'])
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(self.plan.uuid).state)
        self.assertEqual([], self.db.list_plan_requests())

    def test_system_scoped_admin_reads_cluster_data(self):
        headers = {'X-Roles': 'admin', 'OpenStack-System-Scope': 'all',
                   'X-User-Id': 'cloud-admin'}
        for path in ('/v1/hosts', '/v1/plans', '/v1/migrations'):
            status, data, _ = self.call('GET', path, headers=headers)
            self.assertEqual(200, status, (path, data))

    def test_chunked_dry_run_stays_dry(self):
        # the body arrives in chunks (requests sends a generator so):
        # the development server de-chunks it, and apply false is kept
        def body():
            yield b'{"apply": '
            yield b'false}'
        status, data, resp = self.call(
            'POST', '/v1/hosts/host-1/evacuate', data=body(),
            headers=dict(A, **{'Content-Type': 'application/json'}))
        self.assertEqual('chunked', resp.request.headers.get(
            'Transfer-Encoding'))
        self.assertEqual(202, status, data)
        self.assertFalse(data['plan_request']['apply'])
        (row,) = self.db.list_plan_requests()
        self.assertFalse(row.apply)

    def test_deep_json_is_400(self):
        status, data, _ = self.call(
            'POST', '/v1/plans', data=b'[' * 5000 + b']' * 5000,
            headers=dict(A, **{'Content-Type': 'application/json'}))
        self.assertEqual(400, status, data)
        self.assertIn('deep', data['error']['message'])
        self.assertNotIn('Traceback', self.server.log())

    def raw(self, request, half_close=False):
        """Send raw bytes; (status, headers text, body) of the answer.

        :param half_close: say the request ends after the bytes sent
        """
        host, port = self.server.url[len('http://'):].split(':')
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(request)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            answer = b''
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        head, _sep, body = answer.partition(b'\r\n\r\n')
        status = int(head.split(b' ', 2)[1])
        return status, head.decode('latin-1'), body

    def test_server_errors_are_json(self):
        # what the WSGI server itself refuses: a malformed request line, a
        # header line over 64 KiB, a request line over 64 KiB
        for request, code in (
                (b'GET /v1 /v1/hosts HTTP/1.1\r\n\r\n', 400),
                (b'GET /v1/hosts HTTP/9.9\r\n\r\n', 505),
                (b'GET /v1/hosts HTTP/1.1\r\nX-Big: ' + b'x' * 70000 +
                 b'\r\n\r\n', 431),
                (b'GET /' + b'x' * 70000 + b' HTTP/1.1\r\n\r\n', 414)):
            status, head, body = self.raw(request)
            self.assertEqual(code, status, head)
            self.assertIn('Content-Type: application/json', head)
            error = json.loads(body)['error']
            self.assertEqual(code, error['code'])
            base.checker().check('GET', '/nowhere', status,
                                 json.loads(body))
        self.assertNotIn('Traceback', self.server.log())

    def test_a_body_cut_short_applies_nothing(self):
        # the client stops sending before Content-Length bytes came
        status, head, body = self.raw(
            b'POST /v1/hosts/host-1/evacuate HTTP/1.1\r\nHost: x\r\n'
            b'X-Roles: admin\r\nX-Project-Id: p\r\nX-User-Id: u\r\n'
            b'Content-Type: application/json\r\n'
            b'Content-Length: 100\r\n\r\n{"apply": fal', half_close=True)
        self.assertEqual(400, status, head)
        self.assertIn('could not be read', json.loads(body)['error'][
            'message'])
        self.assertEqual([], self.db.list_plan_requests())

    def test_bad_requests(self):
        for method, path, body, headers, code in (
                ('GET', '/v1/plans/not-a-uuid', None, A, 400),
                ('GET', '/v1/plans?state=sleeping', None, A, 400),
                ('GET', '/v1/hosts?hot=maybe', None, A, 400),
                ('GET', '/v1/migrations?limit=-1', None, A, 400),
                ('GET', '/v1/hosts/unknown-host', None, A, 404),
                ('POST', '/v1/plans', {'strategy': 7}, A, 400),
                ('POST', '/v1/plans', {'extra': 1}, A, 400),
                ('PATCH', '/v1/instances/%s' % uuid.uuid4(), {}, A, 400),
                ('GET', '/v1/hosts', None,
                 dict(A, **{'OpenStack-API-Version': 'drs 9.9'}), 406),
                ('GET', '/v1/hosts', None,
                 dict(A, **{'OpenStack-API-Version': 'drs x'}), 400),
                ('DELETE', '/v1/hosts', None, A, 405),
                ('GET', '/v2', None, A, 404)):
            status, data, resp = self.call(method, path, json=body,
                                           headers=headers)
            self.assertEqual(code, status, (method, path, data))
            self.assertEqual(code, data['error']['code'])
            self.assertNotIn('Traceback', resp.text)
        self.assertNotIn('Traceback', self.server.log())


class TestDatabaseUnreachable(oslo_base.BaseTestCase):
    """No database server: a 503 at once, one warning line each."""

    def test_503_and_one_warning_line(self):
        # NOTE: nothing listens on 127.0.0.1:9 (discard); the password
        # must not reach the log
        server = self.useFixture(base.ApiServer(
            'mysql+pymysql://nova_drs:db-s3cret@127.0.0.1:9/nova_drs'))
        for path in ('/v1/hosts', '/v1/plans', '/v1/status'):
            status, data, _ = server.call('GET', path, headers=A)
            self.assertEqual(503, status, data)
            self.assertIn('database', data['error']['message'])
        log = server.log()
        self.assertNotIn('Traceback', log)
        self.assertNotIn('db-s3cret', log)
        # (no "SQL connection failed. N attempts left": a request does
        # not wait for [drs_database] max_retries attempts)
        warnings = [line for line in log.splitlines() if ' WARNING ' in line
                    and 'noauth' not in line]
        self.assertEqual(3, len(warnings), warnings)
        for line in warnings:
            self.assertIn('The database cannot be reached', line)


class TestApiSqlite(ApiServerTests, oslo_base.BaseTestCase):

    def database_url(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        return url


class TestApiMySQL(ApiServerTests, oslo_base.BaseTestCase):

    def database_url(self):
        backend = db_fbase.Backend.get('mysql')
        ident, url = backend.create_database()
        self.addCleanup(backend.drop_database, ident)
        migration.upgrade(None, connection=url)
        return url
