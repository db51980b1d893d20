# SPDX-License-Identifier: Apache-2.0
"""Recent peak load of each instance, in bounded memory.

Consolidation packs guests at a quiet hour; it must pack them by what
they used at the recent busy one, or the hosts it fills are hot as soon
as load comes back. The agents send each guest's smoothed load every
cycle; :class:`PeakTracker` keeps, per instance and per slice of the last
``window_s`` seconds, one value of each of the four loads: their largest
(:data:`MAX`, consolidation's day-long window) or their time-weighted
mean (:data:`MEAN`, the short window destinations are judged on).

Why two kinds. Consolidation's slices are two hours long: their mean
would hide the busy half hour of a guest, and a host packed on it is hot
during it, so consolidation keeps maxima. The destination window's
slices are 75 s long, about what an agent's k-of-n rule needs before it
flags a host hot: a burst shorter than a slice cannot make a host hot,
but its maximum would hold the host as a refused destination for the
whole window (a guest's 15 s allocation burst did, in the end-to-end
test). The slice's mean counts a burst by its share of the slice, and a
load held over the slice (or a resident's dip, against the slices
before it) at its full value.

Time weighting: a sample stands for the load since the key's previous
sample (its first, since the start of its slice; at most a window), and
counts in each slice that interval overlaps by the overlap's length, so
a slice's mean is the mean over time of what was reported, whatever the
sampling rate, and an agent that reports faster while busy does not
weigh its busy samples more.

Memory is bounded: the window is cut into :data:`BUCKETS` slices, and an
instance keeps one value per slice (a ring, one row of arrays shared by
every instance: 12 x 4 values and 12 slice numbers, 480 bytes; with
means also 12 weights and the last sample's time, 584 bytes), so an
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

#: slices of the window, each with one value per instance
BUCKETS = 12
#: what a slice keeps: the largest sample in it
MAX = 'max'
#: what a slice keeps: the mean of the samples over its time
MEAN = 'mean'
PER_SLICE = (MAX, MEAN)
#: the window of a tracker built without one (seconds)
DEFAULT_WINDOW_S = 24 * 3600.0
WIDTH = 4


def covered(start, end, slice_s):
    """The slices ``(start, end]`` overlaps: [(slice number, seconds)].

    The time-weighted mean's weights (see the module's doc); an interval
    of no length (``end <= start``) gives its slice with 0 seconds, so a
    sample still fills a slice nothing else covers.
    """
    last = int(math.floor(end / slice_s))
    if end <= start:
        return [(last, 0.0)]
    if start >= last * slice_s:
        # the common case: a sample every few seconds, within a slice
        return [(last, end - start)]
    out = []
    # the slice holding ``start`` itself counts only if (start, end]
    # reaches into it past ``start``
    number = int(math.floor(start / slice_s))
    while number <= last:
        lo = max(start, number * slice_s)
        hi = min(end, (number + 1) * slice_s)
        if hi > lo:
            out.append((number, hi - lo))
        number += 1
    return out or [(last, 0.0)]


def newest_row(now, slice_s):
    """The row of :func:`read_slices`' output holding the slice of ``now``.

    Rows are slice numbers modulo :data:`BUCKETS`; the rows before this
    one, cyclically, are one slice older each (the hotspot relief's trend
    reads them in that order: ``instances.recent_newest``).
    """
    return int(math.floor(now / slice_s)) % BUCKETS


#: rows allocated at first; the arrays double when full
INITIAL_ROWS = 64


def _live(slots, current):
    # slots never filled hold -1, which is "in the window" while the
    # clock is younger than a window (a monotonic clock counts from
    # boot): they must read as no sample, not as a value of 0
    return (slots >= 0) & (slots > current - BUCKETS)


def read_slices(slots, values, weights, now, slice_s, dtype=np.float32):
    """(keys, BUCKETS, 4) slices at ``now`` of rings, NaN where none.

    :param slots: (keys, BUCKETS) the slice number each slot holds (-1:
        none)
    :param values: (keys, BUCKETS, 4) each slot's value
    :param weights: (keys, BUCKETS) the seconds each slot's mean covers,
        or None (maxima)

    With means, the current slice, which only covers the time since it
    began, is read as the mean of the last whole slice's length: what it
    lacks is taken at the previous slice's mean. Else a burst at the
    start of a slice would count as its whole mean until later samples
    dilute it; read this way it never counts for more than its share of
    a slice, and the value is never above the two slices' larger one.
    """
    current = int(math.floor(now / slice_s))
    live = _live(slots, current)
    out = np.where(live[:, :, None], values, np.nan)
    if weights is not None and len(out):
        pos, prev = current % BUCKETS, (current - 1) % BUCKETS
        covered_s = np.where(slots[:, pos] == current, weights[:, pos],
                             slice_s)
        lacking = np.clip(slice_s - covered_s, 0.0, slice_s)
        rows = np.flatnonzero((slots[:, pos] == current)
                              & live[:, prev]
                              & (slots[:, prev] == current - 1)
                              & (lacking > 0.0))
        if rows.size:
            w = covered_s[rows, None]
            rest = lacking[rows, None]
            out[rows, pos] = ((out[rows, pos] * w + out[rows, prev] * rest)
                              / (w + rest))
    return out.astype(dtype)


class PeakTracker:
    """Per key (an instance uuid), the peak of four loads over a window.

    Every key's ring is one row of two arrays shared by all keys (the
    slice number each slot holds, -1: none yet; its values), so that the
    balancer copies the rings of a whole region under its lock in two
    vectorised reads (:meth:`copy_rows`) and turns them into slices
    outside it (:meth:`slices_of`). Rows freed by :meth:`prune` and
    :meth:`forget` are reused.

    :param window_s: how far back the peak looks, seconds (> 0)
    :param per_slice: what each slice keeps, :data:`MAX` (the largest
        sample) or :data:`MEAN` (the time-weighted mean)
    """

    def __init__(self, window_s=DEFAULT_WINDOW_S, per_slice=MAX):
        if not window_s or window_s <= 0:
            raise ValueError('the peak window must be positive, not %r'
                             % (window_s,))
        if per_slice not in PER_SLICE:
            raise ValueError('a slice keeps one of %s, not %r'
                             % (', '.join(PER_SLICE), per_slice))
        self.window_s = float(window_s)
        self.slice_s = self.window_s / BUCKETS
        self.per_slice = per_slice
        self._mean = per_slice == MEAN
        # key -> row of _slots and _values
        self._rows = {}
        self._free = []
        self._used = 0
        self._slots = np.full((INITIAL_ROWS, BUCKETS), -1, dtype=np.int64)
        #: each slot's value: its maximum, or its mean (see per_slice)
        self._values = np.zeros((INITIAL_ROWS, BUCKETS, WIDTH))
        # with means: the seconds each slot's mean covers, and the time
        # of each row's last sample (NaN: none), which the next one
        # covers from
        self._weights = (np.zeros((INITIAL_ROWS, BUCKETS)) if self._mean
                         else None)
        # (a list: read and written once per sample, where a numpy
        # scalar access costs more than the rest of the update)
        self._last = ([math.nan] * INITIAL_ROWS if self._mean else None)
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
            self._values = np.concatenate(
                [self._values, np.zeros((grow, BUCKETS, WIDTH))])
            if self._mean:
                self._weights = np.concatenate(
                    [self._weights, np.zeros((grow, BUCKETS))])
                self._last.extend([math.nan] * grow)
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
        if self._mean:
            self._record_mean(row, values, now)
            return
        current = self._slice(now)
        pos = current % BUCKETS
        maxima = self._values[row, pos]
        if self._slots[row, pos] != current:
            # the slot held a slice that left the window: start afresh
            self._slots[row, pos] = current
            maxima[:] = values
        else:
            maxima[:] = [max(v, old)
                         for v, old in zip(values, maxima.tolist())]

    def _record_mean(self, row, values, now):
        last = self._last[row]
        if math.isnan(last) or now < last:
            # a first sample (or one from before the last: a clock that
            # stepped back) stands for its own slice only
            start = min(self._slice(now) * self.slice_s, now)
        else:
            # never before the window's oldest slice: older ones are gone
            start = max(last,
                        (self._slice(now) - BUCKETS + 1) * self.slice_s)
        self._last[row] = now
        slots, means = self._slots[row], self._values[row]
        weights = self._weights[row]
        for number, seconds in covered(start, now, self.slice_s):
            pos = number % BUCKETS
            mean = means[pos]
            if slots[pos] != number:
                # the slot held a slice that left the window: start afresh
                slots[pos] = number
                mean[:] = values
                weights[pos] = seconds
                continue
            total = float(weights[pos]) + seconds
            if total <= 0.0:
                # samples that covered no time: the latest stands
                mean[:] = values
                continue
            share = seconds / total
            weights[pos] = total
            mean[:] = [old + (v - old) * share
                       for v, old in zip(values, mean.tolist())]

    def _live(self, slots, now):
        return _live(slots, self._slice(now))

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
        out = self.slices(key, now)
        if out is None:
            return None
        return np.nanmax(out, axis=0)

    def slices(self, key, now):
        """(:data:`BUCKETS`, 4) values per slice of the window, or None.

        Row ``k`` is the slice whose number is ``k`` modulo BUCKETS, the
        same for every key, so rows line up in time across instances;
        NaN rows: slices without a sample in the window.
        """
        if self._found(key, now) is None:
            return None
        return self.slices_of(*self.copy_rows([key]), now,
                              dtype=float)[0]

    def copy_rows(self, keys):
        """Copies of the rings of ``keys``: (slots, values, weights).

        The only part of a bulk read that needs the owner's lock: a dict
        look-up per key and two (with means three) vectorised copies.
        Keys not tracked get a ring with no sample. ``weights``: None
        when the slices keep maxima.
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
        weights = (None if self._weights is None
                   else self._weights.take(rows, axis=0))
        return slots, self._values.take(rows, axis=0), weights

    def slices_of(self, slots, values, weights, now, dtype=np.float32):
        """(keys, BUCKETS, 4) slices from :meth:`copy_rows`, NaN if none.

        As :meth:`slices` per key, for every key at once; needs no lock.
        """
        return read_slices(slots, values, weights, now, self.slice_s,
                           dtype)

    def history_s(self, now):
        """Seconds of history the peaks cover (at most the window)."""
        if self.since is None:
            return 0.0
        return min(max(now - self.since, 0.0), self.window_s)

    def forget(self, key):
        row = self._rows.pop(key, None)
        if row is not None:
            self._slots[row] = -1
            if self._mean:
                self._last[row] = math.nan
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
