# SPDX-License-Identifier: Apache-2.0
"""The ``adaptive`` balloon policy (the default).

*Guests first.* Every cycle, each guest with a balloon and statistics is
checked for memory pressure: usable memory (the guest's MemAvailable)
below half its margin, major faults above ``major_fault_rate``, any
swap-in, or usable memory falling faster than ``pressure_drop_rate`` of
its flavor memory per second since its last sample, or by more than its
whole margin (not counting what a balloon change took or gave). A guest
under pressure is never shrunk; it grows at once by its shortfall
(enough to have twice its headroom usable beyond what it uses, what it
swapped in included) and at least ``grow_step`` of its flavor memory, up
to the flavor memory.
A guest whose usable memory is merely below its margin grows back to
its headroom (below).

*Headroom for the next rise.* A guest must have, when its balloon is
set, the memory it will use until the next cycle: at a long agent
interval its demand can rise by a large share of its flavor between two
samples. Its *headroom* is the largest rise of its demand seen between
two samples over the last ``rise_window_s`` seconds, never less than its
margin; it is not shrunk below its demand plus its headroom, and only a
fall of usable memory beyond its headroom is pressure by amount (a rise
it has made before is expected, and covered). Rises are kept per square
root of the seconds between the samples and scaled to the agent
interval, so that an estimate made at another interval (before a
restart, with the state file, or on the host a guest was live-migrated
from, with its domain metadata) counts for what it would be here.
A guest that needed memory is not shrunk again for the next
``shrink_holdoff_s`` seconds, even if it looks idle: its usable memory
rose only because it was just given some, and shrinking it back while it
is still allocating would make its balloon flap.

*Floors follow demand.* Each guest's demand (balloon size less usable
memory, plus what it swapped in) is tracked over the last
``demand_window_s`` seconds (:mod:`nova_drs.balloon.demand`); its floor is
that peak plus its margin, and never below the flat ``floor`` share of
its flavor memory, the lower safety bound. A per-instance metadata floor
wins over both. ``demand_window_s = 0`` turns this off: the flat share is
then the floor, as before. The demand floors give way when the host
nears pressure: with less than ``demand_floor_yield`` (half) of its
``host_free_target`` available and a shortfall the idle guests' memory
above their demand floors cannot cover, idle guests are shrunk down to
the flat share (never below what they use plus their headroom). A guest
migrated in brings its estimate from the source host
(:mod:`nova_drs.agent.demand_carrier`, through :meth:`adopt_estimate`):
it only adds to what its own samples show here. Its rise estimate comes
with it the same way (aged, only ever raising), so that its headroom
is sized by its rises from its first cycle on the destination.

*Seconds, not cycles.* Reclaim and give-back run at ``shrink_rate`` and
``give_back_rate`` (shares of flavor memory per second), times the time
elapsed since the last cycle as read from the policy's clock (monotonic
by default; the simulator and the tests inject theirs); the elapsed time
is capped at three agent intervals so that a cycle after a long stall
(a suspended host) does not take a stall's worth at once. So the same
settings behave the same at a 5 s and a 60 s agent interval; so does
``pressure_drop_rate``, measured over the time since each guest's last
sample (not capped: a slow fall over a long stall is not pressure). The
deprecated per-cycle ``shrink_step``, ``shrink_holdoff`` and
``pressure_drop`` are converted with the agent interval when set.

*Host second.* Only while the host has less memory available than
``host_free_target`` does the policy reclaim, and only from idle guests:
memory usable beyond the guest's headroom, never taking a guest below
its floor (see *Floors follow demand*) nor below what it uses plus its
headroom, and at most ``shrink_rate`` of flavor memory per second per
guest. The shortfall is met by the fewest guests: those whose shrink
gives the host most first, each by its whole step, until they cover it
(one large change rather than a small one on every guest, which at a
long interval would be made again every cycle). A balloon inflates over
the guest's free pages first, and over those it never touched (its
balloon size less QEMU's resident memory) it gives the host nothing, so
those are taken first, at no cost to the guest, and not counted; a
guest whose room is all such memory is left alone (the change would buy
the host nothing), unless the shortage comes from outside the guests and
their backed room cannot cover it: the host's memory less MemAvailable,
less the guests' resident memory, is at least the shortfall (a process
outside the guests holds the memory; the host cannot back what they
have not touched yet, so it is capped, at no cost to them). A shortage
of the guests' own demand caps nothing: it passes as their demand
falls. Guests with free page reporting return their free
pages to the host by themselves, so the balloon is inflated on them only
after the guests without it have given what they can. When the host has
``host_free_hysteresis`` more than its target available, ballooned
guests with less than ``give_back_headroom`` times their headroom usable
get memory back at ``give_back_rate``; the others are safe as they are,
and memory given to them would fill with page cache and be taken back at
the next shortage.

*Never the OOM killer.* A shrink never leaves a guest with less usable
memory than its margin, growth is immediate, and guests whose memballoon
lacks ``autodeflate`` (deflate-on-OOM, the last line of defence) are
reported by the agent.

Guests without a balloon, without statistics, or being migrated are left
alone (action ``hold`` with the reason).
"""

