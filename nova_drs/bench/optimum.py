# SPDX-License-Identifier: Apache-2.0
"""The exact optimum of hotspot removal, as a MILP solved by HiGHS.

The optimum is the plan with, in this order of priority:

1. the most resolvable hotspots removed (all of them whenever that is
   possible; see :mod:`nova_drs.bench.evaluate` for "resolvable");
2. the fewest migrations;
3. the least memory in use moved.

*Scope.* It only considers moving instances off hot hosts, each at most
once, straight to a host that was not hot (no make-room chains). A planner
that uses chains may therefore beat it. Destinations must be enabled and,
by default, in the source's availability zone; server groups, opt-outs
aside, are ignored, as are the planner's per-host and per-plan move limits.

*Formulation.* A binary ``x[i, d]`` per candidate instance ``i`` (movable,
on a resolvable hot host, with demand on one of that host's hot resources)
and destination ``d`` (not hot, enabled, not the source) where ``i`` alone
fits ``d`` (pairs that cannot fit by capacity alone are pruned), and a
binary ``s[h]`` per resolvable hot host that lets it stay hot:

* each instance moves at most once: ``sum_d x[i, d] <= 1``;
* each resolvable hot host ``h`` is cooled on each of its hot resources
  ``r`` unless ``s[h]``: ``sum_i dem[i, r] x[i, .] + excess[h, r] s[h]
  >= excess[h, r]``;
* each destination stays at or below every threshold less ``margin``
  (no new hotspot; the planner's ``relief_margin``), and hot hosts are
  relieved to the same level, and
  within Placement's allocation limits for vCPUs and flavor memory;
* minimise ``sum x[i, d] (BIG + mem_used_mb[i]) + W sum s[h]`` with ``BIG``
  above the memory in use of all candidates together and ``W`` above any
  possible migration cost, so that resolving dominates, then the count of
  migrations, then memory.

HiGHS gets a time limit; when it stops on it, the best solution found is
reported as "not proven" with the solver's lower bound.
"""

import dataclasses
import time

import numpy as np
from scipy import optimize
from scipy import sparse

from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.bench import evaluate

EPS = 1e-9


@dataclasses.dataclass
class Optimum:
    """The solution of the MILP (or the best found within the limit)."""

    status: str                  # optimal, not proven, no solution
    message: str
    migrations: list             # plan.Migration, in any order
    resolvable: int
    resolved: int
    moved_gib: float
    solve_s: float
    n_candidates: int
    n_variables: int
    n_constraints: int
    #: lower bound on the number of migrations (proven optimum or bound)
    migrations_bound: int = 0

    @property
    def n_migrations(self):
        return len(self.migrations)

    @property
    def proven(self):
        return self.status == 'optimal'

    def to_dict(self):
        return {'status': self.status, 'message': self.message,
                'migrations': self.n_migrations,
                'moved_gib': round(self.moved_gib, 3),
                'resolvable': self.resolvable, 'resolved': self.resolved,
                'migrations_bound': self.migrations_bound,
                'solve_s': round(self.solve_s, 3),
                'candidates': self.n_candidates,
                'variables': self.n_variables,
                'constraints': self.n_constraints}


