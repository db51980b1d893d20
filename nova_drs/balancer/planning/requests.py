# SPDX-License-Identifier: Apache-2.0
"""Operators' plan requests, carried out by a balancer replica.

The API cannot plan by itself: the live view of the cluster (the agents'
metrics) lives in the balancer replicas. So ``POST /v1/plans`` and
``POST /v1/hosts/{host}/evacuate`` store a *plan request* in the database
(``plan_requests``, see doc/source/database.rst), and a replica carries it out
at its next turn (every ``[drs_balancer] request_poll_interval`` seconds):

* a ``plan`` request may be claimed by any replica: it plans over the
  whole cluster with the requested strategy (a dry run: stored
  ``recommended``, origin ``operator``, created by the requesting user),
  so the operator sees what the strategy would do everywhere; applying it
  later lets each replica run the migrations off the hosts it owns;
* an ``evacuation`` request is claimed by the replica that owns the host:
  every movable instance off the host (``evacuation.plan_evacuation``),
  applied at once when the request says so.

Both are an operator's explicit requests: they are carried out while
automatic balancing is paused (an applied evacuation runs then too). Hosts
an operator paused are fenced off in both (never a destination, nothing
moved off them), except the host an evacuation was asked for.

A request is claimed with a compare-and-set, so exactly one replica
carries it out; one claimed by a replica that died is released after
``request_claim_timeout`` seconds and claimed again.
"""

from oslo_log import log as logging

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import evacuation
from nova_drs.balancer.planning import planner as planner_mod
from nova_drs.balancer import strategies
from nova_drs.db import models

LOG = logging.getLogger(__name__)

KIND_PLAN = 'plan'
KIND_EVACUATION = 'evacuation'


class RequestError(Exception):
    """The request cannot be carried out; the message says why."""


class RequestHandler:
    """Claims and carries out pending plan requests for one replica.

    :param conf: the configuration
    :param db: a :class:`nova_drs.db.api.Database`
    :param planner: this replica's :class:`~nova_drs.balancer.planning.planner.
        Planner` (how plans are stored)
    :param replica_id: this replica
    """

    def __init__(self, conf, db, planner, replica_id):
        self.conf = conf
        self.db = db
        self.planner = planner
        self.replica_id = replica_id
        self.done = 0
        self.failed = 0

    def pending(self):
        return self.db.list_plan_requests(state=models.REQUEST_PENDING)

    def process(self, cycle_input, owns):
        """Carry out the pending requests this replica may take.

        :param cycle_input: a callable returning the current
            :class:`~nova_drs.balancer.planning.planner.CycleInput` (or None
            when there is no view of the cluster to plan with)
        :param owns: ``owns(host)``: does this replica own the host?
        :returns: uuids of the plans stored as applying
        """
        applied = []
        requests = self.pending()
        if not requests:
            return applied
        cycle = None
        for request in requests:
            if request.kind == KIND_EVACUATION and not owns(request.host):
                continue
            if cycle is None:
                cycle = cycle_input()
                if cycle is None:
                    # no view of the cluster now: leave them pending
                    return applied
            if not self.db.claim_plan_request(request.uuid,
                                              self.replica_id):
                continue
            try:
                plan_uuid, apply = self.carry_out(cycle, request)
            except RequestError as e:
                self._finish(request, error=str(e))
                continue
            except Exception:
                LOG.exception('plan request %s failed', request.uuid)
                self._finish(request, error='the balancer failed to plan '
                                            '(see its log)')
                continue
            self._finish(request, plan_uuid=plan_uuid)
            if apply:
                applied.append(plan_uuid)
        return applied

    def _finish(self, request, plan_uuid=None, error=None):
        if error:
            self.failed += 1
            LOG.warning('plan request %s (%s) failed: %s', request.uuid,
                        request.kind, error)
        else:
            self.done += 1
            LOG.info('plan request %s (%s by %s): plan %s', request.uuid,
                     request.kind, request.created_by, plan_uuid)
        self.db.finish_plan_request(request.uuid, self.replica_id,
                                    plan_uuid=plan_uuid, error=error)

    def carry_out(self, cycle, request):
        """Plan and store; returns ``(plan uuid, applied)``."""
        if request.kind == KIND_PLAN:
            return self._plan(cycle, request), False
        if request.kind == KIND_EVACUATION:
            return self._evacuate(cycle, request), bool(request.apply)
        raise RequestError('unknown request kind %r' % request.kind)

    def _store(self, plan, origin, request, apply):
        row = self.db.create_plan(plan, origin,
                                  request.created_by or self.replica_id,
                                  supersede=False)
        if apply:
            self.db.transition_plan(
                row.uuid, plan_states.PLAN_RECOMMENDED,
                plan_states.PLAN_APPLYING,
                request.created_by or self.replica_id,
                'applied as requested (plan request %s)' % request.uuid)
        return row.uuid

    def _plan(self, cycle, request):
        name = request.strategy or self.conf.drs_balancer.strategy
        try:
            strategy = strategies.load(name, self.conf)
        except strategies.StrategyNotFound:
            raise RequestError('no strategy named %r (installed: %s)'
                               % (name, ', '.join(strategies.available())))
        model = cycle.model
        # the whole cluster: a dry run for the operator
        work = planner_mod.working_model(
            model, frozenset(model.hosts.names), cycle.in_flight,
            list(cycle.bad_pairs), paused=cycle.paused_hosts)
        plan = strategy.plan(work)
        return self._store(plan, models.ORIGIN_OPERATOR, request, False)

    def _evacuate(self, cycle, request):
        model = cycle.model
        if request.host not in model.host_index:
            raise RequestError('%s is not a compute host nova-drs knows'
                               % request.host)
        # the host asked for is emptied even when paused: the operator
        # asked for it; other paused hosts take nothing
        work = planner_mod.working_model(
            model, frozenset(model.hosts.names), cycle.in_flight,
            list(cycle.bad_pairs),
            paused=cycle.paused_hosts - {request.host})
        # nothing goes onto the host being emptied
        work.hosts.disabled[work.host_index[request.host]] = True
        moving = {a.instance_uuid for a in cycle.in_flight}
        evac = evacuation.plan_evacuation(work, request.host, self.conf,
                                          skip=moving)
        if evac.left:
            LOG.warning('evacuation of %s: %d instance(s) stay: %s',
                        request.host, len(evac.left),
                        '; '.join('%s: %s' % kv
                                  for kv in sorted(evac.left.items())))
        return self._store(evac.plan, models.ORIGIN_EVACUATION, request,
                           bool(request.apply))
