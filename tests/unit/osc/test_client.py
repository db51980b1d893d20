# SPDX-License-Identifier: Apache-2.0
"""``nova_drs.client.Client`` at the HTTP level (requests-mock)."""

from keystoneauth1 import session as ks_session
from oslotest import base
from requests_mock.contrib import fixture as rm_fixture

from nova_drs import client as drs_client
from tests.unit.osc import fakes

ROOT = 'http://drs.example.org:9700'


def error(code, title, message):
    return {'error': {'code': code, 'title': title, 'message': message}}


class ClientTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.http = self.useFixture(rm_fixture.Fixture())
        self.session = ks_session.Session()
        self.now = [0.0]
        self.sleeps = []
        self.client = self.make_client()

    def make_client(self, endpoint=ROOT, **kwargs):
        return drs_client.Client(self.session, endpoint_override=endpoint,
                                 sleep=self.sleep, clock=lambda: self.now[0],
                                 **kwargs)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now[0] += seconds

    def last(self):
        return self.http.request_history[-1]


class TransportTest(ClientTestCase):

    def test_microversion_header(self):
        self.http.get(ROOT + '/v1/status', json={'status': fakes.STATUS})
        self.make_client(api_version='1.3').get_status()
        self.assertEqual('drs 1.3',
                         self.last().headers['OpenStack-API-Version'])
        self.client.get_status()
        self.assertEqual('drs 1.0',
                         self.last().headers['OpenStack-API-Version'])

    def test_bad_api_version(self):
        for bad in ('1', 'v1.0', '1.x', '01.0', ''):
            self.assertRaises(ValueError, self.make_client, api_version=bad)

    def test_endpoint_with_v1_and_slash(self):
        self.http.get(ROOT + '/v1/status', json={'status': fakes.STATUS})
        client = self.make_client(endpoint=ROOT + '/v1/')
        self.assertEqual(fakes.STATUS, client.get_status())

    def test_extra_headers(self):
        self.http.get(ROOT + '/v1/status', json={'status': fakes.STATUS})
        self.make_client(headers={'X-Roles': 'admin'}).get_status()
        self.assertEqual('admin', self.last().headers['X-Roles'])

    def test_api_error_message_and_status(self):
        self.http.get(ROOT + '/v1/hosts/nope', status_code=404,
                      json=error(404, 'Not Found', 'host nope is unknown'))
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.get_host, 'nope')
        self.assertEqual(404, exc.status_code)
        self.assertEqual('Not Found', exc.title)
        self.assertEqual('host nope is unknown', exc.message)
        self.assertEqual('host nope is unknown (HTTP 404)', str(exc))

    def test_error_that_is_not_json(self):
        self.http.get(ROOT + '/v1/status', status_code=502,
                      text='<html>Bad Gateway</html>\n<p>nginx</p>',
                      reason='Bad Gateway')
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.get_status)
        self.assertEqual('<html>Bad Gateway</html> (HTTP 502)', str(exc))

    def test_empty_error(self):
        self.http.get(ROOT + '/v1/status', status_code=503,
                      reason='Service Unavailable')
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.get_status)
        self.assertEqual('Service Unavailable (HTTP 503)', str(exc))

    def test_response_that_is_not_json(self):
        self.http.get(ROOT + '/v1/status', text='hello')
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.get_status)
        self.assertIn('not JSON', str(exc))

    def test_response_without_the_object(self):
        self.http.get(ROOT + '/v1/status', json={'something': 'else'})
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.get_status)
        self.assertIn('no "status"', str(exc))

    def test_connection_refused(self):
        client = self.make_client(endpoint='http://127.0.0.1:9')
        self.http.stop()    # a real connection, to a closed port
        exc = self.assertRaises(drs_client.ClientError, client.get_status)
        self.assertIsNone(exc.status_code)
        self.assertEqual('cannot reach the nova-drs API at '
                         'http://127.0.0.1:9: Connection refused', str(exc))

    def test_no_endpoint(self):
        client = self.make_client(endpoint=None)
        exc = self.assertRaises(drs_client.ClientError, client.get_status)
        self.assertIn('nova-drs endpoint', str(exc))

    def test_path_parts_are_quoted(self):
        self.http.get(ROOT + '/v1/hosts/a%2Fb%20c',
                      json={'host': fakes.HOST})
        self.client.get_host('a/b c')
        # requests-mock lower-cases the path it records
        self.assertEqual('/v1/hosts/a%2fb%20c', self.last().path)

    def test_empty_name(self):
        self.assertRaises(drs_client.ClientError, self.client.get_host, '')

    def test_versions(self):
        self.http.get(ROOT + '/', json={'versions': [{'id': 'v1'}]})
        self.assertEqual([{'id': 'v1'}], self.client.versions())


