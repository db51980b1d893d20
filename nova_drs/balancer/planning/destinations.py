# SPDX-License-Identifier: Apache-2.0
"""Where an instance goes: the destination rules and their index.

*Rules* (:class:`Rules`, from ``[drs_balancer]``). Every destination must
end at or below its *ceiling*: each threshold minus ``relief_margin``
(hysteresis: a destination filled up to its threshold is hot again at the
next busy minute). Among the hosts that may receive an instance:

``pack`` (default)
    1. hosts already running guests whose load after the move stays at
       or below the *comfort level* (each threshold minus
       ``destination_headroom``, never above the ceiling), best fit: the
       one left with the least room, so that the large free slots stay
       for large guests and empty hosts stay empty;
    2. else a host running no guest (it has to be powered on);
    3. else a host above its comfort level but under its ceiling, the
       least loaded after the move.
``spread``
    the host whose highest load after the move is lowest (empty hosts
    first): the rule of earlier releases.

A destination's "load after the move" is its guests' recent peak (see
``destination_peak_window`` in :mod:`.placement`) plus what moves in;
the rooms the index sorts by already count it.

*Index.* Scanning every host for every tentative move makes planning
quadratic in the hosts of a region. :class:`Index` keeps, per partition
of hosts a move may stay in (availability zone, aggregates), the hosts
sorted by their room on each resource (vCPU and flavor memory allocation,
CPU and memory load). A query looks up, with a binary search per
resource, how many hosts have room enough on that resource, scans the
shortest of those suffixes in growing chunks with vectorised checks of
every rule, and scores the feasible hosts of the first chunk that has
any. The order is built once and not kept sorted: a destination's room
only shrinks while a plan is built (an undone move gives back exactly
what it took), so a host's room is never above its key and the suffix
always holds every host that fits. Hosts whose room grew (hosts cooled
earlier in the plan, reused as destinations) are checked on the side,
and the order is rebuilt when enough keys went stale.
"""

import bisect
import dataclasses

import numpy as np

from nova_drs.model import cluster

EPS = 1e-9

PACK = 'pack'
SPREAD = 'spread'

#: tiers of a destination, as the reason text names them
TIER_FIT = 'best fit under the comfort level'
TIER_EMPTY = 'a host running no guest (no host running guests has room ' \
             'under its comfort level)'
TIER_WARM = 'least loaded above its comfort level (no host running ' \
            'guests or empty has room under it)'
TIER_SPREAD = 'least loaded after the move'

#: first chunk of hosts checked per query; it doubles up to MAX_CHUNK
CHUNK = 32
MAX_CHUNK = 4096
#: what _most_selective answers when no host has room for a resource
NO_ROOM = object()
#: the order is rebuilt after this many stale keys (share of its hosts)
STALE_SHARE = 0.05
#: a proof checks every host with room on one resource when so few
EXACT_PROOF_HOSTS = 256
#: moves after which the upper bound of every resource's room is taken
#: again (it only ever overestimates: a stale one proves less)
MAX_ROOM_EVERY = 1024
#: hosts on each side of the need looked at for a make-room move
CHAIN_WINDOW = 512


@dataclasses.dataclass(frozen=True)
class Rules:
    """How destinations are chosen and how far a hot host is relieved."""

    policy: str = PACK
    #: share of capacity below each threshold: the comfort level
    headroom: float = 0.30
    #: share of capacity below each threshold: relief target and ceiling
    margin: float = 0.05
    #: the comfort level's headroom for memory, when it differs (None:
    #: ``headroom``)
    memory_headroom: float = None

    @classmethod
    def from_conf(cls, conf):
        opts = conf.drs_balancer
        return cls(policy=opts.destination_policy,
                   headroom=opts.destination_headroom,
                   margin=opts.relief_margin,
                   memory_headroom=opts.destination_memory_headroom)

    @property
    def comfort_share(self):
        """The comfort level's headroom; never above the ceiling."""
        return max(self.headroom, self.margin)

    @property
    def comfort_shares(self):
        """Per resource (the model's order), as :attr:`comfort_share`."""
        shares = np.full(len(cluster.RESOURCES), self.comfort_share)
        if self.memory_headroom is not None:
            shares[cluster.MEMORY] = max(self.memory_headroom, self.margin)
        return shares

    def describe(self):
        if self.policy == SPREAD:
            return 'spread'
        text = 'pack (comfort level: thresholds - %.2f' % self.comfort_share
        if self.memory_headroom is not None:
            text += ', memory - %.2f' % self.comfort_shares[cluster.MEMORY]
        return text + ')'


