# SPDX-License-Identifier: Apache-2.0
"""Which actions of applying plans may start now: the executor's rules.

Kept apart from :class:`~nova_drs.balancer.execution.executor.Executor`
(which reads them from the database, takes locks and asks Nova) so that
the simulator applies the very same rules to its simulated migrations,
with its clock and no Nova (:mod:`nova_drs.simulator.migrations`):

* :func:`ready`: within one plan, in plan order, a pending action waits
  while an earlier unfinished action of the plan empties its destination
  (a make-room chain: the first move leaves the host the second goes to)
  or moves the same instance;
* :class:`Slots`: the cluster-wide and per-host limits on live
  migrations running at once (``[drs_actuator]
  max_concurrent_migrations``, ``max_concurrent_migrations_per_host``);
* :func:`out_of_date`: an action whose instance is being moved by
  another action, or is no longer on the source the plan found it on,
  must not start (its plan is cancelled).

An action is anything with ``state``, ``instance_uuid``, ``source`` and
``target`` attributes (the database's rows, the simulator's records).
"""

import collections

from nova_drs.balancer import plan_states

#: action states that hold their source and instance for later actions
UNFINISHED = (plan_states.ACTION_PENDING, plan_states.ACTION_RUNNING)


def ready(actions):
    """The pending actions of one plan that may start, in plan order.

    :param actions: the plan's actions, in plan order
    """
    sources, instances = set(), set()
    for action in actions:
        if (action.state == plan_states.ACTION_PENDING
                and action.target not in sources
                and action.instance_uuid not in instances):
            yield action
        if action.state in UNFINISHED:
            sources.add(action.source)
            instances.add(action.instance_uuid)


class Slots:
    """Live migrations running at once: in the cluster and per host.

    :param max_total: at most this many in the cluster
    :param max_per_host: at most this many from or to one host
    :param running: ``(source, target)`` of the migrations running now
        (a target may be None: the scheduler picks it)
    """

    def __init__(self, max_total, max_per_host, running=()):
        self.max_total = int(max_total)
        self.max_per_host = int(max_per_host)
        self.total = 0
        self.per_host = collections.Counter()
        for source, target in running:
            self.take(source, target)

    @classmethod
    def from_conf(cls, conf, running=()):
        opts = conf.drs_actuator
        return cls(opts.max_concurrent_migrations,
                   opts.max_concurrent_migrations_per_host, running)

    def full(self):
        """No migration may start anywhere."""
        return self.total >= self.max_total

    def admits(self, source, target):
        """May a migration from ``source`` to ``target`` start now?"""
        if self.full():
            return False
        return all(self.per_host[h] < self.max_per_host
                   for h in (source, target) if h is not None)

    def take(self, source, target):
        """A migration started: it holds a slot until it ends."""
        self.total += 1
        self.per_host.update(h for h in (source, target) if h is not None)


def out_of_date(action, others_running, host):
    """Why ``action`` must not start any more, or None.

    :param others_running: the uuids of other actions running for the
        same instance
    :param host: the host the instance is on now (None: not known)
    """
    if others_running:
        return ('instance %s is being migrated by action %s'
                % (action.instance_uuid, others_running[0]))
    if host is not None and host != action.source:
        return ('instance %s is on %s now, not on %s where the plan '
                'found it' % (action.instance_uuid, host, action.source))
    return None
