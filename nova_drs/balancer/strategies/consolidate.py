# SPDX-License-Identifier: Apache-2.0
"""The ``consolidate`` strategy: empty the least loaded hosts.

*Description*

When no hotspot is open, it empties whole hosts, least loaded first, by
moving every guest of a host onto hosts that already run guests, as long
as each destination stays at or below its *comfort level* for the
guests' **recent peak** load, not only their load now: the comfort level
is each threshold minus ``[drs_balancer] destination_headroom`` (at
least ``relief_margin``), and the load a guest brings is its peak over
the balancer's peak window (``instances.peak_slices`` of the model,
see :mod:`nova_drs.balancer.view.peaks`; its load now where no peak is
known). The window is cut in slices that line up in time across guests:
a destination must stay at or below its comfort level in every slice,
with its own base load and its guests' peaks of that slice, so two
guests busy at different hours are not counted at their peaks together,
and a host filled at a quiet hour is not hot at the next busy one. A
freed host runs no guest: it can be powered off (``Plan.freed``).

A host is emptied whole or not at all: a partly emptied host saves
nothing and its guests' moves are churn. Hosts are tried least loaded
first (their guests' peak load as a share of the comfort level, and
their allocation, in steps of :data:`SIZE_STEP`: they take the least
room elsewhere, so the most hosts are freed), and among hosts about as
loaded, the fewest guests, then the least memory to send: the fewest
migrations and the least memory moved per host freed. Each guest, the
largest first, goes to the destination it fits best (the highest load
after the move, at or below the comfort level): hosts that receive
become fuller and are never emptied in the same plan; an empty host is
never a destination.

*Placement rules*

Exactly those of the other strategies (:mod:`nova_drs.balancer.
placement`, the same checks, not a copy): allocation ratios and
capacity, enabled and not-hot destinations, availability zones and
aggregates, server groups (members of a hard-affinity group do not
move, so their host is not emptied; anti-affinity limits per host; a
soft-anti-affinity destination that already holds a member of the group
is a worse fit by ``soft_affinity_penalty``), opt-outs and cool-downs,
recently failed targets, and the per-source, per-destination and
per-plan migration limits (a host with more guests than
``max_migrations_per_source_host`` is not emptied).

*Never while a hotspot is open*

When a host is hot (its agent flags it; without flags, a load above a
threshold), the strategy does what ``hotspot`` does, and frees nothing:
load must come off hot hosts before the cluster is packed. A hot host
that no migration can relieve (none of its guests could leave it even
for an empty host: one guest busier than any host's threshold, every
guest pinned) does not hold consolidation up forever: consolidation
takes nothing from it and sends nothing to it, and the plan lists it in
``unresolved``.
"""

import time

import numpy as np

from nova_drs.balancer.planning import cost
from nova_drs.balancer.planning import destinations
from nova_drs.balancer.planning import placement
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer import strategies
from nova_drs.balancer.strategies import hotspot
from nova_drs.model import cluster

EPS = placement.EPS
#: Hosts within this share of their comfort level count as equally
#: loaded: among them, the fewest guests, then the least memory, first.
SIZE_STEP = 0.05
#: Hosts that could not be emptied in a row before the search stops:
#: hosts are tried smallest first, so once this many in a row found no
#: room, larger ones would not either; bounds the cost of a pass on a
#: full region.
MAX_FAILURES = 64


def comfort_gap(conf):
    """How far below each threshold a consolidated host must stay.

    Per resource, in the model's order: the destinations' comfort level
    (:attr:`~nova_drs.balancer.planning.destinations.Rules.
    comfort_shares`).
    """
    return destinations.Rules.from_conf(conf).comfort_shares


def peak_profile(model):
    """Each instance's recent peak demand, shape (instances, slices, 4).

    In the units of :meth:`~nova_drs.model.cluster.ClusterModel.
    instance_demand`, never below the demand now: per slice of the peak
    window where the model has them (``instances.peak_slices``: slices
    line up in time, so guests busy at different hours are not counted
    at their peaks together), else one slice, the overall peak
    (``instances.peak``, or the load now).
    """
    demand = model.instance_demand()
    slices = model.instances.peak_slices
    if slices is None or not len(model.instances):
        return model.instance_peak_demand()[:, None, :]
    slices = np.asarray(slices, dtype=float)
    as_demand = slices.copy()
    as_demand[:, :, cluster.CPU] = (
        model.instances.vcpus[:, None]
        * np.clip(slices[:, :, cluster.CPU], 0.0, 1.0))
    return np.fmax(as_demand, demand[:, None, :])


