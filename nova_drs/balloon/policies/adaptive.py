# SPDX-License-Identifier: Apache-2.0
"""The ``adaptive`` balloon policy (the default).

*Guests first.* Every cycle, each guest with a balloon and statistics is
checked for memory pressure: usable memory (the guest's MemAvailable)
below half its margin, major faults above ``major_fault_rate``, any
swap-in, or usable memory falling by more than ``pressure_drop`` of its
flavor memory since the last cycle (not counting what a balloon change
took or gave). A guest under pressure is never shrunk; it grows at once
by its shortfall (enough to have twice its margin usable) and at least
``grow_step`` of its flavor memory, up to the flavor memory. A guest
whose usable memory is merely below its margin grows by the difference.
A guest that needed memory is not shrunk again for the next
``shrink_holdoff`` cycles, even if it looks idle: its usable memory rose
only because it was just given some, and shrinking it back while it is
still allocating would make its balloon flap.

*Host second.* Only while the host has less memory available than
``host_free_target`` does the policy reclaim, and only from idle guests:
memory usable beyond the guest's margin, never taking a guest below its
floor (``floor`` of flavor memory, or the per-instance metadata override)
nor below what it uses plus its margin, and at most ``shrink_step`` of
flavor memory per guest per cycle. The shortfall is shared among idle
guests in proportion to what each can give. Guests with free page
reporting return their free pages to the host by themselves, so the
balloon is inflated on them only after the guests without it have given
what they can. When the host has ``host_free_hysteresis`` more than its
target available, ballooned guests get memory back, one step per cycle.

*Never the OOM killer.* A shrink never leaves a guest with less usable
memory than its margin, growth is immediate, and guests whose memballoon
lacks ``autodeflate`` (deflate-on-OOM, the last line of defence) are
reported by the agent.

Guests without a balloon, without statistics, or being migrated are left
alone (action ``hold`` with the reason).
"""

import types

from nova_drs import balloon

#: the [drs_balloon] options the policy reads
_OPTIONS = ('floor', 'grow_step', 'shrink_step', 'shrink_holdoff',
            'guest_margin', 'guest_margin_min_mb', 'host_free_target',
            'host_free_hysteresis', 'major_fault_rate', 'min_change_mb',
            'pressure_drop')


def _read_options(group):
    """The options' values, read once per cycle.

    An oslo.config attribute read costs about a microsecond; the policy
    reads several per guest, hundreds of guests a cycle on a dense host.
    Read once at the start of each cycle, a changed (mutable) option
    still applies from the next cycle.
    """
    return types.SimpleNamespace(**{name: getattr(group, name)
                                    for name in _OPTIONS})


class AdaptivePolicy(balloon.BalloonPolicy):
    """Reclaim idle memory when the host needs it; return it on demand."""

    def __init__(self, conf):
        super().__init__(conf)
        self._last_usable = {}
        self._needed_at = {}
        self._shrinking = {}
        self._cycle = 0
        self._opts = _read_options(conf.drs_balloon)

    def forget(self, name):
        self._last_usable.pop(name, None)
        self._needed_at.pop(name, None)
        self._shrinking.pop(name, None)

    # -- per guest figures

    def _margin(self, g):
        opts = self._opts
        return min(g.max_mb, max(opts.guest_margin * g.max_mb,
                                 opts.guest_margin_min_mb))

    def _floor(self, g):
        if g.floor_mb is not None:
            return min(max(g.floor_mb, 0.0), g.max_mb)
        return self._opts.floor * g.max_mb

    def _pressure(self, g, margin):
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
            last_usable, last_actual = last
            explained = max(last_actual - g.actual_mb,
                            self._shrinking.get(g.name, 0.0), 0.0)
            fell = last_usable - g.usable_mb - explained
            if fell > opts.pressure_drop * g.max_mb:
                return 'usable memory fell %.0f MiB in one cycle' % fell
        return None

    def _recently_needed(self, name):
        needed_at = self._needed_at.get(name)
        return (needed_at is not None and self._cycle - needed_at
                <= self._opts.shrink_holdoff)

    # -- the cycle

    def targets(self, host, guests):
        opts = self._opts = _read_options(self.conf.drs_balloon)
        self._cycle += 1
        out = []
        idle = []
        ballooned = []
        for g in guests:
            skip = self._skip_reason(g)
            if skip:
                out.append(balloon.BalloonTarget(g.name, g.actual_mb, 'hold',
                                                 skip))
                continue
            margin = self._margin(g)
            pressure = self._pressure(g, margin)
            self._last_usable[g.name] = (g.usable_mb, g.actual_mb)
            if pressure:
                self._needed_at[g.name] = self._cycle
                shortfall = 2.0 * margin - g.usable_mb
                grow = max(shortfall, opts.grow_step * g.max_mb)
                out.append(self._grow(g, grow, 'pressure: ' + pressure))
            elif g.usable_mb < margin:
                self._needed_at[g.name] = self._cycle
                out.append(self._grow(g, margin - g.usable_mb,
                                      'usable %.0f MiB below margin %.0f'
                                      % (g.usable_mb, margin)))
            elif self._recently_needed(g.name):
                # it just needed memory: not idle yet, but it may still
                # be given memory back when the host has plenty
                if g.actual_mb < g.max_mb:
                    ballooned.append(g)
            else:
                give = min(g.usable_mb - margin, g.actual_mb - self._floor(g),
                           opts.shrink_step * g.max_mb)
                if give > 0:
                    idle.append((g, give))
                if g.actual_mb < g.max_mb:
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
        out = [t for t in out if t.action == 'hold'
               or abs(t.target_mb - actual[t.name]) >= opts.min_change_mb]
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

    def _reclaim(self, idle, shortfall, target_free, host):
        """Share ``shortfall`` among idle guests, non-FPR guests first."""
        out = []
        for fpr in (False, True):
            group = [(g, give) for g, give in idle
                     if g.free_page_reporting == fpr]
            total = sum(give for _g, give in group)
            if total <= 0 or shortfall <= 0:
                continue
            share = min(1.0, shortfall / total)
            for g, give in group:
                take = give * share
                out.append(balloon.BalloonTarget(
                    g.name, g.actual_mb - take, 'shrink',
                    'host available %.0f MiB below target %.0f; guest '
                    'keeps %.0f MiB usable' % (
                        host.available_mb, target_free,
                        g.usable_mb - take)))
            shortfall -= total * share
        return out

    def _give_back(self, ballooned, spare):
        out = []
        for g in sorted(ballooned, key=lambda g: g.actual_mb / g.max_mb):
            if spare <= 0:
                break
            step = min(g.max_mb - g.actual_mb,
                       self._opts.grow_step * g.max_mb, spare)
            spare -= step
            out.append(balloon.BalloonTarget(
                g.name, g.actual_mb + step, 'grow',
                'host has memory to spare: returning it'))
        return out
