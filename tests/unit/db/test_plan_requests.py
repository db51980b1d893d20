# SPDX-License-Identifier: Apache-2.0
"""Plan requests and the API's paged listings of the database layer.

:class:`PlanRequestTests` and :class:`PagingTests` run on any backend:
here on SQLite, in tests/functional/db on MariaDB and PostgreSQL.
"""

import datetime

from nova_drs.balancer import plan_states
from nova_drs.db import api
from nova_drs.db import models
from tests.unit.db import base


class PlanRequestTests(object):
    """The ``plan_requests`` methods of :class:`api.Database` (a mixin).

    Needs ``self.db``, ``self.clock`` and ``self.replica()``.
    """

    def test_create_and_get(self):
        request = self.db.create_plan_request(
            models.REQUEST_EVACUATION, 'user-1', host='host-1', apply=True)
        row = self.db.get_plan_request(request.uuid)
        self.assertEqual(models.REQUEST_EVACUATION, row.kind)
        self.assertEqual('host-1', row.host)
        self.assertTrue(row.apply)
        self.assertIsNone(row.strategy)
        self.assertEqual(models.REQUEST_PENDING, row.state)
        self.assertIsNone(row.plan_uuid)
        self.assertIsNone(row.error)
        self.assertIsNone(row.claimed_by)
        self.assertEqual('user-1', row.created_by)
        self.assertEqual(self.clock.now, row.created_at)
        self.assertEqual(self.clock.now, row.updated_at)
        events = self.db.list_events(object_uuid=request.uuid)
        self.assertEqual(['plan_request.created'], [e.kind for e in events])
        self.assertEqual('user-1', events[0].actor)

    def test_bad_requests(self):
        self.assertRaises(ValueError, self.db.create_plan_request,
                          'rebalance', 'user-1')
        self.assertRaises(ValueError, self.db.create_plan_request,
                          models.REQUEST_EVACUATION, 'user-1')
        self.assertRaises(api.PlanRequestNotFound,
                          self.db.get_plan_request, 'no-such-request')
        self.assertRaises(api.PlanRequestNotFound,
                          self.db.claim_plan_request, 'nope', 'r1')
        self.assertRaises(api.PlanRequestNotFound,
                          self.db.finish_plan_request, 'nope', 'r1')

    def test_list_oldest_first_with_filters(self):
        first = self.db.create_plan_request(models.REQUEST_PLAN, 'u',
                                            strategy='hotspot')
        self.clock.advance(1)
        second = self.db.create_plan_request(models.REQUEST_EVACUATION, 'u',
                                             host='host-2')
        self.clock.advance(1)
        third = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.assertTrue(self.db.claim_plan_request(third.uuid, 'r1'))
        self.assertEqual([first.uuid, second.uuid, third.uuid],
                         [r.uuid for r in self.db.list_plan_requests()])
        self.assertEqual([first.uuid, second.uuid], [
            r.uuid for r in self.db.list_plan_requests(
                state=models.REQUEST_PENDING)])
        self.assertEqual([first.uuid, third.uuid], [
            r.uuid for r in self.db.list_plan_requests(
                kind=models.REQUEST_PLAN)])
        self.assertEqual([first.uuid], [
            r.uuid for r in self.db.list_plan_requests(limit=1)])

    def test_claim_then_finish_done(self):
        request = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.clock.advance(2)
        self.assertTrue(self.db.claim_plan_request(request.uuid, 'r1'))
        row = self.db.get_plan_request(request.uuid)
        self.assertEqual(models.REQUEST_CLAIMED, row.state)
        self.assertEqual('r1', row.claimed_by)
        self.assertEqual(self.clock.now, row.claimed_at)
        # claimed once only
        self.assertFalse(self.db.claim_plan_request(request.uuid, 'r2'))
        # only the claimer finishes it
        self.assertFalse(self.db.finish_plan_request(request.uuid, 'r2',
                                                     plan_uuid='p'))
        plan = self.db.create_plan(base.make_plan(1),
                                   models.ORIGIN_OPERATOR, 'r1')
        self.clock.advance(1)
        self.assertTrue(self.db.finish_plan_request(request.uuid, 'r1',
                                                    plan_uuid=plan.uuid))
        row = self.db.get_plan_request(request.uuid)
        self.assertEqual(models.REQUEST_DONE, row.state)
        self.assertEqual(plan.uuid, row.plan_uuid)
        self.assertIsNone(row.error)
        self.assertEqual(self.clock.now, row.updated_at)
        # done is final
        self.assertFalse(self.db.finish_plan_request(request.uuid, 'r1',
                                                     error='late'))
        self.assertFalse(self.db.claim_plan_request(request.uuid, 'r1'))
        self.assertEqual(
            ['plan_request.created', 'plan_request.claimed',
             'plan_request.done'],
            [e.kind for e in self.db.list_events(object_uuid=request.uuid)])

    def test_finish_failed(self):
        request = self.db.create_plan_request(models.REQUEST_EVACUATION,
                                              'u', host='host-9')
        self.assertTrue(self.db.claim_plan_request(request.uuid, 'r1'))
        self.assertTrue(self.db.finish_plan_request(
            request.uuid, 'r1', error='host host-9 is not owned'))
        row = self.db.get_plan_request(request.uuid)
        self.assertEqual(models.REQUEST_FAILED, row.state)
        self.assertEqual('host host-9 is not owned', row.error)
        self.assertIsNone(row.plan_uuid)

    def test_release_stale_claims(self):
        old = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.assertTrue(self.db.claim_plan_request(old.uuid, 'dead'))
        self.clock.advance(60)
        recent = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.assertTrue(self.db.claim_plan_request(recent.uuid, 'alive'))
        pending = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        released = self.db.release_stale_plan_requests(
            self.clock.now - datetime.timedelta(seconds=30))
        self.assertEqual(1, released)
        row = self.db.get_plan_request(old.uuid)
        self.assertEqual(models.REQUEST_PENDING, row.state)
        self.assertIsNone(row.claimed_by)
        self.assertIsNone(row.claimed_at)
        self.assertEqual(models.REQUEST_CLAIMED,
                         self.db.get_plan_request(recent.uuid).state)
        self.assertEqual(models.REQUEST_PENDING,
                         self.db.get_plan_request(pending.uuid).state)
        # the dead replica's late answer is refused; another claims it
        self.assertFalse(self.db.finish_plan_request(old.uuid, 'dead',
                                                     plan_uuid='p'))
        self.assertTrue(self.db.claim_plan_request(old.uuid, 'alive'))
        self.assertIn('plan_request.released', [
            e.kind for e in self.db.list_events(object_uuid=old.uuid)])
        self.assertEqual(0, self.db.release_stale_plan_requests(
            self.clock.now - datetime.timedelta(seconds=30)))

    def test_two_replicas_claim_one_wins(self):
        for _ in range(5):
            request = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
            one, two = self.replica(), self.replica()
            results = base.race(
                lambda: one.claim_plan_request(request.uuid, 'r1'),
                lambda: two.claim_plan_request(request.uuid, 'r2'))
            self.assertEqual(1, results.count(True), results)
            winner = 'r1' if results[0] else 'r2'
            self.assertEqual(winner,
                             self.db.get_plan_request(request.uuid)
                             .claimed_by)

    def test_purge_finished_requests(self):
        done = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.db.claim_plan_request(done.uuid, 'r1')
        self.db.finish_plan_request(done.uuid, 'r1', error='no view')
        waiting = self.db.create_plan_request(models.REQUEST_PLAN, 'u')
        self.clock.advance(3600)
        counts = self.db.purge(self.clock.now)
        self.assertEqual(1, counts['plan_requests'])
        self.assertRaises(api.PlanRequestNotFound,
                          self.db.get_plan_request, done.uuid)
        self.assertEqual(models.REQUEST_PENDING,
                         self.db.get_plan_request(waiting.uuid).state)


