# SPDX-License-Identifier: Apache-2.0
"""Operators' plan requests carried out by a balancer replica."""

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import planner
from nova_drs.balancer.planning import requests
from nova_drs.db import models
from tests.unit.balancer import test_planner as cases
from tests.unit import clusters as c
from tests.unit.db import base


class RequestsTest(base.SqliteTestCase):

    def setUp(self):
        super().setUp()
        conf = c.conf(drs_balancer__mode='manual')
        self.handler = requests.RequestHandler(
            conf, self.db, planner.Planner(conf, self.db, 'r1'), 'r1')
        self.cycles = 0
        self.paused = frozenset()

    def cycle(self):
        self.cycles += 1
        return planner.CycleInput(model=cases.hot_cluster(),
                                  owned=frozenset(('host-1',)),
                                  paused_hosts=self.paused)

    def process(self, owned=('host-1', 'host-2', 'host-3')):
        return self.handler.process(self.cycle, lambda h: h in owned)

    def test_dry_run_plan_over_the_whole_cluster(self):
        req = self.db.create_plan_request('plan', 'alice',
                                          strategy='balance')
        self.assertEqual([], self.process(owned=('host-3',)))
        done = self.db.get_plan_request(req.uuid)
        self.assertEqual(models.REQUEST_DONE, done.state)
        plan = self.db.get_plan(done.plan_uuid)
        self.assertEqual(
            (plan_states.PLAN_RECOMMENDED, models.ORIGIN_OPERATOR, 'alice',
             'balance'),
            (plan.state, plan.origin, plan.created_by, plan.strategy))
        # host-1 is not owned here, but a dry run covers every host
        self.assertIn('host-1', {a.source for a in plan.actions})

    def test_unknown_strategy_fails_with_the_reason(self):
        req = self.db.create_plan_request('plan', 'alice', strategy='nope')
        self.process()
        failed = self.db.get_plan_request(req.uuid)
        self.assertEqual(models.REQUEST_FAILED, failed.state)
        self.assertIn("no strategy named 'nope'", failed.error)

    def test_evacuation_by_the_owner_applied(self):
        req = self.db.create_plan_request('evacuation', 'bob', host='host-2',
                                          apply=True)
        # not the owner of host-2: left pending, the view not even built
        self.assertEqual([], self.process(owned=('host-1',)))
        self.assertEqual(0, self.cycles)
        self.assertEqual(models.REQUEST_PENDING,
                         self.db.get_plan_request(req.uuid).state)
        applied = self.process(owned=('host-2',))
        done = self.db.get_plan_request(req.uuid)
        self.assertEqual([done.plan_uuid], applied)
        plan = self.db.get_plan(done.plan_uuid)
        self.assertEqual(plan_states.PLAN_APPLYING, plan.state)
        self.assertEqual([('idle', 'host-2')],
                         [(a.instance_uuid, a.source) for a in plan.actions])
        self.assertNotEqual('host-2', plan.actions[0].target)

    def test_evacuation_of_an_unknown_host(self):
        req = self.db.create_plan_request('evacuation', 'bob',
                                          host='host-9')
        self.process(owned=('host-9',))
        failed = self.db.get_plan_request(req.uuid)
        self.assertIn('host-9 is not a compute host', failed.error)

    def test_claimed_by_another_replica_is_not_done_twice(self):
        req = self.db.create_plan_request('plan', 'alice')
        self.assertTrue(self.db.claim_plan_request(req.uuid, 'r2'))
        self.process()
        self.assertEqual((models.REQUEST_CLAIMED, 'r2'),
                         (self.db.get_plan_request(req.uuid).state,
                          self.db.get_plan_request(req.uuid).claimed_by))
        self.assertEqual([], self.db.list_plans())

    def test_no_view_leaves_requests_pending(self):
        req = self.db.create_plan_request('plan', 'alice')
        self.handler.process(lambda: None, lambda h: True)
        self.assertEqual(models.REQUEST_PENDING,
                         self.db.get_plan_request(req.uuid).state)

    def test_dry_run_leaves_paused_hosts_alone(self):
        self.paused = frozenset(('host-3',))
        req = self.db.create_plan_request('plan', 'alice',
                                          strategy='hotspot')
        self.process()
        plan = self.db.get_plan(self.db.get_plan_request(req.uuid).plan_uuid)
        self.assertEqual({'host-2'}, {a.target for a in plan.actions})
        self.paused = frozenset(('host-1',))
        req = self.db.create_plan_request('plan', 'alice',
                                          strategy='hotspot')
        self.process()
        plan = self.db.get_plan(self.db.get_plan_request(req.uuid).plan_uuid)
        self.assertEqual([], plan.actions)

    def test_evacuation_of_a_paused_host_is_carried_out(self):
        # an explicit request: the paused host itself is emptied, and the
        # other paused host (host-3, the only one with room) is not chosen:
        # no target, Nova's scheduler picks (doc/source/balancer.rst)
        self.paused = frozenset(('host-2', 'host-3'))
        req = self.db.create_plan_request('evacuation', 'bob', host='host-2',
                                          apply=True)
        applied = self.process(owned=('host-2',))
        plan = self.db.get_plan(self.db.get_plan_request(req.uuid).plan_uuid)
        self.assertEqual([plan.uuid], applied)
        self.assertEqual([('idle', 'host-2', None)],
                         [(a.instance_uuid, a.source, a.target)
                          for a in plan.actions])
        self.assertFalse(plan.applied_automatically)
        # not paused, host-3 takes it
        self.paused = frozenset()
        req = self.db.create_plan_request('evacuation', 'bob', host='host-2')
        self.process(owned=('host-2',))
        plan = self.db.get_plan(self.db.get_plan_request(req.uuid).plan_uuid)
        self.assertEqual(['host-3'], [a.target for a in plan.actions])
