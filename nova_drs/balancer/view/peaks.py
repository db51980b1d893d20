# SPDX-License-Identifier: Apache-2.0
"""Recent peak load of each instance, in bounded memory.

Consolidation packs guests at a quiet hour; it must pack them by what
they used at the recent busy one, or the hosts it fills are hot as soon
as load comes back. The agents send each guest's smoothed load every
cycle; :class:`PeakTracker` keeps, per instance, the largest value of
each of the four loads over the last ``window_s`` seconds.

Memory is bounded: the window is cut into :data:`BUCKETS` slices, and an
instance keeps one maximum per slice (a ring, one row of arrays shared by
every instance: 12 x 4 maxima and 12 slice numbers, 480 bytes), so an
instance costs the same whatever the sampling rate, and the peak forgets
a slice whole when it leaves the window (the peak covers between
``window_s x (1 - 1 / BUCKETS)`` and ``window_s`` seconds). Instances not
reported for a whole window are dropped by :meth:`PeakTracker.prune`;
their rows are reused (the arrays keep the size of the most instances
tracked at once, doubled at most).

Not thread-safe: its owner (the host view) holds its own lock.
"""

import math

import numpy as np

#: slices of the window, each with one maximum per instance
BUCKETS = 12
#: the window of a tracker built without one (seconds)
DEFAULT_WINDOW_S = 24 * 3600.0
WIDTH = 4


#: rows allocated at first; the arrays double when full
INITIAL_ROWS = 64


class PeakTracker:
    """Per key (an instance uuid), the peak of four loads over a window.

    Every key's ring is one row of two arrays shared by all keys (the
    slice number each slot holds, -1: none yet; its maxima), so that the
    balancer copies the rings of a whole region under its lock in two
    vectorised reads (:meth:`copy_rows`) and turns them into slices
    outside it (:meth:`slices_of`). Rows freed by :meth:`prune` and
    :meth:`forget` are reused.

    :param window_s: how far back the peak looks, seconds (> 0)
    """

    def __init__(self, window_s=DEFAULT_WINDOW_S):
        if not window_s or window_s <= 0:
            raise ValueError('the peak window must be positive, not %r'
                             % (window_s,))
        self.window_s = float(window_s)
        self.slice_s = self.window_s / BUCKETS
        # key -> row of _slots and _maxima
        self._rows = {}
        self._free = []
        self._used = 0
        self._slots = np.full((INITIAL_ROWS, BUCKETS), -1, dtype=np.int64)
        self._maxima = np.zeros((INITIAL_ROWS, BUCKETS, WIDTH))
        #: the time of the first sample: how much history there is
        self.since = None

    def _slice(self, now):
        return int(math.floor(now / self.slice_s))

    def _new_row(self):
        if self._free:
            return self._free.pop()
        row = self._used
        if row >= len(self._slots):
            grow = len(self._slots)
            self._slots = np.concatenate(
                [self._slots, np.full((grow, BUCKETS), -1, dtype=np.int64)])
            self._maxima = np.concatenate(
                [self._maxima, np.zeros((grow, BUCKETS, WIDTH))])
        self._used += 1
        return row

    def record(self, key, values, now):
        """Take one sample of ``key``: four loads at time ``now`` (s)."""
        # NOTE: four Python floats, not a numpy array: the host view calls
        # this for every guest of every agent report, and numpy's per-call
        # overhead on four numbers was a third of the host view's cost
        values = tuple(map(float, values))
        if len(values) != WIDTH or not all(map(math.isfinite, values)):
            return
        if self.since is None:
            self.since = now
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = self._new_row()
        current = self._slice(now)
        pos = current % BUCKETS
        maxima = self._maxima[row, pos]
        if self._slots[row, pos] != current:
            # the slot held a slice that left the window: start afresh
            self._slots[row, pos] = current
            maxima[:] = values
        else:
            maxima[:] = [max(v, old)
                         for v, old in zip(values, maxima.tolist())]

    def _live(self, slots, now):
        # slots never filled hold -1, which is "in the window" while the
        # clock is younger than a window (a monotonic clock counts from
        # boot): they must read as no sample, not as a maximum of 0
        return (slots >= 0) & (slots > self._slice(now) - BUCKETS)

    def _found(self, key, now):
        """(row, mask of its slices in the window) of ``key``, or None."""
        row = self._rows.get(key)
        if row is None:
            return None
        live = self._live(self._slots[row], now)
        if not live.any():
            return None
        return row, live

    def peak(self, key, now):
        """The four peak loads of ``key`` in the window, or None."""
        found = self._found(key, now)
        if found is None:
            return None
        row, live = found
        return self._maxima[row][live].max(axis=0)

    def slices(self, key, now):
        """(:data:`BUCKETS`, 4) maxima per slice of the window, or None.

        Row ``k`` is the slice whose number is ``k`` modulo BUCKETS, the
        same for every key, so rows line up in time across instances;
        NaN rows: slices without a sample in the window.
        """
        found = self._found(key, now)
        if found is None:
            return None
        row, live = found
        out = np.full((BUCKETS, WIDTH), np.nan)
        out[live] = self._maxima[row][live]
        return out

    def copy_rows(self, keys):
        """Copies of the rings of ``keys``: (slots, maxima).

        The only part of a bulk read that needs the owner's lock: a dict
        look-up per key and two vectorised copies. Keys not tracked get
        a ring with no sample.
        """
        get = self._rows.get
        rows = np.fromiter((get(key, -1) for key in keys), dtype=np.int64,
                           count=len(keys))
        unknown = rows < 0
        if unknown.any():
            # row 0 stands in: no sample of it reads as live below
            rows[unknown] = 0
        slots = self._slots.take(rows, axis=0)
        slots[unknown] = -1
        return slots, self._maxima.take(rows, axis=0)

    def slices_of(self, slots, maxima, now, dtype=np.float32):
        """(keys, BUCKETS, 4) slices from :meth:`copy_rows`, NaN if none.

        As :meth:`slices` per key, for every key at once; needs no lock.
        """
        live = self._live(slots, now)
        return np.where(live[:, :, None], maxima, np.nan).astype(dtype)

    def history_s(self, now):
        """Seconds of history the peaks cover (at most the window)."""
        if self.since is None:
            return 0.0
        return min(max(now - self.since, 0.0), self.window_s)

    def forget(self, key):
        row = self._rows.pop(key, None)
        if row is not None:
            self._slots[row] = -1
            self._free.append(row)

    def prune(self, now):
        """Drop the keys with no sample in the window; how many."""
        if not self._rows:
            return 0
        oldest = self._slice(now) - BUCKETS
        keys = list(self._rows)
        rows = np.fromiter(self._rows.values(), dtype=np.int64,
                           count=len(keys))
        gone = np.flatnonzero(self._slots[rows].max(axis=1) <= oldest)
        for k in gone.tolist():
            self.forget(keys[k])
        return int(gone.size)

    def __len__(self):
        return len(self._rows)
