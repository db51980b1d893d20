# SPDX-License-Identifier: Apache-2.0
"""The plan and action state machines (nova_drs.balancer.plan_states)."""

from oslotest import base

from nova_drs.balancer import plan_states as ps


class StateMachineTest(base.BaseTestCase):

    def test_tables_are_closed(self):
        for table, states in ((ps.PLAN_TRANSITIONS, ps.PLAN_STATES),
                              (ps.ACTION_TRANSITIONS, ps.ACTION_STATES)):
            self.assertEqual(set(states), set(table))
            for targets in table.values():
                self.assertLessEqual(targets, set(states))

    def test_final_states_end(self):
        for state in ps.PLAN_FINAL_STATES:
            self.assertEqual(frozenset(), ps.PLAN_TRANSITIONS[state])
        for state in ps.ACTION_FINAL_STATES:
            self.assertEqual(frozenset(), ps.ACTION_TRANSITIONS[state])
        # and every other state leads somewhere
        for table, final in ((ps.PLAN_TRANSITIONS, ps.PLAN_FINAL_STATES),
                             (ps.ACTION_TRANSITIONS, ps.ACTION_FINAL_STATES)):
            for state, targets in table.items():
                self.assertEqual(state in final, not targets, state)

    def test_check_plan_transition(self):
        ps.check_plan_transition(ps.PLAN_RECOMMENDED, ps.PLAN_APPLYING)
        ps.check_plan_transition(ps.PLAN_APPLYING, ps.PLAN_CANCELLED)
        e = self.assertRaises(ps.InvalidTransition, ps.check_plan_transition,
                              ps.PLAN_RECOMMENDED, ps.PLAN_APPLIED)
        self.assertEqual('plan: recommended -> applied is not allowed',
                         str(e))
        self.assertRaises(ps.InvalidTransition, ps.check_plan_transition,
                          ps.PLAN_APPLIED, ps.PLAN_APPLYING)
        self.assertRaises(ps.InvalidTransition, ps.check_plan_transition,
                          'bogus', ps.PLAN_APPLYING)

    def test_check_action_transition(self):
        for state in (ps.ACTION_COMPLETED, ps.ACTION_FAILED,
                      ps.ACTION_ABORTED):
            ps.check_action_transition(ps.ACTION_RUNNING, state)
        e = self.assertRaises(ps.InvalidTransition,
                              ps.check_action_transition,
                              ps.ACTION_RUNNING, ps.ACTION_CANCELLED)
        self.assertEqual('action: running -> cancelled is not allowed',
                         str(e))
        self.assertRaises(ps.InvalidTransition, ps.check_action_transition,
                          ps.ACTION_PENDING, ps.ACTION_COMPLETED)

    def test_invalid_transition_is_a_value_error(self):
        # callers that catch ValueError for bad arguments catch it too
        self.assertTrue(issubclass(ps.InvalidTransition, ValueError))

    def test_state_for_nova_status(self):
        expected = {
            'completed': ps.ACTION_COMPLETED,
            'done': ps.ACTION_COMPLETED,
            'cancelled': ps.ACTION_ABORTED,
            'error': ps.ACTION_FAILED,
            'failed': ps.ACTION_FAILED,
            'rejected': ps.ACTION_FAILED,
        }
        self.assertEqual(expected, ps.ACTION_STATE_FOR_NOVA_STATUS)
        # still running, maybe: followed again
        self.assertNotIn('unknown', ps.ACTION_STATE_FOR_NOVA_STATUS)
        for state in ps.ACTION_STATE_FOR_NOVA_STATUS.values():
            self.assertIn(state, ps.ACTION_TRANSITIONS[ps.ACTION_RUNNING])
