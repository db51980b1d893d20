# SPDX-License-Identifier: Apache-2.0
"""Every resource of the API, in process, on a real SQLite database."""

import datetime
import os
import types
import uuid

import testtools
import webob

from nova_drs.api.controllers import hosts as hosts_controller
from nova_drs.balancer import plan_states
from nova_drs.db import models
from tests.unit.api import base
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

A = base.ADMIN


class TestHosts(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.db.save_host_states([
            test_host_states.host_state('host-1', hot=['cpu']),
            test_host_states.host_state('host-2', stale=True),
            test_host_states.host_state('host-3')], 'replica-a')

    def test_list(self):
        status, data, _ = self.request('GET', '/v1/hosts', headers=A)
        self.assertEqual(200, status)
        self.assertEqual(['host-1', 'host-2', 'host-3'],
                         [h['name'] for h in data['hosts']])
        self.assertEqual([], data['links'])
        one = data['hosts'][0]
        self.assertEqual(['cpu'], one['hot'])
        self.assertEqual('replica-a', one['reported_by'])
        self.assertEqual('2026-01-01T12:00:00.250000Z', one['updated_at'])
        self.assertEqual('2026-01-01T12:00:00.500000Z', one['sampled_at'])
        self.assertEqual(0.25, one['load']['cpu'])
        self.assertEqual(0.125, one['smoothed']['cpu'])
        self.assertEqual(16, one['cpu_count'])
        self.assertEqual(3, one['guest_count'])
        self.assertFalse(one['stale'])
        self.assertEqual(0, one['reserved_migrations'])

    def test_filters(self):
        def names(query):
            status, data, _ = self.request('GET', '/v1/hosts?' + query,
                                           headers=A)
            self.assertEqual(200, status, data)
            return [h['name'] for h in data['hosts']]
        self.assertEqual(['host-1'], names('hot=true'))
        self.assertEqual(['host-2', 'host-3'], names('hot=false'))
        self.assertEqual(['host-2'], names('stale=true'))
        self.assertEqual(['host-1', 'host-3'], names('stale=false'))
        self.assertEqual(['host-3'], names('stale=false&hot=false'))

    def test_old_rows_are_stale(self):
        self.clock.advance(self.conf.drs_api.host_stale_after + 1)
        status, data, _ = self.request('GET', '/v1/hosts?stale=true',
                                       headers=A)
        self.assertEqual(3, len(data['hosts']))

    def test_paging(self):
        status, data, _ = self.request('GET', '/v1/hosts?limit=2',
                                       headers=A)
        self.assertEqual(['host-1', 'host-2'],
                         [h['name'] for h in data['hosts']])
        self.assertEqual('next', data['links'][0]['rel'])
        href = data['links'][0]['href']
        self.assertTrue(href.startswith('http://localhost/v1/hosts?'), href)
        status, data, _ = self.request(
            'GET', href[len('http://localhost'):], headers=A)
        self.assertEqual(['host-3'], [h['name'] for h in data['hosts']])
        self.assertEqual([], data['links'])
        self.assertError(400, 'GET', '/v1/hosts?marker=nope', 'marker',
                         headers=A)

    def test_limit_is_bounded(self):
        self.conf.set_override('max_limit', 1, 'drs_api')
        status, data, _ = self.request('GET', '/v1/hosts?limit=50',
                                       headers=A)
        self.assertEqual(1, len(data['hosts']))
        self.assertIn('limit=1', data['links'][0]['href'])

    def test_public_endpoint_in_links(self):
        self.conf.set_override('public_endpoint', 'https://cloud/drs/',
                               'drs_api')
        _, data, _ = self.request('GET', '/v1/hosts?limit=1', headers=A)
        self.assertTrue(data['links'][0]['href'].startswith(
            'https://cloud/drs/v1/hosts?'))
        _, data, _ = self.request('GET', '/')
        self.assertEqual('https://cloud/drs/v1',
                         data['versions'][0]['links'][0]['href'])

    def test_show_with_reservations(self):
        plan = self.db.create_plan(db_base.make_plan(2, target='host-3'),
                                   models.ORIGIN_OPERATOR, 'u')
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'u')
        status, data, _ = self.request('GET', '/v1/hosts/host-3', headers=A)
        self.assertEqual(200, status)
        self.assertEqual(2, data['host']['reserved_migrations'])
        self.assertError(404, 'GET', '/v1/hosts/host-9', 'host-9',
                         headers=A)

    def test_evacuate(self):
        status, data, _ = self.request('POST', '/v1/hosts/host-2/evacuate',
                                       headers=A)
        self.assertEqual(202, status)
        request = data['plan_request']
        self.assertEqual('evacuation', request['kind'])
        self.assertEqual('host-2', request['host'])
        self.assertTrue(request['apply'])
        self.assertEqual('pending', request['state'])
        self.assertEqual('admin-user', request['created_by'])
        row = self.db.get_plan_request(request['uuid'])
        self.assertEqual('host-2', row.host)
        status, data, _ = self.request('POST', '/v1/hosts/host-2/evacuate',
                                       body={'apply': False}, headers=A)
        self.assertFalse(data['plan_request']['apply'])
        self.assertError(404, 'POST', '/v1/hosts/nope/evacuate', 'nope',
                         headers=A)
        self.assertError(400, 'POST', '/v1/hosts/host-2/evacuate', 'apply',
                         body={'apply': 'yes'}, headers=A)


