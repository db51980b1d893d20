# SPDX-License-Identifier: Apache-2.0
"""Live migrations of applied plans: the executor's rules, simulated time.

Each plan the planner applies (:meth:`Scheduler.apply`) is kept, as the
balancer's database keeps an ``applying`` plan, with its actions in plan
order, until none is pending or running. Which pending actions start, and
when, is decided by the rules the balancer's executor applies
(:mod:`nova_drs.balancer.execution.admission`), here in continuous
simulated time: whenever a migration ends or a plan is applied (the
executor's scan is poked then too), in the order of the plans, oldest
first, and of their actions,

* an action waits while an earlier unfinished action of its plan empties
  its target (a make-room chain) or moves the same instance
  (:func:`~nova_drs.balancer.execution.admission.ready`);
* it starts only within ``[drs_actuator] max_concurrent_migrations`` in
  the cluster and ``max_concurrent_migrations_per_host`` from or to each
  of its hosts; a later action whose hosts have slots may start before it
  (:class:`~nova_drs.balancer.execution.admission.Slots`);
* an action whose instance is no longer on its source (an earlier plan
  moved it) cancels its plan: the plan is out of date
  (:func:`~nova_drs.balancer.execution.admission.out_of_date`);
* a migration that fails or is aborted marks its (instance, target) pair
  bad for ``[drs_actuator] bad_pair_duration`` seconds (the planner plans
  the pair no more, :meth:`Scheduler.bad_pairs`) and cancels what its plan
  has not started (planned assuming it would succeed).

Not simulated: the room check right before a start and the
``pending_timeout`` of blocked actions (nothing refuses room in the
simulation), locks and pauses (one replica, no operator), takeovers.

Nova is replaced by the pre-copy model (:mod:`.precopy`): the memory
backed for the guest when it starts, then what the guest dirtied
meanwhile, over a bandwidth shared by the migrations running on its
source, on its target and in the cluster, until the rest fits Nova's
allowed downtime, or Nova's completion timeout aborts or force-completes
it, or it fails (``failure_rate``). A migration still running at the end
of a step carries on into the next. Only a completed migration moves its
instance; an aborted or failed one leaves it on its source.
"""

import dataclasses
import math

import numpy as np

from nova_drs.balancer.execution import admission
from nova_drs.balancer import plan_states
from nova_drs.simulator import precopy


@dataclasses.dataclass
class Window:
    """A migration's share of one step (times relative to its start)."""

    instance: int
    source: int
    target: int
    #: running from ``begin_s`` to ``end_s`` within the step
    begin_s: float
    end_s: float
    #: ended at ``end_s`` (else still running at the end of the step)
    done: bool
    #: started in this step
    started: bool
    #: MiB sent within the window
    sent_mb: float
    #: :data:`~.precopy.COMPLETED`, ``ABORTED`` or ``FAILED`` once done
    outcome: str = None
    #: completed by Nova's force_complete
    forced: bool = False
    #: seconds of the window the guest was paused (downtime)
    paused_s: float = 0.0
    #: the migration's whole downtime, once done
    downtime_s: float = 0.0

    @property
    def moved(self):
        """The instance switched over to the target at ``end_s``."""
        return self.done and self.outcome == precopy.COMPLETED


def _links(bandwidth_mb_s):
    if np.ndim(bandwidth_mb_s):
        return np.asarray(bandwidth_mb_s, dtype=float)
    return float(bandwidth_mb_s)


@dataclasses.dataclass(eq=False)
class Action:
    """One migration of an applied plan, as the executor sees it.

    The attribute names are the database row's, so that the executor's
    rules (:mod:`~nova_drs.balancer.execution.admission`) read it; here
    instances and hosts are indices.
    """

    instance_uuid: int
    source: int
    target: int
    plan: list
    state: str = plan_states.ACTION_PENDING


#: the action state a migration's outcome leaves
_FINAL = {precopy.COMPLETED: plan_states.ACTION_COMPLETED,
          precopy.ABORTED: plan_states.ACTION_ABORTED,
          precopy.FAILED: plan_states.ACTION_FAILED}