def solve(model, thresholds, time_limit=120.0, same_zone=True,
          cooldown_s=0.0, margin=0.0):
    """Solve the MILP for ``model``; return an :class:`Optimum`.

    :param margin: the planner's ``relief_margin``: destinations stay
        under each threshold minus it, and hot hosts are relieved to it,
        or, when that is impossible, to the threshold (a fallback that
        costs more than any set of moves): the problem the planner solves
    """
    started = time.perf_counter()
    thresholds = np.asarray(thresholds, dtype=float)
    hosts, inst = model.hosts, model.instances
    cap = model.capacity()
    over = np.where(cap > 0, cap * thresholds, np.inf)
    limit = np.where(cap > 0, np.maximum(cap * (thresholds - margin), 0.0),
                     np.inf)
    demand = model.host_demand()
    alloc = model.host_allocation()
    alloc_limit = model.allocation_limit()
    inst_demand = model.instance_demand()
    inst_alloc = model.instance_allocation()
    mem = inst.mem_used_mb.astype(float)

    hot, resolvable = evaluate.resolvable_hot_hosts(model, thresholds)
    sources = np.flatnonzero(resolvable)
    src_pos = {int(h): k for k, h in enumerate(sources)}
    excess = np.maximum(demand - limit, 0.0)
    hot_r = demand > over + EPS
    movable = model.movable(cooldown_s)

    # candidates: movable instances on resolvable hot hosts that carry some
    # of their host's hot demand
    on_source = resolvable[inst.host] & movable
    useful = (inst_demand * hot_r[inst.host] > 0).any(axis=1)
    cands = np.flatnonzero(on_source & useful)
    dests = np.flatnonzero(~hot & ~hosts.disabled)

    # (candidate, destination) pairs where the instance alone fits
    room = limit[dests] - demand[dests]                # (D, 4)
    alloc_room = alloc_limit[dests] - alloc[dests]     # (D, 2)
    pair_c, pair_d = [], []
    for k, i in enumerate(cands):
        ok = ((inst_demand[i] <= room + EPS).all(axis=1)
              & (inst_alloc[i] <= alloc_room + EPS).all(axis=1))
        if same_zone:
            ok &= hosts.availability_zone[dests] == \
                hosts.availability_zone[inst.host[i]]
        pos = np.flatnonzero(ok)
        pair_c.append(np.full(pos.size, k, dtype=np.int64))
        pair_d.append(pos)
    pair_c = np.concatenate(pair_c) if pair_c else np.zeros(0, np.int64)
    pair_d = np.concatenate(pair_d) if pair_d else np.zeros(0, np.int64)
    n_pairs, n_src = pair_c.size, sources.size
    # with a margin, u[h] lets h reach its threshold only (the planner's
    # fallback): n_src more variables, dearer than any set of moves
    n_soft = n_src if margin > 0 else 0
    n_var = n_pairs + n_src + n_soft

    big = float(mem[cands].sum()) + 1.0
    weight = big * (cands.size + 1)
    if n_soft:
        # staying hot outweighs every fallback to the threshold
        c = np.concatenate([big + mem[cands][pair_c],
                            np.full(n_src, weight * (n_src + 1)),
                            np.full(n_soft, weight)])
    else:
        c = np.concatenate([big + mem[cands][pair_c],
                            np.full(n_src, weight)])

    rows, cols, vals, lb, ub = [], [], [], [], []
    n_rows = 0

    def add_rows(r, cidx, v, lo, hi):
        nonlocal n_rows
        rows.append(np.asarray(r, dtype=np.int64) + n_rows)
        cols.append(np.asarray(cidx, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))
        lb.append(np.asarray(lo, dtype=float))
        ub.append(np.asarray(hi, dtype=float))
        n_rows += len(lo)

    var = np.arange(n_pairs)
    # 1. each candidate moves at most once
    add_rows(pair_c, var, np.ones(n_pairs), np.zeros(cands.size),
             np.ones(cands.size))
    # 2. cover every hot resource of every resolvable hot host, or s[h]
    cand_src = np.array([src_pos[int(inst.host[i])] for i in cands],
                        dtype=np.int64)
    # (excess to cover, the variables that excuse it): to the target
    # (threshold less margin) unless s[h] or u[h]; with a margin, also to
    # the threshold unless s[h]
    covers = [(excess, [n_pairs] + ([n_pairs + n_src] if n_soft else []))]
    if n_soft:
        covers.append((np.maximum(demand - over, 0.0), [n_pairs]))
    for r in range(cap.shape[1]):
        hs = np.flatnonzero(hot_r[sources, r])       # positions in sources
        if hs.size == 0:
            continue
        row_of = np.full(n_src, -1, dtype=np.int64)
        row_of[hs] = np.arange(hs.size)
        pr = row_of[cand_src[pair_c]]
        keep = pr >= 0
        for cover, excuses in covers:
            need = cover[sources[hs], r]
            add_rows(np.concatenate([pr[keep]] + [np.arange(hs.size)]
                                    * len(excuses)),
                     np.concatenate([var[keep]] + [base + hs
                                                   for base in excuses]),
                     np.concatenate([inst_demand[cands[pair_c[keep]], r]]
                                    + [need] * len(excuses)),
                     need - EPS, np.full(hs.size, np.inf))
    # 3. destinations: load thresholds and allocation limits
    for col, per_inst, head in (
            [(r, inst_demand[:, r], room[:, r]) for r in range(cap.shape[1])]
            + [(None, inst_alloc[:, a], alloc_room[:, a]) for a in range(2)]):
        coef = per_inst[cands[pair_c]]
        used = coef > 0
        if not used.any() or (col is not None
                              and not np.isfinite(head).any()):
            continue
        ds = np.unique(pair_d[used])
        row_of = np.full(dests.size, -1, dtype=np.int64)
        row_of[ds] = np.arange(ds.size)
        finite = np.isfinite(head[ds])
        pr = row_of[pair_d[used]]
        keep = finite[pr]
        ds_rows = np.flatnonzero(finite)
        remap = np.full(ds.size, -1, dtype=np.int64)
        remap[ds_rows] = np.arange(ds_rows.size)
        add_rows(remap[pr[keep]], var[used][keep], coef[used][keep],
                 np.full(ds_rows.size, -np.inf), head[ds][ds_rows] + EPS)

    if n_var == 0:
        return Optimum('optimal', 'nothing to do', [], 0, 0, 0.0,
                       time.perf_counter() - started, 0, 0, 0)
    a = sparse.csr_array((np.concatenate(vals),
                          (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_rows, n_var))
    res = optimize.milp(
        c, integrality=np.ones(n_var),
        bounds=optimize.Bounds(np.zeros(n_var), np.ones(n_var)),
        constraints=optimize.LinearConstraint(a, np.concatenate(lb),
                                              np.concatenate(ub)),
        options={'time_limit': float(time_limit), 'mip_rel_gap': 0.0,
                 'disp': False})
    elapsed = time.perf_counter() - started
    if res.x is None:
        return Optimum('no solution', res.message, [], n_src, 0, 0.0,
                       elapsed, cands.size, n_var, n_rows)
    x = res.x > 0.5
    chosen = np.flatnonzero(x[:n_pairs])
    stay_hot = int(x[n_pairs:n_pairs + n_src].sum())
    fallback = int(x[n_pairs + n_src:].sum())
    names = hosts.names
    migrations = []
    for p in chosen:
        i = int(cands[pair_c[p]])
        d = int(dests[pair_d[p]])
        migrations.append(plan_mod.Migration(
            instance=inst.names[i], source=names[inst.host[i]],
            target=names[d], reason='optimum', transfer_mb=float(mem[i])))
    status = 'optimal' if res.status == 0 else 'not proven'
    bound = getattr(res, 'mip_dual_bound', None)
    if status == 'optimal':
        n_bound = len(migrations)
    elif (bound is not None and np.isfinite(bound) and stay_hot == 0
          and fallback == 0):
        # objective = m * BIG + memory, memory < BIG
        n_bound = max(int(np.floor(bound / big + 1e-9)), 0)
    else:
        n_bound = 0
    return Optimum(
        status=status, message=res.message, migrations=migrations,
        resolvable=n_src, resolved=n_src - stay_hot,
        moved_gib=float(mem[cands[pair_c[chosen]]].sum()) / 1024.0,
        solve_s=elapsed, n_candidates=int(cands.size), n_variables=n_var,
        n_constraints=n_rows, migrations_bound=n_bound)