class Consolidator:
    """Empty hosts of a :class:`~placement.PlacementState` in place.

    The state applies every placement rule and keeps the moves; the
    comfort level at peak is checked here, on each host's peak profile
    (its base load plus its guests' peak demand, per slice).

    :param state: the placement state of the model
    :param transfer: MiB each instance's migration sends, from its memory
        in use now (not its peak), for the cost order and the plan
    :param gap: the comfort level's distance below each threshold
    :param profile: :func:`peak_profile` of the model
    """

    def __init__(self, state, conf, transfer, gap, profile):
        self.state = state
        n = len(state.model.hosts)
        cap = state.capacity
        #: (hosts, 4) comfort level per host and resource, share of
        #: capacity, and the demand it allows (inf: resource not tracked)
        self.comfort = np.maximum(state.thresholds - gap, 0.0)
        tracked = cap > 0
        self.comfort_limit = np.where(tracked, cap * self.comfort, np.inf)
        self.inv_comfort = np.where(
            tracked, 1.0 / np.maximum(np.where(tracked, self.comfort_limit,
                                               1.0), 1e-12), 0.0)
        self.profile = profile
        #: (hosts, slices, 4) peak demand per host, kept up to date
        self.host_profile = np.repeat(state.model.base_load()[:, None, :],
                                      profile.shape[1], axis=1)
        np.add.at(self.host_profile, state.inst_host, profile)
        self.soft_penalty = conf.drs_balancer.soft_affinity_penalty
        self.bandwidth = conf.drs_balancer.migration_bandwidth_mb_s
        self.transfer = transfer
        #: hosts being emptied by this plan: they receive nothing
        self.emptied = np.zeros(n, dtype=bool)
        #: hosts running guests when planning began: the only
        #: destinations (an empty host stays empty)
        self.active = np.bincount(state.inst_host, minlength=n) > 0
        #: host -> why it was not emptied (the plan's reason text)
        self.kept = {}

    def _guests(self, h):
        return list(self.state.members(h))

    def fullness(self, hosts, extra=None):
        """Highest peak load as a share of the comfort level, per host."""
        prof = self.host_profile[hosts]
        if extra is not None:
            prof = prof + extra
        return (prof * self.inv_comfort[hosts][:, None, :]).max(axis=(1, 2))

    def candidates(self):
        """Hosts worth trying, cheapest to empty first."""
        state = self.state
        hosts = state.model.hosts
        out = []
        fullness = self.fullness(np.arange(len(hosts)))
        for h in np.flatnonzero(self.active & ~hosts.disabled):
            h = int(h)
            guests = self._guests(h)
            pinned = [i for i in guests if not state.can_move(i)]
            if pinned:
                self.kept[h] = ('%d guest(s) may not move (opt-out, '
                                'cool-down, hard affinity or pinned)'
                                % len(pinned))
                continue
            if len(guests) > state.max_out:
                self.kept[h] = ('%d guests, more than '
                                'max_migrations_per_source_host (%d)'
                                % (len(guests), state.max_out))
                continue
            # room its guests take at their peak, as a share of the
            # comfort level (and of Placement's allocation limit)
            size = max(float(fullness[h]),
                       float((state.alloc[h] / np.maximum(
                           state.alloc_limit[h], 1.0)).max()))
            out.append((int(size / SIZE_STEP), len(guests),
                        float(self.transfer[guests].sum()), h))
        out.sort()
        return [row[-1] for row in out]

    def _destination(self, i):
        """The host ``i`` fits best at its peak, or -1."""
        state = self.state
        mask = state.placement_mask(i)
        # only hosts that run guests and stay: never refill a freed host
        mask &= self.active & ~self.emptied
        hosts = np.flatnonzero(mask)
        if hosts.size == 0:
            return -1
        fits = (state.alloc_headroom[hosts]
                >= state.inst_alloc[i] - EPS).all(axis=1)
        hosts = hosts[fits]
        if hosts.size == 0:
            return -1
        # the comfort level at peak, slice by slice
        after = self.host_profile[hosts] + self.profile[i]
        fits = (after <= self.comfort_limit[hosts][:, None, :]
                + EPS).all(axis=(1, 2))
        hosts = hosts[fits]
        if hosts.size == 0:
            return -1
        # best fit: the fullest host after the move, so large free
        # slots stay large
        score = self.fullness(hosts, self.profile[i])
        group = state.model.instances.group[i]
        if group != cluster.NO_GROUP and self.soft_penalty:
            sg = state.model.groups[group]
            if sg.policy == 'soft-anti-affinity':
                present = state.group_hosts[group]
                score = score - self.soft_penalty * np.array(
                    [present.get(int(h), 0) > 0 for h in hosts])
        return int(hosts[np.argmax(score)])

    def _apply(self, i, dest):
        src = self.state.apply(i, dest)
        self.host_profile[src] -= self.profile[i]
        self.host_profile[dest] += self.profile[i]
        return src

    def _undo(self, i, src):
        dest = int(self.state.inst_host[i])
        self.state.undo(i, src)
        self.host_profile[dest] -= self.profile[i]
        self.host_profile[src] += self.profile[i]

    def peak_load(self, h):
        """Peak load of ``h`` over the window, share of capacity."""
        return (self.host_profile[h].max(axis=0)
                * self.state.inv_capacity[h])

    def empty(self, h):
        """Move every guest off ``h``; its moves, or None (nothing moved)."""
        state = self.state
        guests = np.array(self._guests(h), dtype=np.int64)
        if state.n_moves + guests.size > state.max_total:
            self.kept[h] = 'max_migrations_per_plan reached'
            return None
        size = (self.profile[guests].max(axis=1)
                * self.inv_comfort[h]).max(axis=1)
        alloc = (state.inst_alloc[guests]
                 / np.maximum(state.alloc_limit[h], 1.0)).max(axis=1)
        order = guests[np.lexsort((alloc, size))[::-1]]
        self.emptied[h] = True
        done = []
        for i in order:
            i = int(i)
            dest = self._destination(i)
            if dest < 0:
                for j, *_rest in reversed(done):
                    self._undo(j, h)
                self.emptied[h] = False
                self.kept[h] = ('no host running guests has room for %s '
                                'at its peak below the comfort level'
                                % state.model.instances.names[i])
                return None
            before = self.peak_load(dest)
            self._apply(i, dest)
            done.append((i, h, dest, before, self.peak_load(dest)))
        return done

    def run(self, result):
        failures = 0
        for h in self.candidates():
            if (self.state.n_moves >= self.state.max_total
                    or failures >= MAX_FAILURES):
                break
            # a host that received guests in this plan stays
            if self.state.moves_in[h] or self.emptied[h]:
                continue
            done = self.empty(h)
            if done:
                failures = 0
                result.freed.append(self.state.model.hosts.names[h])
                result.migrations.extend(self._describe(h, done))
            else:
                failures += 1

    def _describe(self, h, done):
        state = self.state
        names = state.model.hosts.names
        inst_names = state.model.instances.names
        freed_mb = float(self.transfer[[i for i, *_ in done]].sum())
        moves = []
        for i, src, dest, before, after in done:
            limit = self.comfort[dest]
            target = ', '.join(
                'peak %s %.2f -> %.2f (comfort %.2f)' % (
                    cluster.RESOURCES[r], before[r], after[r], limit[r])
                for r in range(len(cluster.RESOURCES))
                if state.capacity[dest, r] > 0)
            reason = ('consolidate: empty %s (%d guest(s), %.0f MiB to '
                      'move) so it can be powered off; target %s: %s'
                      % (names[src], len(done), freed_mb, names[dest],
                         target))
            transfer = float(self.transfer[i])
            moves.append(plan_mod.Migration(
                instance=inst_names[i], source=names[src],
                target=names[dest], reason=reason, transfer_mb=transfer,
                duration_s=transfer / self.bandwidth))
        return moves


