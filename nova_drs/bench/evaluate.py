# SPDX-License-Identifier: Apache-2.0
"""Score a plan independently of the planner that made it.

The plan is applied to a copy of the model (only ``instances.host``
changes) and every figure is recomputed from
:class:`~nova_drs.model.cluster.ClusterModel` methods, so a planner's own
bookkeeping is never trusted.

Definitions used throughout the benchmark:

* a host is *hot* when any resource's load (demand / capacity) exceeds its
  threshold by more than :data:`TOL` (the tolerance only absorbs float
  rounding of sums);
* an instance is *oversized* when its own demand on some resource exceeds
  the threshold times the largest capacity of any host for that resource:
  it makes whichever host holds it hot;
* a hot host is *unresolvable* when it holds an oversized instance, and
  *resolvable* otherwise;
* a *capacity violation* is a host that, after the plan, holds more vCPUs
  or flavor memory than ``allocation_limit()`` on a column the plan added
  to (a pre-existing overcommit the plan did not touch is not counted);
* a *new hotspot* is a host with a resource above its threshold after the
  plan that was not above it before;
* a *step violation* is a migration whose destination, at the moment it
  runs (earlier migrations of the plan applied, later ones not), is over
  its allocation limit or has a resource newly above its threshold. Live
  migrations run in plan order, so a plan whose final state is fine can
  still be impossible to carry out.
"""

import dataclasses

import numpy as np

#: Absolute tolerance on loads (shares of capacity) and allocations.
TOL = 1e-9


class PlanError(ValueError):
    """A plan names an unknown instance or host, or a wrong source."""


def hot_resources(model, thresholds):
    """Boolean (hosts, 4): resource load above its threshold."""
    return model.host_load() > np.asarray(thresholds, dtype=float) + TOL


def hot_hosts(model, thresholds):
    """Boolean per host: any resource above its threshold."""
    return hot_resources(model, thresholds).any(axis=1)


def oversized_instances(model, thresholds):
    """Boolean per instance: too big to be anywhere without a hotspot."""
    cap = model.capacity().max(axis=0) if len(model.hosts) else np.zeros(4)
    limit = np.where(cap > 0, cap * np.asarray(thresholds, dtype=float),
                     np.inf)
    return (model.instance_demand() > limit + TOL).any(axis=1)


def resolvable_hot_hosts(model, thresholds):
    """(hot, resolvable) boolean masks per host."""
    hot = hot_hosts(model, thresholds)
    oversized = oversized_instances(model, thresholds)
    blocked = np.zeros(len(model.hosts), dtype=bool)
    blocked[model.instances.host[oversized]] = True
    return hot, hot & ~blocked


def apply_plan(model, migrations):
    """Return (model after the plan, indices of migrated instances).

    Migrations are applied in order; each one's source must be where the
    instance is at that point.
    """
    after = model.copy()
    host = after.instances.host
    moved = []
    for m in migrations:
        i = model.instance_index.get(m.instance)
        src = model.host_index.get(m.source)
        dst = model.host_index.get(m.target)
        if i is None or src is None or dst is None:
            raise PlanError('migration %s %s -> %s: unknown instance or host'
                            % (m.instance, m.source, m.target))
        if host[i] != src:
            raise PlanError('migration %s: source %s, but the instance is '
                            'on %s at that point' % (
                                m.instance, m.source,
                                model.hosts.names[host[i]]))
        host[i] = dst
        moved.append(i)
    return after, np.array(moved, dtype=np.int64)