class ListTest(ClientTestCase):

    def page(self, names, next_marker=None):
        body = {'hosts': [{'name': n} for n in names], 'links': []}
        if next_marker:
            body['links'].append({
                'rel': 'next',
                'href': 'http://proxy/v1/hosts?hot=true&limit=2&marker=%s'
                        % next_marker})
        return {'json': body}

    def test_filters(self):
        self.http.get(ROOT + '/v1/hosts', json={'hosts': []})
        self.client.list_hosts(hot=True, stale=False)
        self.assertEqual({'hot': ['true'], 'stale': ['false']},
                         self.last().qs)

    def test_follows_next_links(self):
        self.http.get(ROOT + '/v1/hosts', [
            self.page(['a', 'b'], 'b'), self.page(['c', 'd'], 'd'),
            self.page(['e'])])
        hosts = self.client.list_hosts(hot=True)
        self.assertEqual(['a', 'b', 'c', 'd', 'e'],
                         [h['name'] for h in hosts])
        self.assertEqual([{'hot': ['true']},
                          {'hot': ['true'], 'marker': ['b']},
                          {'hot': ['true'], 'marker': ['d']}],
                         [r.qs for r in self.http.request_history])

    def test_limit_stops_early(self):
        self.http.get(ROOT + '/v1/hosts', [
            self.page(['a', 'b'], 'b'), self.page(['c', 'd'], 'd')])
        hosts = self.client.list_hosts(limit=3, marker='x')
        self.assertEqual(['a', 'b', 'c'], [h['name'] for h in hosts])
        self.assertEqual([{'limit': ['3'], 'marker': ['x']},
                          {'limit': ['1'], 'marker': ['b']}],
                         [r.qs for r in self.http.request_history])

    def test_next_link_that_does_not_advance(self):
        self.http.get(ROOT + '/v1/hosts', [
            self.page(['a'], 'a'), self.page(['a'], 'a')])
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.list_hosts)
        self.assertIn('does not advance', str(exc))

    def test_lists_and_their_filters(self):
        self.http.get(ROOT + '/v1/plans', json={'plans': []})
        self.http.get(ROOT + '/v1/migrations', json={'migrations': []})
        self.client.list_plans(state='applied', origin='operator')
        self.assertEqual({'state': ['applied'], 'origin': ['operator']},
                         self.last().qs)
        self.client.list_migrations(state='running', instance='i',
                                    host='h', plan='p')
        self.assertEqual({'state': ['running'], 'instance': ['i'],
                          'host': ['h'], 'plan': ['p']}, self.last().qs)

    def test_list_without_its_key(self):
        self.http.get(ROOT + '/v1/plans', json={'hosts': []})
        self.assertRaises(drs_client.ClientError, self.client.list_plans)


