# SPDX-License-Identifier: Apache-2.0
"""One planning cycle of nova-drs-balancer: views in, stored plans out.

The service gives :class:`Planner` the cluster model (Nova's inventory
with the agents' metrics applied), the hosts this replica owns, the
migrations already under way, the recently failed pairs and the hosts in
maintenance. The planner

1. builds the *working model*: instances on hosts other replicas own, and
   instances already being migrated, are pinned (``opt_out``); an
   instance under way is counted on its destination already, so the
   strategy sees the cluster as it will be; failed pairs are excluded;
   hosts an operator paused are fenced off as stale hosts are (never a
   destination, their instances pinned);
2. plans an evacuation for each owned host in maintenance that has no
   evacuation under way (and is not paused), and one plan with the
   configured strategy;
3. stores them in the database according to the mode: the one an
   operator set through the API (``CycleInput.mode``), else
   ``[drs_balancer] mode``:

   ``manual``
       every plan is stored ``recommended``, for an operator to apply;
   ``partial``
       evacuations, and the moves off hosts above the severe thresholds
       (with the make-room moves they depend on), are stored and applied;
       the rest of the plan is stored ``recommended``;
   ``full``
       every plan is stored and applied.

Which hosts are hot is their agents' answer, the one the Nova scheduler
filter reads too (:mod:`nova_drs.balancer.view.host_view`): the model carries
each host's hot flags, thresholds and base load, so the strategy relieves
the hosts their agents flag, judges every host on its measured load
against its own thresholds, and never sends load to a host the filter
would refuse; the severe check reads the agents' smoothed loads.

Consolidation. :meth:`Planner.consolidate` is the balancer's
consolidation pass (``[drs_balancer] consolidation_interval``): the
``consolidate`` strategy on the same working model, never while a host
is hot or a host is in maintenance; its plan (strategy ``consolidate``,
origin ``periodic``) is stored by the same mode rules, and is never
mandatory: ``manual`` and ``partial`` store it ``recommended``, ``full``
applies it. When a strategy's plan leaves a hotspot unresolved and a host
nova-drs disabled after emptying it is available (reporting, owned), the
cycle plans again with that one host enabled and keeps that plan if it
relieves more; the result names the host (``enable_hosts``) so the
service enables its nova-compute service before the moves start
(:mod:`nova_drs.balancer.planning.consolidation`).

A recommendation identical to this replica's latest one (periodic or
hotspot) is not stored again (a stable cluster would otherwise write a plan
every cycle); a different one supersedes it. Replicas supersede only
their own recommendations: each plans for the hosts it owns.
"""

import dataclasses
import time

import numpy as np
from oslo_log import log as logging

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import consolidation
from nova_drs.balancer.planning import evacuation
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer import strategies
from nova_drs.balancer.strategies import consolidate as consolidate_mod
from nova_drs.db import models
from nova_drs.model import cluster

LOG = logging.getLogger(__name__)

#: origins of the strategy's plans (one recommendation stands for both)
STRATEGY_ORIGINS = (models.ORIGIN_PERIODIC, models.ORIGIN_HOTSPOT)

MANUAL = models.MODE_MANUAL
PARTIAL = models.MODE_PARTIAL
FULL = models.MODE_FULL

#: Resources whose hotspots can be mandatory in partial mode, with the
#: option that sets their severe threshold.
SEVERE_OPTIONS = (('cpu', 'severe_cpu_threshold', 'cpu_threshold'),
                  ('memory', 'severe_memory_threshold', 'memory_threshold'))


class PlannerConfigError(ValueError):
    """Options that contradict each other."""


def check_conf(conf):
    """Refuse severe thresholds below the hotspot thresholds.

    :raises PlannerConfigError:
    """
    for _, severe, normal in SEVERE_OPTIONS:
        if getattr(conf.drs_balancer, severe) < getattr(conf.drs, normal):
            raise PlannerConfigError(
                '[drs_balancer] %s (%s) must not be below [drs] %s (%s)'
                % (severe, getattr(conf.drs_balancer, severe), normal,
                   getattr(conf.drs, normal)))


def in_maintenance(disabled_reason, prefix):
    """Does a compute service's disabled reason put it in maintenance?"""
    if not prefix or not disabled_reason:
        return False
    return disabled_reason.strip().lower().startswith(prefix.lower())


