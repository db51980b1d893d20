# SPDX-License-Identifier: Apache-2.0
"""The audit trail: ``GET /v1/events`` (microversion 1.3)."""

import uuid

from tests.unit.api import base

V13 = {'OpenStack-API-Version': 'drs 1.3'}
A = dict(base.ADMIN, **V13)


class TestEvents(base.ApiTestCase):

    def setUp(self):
        super().setUp()
        self.plan = str(uuid.uuid4())
        # five events, one second apart: ids 1..5
        for n, (actor, kind) in enumerate((
                ('balancer-a', 'plan.created'),
                ('balancer-a', 'action.running'),
                ('admin-user', 'balancer.paused'),
                ('balancer-b', 'action.completed'),
                ('balancer-b', 'plan.done'))):
            self.db.record_event(
                actor, kind, 'event %d' % (n + 1),
                object_uuid=self.plan if kind.startswith('plan.') else None,
                detail={'n': n + 1})
            self.clock.advance(1)

    def ids(self, query='', headers=A):
        status, data, _ = self.request('GET', '/v1/events' + query,
                                       headers=headers)
        self.assertEqual(200, status, data)
        return [e['id'] for e in data['events']], data['links']

    def test_needs_microversion_1_3(self):
        message = self.assertError(404, 'GET', '/v1/events',
                                   'needs API microversion 1.3',
                                   headers=base.ADMIN)
        self.assertIn('OpenStack-API-Version: drs 1.3', message)

    def test_newest_first_with_every_field(self):
        status, data, _ = self.request('GET', '/v1/events', headers=A)
        self.assertEqual(200, status)
        self.assertEqual([5, 4, 3, 2, 1], [e['id'] for e in data['events']])
        self.assertEqual(
            {'id': 3, 'created_at': '2026-01-01T12:00:02.250000Z',
             'actor': 'admin-user', 'kind': 'balancer.paused',
             'object_uuid': None, 'message': 'event 3',
             'detail': {'n': 3}}, data['events'][2])
        self.assertEqual([], data['links'])

    def test_filters(self):
        self.assertEqual([4, 2], self.ids('?kind=action.')[0])
        self.assertEqual([5], self.ids('?kind=plan.done')[0])
        self.assertEqual([], self.ids('?kind=plan')[0])
        self.assertEqual([5, 1], self.ids('?object=%s'
                                          % self.plan.upper())[0])
        self.assertEqual([5, 4], self.ids('?actor=balancer-b')[0])
        self.assertEqual([5, 4, 3], self.ids(
            '?since=2026-01-01T13:00:02%2B01:00')[0])
        self.assertEqual([1, 2, 3], self.ids(
            '?sort_dir=asc&since=2026-01-01T12:00:00Z&limit=3')[0])

    def test_pages_both_ways(self):
        ids, links = self.ids('?limit=2')
        self.assertEqual([5, 4], ids)
        self.assertIn('marker=4', links[0]['href'])
        self.assertEqual([3, 2], self.ids('?limit=2&marker=4')[0])
        self.assertEqual([1], self.ids('?limit=2&marker=2')[0])
        self.assertEqual([3, 4], self.ids('?sort_dir=asc&limit=2&marker=2')
                         [0])

    def test_bad_queries(self):
        for query, fragment in (
                ('?kind=Plan;drop', 'kind'),
                ('?object=not-a-uuid', 'object'),
                ('?since=yesterday', 'since'),
                ('?since=2026-13-45T99:00:00Z', 'since'),
                ('?since=2026-01-01T12:00:00', 'since'),
                ('?sort_dir=up', 'sort_dir'),
                ('?marker=0', 'marker'),
                ('?marker=1e9', 'marker'),
                ('?limit=-1', 'limit'),
                ('?colour=red', 'colour')):
            self.assertError(400, 'GET', '/v1/events' + query, fragment,
                             headers=A)

    def test_admin_only(self):
        for persona in (base.MEMBER, base.READER, base.OTHER_MEMBER,
                        base.NO_ROLE):
            self.assertError(403, 'GET', '/v1/events', 'drs:event:list',
                             headers=dict(persona, **V13))
        self.assertEqual(200, self.request(
            'GET', '/v1/events', headers=dict(base.SYSTEM_ADMIN, **V13))[0])