class PagingTests(object):
    """Keyset paging of plans and actions, newest first (a mixin)."""

    def test_plans_newest_first_by_pages(self):
        made = []
        for n in range(5):
            made.append(self.db.create_plan(
                base.make_plan(1), models.ORIGIN_OPERATOR, 'u',
                supersede=False).uuid)
            if n != 2:
                # two plans share a creation time: uuid breaks the tie
                self.clock.advance(1)
        expected = [p.uuid for p in self.db.list_plans()]
        self.assertEqual(set(made), set(expected))
        self.assertEqual(made[-1], expected[0])
        pages, marker = [], None
        while True:
            page = self.db.list_plans(limit=2, marker=marker)
            if not page:
                break
            pages.extend(p.uuid for p in page)
            marker = page[-1].uuid
        self.assertEqual(expected, pages)
        self.assertRaises(api.PlanNotFound, self.db.list_plans,
                          marker='no-such-plan')

    def test_actions_newest_plan_first_by_pages(self):
        old = self.db.create_plan(base.make_plan(3), models.ORIGIN_OPERATOR,
                                  'u', supersede=False)
        self.clock.advance(1)
        new = self.db.create_plan(base.make_plan(2, source='host-3'),
                                  models.ORIGIN_OPERATOR, 'u',
                                  supersede=False)
        expected = ([a.uuid for a in self.db.list_actions(
            plan_uuid=new.uuid)] + [a.uuid for a in self.db.list_actions(
                plan_uuid=old.uuid)])
        self.assertEqual(expected, [
            a.uuid for a in self.db.list_recent_actions()])
        pages, marker = [], None
        while True:
            page = self.db.list_recent_actions(limit=2, marker=marker)
            if not page:
                break
            pages.extend(a.uuid for a in page)
            marker = page[-1].uuid
        self.assertEqual(expected, pages)
        self.assertEqual(2, len(self.db.list_recent_actions(host='host-3')))
        self.assertEqual(3, len(self.db.list_recent_actions(
            plan_uuid=old.uuid, state=plan_states.ACTION_PENDING)))
        instance = self.db.list_actions(plan_uuid=old.uuid)[1].instance_uuid
        self.assertEqual(1, len(self.db.list_recent_actions(
            instance_uuid=instance)))
        self.assertRaises(api.ActionNotFound, self.db.list_recent_actions,
                          marker='no-such-action')

    def test_count_states(self):
        plan = self.db.create_plan(base.make_plan(2), models.ORIGIN_OPERATOR,
                                   'u')
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'u')
        action = self.db.list_actions(plan_uuid=plan.uuid)[0]
        self.db.start_action(action.uuid, 'r1')
        self.db.create_plan(base.make_plan(1), models.ORIGIN_HOTSPOT, 'u')
        self.assertEqual(
            {'plans': {plan_states.PLAN_APPLYING: 1,
                       plan_states.PLAN_RECOMMENDED: 1},
             'actions': {plan_states.ACTION_RUNNING: 1,
                         plan_states.ACTION_PENDING: 2}},
            self.db.count_states())


class TestPlanRequestsSqlite(base.SqliteTestCase, PlanRequestTests):
    pass


class TestPagingSqlite(base.SqliteTestCase, PagingTests):
    pass