class _Order:
    """Hosts sorted by a stale key, ascending."""

    def __init__(self, hosts, keys):
        order = keys.argsort(kind='stable')
        self.hosts = hosts[order]
        self.keys = keys[order]
        self._key_list = None

    def first_at_least(self, value):
        """Position of the first key >= ``value`` (``searchsorted``).

        A binary search on a list of Python floats: a query makes a few
        per resource, and numpy's call overhead on one scalar is several
        times the search itself. Keys with a NaN (never expected) keep
        numpy's ordering.
        """
        keys = self._key_list
        if keys is None:
            if np.isnan(self.keys).any():
                return int(self.keys.searchsorted(value))
            keys = self._key_list = self.keys.tolist()
        return bisect.bisect_left(keys, value)


class _Partition:
    """The pool hosts a move from one zone/aggregate set may go to.

    ``active``: hosts running guests; ``empty``: hosts running none.
    Hosts opened during the plan (an empty host that received) are
    ``opened`` until the next rebuild moves them to ``active``.
    """

    def __init__(self, key, hosts, guests):
        #: (zone, aggregates) or None where the rule is off
        self.key = key
        self.active = hosts[guests[hosts] > 0]
        self.empty = hosts[guests[hosts] == 0]
        self.opened = np.zeros(0, dtype=np.int64)
        self.orders = {}
        self.stale = 0

    def rebuild(self, guests, extra=None):
        """Sort again; ``extra``: hosts to add (reused, in this partition)."""
        hosts = [self.active, self.empty]
        if extra is not None and extra.size:
            hosts.append(extra)
        self.__init__(self.key, np.unique(np.concatenate(hosts)), guests)


