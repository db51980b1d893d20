# SPDX-License-Identifier: Apache-2.0
"""The ``hotspot`` strategy: remove hotspots with the fewest migrations.

*Description*

Hot hosts are handled one at a time, most overloaded first. For a hot host
the strategy looks for the smallest set of its instances whose removal
brings every hot resource back to its threshold, and among sets of that
size the one that costs least to migrate (the cost model in
:mod:`nova_drs.balancer.planning.cost`: memory in use, dirty rate, bandwidth).
It searches exhaustively over sets of up to ``max_subset_size`` instances,
starting from the smallest size that can cover the excess, and tries the
cheapest covering sets in order until all members of one find a
destination. Beyond that size, or when no set of those sizes can be
placed, it adds instances greedily (the most excess covered per unit of
cost first).

Destinations satisfy every constraint of
:mod:`nova_drs.balancer.planning.placement`; among them the destination
policy chooses (:mod:`nova_drs.balancer.planning.destinations`: ``pack``,
best fit under the comfort level, by default; ``spread``, the least
loaded). With ``pack``, among covering sets of the same size one whose
moves all land on hosts already running guests goes before a cheaper one
that needs an empty host, and with ``pack_extra_migrations`` above 0 a
set of up to that many more instances may keep a host off. A hot host is
relieved to each threshold minus ``relief_margin`` (hysteresis), else to
its threshold. A host its guests' recent slices show still climbing is
first relieved further, by what the climb adds over
``relief_trend_horizon`` seconds (bounded; see
:mod:`nova_drs.balancer.planning.trend`): relieved to just its ceiling on
a ramp that goes on, it would be hot again within minutes.

*Chains*

When an instance that must leave has no destination, the strategy may
first move one instance off a candidate destination to make room: a chain
of two migrations, make-room move first. Where the make-room instance has
no destination either, it may in turn get room made for it, up to
``max_chain_depth`` make-room moves in a row (default 2: three
migrations to place one instance). Chains are tried only after direct
placements of every set of the same size failed, and a deeper one only
after every shallower one for that instance: each level costs one more
migration, so the cost order of the search (fewest migrations, then
least memory) prefers the shallowest. The moves run deepest first, and
each is checked on the state the moves before it leave, so every step
has room when it runs; a host is used at most once in a chain. Where the
only way left would be a *swap* (the instance fits where another guest
is if that guest took its place on the hot host), the host's reason says
so: live migration cannot swap two guests without a third host with room.

*Which hosts*

The hosts to relieve are those the model says are hot: with the agents'
hot flags (the live balancer), a host its agent flags whose measured load
is above a threshold; a flagged host already back under its thresholds
is *cooling* and gets no move (``Plan.cooling``). Loads are measured
loads: each host's ``base_load`` (its own processes) plus its guests'
demand, against each host's own thresholds; see
:mod:`nova_drs.balancer.planning.placement`.

*Fast failure, partial relief, reasons*

Before searching, a cheap check (an upper bound of every resource's room,
then the destination index) proves when no host can take any of the hot
host's movable instances and no make-room move exists: the host is
reported at once. A host that cannot be fully relieved (room, limits) is
relieved as far as it can be, when that lowers its overload and moving
every instance that fits somewhere would cool it. A host that must stay
hot whatever moves (an instance above a threshold on every host, say) but
is *saturated*, above 100 % of a resource, is brought back under its
capacity (less ``relief_margin`` where possible) with the fewest moves:
above capacity every guest on it starves, which is the SLA violation
that matters most. Every host left hot is
in ``Plan.unresolved_reasons`` with the reason. Hosts cooled earlier in
the plan receive later moves under their comfort level (without agent hot
flags only).
"""

import collections
import itertools
import math
import time

import numpy as np

from nova_drs.balancer.planning import destinations
from nova_drs.balancer.planning import placement
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer import strategies
from nova_drs.model import cluster

EPS = placement.EPS

#: Upper bound on the sets of one size scored for one hot host; larger
#: hosts search among their most useful instances only.
COMBINATION_LIMIT = 20000
#: Covering sets of one size tried for placement, cheapest first.
PLACEMENT_TRIES = 48
#: With ``pack``, covering sets of one size tried after one that powers
#: a host on, for one that does not (each a placement attempt).
OPENING_ALTERNATIVES = 8
#: ...and only those that cost at most this share more to move than the
#: set that powers a host on. Without a bound the rule took sets moving
#: several times the memory (PlanetLab 20110325, 200 hosts: memory moved
#: 1.09x the exact optimum's, at the same count, against 1.00x with
#: 0.25); with 0.25 ``pack`` keeps the hosts it saved on the packing
#: benchmark's days within half a host.
PACK_EXTRA_COST = 0.25
#: most placements :meth:`HotspotResolver._cheapen` tries to make a
#: greedy relief cheaper (each rolls back and redoes the relief)
CHEAPEN_TRIES = 12
#: Destinations examined for a make-room move.
CHAIN_HOSTS = 16
#: Make-room options tried per level below the first (each may search a
#: level deeper): bounds a deep chain's search on a full cluster.
DEEP_CHAIN_OPTIONS = 4
#: Make-room options tried for one hot host, at every level of every
#: chain of every set: on a cluster where nearly every host lacks room
#: for the resource that is hot (memory on a cluster too small for its
#: guests), a chain search that finds nothing otherwise tries thousands
#: (20110403 on 150 hosts, balloon off: up to 14,000, 12 s for one
#: host). Where chains succeed they take few (at most 7 on the
#: 95 %-allocated bench clusters).
CHAIN_BUDGET = 256
#: A saturated host is brought this share of its capacity under it at
#: least (at exactly 100 % its guests still wait for CPU).
SATURATION_GAP = 0.01
#: How a move's destination was chosen when it receives a make-room move.
TIER_CHAIN = 'room made by the move before'