class TestPlans(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.old = self.db.create_plan(db_base.make_plan(2),
                                       models.ORIGIN_HOTSPOT, 'replica-a')
        self.clock.advance(10)
        self.new = self.db.create_plan(db_base.make_plan(1, source='host-3'),
                                       models.ORIGIN_OPERATOR, 'replica-b')

    def test_list_newest_first(self):
        status, data, _ = self.request('GET', '/v1/plans', headers=A)
        self.assertEqual(200, status)
        self.assertEqual([self.new.uuid, self.old.uuid],
                         [p['uuid'] for p in data['plans']])
        self.assertNotIn('actions', data['plans'][0])
        _, data, _ = self.request('GET', '/v1/plans?origin=hotspot',
                                  headers=A)
        self.assertEqual([self.old.uuid], [p['uuid'] for p in data['plans']])
        _, data, _ = self.request('GET', '/v1/plans?limit=1', headers=A)
        self.assertEqual([self.new.uuid], [p['uuid'] for p in data['plans']])
        self.assertIn('marker=' + self.new.uuid, data['links'][0]['href'])
        _, data, _ = self.request(
            'GET', '/v1/plans?limit=1&marker=' + self.new.uuid, headers=A)
        self.assertEqual([self.old.uuid], [p['uuid'] for p in data['plans']])
        self.assertError(400, 'GET', '/v1/plans?marker=' + str(uuid.uuid4()),
                         'marker', headers=A)

    def test_show(self):
        status, data, _ = self.request('GET', '/v1/plans/' + self.old.uuid,
                                       headers=A)
        plan = data['plan']
        self.assertEqual('hotspot', plan['origin'])
        self.assertEqual('recommended', plan['state'])
        self.assertEqual(0.0421875, plan['decision_s'])
        self.assertEqual(2, len(plan['actions']))
        self.assertEqual('host-1', plan['actions'][0]['source'])
        self.assertError(404, 'GET', '/v1/plans/' + str(uuid.uuid4()),
                         'not found', headers=A)
        # upper-case uuids name the same plan
        status, _, _ = self.request('GET', '/v1/plans/'
                                    + self.old.uuid.upper(), headers=A)
        self.assertEqual(200, status)

    def test_apply_then_cancel(self):
        status, data, _ = self.request(
            'POST', '/v1/plans/%s/apply' % self.new.uuid, headers=A)
        self.assertEqual(200, status, data)
        self.assertEqual('applying', data['plan']['state'])
        events = self.db.list_events(object_uuid=self.new.uuid)
        self.assertEqual('admin-user', events[-1].actor)
        message = self.assertError(
            409, 'POST', '/v1/plans/%s/apply' % self.new.uuid, 'applying',
            headers=A)
        self.assertIn('recommended', message)
        status, data, _ = self.request(
            'POST', '/v1/plans/%s/cancel' % self.new.uuid, body={},
            headers=A)
        self.assertEqual(200, status)
        self.assertEqual('cancelled', data['plan']['state'])
        self.assertEqual(['cancelled'],
                         [a['state'] for a in data['plan']['actions']])
        self.assertError(409, 'POST', '/v1/plans/%s/cancel' % self.new.uuid,
                         'cancelled', headers=A)
        self.assertError(404, 'POST', '/v1/plans/%s/apply' % uuid.uuid4(),
                         headers=A)
        self.assertError(400, 'POST', '/v1/plans/%s/apply' % self.old.uuid,
                         'unknown body', body={'force': True}, headers=A)

    def test_create(self):
        status, data, _ = self.request('POST', '/v1/plans', headers=A)
        self.assertEqual(202, status)
        self.assertEqual('plan', data['plan_request']['kind'])
        self.assertEqual('hotspot', data['plan_request']['strategy'])
        self.assertFalse(data['plan_request']['apply'])
        status, data, _ = self.request('POST', '/v1/plans',
                                       body={'strategy': 'balance'},
                                       headers=A)
        self.assertEqual('balance', data['plan_request']['strategy'])
        message = self.assertError(400, 'POST', '/v1/plans', 'installed',
                                   body={'strategy': 'magic'}, headers=A)
        self.assertIn('hotspot', message)
        self.assertError(400, 'POST', '/v1/plans', 'valid JSON',
                         raw=b'{"strategy":', headers=A)
        self.assertError(415, 'POST', '/v1/plans', 'application/json',
                         raw=b'strategy=hotspot',
                         content_type='application/x-www-form-urlencoded',
                         headers=A)
        self.assertError(400, 'POST', '/v1/plans', 'larger',
                         raw=b'{"strategy": "%s"}' % (b'x' * 70000),
                         headers=A)


class TestPlanRequests(base.ApiTestCase):

    def test_show_and_microversions(self):
        request = self.db.create_plan_request(models.REQUEST_PLAN, 'u',
                                              strategy='hotspot')
        path = '/v1/plan-requests/' + request.uuid
        self.db.claim_plan_request(request.uuid, 'replica-a')
        _, data, resp = self.request('GET', path, headers=A)
        self.assertEqual('pending', data['plan_request']['state'])
        self.assertNotIn('claimed_by', data['plan_request'])
        self.assertEqual('drs 1.0', resp.headers['OpenStack-API-Version'])
        headers = dict(A, **{'OpenStack-API-Version': 'drs 1.1'})
        _, data, resp = self.request('GET', path, headers=headers)
        self.assertEqual('claimed', data['plan_request']['state'])
        self.assertEqual('replica-a', data['plan_request']['claimed_by'])
        self.assertEqual('drs 1.1', resp.headers['OpenStack-API-Version'])
        plan = self.db.create_plan(db_base.make_plan(1),
                                   models.ORIGIN_OPERATOR, 'replica-a')
        self.db.finish_plan_request(request.uuid, 'replica-a',
                                    plan_uuid=plan.uuid)
        _, data, _ = self.request('GET', path, headers=A)
        self.assertEqual('done', data['plan_request']['state'])
        self.assertEqual(plan.uuid, data['plan_request']['plan_uuid'])
        self.assertError(404, 'GET', '/v1/plan-requests/%s' % uuid.uuid4(),
                         headers=A)


class TestMigrations(base.ApiTestCase):

    def test_list_filters_and_show(self):
        plan = self.db.create_plan(db_base.make_plan(2, target='host-5'),
                                   models.ORIGIN_OPERATOR, 'u')
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'u')
        first, second = self.db.list_actions(plan_uuid=plan.uuid)
        self.db.start_action(first.uuid, 'replica-a')
        self.db.set_migration(first.uuid, 'replica-a', 42,
                              migration_uuid=str(uuid.uuid4()))
        self.clock.advance(12.5)
        self.db.finish_action(first.uuid, 'replica-a',
                              plan_states.ACTION_FAILED,
                              error='Nova: no valid host',
                              nova_status='error')
        _, data, _ = self.request('GET', '/v1/migrations', headers=A)
        self.assertEqual([first.uuid, second.uuid],
                         [m['uuid'] for m in data['migrations']])
        _, data, _ = self.request('GET', '/v1/migrations?state=failed',
                                  headers=A)
        (failed,) = data['migrations']
        self.assertEqual(12.5, failed['duration_s'])
        self.assertEqual(42, failed['migration_id'])
        self.assertEqual('Nova: no valid host', failed['error'])
        self.assertEqual('replica-a', failed['owner'])
        for query, count in (('host=host-5', 2), ('host=host-9', 0),
                             ('instance=' + second.instance_uuid, 1),
                             ('plan=' + plan.uuid, 2),
                             ('plan=' + str(uuid.uuid4()), 0),
                             ('limit=1&marker=' + first.uuid, 1)):
            _, data, _ = self.request('GET', '/v1/migrations?' + query,
                                      headers=A)
            self.assertEqual(count, len(data['migrations']), query)
        _, data, _ = self.request('GET', '/v1/migrations/' + first.uuid,
                                  headers=A)
        self.assertEqual('failed', data['migration']['state'])
        self.assertError(404, 'GET', '/v1/migrations/%s' % uuid.uuid4(),
                         headers=A)
        self.assertError(400, 'GET', '/v1/migrations?instance=abc', 'UUID',
                         headers=A)
        self.assertError(400, 'GET', '/v1/migrations?limit=0', 'limit',
                         headers=A)
        self.assertError(400, 'GET', '/v1/migrations?state=x&state=y',
                         'more than once', headers=A)