def working_model(model, owned, in_flight=(), bad_pairs=(), paused=()):
    """A copy of ``model`` prepared for planning by one replica.

    :param owned: host names this replica owns
    :param in_flight: actions (objects with ``instance_uuid`` and
        ``target``) started or about to start
    :param bad_pairs: ``(instance_uuid, target)`` pairs not to plan
    :param paused: host names an operator paused: marked ``disabled``
        (never a destination) and their instances pinned (never moved
        off), as ``HostView.apply`` fences off stale hosts
    """
    work = model.copy()
    inst = work.instances
    owned_mask = np.array([name in owned for name in work.hosts.names],
                          dtype=bool)
    paused_mask = np.array([name in paused for name in work.hosts.names],
                           dtype=bool)
    work.hosts.disabled |= paused_mask
    if len(inst):
        inst.opt_out |= ~owned_mask[inst.host]
        inst.opt_out |= paused_mask[inst.host]
    for action in in_flight:
        i = work.instance_index.get(action.instance_uuid)
        if i is None:
            continue
        inst.opt_out[i] = True
        target = work.host_index.get(action.target)
        if target is not None:
            inst.host[i] = target
    for instance, target in bad_pairs:
        work.exclude_target(instance, target)
    return work


def severe_hosts(loads, conf):
    """Hosts whose smoothed load is above a severe threshold.

    :param loads: host -> {resource: smoothed load}, as their agents
        report them (the host view's state, the one the model's hot
        flags and base loads come from)
    :returns: host -> list of the severe resources
    """
    out = {}
    for host, load in loads.items():
        hot = [resource for resource, option, _ in SEVERE_OPTIONS
               if (load.get(resource) or 0.0)
               > getattr(conf.drs_balancer, option)]
        if hot:
            out[host] = hot
    return out


def split_mandatory(plan, mandatory_sources):
    """Split a plan into its mandatory part and the rest.

    Mandatory: the moves off ``mandatory_sources``, and the earlier moves
    that make room on their destinations (a chain's first move leaves the
    host the second one goes to), transitively. Both parts keep the
    plan's order.
    """
    migrations = plan.migrations
    chosen = {k for k, m in enumerate(migrations)
              if m.source in mandatory_sources}
    changed = True
    while changed:
        changed = False
        for k, m in enumerate(migrations):
            if k in chosen:
                continue
            # m makes room on a host a later mandatory move goes to
            if any(j > k and migrations[j].target == m.source
                   for j in chosen):
                chosen.add(k)
                changed = True

    def part(indices):
        return plan_mod.Plan(
            strategy=plan.strategy,
            migrations=[migrations[k] for k in sorted(indices)],
            unresolved=list(plan.unresolved),
            decision_s=plan.decision_s)

    rest = set(range(len(migrations))) - chosen
    return part(chosen), part(rest)


def _signature(migrations):
    return sorted((m.instance, m.source, m.target or '') for m in migrations)


@dataclasses.dataclass
class CycleInput:
    """What one planning cycle works from."""

    #: the cluster model with the agents' metrics applied (not changed)
    model: cluster.ClusterModel
    #: host names this replica owns
    owned: frozenset
    #: running actions and pending actions of applying plans
    in_flight: list = dataclasses.field(default_factory=list)
    #: {(instance_uuid, target): until}
    bad_pairs: dict = dataclasses.field(default_factory=dict)
    #: host -> {resource: smoothed load}, the agents' (the host view)
    loads: dict = dataclasses.field(default_factory=dict)
    #: host -> its compute service's disabled reason (disabled hosts)
    disabled_reasons: dict = dataclasses.field(default_factory=dict)
    #: the mode an operator set for the cluster (None: the configured one)
    mode: str = None
    #: hosts an operator paused: neither source nor destination
    paused_hosts: frozenset = frozenset()
    #: hosts whose evacuation is under way; None: read from the
    #: database's evacuation plans (the service), the simulator says
    evacuating: frozenset = None


