# SPDX-License-Identifier: Apache-2.0
"""nova_drs.db.api: every function, the compare-and-set transitions.

:class:`ApiTests` runs on any backend: here on SQLite, in
tests/functional/db on MariaDB and PostgreSQL.
"""

import datetime
import types
import uuid

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs import config
from nova_drs.db import api
from nova_drs.db import models
from tests.unit.db import base

UTC = datetime.timezone.utc


class ApiTests(object):
    """Tests of :class:`~nova_drs.db.api.Database` (a mixin).

    Needs ``self.db``, ``self.clock`` and ``self.replica()`` from
    :class:`tests.unit.db.base.DatabaseTestCase`.
    """

    # -- helpers --

    def applying_plan(self, count=2, **kwargs):
        plan = self.db.create_plan(base.make_plan(count, **kwargs),
                                   models.ORIGIN_PERIODIC, 'replica-a',
                                   supersede=False)
        self.assertTrue(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'replica-a'))
        return plan

    def running_action(self, owner='replica-a', **kwargs):
        plan = self.applying_plan(**kwargs)
        action = plan.actions[0]
        self.assertTrue(self.db.start_action(action.uuid, owner))
        return plan, self.db.get_action(action.uuid)

    def kinds(self, object_uuid):
        return [e.kind for e in self.db.list_events(object_uuid=object_uuid)]

    # -- plans --

    def test_create_plan(self):
        source = base.make_plan(3, unresolved=['host-9'])
        plan = self.db.create_plan(source, models.ORIGIN_HOTSPOT,
                                   'replica-a')
        self.assertEqual(plan_states.PLAN_RECOMMENDED, plan.state)
        stored = self.db.get_plan(plan.uuid)
        self.assertEqual('hotspot', stored.strategy)
        self.assertEqual(models.ORIGIN_HOTSPOT, stored.origin)
        self.assertEqual('replica-a', stored.created_by)
        self.assertEqual(['host-9'], stored.unresolved)
        self.assertEqual(0.0421875, stored.decision_s)
        self.assertEqual(base.START, stored.created_at)
        self.assertEqual(base.START, stored.updated_at)
        self.assertIsNone(stored.finished_at)
        self.assertEqual([0, 1, 2], [a.order_index for a in stored.actions])
        for action, migration in zip(stored.actions, source.migrations):
            self.assertEqual(plan.uuid, action.plan_uuid)
            self.assertEqual(migration.instance, action.instance_uuid)
            self.assertEqual(('host-1', 'host-2'),
                             (action.source, action.target))
            self.assertEqual(migration.reason, action.reason)
            self.assertEqual(migration.transfer_mb, action.transfer_mb)
            self.assertEqual(migration.duration_s, action.estimated_s)
            self.assertEqual(plan_states.ACTION_PENDING, action.state)
            self.assertIsNone(action.owner)
            self.assertIsNone(action.started_at)
        events = self.db.list_events(object_uuid=plan.uuid)
        self.assertEqual(['plan.created'], [e.kind for e in events])
        self.assertEqual('replica-a', events[0].actor)
        self.assertEqual(3, events[0].detail['actions'])

    def test_create_plan_without_migrations_or_target(self):
        empty = self.db.create_plan(plan_mod.Plan('balance'),
                                    models.ORIGIN_OPERATOR, 'admin')
        self.assertEqual([], self.db.get_plan(empty.uuid).actions)
        self.assertEqual([], self.db.get_plan(empty.uuid).unresolved)
        anywhere = plan_mod.Plan('evacuate', [plan_mod.Migration(
            'i-1', 'host-1', None, 'host-1 in maintenance')])
        plan = self.db.create_plan(anywhere, models.ORIGIN_EVACUATION,
                                   'admin')
        self.assertIsNone(self.db.get_plan(plan.uuid).actions[0].target)

    def test_create_plan_with_uuid_and_bad_origin(self):
        plan_uuid = str(uuid.uuid4())
        plan = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                   'replica-a', plan_uuid=plan_uuid)
        self.assertEqual(plan_uuid, plan.uuid)
        self.assertRaises(ValueError, self.db.create_plan, base.make_plan(1),
                          'whenever', 'replica-a')

    def test_create_plan_supersedes_recommended_plans_of_its_origin(self):
        old = self.db.create_plan(base.make_plan(2), models.ORIGIN_PERIODIC,
                                  'replica-a')
        operator = self.db.create_plan(base.make_plan(1),
                                       models.ORIGIN_OPERATOR, 'admin')
        applying = self.applying_plan(1)
        self.clock.advance(60)
        new = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                  'replica-b')

        old = self.db.get_plan(old.uuid)
        self.assertEqual(plan_states.PLAN_SUPERSEDED, old.state)
        self.assertEqual('superseded by plan %s' % new.uuid,
                         old.state_reason)
        self.assertEqual(self.clock.now, old.finished_at)
        self.assertEqual({plan_states.ACTION_CANCELLED},
                         {a.state for a in old.actions})
        self.assertEqual(['plan.created', 'plan.superseded'],
                         self.kinds(old.uuid))
        # other origins, and plans being applied, are left alone
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(operator.uuid).state)
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(applying.uuid).state)
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(new.uuid).state)

        kept = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                   'replica-b', supersede=False)
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(new.uuid).state)
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(kept.uuid).state)

    def test_get_plan(self):
        plan = self.db.create_plan(base.make_plan(2), models.ORIGIN_PERIODIC,
                                   'replica-a')
        bare = self.db.get_plan(plan.uuid, with_actions=False)
        self.assertEqual(plan.uuid, bare.uuid)
        # not loaded, and no lazy load outside a session
        self.assertRaises(sa.exc.InvalidRequestError,
                          lambda: bare.actions)
        e = self.assertRaises(api.PlanNotFound, self.db.get_plan, 'nope')
        self.assertIn('nope', str(e))
        self.assertIsInstance(e, api.NotFound)

    def test_list_plans(self):
        first = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                    'replica-a')
        self.clock.advance(10)
        second = self.db.create_plan(base.make_plan(1),
                                     models.ORIGIN_OPERATOR, 'admin')
        self.clock.advance(10)
        third = self.db.create_plan(base.make_plan(1), models.ORIGIN_HOTSPOT,
                                    'replica-b')
        self.db.cancel_plan(third.uuid, 'admin')

        def uuids(**kwargs):
            return [p.uuid for p in self.db.list_plans(**kwargs)]

        self.assertEqual([third.uuid, second.uuid, first.uuid], uuids())
        self.assertEqual([second.uuid, first.uuid],
                         uuids(state=plan_states.PLAN_RECOMMENDED))
        self.assertEqual([third.uuid, first.uuid],
                         uuids(state=[plan_states.PLAN_CANCELLED,
                                      plan_states.PLAN_RECOMMENDED],
                               origin=[models.ORIGIN_HOTSPOT,
                                       models.ORIGIN_PERIODIC]))
        self.assertEqual([second.uuid], uuids(origin='operator'))
        self.assertEqual([third.uuid], uuids(created_by='replica-b'))
        self.assertEqual([third.uuid, second.uuid],
                         uuids(since=base.START
                               + datetime.timedelta(seconds=10)))
        # aware datetimes are converted to UTC
        since = (base.START + datetime.timedelta(seconds=20)).replace(
            tzinfo=UTC).astimezone(datetime.timezone(
                datetime.timedelta(hours=2)))
        self.assertEqual([third.uuid], uuids(since=since))
        self.assertEqual([third.uuid], uuids(limit=1))
        self.assertEqual([], uuids(state='failed'))

    def test_transition_plan(self):
        plan = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                   'replica-a')
        self.clock.advance(5)
        self.assertTrue(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'admin', reason='approved'))
        stored = self.db.get_plan(plan.uuid)
        self.assertEqual(plan_states.PLAN_APPLYING, stored.state)
        self.assertEqual('approved', stored.state_reason)
        self.assertEqual(self.clock.now, stored.updated_at)
        self.assertIsNone(stored.finished_at)
        # the caller's view is out of date: nothing changes
        self.assertFalse(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'replica-b'))
        self.assertFalse(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED,
            plan_states.PLAN_SUPERSEDED, 'replica-b'))
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(plan.uuid).state)
        self.clock.advance(5)
        self.assertTrue(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_APPLYING, plan_states.PLAN_FAILED,
            'replica-a', reason='Nova is down'))
        stored = self.db.get_plan(plan.uuid)
        self.assertEqual(self.clock.now, stored.finished_at)
        events = self.db.list_events(object_uuid=plan.uuid)
        self.assertEqual(['plan.created', 'plan.applying', 'plan.failed'],
                         [e.kind for e in events])
        self.assertEqual(['replica-a', 'admin', 'replica-a'],
                         [e.actor for e in events])
        self.assertEqual('Nova is down', events[-1].message)

    def test_transition_plan_errors(self):
        plan = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                   'replica-a')
        self.assertRaises(api.InvalidTransition, self.db.transition_plan,
                          plan.uuid, plan_states.PLAN_RECOMMENDED,
                          plan_states.PLAN_APPLIED, 'replica-a')
        self.assertRaises(api.InvalidTransition, self.db.transition_plan,
                          plan.uuid, plan_states.PLAN_APPLIED,
                          plan_states.PLAN_APPLYING, 'replica-a')
        self.assertRaises(api.InvalidTransition, self.db.transition_plan,
                          plan.uuid, 'bogus', plan_states.PLAN_APPLYING, 'x')
        self.assertRaises(api.PlanNotFound, self.db.transition_plan,
                          str(uuid.uuid4()), plan_states.PLAN_RECOMMENDED,
                          plan_states.PLAN_APPLYING, 'replica-a')

    def test_two_replicas_approve_the_same_plan(self):
        plans = [self.db.create_plan(base.make_plan(1),
                                     models.ORIGIN_OPERATOR, 'admin',
                                     supersede=False)
                 for _ in range(5)]
        other = self.replica()
        for plan in plans:
            results = base.race(
                lambda: self.db.transition_plan(
                    plan.uuid, plan_states.PLAN_RECOMMENDED,
                    plan_states.PLAN_APPLYING, 'replica-a'),
                lambda: other.transition_plan(
                    plan.uuid, plan_states.PLAN_RECOMMENDED,
                    plan_states.PLAN_APPLYING, 'replica-b'))
            self.assertEqual(1, results.count(True), results)
            self.assertEqual(['plan.created', 'plan.applying'],
                             self.kinds(plan.uuid))

    def test_cancel_plan(self):
        plan, running = self.running_action(count=3)
        self.clock.advance(1)
        self.assertTrue(self.db.cancel_plan(plan.uuid, 'admin'))
        stored = self.db.get_plan(plan.uuid)
        self.assertEqual(plan_states.PLAN_CANCELLED, stored.state)
        self.assertEqual('cancelled by admin', stored.state_reason)
        self.assertEqual(self.clock.now, stored.finished_at)
        # the running migration goes on; the others never start
        self.assertEqual(
            [plan_states.ACTION_RUNNING, plan_states.ACTION_CANCELLED,
             plan_states.ACTION_CANCELLED], [a.state for a in stored.actions])
        self.assertEqual(self.clock.now, stored.actions[1].finished_at)
        self.assertFalse(self.db.start_action(stored.actions[1].uuid,
                                              'replica-a'))
        self.assertTrue(self.db.finish_action(
            running.uuid, 'replica-a', plan_states.ACTION_COMPLETED))
        event = self.db.list_events(object_uuid=plan.uuid,
                                    kind='plan.cancelled')[0]
        self.assertEqual(2, event.detail['cancelled_actions'])
        # once only, and not after the end
        self.assertFalse(self.db.cancel_plan(plan.uuid, 'admin'))
        recommended = self.db.create_plan(base.make_plan(1),
                                          models.ORIGIN_OPERATOR, 'admin')
        self.assertTrue(self.db.cancel_plan(recommended.uuid, 'admin',
                                            reason='changed my mind'))
        self.assertEqual('changed my mind',
                         self.db.get_plan(recommended.uuid).state_reason)
        self.assertRaises(api.PlanNotFound, self.db.cancel_plan,
                          str(uuid.uuid4()), 'admin')

    def test_cancel_races_start(self):
        """Each action ends up either started or cancelled, never both."""
        other = self.replica()
        for _ in range(5):
            plan = self.applying_plan(1)
            action = plan.actions[0]
            started, cancelled = base.race(
                lambda: self.db.start_action(action.uuid, 'replica-a'),
                lambda: other.cancel_plan(plan.uuid, 'admin'))
            self.assertTrue(cancelled)
            state = self.db.get_action(action.uuid).state
            if started:
                self.assertEqual(plan_states.ACTION_RUNNING, state)
            else:
                self.assertEqual(plan_states.ACTION_CANCELLED, state)

    def test_complete_plan(self):
        plan = self.applying_plan(2)
        first, second = plan.actions
        self.assertIsNone(self.db.complete_plan(plan.uuid, 'replica-a'))
        self.db.start_action(first.uuid, 'replica-a')
        self.db.finish_action(first.uuid, 'replica-a',
                              plan_states.ACTION_COMPLETED)
        self.db.start_action(second.uuid, 'replica-a')
        self.assertIsNone(self.db.complete_plan(plan.uuid, 'replica-a'))
        self.db.finish_action(second.uuid, 'replica-a',
                              plan_states.ACTION_COMPLETED)
        self.assertEqual(plan_states.PLAN_APPLIED,
                         self.db.complete_plan(plan.uuid, 'replica-a'))
        stored = self.db.get_plan(plan.uuid)
        self.assertEqual(plan_states.PLAN_APPLIED, stored.state)
        self.assertIsNone(stored.state_reason)
        self.assertIsNotNone(stored.finished_at)
        # once
        self.assertIsNone(self.db.complete_plan(plan.uuid, 'replica-b'))
        self.assertRaises(api.PlanNotFound, self.db.complete_plan,
                          str(uuid.uuid4()), 'replica-a')

    def test_complete_plan_failed(self):
        plan = self.applying_plan(3)
        outcomes = [plan_states.ACTION_COMPLETED, plan_states.ACTION_FAILED,
                    plan_states.ACTION_ABORTED]
        for action, outcome in zip(plan.actions, outcomes):
            self.db.start_action(action.uuid, 'replica-a')
            self.db.finish_action(action.uuid, 'replica-a', outcome)
        self.assertEqual(plan_states.PLAN_FAILED,
                         self.db.complete_plan(plan.uuid, 'replica-a'))
        self.assertEqual('1 completed, 1 failed, 1 aborted',
                         self.db.get_plan(plan.uuid).state_reason)
        # a plan that is not applying is not completed
        other = self.db.create_plan(base.make_plan(0),
                                    models.ORIGIN_OPERATOR, 'admin')
        self.assertIsNone(self.db.complete_plan(other.uuid, 'replica-a'))
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(other.uuid).state)

    # -- actions --

    def test_get_action(self):
        plan = self.db.create_plan(base.make_plan(1), models.ORIGIN_PERIODIC,
                                   'replica-a')
        action = self.db.get_action(plan.actions[0].uuid)
        self.assertEqual(plan.uuid, action.plan_uuid)
        e = self.assertRaises(api.ActionNotFound, self.db.get_action,
                              'nope')
        self.assertIsInstance(e, api.NotFound)

    def test_list_actions(self):
        first = self.db.create_plan(base.make_plan(2), models.ORIGIN_PERIODIC,
                                    'replica-a')
        self.clock.advance(1)
        second = self.applying_plan(2, source='host-3', target='host-1')
        self.db.start_action(second.actions[1].uuid, 'replica-b')

        def uuids(**kwargs):
            return [a.uuid for a in self.db.list_actions(**kwargs)]

        everything = [a.uuid for a in first.actions + second.actions]
        self.assertEqual(everything, uuids())
        self.assertEqual([a.uuid for a in second.actions],
                         uuids(plan_uuid=second.uuid))
        self.assertEqual([second.actions[1].uuid],
                         uuids(state=plan_states.ACTION_RUNNING))
        self.assertEqual(everything[:3],
                         uuids(state=[plan_states.ACTION_PENDING]))
        self.assertEqual([first.actions[1].uuid],
                         uuids(instance_uuid=first.actions[1].instance_uuid))
        # as source or as target
        self.assertEqual(everything, uuids(host='host-1'))
        self.assertEqual([a.uuid for a in second.actions],
                         uuids(host='host-3'))
        self.assertEqual([second.actions[1].uuid], uuids(owner='replica-b'))
        self.assertEqual(everything[:1], uuids(limit=1))

    def test_start_action(self):
        plan = self.db.create_plan(base.make_plan(2), models.ORIGIN_PERIODIC,
                                   'replica-a')
        action = plan.actions[0]
        # only actions of a plan being applied start
        self.assertFalse(self.db.start_action(action.uuid, 'replica-a'))
        self.db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'replica-a')
        self.clock.advance(3)
        self.assertTrue(self.db.start_action(action.uuid, 'replica-a'))
        stored = self.db.get_action(action.uuid)
        self.assertEqual(plan_states.ACTION_RUNNING, stored.state)
        self.assertEqual('replica-a', stored.owner)
        self.assertEqual(self.clock.now, stored.started_at)
        self.assertEqual(self.clock.now, stored.heartbeat_at)
        self.assertEqual(self.clock.now, stored.updated_at)
        # once
        self.assertFalse(self.db.start_action(action.uuid, 'replica-b'))
        self.assertEqual('replica-a', self.db.get_action(action.uuid).owner)
        self.assertEqual(['action.running'], self.kinds(action.uuid))
        self.assertRaises(api.ActionNotFound, self.db.start_action,
                          str(uuid.uuid4()), 'replica-a')

    def test_two_replicas_start_the_same_actions(self):
        """Only one replica wins each action, whatever the timing."""
        plan = self.applying_plan(10)
        other = self.replica()
        winners = []
        for action in plan.actions:
            results = base.race(
                lambda: self.db.start_action(action.uuid, 'replica-a'),
                lambda: other.start_action(action.uuid, 'replica-b'))
            self.assertEqual(1, results.count(True), results)
            winner = 'replica-a' if results[0] else 'replica-b'
            winners.append(winner)
            self.assertEqual(winner, self.db.get_action(action.uuid).owner)
            events = self.db.list_events(object_uuid=action.uuid)
            self.assertEqual([('action.running', winner)],
                             [(e.kind, e.actor) for e in events])
        self.assertEqual(10, len(winners))

    def test_set_migration(self):
        plan, action = self.running_action()
        self.clock.advance(2)
        self.assertTrue(self.db.set_migration(
            action.uuid, 'replica-a', 42, migration_uuid='m-42',
            nova_status='queued'))
        stored = self.db.get_action(action.uuid)
        self.assertEqual((42, 'm-42', 'queued'),
                         (stored.migration_id, stored.migration_uuid,
                          stored.nova_status))
        self.assertEqual(self.clock.now, stored.heartbeat_at)
        self.assertTrue(self.db.set_migration(action.uuid, 'replica-a', 43))
        stored = self.db.get_action(action.uuid)
        self.assertEqual((43, 'm-42', 'queued'),
                         (stored.migration_id, stored.migration_uuid,
                          stored.nova_status))
        # not the owner's: refused
        self.assertFalse(self.db.set_migration(action.uuid, 'replica-b', 1))
        self.assertEqual(['action.running', 'action.migration',
                          'action.migration'], self.kinds(action.uuid))

    def test_heartbeat(self):
        plan, action = self.running_action()
        self.clock.advance(30)
        self.assertTrue(self.db.heartbeat(action.uuid, 'replica-a',
                                          nova_status='running'))
        stored = self.db.get_action(action.uuid)
        self.assertEqual(self.clock.now, stored.heartbeat_at)
        self.assertEqual('running', stored.nova_status)
        self.assertFalse(self.db.heartbeat(action.uuid, 'replica-b'))
        self.db.finish_action(action.uuid, 'replica-a',
                              plan_states.ACTION_COMPLETED)
        self.assertFalse(self.db.heartbeat(action.uuid, 'replica-a'))
        # heartbeats are not audited
        self.assertEqual(['action.running', 'action.completed'],
                         self.kinds(action.uuid))

    def test_finish_action(self):
        plan, action = self.running_action()
        self.clock.advance(40)
        ended = datetime.datetime(2026, 1, 1, 13, 0, 39, 500000,
                                  tzinfo=datetime.timezone(
                                      datetime.timedelta(hours=1)))
        self.assertTrue(self.db.finish_action(
            action.uuid, 'replica-a', plan_states.ACTION_FAILED,
            error='live-migration: No valid host was found.',
            nova_status='error', finished_at=ended))
        stored = self.db.get_action(action.uuid)
        self.assertEqual(plan_states.ACTION_FAILED, stored.state)
        self.assertEqual('live-migration: No valid host was found.',
                         stored.error)
        self.assertEqual('error', stored.nova_status)
        self.assertEqual(datetime.datetime(2026, 1, 1, 12, 0, 39, 500000),
                         stored.finished_at)
        self.assertEqual(self.clock.now, stored.updated_at)
        event = self.db.list_events(object_uuid=action.uuid)[-1]
        self.assertEqual(('action.failed', 'replica-a'),
                         (event.kind, event.actor))
        self.assertEqual('live-migration: No valid host was found.',
                         event.detail['error'])
        # once
        self.assertFalse(self.db.finish_action(action.uuid, 'replica-a',
                                               plan_states.ACTION_COMPLETED))

    def test_finish_action_checks(self):
        plan, action = self.running_action()
        for state in (plan_states.ACTION_PENDING, plan_states.ACTION_RUNNING,
                      plan_states.ACTION_CANCELLED, 'bogus'):
            self.assertRaises(api.InvalidTransition, self.db.finish_action,
                              action.uuid, 'replica-a', state)
        self.assertFalse(self.db.finish_action(
            action.uuid, 'replica-b', plan_states.ACTION_COMPLETED))
        pending = plan.actions[1]
        self.assertFalse(self.db.finish_action(
            pending.uuid, 'replica-a', plan_states.ACTION_COMPLETED))
        self.assertTrue(self.db.finish_action(
            action.uuid, 'replica-a', plan_states.ACTION_ABORTED,
            error='aborted after migration_timeout (1800 s)'))
        stored = self.db.get_action(action.uuid)
        self.assertEqual(plan_states.ACTION_ABORTED, stored.state)
        self.assertEqual(self.clock.now, stored.finished_at)

    def test_find_in_flight(self):
        plan = self.applying_plan(3, source='host-1', target='host-2')
        other = self.applying_plan(2, source='host-3', target='host-4')
        a, b, _pending = plan.actions
        c, d = other.actions
        self.db.start_action(a.uuid, 'replica-a')
        self.clock.advance(10)
        self.db.start_action(b.uuid, 'replica-b')
        self.clock.advance(1)
        self.db.start_action(c.uuid, 'replica-b')
        self.db.start_action(d.uuid, 'replica-a')
        self.db.finish_action(d.uuid, 'replica-a',
                              plan_states.ACTION_COMPLETED)

        def uuids(hosts, **kwargs):
            return [x.uuid for x in self.db.find_in_flight(hosts, **kwargs)]

        self.assertEqual([a.uuid, b.uuid], uuids(['host-1']))
        self.assertEqual([a.uuid, b.uuid], uuids(['host-2']))
        self.assertEqual([a.uuid, b.uuid, c.uuid],
                         uuids({'host-2', 'host-3'}))
        self.assertEqual([], uuids([]))
        self.assertEqual([], uuids(['host-9']))
        self.assertEqual([b.uuid, c.uuid],
                         uuids(['host-1', 'host-4'],
                               exclude_owner='replica-a'))
        # b's heartbeat is recent, a's and c's are not
        self.clock.advance(20)
        self.assertTrue(self.db.heartbeat(b.uuid, 'replica-b'))
        stale = self.clock.now - datetime.timedelta(seconds=15)
        self.assertEqual([a.uuid, c.uuid],
                         uuids(['host-1', 'host-3'], stale_before=stale))

    def test_take_over(self):
        plan, action = self.running_action()
        self.db.set_migration(action.uuid, 'replica-a', 7)
        self.clock.advance(120)
        stale = self.clock.now - datetime.timedelta(seconds=60)
        # the owner is alive: its heartbeat is newer than the limit
        self.db.heartbeat(action.uuid, 'replica-a')
        self.assertFalse(self.db.take_over(action.uuid, 'replica-b',
                                           'replica-a', stale_before=stale))
        self.clock.advance(120)
        stale = self.clock.now - datetime.timedelta(seconds=60)
        # the caller's view of the owner is wrong
        self.assertFalse(self.db.take_over(action.uuid, 'replica-b',
                                           'replica-c', stale_before=stale))
        self.assertTrue(self.db.take_over(action.uuid, 'replica-b',
                                          'replica-a', stale_before=stale))
        stored = self.db.get_action(action.uuid)
        self.assertEqual('replica-b', stored.owner)
        self.assertEqual(self.clock.now, stored.heartbeat_at)
        self.assertEqual(plan_states.ACTION_RUNNING, stored.state)
        self.assertEqual(7, stored.migration_id)
        # the old owner is out
        self.assertFalse(self.db.heartbeat(action.uuid, 'replica-a'))
        self.assertFalse(self.db.finish_action(
            action.uuid, 'replica-a', plan_states.ACTION_COMPLETED))
        self.assertTrue(self.db.finish_action(
            action.uuid, 'replica-b', plan_states.ACTION_COMPLETED))
        # without a staleness limit: the owner is handed over at once
        self.assertFalse(self.db.take_over(action.uuid, 'replica-c',
                                           'replica-b'))
        takeover = self.db.list_events(object_uuid=action.uuid,
                                       kind='action.takeover')
        self.assertEqual([{'from': 'replica-a', 'to': 'replica-b'}],
                         [e.detail for e in takeover])
        self.assertRaises(api.ActionNotFound, self.db.take_over,
                          str(uuid.uuid4()), 'replica-b', 'replica-a')

    def test_two_replicas_take_over_the_same_action(self):
        other = self.replica()
        for _ in range(5):
            plan, action = self.running_action(owner='replica-dead')
            self.clock.advance(300)
            stale = self.clock.now - datetime.timedelta(seconds=60)
            results = base.race(
                lambda: self.db.take_over(action.uuid, 'replica-a',
                                          'replica-dead', stale),
                lambda: other.take_over(action.uuid, 'replica-b',
                                        'replica-dead', stale))
            self.assertEqual(1, results.count(True), results)
            owner = 'replica-a' if results[0] else 'replica-b'
            self.assertEqual(owner, self.db.get_action(action.uuid).owner)

    def test_restart_loses_nothing(self):
        """A migration in flight when its replica died is not lost.

        The replica that owns the host now finds it and follows it to its
        end; the rest of the plan runs.
        """
        plan = self.applying_plan(2, source='host-1', target='host-2')
        first, second = plan.actions
        dying = self.replica()
        self.assertTrue(dying.start_action(first.uuid, 'replica-a'))
        self.assertTrue(dying.set_migration(first.uuid, 'replica-a', 99,
                                            nova_status='running'))
        dying.dispose()  # the balancer process is gone

        self.clock.advance(600)
        restarted = self.replica()
        stale = self.clock.now - datetime.timedelta(seconds=120)
        found = restarted.find_in_flight(['host-2'], stale_before=stale)
        self.assertEqual([first.uuid], [a.uuid for a in found])
        self.assertEqual((99, 'replica-a', 'running'),
                         (found[0].migration_id, found[0].owner,
                          found[0].nova_status))
        self.assertTrue(restarted.take_over(found[0].uuid, 'replica-b',
                                            found[0].owner, stale))
        self.assertTrue(restarted.finish_action(
            first.uuid, 'replica-b', plan_states.ACTION_COMPLETED,
            nova_status='completed'))
        # the rest of the plan is still there to run
        pending = restarted.list_actions(plan_uuid=plan.uuid,
                                         state=plan_states.ACTION_PENDING)
        self.assertEqual([second.uuid], [a.uuid for a in pending])
        self.assertTrue(restarted.start_action(second.uuid, 'replica-b'))
        self.assertTrue(restarted.finish_action(
            second.uuid, 'replica-b', plan_states.ACTION_COMPLETED))
        self.assertEqual(plan_states.PLAN_APPLIED,
                         restarted.complete_plan(plan.uuid, 'replica-b'))
        self.assertEqual(
            ['action.running', 'action.migration', 'action.takeover',
             'action.completed'], self.kinds(first.uuid))

    # -- audit trail --

    def test_record_and_list_events(self):
        plan = self.db.create_plan(base.make_plan(1), models.ORIGIN_OPERATOR,
                                   'admin')
        self.clock.advance(60)
        event = self.db.record_event('admin', 'operator.mode',
                                     'mode set to manual',
                                     detail={'mode': 'manual'})
        self.assertIsNotNone(event.id)
        self.db.record_event('replica-a', 'replica.started',
                             object_uuid=plan.uuid)

        events = self.db.list_events()
        self.assertEqual(['plan.created', 'operator.mode',
                          'replica.started'], [e.kind for e in events])
        ids = [e.id for e in events]
        self.assertEqual(sorted(ids), ids)
        mode = events[1]
        self.assertEqual(('admin', 'mode set to manual', {'mode': 'manual'},
                          None, self.clock.now),
                         (mode.actor, mode.message, mode.detail,
                          mode.object_uuid, mode.created_at))
        self.assertEqual('', events[2].message)

        def kinds(**kwargs):
            return [e.kind for e in self.db.list_events(**kwargs)]

        self.assertEqual(['plan.created', 'replica.started'],
                         kinds(object_uuid=plan.uuid))
        self.assertEqual(['operator.mode'], kinds(kind='operator.mode'))
        self.assertEqual(['plan.created'], kinds(kind='plan.'))
        self.assertEqual([], kinds(kind='plan'))
        self.assertEqual(['operator.mode'], kinds(actor='admin',
                                                  since=self.clock.now))
        self.assertEqual(['operator.mode', 'replica.started'],
                         kinds(after_id=ids[0]))
        self.assertEqual(['plan.created', 'operator.mode'], kinds(limit=2))

    def test_prefix_is_not_a_pattern(self):
        self.db.record_event('admin', 'a_b.x')
        self.db.record_event('admin', 'axb.x')
        self.assertEqual(['a_b.x'],
                         [e.kind for e in self.db.list_events(kind='a_b.')])

    # -- bad pairs --

    def test_bad_pair_expires(self):
        instance = str(uuid.uuid4())
        until = self.db.mark_bad_pair(instance, 'host-2', 600,
                                      reason='No valid host was found.',
                                      actor='replica-a')
        self.assertEqual(base.START + datetime.timedelta(seconds=600), until)
        self.assertIn((instance, 'host-2'), self.db.bad_pairs())
        self.assertNotIn((instance, 'host-3'), self.db.bad_pairs())
        self.assertNotIn((str(uuid.uuid4()), 'host-2'), self.db.bad_pairs())
        self.assertEqual({(instance, 'host-2'): until}, self.db.bad_pairs())
        self.clock.advance(599)
        self.assertIn((instance, 'host-2'), self.db.bad_pairs())
        self.clock.advance(1)
        self.assertNotIn((instance, 'host-2'), self.db.bad_pairs())
        self.assertEqual({}, self.db.bad_pairs())
        event = self.db.list_events(kind='pair.bad')[0]
        self.assertEqual((instance, 'replica-a', 'host-2'),
                         (event.object_uuid, event.actor,
                          event.detail['target']))

    def test_bad_pair_keeps_the_later_expiry(self):
        instance = str(uuid.uuid4())
        first = self.db.mark_bad_pair(instance, 'host-2', 600)
        self.clock.advance(60)
        # a shorter penalty does not shorten the first one
        self.assertEqual(first, self.db.mark_bad_pair(instance, 'host-2',
                                                      60))
        self.assertEqual(first, self.db.bad_pairs()[(instance, 'host-2')])
        later = self.db.mark_bad_pair(instance, 'host-2', 3600,
                                      reason='again')
        self.assertEqual(self.clock.now + datetime.timedelta(seconds=3600),
                         later)
        self.assertEqual(later, self.db.bad_pairs()[(instance, 'host-2')])
        self.clock.advance(600)
        self.assertIn((instance, 'host-2'), self.db.bad_pairs())
        # expired pairs can be marked again
        self.clock.advance(3600)
        self.assertNotIn((instance, 'host-2'), self.db.bad_pairs())
        self.db.mark_bad_pair(instance, 'host-2', 10)
        self.assertIn((instance, 'host-2'), self.db.bad_pairs())
        self.assertEqual(3, len(self.db.list_events(kind='pair.bad')))

    def test_bad_pairs_of_instances(self):
        one, two = str(uuid.uuid4()), str(uuid.uuid4())
        self.db.mark_bad_pair(one, 'host-2', 60)
        self.db.mark_bad_pair(one, 'host-3', 60)
        self.db.mark_bad_pair(two, 'host-2', 60)
        self.assertEqual({(one, 'host-2'), (one, 'host-3')},
                         set(self.db.bad_pairs(instance_uuids=[one])))
        self.assertEqual(3, len(self.db.bad_pairs()))
        self.assertEqual({}, self.db.bad_pairs(instance_uuids=[]))

    def test_two_replicas_mark_the_same_pair(self):
        other = self.replica()
        for _ in range(5):
            instance = str(uuid.uuid4())
            results = base.race(
                lambda: self.db.mark_bad_pair(instance, 'host-2', 60),
                lambda: other.mark_bad_pair(instance, 'host-2', 60))
            self.assertEqual(results[0], results[1])
            self.assertEqual({(instance, 'host-2'): results[0]},
                             self.db.bad_pairs(instance_uuids=[instance]))

    # -- housekeeping --

    def test_purge(self):
        old = self.applying_plan(2)
        self.db.cancel_plan(old.uuid, 'admin')
        active = self.applying_plan(1)
        instance = str(uuid.uuid4())
        self.db.mark_bad_pair(instance, 'host-2', 60)
        self.db.mark_bad_pair(instance, 'host-3', 86400)
        self.clock.advance(3600)
        recent = self.db.create_plan(base.make_plan(1),
                                     models.ORIGIN_OPERATOR, 'admin')
        self.db.cancel_plan(recent.uuid, 'admin')
        events_before = len(self.db.list_events())

        counts = self.db.purge(self.clock.now - datetime.timedelta(
            seconds=1800))
        # left: the recent plan's "created" and "cancelled"
        self.assertEqual({'plans': 1, 'actions': 2, 'failed_pairs': 1,
                          'audit_events': events_before - 2,
                          'plan_requests': 0, 'replica_states': 0},
                         counts)
        self.assertRaises(api.PlanNotFound, self.db.get_plan, old.uuid)
        self.assertEqual([], self.db.list_actions(plan_uuid=old.uuid))
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(active.uuid).state)
        self.assertEqual(plan_states.PLAN_CANCELLED,
                         self.db.get_plan(recent.uuid).state)
        self.assertEqual({(instance, 'host-3')}, set(self.db.bad_pairs()))
        self.assertEqual(['plan.created', 'plan.cancelled'],
                         [e.kind for e in self.db.list_events()])


