# SPDX-License-Identifier: Apache-2.0
"""The executor's admission rules, shared with the simulator."""

import dataclasses

from oslotest import base

from nova_drs.balancer.execution import admission
from nova_drs.balancer import plan_states

PENDING = plan_states.ACTION_PENDING
RUNNING = plan_states.ACTION_RUNNING
DONE = plan_states.ACTION_COMPLETED


@dataclasses.dataclass
class Action:
    instance_uuid: str
    source: str
    target: str
    state: str = PENDING
    uuid: str = None


class TestReady(base.BaseTestCase):

    def test_make_room_chain_and_same_instance_wait(self):
        plan = [Action('b', 'h2', 'h3'),      # makes room on h2
                Action('a', 'h1', 'h2'),      # waits for it
                Action('b', 'h3', 'h4'),      # b again: waits
                Action('c', 'h5', 'h6')]      # free to start
        self.assertEqual([plan[0], plan[3]], list(admission.ready(plan)))

    def test_finished_actions_release(self):
        plan = [Action('b', 'h2', 'h3', DONE), Action('a', 'h1', 'h2')]
        self.assertEqual([plan[1]], list(admission.ready(plan)))
        plan[0].state = RUNNING
        self.assertEqual([], list(admission.ready(plan)))


class TestSlots(base.BaseTestCase):

    def test_per_host_and_total(self):
        slots = admission.Slots(3, 1, [('h1', 'h2')])
        self.assertFalse(slots.admits('h1', 'h3'))
        self.assertFalse(slots.admits('h3', 'h2'))
        self.assertTrue(slots.admits('h3', 'h4'))
        slots.take('h3', 'h4')
        # a scheduler-chosen target holds no host slot
        self.assertTrue(slots.admits('h5', None))
        slots.take('h5', None)
        self.assertTrue(slots.full())
        self.assertFalse(slots.admits('h6', 'h7'))

    def test_host_zero_counts(self):
        # the simulator's hosts are indices: host 0 is a host
        slots = admission.Slots(10, 1, [(0, 1)])
        self.assertFalse(slots.admits(0, 2))


class TestOutOfDate(base.BaseTestCase):

    def test_reasons(self):
        action = Action('a', 'h1', 'h2')
        self.assertIsNone(admission.out_of_date(action, [], 'h1'))
        self.assertIsNone(admission.out_of_date(action, [], None))
        self.assertIn('is on h3 now, not on h1',
                      admission.out_of_date(action, [], 'h3'))
        self.assertIn('being migrated by action x',
                      admission.out_of_date(action, ['x'], 'h1'))