import time
import types
import typing

from nova_drs import balloon
from nova_drs.balloon import demand as demand_mod

#: the [drs_balloon] options the policy reads
_OPTIONS = ('floor', 'grow_step', 'shrink_rate', 'shrink_step',
            'give_back_rate', 'shrink_holdoff_s', 'shrink_holdoff',
            'guest_margin', 'guest_margin_min_mb', 'host_free_target',
            'host_free_hysteresis', 'major_fault_rate', 'min_change_mb',
            'pressure_drop', 'pressure_drop_rate', 'demand_window_s',
            'rise_window_s', 'give_back_headroom', 'demand_floor_yield')

#: share of a shrink in flight that a guest's usable memory may lose
#: beyond it and not be under pressure (see _pressure)
INFLATE_SLACK = 0.25

#: agent interval assumed when the configuration has none (the default)
DEFAULT_INTERVAL_S = 10.0
#: a cycle counts at most this many intervals of elapsed time
MAX_ELAPSED_INTERVALS = 3.0
#: a demand rise is learned only over at most this many intervals
RISE_SPAN_INTERVALS = 1.5


class _Idle(typing.NamedTuple):
    """An idle guest the host may shrink, as :meth:`targets` found it."""

    g: balloon.GuestMemory
    #: what it can give above its floor and its headroom, MiB
    room: float
    #: the same with its demand floor given way (the flat floor), MiB
    deep: float
    #: of which never touched: gives the host nothing (_unbacked)
    unbacked: float
    #: what its shrink_rate allows it to give now, MiB
    step: float


def _read_options(group, interval_s):
    """The options' values, read once per cycle.

    An oslo.config attribute read costs about a microsecond; the policy
    reads several per guest, hundreds of guests a cycle on a dense host.
    Read once at the start of each cycle, a changed (mutable) option
    still applies from the next cycle. The deprecated per-cycle options,
    when set, replace their per-second successors, converted with the
    agent interval.
    """
    opts = types.SimpleNamespace(**{name: getattr(group, name)
                                    for name in _OPTIONS})
    if opts.shrink_step is not None:
        opts.shrink_rate = opts.shrink_step / interval_s
    if opts.shrink_holdoff is not None:
        opts.shrink_holdoff_s = opts.shrink_holdoff * interval_s
    if opts.pressure_drop is not None:
        opts.pressure_drop_rate = opts.pressure_drop / interval_s
    return opts


def agent_interval(conf):
    """The agent interval of ``conf`` (the default when not registered)."""
    try:
        return float(conf.drs_agent.interval)
    except AttributeError:  # no [drs_agent] group (NoSuchOptError)
        return DEFAULT_INTERVAL_S