def _relievable(model, h, thresholds, movable, same_az):
    """Could migrations relieve hot host ``h``, were hosts empty?

    The guests that may move (not opted out, pinned, cooling down or in
    a hard-affinity group) and would fit, with their load now and their
    flavor, on an enabled host of the zone with nothing else on it, must
    together carry at least the host's load above each threshold. When
    they do not, no plan can relieve ``h`` by migration. A host flagged
    hot but under its thresholds (cooling) counts as relievable: it
    clears by itself.
    """
    hosts = model.hosts
    guests = np.flatnonzero((model.instances.host == h) & movable)
    if guests.size == 0:
        return False
    others = ~hosts.disabled
    others[h] = False
    if same_az:
        others &= hosts.availability_zone == hosts.availability_zone[h]
    others = np.flatnonzero(others)
    if others.size == 0:
        return False
    cap = model.capacity()[others]
    limit = np.where(cap > 0, cap * model.host_thresholds(thresholds)[
        others], np.inf)
    alloc_limit = model.allocation_limit()[others]
    base = model.base_load()[others]
    demand = model.instance_demand()[guests]
    alloc = model.instance_allocation()[guests]
    fits = (((base[None, :, :] + demand[:, None, :]) <= limit[None] + EPS)
            .all(axis=2)
            & (alloc[:, None, :] <= alloc_limit[None] + EPS).all(axis=2))
    leavable = fits.any(axis=1)
    own = model.host_thresholds(thresholds)[h]
    host_cap = model.capacity()[h]
    host_limit = np.where(host_cap > 0, host_cap * own, np.inf)
    excess = np.maximum(model.host_demand()[h] - host_limit, 0.0)
    return bool(leavable.any()) and bool(
        (demand[leavable].sum(axis=0) >= excess - EPS).all())