@dataclasses.dataclass
class CycleResult:
    """What one planning cycle stored."""

    #: uuids of the plans stored and applied
    applied: list = dataclasses.field(default_factory=list)
    #: uuids of the plans stored as recommendations
    recommended: list = dataclasses.field(default_factory=list)
    #: uuids of this replica's recommendations that still stand (the
    #: cycle made the same plan again)
    unchanged: list = dataclasses.field(default_factory=list)
    #: hosts still hot after the plan
    unresolved: list = dataclasses.field(default_factory=list)
    #: hosts their agent flags hot that need no move (see Plan.cooling)
    cooling: list = dataclasses.field(default_factory=list)
    #: the strategy's plan (None when nothing was planned)
    plan: plan_mod.Plan = None
    #: host -> {instance: why it stays} for evacuations
    left_behind: dict = dataclasses.field(default_factory=dict)
    #: hosts nova-drs disabled after emptying them that the plan needs:
    #: their nova-compute service must be enabled before it runs
    enable_hosts: list = dataclasses.field(default_factory=list)
    #: hosts nova-drs disabled that a hotspot could use, but whose agent
    #: does not report (powered off: an operator's, or a hook's, turn)
    hosts_wanted: list = dataclasses.field(default_factory=list)
    #: why a consolidation pass planned nothing (None: it planned)
    skipped: str = None


@dataclasses.dataclass
class Decision:
    """One plan a cycle decided to store (:meth:`Planner.decide`)."""

    plan: plan_mod.Plan
    #: ``models.ORIGIN_*``
    origin: str
    #: applied at once (else stored ``recommended``)
    apply: bool
    #: replaces this replica's standing recommendation (see ``_store``)
    supersede: bool = True