def step_violations(model, migrations, thresholds):
    """Count migrations whose destination is over a limit when they run."""
    thresholds = np.asarray(thresholds, dtype=float)
    cap = model.capacity()
    demand = model.host_demand()
    alloc = model.host_allocation()
    alloc_limit = model.allocation_limit()
    inst_demand = model.instance_demand()
    inst_alloc = model.instance_allocation()
    load_limit = np.where(cap > 0, cap * thresholds, np.inf)
    hot_before = hot_resources(model, thresholds)
    over_before = alloc > alloc_limit + TOL
    scale = np.where(cap > 0, cap, 1.0)
    count = 0
    for m in migrations:
        i = model.instance_index[m.instance]
        src = model.host_index[m.source]
        dst = model.host_index[m.target]
        demand[src] -= inst_demand[i]
        alloc[src] -= inst_alloc[i]
        demand[dst] += inst_demand[i]
        alloc[dst] += inst_alloc[i]
        new_hot = ((demand[dst] - load_limit[dst]) / scale[dst] > TOL) \
            & ~hot_before[dst]
        over = (alloc[dst] > alloc_limit[dst] + TOL) & ~over_before[dst]
        if new_hot.any() or over.any():
            count += 1
    return count


@dataclasses.dataclass
class Score:
    """What a plan did to a cluster."""

    hot_before: int
    resolvable: int
    hot_after: int
    resolved: int              # resolvable hot hosts no longer hot
    migrations: int
    moved_gib: float           # sum of mem_used_mb of moved instances / 1024
    over_allocated: int        # hosts over allocation_limit() after
    new_hotspots: int          # hosts with a resource newly over threshold
    violations: int            # hosts over allocation or newly hot
    step_violations: int
    #: migrations off hot hosts that cannot be resolved (futile, or
    #: bringing a saturated host back under its capacity), and their GiB
    off_unresolvable: int = 0
    moved_gib_off_unresolvable: float = 0.0
    unresolved_resolvable: list = dataclasses.field(default_factory=list)

    @property
    def resolved_share(self):
        return self.resolved / self.resolvable if self.resolvable else 1.0

    def to_dict(self):
        d = dataclasses.asdict(self)
        d['moved_gib'] = round(self.moved_gib, 3)
        d['moved_gib_off_unresolvable'] = round(
            self.moved_gib_off_unresolvable, 3)
        d['resolved_share'] = round(self.resolved_share, 6)
        return d


def score(model, migrations, thresholds):
    """Apply ``migrations`` to a copy of ``model`` and score the result."""
    thresholds = np.asarray(thresholds, dtype=float)
    after, moved = apply_plan(model, migrations)

    hot_res_before = hot_resources(model, thresholds)
    hot_before, resolvable = resolvable_hot_hosts(model, thresholds)
    hot_res_after = hot_resources(after, thresholds)
    hot_after = hot_res_after.any(axis=1)
    new_hot = (hot_res_after & ~hot_res_before).any(axis=1)

    limit = after.allocation_limit()
    alloc_before = model.host_allocation()
    alloc_after = after.host_allocation()
    over = ((alloc_after > limit + TOL)
            & (alloc_after > alloc_before + TOL)).any(axis=1)

    still = np.flatnonzero(resolvable & hot_after)
    unresolvable = hot_before & ~resolvable
    sources = np.array([model.host_index[m.source] for m in migrations],
                       dtype=np.int64)
    mem = model.instances.mem_used_mb
    off = unresolvable[sources] if sources.size else np.zeros(0, dtype=bool)
    off_mem = float(mem[moved[off]].sum()) if off.any() else 0.0
    return Score(
        hot_before=int(hot_before.sum()),
        resolvable=int(resolvable.sum()),
        hot_after=int(hot_after.sum()),
        resolved=int((resolvable & ~hot_after).sum()),
        migrations=int(moved.size),
        moved_gib=float(mem[moved].sum()) / 1024.0 if moved.size else 0.0,
        over_allocated=int(over.sum()),
        new_hotspots=int(new_hot.sum()),
        violations=int((over | new_hot).sum()),
        step_violations=step_violations(model, migrations, thresholds),
        off_unresolvable=int(off.sum()),
        moved_gib_off_unresolvable=off_mem / 1024.0,
        unresolved_resolvable=[model.hosts.names[h] for h in still])