class TestInstances(base.ApiTestCase):
    """The instance resource as each persona sees it.

    FakeNova shows each caller what Nova would, by project.
    """

    def setUp(self):
        super().setUp()
        self.server = self.nova.add('host-1', {'drs:opt_out': 'Yes',
                                               'drs:balloon_floor_mb': '512'})
        self.path = '/v1/instances/' + self.server.id
        self.guest = {'actual_mb': 1024, 'target_mb': 900}
        # save_host_states reads attributes: a HostState with a balloon
        self.db.save_host_states([
            types.SimpleNamespace(**dict(
                vars(test_host_states.host_state('host-1')),
                balloon={'policy': 'adaptive',
                         'guests': {self.server.id: self.guest}})),
            test_host_states.host_state('host-2')], 'r')

    def test_admin_sees_the_host(self):
        status, data, _ = self.request('GET', self.path, headers=A)
        self.assertEqual(200, status)
        self.assertEqual({'uuid': self.server.id, 'host': 'host-1',
                          'opt_out': True, 'balloon_floor_mb': 512,
                          'balloon': self.guest}, data['instance'])
        self.assertError(404, 'GET', '/v1/instances/%s' % uuid.uuid4(),
                         'Nova', headers=A)
        self.assertEqual(['admin-token'] * 2, self.nova.tokens)
        # each request's connection to Nova is closed with the request
        self.assertEqual(2, self.nova.closed)

    def test_own_project_sees_balloon_state_not_the_host(self):
        for persona in (base.MEMBER, base.READER):
            status, data, _ = self.request('GET', self.path,
                                           headers=persona)
            self.assertEqual(200, status, data)
            # the host was found by Nova's hostId, and is not shown
            self.assertEqual({'uuid': self.server.id, 'host': None,
                              'opt_out': True, 'balloon_floor_mb': 512,
                              'balloon': self.guest}, data['instance'])
        self.assertEqual(['member-token', 'reader-token'], self.nova.tokens)

    def test_unknown_host_id_means_no_balloon_state(self):
        other = self.nova.add('host-9')
        _, data, _ = self.request('GET', '/v1/instances/' + other.id,
                                  headers=base.MEMBER)
        self.assertEqual((None, None), (data['instance']['host'],
                                        data['instance']['balloon']))

    def test_other_project_gets_404(self):
        # Nova does not show the server to the other project's token
        self.assertError(404, 'GET', self.path, 'Nova has no server',
                         headers=base.OTHER_MEMBER)
        self.assertError(404, 'PATCH', self.path, 'Nova has no server',
                         body={'opt_out': False}, headers=base.OTHER_MEMBER)
        self.assertEqual([], self.nova.updates)

    def test_scope_and_roles_refused(self):
        # a system-scoped token never reaches Nova (Nova's servers are
        # project-scoped)
        self.assertError(403, 'GET', self.path, 'drs:instance:show',
                         headers=base.SYSTEM_ADMIN)
        self.assertError(403, 'PATCH', self.path, 'drs:instance:update',
                         body={'opt_out': False}, headers=base.SYSTEM_ADMIN)
        self.assertEqual([], self.nova.tokens)
        # the policy refuses a token of the server's project without role
        self.assertError(403, 'GET', self.path, 'drs:instance:show',
                         headers=base.NO_ROLE)

    def test_no_token_to_forward_is_401(self):
        headers = {k: v for k, v in base.ADMIN.items()
                   if k != 'X-Auth-Token'}
        self.assertError(401, 'GET', self.path, 'X-Auth-Token',
                         headers=headers)

    def test_update(self):
        status, data, _ = self.request(
            'PATCH', self.path, body={'opt_out': False,
                                      'balloon_floor_mb': 2048}, headers=A)
        self.assertEqual(200, status, data)
        self.assertFalse(data['instance']['opt_out'])
        self.assertEqual(2048, data['instance']['balloon_floor_mb'])
        self.assertEqual({'drs:balloon_floor_mb': '2048'},
                         self.nova.servers[self.server.id].metadata)
        _, data, _ = self.request('PATCH', self.path,
                                  body={'balloon_floor_mb': None,
                                        'opt_out': True}, headers=A)
        self.assertIsNone(data['instance']['balloon_floor_mb'])
        self.assertEqual({'drs:opt_out': 'true'},
                         self.nova.servers[self.server.id].metadata)

    def test_members_change_nothing_by_default(self):
        for persona in (base.MEMBER, base.READER):
            self.assertError(403, 'PATCH', self.path, 'drs:instance:update',
                             body={'opt_out': False}, headers=persona)
        self.assertEqual([], self.nova.updates)

    def test_operator_lets_members_change_their_own(self):
        path = os.path.join(self.tmp, 'policy.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:instance:update": '
                    '"rule:project_member_or_admin"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        status, data, _ = self.request('PATCH', self.path,
                                       body={'opt_out': False},
                                       headers=base.MEMBER)
        self.assertEqual(200, status, data)
        self.assertFalse(data['instance']['opt_out'])
        self.assertIsNone(data['instance']['host'])
        self.assertEqual([(self.server.id, {}, ['drs:opt_out'])],
                         self.nova.updates)
        # a reader is no member; another project's member sees nothing
        self.assertError(403, 'PATCH', self.path, 'drs:instance:update',
                         body={'opt_out': True}, headers=base.READER)
        self.assertError(404, 'PATCH', self.path, body={'opt_out': True},
                         headers=base.OTHER_MEMBER)
        self.assertEqual(1, len(self.nova.updates))

    def test_operator_shows_members_the_host(self):
        path = os.path.join(self.tmp, 'policy.yaml')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('"drs:instance:show:host": '
                    '"rule:project_reader_or_admin"\n')
        self.conf.set_override('policy_file', path, 'oslo_policy')
        _, data, _ = self.request('GET', self.path, headers=base.READER)
        self.assertEqual('host-1', data['instance']['host'])

    def test_update_errors(self):
        for body, word in (({}, 'invalid body'),
                           ({'balloon_floor_mb': -1}, 'balloon_floor_mb'),
                           ({'balloon_floor_mb': '1'}, 'balloon_floor_mb'),
                           ({'opt_out': 1}, 'opt_out'),
                           ({'colour': 'red'}, 'colour')):
            self.assertError(400, 'PATCH', self.path, word, body=body,
                             headers=A)
        self.assertEqual([], self.nova.updates)
        self.assertError(400, 'PATCH', '/v1/instances/not-a-uuid', 'UUID',
                         body={'opt_out': True}, headers=A)

    def test_nova_down(self):
        self.nova.down = True
        self.assertError(503, 'GET', self.path, 'Nova', headers=A)