_combinations_cache = {}


def _load_changes(before, after, resources):
    """``cpu 1.36 -> 0.94, memory ...``: loads before and after moves.

    :param before: loads per resource (array or list)
    :param after: the same after the moves
    :param resources: the resource columns to show, in order
    """
    # plain floats: formatting numpy scalars one by one cost a tenth of a
    # large plan
    before, after = np.asarray(before).tolist(), np.asarray(after).tolist()
    if not isinstance(resources, list):
        resources = np.asarray(resources).tolist()
    return ', '.join(
        '%s %.2f -> %.2f' % (cluster.RESOURCES[r], before[r], after[r])
        for r in resources)


class _Move(collections.namedtuple(
        '_Move', 'instance source target for_instance target_before '
                 'target_after tier peak', defaults=('',))):
    """A tentative move; ``for_instance`` is set on make-room moves."""


def _combinations(n, k):
    key = (n, k)
    combos = _combinations_cache.get(key)
    if combos is None:
        combos = np.array(list(itertools.combinations(range(n), k)),
                          dtype=np.int64).reshape(-1, k)
        _combinations_cache[key] = combos
    return combos


#: :meth:`HotspotResolver._room_arrays` when no guest can make room:
#: (costs, guests, hosts), empty; read-only, as every call shares them
_NO_ROOM_OPTIONS = (np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))
for _empty in _NO_ROOM_OPTIONS:
    _empty.setflags(write=False)
del _empty


def _hosts_opened(moves):
    """How many of ``moves`` power a host on (go to an empty host)."""
    return sum(m.tier == destinations.TIER_EMPTY for m in moves)


def _pool_size(n, k):
    """Largest m <= n with C(m, k) <= COMBINATION_LIMIT."""
    m = n
    while m > k and math.comb(m, k) > COMBINATION_LIMIT:
        m -= 1
    return m