class Planner:
    """Plans and stores; one per balancer replica.

    :param conf: the configuration (``[drs]``, ``[drs_balancer]``)
    :param db: a :class:`nova_drs.db.api.Database`
    :param replica_id: this replica's id, the plans' ``created_by``
    :param strategy: a strategy instance (default: the configured one)
    """

    def __init__(self, conf, db, replica_id, strategy=None):
        check_conf(conf)
        self.conf = conf
        self.db = db
        self.replica_id = replica_id
        self.mode = conf.drs_balancer.mode
        self.strategy = strategy or strategies.load(
            conf.drs_balancer.strategy, conf)
        self._consolidator = None

    # -- evacuations --

    def maintenance_hosts(self, cycle):
        """Owned hosts in maintenance; a paused host is left alone."""
        prefix = self.conf.drs_balancer.maintenance_reason_prefix
        return sorted(host for host, reason in cycle.disabled_reasons.items()
                      if host in cycle.owned and host in cycle.model.host_index
                      and host not in cycle.paused_hosts
                      and in_maintenance(reason, prefix))

    def mode_of(self, cycle):
        """The mode to plan in: the operator's, else the configured one."""
        return cycle.mode or self.mode

    def _evacuating(self):
        """Hosts with an evacuation plan recommended or applying."""
        hosts = set()
        for plan in self.db.list_plans(
                state=(plan_states.PLAN_RECOMMENDED,
                       plan_states.PLAN_APPLYING),
                origin=models.ORIGIN_EVACUATION):
            for action in self.db.get_plan(plan.uuid).actions:
                hosts.add(action.source)
        return hosts

    def _evacuate(self, cycle, work, result, mode, decisions):
        hosts = self.maintenance_hosts(cycle)
        if not hosts:
            return
        busy = (self._evacuating() if cycle.evacuating is None
                else cycle.evacuating)
        moving = {a.instance_uuid for a in cycle.in_flight}
        for host in hosts:
            if host in busy:
                continue
            evac = evacuation.plan_evacuation(work, host, self.conf,
                                              skip=moving)
            if evac.left:
                result.left_behind[host] = evac.left
                LOG.warning('maintenance of %s: %d instance(s) cannot be '
                            'moved by nova-drs: %s', host, len(evac.left),
                            '; '.join('%s: %s' % kv
                                      for kv in sorted(evac.left.items())))
            if not evac.plan.migrations:
                continue
            # a maintenance evacuation is mandatory: applied unless manual
            decisions.append(Decision(evac.plan, models.ORIGIN_EVACUATION,
                                      apply=mode != MANUAL, supersede=False))
            LOG.info('maintenance of %s: evacuation plan with %d '
                     'migration(s)', host, len(evac.plan.migrations))

    # -- storing --

    def _store(self, plan, origin, apply, result, mode, supersede=True):
        own_recommended = []
        if supersede:
            # a periodic and a hotspot plan are both the strategy's view
            # of the cluster: the newest replaces either
            own_recommended = self.db.list_plans(
                state=plan_states.PLAN_RECOMMENDED, origin=STRATEGY_ORIGINS,
                created_by=self.replica_id)
        if not apply and own_recommended:
            latest = self.db.get_plan(own_recommended[0].uuid)
            previous = sorted((a.instance_uuid, a.source, a.target or '')
                              for a in latest.actions)
            if previous == _signature(plan.migrations):
                LOG.debug('plan unchanged since %s: not stored again',
                          latest.uuid)
                result.unchanged.append(latest.uuid)
                return latest.uuid
        row = self.db.create_plan(plan, origin, self.replica_id,
                                  supersede=False)
        for old in own_recommended:
            self.db.transition_plan(old.uuid, plan_states.PLAN_RECOMMENDED,
                                    plan_states.PLAN_SUPERSEDED,
                                    self.replica_id,
                                    'superseded by plan %s' % row.uuid)
        if apply:
            self.db.transition_plan(row.uuid, plan_states.PLAN_RECOMMENDED,
                                    plan_states.PLAN_APPLYING, self.replica_id,
                                    'applied automatically (mode %s)'
                                    % mode, automatic=True)
            result.applied.append(row.uuid)
        else:
            result.recommended.append(row.uuid)
        return row.uuid

    # -- the cycle --

    def run(self, cycle, origin=models.ORIGIN_PERIODIC):
        """Plan with ``cycle`` and store the plans; returns a CycleResult."""
        result, decisions = self.decide(cycle, origin)
        mode = self.mode_of(cycle)
        for d in decisions:
            self._store(d.plan, d.origin, d.apply, result, mode,
                        supersede=d.supersede)
        return result

    def decide(self, cycle, origin=models.ORIGIN_PERIODIC):
        """Plan with ``cycle``; what to store, without storing it.

        Everything :meth:`run` decides (evacuations, the strategy's plan,
        the mode's split into applied and recommended parts, the host to
        enable) with nothing written: the simulator drives the planner
        through this, with no database (with hosts in maintenance it
        says which are being evacuated: ``CycleInput.evacuating``).

        :returns: ``(CycleResult, [Decision])``: the result without the
            stored plans' uuids, and the plans :meth:`run` stores, in
            order
        """
        result = CycleResult()
        decisions = []
        mode = self.mode_of(cycle)
        bad = list(cycle.bad_pairs)
        work = working_model(cycle.model, cycle.owned, cycle.in_flight, bad,
                             paused=cycle.paused_hosts)
        self._evacuate(cycle, work, result, mode, decisions)
        plan = self.strategy.plan(work)
        result.unresolved = [h for h in plan.unresolved if h in cycle.owned]
        if result.unresolved:
            plan = self._with_room(cycle, work, plan, result)
        result.plan = plan
        result.unresolved = [h for h in plan.unresolved if h in cycle.owned]
        result.cooling = [h for h in plan.cooling if h in cycle.owned]
        if result.unresolved:
            reasons = getattr(plan, 'unresolved_reasons', None) or {}
            LOG.info('hotspots left unresolved: %s', '; '.join(
                '%s (%s)' % (h, reasons[h]) if h in reasons else h
                for h in result.unresolved))
        if result.cooling:
            LOG.info('hosts cooling (their agent still flags them hot, '
                     'their loads are back under their thresholds: no '
                     'move): %s', ', '.join(result.cooling))
        if not plan.migrations:
            result.enable_hosts = []
            return result, decisions
        applied = []
        if mode == FULL:
            decisions.append(Decision(plan, origin, True))
            applied = plan.migrations
        elif mode == MANUAL:
            decisions.append(Decision(plan, origin, False))
        else:
            severe = severe_hosts(cycle.loads, self.conf)
            mandatory, optional = split_mandatory(plan, set(severe))
            if mandatory.migrations:
                LOG.info('severe hotspots on %s: %d migration(s) applied',
                         ', '.join('%s (%s)' % (h, '/'.join(r))
                                   for h, r in sorted(severe.items())),
                         len(mandatory.migrations))
                decisions.append(Decision(mandatory, origin, True,
                                          supersede=False))
                applied = mandatory.migrations
            if optional.migrations:
                decisions.append(Decision(optional, origin, False))
        self._keep_enabling(result, applied)
        return result, decisions

    @staticmethod
    def _keep_enabling(result, applied):
        """Enable a freed host only for moves applied now.

        A recommendation does not act: the operator who applies it
        enables the host first (its moves wait for it, see the
        executor's destination check).
        """
        targets = {m.target for m in applied}
        waiting = [h for h in result.enable_hosts if h not in targets]
        if waiting:
            LOG.warning('the recommended plan needs %s, which nova-drs '
                        'disabled after emptying it: enable its '
                        'nova-compute service before applying the plan',
                        ', '.join(waiting))
        result.enable_hosts = [h for h in result.enable_hosts
                               if h in targets]

    # -- consolidation --

    def _with_room(self, cycle, work, plan, result):
        """``plan``, or a better one with a host nova-drs disabled.

        One host per cycle: the first of
        :func:`consolidation.room_candidates` (in the zone of a hot host
        first), kept only if the plan made with it enabled leaves fewer
        owned hosts hot.
        """
        fresh = set(cycle.loads)
        candidates = consolidation.room_candidates(
            work, cycle.owned, cycle.disabled_reasons, fresh,
            near=result.unresolved)
        if not candidates:
            result.hosts_wanted = consolidation.waiting_hosts(
                cycle.disabled_reasons, cycle.owned, fresh)
            if result.hosts_wanted:
                LOG.warning('hotspots left unresolved on %s; hosts emptied '
                            'by consolidation that could take load do not '
                            'report (powered off?): %s',
                            ', '.join(result.unresolved),
                            ', '.join(result.hosts_wanted))
            return plan
        host = candidates[0]
        trial = work.copy()
        trial.hosts.disabled[trial.host_index[host]] = False
        other = self.strategy.plan(trial)
        left = [h for h in other.unresolved if h in cycle.owned]
        if len(left) >= len(result.unresolved):
            return plan
        LOG.info('hotspots on %s need room: enabling %s again (emptied by '
                 'consolidation)', ', '.join(result.unresolved), host)
        result.enable_hosts = [host]
        return other

    def _consolidate_strategy(self):
        if self._consolidator is None:
            self._consolidator = strategies.load(consolidation.STRATEGY,
                                                 self.conf)
        return self._consolidator

    def consolidate(self, cycle):
        """One consolidation pass; returns a CycleResult.

        ``skipped`` says why it planned nothing: a hotspot open, a host
        in maintenance, or nothing to free.
        """
        result, decisions = self.decide_consolidation(cycle)
        mode = self.mode_of(cycle)
        for d in decisions:
            self._store(d.plan, d.origin, d.apply, result, mode,
                        supersede=d.supersede)
        return result

    def decide_consolidation(self, cycle):
        """One consolidation pass, without storing its plan.

        What :meth:`consolidate` decides, as :meth:`decide` is to
        :meth:`run`: the simulator drives the consolidation pass through
        this (it reads no database: the maintenance check reads only the
        cycle's disabled reasons).

        :returns: ``(CycleResult, [Decision])``, at most one decision
        """
        result = CycleResult()
        decisions = []
        mode = self.mode_of(cycle)
        work = working_model(cycle.model, cycle.owned, cycle.in_flight,
                             list(cycle.bad_pairs), paused=cycle.paused_hosts)
        strategy = self._consolidate_strategy()
        hot = consolidate_mod.hotspot_open(work, strategy.thresholds,
                                           self.conf)
        if hot:
            result.skipped = 'hotspot open on %s' % ', '.join(hot)
        elif self.maintenance_hosts(cycle):
            result.skipped = 'host(s) in maintenance: %s' % ', '.join(
                self.maintenance_hosts(cycle))
        if result.skipped:
            LOG.info('consolidation pass: nothing planned (%s)',
                     result.skipped)
            return result, decisions
        plan = plan_mod.Plan(strategy.name)
        started = time.perf_counter()
        kept = strategy.consolidate(work, plan).kept
        plan.decision_s = time.perf_counter() - started
        result.plan = plan
        if not plan.migrations:
            result.skipped = 'no host can be emptied'
            LOG.info('consolidation pass: no host can be emptied%s',
                     ''.join('; %s: %s' % (work.hosts.names[h], why)
                             for h, why in sorted(kept.items())[:5]))
            return result, decisions
        LOG.info('consolidation pass (%s mode): %d migration(s) free %s',
                 mode, len(plan.migrations), ', '.join(plan.freed))
        # never mandatory: applied only in full mode
        decisions.append(Decision(plan, models.ORIGIN_PERIODIC,
                                  apply=mode == FULL))
        return result, decisions