class TestApiSqlite(base.SqliteTestCase, ApiTests):
    """The API on SQLite, the embedded default."""


class TestApiSetup(base.SqliteTestCase):
    """Building a Database from the configuration, and module helpers."""

    def test_from_configuration(self):
        path = self.url[len('sqlite:///'):]
        conf_path = self.create_tempfiles(
            [('nova-drs', '[drs_database]\nconnection = sqlite:///%s\n'
              'max_pool_size = 2\n' % path)], ext='.conf')[0]
        conf = config.load([conf_path])
        db = api.Database(conf)
        self.addCleanup(db.dispose)
        self.assertEqual(self.url, str(db.engine.url))
        plan = db.create_plan(base.make_plan(1), models.ORIGIN_OPERATOR,
                              'admin')
        self.assertEqual(plan.uuid, self.db.get_plan(plan.uuid).uuid)

    def test_default_connection(self):
        conf = config.load()
        self.assertEqual('sqlite:////var/lib/nova-drs/nova-drs.sqlite',
                         conf.drs_database.connection)

    def test_not_configured(self):
        conf = config.load()
        conf.set_override('connection', '', group='drs_database')
        self.assertRaises(api.DatabaseNotConfigured, api.Database, conf)
        self.assertRaises(api.DatabaseNotConfigured, api.Database)

    def test_connection_argument_wins(self):
        conf = config.load()
        db = api.Database(conf, connection=self.url)
        self.addCleanup(db.dispose)
        self.assertEqual(self.url, str(db.engine.url))

    def test_foreign_keys_enforced(self):
        with self.db.engine.begin() as conn:
            self.assertRaises(
                db_exc.DBReferenceError, conn.execute,
                sa.insert(models.Action).values(
                    uuid='a', plan_uuid='no-such-plan', order_index=0,
                    instance_uuid='i', source='h', reason='', state='pending',
                    transfer_mb=0, estimated_s=0,
                    created_at=base.START, updated_at=base.START))


class TestServerNow(base.SqliteTestCase):
    """The clock shared rows are stamped with (Database.server_now)."""

    def test_sqlite_has_no_server_the_process_clock_stamps(self):
        db = api.Database(connection=self.url, clock=self.clock)
        self.addCleanup(db.dispose)
        self.assertEqual(base.START, db.server_now())
        self.clock.advance(5)
        self.assertEqual(db.now(), db.server_now())

    def test_host_states_are_stamped_with_the_server_clock(self):
        # a writer whose own clock is an hour ahead of the server's
        server = base.FakeClock()
        db = api.Database(connection=self.url, clock=lambda: (
            server.now + datetime.timedelta(hours=1)), server_clock=server)
        self.addCleanup(db.dispose)
        db.save_host_states([types.SimpleNamespace(name='h-1')], 'r1')
        self.assertEqual([base.START], [
            r.updated_at for r in db.list_host_states()])
