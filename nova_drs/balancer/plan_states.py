# SPDX-License-Identifier: Apache-2.0
"""The life of a plan and of its actions: states and allowed changes.

A plan is stored ``recommended``; applying it (automatically or on an
operator's approval) moves it to ``applying``; it ends ``applied`` when
every action completed, ``failed`` when one did not, ``cancelled`` by an
operator or ``superseded`` by a newer plan of the same origin::

    recommended ──> applying ──> applied | failed | cancelled
        └──> cancelled | superseded

An action (one live migration of the plan) is ``pending`` until a
replica starts it, then ``running`` until Nova's migration ends::

    pending ──> running ──> completed | failed | aborted
       └──> cancelled  (its plan was cancelled or superseded)

These rules belong to the balancer: the database stores the states
(:mod:`nova_drs.db.models` checks the columns against
:data:`PLAN_STATES` and :data:`ACTION_STATES`) and refuses, with
:class:`InvalidTransition`, a change these tables do not allow
(:mod:`nova_drs.db.plans`).
"""

PLAN_RECOMMENDED = 'recommended'
PLAN_APPLYING = 'applying'
PLAN_APPLIED = 'applied'
PLAN_CANCELLED = 'cancelled'
PLAN_FAILED = 'failed'
PLAN_SUPERSEDED = 'superseded'
PLAN_STATES = (PLAN_RECOMMENDED, PLAN_APPLYING, PLAN_APPLIED,
               PLAN_CANCELLED, PLAN_FAILED, PLAN_SUPERSEDED)
#: A plan in one of these states changes no more.
PLAN_FINAL_STATES = frozenset((PLAN_APPLIED, PLAN_CANCELLED, PLAN_FAILED,
                               PLAN_SUPERSEDED))

#: {state: the states a plan may go to from it}
PLAN_TRANSITIONS = {
    PLAN_RECOMMENDED: frozenset((PLAN_APPLYING, PLAN_CANCELLED,
                                 PLAN_SUPERSEDED)),
    PLAN_APPLYING: frozenset((PLAN_APPLIED, PLAN_FAILED, PLAN_CANCELLED)),
    PLAN_APPLIED: frozenset(),
    PLAN_CANCELLED: frozenset(),
    PLAN_FAILED: frozenset(),
    PLAN_SUPERSEDED: frozenset(),
}

ACTION_PENDING = 'pending'
ACTION_RUNNING = 'running'
ACTION_COMPLETED = 'completed'
ACTION_FAILED = 'failed'
ACTION_ABORTED = 'aborted'
ACTION_CANCELLED = 'cancelled'
ACTION_STATES = (ACTION_PENDING, ACTION_RUNNING, ACTION_COMPLETED,
                 ACTION_FAILED, ACTION_ABORTED, ACTION_CANCELLED)
ACTION_FINAL_STATES = frozenset((ACTION_COMPLETED, ACTION_FAILED,
                                 ACTION_ABORTED, ACTION_CANCELLED))

#: {state: the states an action may go to from it}. ``aborted``: the
#: migration was cancelled in Nova (timeout action, operator); ``failed``:
#: Nova refused it or it ended in error; ``cancelled``: it never started
#: (its plan was cancelled).
ACTION_TRANSITIONS = {
    ACTION_PENDING: frozenset((ACTION_RUNNING, ACTION_CANCELLED)),
    ACTION_RUNNING: frozenset((ACTION_COMPLETED, ACTION_FAILED,
                               ACTION_ABORTED)),
    ACTION_COMPLETED: frozenset(),
    ACTION_FAILED: frozenset(),
    ACTION_ABORTED: frozenset(),
    ACTION_CANCELLED: frozenset(),
}

#: The action state for Nova's final migration status (and the actuator's
#: ``rejected``); ``unknown`` has none: the migration may still be running
#: and must be followed again.
ACTION_STATE_FOR_NOVA_STATUS = {
    'completed': ACTION_COMPLETED,
    'done': ACTION_COMPLETED,
    'cancelled': ACTION_ABORTED,
    'error': ACTION_FAILED,
    'failed': ACTION_FAILED,
    'rejected': ACTION_FAILED,
}


class InvalidTransition(ValueError):
    """The state machine does not allow this change."""


def _check(what, transitions, current, new):
    if new not in transitions.get(current, ()):
        raise InvalidTransition('%s: %s -> %s is not allowed'
                                % (what, current, new))


def check_plan_transition(current, new):
    """Raise :class:`InvalidTransition` unless a plan may go to ``new``."""
    _check('plan', PLAN_TRANSITIONS, current, new)


def check_action_transition(current, new):
    """Raise :class:`InvalidTransition` unless an action may go to new."""
    _check('action', ACTION_TRANSITIONS, current, new)
