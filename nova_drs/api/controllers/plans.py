# SPDX-License-Identifier: Apache-2.0
"""Plans: list, show, ask for one, apply, cancel.

A plan is made by a balancer replica from its live view of the cluster,
so ``POST /v1/plans`` only stores a request (202) that a replica answers
within seconds (:mod:`.plan_requests`). Applying and cancelling are the
database's compare-and-set transitions: an operator racing a replica
(which may supersede or complete the plan at the same moment) gets a 409
rather than a change made on a state that was no longer there.
"""

from nova_drs.api.controllers import migrations
from nova_drs.api.controllers import plan_requests
from nova_drs.api import errors
from nova_drs.api import fields
from nova_drs.api import paging
from nova_drs.balancer import plan_states
from nova_drs.db import api as db_api
from nova_drs.db import models
from nova_drs import plugins

STRATEGIES = 'nova_drs.balancer.strategies'


def view(row, with_actions):
    body = {
        'uuid': row.uuid,
        'strategy': row.strategy,
        'origin': row.origin,
        'state': row.state,
        'state_reason': row.state_reason,
        'created_at': fields.isotime(row.created_at),
        'updated_at': fields.isotime(row.updated_at),
        'finished_at': fields.isotime(row.finished_at),
        'decision_s': row.decision_s,
        'unresolved': list(row.unresolved or []),
        'created_by': row.created_by,
    }
    if with_actions:
        body['actions'] = [migrations.view(a) for a in row.actions]
    return body


def _get(call, uuid):
    try:
        return call.db.get_plan(uuid)
    except db_api.PlanNotFound:
        raise errors.NotFound('plan %s not found' % uuid) from None


def index(call):
    size = paging.page_size(call)
    marker = call.query.get('marker')
    try:
        rows = call.db.list_plans(
            state=call.query.get('state'), origin=call.query.get('origin'),
            marker=marker.lower() if marker else None, limit=size + 1)
    except db_api.PlanNotFound as e:
        raise errors.BadRequest('marker plan %s not found' % e.uuid) \
            from None
    rows, links = paging.page(call, rows, lambda r: r.uuid, size)
    return 200, {'plans': [view(r, False) for r in rows], 'links': links}


def show(call, uuid):
    return 200, {'plan': view(_get(call, uuid), True)}


def create(call):
    strategy = call.body.get('strategy') or \
        call.conf.drs_balancer.strategy
    installed = plugins.names(STRATEGIES)
    if strategy not in installed:
        raise errors.BadRequest('unknown strategy %r; installed: %s'
                                % (strategy, ', '.join(installed)))
    request = call.db.create_plan_request(
        models.REQUEST_PLAN, call.user, strategy=strategy, apply=False)
    return 202, {'plan_request': plan_requests.view(call, request)}


def _conflict(call, uuid, action, allowed):
    plan = _get(call, uuid)
    raise errors.Conflict('plan %s is %s: only a plan that is %s can be %s'
                          % (uuid, plan.state, ' or '.join(allowed), action))


def apply(call, uuid):
    try:
        won = call.db.transition_plan(
            uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            call.user, reason='applied by %s' % call.user)
    except db_api.PlanNotFound:
        raise errors.NotFound('plan %s not found' % uuid) from None
    if not won:
        _conflict(call, uuid, 'applied', [plan_states.PLAN_RECOMMENDED])
    return 200, {'plan': view(_get(call, uuid), True)}


def cancel(call, uuid):
    try:
        won = call.db.cancel_plan(uuid, call.user,
                                  reason='cancelled by %s' % call.user)
    except db_api.PlanNotFound:
        raise errors.NotFound('plan %s not found' % uuid) from None
    if not won:
        _conflict(call, uuid, 'cancelled',
                  [plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING])
    return 200, {'plan': view(_get(call, uuid), True)}