class TestStatus(base.ApiTestCase):

    def test_status(self):
        self.db.save_host_states([
            test_host_states.host_state('host-%d' % n, hot=['cpu'] if n == 1
                                        else ())
            for n in range(1, 7)], 'replica-a')
        self.db.create_plan(db_base.make_plan(1), models.ORIGIN_HOTSPOT,
                            'u')
        self.replicas.list = ['replica-b', 'replica-a']
        status, data, _ = self.request('GET', '/v1/status', headers=A)
        self.assertEqual(200, status)
        body = data['status']
        self.assertEqual('partial', body['mode'])
        self.assertEqual('hotspot', body['strategy'])
        self.assertEqual(['replica-a', 'replica-b'],
                         [r['id'] for r in body['replicas']])
        owned = sorted(h for r in body['replicas'] for h in r['hosts'])
        self.assertEqual(['host-%d' % n for n in range(1, 7)], owned)
        self.assertEqual(6, body['hosts'])
        self.assertEqual(1, body['hot_hosts'])
        self.assertEqual(0, body['stale_hosts'])
        self.assertEqual(0, body['migrations_running'])
        self.assertEqual(1, body['plans_recommended'])

    def test_coordination_down(self):
        self.replicas.down = True
        self.assertError(503, 'GET', '/v1/status', 'tooz', headers=A)