class Scheduler:
    """Applied plans and in-flight migrations of one simulated cluster.

    :param max_total: ``[drs_actuator] max_concurrent_migrations``
    :param max_per_host: ``max_concurrent_migrations_per_host``
    :param bandwidth_mb_s: host link when ``config.host_link_mb_s`` is 0
        (``[drs_balancer] migration_bandwidth_mb_s``): one value for
        every host or an array of one per host.
    :param flavor_mb: flavor memory of every instance (Nova's timeouts
        scale with it); None: every guest counts as the 2 GiB minimum.
    :param config: :class:`~.precopy.Config` (Nova's defaults if None).
    :param bad_pair_s: ``[drs_actuator] bad_pair_duration``
    """

    def __init__(self, max_total, max_per_host, bandwidth_mb_s,
                 config=None, flavor_mb=None, bad_pair_s=3600.0):
        self.max_total = int(max_total)
        self.max_per_host = int(max_per_host)
        self.config = config or precopy.Config()
        # NOTE: a per-host array when hosts have links of their own
        self.host_link = (float(self.config.host_link_mb_s)
                          if self.config.host_link_mb_s
                          else _links(bandwidth_mb_s))
        self.cluster_link = float(self.config.cluster_link_mb_s)
        self.flavor_mb = flavor_mb
        self.bad_pair_s = float(bad_pair_s)
        self.rng = self.config.rng()
        self.running = []
        #: applying plans, oldest first: lists of :class:`Action`
        self.plans = []
        #: id(flight) -> its Action
        self._action_of = {}
        #: (instance, target) -> simulated time until which it is bad
        self._bad = {}
        #: actions cancelled before they started (out of date, or an
        #: earlier migration of their plan failed)
        self.dropped = 0
        #: plans cancelled
        self.plans_cancelled = 0

    def apply(self, moves):
        """Apply a plan of ``[(instance, source, target)]``."""
        plan = []
        plan.extend(Action(i, src, dst, plan) for i, src, dst in moves)
        if plan:
            self.plans.append(plan)

    def in_flight(self):
        """The actions pending or running, as the planner is told them."""
        return [a for plan in self.plans for a in plan
                if a.state in admission.UNFINISHED]

    def busy_instances(self):
        """Instances running or waiting to start."""
        return {a.instance_uuid for a in self.in_flight()}

    def bad_pairs(self, now):
        """``{(instance, target): until}`` not to plan at ``now``."""
        self._bad = {k: t for k, t in self._bad.items() if t > now}
        return dict(self._bad)

    def _cancel(self, plan):
        """Cancel what ``plan`` has not started (running ones go on)."""
        cancelled = False
        for a in plan:
            if a.state == plan_states.ACTION_PENDING:
                a.state = plan_states.ACTION_CANCELLED
                self.dropped += 1
                cancelled = True
        self.plans_cancelled += cancelled

    def _prune(self):
        self.plans = [p for p in self.plans
                      if any(a.state in admission.UNFINISHED for a in p)]

    def _flight(self, now, i, src, dst, mem_mb):
        # two draws whatever the rate: the stream is the same for a seed
        fails, where = self.rng.random(2)
        mem = float(mem_mb[i])
        fail_at = (where * mem if fails < self.config.failure_rate
                   else math.inf)
        flavor = 0.0 if self.flavor_mb is None else self.flavor_mb[i]
        return precopy.Flight(i, src, dst, now, mem, flavor, self.config,
                              fail_at)

    def _start_ready(self, now, host, mem_mb):
        """The executor's scan at ``now``: start what its rules allow."""
        candidates = [a for plan in self.plans
                      for a in admission.ready(plan)]
        if not candidates:
            return
        slots = admission.Slots(self.max_total, self.max_per_host,
                                ((f.source, f.target) for f in self.running))
        moving = {f.instance for f in self.running}
        for action in candidates:
            if action.state != plan_states.ACTION_PENDING:
                # its plan was cancelled meanwhile
                continue
            if slots.full():
                break
            if not slots.admits(action.source, action.target):
                continue
            i = action.instance_uuid
            why = admission.out_of_date(
                action, [i] if i in moving else [], int(host[i]))
            if why:
                self._cancel(action.plan)
                continue
            flight = self._flight(now, i, action.source, action.target,
                                  mem_mb)
            self.running.append(flight)
            self._action_of[id(flight)] = action
            action.state = plan_states.ACTION_RUNNING
            moving.add(i)
            slots.take(action.source, action.target)
        self._prune()

    def _ended(self, flight, now):
        """A migration reached its outcome at ``now``."""
        action = self._action_of.pop(id(flight))
        action.state = _FINAL[flight.outcome]
        if flight.outcome != precopy.COMPLETED:
            # as the executor: the pair is not planned again for a while,
            # and the rest of the plan assumed this move
            self._bad[(action.instance_uuid, action.target)] = (
                now + self.bad_pair_s)
            self._cancel(action.plan)
        self._prune()

    def advance(self, now, interval_s, host, mem_mb, dirty_mb_s):
        """Run migrations over the step ``[now, now + interval_s)``.

        ``host`` (instance -> host index) is updated in place as
        migrations complete. ``dirty_mb_s`` is every instance's dirty rate
        during the step; ``mem_mb`` the memory a migration starting now
        sends in its first round.

        :returns: list of :class:`Window`, one per migration that ran
            during the step.
        """
        end = now + interval_s
        seen = list(self.running)
        sent_before = {id(f): f.sent_mb for f in seen}
        t = now
        while True:
            if t < end:
                before = len(self.running)
                self._start_ready(t, host, mem_mb)
                seen.extend(self.running[before:])
            if not self.running:
                break
            bandwidth = precopy.shares(self.running, self.host_link,
                                       self.cluster_link)
            dts = [f.time_to_event(t, b)
                   for f, b in zip(self.running, bandwidth)]
            dt = min(dts)
            stop = t + dt > end
            if stop:
                dt = end - t
            for f, b in zip(self.running, bandwidth):
                f.run(dt, b, dirty_mb_s[f.instance])
            if stop:
                break
            t += dt
            still = []
            ended = []
            for f, b, f_dt in zip(self.running, bandwidth, dts):
                if f_dt <= dt + precopy.EPS and f.on_event(t, b):
                    if f.outcome == precopy.COMPLETED:
                        host[f.instance] = f.target
                    ended.append(f)
                    continue
                still.append(f)
            self.running = still
            for f in ended:
                self._ended(f, t)
        return [self._window(f, now, end, sent_before.get(id(f), 0.0))
                for f in seen]

    @staticmethod
    def _window(f, now, end, sent_before):
        done = f.end_s is not None
        stop = f.end_s if done else end
        paused = 0.0
        if f.paused_s is not None:
            paused = max(stop - max(f.paused_s, now), 0.0)
        return Window(
            f.instance, f.source, f.target, max(f.start_s, now) - now,
            stop - now, done, f.start_s >= now, f.sent_mb - sent_before,
            f.outcome, f.forced, paused, f.downtime_s)