class HotspotResolver:
    """Resolve the hotspots of a :class:`PlacementState` in place."""

    def __init__(self, state, conf):
        self.state = state
        self.max_subset = conf.drs_balancer.max_subset_size
        self.depth = conf.drs_balancer.max_chain_depth
        self.chains = self.depth > 0
        # source host -> a swap that would relieve it (reason text only)
        self._swaps = {}
        # Instances known to have no direct destination, and no chain
        # either. Room only shrinks while planning, except after a
        # make-room move, which clears both.
        self._no_direct = set()
        self._no_chain = set()
        # Within one hot host's relief: make-room guests with no direct
        # destination, and instance -> the deepest make-room chain known
        # to fail for it (cleared with the sets above, and per hot host:
        # a host cooled in between may receive)
        self._chain_no_direct = set()
        self._chain_failed = {}
        # pack, within one hot host's relief: instances whose destination
        # was an empty host, no active host having room under its comfort
        # level for them (room only shrinks while planning: a set holding
        # one opens a host too)
        self._opens = set()
        # make-room options left for the hot host being relieved
        self._chain_left = CHAIN_BUDGET
        # a hot host's search found no relief in this plan: from then on
        # the cheap proof is tried before searching (room only shrinks)
        self._failed_search = False
        # the highest limit of any host, per resource: an instance above
        # it is hot wherever it runs (limits do not change during a plan)
        self._max_limit = (state.limit.max(axis=0) if len(state.limit)
                           else np.zeros(state.limit.shape[1]))
        # demands do not change during a plan either: which instances are
        # too big is known once for all (a check per hot host otherwise)
        self._big = np.logical_or.reduce(
            state.inst_demand > self._max_limit + EPS, axis=1)
        # reason text: fixed for the plan, and per destination host its
        # tracked resources (capacities do not change during a plan)
        self._policy = state.rules.describe()
        self.pack_extra = conf.drs_balancer.pack_extra_migrations
        # pack: among covering sets of one size, one that powers no host
        # on before a cheaper one that does (placement attempts: some
        # 20 % more time for a 10,000-host plan)
        self._pack = state.rules.policy == destinations.PACK
        self._tracked = {}

    # -- the whole cluster

    def resolve_all(self, plan):
        state = self.state
        names = state.model.hosts.names
        hot = np.flatnonzero(state.hot_mask())
        order = sorted(hot, key=self._priority)
        reasons = plan.unresolved_reasons
        for h in order:
            h = int(h)
            if state.n_moves >= state.max_total:
                reasons[names[h]] = (
                    'limit: max_migrations_per_plan (%d) reached before '
                    'this host' % state.max_total)
                continue
            moves, why = self.resolve_host(h)
            if moves:
                plan.migrations.extend(moves)
                # a host cooled here may receive later (comfort level)
                state.reuse(h)
            if why:
                reasons[names[h]] = (why + self._swap_reason(h)
                                     + self._chain_note())

    def _chain_note(self):
        """'; ...' when the last host's make-room search was cut short."""
        if self._chain_left > 0:
            return ''
        return ('; make-room chains searched up to %d options, none '
                'found' % CHAIN_BUDGET)

    def _priority(self, h):
        """Sort key of hot host ``h``: the order hosts get room in.

        Hosts that can be cooled first, then those an instance keeps hot
        wherever it runs (only brought back under their capacity); within
        each, saturated hosts (above 100 % of a resource: every guest on
        them starves) first, then the most severe. Where destinations are
        few (a cluster nearly full by allocation), room spent on a host
        that stays hot anyway is room a host that could be cooled no
        longer finds: on 95 %-allocated bench clusters (200 hosts, three
        trace steps) those then needed make-room chains, 4-9 more
        migrations each, where the most severe came first.
        """
        state = self.state
        saturated = self._saturated(h).size > 0
        members = state.members(h)
        stays_hot = bool(members) and bool(self._big[members].any())
        return (stays_hot, not saturated, -state.severity(h))

    # -- one host

    def resolve_host(self, h):
        """Relieve ``h``: (its migrations, why it stays hot or None).

        First to its ceiling (threshold less ``relief_margin``), else
        just under its thresholds, else as far as the room and the
        limits allow (partial relief, when it lowers the overload).
        """
        state = self.state
        hot_r, need = state.relief_need(h)
        if hot_r.size == 0:
            return [], None
        self._chain_left = CHAIN_BUDGET
        self._forget_room_notes()
        budget = min(state.max_out - state.moves_out[h],
                     state.max_total - state.n_moves)
        members = state.members(h)
        on_host = np.asarray(members, dtype=np.int64)
        cands = on_host[state.movable[on_host] & ~state.moved[on_host]]
        if budget <= 0:
            return [], self._limit_reason(h)
        if cands.size == 0:
            return [], self._pinned_reason(h, members)
        # before any search (the cheapest proof, and the commonest one on
        # a busy cluster): an instance hot on any host keeps ``h`` hot
        big = self._too_big(cands)
        if big:
            return self._relieve_saturation(h, cands, big, budget,
                                            self._too_big_reason(big))
        dem = state.inst_demand.take(cands, axis=0)[:, hot_r]
        useful = np.logical_or.reduce(dem > EPS, axis=1)
        cands, dem = cands[useful], dem[useful]
        # the hot resources' names (reason text) only for hosts left hot
        if cands.size == 0:
            return [], ('none of its movable instances uses %s: %s'
                        % (self._names_of(hot_r),
                           self._pinned_reason(h, members)))
        # The proof that no candidate can move (the cheap fast failure) is
        # only worth its cost when the search fails: when it holds, every
        # search below fails without moving anything (no candidate has
        # room, nor has any instance a make-room move), so the state it
        # is taken on afterwards is the one here. The upper bound of the
        # room it uses is refreshed here, as before, so that the proofs
        # stay the same.
        state.index.refresh_bounds()
        if self._failed_search and state.index.nothing_moves():
            # Not even the smallest movable instance of the cluster fits
            # anywhere, so no search can move one, nor make room: prove
            # it now. On a cluster over capacity that is most of a plan's
            # hot hosts (20110403 on 150 hosts, balloon off: 12,735 of
            # 13,900), whose searches cost 3 ms each. Asked only once a
            # search of this plan has failed: on a slack cluster, where
            # none does, the question cost 5 % of a 10,000-host plan.
            proof = self._proof(cands)
            if proof:
                return [], self._proven(h, cands, proof)
        before = state.load(h)
        # the targets, furthest first: the ceiling lowered by a rising
        # trend (the host is still climbing: relieved to just its
        # ceiling it is hot again within minutes), the ceiling, the
        # threshold; each only when it differs from the next
        levels = [(True, False)]
        if (state.trend_extra[h, hot_r] > EPS).any():
            levels.insert(0, (True, True))
        if state.rules.margin > 0:
            levels.append((False, False))
        for margin, trend in levels:
            _, need = state.relief_need(h, margin=margin, trend=trend)
            done = self._relieve(cands, dem, need, budget)
            if done is not None:
                return self._describe(h, hot_r, before, done, margin,
                                      trend=trend), None
        self._failed_search = True
        proof = self._proof(cands)
        if proof:
            return [], self._proven(h, cands, proof)
        _, need = state.relief_need(h, margin=False)
        why = self._why_not(h, cands, dem, need, budget,
                            self._names_of(hot_r))
        placeable = np.array([state.index.no_room(int(i)) is None
                              for i in cands], dtype=bool)
        if self._lower_bound(dem[placeable], need) is None:
            # even every instance that fits somewhere would not cool it:
            # it stays hot whatever moves; only saturation is worth
            # migrations
            return self._relieve_saturation(h, cands[placeable], [],
                                            budget, why)
        done = self._partial(cands, dem, need, budget)
        if done:
            moves = self._describe(h, hot_r, before, done, False,
                                   partial='partly relieved: no room for '
                                           'more')
            return moves, ('partly relieved (%s) with %d migration(s); %s'
                           % (_load_changes(before, state.load(h), hot_r),
                              len(done), why))
        return [], why

    def _relieve(self, cands, dem, need, budget):
        """Moves that cover ``need`` within ``budget``, or None."""
        k_lb = self._lower_bound(dem, need)
        if k_lb is None or k_lb > budget:
            return None
        done = None
        top = min(self.max_subset, budget, cands.size)
        for k in range(k_lb, top + 1):
            done = self._search_sets(cands, dem, need, k, chains=False)
            if done is None and self.chains:
                done = self._search_sets(cands, dem, need, k, chains=True)
            if done is not None:
                if self._pack and self._opens_host(done):
                    return self._keep_off(cands, dem, need, k, top, done)
                return done
        done = self._greedy(cands, dem, need, budget)
        if done is not None:
            done = self._cheapen(cands, dem, need, done)
        return done

    def _keep_off(self, cands, dem, need, k, top, opening):
        """``opening``, or a larger set that powers no host on."""
        for extra in range(k + 1, min(k + self.pack_extra, top) + 1):
            self._rollback(opening)
            done = self._search_sets(cands, dem, need, extra, chains=False,
                                     only_active=True)
            if done is not None:
                return done
            opening = self._redo(opening)
        return opening

    @staticmethod
    def _lower_bound(dem, need):
        """Fewest instances that could cover ``need``; None: none could."""
        if dem.shape[0] == 0:
            return None
        k_lb = 1
        for col, value in enumerate(need.tolist()):
            if value <= EPS:
                continue
            top = dem[:, col].copy()
            top.sort()
            top = top[::-1].cumsum()
            if top[-1] < value - EPS:
                return None        # even moving everything would not do
            k_lb = max(k_lb, int(top.searchsorted(value - EPS)) + 1)
        return k_lb

    def _saturated(self, h):
        """Resources of ``h`` whose demand is above 100 % of capacity."""
        cap = self.state.capacity[h]
        return np.flatnonzero((cap > 0) & (self.state.demand[h] > cap + EPS))

    def _relieve_saturation(self, h, cands, pinned, budget, why):
        """Bring a host that must stay hot back under its capacity.

        A host that cannot be cooled (an instance above a threshold on
        every host, or not enough room anywhere) may still be saturated:
        demand above 100 % of a resource starves every guest on it (CPU
        steal; memory beyond the host's RAM swaps), which is what SLA
        violation time measures. The fewest migrations of ``cands`` (less
        ``pinned``: instances that cannot move) that bring each saturated
        resource under its capacity less ``relief_margin``, else
        :data:`SATURATION_GAP` under it; (moves, reason) or ([], ``why``)
        when it is not saturated or that cannot be done.
        """
        state = self.state
        cap = state.capacity[h]
        sat_r = self._saturated(h)
        if sat_r.size == 0:
            return [], why
        if pinned:
            # a few instances: a comparison each beats np.isin's set-up
            keep = np.ones(cands.size, dtype=bool)
            for i in pinned:
                keep &= cands != i
            cands = cands[keep]
        dem = state.inst_demand.take(cands, axis=0)[:, sat_r]
        useful = (dem > EPS).any(axis=1)
        cands, dem = cands[useful], dem[useful]
        if cands.size == 0:
            return [], why
        before = state.load(h)
        done = None
        shares = sorted({1.0 - max(state.rules.margin, SATURATION_GAP),
                         1.0 - SATURATION_GAP})
        for share in shares:
            need = np.maximum(state.demand[h, sat_r] - cap[sat_r] * share,
                              0.0)
            done = self._relieve(cands, dem, need, budget)
            if done is not None:
                break
        if not done:
            return [], why
        text = _load_changes(before, state.load(h), sat_r)
        moves = self._describe(
            h, sat_r, before, done, False,
            partial='partly relieved: back under its capacity, not under '
                    'its threshold')
        return moves, ('partly relieved: back under its capacity (%s) '
                       'with %d migration(s); %s' % (text, len(done), why))

    def _partial(self, cands, dem, need, budget):
        """Greedy moves that lower the overload as far as they can."""
        state = self.state
        done = []
        remaining = need.copy()
        left = list(range(cands.size))
        while (remaining > EPS).any() and len(done) < budget and left:
            value = np.minimum(dem[left], np.maximum(remaining, 0.0)).sum(
                axis=1) / np.maximum(remaining.sum(), EPS)
            placed = False
            for pos in np.argsort(-value, kind='stable'):
                if value[pos] <= EPS:
                    break
                i = int(cands[left[pos]])
                if i in self._no_direct:
                    continue
                dest, tier = state.choose_destination(i)
                if dest >= 0:
                    done.append(self._move(i, dest, tier=tier))
                    remaining = remaining - dem[left[pos]]
                    del left[pos]
                    placed = True
                    break
                self._no_direct.add(i)
            if not placed:
                break
        return done

    # -- why a host stays hot

    def _limit_reason(self, h):
        state = self.state
        if state.moves_out[h] >= state.max_out:
            return ('limit: max_migrations_per_source_host (%d) reached'
                    % state.max_out)
        return ('limit: max_migrations_per_plan (%d) reached'
                % state.max_total)

    def _pinned_reason(self, h, members):
        """Why none (or not enough) of ``h``'s instances may move."""
        state = self.state
        inst = state.model.instances
        if not members:
            return 'no instance on it (its own load)'
        members = np.asarray(members, dtype=np.int64)
        opted = int(inst.opt_out[members].sum())
        moved = int(state.moved[members].sum())
        affinity = 0
        for i in members:
            g = inst.group[i]
            if (g != cluster.NO_GROUP
                    and state.model.groups[g].policy == 'affinity'):
                affinity += 1
        cooling = int((~state.movable[members]).sum()) - opted - affinity
        parts = ['%d instance(s)' % members.size]
        for count, text in ((opted, 'opted out or pinned'),
                            (max(cooling, 0), 'in their migration '
                             'cool-down'),
                            (affinity, 'in hard-affinity server groups'),
                            (moved, 'already moved by this plan')):
            if count:
                parts.append('%d %s' % (count, text))
        return ', '.join(parts)

    def _proof(self, cands):
        """Why no candidate can move anywhere, or None when one might.

        Cheap: per candidate a binary search per resource in the
        destination index says whether any host has room enough; make-room
        chains could still help unless not even the smallest movable
        instance of the cluster fits anywhere.
        """
        state = self.state
        might = state.index.might_fit(cands)
        for i in cands[might]:
            if state.index.no_room(int(i)) is None:
                return None
        if self.chains and not state.index.nothing_moves():
            return None
        # the breakdown for the one most likely to fit: the smallest
        size = (state.inst_alloc[cands] / np.maximum(
            state.alloc_limit.max(axis=0), 1.0)).max(axis=1)
        smallest = int(cands[int(np.argmin(size))])
        return ('no destination has room for any of its %d movable '
                'instance(s)%s; %s' % (
                    cands.size,
                    '; no make-room move is possible either' if self.chains
                    else '', state.explain(smallest)))

    def _proven(self, h, cands, proof):
        """The reason of a host the cheap proof shows cannot be relieved.

        With a swap that would fit, as the search notes one (the reason
        text tells the operator a third host with room would do).
        """
        if self.chains:
            for i in cands.tolist():
                if h in self._swaps:
                    break
                self._note_swap(i)
        return 'cannot be relieved (proven by a cheap check): ' + proof

    @staticmethod
    def _names_of(resources):
        return '/'.join(cluster.RESOURCES[r] for r in resources)

    def _why_not(self, h, cands, dem, need, budget, hot_names):
        """Why ``h`` cannot be brought under its thresholds."""
        state = self.state
        k_lb = self._lower_bound(dem, need)
        if k_lb is None:
            return ('even moving all %d movable instance(s) would not bring '
                    '%s under the threshold' % (cands.size, hot_names))
        if k_lb > budget:
            if state.max_out - state.moves_out[h] <= budget:
                return ('limit: needs at least %d migrations, '
                        'max_migrations_per_source_host allows %d'
                        % (k_lb, state.max_out))
            return ('limit: needs at least %d migrations, '
                    'max_migrations_per_plan leaves %d' % (k_lb, budget))
        # the instance most likely to fit: the smallest useful one
        size = (state.inst_alloc[cands] / np.maximum(
            state.alloc_limit.max(axis=0), 1.0)).max(axis=1)
        i = int(cands[int(np.argmin(size))])
        return 'no room: ' + state.explain(i)

    def _too_big(self, cands):
        """Instances of ``cands`` above a threshold on every host.

        Such an instance makes any host it runs on hot, so it cannot move
        (a plan never creates a hotspot) and its host cannot be cooled.
        """
        return cands[self._big[cands]].tolist()

    def _too_big_reason(self, big):
        return ('%s alone is above a threshold on any host: moving the '
                'others cannot cool it'
                % ', '.join(self.state.model.instances.names[i]
                            for i in big[:3]))

    def _search_sets(self, cands, dem, need, k, chains, only_active=False):
        state = self.state
        pool = _pool_size(cands.size, k)
        if pool < cands.size:
            # keep the instances that cover most of the excess
            value = np.minimum(dem / need, 1.0).sum(axis=1)
            keep = np.sort(np.argsort(-value, kind='stable')[:pool])
        else:
            keep = np.arange(cands.size)
        combos = keep[_combinations(keep.size, k)]
        covers = np.logical_and.reduce(
            np.add.reduce(dem.take(combos, axis=0), axis=1) >= need - EPS,
            axis=1)
        combos = combos[covers]
        if combos.size == 0:
            return None
        known_bad = self._no_chain if chains else self._no_direct
        if known_bad and not known_bad.isdisjoint(cands.tolist()):
            bad = np.fromiter((i in known_bad for i in cands.tolist()),
                              dtype=bool, count=cands.size)
            if np.logical_or.reduce(bad):
                combos = combos[~bad[combos].any(axis=1)]
                if combos.size == 0:
                    return None
        costs = np.add.reduce(state.inst_cost.take(cands).take(combos),
                              axis=1)
        if costs.size > PLACEMENT_TRIES:
            first = np.argpartition(costs, PLACEMENT_TRIES)[:PLACEMENT_TRIES]
            order = first[np.argsort(costs[first], kind='stable')]
        else:
            order = np.argsort(costs, kind='stable')
        order = order.tolist()
        for pos, row in enumerate(order):
            moves = self._place(cands[combos[row]], chains)
            if moves is None:
                continue
            if not self._pack or not self._opens_host(moves):
                return moves
            # pack: a set that powers a host on only when no set of the
            # same size fits the hosts already running guests (the
            # per-instance rule, lifted to the set: a cheaper set that
            # opens a host would leave it running all day for the
            # memory it saved moving). Sets holding an instance known
            # to need an empty host need one too: not tried.
            rest = np.asarray(order[pos + 1:], dtype=np.int64)
            if rest.size and not only_active:
                # ...and costs at most PACK_EXTRA_COST more to move
                rest = rest[costs[rest]
                            <= costs[row] * (1.0 + PACK_EXTRA_COST) + EPS]
            if rest.size:
                opens = np.isin(cands, list(self._opens))
                rest = rest[~opens[combos[rest]].any(axis=1)]
            if not rest.size:
                if only_active:
                    self._rollback(moves)
                    return None
                return moves
            opening = moves
            self._rollback(moves)
            for other in rest[:OPENING_ALTERNATIVES].tolist():
                members = cands[combos[other]]
                if not self._opens.isdisjoint(members.tolist()):
                    continue
                moves = self._place(members, chains)
                if moves is None:
                    continue
                if not self._opens_host(moves):
                    return moves
                self._rollback(moves)
            if only_active:
                return None
            return self._redo(opening)
        return None

    def _opens_host(self, moves):
        opening = [m.instance for m in moves
                   if m.tier == destinations.TIER_EMPTY]
        self._opens.update(opening)
        return bool(opening)

    def _place(self, members, chains):
        """Place every instance of ``members``; all or nothing."""
        state = self.state
        # the largest first: they are the hardest to place
        size = np.maximum.reduce(
            state.inst_demand.take(members, axis=0) * state.inv_limit.take(
                state.inst_host.take(members), axis=0), axis=1)
        done = []
        for i in members[(-size).argsort(kind='stable')].tolist():
            if i in self._no_direct:
                dest = -1
            else:
                dest, tier = state.choose_destination(i)
            if dest >= 0:
                done.append(self._move(i, dest, tier=tier))
                continue
            self._no_direct.add(i)
            chain = (self._make_room(i, self.depth, {int(state.inst_host[i])})
                     if chains else None)
            if chain is None:
                if chains:
                    self._no_chain.add(i)
                    self._note_swap(i)
                self._rollback(done)
                return None
            done.extend(chain)
            # a make-room move frees space: known failures may fit now
            self._no_direct.clear()
            self._no_chain.clear()
            self._forget_room_notes()
        return done

    def _forget_room_notes(self):
        """Drop what one hot host's search learnt of where room is not."""
        self._opens.clear()
        self._chain_no_direct.clear()
        self._chain_failed.clear()

    def _move(self, i, dest, for_instance=None, tier=None):
        """Apply one move; remember what the reason will need."""
        state = self.state
        target_before = state.load(dest)
        # said in the reason: the destination was judged on its guests'
        # recent peak, not only on the load now shown beside it
        peak = state.peak_note(i, dest)
        src = state.apply(i, dest)
        return _Move(i, src, dest, for_instance, target_before,
                     state.load(dest), tier, peak)

    def _redo(self, undone):
        """Apply again, in order, moves :meth:`_rollback` undid."""
        return [self._move(m.instance, m.target, m.for_instance, m.tier)
                for m in undone]

    def _rollback(self, done):
        for move in reversed(done):
            self.state.undo(move.instance, move.source)

    def _make_room(self, i, depth, used):
        """Moves that place ``i`` after making room for it, or None.

        Applied to the state, in the order they run (the deepest make-room
        move first, ``i``'s own last); None leaves the state as it was.
        Moving one guest ``j`` off a host ``d`` must let ``i`` go there;
        ``j`` goes to a host with room, or (``depth`` > 1) gets room made
        for it the same way. ``used``: hosts already in the chain (the
        hot host, hosts room is being made on), not used again.
        """
        state = self.state
        options = self._room_options(i, used)
        if depth < self.depth:
            # a level below the first: its few cheapest options only
            options = options[:DEEP_CHAIN_OPTIONS]
        for _cost, j, d in options:
            if self._chain_left <= 0:
                return None
            self._chain_left -= 1
            done = None
            j_dest = -1
            if j not in self._chain_no_direct:
                j_dest, j_tier = state.choose_destination(j)
                if j_dest < 0:
                    self._chain_no_direct.add(j)
            if j_dest >= 0 and j_dest not in used:
                done = [self._move(j, j_dest, for_instance=i, tier=j_tier)]
            elif (depth > 1 and j not in self._no_chain
                  and self._chain_failed.get(j, 0) < depth - 1):
                done = self._make_room(j, depth - 1, used | {d})
                if done is None:
                    self._chain_failed[j] = depth - 1
                else:
                    # j's own move makes room for i
                    done[-1] = done[-1]._replace(for_instance=i)
            if done is None:
                continue
            # checked on the state the moves before leave (a guest's
            # recent peak may take back part of what it freed)
            if state.feasible(i, np.array([d], dtype=np.int64)).size:
                done.append(self._move(i, d, tier=TIER_CHAIN))
                return done
            self._rollback(done)
        return None

    def _room_options(self, i, used):
        """[(cost, j, d)], cheapest first: j off d would let i go there."""
        costs, js, ds = self._room_arrays(i, used)
        return list(zip(costs.tolist(), js.tolist(), ds.tolist()))

    def _room_arrays(self, i, used):
        """:meth:`_room_options` as arrays (costs, guests j, hosts d).

        In arrays because the reason text asks it of every candidate of
        every host proven unrelievable (:meth:`_note_swap`): on a cluster
        over capacity (PlanetLab 20110403, 150 hosts, balloon off) its
        loop over the guests of 16 hosts was 13 s of a 22 s day.
        """
        state = self.state
        hosts = state.index.chain_hosts(i)
        if used and hosts.size:
            hosts = hosts[~np.isin(hosts, list(used))]
        if hosts.size == 0:
            return _NO_ROOM_OPTIONS
        deficit = np.maximum(state.inst_size[i] - state.room[hosts], 0.0)
        # smallest normalised deficit first: cheapest to clear
        scale = np.concatenate([state.inv_limit[hosts], 1.0 / np.maximum(
            state.alloc_limit[hosts], 1.0)], axis=1)
        gap = (deficit * scale).sum(axis=1)
        if gap.size > CHAIN_HOSTS:
            first = np.argpartition(gap, CHAIN_HOSTS)[:CHAIN_HOSTS]
            order = first[np.argsort(gap[first], kind='stable')]
        else:
            order = np.argsort(gap, kind='stable')
        members = [state.members(int(d)) for d in hosts[order].tolist()]
        counts = [len(m) for m in members]
        if not sum(counts):
            return _NO_ROOM_OPTIONS
        js = np.fromiter(itertools.chain.from_iterable(members),
                         dtype=np.int64, count=sum(counts))
        ds = np.repeat(hosts[order], counts)
        # j can move, and its leaving clears d's deficit for i
        ok = (state.movable[js] & ~state.moved[js] & np.logical_and.reduce(
            state.inst_size[js] >= np.repeat(deficit[order], counts, axis=0)
            - EPS, axis=1))
        js, ds = js[ok], ds[ok]
        costs = state.inst_cost[js]
        # cheapest first, then by guest: the order sorted() gave the tuples
        by = np.lexsort((ds, js, costs))
        return costs[by], js[by], ds[by]

    def _note_swap(self, i):
        """Remember a swap that would place ``i``, for the reason text.

        A guest ``j`` on a host ``d`` whose leaving lets ``i`` go there,
        and that would itself fit on ``i``'s host once ``i`` left: the
        two moves wait for each other, a cycle live migration cannot run
        without a third host with room.
        """
        state = self.state
        h = int(state.inst_host[i])
        if h in self._swaps:
            return
        room_h = state.room[h] + state.inst_size[i]
        _costs, js, ds = self._room_arrays(i, {h})
        fit = np.logical_and.reduce(state.inst_size[js] <= room_h + EPS,
                                    axis=1)
        only_h = np.array([h], dtype=np.int64)
        for j, d in zip(js[fit].tolist(), ds[fit].tolist()):
            if state.rule_filter(j, only_h).size:
                self._swaps[h] = (i, j, d)
                return

    def _swap_reason(self, h):
        """'; ...' when a swap would have relieved ``h``, else ''."""
        swap = self._swaps.get(h)
        if swap is None:
            return ''
        i, j, d = swap
        inst, names = self.state.model.instances.names, \
            self.state.model.hosts.names
        return ('; a swap would fit (%s to %s, %s from there to %s), but '
                'live migration cannot swap two guests without a third host '
                'with room' % (inst[i], names[d], inst[j], names[h]))

    def _greedy(self, cands, dem, need, budget):
        """Add instances by excess covered until ``h`` is cool."""
        state = self.state
        done = []
        remaining = need.copy()
        left = list(range(cands.size))
        while (remaining > EPS).any() and len(done) < budget and left:
            # the instance covering most of what is left first: fewest
            # migrations is the search's first aim, memory its second
            # (covered per MiB sent took 8 moves where 5 did, on a
            # 95 %-allocated bench cluster)
            value = np.minimum(dem.take(left, axis=0)
                               / np.maximum(remaining, EPS),
                               1.0)[:, remaining > EPS].sum(axis=1)
            placed = False
            for pos in np.argsort(-value, kind='stable'):
                i = int(cands[left[pos]])
                if i in self._no_direct:
                    continue
                dest, tier = state.choose_destination(i)
                if dest < 0:
                    self._no_direct.add(i)
                    continue
                done.append(self._move(i, dest, tier=tier))
                remaining = remaining - dem[left[pos]]
                del left[pos]
                placed = True
                break
            if not placed:
                break
        if (remaining > EPS).any():
            self._rollback(done)
            return None
        return done

    def _cheapen(self, cands, dem, need, done):
        """``done``, a greedy relief, made cheaper at the same size.

        The greedy takes the instance covering most of what is left,
        blind to what moving it costs (fewest migrations first), and the
        exhaustive search that weighs cost stops at ``max_subset_size``.
        So each member, dearest first, is swapped for the cheapest
        non-member that keeps the excess covered and has a destination
        (PlanetLab 20110409, 100 hosts: a six-instance relief moved an
        11.3 GiB guest where a 2.0 GiB one did as well; memory moved 1.11x
        the exact optimum's, at the same count). Pass after pass, until
        one swaps nothing (20110412, 200 hosts: swapping a 1.5 GiB guest
        for a 0.8 GiB one that covers more let a 21.1 GiB one go in the
        next pass). Applied to the state as ``done`` was; at most
        :data:`CHEAPEN_TRIES` placements tried.
        """
        state = self.state
        pos = {int(c): p for p, c in enumerate(cands.tolist())}
        chosen = [pos[m.instance] for m in done]
        cost = state.inst_cost.take(cands)
        covered = dem.take(chosen, axis=0).sum(axis=0)
        opened = _hosts_opened(done)
        tries = CHEAPEN_TRIES
        # passes until one swaps nothing: a swap may open the next (a
        # cheaper member covers more, so a dearer one can go)
        swapped_any = True
        while swapped_any:
            swapped_any = False
            for p in sorted(chosen, key=lambda c: -cost[c]):
                outside = np.setdiff1d(np.arange(cands.size), chosen)
                outside = outside[cost[outside] < cost[p] - EPS]
                if not outside.size:
                    continue
                rest = covered - dem[p]
                fits = np.logical_and.reduce(
                    rest + dem.take(outside, axis=0) >= need - EPS, axis=1)
                for q in outside[fits][np.argsort(cost[outside[fits]],
                                                  kind='stable')].tolist():
                    if tries <= 0:
                        return done
                    i = int(cands[q])
                    if i in self._no_direct:
                        continue
                    tries -= 1
                    self._rollback(done)
                    members = [m.instance for m in done
                               if m.instance != int(cands[p])] + [i]
                    swapped = self._place_in_order(members)
                    if swapped is not None and (
                            not self._pack
                            or opened >= _hosts_opened(swapped)):
                        done = swapped
                        chosen = [c for c in chosen if c != p] + [q]
                        covered = rest + dem[q]
                        opened = _hosts_opened(done)
                        swapped_any = True
                        break
                    if swapped is not None:
                        self._rollback(swapped)
                    done = self._redo(done)
        return done

    def _place_in_order(self, members):
        """Direct moves of ``members`` in this order; all or None."""
        done = []
        for i in members:
            dest, tier = self.state.choose_destination(i)
            if dest < 0:
                self._rollback(done)
                return None
            done.append(self._move(i, dest, tier=tier))
        return done

    # -- reasons

    def _describe(self, h, hot_r, before, done, margin, partial=None,
                  trend=False):
        """Migrations of ``done`` with their reasons.

        :param partial: what a partial relief achieved (None: relieved to
            the ceiling with ``margin``, else to the threshold)
        :param trend: relieved further for its rising trend
        """
        state = self.state
        names = self.state.model.hosts.names
        inst_names = self.state.model.instances.names
        after = state.load(h).tolist()
        before = before.tolist()
        limits = state.thresholds[h].tolist()
        hot_text = ', '.join(
            '%s %.2f > %.2f -> %.2f' % (
                cluster.RESOURCES[r], before[r], limits[r], after[r])
            for r in hot_r.tolist())
        if partial:
            hot_text += '; ' + partial
        elif trend:
            extra = state.trend_extra[h] * state.inv_capacity[h]
            hot_text += ('; relieved to threshold - %.2f - its rising '
                         'trend over %d s (%s)' % (
                             state.rules.margin,
                             state.conf.drs_balancer.relief_trend_horizon,
                             ', '.join('%s %.2f' % (cluster.RESOURCES[r],
                                                    extra[r])
                                       for r in hot_r.tolist()
                                       if extra[r] > 0.005) or '< 0.01'))
        elif margin and state.rules.margin > 0:
            hot_text += '; relieved to threshold - %.2f' % state.rules.margin
        elif state.rules.margin > 0:
            hot_text += ('; relieved to its threshold only (no room to '
                         'reach threshold - %.2f)' % state.rules.margin)
        policy = self._policy
        tracked = self._tracked
        moves = []
        for move in done:
            shown = tracked.get(move.target)
            if shown is None:
                shown = tracked[move.target] = np.flatnonzero(
                    state.capacity[move.target] > 0).tolist()
            target_text = _load_changes(move.target_before,
                                        move.target_after, shown)
            chosen = '; destination policy %s: %s' % (policy, move.tier) \
                if move.tier else ''
            chosen += move.peak
            if move.for_instance is None:
                reason = ('hotspot on %s (%s) after %d migration(s); '
                          'target %s: %s%s' % (
                              names[h], hot_text, len(done),
                              names[move.target], target_text, chosen))
            else:
                reason = ('make room on %s for %s leaving hotspot %s; '
                          'target %s: %s%s' % (
                              names[move.source],
                              inst_names[move.for_instance], names[h],
                              names[move.target], target_text, chosen))
            transfer = float(state.inst_transfer[move.instance])
            moves.append(plan_mod.Migration(
                instance=inst_names[move.instance],
                source=names[move.source], target=names[move.target],
                reason=reason, transfer_mb=transfer,
                duration_s=transfer / state.bandwidth))
        return moves


class HotspotStrategy(strategies.Strategy):
    """Remove hotspots with the fewest migrations, then least memory.

    See the module documentation.
    """

    def plan(self, model):
        started = time.perf_counter()
        state = placement.PlacementState(model, self.conf, self.thresholds)
        result = plan_mod.Plan(self.name or 'hotspot')
        HotspotResolver(state, self.conf).resolve_all(result)
        finish(result, state)
        result.decision_s = time.perf_counter() - started
        return result


def finish(result, state):
    """Name the hosts left hot (and why), and those cooling."""
    names = state.model.hosts.names
    result.unresolved = [names[h] for h in np.flatnonzero(state.hot_mask())]
    result.cooling = [names[h] for h in np.flatnonzero(state.cooling_mask())]
    reasons = result.unresolved_reasons
    still = set(result.unresolved)
    for host in list(reasons):
        if host not in still:
            del reasons[host]
    for host in result.unresolved:
        reasons.setdefault(host, 'not planned')