class TestProtocol(base.ApiTestCase):

    def test_versions(self):
        _, data, resp = self.request('GET', '/')
        (v1,) = data['versions']
        self.assertEqual(('v1', 'CURRENT', '1.0', '1.4'),
                         (v1['id'], v1['status'], v1['min_version'],
                          v1['max_version']))
        self.assertEqual('http://localhost/v1', v1['links'][0]['href'])
        _, data, _ = self.request('GET', '/v1/')
        self.assertEqual('1.4', data['version']['max_version'])

    def test_microversion_headers(self):
        for header, value, used in (
                ('OpenStack-API-Version', 'drs latest', 'drs 1.4'),
                ('OpenStack-API-Version', 'compute 2.90, drs 1.1',
                 'drs 1.1'),
                ('OpenStack-API-Version', 'compute 2.90', 'drs 1.0'),
                ('X-OpenStack-DRS-API-Version', '1.1', 'drs 1.1')):
            _, _, resp = self.request('GET', '/v1/hosts',
                                      headers=dict(A, **{header: value}))
            self.assertEqual(used, resp.headers['OpenStack-API-Version'],
                             value)
        message = self.assertError(
            406, 'GET', '/v1/hosts', '1.0 to 1.4',
            headers=dict(A, **{'OpenStack-API-Version': 'drs 1.5'}))
        self.assertIn('1.5', message)
        self.assertError(
            400, 'GET', '/v1/hosts', 'MAJOR.MINOR',
            headers=dict(A, **{'OpenStack-API-Version': 'drs one'}))

    def test_unknown_paths_and_methods(self):
        self.assertError(404, 'GET', '/v2/hosts', 'no resource')
        self.assertError(405, 'PUT', '/v1/hosts', 'GET')
        status, _, resp = self.request('DELETE', '/v1/plans')
        self.assertEqual('GET, POST', resp.headers['Allow'])

    def test_environ_without_method_or_path(self):
        # what uWSGI hands over for a request line it cannot parse
        environ = webob.Request.blank('/v1/hosts', headers=A).environ
        del environ['REQUEST_METHOD']
        del environ['PATH_INFO']
        resp = webob.Request(environ).get_response(self.app)
        self.assertEqual(400, resp.status_int)
        self.assertEqual('malformed request: no method in the request line',
                         resp.json['error']['message'])
        # at the application's root PATH_INFO may be absent (PEP 3333)
        environ = webob.Request.blank('/').environ
        del environ['PATH_INFO']
        resp = webob.Request(environ).get_response(self.app)
        self.assertEqual(200, resp.status_int)
        self.assertIn('versions', resp.json)

    def test_unexpected_error_is_a_generic_500(self):
        self.useFixture(base.fixtures.MockPatchObject(
            self.db, 'list_host_states',
            side_effect=RuntimeError('secret detail')))
        message = self.assertError(500, 'GET', '/v1/hosts', 'log',
                                   headers=A)
        self.assertNotIn('secret', message)

    def test_openapi_document(self):
        status, _, resp = self.request('GET', '/openapi.yaml')
        self.assertEqual(200, status)
        self.assertEqual('application/yaml', resp.content_type)
        self.assertIn(b'openapi: 3.0', resp.body)

    def test_timestamps_are_utc_with_z(self):
        self.clock.now = datetime.datetime(2026, 3, 1, 8, 30)
        request = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        _, data, _ = self.request('GET', '/v1/plan-requests/'
                                  + request.uuid, headers=A)
        self.assertEqual('2026-03-01T08:30:00Z',
                         data['plan_request']['created_at'])


class TestBalloonTotals(testtools.TestCase):

    def test_per_guest_details_become_a_count(self):
        hosts = hosts_controller
        self.assertEqual(
            {'policy': 'adaptive', 'shrunk_mb': 10.0, 'guests': 2},
            hosts.balloon_totals({'policy': 'adaptive', 'shrunk_mb': 10.0,
                                  'guests': {'a': {}, 'b': {}}}))
        self.assertEqual({'guests': 3}, hosts.balloon_totals({'guests': 3}))
        self.assertIsNone(hosts.balloon_totals(None))