class OperationsTest(ClientTestCase):

    def test_evacuate(self):
        self.http.post(ROOT + '/v1/hosts/compute-1/evacuate',
                       status_code=202,
                       json={'plan_request': fakes.PLAN_REQUEST})
        self.assertEqual(fakes.PLAN_REQUEST,
                         self.client.evacuate_host('compute-1', apply=False))
        self.assertEqual({'apply': False}, self.last().json())

    def test_create_plan(self):
        self.http.post(ROOT + '/v1/plans', status_code=202,
                       json={'plan_request': fakes.PLAN_REQUEST})
        self.client.create_plan()
        self.assertEqual({}, self.last().json())
        self.client.create_plan('balance')
        self.assertEqual({'strategy': 'balance'}, self.last().json())

    def test_apply_and_cancel_accept_both_shapes(self):
        url = ROOT + '/v1/plans/%s/' % fakes.PLAN_UUID
        self.http.post(url + 'apply', json={'plan': fakes.PLAN})
        self.http.post(url + 'cancel', json=fakes.PLAN)
        self.assertEqual(fakes.PLAN, self.client.apply_plan(fakes.PLAN_UUID))
        self.assertEqual(fakes.PLAN,
                         self.client.cancel_plan(fakes.PLAN_UUID))

    def test_conflict(self):
        self.http.post(ROOT + '/v1/plans/p/apply', status_code=409,
                       json=error(409, 'Conflict', 'plan p is applied'))
        exc = self.assertRaises(drs_client.ClientError,
                                self.client.apply_plan, 'p')
        self.assertEqual(409, exc.status_code)
        self.assertEqual('plan p is applied', exc.message)

    def test_update_instance(self):
        url = ROOT + '/v1/instances/' + fakes.INSTANCE_UUID
        self.http.patch(url, json={'instance': fakes.INSTANCE})
        self.client.update_instance(fakes.INSTANCE_UUID,
                                    balloon_floor_mb=None)
        self.assertEqual({'balloon_floor_mb': None}, self.last().json())
        self.client.update_instance(fakes.INSTANCE_UUID, opt_out=True,
                                    balloon_floor_mb=0)
        self.assertEqual({'opt_out': True, 'balloon_floor_mb': 0},
                         self.last().json())

    def test_update_instance_refuses_bad_input(self):
        for bad in ({}, {'balloon_floor_mb': -1},
                    {'balloon_floor_mb': '2048'},
                    {'balloon_floor_mb': True}):
            self.assertRaises(drs_client.ClientError,
                              self.client.update_instance,
                              fakes.INSTANCE_UUID, **bad)
        self.assertEqual([], self.http.request_history)

    def test_get_each_object(self):
        for path, key, method in (
                ('/v1/hosts/h', 'host', self.client.get_host),
                ('/v1/plans/h', 'plan', self.client.get_plan),
                ('/v1/plan-requests/h', 'plan_request',
                 self.client.get_plan_request),
                ('/v1/migrations/h', 'migration', self.client.get_migration),
                ('/v1/instances/h', 'instance', self.client.get_instance)):
            self.http.get(ROOT + path, json={key: {'uuid': 'h'}})
            self.assertEqual({'uuid': 'h'}, method('h'))


class WaitTest(ClientTestCase):

    URL = ROOT + '/v1/plan-requests/' + fakes.REQUEST_UUID

    def answers(self, *states):
        return [{'json': {'plan_request': dict(fakes.PLAN_REQUEST,
                                               state=s)}}
                for s in states]

    def test_polls_until_done(self):
        self.http.get(self.URL, self.answers('pending', 'claimed', 'done'))
        final = self.client.wait_for_plan_request(fakes.REQUEST_UUID,
                                                  timeout=10, interval=2)
        self.assertEqual('done', final['state'])
        self.assertEqual([2, 2], self.sleeps)

    def test_failed_is_final(self):
        self.http.get(self.URL, self.answers('failed'))
        final = self.client.wait_for_plan_request(fakes.REQUEST_UUID)
        self.assertEqual('failed', final['state'])
        self.assertEqual([], self.sleeps)

    def test_timeout(self):
        self.http.get(self.URL, self.answers('pending'))
        exc = self.assertRaises(drs_client.WaitTimeout,
                                self.client.wait_for_plan_request,
                                fakes.REQUEST_UUID, timeout=2.5, interval=1)
        self.assertEqual([1, 1, 0.5], self.sleeps)
        self.assertIn('still pending after 2.5 s', str(exc))
        self.assertIn(fakes.REQUEST_UUID, str(exc))

    def test_error_while_polling_ends_the_wait(self):
        self.http.get(self.URL, status_code=404,
                      json=error(404, 'Not Found', 'no such request'))
        self.assertRaises(drs_client.ClientError,
                          self.client.wait_for_plan_request,
                          fakes.REQUEST_UUID)


