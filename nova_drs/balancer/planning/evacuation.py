# SPDX-License-Identifier: Apache-2.0
"""Plan the live migrations that empty a host going into maintenance.

Unlike a strategy, an evacuation must move *every* instance of the host,
so the per-source move limit and the cool-down after a recent migration
do not apply. Each instance, largest demand first (the hardest to place
go while there is most room), goes to the allowed host whose highest load
after the move is lowest, under the same constraints a strategy respects
(:mod:`nova_drs.balancer.planning.placement`: room under the allocation ratios
and the thresholds, zone, aggregates, server groups, disabled hosts,
recently failed pairs).

When no host can take an instance below the thresholds, the migration is
planned without a target: Nova's scheduler then picks any host with room
in Placement. Emptying the host matters more than keeping every other
host below its thresholds; a hotspot this creates is the balancer's to
resolve afterwards.

Instances that cannot be live-migrated by nova-drs stay and are reported:
opted out (metadata, or not ACTIVE/PAUSED, or busy with a task in Nova)
and members of a hard-affinity server group with other members (Nova
would refuse to split the group; the operator moves the group).
"""

import dataclasses
import time

import numpy as np

from nova_drs.balancer.planning import placement
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.model import cluster

STRATEGY = 'evacuation'


@dataclasses.dataclass
class Evacuation:
    """An evacuation plan and what it leaves behind."""

    host: str
    plan: plan_mod.Plan
    #: instance uuid -> why it cannot be moved by nova-drs
    left: dict = dataclasses.field(default_factory=dict)


def _why_pinned(model, i):
    inst = model.instances
    if inst.opt_out[i]:
        return 'opted out, not ACTIVE/PAUSED, or busy with a task in Nova'
    group = inst.group[i]
    if group != cluster.NO_GROUP:
        sg = model.groups[group]
        if sg.policy == 'affinity' and (inst.group == group).sum() > 1:
            return 'member of affinity group %s with other members' % sg.name
    return None


def plan_evacuation(model, host, conf, skip=()):
    """Plan moving every movable instance off ``host``.

    :param model: the cluster model; ``host`` should already be
        ``disabled`` in it (a host in maintenance is a disabled compute
        service), so that nothing is planned onto it
    :param skip: instance uuids not to plan (already moving)
    :returns: an :class:`Evacuation`
    :raises KeyError: ``host`` is not in the model
    """
    started = time.perf_counter()
    h = model.host_index[host]
    thresholds = cluster.thresholds_from_conf(conf)
    state = placement.PlacementState(model, conf, thresholds)
    result = Evacuation(host, plan_mod.Plan(STRATEGY))
    skip = set(skip)
    members = [i for i in np.flatnonzero(model.instances.host == h)
               if model.instances.names[i] not in skip]
    # hardest to place first: highest demand relative to the host
    members.sort(key=lambda i: -float(
        (state.inst_demand[i] * state.inv_capacity[h]).max()))
    for i in members:
        name = model.instances.names[i]
        why = _why_pinned(model, i)
        if why:
            result.left[name] = why
            continue
        dest = state.best_destination(i)
        transfer = float(state.inst_transfer[i])
        if dest >= 0:
            state.apply(i, dest)
            target = model.hosts.names[dest]
            reason = ('evacuate %s (maintenance); %s after the move: %s'
                      % (host, target, state.describe_load(dest)))
        else:
            target = None
            reason = ('evacuate %s (maintenance); no host can take it '
                      'below the thresholds: Nova\'s scheduler chooses'
                      % host)
        result.plan.migrations.append(plan_mod.Migration(
            instance=name, source=host, target=target, reason=reason,
            transfer_mb=transfer, duration_s=transfer / state.bandwidth))
    if result.left:
        result.plan.unresolved = [host]
    result.plan.decision_s = time.perf_counter() - started
    return result