class AdaptivePolicy(balloon.BalloonPolicy):
    """Reclaim idle memory when the host needs it; return it on demand.

    :param clock: monotonic seconds (``time.monotonic`` by default); the
        simulator passes its simulated time, the tests a fake.
    :param interval_s: the nominal time between two cycles (``[drs_agent]
        interval`` by default): the elapsed time of the first cycle, and
        the unit of the deprecated per-cycle options.
    """

    def __init__(self, conf, clock=None, interval_s=None):
        super().__init__(conf)
        self.clock = clock or time.monotonic
        self.interval_s = float(interval_s or agent_interval(conf))
        self._last_usable = {}
        self._needed_at = {}
        self._shrinking = {}
        #: (direction, guest) -> when its last change that way was asked
        #: for (or it became eligible): the time its rate has accrued
        self._since = {}
        self._now = None
        self._elapsed = self.interval_s
        self._opts = _read_options(conf.drs_balloon, self.interval_s)
        self.demand = demand_mod.DemandTracker(
            self._opts.demand_window_s)
        #: largest rises of demand over one cycle, MiB per sqrt(second)
        self.rises = demand_mod.DemandTracker(self._opts.rise_window_s)
        #: guest -> (demand MiB, clock s) of its last sample
        self._last_demand = {}
        self._sqrt_interval = self.interval_s ** 0.5

    def forget(self, name):
        self._last_usable.pop(name, None)
        self._needed_at.pop(name, None)
        self._shrinking.pop(name, None)
        self._since.pop(('shrink', name), None)
        self._since.pop(('grow', name), None)
        self.demand.forget(name)
        self.rises.forget(name)
        self._last_demand.pop(name, None)

    # -- saved state: the demand estimates

    def export_state(self):
        now = self.clock()
        return {'demand': self.demand.export(now),
                'rise': self.rises.export(now)}

    def restore_state(self, state, elapsed_s=0.0):
        """Restore the demand and rise estimates; the guests restored.

        A state saved before the rise estimates existed has no 'rise':
        those guests learn their rises anew.
        """
        if not isinstance(state, dict):
            return 0
        now = self.clock()
        self._sync_windows()
        self.rises.restore(state.get('rise'), now, elapsed_s)
        self.demand.restore(state.get('demand'), now, elapsed_s)
        return len(set(self.demand.names()) | set(self.rises.names()))

    # -- the estimates travelling with migrated guests

    def guest_estimate(self, name):
        """The guest's demand estimate, with its rise estimate if any.

        None without a demand estimate (``demand_window_s = 0``, or no
        sample yet). The rise (MiB per square root of a second, what
        sizes the guest's headroom, see :meth:`_headroom`) is None when
        ``rise_window_s = 0`` or none was learnt yet (one sample).
        """
        # NOTE: asked for every guest every cycle (the carrier checks
        # whether it is due): positional arguments, no keyword ones
        opts = self._opts
        if opts.demand_window_s <= 0:
            return None
        peak = self.demand.peak(name)
        if peak is None:
            return None
        now = self.clock()
        history = min(self.demand.history_s(name, now), opts.demand_window_s)
        if opts.rise_window_s > 0:
            rise = self.rises.peak(name)
            if rise is not None:
                return balloon.DemandEstimate(
                    peak, history, rise,
                    min(self.rises.history_s(name, now), opts.rise_window_s))
        return balloon.DemandEstimate(peak, history)

    def adopt_estimate(self, name, estimate, age_s):
        """Start ``name``'s history from ``estimate`` (see the base class).

        It only adds to what the guest's own samples show here: its floor
        is the larger of the two peaks plus its margin, never below the
        flat ``floor`` share, and a per-instance floor still wins; a
        guest under pressure grows at once whatever the estimate says.

        The carried rise, aged like the peak (it leaves the rise window
        when it would have on the source), seeds the rise estimate, so
        that the guest keeps the headroom its rises call for from its
        first cycle here rather than after it has risen once here; a
        guest with rises of its own keeps the larger
        (:meth:`.DemandTracker.merge`). The demand is adopted only by a
        guest without a demand history here.
        """
        self._sync_windows()
        now = self.clock()
        adopted = False
        if self._opts.demand_window_s > 0:
            adopted = self.demand.seed(name, now, estimate.peak_mb,
                                       estimate.history_s, age_s)
        rise = estimate.rise_mb_per_sqrt_s
        if rise is not None and self._opts.rise_window_s > 0:
            adopted = self.rises.merge(
                name, now, rise, estimate.rise_history_s or 0.0,
                age_s) or adopted
        return adopted

    # -- per guest figures

    def _margin(self, g):
        opts = self._opts
        return min(g.max_mb, max(opts.guest_margin * g.max_mb,
                                 opts.guest_margin_min_mb))

    def _headroom(self, g, margin):
        """What ``g`` must keep usable to last until the next cycle.

        Its margin, or more: the largest rise of its demand seen over one
        cycle within ``rise_window_s``, stored per square root of the
        seconds it took and scaled to the agent interval (a rise seen at
        another interval, before a restart with a new one or on another
        host, counts for what it would be here), at most its flavor.
        """
        if self._opts.rise_window_s <= 0:
            return margin
        rise = self.rises.peak(g.name)
        if rise is None:
            return margin
        return min(g.max_mb, max(margin, rise * self._sqrt_interval))

    def _floor(self, g, margin, demand=True):
        """The floor of ``g``; ``demand=False``: without its demand."""
        if g.floor_mb is not None:
            return min(max(g.floor_mb, 0.0), g.max_mb)
        floor = self._opts.floor * g.max_mb
        if demand and self._opts.demand_window_s > 0:
            peak = self.demand.peak(g.name)
            if peak is not None:
                floor = max(floor, min(g.max_mb, peak + margin))
        return floor

    def _pressure(self, g, margin, headroom):
        """Why ``g`` is under memory pressure, or None."""
        opts = self._opts
        if g.usable_mb < margin / 2.0:
            return 'usable %.0f MiB below half its margin' % g.usable_mb
        if opts.major_fault_rate and \
                g.major_fault_rate >= opts.major_fault_rate:
            return '%.0f major faults/s' % g.major_fault_rate
        if g.swap_in_rate > 0:
            return 'swapping in %.1f MiB/s' % g.swap_in_rate
        last = self._last_usable.get(g.name)
        if last is not None:
            # only what the guest itself consumed: shrinking its balloon
            # lowers its usable memory by as much, and is not pressure.
            # The shrink asked for last cycle counts even if actual_mb
            # does not show it yet (libvirt updates it up to a second
            # after the guest gave the memory).
            last_usable, last_actual, last_at = last
            shrinking = max(self._shrinking.get(g.name, 0.0), 0.0)
            # NOTE: while its balloon inflates, a guest's MemAvailable
            # falls by a little more than the balloon takes (the balloon
            # driver's own pages, the kernel's reserves; measured on the
            # lab's TCG guests: 17 MiB beyond a 142 MiB inflation in 2 s,
            # which the rate rule read as pressure and undid the shrink):
            # INFLATE_SLACK of the shrink in flight is not the guest's
            # doing. A guest truly short still shows it: below half its
            # margin, swapping in, or falling on at the next sample.
            explained = (max(last_actual - g.actual_mb, shrinking, 0.0)
                         + INFLATE_SLACK * shrinking)
            fell = last_usable - g.usable_mb - explained
            took_s = max(self._now - last_at, 0.0)
            if fell > opts.pressure_drop_rate * took_s * g.max_mb:
                return ('usable memory fell %.0f MiB in %.0f s'
                        % (fell, took_s))
            # NOTE: an amount, not a rate: a guest that used up more than
            # its whole margin between two samples may run short before
            # the next one, however slowly it did so. At short intervals
            # the rate decides first; at long ones (a minute or more) this
            # does, which keeps them as safe as they were with the
            # per-cycle pressure_drop.
            if fell > headroom:
                return ('usable memory fell %.0f MiB in %.0f s, more than '
                        'its headroom' % (fell, took_s))
        return None

    def _learn_rise(self, name, used, now, rise_span):
        """Record the rise of ``name``'s demand since its last sample.

        Per square root of the seconds it took (see :meth:`_headroom`).
        A fall, or a change over more than ``rise_span`` seconds (the
        guest was off, the agent stalled: no one cycle's rise), is
        recorded as 0, so that old rises still leave the window.
        """
        last = self._last_demand.get(name)
        self._last_demand[name] = (used, now)
        if last is None:
            return
        took = now - last[1]
        rise = 0.0
        if 0.0 < took <= rise_span and used > last[0]:
            rise = (used - last[0]) / took ** 0.5
        self.rises.add(name, now, rise)

    def _may_get_back(self, g, headroom):
        """Whether ``g`` is given memory back when the host has plenty.

        Only a ballooned guest with less than ``give_back_headroom`` times
        its headroom usable: one that has more is safe until its next
        sample as it is, and memory given back to it would be filled
        with page cache and shrunk again at the next shortage, two
        balloon changes for nothing (0: every ballooned guest).
        """
        if g.actual_mb >= g.max_mb:
            return False
        factor = self._opts.give_back_headroom
        return factor <= 0 or g.usable_mb < factor * headroom

    def _accrued_s(self, direction, g, rate):
        """Seconds of ``rate`` a guest has accrued for a change that way.

        The time since its last change in that direction was asked for,
        not since the last cycle: a step smaller than ``min_change_mb``
        is not sent, and the time keeps accruing until the step is worth
        sending (a small guest at a short interval would otherwise never
        change). Capped at the time elapsed since the last cycle plus,
        for a step below ``min_change_mb``, the time one such step takes:
        steps are held back only until they are worth sending, never
        released as a burst.
        """
        key = (direction, g.name)
        since = self._since.setdefault(key, self._now - self._elapsed)
        cap = self._elapsed
        if rate > 0 and g.max_mb > 0 and \
                rate * g.max_mb * self._elapsed < self._opts.min_change_mb:
            cap += self._opts.min_change_mb / (rate * g.max_mb)
        return min(max(self._now - since, 0.0), cap)

    def _restart_accrual(self, direction, name):
        self._since[(direction, name)] = self._now

    def _recently_needed(self, name):
        needed_at = self._needed_at.get(name)
        return (needed_at is not None and self._now - needed_at
                <= self._opts.shrink_holdoff_s)

    def _tick(self):
        """Read the clock: the time elapsed since the last cycle."""
        now = self.clock()
        if self._now is not None:
            self._elapsed = min(max(now - self._now, 0.0),
                                MAX_ELAPSED_INTERVALS * self.interval_s)
        self._now = now
        self._sync_windows()

    def _sync_windows(self):
        """The trackers' windows from the options (they are mutable)."""
        if self.demand.window_s != self._opts.demand_window_s:
            self.demand.window_s = float(self._opts.demand_window_s)
        if self.rises.window_s != self._opts.rise_window_s:
            self.rises.window_s = float(self._opts.rise_window_s)

    # -- the cycle

    def targets(self, host, guests):
        opts = self._opts = _read_options(self.conf.drs_balloon,
                                          self.interval_s)
        self._tick()
        now = self._now
        out = []
        idle = []
        ballooned = []
        # bound once: this loop runs for every guest of the host
        track = self.demand.add if opts.demand_window_s > 0 else None
        rises = opts.rise_window_s > 0
        # a rise over more than this is no one cycle's (the guest was
        # off, or the agent stalled): it is not learned
        rise_span = RISE_SPAN_INTERVALS * self.interval_s
        elapsed = self._elapsed
        for g in guests:
            skip = self._skip_reason(g)
            if skip:
                out.append(balloon.BalloonTarget(g.name, g.actual_mb, 'hold',
                                                 skip))
                continue
            margin = self._margin(g)
            # the headroom it had: a fall of usable memory beyond it is
            # pressure
            pressure = self._pressure(g, margin, self._headroom(g, margin))
            self._last_usable[g.name] = (g.usable_mb, g.actual_mb, now)
            used = g.actual_mb - g.usable_mb + g.swap_in_rate * elapsed
            if track is not None:
                # what it uses, and what it wanted and did not have
                track(g.name, now, used)
            if rises:
                self._learn_rise(g.name, used, now, rise_span)
            # the headroom it needs now, with the rise it just made
            headroom = self._headroom(g, margin)
            if pressure:
                self._needed_at[g.name] = now
                self._restart_accrual('shrink', g.name)
                # twice its headroom beyond what it uses, what it
                # swapped in (wanted and did not have) included
                shortfall = used + 2.0 * headroom - g.actual_mb
                grow = max(shortfall, opts.grow_step * g.max_mb)
                out.append(self._grow(g, grow, 'pressure: ' + pressure))
            elif g.usable_mb < margin:
                self._needed_at[g.name] = now
                self._restart_accrual('shrink', g.name)
                out.append(self._grow(g, headroom - g.usable_mb,
                                      'usable %.0f MiB below its margin '
                                      '%.0f: grown to its headroom %.0f'
                                      % (g.usable_mb, margin, headroom)))
            elif self._recently_needed(g.name):
                # it just needed memory: not idle yet, but it may still
                # be given memory back when the host has plenty
                self._restart_accrual('shrink', g.name)
                if self._may_get_back(g, headroom):
                    ballooned.append(g)
            else:
                keep = g.usable_mb - headroom
                room = min(keep, g.actual_mb - self._floor(g, margin))
                # the room it has if its demand floor gives way
                deep = min(keep, g.actual_mb - self._floor(g, margin,
                                                           False))
                if deep > 0:
                    idle.append(_Idle(g, room, deep, self._unbacked(g),
                                      opts.shrink_rate * g.max_mb
                                      * self._accrued_s('shrink', g,
                                                        opts.shrink_rate)))
                if self._may_get_back(g, headroom):
                    ballooned.append(g)
        handled = {t.name for t in out}
        target_free = opts.host_free_target * host.total_mb
        shortfall = target_free - host.available_mb
        if shortfall > 0:
            out.extend(self._reclaim(idle, shortfall, target_free, host))
        elif -shortfall > opts.host_free_hysteresis * host.total_mb:
            spare = -shortfall - opts.host_free_hysteresis * host.total_mb
            out.extend(self._give_back([g for g in ballooned
                                        if g.name not in handled], spare))
        actual = {g.name: g.actual_mb for g in guests}
        # time accrues only while a guest may change that way: one the
        # host did not need to shrink (or had no memory to grow) starts
        # again from now, so a quiet spell does not release a burst
        eligible = set()
        if shortfall > 0:
            eligible |= {('shrink', entry.g.name) for entry in idle}
        elif -shortfall > opts.host_free_hysteresis * host.total_mb:
            eligible |= {('grow', g.name) for g in ballooned}
        for g in guests:
            for direction in ('shrink', 'grow'):
                if (direction, g.name) not in eligible:
                    self._restart_accrual(direction, g.name)
        out = [t for t in out if t.action == 'hold'
               or abs(t.target_mb - actual[t.name]) >= opts.min_change_mb]
        for t in out:
            if t.action in ('shrink', 'grow'):
                self._restart_accrual(t.action, t.name)
        self._shrinking = {t.name: actual[t.name] - t.target_mb
                           for t in out if t.action == 'shrink'}
        return out

    @staticmethod
    def _skip_reason(g):
        if not g.has_balloon:
            return 'no balloon device'
        if g.migrating:
            return 'being migrated'
        if g.usable_mb is None:
            return 'no balloon statistics (guest driver or stats period)'
        return None

    def _grow(self, g, amount, reason):
        target = min(g.max_mb, g.actual_mb + amount)
        return balloon.BalloonTarget(g.name, target, 'grow', reason)

    @staticmethod
    def _unbacked(g):
        """Memory of ``g`` the host does not back: free, never touched.

        A balloon inflates over free pages first; over pages the guest
        never touched (its balloon size less QEMU's resident memory, at
        most its free memory) it returns nothing to the host. Unknown
        (no RSS): 0, every MiB taken counts.
        """
        if g.rss_mb is None:
            return 0.0
        unbacked = max(g.actual_mb - g.rss_mb, 0.0)
        if g.unused_mb is not None:
            unbacked = min(unbacked, g.unused_mb)
        return unbacked

    def _reclaim(self, idle, shortfall, target_free, host):
        """Meet ``shortfall`` from the fewest idle guests, non-FPR first.

        The guests whose shrink gives the host most go first, each by its
        whole step (its room, at most ``shrink_rate`` of its flavor per
        second beyond its never-touched memory), until what they give
        covers the shortfall: one large change rather than a small one on
        every guest, which at a long agent interval would be re-made at
        every cycle. A guest whose room is all never-touched memory
        gives the host nothing now: it is left alone while the others
        cover the shortfall (the change would buy nothing), and capped
        only when they cannot: a host that stays short cannot back the
        memory its guests have not touched yet, and a guest that starts
        touching it would deepen the shortage (the cap costs the guest
        nothing: it never used that memory; pressure gives it back).
        "Cannot" is structural: the shortfall exceeds all the memory the
        idle guests hold backed beyond their headroom and floor; and the
        cap applies only while the shortage comes from outside the guests
        (:meth:`_short_from_outside`: a process holding the host's
        memory), not from their own demand.

        The demand floors give way (the guests' rooms go down to their
        flat floor) when that backed room cannot cover the shortfall and
        the host has less than ``demand_floor_yield`` of its target
        available: a floor kept for a repeat of a guest's peak over the
        last hour is a comfort a host near pressure cannot afford; what
        the guest uses plus its headroom is still kept.
        """
        # NOTE: the guests' whole backed room, not this cycle's steps: a
        # shortfall their steps will cover over the next cycles is no
        # reason to go below their demand floors, nor to cap anyone's
        # untouched memory (each cap would be one more change, undone at
        # the guest's next rise)
        backed_room = sum(max(e.room - e.unbacked, 0.0) for e in idle)
        deep = (shortfall > backed_room and host.available_mb
                < self._opts.demand_floor_yield * target_free)
        # (guest, room, never-touched memory, what a shrink gives now)
        idle = [(e.g, r, e.unbacked, max(min(r - e.unbacked, e.step), 0.0))
                for e in idle
                for r in ((e.deep if deep else e.room),) if r > 0]
        if deep:
            backed_room = sum(max(room - unbacked, 0.0)
                              for _g, room, unbacked, _gain in idle)
        out = []
        need = shortfall
        for fpr in (False, True):
            # gain 0: its room is all never-touched memory (taken at no
            # cost), or its first cycle (it starts accruing)
            group = sorted((entry for entry in idle
                            if entry[0].free_page_reporting == fpr
                            and entry[3] > 0),
                           key=lambda entry: -entry[3])
            for g, room, unbacked, gain in group:
                if need <= 0:
                    break
                take = min(room, unbacked + gain)
                need -= gain
                out.append(self._shrink(g, take, host, target_free))
        if shortfall > backed_room and self._short_from_outside(
                host, shortfall):
            for g, room, unbacked, gain in idle:
                if gain <= 0 and min(room, unbacked) > 0:
                    out.append(self._shrink(g, min(room, unbacked), host,
                                            target_free))
        return out

    @staticmethod
    def _short_from_outside(host, shortfall):
        """Whether what runs outside the guests holds the host short.

        True when the memory in use outside the guests is at least the
        shortfall: the host would be out of it without that memory, or,
        the same, the memory its guests hold (QEMU's resident memory)
        fits within what the host may use while it keeps its free
        target. Then the guests giving back what they touched will not
        bring the memory back (it is not theirs), and the shortage lasts
        as long as the process outside them. When the guests' own memory
        is more than the host can hold, their demand is (part of) the
        cause: it falls as it rose, and what they touched is taken back
        as it does; capping their untouched memory would only be more
        changes, undone at their next rise. Unknown (``outside_mb``
        None): not shown to come from outside, nothing capped.
        """
        outside = host.outside_mb
        return outside is not None and outside >= shortfall

    @staticmethod
    def _shrink(g, take, host, target_free):
        return balloon.BalloonTarget(
            g.name, g.actual_mb - take, 'shrink',
            'host available %.0f MiB below target %.0f; guest keeps %.0f '
            'MiB usable' % (host.available_mb, target_free,
                            g.usable_mb - take))

    def _give_back(self, ballooned, spare):
        out = []
        for g in sorted(ballooned, key=lambda g: g.actual_mb / g.max_mb):
            if spare <= 0:
                break
            rate = self._opts.give_back_rate
            step = min(g.max_mb - g.actual_mb,
                       rate * self._accrued_s('grow', g, rate) * g.max_mb,
                       spare)
            spare -= step
            out.append(balloon.BalloonTarget(
                g.name, g.actual_mb + step, 'grow',
                'host has memory to spare: returning it'))
        return out
