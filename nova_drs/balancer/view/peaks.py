# SPDX-License-Identifier: Apache-2.0
"""Recent peak load of each instance, in bounded memory.

Consolidation packs guests at a quiet hour; it must pack them by what
they used at the recent busy one, or the hosts it fills are hot as soon
as load comes back. The agents send each guest's smoothed load every
cycle; :class:`PeakTracker` keeps, per instance, the largest value of
each of the four loads over the last ``window_s`` seconds.

Memory is bounded: the window is cut into :data:`BUCKETS` slices, and an
instance keeps one maximum per slice (a ring), so an instance costs the
same whatever the sampling rate, and the peak forgets a slice whole when
it leaves the window (the peak covers between ``window_s x (1 - 1 /
BUCKETS)`` and ``window_s`` seconds). Instances not reported for a whole
window are dropped by :meth:`PeakTracker.prune`.

Not thread-safe: its owner (the host view) holds its own lock.
"""

import math

import numpy as np

#: slices of the window, each with one maximum per instance
BUCKETS = 12
#: the window of a tracker built without one (seconds)
DEFAULT_WINDOW_S = 24 * 3600.0
WIDTH = 4


class _Ring:
    __slots__ = ('slots', 'maxima')

    def __init__(self):
        # the slice number each slot holds (-1: none yet)
        self.slots = np.full(BUCKETS, -1, dtype=np.int64)
        self.maxima = np.zeros((BUCKETS, WIDTH))


class PeakTracker:
    """Per key (an instance uuid), the peak of four loads over a window.

    :param window_s: how far back the peak looks, seconds (> 0)
    """

    def __init__(self, window_s=DEFAULT_WINDOW_S):
        if not window_s or window_s <= 0:
            raise ValueError('the peak window must be positive, not %r'
                             % (window_s,))
        self.window_s = float(window_s)
        self.slice_s = self.window_s / BUCKETS
        self._rings = {}
        #: the time of the first sample: how much history there is
        self.since = None

    def _slice(self, now):
        return int(math.floor(now / self.slice_s))

    def record(self, key, values, now):
        """Take one sample of ``key``: four loads at time ``now`` (s)."""
        # NOTE: four Python floats, not a numpy array: the host view calls
        # this for every guest of every agent report, and numpy's per-call
        # overhead on four numbers made it a third of the host view's cost
        values = tuple(map(float, values))
        if len(values) != WIDTH or not all(map(math.isfinite, values)):
            return
        if self.since is None:
            self.since = now
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = _Ring()
        current = self._slice(now)
        pos = current % BUCKETS
        row = ring.maxima[pos]
        if ring.slots[pos] != current:
            # the slot held a slice that left the window: start afresh
            ring.slots[pos] = current
            row[:] = values
        else:
            row[:] = [max(v, old) for v, old in zip(values, row.tolist())]

    def _live(self, key, now):
        """(ring, mask of its slices in the window) of ``key``, or None."""
        ring = self._rings.get(key)
        if ring is None:
            return None
        live = ring.slots > self._slice(now) - BUCKETS
        if not live.any():
            return None
        return ring, live

    def peak(self, key, now):
        """The four peak loads of ``key`` in the window, or None."""
        found = self._live(key, now)
        if found is None:
            return None
        ring, live = found
        return ring.maxima[live].max(axis=0)

    def slices(self, key, now):
        """(:data:`BUCKETS`, 4) maxima per slice of the window, or None.

        Row ``k`` is the slice whose number is ``k`` modulo BUCKETS, the
        same for every key, so rows line up in time across instances;
        NaN rows: slices without a sample in the window.
        """
        found = self._live(key, now)
        if found is None:
            return None
        ring, live = found
        out = np.full((BUCKETS, WIDTH), np.nan)
        out[live] = ring.maxima[live]
        return out

    def history_s(self, now):
        """Seconds of history the peaks cover (at most the window)."""
        if self.since is None:
            return 0.0
        return min(max(now - self.since, 0.0), self.window_s)

    def forget(self, key):
        self._rings.pop(key, None)

    def prune(self, now):
        """Drop the keys with no sample in the window; how many."""
        oldest = self._slice(now) - BUCKETS
        gone = [key for key, ring in self._rings.items()
                if ring.slots.max() <= oldest]
        for key in gone:
            del self._rings[key]
        return len(gone)

    def __len__(self):
        return len(self._rings)
