# SPDX-License-Identifier: Apache-2.0
"""``openstack drs plan create|list|show|apply|cancel|request show``."""

from osc_lib import exceptions

from nova_drs.osc.v1 import plans
from tests.unit.osc import base
from tests.unit.osc import fakes


class PlanCreateTest(base.CommandTestCase):

    def test_shows_the_plan_request(self):
        request = self.run_json(plans.CreatePlan, ['--strategy', 'hotspot'])
        self.assertEqual([('create_plan', (), {'strategy': 'hotspot'})],
                         self.client.calls)
        self.assertEqual(fakes.REQUEST_UUID, request['UUID'])
        self.assertEqual('pending', request['State'])
        self.assertIsNone(request['Plan UUID'])

    def test_default_strategy(self):
        self.run_command(plans.CreatePlan, [])
        self.assertEqual({'strategy': None}, self.client.calls[0][2])

    def test_wait_shows_the_plan_and_its_actions(self):
        self.client.request_states = [dict(fakes.PLAN_REQUEST, state='done',
                                           plan_uuid=fakes.PLAN_UUID)]
        out = self.run_command(plans.CreatePlan, ['--wait'])
        self.assertEqual(('get_plan', (fakes.PLAN_UUID,), {}),
                         self.client.calls[-1])
        self.assertEqual(120.0, self.client.calls[1][2]['timeout'])
        self.assertIn('%s: compute-1 -> (scheduler) [pending]'
                      % fakes.INSTANCE_UUID, out)

    def test_wait_done_without_plan_is_an_error(self):
        self.client.request_states = [dict(fakes.PLAN_REQUEST, state='done')]
        exc = self.assertRaises(exceptions.CommandError, self.run_command,
                                plans.CreatePlan, ['--wait'])
        self.assertIn('names no plan', str(exc))


class PlanListTest(base.CommandTestCase):

    def test_table(self):
        out = self.run_command(plans.ListPlan, [])
        for title in ('UUID', 'Strategy', 'Origin', 'State', 'Unresolved',
                      'Created By', 'Created At'):
            self.assertIn(title, out.splitlines()[1])
        self.assertIn('compute-7', out)

    def test_json(self):
        rows = self.run_json(plans.ListPlan, ['--state', 'recommended',
                                              '--origin', 'operator'])
        self.assertEqual(['compute-7'], rows[0]['Unresolved'])
        self.assertNotIn('Actions', rows[0])
        self.assertEqual({'state': 'recommended', 'origin': 'operator',
                          'limit': None, 'marker': None},
                         self.client.calls[0][2])

    def test_unknown_state_or_origin(self):
        self.assertUsageError(plans.ListPlan, ['--state', 'done'],
                              "invalid choice: 'done'")
        self.assertUsageError(plans.ListPlan, ['--origin', 'me'],
                              "invalid choice: 'me'")


class PlanShowTest(base.CommandTestCase):

    def test_json_has_the_actions(self):
        plan = self.run_json(plans.ShowPlan, [fakes.PLAN_UUID])
        self.assertEqual(fakes.PLAN['actions'], plan['Actions'])
        self.assertEqual(0.012, plan['Decision (s)'])
        self.assertIsNone(plan['Finished At'])

    def test_yaml(self):
        plan = self.run_yaml(plans.ShowPlan, [fakes.PLAN_UUID])
        self.assertEqual('hotspot', plan['Strategy'])
        self.assertEqual(fakes.ACTION_UUID, plan['Actions'][0]['uuid'])

    def test_plan_is_required(self):
        self.assertUsageError(plans.ShowPlan, [], 'required: <plan>')


class PlanTransitionTest(base.CommandTestCase):

    def test_apply(self):
        plan = self.run_json(plans.ApplyPlan, [fakes.PLAN_UUID])
        self.assertEqual([('apply_plan', (fakes.PLAN_UUID,), {})],
                         self.client.calls)
        self.assertEqual('applying', plan['State'])

    def test_cancel(self):
        plan = self.run_json(plans.CancelPlan, [fakes.PLAN_UUID])
        self.assertEqual([('cancel_plan', (fakes.PLAN_UUID,), {})],
                         self.client.calls)
        self.assertEqual('cancelled', plan['State'])
        self.assertEqual('by alice', plan['State Reason'])


class PlanRequestShowTest(base.CommandTestCase):

    def test_json(self):
        request = self.run_json(plans.ShowPlanRequest, [fakes.REQUEST_UUID])
        self.assertEqual([('get_plan_request', (fakes.REQUEST_UUID,), {})],
                         self.client.calls)
        self.assertEqual('plan', request['Kind'])
        self.assertIs(False, request['Apply'])