def hotspots(model, thresholds, conf):
    """(open, stuck): names of hot hosts, flagged or over a threshold.

    *stuck* hosts are those no migration can relieve (no guest of theirs
    could leave them even for an empty host, e.g. one guest busier than
    any host's threshold): they do not hold consolidation up, since it
    takes nothing from them; every other hot host is *open*, and
    consolidation waits for it.
    """
    hot = np.flatnonzero(model.hot_hosts(thresholds).any(axis=1))
    if hot.size == 0:
        return [], []
    opts = conf.drs_balancer
    movable = model.movable(opts.instance_cooldown)
    names = model.hosts.names
    open_, stuck = [], []
    for h in hot:
        if _relievable(model, int(h), thresholds, movable,
                       opts.same_availability_zone):
            open_.append(names[h])
        else:
            stuck.append(names[h])
    return open_, stuck


def hotspot_open(model, thresholds, conf):
    """Names of the hot hosts consolidation waits for (see hotspots)."""
    return hotspots(model, thresholds, conf)[0]


class ConsolidateStrategy(strategies.Strategy):
    """Free the least loaded hosts; relieve hotspots first.

    See the module documentation.
    """

    def plan(self, model):
        started = time.perf_counter()
        result = plan_mod.Plan(self.name or 'consolidate')
        hot, stuck = hotspots(model, self.thresholds, self.conf)
        if hot:
            # load comes off hot hosts before anything is packed
            state = placement.PlacementState(model, self.conf,
                                             self.thresholds)
            hotspot.HotspotResolver(state, self.conf).resolve_all(result)
            hotspot.finish(result, state)
        else:
            self.consolidate(model, result)
            # no migration can relieve them: said, not waited for
            result.unresolved = list(stuck)
        result.decision_s = time.perf_counter() - started
        return result

    def consolidate(self, model, result):
        """Add the moves that free hosts to ``result``; the Consolidator."""
        opts = self.conf.drs_balancer
        state = placement.PlacementState(model, self.conf, self.thresholds)
        inst = model.instances
        transfer = cost.transfer_mb(inst.mem_used_mb, inst.dirty_rate_mb_s,
                                    opts.migration_bandwidth_mb_s)
        consolidator = Consolidator(state, self.conf, transfer,
                                    comfort_gap(self.conf),
                                    peak_profile(model))
        consolidator.run(result)
        return consolidator