class ControlTest(ClientTestCase):
    """The operations of microversion 1.2: sent with at least 1.2."""

    def version(self):
        return self.last().headers['OpenStack-API-Version']

    def test_get_balancer_at_least_1_2(self):
        self.http.get(ROOT + '/v1/balancer',
                      json={'balancer': fakes.BALANCER})
        self.assertEqual(fakes.BALANCER, self.client.get_balancer())
        # the client was made for 1.0: this operation needs 1.2
        self.assertEqual('drs 1.2', self.version())
        self.make_client(api_version='1.7').get_balancer()
        self.assertEqual('drs 1.7', self.version())
        self.make_client(api_version='latest').get_balancer()
        self.assertEqual('drs latest', self.version())
        # other operations keep the client's version
        self.http.get(ROOT + '/v1/status', json={'status': fakes.STATUS})
        self.client.get_status()
        self.assertEqual('drs 1.0', self.version())

    def test_update_balancer_bodies(self):
        self.http.patch(ROOT + '/v1/balancer',
                        json={'balancer': fakes.BALANCER})
        for kwargs, body in (
                ({'mode': 'full', 'reason': 'why'},
                 {'mode': 'full', 'reason': 'why'}),
                ({'mode': None}, {'mode': None}),
                ({'paused': True}, {'paused': True}),
                ({'mode': 'manual', 'paused': False},
                 {'mode': 'manual', 'paused': False})):
            self.client.update_balancer(**kwargs)
            self.assertEqual(body, self.last().json())
            self.assertEqual('drs 1.2', self.version())
        count = len(self.http.request_history)
        self.assertRaises(drs_client.ClientError,
                          self.client.update_balancer, reason='only')
        self.assertEqual(count, len(self.http.request_history))

    def test_set_host_paused(self):
        self.http.patch(ROOT + '/v1/hosts/compute%2F1',
                        json={'host': fakes.HOST})
        self.assertEqual(fakes.HOST, self.client.set_host_paused(
            'compute/1', True, reason='BIOS'))
        self.assertEqual({'paused': True, 'reason': 'BIOS'},
                         self.last().json())
        self.assertEqual('drs 1.2', self.version())
        self.client.set_host_paused('compute/1', False)
        self.assertEqual({'paused': False}, self.last().json())

    def test_at_least(self):
        self.assertEqual('1.2', drs_client.at_least('1.0', '1.2'))
        self.assertEqual('1.10', drs_client.at_least('1.10', '1.2'))
        self.assertEqual('latest', drs_client.at_least('latest', '1.2'))


class EventsTest(ClientTestCase):
    """The audit trail (microversion 1.3), every page followed."""

    def test_list_events_follows_pages_at_least_1_3(self):
        first = dict(fakes.EVENT, id=9)
        second = dict(fakes.EVENT, id=8)
        self.http.get(ROOT + '/v1/events', [
            {'json': {'events': [first], 'links': [
                {'rel': 'next',
                 'href': ROOT + '/v1/events?kind=action.&limit=1&marker=9'}
            ]}},
            {'json': {'events': [second], 'links': []}}])
        events = self.client.list_events(kind='action.', actor='a',
                                         since='2026-03-01T10:00:00Z')
        self.assertEqual([9, 8], [e['id'] for e in events])
        history = self.http.request_history
        self.assertEqual({'kind': ['action.'], 'actor': ['a'],
                          'since': ['2026-03-01t10:00:00z']},
                         history[-2].qs)
        self.assertEqual(['9'], history[-1].qs['marker'])
        for request in history[-2:]:
            self.assertEqual('drs 1.3',
                             request.headers['OpenStack-API-Version'])

    def test_oldest_first(self):
        self.http.get(ROOT + '/v1/events', json={'events': [], 'links': []})
        self.assertEqual([], self.client.list_events(oldest_first=True,
                                                     limit=3))
        self.assertEqual({'sort_dir': ['asc'], 'limit': ['3']},
                         self.last().qs)