class Index:
    """Best destination of an instance without scanning every host.

    :param state: the
    :class:`~nova_drs.balancer.planning.placement.PlacementState`
        whose arrays it reads (always the current values)
    """

    def __init__(self, state):
        self.state = state
        self._parts = {}
        # hosts reused as destinations (cooled earlier in the plan): not
        # in the orders, checked on the side
        self.extra = np.zeros(0, dtype=np.int64)
        # the same as a set (membership is asked once per reused host)
        self._extra_set = set()
        # every order's keys: each host's room when the orders were built
        self._keys = None
        # pool hosts whose room grew past their key (a source of a
        # make-room move, an undone move after a rebuild): on the side
        self.raised = []
        self.stale = 0
        self._side_cache = None
        self._min_need = None
        self._max_room = None
        self._max_room_at = 0

    # -- partitions and orders

    def _key(self, source):
        s = self.state
        hosts = s.model.hosts
        return (int(hosts.availability_zone[source]) if s.same_az else None,
                int(hosts.aggregates[source]) if s.same_aggregates
                else None)

    def _in_partition(self, key, hosts):
        model_hosts = self.state.model.hosts
        if key[0] is not None:
            hosts = hosts[model_hosts.availability_zone.take(hosts) == key[0]]
        if key[1] is not None:
            hosts = hosts[model_hosts.aggregates.take(hosts) == key[1]]
        return hosts

    def _partition(self, source):
        key = self._key(source)
        part = self._parts.get(key)
        if part is None:
            s = self.state
            mask = np.ones(s.pool.size, dtype=bool)
            if key[0] is not None:
                mask &= s.pool_zone == key[0]
            if key[1] is not None:
                mask &= s.pool_aggregates == key[1]
            hosts = s.pool[mask]
            reused = self._in_partition(key, np.flatnonzero(s.reused))
            if reused.size:
                hosts = np.unique(np.concatenate([hosts, reused]))
            part = _Partition(key, hosts, s.guests)
            self._parts[key] = part
        return part

    def _rooms(self):
        """Current room of every host: 4 load columns, 2 allocation."""
        return self.state.room.copy()

    def _order(self, part, which, column, comfort):
        key = (which, column, comfort and column < 4)
        order = part.orders.get(key)
        if order is None:
            if self._keys is None:
                self._keys = self._rooms()
                # what a room must exceed to be raised (see moved)
                self._raise_at = self._keys + EPS
            hosts = getattr(part, which)
            keys = self._keys[hosts, column]
            if key[2]:
                # the comfort gap is fixed per host: same invariant
                keys = keys - self.state.comfort_gap[hosts, column]
            order = _Order(hosts, keys)
            part.orders[key] = order
        return order

    def _rebuild(self):
        s = self.state
        for key, part in self._parts.items():
            part.rebuild(s.guests, self._in_partition(key, self.extra))
        # reused hosts are in the orders now
        self.extra = np.zeros(0, dtype=np.int64)
        self._extra_set = set()
        self._keys = None
        self.raised = []
        self.stale = 0
        self._side_cache = None

    def moved(self, src, dest):
        """A move (or an undo) changed the room of ``src`` and ``dest``."""
        s = self.state
        self.stale += 1
        if self._keys is not None:
            for h in (src, dest):
                if (s.receivable[h]
                        and np.logical_or.reduce(
                            s.room[h] > self._raise_at[h])
                        and h not in self.raised):
                    self.raised.append(h)
                    self._side_cache = None
        if self._max_room is not None:
            # keep it an upper bound: a host whose room grew raises it
            for h in (src, dest):
                if s.receivable[h]:
                    np.maximum(self._max_room, s.room[h],
                               out=self._max_room)
        opened = 0
        first_guest = s.guests[dest] == 1
        for part in self._parts.values():
            if first_guest and dest not in part.opened:
                pos = np.searchsorted(part.empty, dest)
                if pos < part.empty.size and part.empty[pos] == dest:
                    part.opened = np.concatenate(
                        (part.opened, np.array([dest], dtype=np.int64)))
                    self._side_cache = None
            opened = max(opened, part.opened.size)
        size = s.pool.size
        if (self.stale > max(256, STALE_SHARE * size)
                or opened > 128
                or len(self.raised) > 128 or self.extra.size > 128):
            self._rebuild()

    def grew(self, host):
        """``host`` may receive now and has more room than any key."""
        if host not in self._extra_set:
            self._extra_set.add(int(host))
            self.extra = np.concatenate(
                (self.extra, np.array([host], dtype=np.int64)))
            if self._max_room is not None:
                np.maximum(self._max_room, self.state.room[host],
                           out=self._max_room)
            self._side_cache = None

    # -- queries

    def _most_selective(self, part, which, need, comfort):
        """The resource fewest hosts have room for.

        :returns: (hosts with room, first such position, its order);
            None when nothing is needed; NO_ROOM when no host has room
            for one of the resources
        """
        best = None
        for column, value in enumerate(need.tolist()):
            if value <= EPS:
                continue
            order = self._order(part, which, column, comfort)
            pos = order.first_at_least(value - EPS)
            left = order.keys.size - pos
            if left == 0:
                return NO_ROOM
            if best is None or left < best[0]:
                best = (left, pos, order)
        return best

    def _suffix(self, part, which, need, comfort):
        """Chunks of the shortest suffix of hosts with room enough."""
        best = self._most_selective(part, which, need, comfort)
        if best is NO_ROOM:
            return
        if best is None:
            hosts = getattr(part, which)
            pos = 0
        else:
            _left, pos, order = best
            hosts = order.hosts
        chunk = CHUNK
        while pos < hosts.size:
            yield hosts[pos:pos + chunk]
            pos += chunk
            chunk = min(chunk * 2, MAX_CHUNK)

    def _reverse(self, part, which, need):
        """Chunks of hosts, the most room on the selective resource first."""
        best = self._most_selective(part, which, need, False)
        if best is NO_ROOM:
            return
        if best is None:
            hosts, pos = getattr(part, which)[::-1], 0
            end = hosts.size
        else:
            _left, pos, order = best
            hosts, end = order.hosts, order.hosts.size
        chunk = CHUNK
        while end > pos:
            yield hosts[max(pos, end - chunk):end]
            end -= chunk
            chunk = min(chunk * 2, MAX_CHUNK)

    def choose(self, i, source=None):
        """(host, tier) for instance ``i``, or (-1, None)."""
        s = self.state
        source = int(s.inst_host[i]) if source is None else source
        part = self._partition(source)
        need = s.inst_size[i]
        if s.rules.policy == SPREAD:
            return self._choose_spread(i, part, need)
        return self._choose_pack(i, part, need)

    def _first(self, i, chunks, comfort, pick, want=None, side=None):
        """The best host of ``side`` and the first chunk with a feasible one.

        ``side``: feasible hosts found outside the orders (reused, opened,
        raised), always considered.
        """
        s = self.state
        found = [side] if side is not None and side.size else []
        for hosts in chunks:
            ok = s.feasible(i, hosts, comfort, same_partition=True,
                            receivable=True)
            if want is not None and ok.size:
                ok = ok[want(ok)]
            if ok.size:
                found.append(ok)
                break
        if not found:
            return -1
        return pick(i, np.concatenate(found) if len(found) > 1
                    else found[0])

    def _side(self, part):
        """Hosts outside the orders: reused, opened, raised.

        Only those of ``part`` (zone and aggregates), so that the checks
        of a side host need not test the zone again.
        """
        cache = self._side_cache
        if cache is not None and cache[0] is part:
            return cache[1]
        side = [h for h in (self.extra, part.opened) if h.size]
        if self.raised:
            side.append(np.array(self.raised, dtype=np.int64))
        side = (self._in_partition(part.key, np.concatenate(side)) if side
                else None)
        if side is not None and not side.size:
            side = None
        self._side_cache = (part, side)
        return side

    def _side_feasible(self, i, part):
        """Side hosts that may receive ``i`` (under the ceiling), or None."""
        side = self._side(part)
        if side is None:
            return None
        ok = self.state.feasible(i, side, same_partition=True,
                                 receivable=True)
        return ok if ok.size else None

    def _choose_pack(self, i, part, need):
        s = self.state
        side = self._side_feasible(i, part)
        side_fit = side_empty = None
        if side is not None:
            guests = s.guests.take(side)
            fit = np.logical_and.reduce(
                s.room_comfort.take(side, axis=0) >= s.inst_need[i], axis=1)
            side_fit = side[(guests > 0) & fit]
            side_empty = side[guests == 0]
            side = side[guests > 0]

        def active(hosts):
            return s.guests.take(hosts) > 0

        def empty(hosts):
            return s.guests.take(hosts) == 0

        # 1. hosts running guests, under the comfort level, best fit
        best = self._first(i, self._suffix(part, 'active', need, True), True,
                           s.best_fit, want=active, side=side_fit)
        if best >= 0:
            return best, TIER_FIT
        # 2. a host running no guest
        best = self._first(i, self._suffix(part, 'empty', need, False),
                           False, s.best_fit, want=empty, side=side_empty)
        if best >= 0:
            return best, TIER_EMPTY
        # 3. above the comfort level, under the ceiling: least loaded
        best = self._first(i, self._reverse(part, 'active', need), False,
                           s.least_loaded, want=active, side=side)
        if best >= 0:
            return best, TIER_WARM
        return -1, None

    def _choose_spread(self, i, part, need):
        s = self.state
        side = self._side_feasible(i, part)
        side_empty = None if side is None else side[s.guests[side] == 0]
        best = self._first(i, self._suffix(part, 'empty', need, False),
                           False, s.least_loaded,
                           want=lambda hosts: s.guests[hosts] == 0,
                           side=side_empty)
        if best < 0:
            best = self._first(i, self._reverse(part, 'active', need),
                               False, s.least_loaded, side=side)
        if best >= 0:
            return best, TIER_SPREAD
        return -1, None

    def chain_hosts(self, i):
        """Hosts running guests that might take ``i`` if one left.

        The pool hosts of ``i``'s partition that run guests, and those on
        the side; rules apply, room does not. Hosts that had no room on
        some resource when planning began are not considered (a make-room
        move would have to free a whole guest's worth first).
        """
        s = self.state
        part = self._partition(int(s.inst_host[i]))
        hosts = part.active
        if hosts.size > CHAIN_WINDOW:
            # the hosts just short of room on the most selective resource
            # have the smallest deficits: a window of them, not all
            need = s.inst_size[i]
            best = None
            for column, value in enumerate(need.tolist()):
                if value <= EPS:
                    continue
                order = self._order(part, 'active', column, False)
                pos = order.first_at_least(value - EPS)
                if best is None or order.keys.size - pos < best[0]:
                    best = (order.keys.size - pos, pos, order)
            if best is not None:
                _left, pos, order = best
                hosts = order.hosts[max(0, pos - CHAIN_WINDOW):
                                    pos + CHAIN_WINDOW]
        side = self._side(part)
        if side is not None:
            hosts = np.concatenate([hosts, side])
        ok = s.receivable[hosts] & (hosts != s.inst_host[i])
        if s.max_in < s.max_out_unbounded:
            ok &= s.moves_in[hosts] < s.max_in
        hosts = hosts[ok]
        if hosts.size:
            hosts = s.rule_filter(i, hosts)
        return hosts

    # -- proofs

    def no_room(self, i):
        """The column on which no host has room for ``i``, or None.

        None means some host might take it (not a proof that one does).
        Exact when the hosts with room on the most selective column are
        few; otherwise a single column has to rule every host out.
        """
        s = self.state
        part = self._partition(int(s.inst_host[i]))
        side = self._side(part)
        if (side is not None
                and s.feasible(i, side, same_partition=True,
                               receivable=True).size):
            return None
        need = s.inst_size[i]
        best = None
        for column, value in enumerate(need.tolist()):
            if value <= EPS:
                continue
            left = []
            for which in ('active', 'empty'):
                order = self._order(part, which, column, False)
                pos = order.first_at_least(value - EPS)
                left.append(order.hosts[pos:])
            count = left[0].size + left[1].size
            if count == 0:
                return column
            if best is None or count < best[0]:
                best = (count, column, left)
        if best is None:
            return None
        count, column, left = best
        if count <= EXACT_PROOF_HOSTS:
            hosts = np.concatenate(left)
            if not s.feasible(i, hosts).size:
                return column
        return None

    def might_fit(self, instances):
        """Per instance: False when no host has room for it (a proof).

        One comparison with an upper bound of each resource's room over
        every host that may receive.
        """
        self._refresh_max_room()
        return (self.state.inst_need[instances]
                <= self._max_room).all(axis=1)

    def refresh_bounds(self):
        """Take the upper bound of the room again when it is due.

        Only :meth:`might_fit` and :meth:`nothing_moves` read it; a caller
        that skips them calls this where it would have, so that the
        bound, and what the proofs prove, do not depend on that.
        """
        self._refresh_max_room()

    def _refresh_max_room(self):
        s = self.state
        if (self._max_room is None
                or abs(s.n_moves - self._max_room_at) >= MAX_ROOM_EVERY):
            hosts = s.pool[s.receivable[s.pool]]
            if s.n_reused:
                hosts = np.concatenate([hosts, np.flatnonzero(s.reused)])
            if hosts.size == 0:
                self._max_room = np.full(s.room.shape[1], -np.inf)
            else:
                self._max_room = s.room[hosts].max(axis=0)
            self._max_room_at = s.n_moves

    def nothing_moves(self):
        """True when not even the smallest movable instance fits anywhere.

        Then no make-room move exists either. The maximum room is kept an
        upper bound (raised when a host's room grows) and taken again
        every :data:`MAX_ROOM_EVERY` moves.
        """
        s = self.state
        if self._min_need is None:
            movable = s.movable
            if not movable.any():
                return True
            need = np.concatenate([s.inst_demand[movable],
                                   s.inst_alloc[movable]], axis=1)
            self._min_need = need.min(axis=0)
        self._refresh_max_room()
        return bool((self._min_need > self._max_room + EPS).any())
